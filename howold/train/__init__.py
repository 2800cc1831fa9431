"""Training for howold's age model (optional extra: `pip install -e '.[train]'` in the checkout).

Nothing at inference imports this package. Modules:
`config` (YAML + dotted overrides into typed dataclasses), `data` (dataset label loaders, torch-free),
`crops` (detect → crop cache, torch-free), `degrade` (real-photo degradations), `teacher` (distillation
targets), `losses`, `model` (timm backbones), `module` (the LightningModule), `datamodule` (crop
dataset, transforms, DataModule), `callbacks` (DelayedEMA, Throughput), `checkpoints` (reading
checkpoints back), `run` (train), `plots`, `export` (ONNX + sidecar), `evaluate` (ONNX evaluation,
calibration, flip choice), `age_checks` (the survival offsets' fit), `cli` (subcommands), `tune/`
(Optuna search), `faceres/` (the FaceRes peer and backbone).
"""

# where cut crops are cached, relative to the working folder: the one owner of this default (kept
# here, in the package's light __init__, so `howold --help` reads it without loading numpy)
DEFAULT_CACHE_DIR = "cache/crops"
