"""DetectOptions: the one owner of the detection settings, their bounds, their flags and full size."""

from __future__ import annotations

import argparse

import pytest

from howold import DetectOptions, HowoldError, OptionError


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    DetectOptions.add_arguments(parser)
    return parser.parse_args(argv)


def test_flags_default_to_the_options_defaults():
    assert DetectOptions.from_arguments(parse()) == DetectOptions()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--min-score", "0.5"], DetectOptions(min_score=0.5)),
        (["--max-side", "640"], DetectOptions(max_side=640)),
        (["--max-side", "0"], DetectOptions(max_side=None)),
        (["--min-face", "20"], DetectOptions(min_face_size=20.0)),
    ],
)
def test_flags_set_the_options(argv, expected):
    assert DetectOptions.from_arguments(parse(*argv)) == expected


def test_full_size_is_written_zero_and_read_as_none():
    assert DetectOptions(max_side=DetectOptions.FULL_SIZE).max_side is None
    assert DetectOptions(max_side=0) == DetectOptions(max_side=None)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--min-score", "1.5"], r"^--min-score must be between 0 and 1, got 1.5\.$"),
        (["--max-side", "10"], r"^--max-side must be at least 32 pixels, got 10\.$"),
        (["--min-face", "-1"], r"^--min-face must be 0 or more pixels, got -1.0\.$"),
    ],
)
def test_a_bad_flag_is_one_sentence_naming_it(argv, message):
    with pytest.raises(HowoldError, match=message):
        DetectOptions.from_arguments(parse(*argv))


def test_a_bad_value_in_code_names_the_field():
    with pytest.raises(OptionError, match="max_side must be at least 32 pixels"):
        DetectOptions(max_side=-5)
