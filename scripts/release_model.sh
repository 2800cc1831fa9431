#!/usr/bin/env bash
# Turn a finished training run into the shipped model, and measure every figure in MODEL_CARD.md.
#   scripts/release_model.sh runs/utkface_lite0/checkpoints/best-XX.ckpt
# Writes howold/models/age_model.{onnx,json} and out/eval/*.json; prints a summary of each step.
set -euo pipefail
ckpt=${1:?usage: scripts/release_model.sh CHECKPOINT}
model=${MODEL:-howold/models/age_model.onnx}
out=${OUT:-out/eval}
mkdir -p "$out" "$(dirname "$model")"
howold() { python -m howold "$@"; }

# NAME and VERSION, when set, replace the training config's in the sidecar
howold export "$ckpt" --out "$model" ${NAME:+--name "$NAME"} ${VERSION:+--version "$VERSION"}
# the same network without flip averaging and uncalibrated: a teacher for howold teach, experiments/ensemble_val.py
howold export "$ckpt" --out "$out/noflip.onnx" --no-flip --no-check ${NAME:+--name "$NAME"} ${VERSION:+--version "$VERSION"}
# the validation sets (pooled for the flip choice and the calibration); VAL_SETS="utkface" for UTKFace-only runs
val_sets=${VAL_SETS:-utkface aaf fgnet}
pooled=$(echo $val_sets | tr ' ' ,)
# flip averaging doubles the age model's cost: keep it only if it gains at least
# MIN_FLIP_GAIN years of MAE on val (never decided on test)
howold val --model "$model" --data "$pooled" --split val --choose-flip --min-flip-gain "${MIN_FLIP_GAIN:-0.1}" \
  --json "$out/flip_choice.json"
# fit the 80% range's temperature on val, then measure
howold val --model "$model" --data "$pooled" --split val --calibrate
# the range of small, blurry and greyscale faces: fitted on a fixed degraded copy of the same val sets
howold val --model "$model" --data "$pooled" --split val --calibrate --degraded
# P(age >= t) for every age t (the age checks): survival offsets fitted end to end on the same val sets
python scripts/fit_survival_offsets.py --model "$model"
for set in $val_sets; do
  howold val --model "$model" --data "$set" --split val --record --json "$out/${set}_val.json"
  howold val --model "$model" --data "$set" --split val --degraded --record --json "$out/${set}_val_degraded.json"
done
howold val --model "$model" --data utkface --split test --record --json "$out/utkface_test.json"
howold val --model "$model" --data utkface --split test --end-to-end --record --json "$out/utkface_test_e2e.json"
howold val --model "$model" --data aaf --split test --end-to-end --record --json "$out/aaf_test_e2e.json"
# FG-NET: its 39 test people (485 photos); its train and val people are trained and chosen on
howold val --model "$model" --data fgnet --split test --end-to-end --record --json "$out/fgnet_test_e2e.json"
howold val --model "$model" --data fairface --record --json "$out/fairface.json"
howold val --model "$model" --data fairface --end-to-end --record --json "$out/fairface_e2e.json"
python scripts/scale_stability.py --model "$model" --json "$out/scale_stability.json"
python benchmarks/bench_age_model.py --model "$model" --threads 1 | tee "$out/latency.md"
ls -la "$(dirname "$model")"
