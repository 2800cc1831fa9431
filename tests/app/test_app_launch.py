"""`howold app`: the command, its config file, and a real start and stop of the server."""

from __future__ import annotations

import signal
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest
from app_server import start_app, stop_app

from howold.app.launch import APP_SCRIPT, streamlit_command
from howold.cli import build_parser, main
from howold.errors import HowoldError

CONFIG = Path(APP_SCRIPT).parent / ".streamlit" / "config.toml"


def test_the_command_is_registered_with_its_options():
    args = build_parser().parse_args(["app", "--port", "9001", "--host", "0.0.0.0"])
    assert (args.port, args.host, args.model, args.browser) == (9001, "0.0.0.0", None, False)
    assert args.handler.__module__ == "howold.app.launch"


def test_the_hook_does_not_import_streamlit():
    code = "import sys, howold.cli; howold.cli.build_parser(); print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_command_runs_the_app_script():
    command = streamlit_command(9001, "127.0.0.1")
    assert command[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert Path(command[4]) == Path(APP_SCRIPT) and Path(APP_SCRIPT).is_file()
    assert command[5:] == ["--server.port", "9001", "--server.address", "127.0.0.1", "--server.headless", "true"]


def test_the_app_config_sits_next_to_the_script():
    config = tomllib.loads(CONFIG.read_text())
    assert config["server"]["maxUploadSize"] == 25
    assert config["server"]["headless"] is True
    assert config["browser"]["gatherUsageStats"] is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["app", "--port", "0"], "--port must be between 1 and 65535"),
        (["app", "--model", "no/such/model.onnx"], "no such model file"),
    ],
)
def test_bad_options_give_one_sentence(argv, message, capsys):
    assert main(argv) == 1
    assert message in capsys.readouterr().err
    args = build_parser().parse_args(argv)
    with pytest.raises(HowoldError, match=message):
        args.handler(args)


def test_the_server_serves_the_page_and_stops_on_sigterm(tmp_path):
    process, url = start_app(tmp_path / "server.log")
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200 and b"<html" in response.read().lower()
        process.terminate()  # the launcher only; it must stop Streamlit, its child
        # the launcher forwards SIGTERM to Streamlit and returns its status instead of dying of the signal
        assert process.wait(15) != -signal.SIGTERM
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
    finally:
        stop_app(process)
