"""Dataset loaders (torch-free): UTKFace, FairFace bins, APPA-REAL (both layouts), generic CSV."""

from __future__ import annotations

import pytest
from conftest import SHARED_DATA, write_csv, write_image

from howold.errors import HowoldError
from howold.train.data import (
    FAIRFACE_BINS,
    Sample,
    appa_split,
    check_files,
    check_training_split,
    hash_split,
    load_appa_real,
    load_csv,
    load_dataset,
    load_fairface,
    load_utkface,
    select_split,
)


@pytest.mark.parametrize(
    "name, split",
    [
        ("000000.jpg", "train"),
        ("004112.jpg", "train"),
        ("004113.jpg", "val"),
        ("005612.jpg_face.jpg", "val"),
        ("005613.jpg", "test"),
        ("007612.jpg", "test"),
    ],
)
def test_appa_split_by_number(name, split):
    assert appa_split(name) == split


@pytest.mark.parametrize("name", ["007613.jpg", "face.jpg"])
def test_appa_split_rejects_unknown_numbers(name):
    with pytest.raises(HowoldError, match="APPA-REAL"):
        appa_split(name)


def test_utkface_loader_reads_labels_and_reports_missing(tmp_path):
    write_image(tmp_path / "images" / "26_1_2_x.jpg.chip.jpg")
    write_csv(
        tmp_path / "labels.csv",
        ["path", "age", "gender", "race", "split"],
        [["images/26_1_2_x.jpg.chip.jpg", 26, 1, 2, "train"], ["images/116_0_0_y.jpg.chip.jpg", 116, 0, 0, "test"]],
    )
    samples = load_utkface(tmp_path)
    assert [(s.low, s.high, s.split) for s in samples] == [(26, 26, "train"), (100, 100, "test")]
    assert samples[0].attrs == {"age": 26.0, "gender": "female", "race": "Asian"}
    assert samples[1].attrs["age"] == 116.0  # true age kept for evaluation; label clipped to 100
    kept, report = check_files(samples, "utk")
    assert len(kept) == 1 and report.missing == [samples[1].path]
    assert "1 of 2 image files missing (first: 116_0_0_y.jpg.chip.jpg)" in report.summary("utk")


def test_fairface_bins_are_intervals(tmp_path):
    rows = [[f"images/f{i}.jpg", b, "Male", "White", "train"] for i, b in enumerate(FAIRFACE_BINS)]
    write_csv(tmp_path / "labels.csv", ["path", "age_bin", "gender", "race", "split"], rows)
    samples = load_fairface(tmp_path)
    assert [(s.low, s.high) for s in samples][:2] == [(0, 2), (3, 9)]
    assert (samples[-1].low, samples[-1].high) == (70, 100)
    assert not any(s.exact for s in samples)


def test_fairface_unknown_bin_is_an_error(tmp_path):
    write_csv(
        tmp_path / "labels.csv",
        ["path", "age_bin", "gender", "race", "split"],
        [["images/a.jpg", "70+", "Male", "White", "train"]],
    )
    with pytest.raises(HowoldError, match="unknown age bin"):
        load_fairface(tmp_path)


def test_appa_kaggle_layout(tmp_path):
    for name in ("000001.jpg", "004200.jpg", "006000.jpg"):
        write_image(tmp_path / "final_files" / name)
    write_csv(
        tmp_path / "labels.csv", ["file_name", "real_age"], [["000001.jpg", 18], ["004200.jpg", 40], ["006000.jpg", 71]]
    )
    samples = load_appa_real(tmp_path)
    assert [(s.low, s.split) for s in samples] == [(18, "train"), (40, "val"), (71, "test")]
    assert all(s.path.startswith(str(tmp_path / "final_files")) for s in samples)
    with pytest.raises(HowoldError, match="only real_age"):
        load_appa_real(tmp_path, target="apparent_age_avg")


def test_appa_chalearn_layout_prefers_face_crops(tmp_path):
    header = ["file_name", "num_ratings", "apparent_age_avg", "apparent_age_std", "real_age"]
    write_csv(tmp_path / "gt_avg_train.csv", header, [["000010.jpg", 30, 24.6, 3.1, 23]])
    write_csv(tmp_path / "gt_avg_valid.csv", header, [["004500.jpg", 30, 51.2, 4.0, 55]])
    write_csv(tmp_path / "gt_avg_test.csv", header, [["007000.jpg", 30, 8.4, 1.2, 9]])
    write_image(tmp_path / "train" / "000010.jpg_face.jpg")
    write_image(tmp_path / "train" / "000010.jpg")
    write_image(tmp_path / "valid" / "004500.jpg")  # no face crop: the photo is used
    samples = load_appa_real(tmp_path, target="apparent_age_avg")
    assert [(s.low, s.split) for s in samples] == [(25, "train"), (51, "val"), (8, "test")]
    assert samples[0].path.endswith("000010.jpg_face.jpg")
    assert samples[1].path.endswith("valid/004500.jpg")
    assert [s.low for s in load_appa_real(tmp_path)] == [23, 55, 9]
    kept, report = check_files(samples)
    assert len(kept) == 2 and len(report.missing) == 1  # test image absent: reported, left out


@pytest.mark.skipif(
    not (SHARED_DATA / "appa-real" / "labels.csv").is_file(),
    reason="needs ../shared/data/appa-real/labels.csv (real APPA-REAL labels)",
)
def test_real_appa_labels_give_official_split_counts():
    samples = load_appa_real(SHARED_DATA / "appa-real")
    counts = {split: len(select_split(samples, split)) for split in ("train", "val", "test")}
    assert counts == {"train": 4113, "val": 1500, "test": 1978}
    assert min(s.low for s in samples) == 1 and max(s.low for s in samples) == 100


def test_generic_csv_with_and_without_split(tmp_path):
    write_image(tmp_path / "imgs" / "a.jpg")
    write_csv(tmp_path / "with.csv", ["path", "age", "split"], [["imgs/a.jpg", 33.4, "valid"]])
    [s] = load_csv(tmp_path / "with.csv")
    assert (s.path, s.low, s.split) == (str(tmp_path / "imgs" / "a.jpg"), 33, "val")
    write_csv(tmp_path / "without.csv", ["path", "age"], [["imgs/a.jpg", 7]])
    [s] = load_dataset("csv", tmp_path / "without.csv")
    assert s.split == hash_split("a.jpg")


@pytest.mark.skipif(
    not (SHARED_DATA / "utkface" / "labels.csv").is_file(), reason="needs ../shared/data/utkface/labels.csv"
)
def test_hash_split_reproduces_the_utkface_split():
    samples = load_dataset("utkface", SHARED_DATA / "utkface")
    assert len(samples) == 23314
    assert all(hash_split(s.path.rsplit("/", 1)[1]) == s.split for s in samples[:2000])


def test_sample_validates_its_interval():
    with pytest.raises(ValueError, match="low <= high"):
        Sample("x.jpg", 30, 20, "train")
    with pytest.raises(ValueError, match="split"):
        Sample("x.jpg", 20, 20, "dev")


def test_unknown_dataset_kind():
    with pytest.raises(HowoldError, match="unknown dataset"):
        load_dataset("imdb")


@pytest.mark.parametrize(
    ("kind", "split", "message"),
    [
        ("fairface", "val", "fairface is a test-only dataset"),
        ("utkface", "test", "utkface split test is for measuring only"),
        ("fgnet", None, "fgnet: name its split"),
        ("fgnet", "all", "fgnet: name its split"),
        ("fgnet", "test", "fgnet split test is for measuring only"),
    ],
)
def test_training_entries_never_hold_test_photos(kind, split, message):
    with pytest.raises(HowoldError, match=message):
        check_training_split(kind, split)


@pytest.mark.parametrize(("kind", "split"), [("fgnet", "train"), ("fgnet", "val"), ("utkface", None), ("aaf", "val")])
def test_training_entries_of_train_and_val_people_pass(kind, split):
    check_training_split(kind, split)


@pytest.mark.data
@pytest.mark.skipif(not (SHARED_DATA / "fgnet" / "labels.csv").is_file(), reason="needs ../shared/data/fgnet")
def test_fgnet_split_is_by_person_and_evaluation_sees_its_test_people_only():
    from howold.train.evaluate import EvalData, load_eval_samples

    samples = load_dataset("fgnet", SHARED_DATA / "fgnet")
    people = {split: {s.attrs["subject"] for s in select_split(samples, split)} for split in ("train", "val", "test")}
    assert [len(select_split(samples, split)) for split in ("train", "val", "test")] == [442, 75, 485]
    assert [len(people[split]) for split in ("train", "val", "test")] == [37, 6, 39]
    assert not (people["train"] & people["test"]) and not (people["val"] & people["test"])
    for split in (None, "all", "test"):
        _, chosen, used, _ = load_eval_samples(EvalData("fgnet", split, str(SHARED_DATA / "fgnet")))
        assert used == "test" and len(chosen) == 485
