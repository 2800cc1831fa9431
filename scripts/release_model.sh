#!/usr/bin/env bash
# Turn a finished training run into the shipped model, and measure every figure in MODEL_CARD.md.
#   scripts/release_model.sh runs/utkface_lite0/checkpoints/best-XX.ckpt
# Writes howold/models/age_model.{onnx,json} and out/eval/*.json; prints a summary of each step.
set -euo pipefail
ckpt=${1:?usage: scripts/release_model.sh CHECKPOINT}
model=${MODEL:-howold/models/age_model.onnx}
out=${OUT:-out/eval}
mkdir -p "$out" "$(dirname "$model")"
howold() { python -m howold.cli "$@"; }

# NAME and VERSION, when set, replace the training config's in the sidecar
howold export "$ckpt" --out "$model" ${NAME:+--name "$NAME"} ${VERSION:+--version "$VERSION"}
# flip averaging doubles the age model's cost: keep it only if it gains at least
# MIN_FLIP_GAIN years of MAE on val (never decided on test)
python - "$model" "$out/noflip.onnx" <<'PY'
import json, sys, shutil, pathlib
src = pathlib.Path(sys.argv[1]); dst = pathlib.Path(sys.argv[2])
shutil.copy(src, dst)
info = json.loads(src.with_suffix(".json").read_text()); info["tta_flip"] = False
dst.with_suffix(".json").write_text(json.dumps(info))
PY
# the validation sets (pooled for the flip choice and the calibration); VAL_SETS="utkface" for UTKFace-only runs
val_sets=${VAL_SETS:-utkface aaf}
for set in $val_sets; do
  howold val --model "$out/noflip.onnx" --data "$set" --split val --json "$out/${set}_val_noflip.json"
  howold val --model "$model" --data "$set" --split val --json "$out/${set}_val_flip.json"
done
python - "$model" "$out" "${MIN_FLIP_GAIN:-0.1}" $val_sets <<'PY'
import json, sys, pathlib
model, out, min_gain, sets = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
def pooled(kind):
    runs = [json.loads((out / f"{s}_val_{kind}.json").read_text())["overall"] for s in sets]
    return round(sum(r["mae"] * r["n"] for r in runs) / sum(r["n"] for r in runs), 3)
mae = {k: pooled(k) for k in ("flip", "noflip")}
keep = mae["noflip"] - mae["flip"] >= min_gain
sidecar = model.with_suffix(".json"); info = json.loads(sidecar.read_text())
info["tta_flip"] = keep
info.setdefault("metrics", {})["flip_choice"] = {"val_sets": sets, "val_mae_flip": mae["flip"],
                                                 "val_mae_noflip": mae["noflip"], "min_gain": min_gain, "tta_flip": keep}
sidecar.write_text(json.dumps(info, indent=2))
print(f"flip averaging: pooled val MAE {mae['flip']:.3f} with, {mae['noflip']:.3f} without -> tta_flip={keep}")
PY
# fit the 80% range's temperature on val, then measure
howold val --model "$model" --data "$(echo $val_sets | tr ' ' ,)" --split val --calibrate
# the range of small, blurry and greyscale faces: fitted on a fixed degraded copy of the same val sets
howold val --model "$model" --data "$(echo $val_sets | tr ' ' ,)" --split val --calibrate --degraded
for set in $val_sets; do
  howold val --model "$model" --data "$set" --split val --record --json "$out/${set}_val.json"
  howold val --model "$model" --data "$set" --split val --degraded --record --json "$out/${set}_val_degraded.json"
done
howold val --model "$model" --data utkface --split test --record --json "$out/utkface_test.json"
howold val --model "$model" --data utkface --split test --end-to-end --record --json "$out/utkface_test_e2e.json"
howold val --model "$model" --data aaf --split test --end-to-end --record --json "$out/aaf_test_e2e.json"
howold val --model "$model" --data fgnet --end-to-end --record --json "$out/fgnet_e2e.json"
howold val --model "$model" --data fairface --record --json "$out/fairface.json"
python scripts/scale_stability.py --model "$model" --json "$out/scale_stability.json"
python benchmarks/bench_age_model.py --model "$model" --threads 1 | tee "$out/latency.md"
ls -la "$(dirname "$model")"
