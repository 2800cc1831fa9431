"""Model 1.0 training pieces: All-Age-Faces labels, weighted sets, real-photo degradations, and
starting from an exported ONNX model."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHARED_DATA, write_csv, write_image

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

from howold.errors import HowoldError  # noqa: E402
from howold.train import degrade  # noqa: E402
from howold.train.config import AugmentConfig, ModelConfig  # noqa: E402
from howold.train.data import load_aaf, load_dataset  # noqa: E402
from howold.train.datamodule import CropParts, build_transform  # noqa: E402
from howold.train.model import build_network, load_onnx_weights  # noqa: E402


def test_aaf_loader_reads_ages_genders_and_the_fixed_split(tmp_path):
    write_image(tmp_path / "images" / "00000A02.jpg")
    write_image(tmp_path / "images" / "07000A45.jpg")
    write_csv(
        tmp_path / "labels.csv",
        ["path", "age", "gender", "split", "face_found"],
        [["images/00000A02.jpg", 2, "F", "train", 1], ["images/07000A45.jpg", 45, "M", "test", 1]],
    )
    samples = load_aaf(tmp_path)
    assert [(s.low, s.split, s.attrs["gender"]) for s in samples] == [(2, "train", "female"), (45, "test", "male")]
    assert load_dataset("aaf", tmp_path) == samples


@pytest.mark.skipif(not (SHARED_DATA / "aaf" / "labels.csv").is_file(), reason="../shared/data/aaf absent")
def test_aaf_split_counts_match_the_data_readme():
    samples = load_dataset("aaf")
    counts = {split: sum(s.split == split for s in samples) for split in ("train", "val", "test")}
    assert counts == {"train": 6388, "val": 2130, "test": 4315}


def test_set_weights_give_each_set_its_share_of_an_epoch():
    parts = CropParts(["utkface", "aaf"], np.array([0] * 300 + [1] * 100), [0.5, 0.5])
    weights = parts.sample_weights()
    assert weights[:300].sum() == pytest.approx(0.5) and weights[300:].sum() == pytest.approx(0.5)
    draws = torch.multinomial(
        torch.from_numpy(weights), 40000, replacement=True, generator=torch.Generator().manual_seed(0)
    )
    assert (draws >= 300).float().mean().item() == pytest.approx(0.5, abs=0.01)


def test_sets_without_weights_keep_plain_shuffling_and_a_missing_weight_takes_its_size_share():
    assert CropParts(["a", "b"], np.array([0, 0, 1]), [None, None]).sample_weights() is None
    weights = CropParts(["a", "b"], np.array([0, 0, 0, 1]), [None, 0.25]).sample_weights()
    assert weights[:3].sum() == pytest.approx(0.75 / 1.0)
    with pytest.raises(HowoldError, match="weights"):
        CropParts(["a", "b"], np.array([0, 1]), [-1.0, 0.0]).sample_weights()


def face() -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.from_numpy(rng.integers(0, 255, (3, 64, 64), dtype=np.uint8))


def test_old_print_greys_or_tints_and_low_resolution_removes_detail():
    image = face()
    for seed in range(6):
        degrade.random.seed(seed)
        out = degrade.old_print(image)
        assert out.dtype == torch.uint8 and out.shape == image.shape
        assert out.float().std() < image.float().std()  # contrast lowered
    degrade.random.seed(0)
    blurred = degrade.low_resolution(image)
    detail = lambda x: (x[:, :, 1:].float() - x[:, :, :-1].float()).abs().mean()  # noqa: E731
    assert blurred.shape == image.shape and detail(blurred) < 0.5 * detail(image)


def test_degradations_are_off_by_default_and_on_when_asked():
    image = face()
    plain = AugmentConfig(flip=False, degrees=0, translate=0, scale=(1, 1), blur_p=0, jitter=0, grayscale_p=0)
    assert degrade.degradation_steps(plain) == []
    same = build_transform(plain, [0.5] * 3, [0.5] * 3)
    assert torch.equal(same(image), same(image))
    every = AugmentConfig(
        **{**plain.__dict__, "old_print_p": 1.0, "lowres_p": 1.0, "grain_p": 1.0, "jpeg_p": 1.0, "light_p": 1.0}
    )
    assert len(degrade.degradation_steps(every)) == 5
    changed = build_transform(every, [0.5] * 3, [0.5] * 3)(image)
    assert not torch.allclose(changed, same(image))


def test_a_network_started_from_an_exported_onnx_computes_what_the_onnx_does(tmp_path):
    pytest.importorskip("onnx")
    import warnings

    import onnxruntime as ort

    source = build_network(ModelConfig(pretrained="none"), init_weights=False).eval()
    for bn in (m for m in source.modules() if isinstance(m, torch.nn.BatchNorm2d)):  # non-trivial statistics
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    onnx_path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            source,
            (torch.zeros(1, 3, 64, 64),),
            str(onnx_path),
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}},
            dynamo=False,
        )
    net = build_network(ModelConfig(pretrained="none"), init_weights=False).eval()
    load_onnx_weights(net, str(onnx_path))
    x = np.random.default_rng(1).normal(size=(2, 3, 64, 64)).astype(np.float32)
    expected = ort.InferenceSession(str(onnx_path)).run(None, {"input": x})[0]
    assert np.abs(net(torch.from_numpy(x)).detach().numpy() - expected).max() < 1e-3


def test_an_onnx_of_another_backbone_is_one_sentence(tmp_path):
    from tiny_models import write_tiny_age_model

    path = write_tiny_age_model(tmp_path)
    net = build_network(ModelConfig(pretrained="none"), init_weights=False)
    with pytest.raises(HowoldError, match="convolutions"):
        load_onnx_weights(net, str(path))
