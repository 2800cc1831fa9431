"""Peak memory of the web page rendering one large photo: an 81-megapixel (9000x9000) JPEG with
the four fixture faces enlarged on a noisy background, rendered by the page's own `render_photo`
in Streamlit's AppTest, in a fresh process.

    python benchmarks/bench_page_memory.py [--side 9000] [--tabs 1]

Prints the process's peak resident memory (ru_maxrss) before the render (models loaded; the JPEG
is built by a child process) and after it; with `--tabs N`, N sessions (browser tabs) render it
one after another and the memory still held once they are gone is printed too.
"""

from __future__ import annotations

import argparse
import gc
import io
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT / "tests" / "fixtures" / "faces"


def big_jpeg(side: int) -> bytes:
    rng = np.random.default_rng(0)
    tile = rng.integers(60, 200, (side // 8, side // 8, 3), dtype=np.uint8)
    canvas = Image.fromarray(tile).resize((side, side), Image.Resampling.BILINEAR)
    for i, path in enumerate(sorted(FACES.glob("*.jpg"))):
        face = Image.open(path).convert("RGB").resize((side // 5, side // 5))
        canvas.paste(face, (side // 10 + i * side // 5, side // 3))
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def script(name: str, data: bytes) -> None:
    from howold.app import main as app

    app.render_photo(name, data, app.sidebar(), key="0")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=9000)
    parser.add_argument("--tabs", type=int, default=1)
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)  # the child that builds the JPEG
    args = parser.parse_args()
    if args.write:
        args.write.write_bytes(big_jpeg(args.side))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.jpg"
        subprocess.run([sys.executable, __file__, "--side", str(args.side), "--write", str(path)], check=True)
        data = path.read_bytes()
    from streamlit.testing.v1 import AppTest

    from howold import Predictor

    Predictor().prepare()  # the models' own memory, counted before the render
    before = peak_mib()
    tables = 0
    for tab in range(args.tabs):
        at = AppTest.from_function(script, args=(f"big_{tab}.jpg", data), default_timeout=300)
        at.run()
        if at.exception:
            sys.exit(f"the page failed: {at.exception[0].value}")
        tables += len(at.dataframe)
        del at
    gc.collect()
    print(
        f"{args.side}x{args.side} JPEG, {len(data) / 1e6:.1f} MB, {args.tabs} tab(s), {tables} table(s): "
        f"peak RSS {before:.0f} MiB before the render, {peak_mib():.0f} MiB after; "
        f"{resident_mib():.0f} MiB held once the tabs are gone"
    )


def resident_mib() -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


if __name__ == "__main__":
    main()
