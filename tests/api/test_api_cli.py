"""`howold serve`: its options, a fast `howold --help`, and one-sentence start-up errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from howold.cli import build_parser, main


def test_serve_options_and_defaults():
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.workers) == ("127.0.0.1", 8000, 1)
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9000", "--workers", "3"])
    assert (args.host, args.port, args.workers) == ("0.0.0.0", 9000, 3)


def test_serve_help_lists_every_setting_with_its_default_from_settings():
    from howold.api.settings import Settings

    text = " ".join(subprocess.run([sys.executable, "-m", "howold", "serve", "--help"], capture_output=True,
                                   text=True, check=True).stdout.split())  # fmt: skip
    defaults = Settings()
    for name in Settings.model_fields:
        assert f"HOWOLD_{name.upper()}" in text
    assert f"HOWOLD_MAX_UPLOAD_MB ({defaults.max_upload_mb:g})" in text
    assert f"HOWOLD_HEADER_TIMEOUT_S ({defaults.header_timeout_s:g})" in text
    assert f"HOWOLD_MAX_CONNECTIONS ({defaults.max_connections})" in text


def test_help_does_not_import_the_web_stack():
    code = (
        "import sys, howold.cli; howold.cli.build_parser(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'uvicorn', 'pydantic', 'starlette'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("argv", "env", "words"),
    [
        (["--workers", "0"], {}, "--workers must be at least 1"),
        (["--port", "70000"], {}, "--port must be between"),
        ([], {"HOWOLD_MAX_UPLOAD_MB": "-1"}, "HOWOLD_MAX_UPLOAD_MB: Input should be greater than 0"),
        ([], {"HOWOLD_MODEL": "/nowhere/model.onnx"}, "no such model file"),
        ([], {"HOWOLD_BODY_TIMEOUT_S": "inf"}, "HOWOLD_BODY_TIMEOUT_S: Input should be a finite number."),
        ([], {"HOWOLD_MAX_BODIES_MB": "8"}, "max_bodies_mb (8) must hold the largest upload (50 MiB)."),
    ],
    ids=["workers", "port", "bad-env", "missing-model", "infinite-timeout", "budget-below-an-upload"],
)
def test_mistakes_fail_before_the_server_starts(monkeypatch, capsys, argv, env, words):
    pytest.importorskip("uvicorn", reason="needs the [api] extra")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", *argv]) == 1
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err
