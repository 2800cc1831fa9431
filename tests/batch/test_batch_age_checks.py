"""The age check and the age distribution in the batch table: null unless asked, the CSV's values when asked."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from howold import AGE_CHECK_COLUMNS, AgeCheck, Predictor
from howold.batch.job import SCHEMA, result_rows, rows_table, run_batch


@pytest.fixture(scope="module")
def result(face_paths):
    return Predictor().analyse(next(p for p in face_paths if p.stem.startswith("elderly")))


def test_the_columns_are_in_the_schema_after_the_others():
    names = SCHEMA.names
    assert names[-len(AGE_CHECK_COLUMNS) - 2 :] == [*AGE_CHECK_COLUMNS, "distribution_ages", "distribution_probs"]


def test_rows_carry_the_check_and_the_distribution_only_when_asked(result):
    (plain,) = rows_table(result_rows(result)).to_pylist()
    assert all(plain[name] is None for name in (*AGE_CHECK_COLUMNS, "distribution_ages", "distribution_probs"))
    (row,) = rows_table(result_rows(result, AgeCheck(21, 25), distribution=True)).to_pylist()
    assert (row["over"], row["challenge"], row["verdict"]) == (21.0, 25.0, "over")
    assert row["p_over"] == pytest.approx(result.faces[0].p_over(21), abs=1e-4)
    assert row["distribution_ages"] == list(range(101))
    assert row["distribution_probs"] == pytest.approx(list(result.faces[0].distribution.probs))


def test_a_batch_run_writes_the_check(ray_address, face_paths, tmp_path):
    out = tmp_path / "out.parquet"
    run_batch([str(p) for p in face_paths], out, actors=1, batch_size=4, check=AgeCheck(18, 25), distribution=True)
    rows = {row["source"].rsplit("/", 1)[-1]: row for row in pq.read_table(out).to_pylist()}
    assert rows["child_3-9.jpg"]["verdict"] == "check_id" and rows["elderly_70plus.jpg"]["verdict"] == "over"
    assert all(len(row["distribution_probs"]) == 101 for row in rows.values())
