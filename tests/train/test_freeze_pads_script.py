"""scripts/freeze_pads.py on a real export whose TF-"same" pads are still computed at run time."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

from repo_scripts import ROOT  # noqa: E402
from tiny_models import computed_pads  # noqa: E402

from howold.runtime import create_session  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def unfrozen_lite0(tmp_path):
    """A tf_efficientnet_lite0 (random weights, 64 px) exported as `howold export` did before it froze
    the pads, with a sidecar naming its input size."""
    net = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=101).eval()
    path = tmp_path / "lite0.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros(1, 3, 64, 64),), str(path), input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}}, opset_version=17,
                          dynamo=False)  # fmt: skip
    sidecar = json.loads((ROOT / "howold" / "models" / "age_model.json").read_text())
    sidecar.update(input_size=64, crop_size=64)
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    return path


def test_the_script_freezes_the_pads_with_the_logits_unchanged(unfrozen_lite0):
    assert len(computed_pads(unfrozen_lite0)) == 5
    batch = np.random.default_rng(1).standard_normal((3, 3, 64, 64)).astype(np.float32)
    before = create_session(unfrozen_lite0).run(None, {"input": batch})[0]
    script = [sys.executable, str(ROOT / "scripts" / "freeze_pads.py"), str(unfrozen_lite0)]
    first = subprocess.run(script, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "5 Pads frozen for 64x64 inputs; logits bit-identical" in first.stdout
    assert computed_pads(unfrozen_lite0) == []
    assert np.array_equal(create_session(unfrozen_lite0).run(None, {"input": batch})[0], before)
    again = subprocess.run(script, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "every Pad is constant already" in again.stdout
