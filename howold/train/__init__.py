"""Training for howold's age model (optional extra: `pip install howold[train]`).

Nothing at inference imports this package. Modules:
`config` (YAML + dotted overrides), `data` (dataset label loaders, torch-free),
`crops` (detect → crop cache, torch-free), `losses`, `model` (timm backbones),
`module` (LightningModule / DataModule), `run` (train), `export` (ONNX + sidecar),
`evaluate` (ONNX evaluation, temperature calibration), `cli` (subcommands).
"""
