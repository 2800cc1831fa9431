"""Age checks: P(age >= threshold) from the one decoder, the challenge policy, its settings and their
errors, and the answer in Face.to_dict, the CSV and the JSON that the CLI writes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from howold import AGE_CHECK_COLUMNS, CSV_COLUMNS, AgeCheck, AgeDistribution, HowoldError, OptionError, Predictor
from howold.age_model import calibrate_survival, decode_distribution, probability_at_least
from howold.report import results_csv, results_json


def gaussian(centre: float, spread: float, classes: int = 101) -> np.ndarray:
    probs = np.exp(-0.5 * ((np.arange(classes) - centre) / spread) ** 2)
    return probs / probs.sum()


# ----------------------------------------------------------------------------------- the decoder


def test_a_point_mass_is_at_least_its_age_and_not_one_more():
    probs = np.zeros(101)
    probs[17] = 1
    assert probability_at_least(probs, 17)[0] == pytest.approx(1)
    assert probability_at_least(probs, 18)[0] == pytest.approx(0)
    assert probability_at_least(probs, 17.5)[0] == pytest.approx(0.5)  # a fractional age falls between


def test_p_at_least_is_the_mass_on_that_age_and_older():
    probs = gaussian(20, 4)
    for age in (0, 13, 18, 21, 100):
        assert probability_at_least(probs, age)[0] == pytest.approx(probs[age:].sum())


@pytest.mark.parametrize("centre", [8.0, 19.3, 47.0])
def test_the_range_ends_are_the_ages_at_90_and_10_percent(centre):
    # one decoder: the 80% range's ends are where P(at least) crosses 0.9 and 0.1
    probs = gaussian(centre, 5)
    _, low, high = decode_distribution(probs, interval=0.8)
    assert probability_at_least(probs, low[0] + 0.5)[0] == pytest.approx(0.9, abs=1e-6)
    assert probability_at_least(probs, high[0] + 0.5)[0] == pytest.approx(0.1, abs=1e-6)


def test_min_age_shifts_the_ages_and_rows_are_read_one_by_one():
    probs = np.stack([gaussian(10, 3, 91), gaussian(60, 3, 91)])
    assert probability_at_least(probs, 20, min_age=10) == pytest.approx([probs[0, 10:].sum(), 1.0])
    assert probability_at_least(probs, 20, min_age=10)[0] > 0.5  # the whole year of 20 counts as at least 20


def test_zero_survival_offsets_change_nothing():
    probs = np.stack([gaussian(8, 3), gaussian(40, 9)])
    assert calibrate_survival(probs, np.zeros(100)) == pytest.approx(probs, abs=1e-9)


def test_a_survival_offset_moves_p_over_at_its_age_by_its_logit():
    probs = gaussian(18, 4)[None]
    offsets = np.zeros(100)
    offsets[17] = 0.2  # the offset of age 18: P(age >= 18) goes from p to sigmoid(logit(p) + 0.2)
    before = probability_at_least(probs, 18)[0]
    after = probability_at_least(calibrate_survival(probs, offsets), 18)[0]
    assert after == pytest.approx(1 / (1 + np.exp(-(np.log(before / (1 - before)) + 0.2))), abs=1e-6)
    assert probability_at_least(calibrate_survival(probs, offsets), 25)[0] == pytest.approx(
        probability_at_least(probs, 25)[0], abs=1e-9
    )  # the other ages keep theirs


def test_offsets_that_would_make_p_over_rise_with_age_keep_a_distribution():
    probs = gaussian(30, 5)[None]
    offsets = np.zeros(100)
    offsets[34] = 6.0  # P(age >= 35) pushed above P(age >= 34): clipped back, so no negative mass
    calibrated = calibrate_survival(probs, offsets)
    assert calibrated.min() >= 0 and calibrated.sum() == pytest.approx(1)
    tail = np.cumsum(calibrated[0, ::-1])[::-1]
    assert np.all(np.diff(tail) <= 1e-12)


def test_offsets_of_the_wrong_length_are_refused():
    with pytest.raises(ValueError, match="expected 100 numbers"):
        calibrate_survival(gaussian(30, 5)[None], np.zeros(3))


def test_a_distribution_is_read_only_and_knows_its_ages():
    dist = AgeDistribution.from_array(gaussian(30, 5, 11) + 1, min_age=25)
    assert dist.ages == tuple(range(25, 36)) and sum(dist.probs) == pytest.approx(1)
    with pytest.raises(AttributeError):
        dist.probs = ()  # type: ignore[misc]
    assert dist.to_dict()["ages"] == list(dist.ages) and len(dist.to_dict()["probs"]) == 11
    with pytest.raises(ValueError, match="sum to 1"):
        AgeDistribution(0, (0.5, 0.2))


# ------------------------------------------------------------------------------------ the policy


def test_the_verdict_asks_for_the_challenge_age():
    check = AgeCheck(18, 25)
    assert (check.over, check.challenge, check.column) == (18.0, 25.0, "P(≥18)")
    assert check.verdict(0.5) == "over" and check.verdict(0.499) == "check_id"
    assert check.verdict_label("over") == "over 18" and check.verdict_label("check_id") == "check ID"


def test_a_missing_challenge_takes_the_margin_of_the_nearest_measured_threshold():
    for threshold, margin in AgeCheck.CHALLENGE_MARGINS.items():
        assert AgeCheck(threshold).challenge == threshold + margin
        assert AgeCheck(str(threshold)).challenge == threshold + margin  # as flags and query parameters give it
    assert AgeCheck(19).challenge == 19 + AgeCheck.CHALLENGE_MARGINS[18]
    assert AgeCheck(120).challenge == 120  # never beyond the oldest age


@pytest.mark.parametrize("value", [-1, "-0.5", 121, "120.5", "abc", "", "nan", "inf", None, True, [18]])
def test_bad_thresholds_get_one_sentence(value):
    with pytest.raises(OptionError, match=r"^over must be an age in years from 0 to 120, got .+\.$"):
        AgeCheck(value)  # type: ignore[arg-type]


def test_a_challenge_below_the_threshold_is_refused():
    with pytest.raises(OptionError, match=r"^challenge must be at least the age checked \(18\), got 16\.$"):
        AgeCheck(18, 16)
    with pytest.raises(OptionError, match="^challenge must be an age"):
        AgeCheck(18, "twenty")


# --------------------------------------------------------------------------------- faces, formats


@pytest.fixture(scope="module")
def result(face_paths):
    """The composite-free child photo through the shipped model: one face, under 18."""
    child = next(p for p in face_paths if p.stem.startswith("child"))
    return Predictor().analyse(child)


def test_face_p_over_reads_its_distribution(result):
    face = result.faces[0]
    assert face.p_over(0) == pytest.approx(1)
    assert face.p_over(18) == pytest.approx(face.distribution.p_at_least(18))
    assert face.p_over(13) >= face.p_over(18) >= face.p_over(25)
    assert face.p_over(face.age_low + 0.5) == pytest.approx(0.9, abs=0.01)  # the same distribution as the range
    with pytest.raises(OptionError, match="^age must be an age in years"):
        face.p_over(-3)


def test_the_default_dict_stays_small_and_the_check_comes_when_asked(result):
    face = result.faces[0]
    assert not {"age_check", "distribution"} & set(face.to_dict())
    answer = face.to_dict(AgeCheck(18, 25), distribution=True)
    assert answer["age_check"] == {
        "over": 18.0,
        "p_over": round(face.p_over(18), 4),
        "challenge": 25.0,
        "p_challenge": round(face.p_over(25), 4),
        "verdict": "check_id",
    }
    assert answer["distribution"]["ages"] == list(range(0, 101))
    assert sum(answer["distribution"]["probs"]) == pytest.approx(1, abs=1e-4)


def test_without_an_age_model_there_is_no_probability(face_paths):
    face = Predictor(model=None).analyse(face_paths[0]).faces[0]
    assert face.distribution is None and face.check(AgeCheck(18)) is None
    with pytest.raises(HowoldError, match="no age model"):
        face.p_over(18)


def test_csv_gets_the_check_columns_only_when_asked(result):
    plain = list(csv.DictReader(io.StringIO(results_csv([result]))))
    assert tuple(plain[0]) == CSV_COLUMNS
    (row,) = csv.DictReader(io.StringIO(results_csv([result], check=AgeCheck(18, 25))))
    assert tuple(row) == CSV_COLUMNS + AGE_CHECK_COLUMNS
    assert (row["over"], row["challenge"], row["verdict"]) == ("18.0", "25.0", "check_id")
    assert float(row["p_over"]) == pytest.approx(result.faces[0].p_over(18), abs=1e-4)


def test_json_validates_against_the_api_schema(result):
    schemas = pytest.importorskip("howold.api.schemas", reason="needs the [api] extra")
    document = json.loads(results_json([result], check=AgeCheck(13), distribution=True))
    parsed = schemas.ResultsSchema.model_validate(document)
    assert parsed.results[0].faces[0].age_check.over == 13
    assert len(parsed.results[0].faces[0].distribution.probs) == 101


def howold(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "howold", *map(str, args)], capture_output=True, text=True, timeout=180
    )


def test_cli_over_and_challenge(face_paths, tmp_path):
    out = tmp_path / "faces.json"
    run = howold(
        "predict", *face_paths, "--over", "18", "--challenge", "25", "--csv", "-", "--json", out, "--distribution"
    )
    assert run.returncode == 0, run.stderr
    rows = {row["source"].rsplit("/", 1)[-1]: row for row in csv.DictReader(io.StringIO(run.stdout))}
    assert rows["child_3-9.jpg"]["verdict"] == "check_id" and rows["elderly_70plus.jpg"]["verdict"] == "over"
    assert "P(≥18)" in run.stderr and "check ID" in run.stderr  # the table goes to stderr when stdout has the CSV
    faces = [face for entry in json.loads(out.read_text())["results"] for face in entry["faces"]]
    assert all(face["age_check"]["challenge"] == 25 and len(face["distribution"]["probs"]) == 101 for face in faces)
    for face in faces:
        probs = np.array(face["distribution"]["probs"])
        assert face["age_check"]["p_over"] == pytest.approx(probs[18:].sum(), abs=1e-3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--over", "-5"], "--over must be an age in years from 0 to 120, got '-5'."),
        (["--over", "130"], "--over must be an age in years from 0 to 120, got '130'."),
        (["--over", "eighteen"], "--over must be an age in years from 0 to 120, got 'eighteen'."),
        (["--over", "18", "--challenge", "12"], "--challenge must be at least the age checked (18), got 12."),
        (["--challenge", "25"], "--challenge needs --over (the age checked)."),
    ],
)
def test_cli_bad_thresholds_get_one_sentence(face_paths, args, message):
    run = howold("predict", face_paths[0], *args)
    assert run.returncode == 1 and run.stderr == f"howold: {message}\n", run.stderr
