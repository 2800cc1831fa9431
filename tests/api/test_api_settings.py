"""Settings come from HOWOLD_* environment variables, through one object."""

from __future__ import annotations

import pytest

pytest.importorskip("pydantic_settings", reason="needs the [api] extra")

from pydantic import ValidationError  # noqa: E402

from howold.api.settings import Settings  # noqa: E402


def test_defaults():
    settings = Settings(_env_file=None)
    assert settings.max_upload_bytes == 20 * 2**20
    assert (settings.min_score, settings.max_side) == (0.9, 1280)
    assert settings.concurrency >= 1 and settings.max_in_flight >= settings.concurrency


def test_environment_variables_are_read(monkeypatch):
    monkeypatch.setenv("HOWOLD_API_KEY", "k3y")
    monkeypatch.setenv("HOWOLD_MAX_UPLOAD_MB", "5")
    monkeypatch.setenv("HOWOLD_MAX_IN_FLIGHT", "3")
    settings = Settings()
    assert settings.api_key.get_secret_value() == "k3y" and "k3y" not in repr(settings)
    assert (settings.max_upload_bytes, settings.max_in_flight) == (5 * 2**20, 3)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HOWOLD_MAX_UPLOAD_MB", "0"),
        ("HOWOLD_MIN_SCORE", "1.5"),
        ("HOWOLD_MAX_SIDE", "x"),
        ("HOWOLD_BODY_TIMEOUT_S", "inf"),
        ("HOWOLD_BODY_TIMEOUT_S", "nan"),
        ("HOWOLD_BODY_TIMEOUT_S", "-1"),
        ("HOWOLD_HEADER_TIMEOUT_S", "0"),
        ("HOWOLD_HEADER_TIMEOUT_S", "Infinity"),
        ("HOWOLD_MAX_UPLOAD_MB", "inf"),
        ("HOWOLD_MAX_BODIES_MB", "10"),
        ("HOWOLD_MAX_CONNECTIONS", "0"),
    ],
)
def test_bad_values_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()
