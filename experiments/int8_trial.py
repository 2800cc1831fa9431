"""Try int8 static quantization of an age model: speed and UTKFace val MAE, fp32 against int8.

    python experiments/int8_trial.py out/eval_v2/noflip.onnx [--keep-depthwise] [--keep-last 3] [--percentile]

Calibrates on 200 random UTKFace train crops (never val or test), writes the int8 model next to
/tmp, and prints ms per face (one thread, batch 1) and val MAE for both. A trial, not a release step.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from howold.age_model import AgeModel, write_model_info
from howold.train.evaluate import EvalData, labelled_crops


class Batches(CalibrationDataReader):
    def __init__(self, name: str, inputs: np.ndarray) -> None:
        self.items = iter([{name: inputs[i : i + 8]} for i in range(0, len(inputs), 8)])

    def get_next(self):
        return next(self.items, None)


def ms_per_face(model: AgeModel) -> float:
    x = np.random.default_rng(0).random((1, 3, model.info.input_size, model.info.input_size), np.float32)
    feed = {model._session.get_inputs()[0].name: x}
    for _ in range(5):
        model._session.run(None, feed)
    start = time.perf_counter()
    for _ in range(100):
        model._session.run(None, feed)
    return (time.perf_counter() - start) * 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--keep-depthwise", action="store_true", help="leave depthwise convolutions in fp32")
    parser.add_argument("--keep-last", type=int, default=0, help="leave the last N convolutions in fp32")
    parser.add_argument("--percentile", action="store_true", help="percentile calibration (default min-max)")
    args = parser.parse_args()
    fp32 = AgeModel(args.model, threads=1).prepare()
    work = Path(tempfile.mkdtemp(prefix="howold-int8-"))
    pre, out = work / "pre.onnx", work / "int8.onnx"
    quant_pre_process(args.model, str(pre))
    nodes = onnx.load(str(pre)).graph.node
    convs = [n for n in nodes if n.op_type == "Conv"]
    keep = [convs[0].name] + [n.name for n in nodes if n.op_type in ("Gemm", "MatMul")]
    keep += [c.name for c in convs[len(convs) - args.keep_last :]] if args.keep_last else []
    if args.keep_depthwise:
        keep += [c.name for c in convs if next((a.i for a in c.attribute if a.name == "group"), 1) > 1]
    calibration, _ = labelled_crops(EvalData("utkface", "train"), fp32.info, sample=200)
    quantize_static(
        str(pre),
        str(out),
        Batches(fp32._input_name, fp32.preprocess(calibration)),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=keep,
        calibrate_method=CalibrationMethod.Percentile if args.percentile else CalibrationMethod.MinMax,
    )
    write_model_info(out, fp32.info)
    int8 = AgeModel(out, threads=1).prepare()
    images, true = labelled_crops(EvalData("utkface", "val"), fp32.info)
    print(f"{len(keep)} nodes kept in fp32 of {len(convs)} convolutions; int8 model: {out}")
    for name, model in (("fp32", fp32), ("int8", int8)):
        mae = np.abs(model.predict(images).age - true).mean()
        print(f"{name}: {ms_per_face(model):.2f} ms per face (1 thread, batch 1), UTKFace val MAE {mae:.3f}")


if __name__ == "__main__":
    main()
