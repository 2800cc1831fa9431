"""Start and stop `howold app` on a free localhost port for the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from serve_process import free_port


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Poll Streamlit's health endpoint until it answers 'ok'; fail with the server's output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"the app at {url} was not ready after {timeout:.0f} s")


def start_app(log: Path, extra_env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Start `howold app` on a free localhost port, in its own process group; return it and its URL."""
    port = free_port()
    env = {**os.environ, **(extra_env or {})}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "howold.cli", "app", "--port", str(port), "--host", "127.0.0.1"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
    except Exception:
        stop_app(process)
        pytest.fail(f"{sys.exc_info()[1]}; its output:\n{log.read_text(errors='replace')}")
    return process, url


def stop_app(process: subprocess.Popen) -> None:
    """Stop the launcher (which stops Streamlit), then make sure nothing of its group is left."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if process.poll() is None:
        process.wait(5)
