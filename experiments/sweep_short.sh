#!/usr/bin/env bash
# Short exploration runs for the default model: each changes one thing from the shipped recipe
# (configs/utkface_lite0.yaml) and trains 3 epochs on a fixed random half of UTKFace train,
# selecting on UTKFace val. Compare best val MAE with experiments/sweep_table.py runs/short_*.
# share25/base/share100 give the learning curve (val MAE at 25/50/100% of train).
# Usage: experiments/sweep_short.sh [RUN...]   (default: all runs; a finished run is skipped)
set -euo pipefail
cd "$(dirname "$0")/.."

common=(data.train_fraction=0.5 trainer.max_epochs=3 trainer.patience=99)
declare -A runs=(
  [base]=""
  [sigma4]="loss.sigma=4.0"
  [sigma1]="loss.sigma=1.0"
  [l1]="loss.l1_weight=1.0"
  [share25]="data.train_fraction=0.25"
  [share100]="data.train_fraction=1.0"
  [aug_strong]="augment.degrees=15 augment.translate=0.1 augment.scale=[0.85,1.15] augment.jitter=0.4 augment.blur_p=0.2 augment.grayscale_p=0.1 augment.erase_p=0.25"
  [margin08]="data.crop_margin=0.8"
  [size160]="data.crop_size=160 data.input_size=160"
  [lite1]="model.backbone=tf_efficientnet_lite1"
)
order=(base sigma4 aug_strong margin08 size160 lite1 l1)
[ $# -gt 0 ] && order=("$@")

for name in "${order[@]}"; do
  dir=runs/short_$name
  if [ -f "$dir/summary.json" ]; then echo "skip $name (done)"; continue; fi
  mkdir -p "$dir"
  echo "== $name: ${runs[$name]}"
  # shellcheck disable=SC2086
  howold train --config configs/utkface_lite0.yaml name=short_$name "${common[@]}" ${runs[$name]} \
    >"$dir/train.log" 2>&1
  tail -n 3 "$dir/train.log"
done
