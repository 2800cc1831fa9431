"""`howold app`: serve the web page with Streamlit in a subprocess, using the app's own config.

Imports only the standard library and howold's light names, so that `howold --help` stays fast;
Streamlit is needed only when the command runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from howold import HowoldError, require_extra

APP_SCRIPT = Path(__file__).with_name("main.py")  # its .streamlit/config.toml sits next to it
MODEL_ENV = "HOWOLD_MODEL"  # read by main.py


def add_app_command(subparsers) -> None:
    """Add `howold app [--port N] [--host H] [--model FILE] [--browser]`."""
    app = subparsers.add_parser(
        "app",
        help="open the web page (needs the [app] extra)",
        description="Serve the howold web page: upload photos, see every face with its age.",
    )
    app.add_argument("--port", type=int, default=8501, metavar="N", help="port to listen on (default 8501)")
    app.add_argument(
        "--host", default="localhost", metavar="H",
        help="address to listen on (default localhost; 0.0.0.0 for every interface)",
    )  # fmt: skip
    app.add_argument("--model", metavar="FILE", help="ONNX age model with its .json sidecar (default: shipped)")
    app.add_argument("--browser", action="store_true", help="open the page in a web browser")
    app.set_defaults(handler=run_app)


def streamlit_command(port: int, host: str, browser: bool = False) -> list[str]:
    """The command line that serves the page."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
        "--server.port", str(port), "--server.address", host,
        "--server.headless", "false" if browser else "true",
    ]  # fmt: skip


def run_app(args: argparse.Namespace) -> int:
    require_extra("app", "app")
    if not 0 < args.port < 65536:
        raise HowoldError(f"--port must be between 1 and 65535, got {args.port}.")
    env = dict(os.environ)
    if args.model:
        model = Path(args.model).resolve()
        if not model.is_file():
            raise HowoldError(f"{args.model}: no such model file.")
        env[MODEL_ENV] = str(model)
    print(f"howold: serving the web page on http://{args.host}:{args.port} (Ctrl+C to stop)", file=sys.stderr)
    process = subprocess.Popen(streamlit_command(args.port, args.host, args.browser), env=env)
    previous = signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        return process.wait()
    except KeyboardInterrupt:  # the child got the same Ctrl+C and is shutting down
        _stop(process)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop(process)


def _stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
