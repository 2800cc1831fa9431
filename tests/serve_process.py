"""A real `howold serve` process on a free loopback port, for the API and hostile-input tests."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def howold_serve(env: dict, log: Path, port: int | None = None, ready_s: float = 60):
    """Start `howold serve` with `env`, its output in `log`; yield its base URL once /readyz says 200;
    stop it afterwards (killed if it does not stop within 10 s)."""
    with howold_serve_process(env, log, port, ready_s) as (url, _process):
        yield url


@contextlib.contextmanager
def howold_serve_process(
    env: dict, log: Path, port: int | None = None, ready_s: float = 60, prefix: tuple[str, ...] = ()
):
    """`howold_serve` that yields (url, process), its command run behind `prefix` (e.g. prlimit)."""
    port = port or free_port()
    command = [*prefix, sys.executable, "-m", "howold.cli", "serve", "--port", str(port), "--log-level", "warning"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_s
        while not _ready(url):
            if process.poll() is not None:
                pytest.fail(f"howold serve exited with {process.returncode}: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"howold serve did not become ready in {ready_s:.0f} s: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
