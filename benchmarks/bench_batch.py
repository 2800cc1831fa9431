"""Photos per second: `howold predict` in one process vs `howold batch` on a local Ray.

    python benchmarks/bench_batch.py [--count 2000] [--images DIR]

Takes the first COUNT photos (sorted by name) of UTKFace and times each command end to end, as a
person would run it (start-up, Ray start and model loading included). A run of `howold batch` on
four photos shows the fixed cost of starting Ray and the actors. Prints a Markdown table.
Skipped, with a message, when the images are not there.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "utkface" / "images"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="photos to analyse (default 2000)")
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES, help="folder of photos (default: UTKFace)")
    args = parser.parse_args()
    if not args.images.is_dir():
        print(f"skipped: {args.images} is not there (see /work/shared/data/README).")
        return 0
    # absolute: the paths in a .txt list are read relative to the list's own folder
    photos = sorted(str(p.resolve()) for p in args.images.iterdir() if p.is_file())[: args.count]
    print(f"{len(photos)} photos from {args.images}; load before: {_load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="howold-bench-") as tmp:
        listing = Path(tmp) / "photos.txt"
        listing.write_text("\n".join(photos) + "\n")
        few = Path(tmp) / "few.txt"
        few.write_text("\n".join(photos[:4]) + "\n")
        n = len(photos)

        def batch(name: str, listed: Path, actors: int) -> list[str]:
            out = f"{tmp}/{name}.parquet"
            return ["howold", "batch", str(listed), "--out", out, "--actors", str(actors), "-q"]

        runs = [
            (
                "howold predict --workers 1",
                ["howold", "predict", "-q", "--json", f"{tmp}/p.json", "--workers", "1", *photos],
                n,
            ),
            (
                "howold predict --workers 2",
                ["howold", "predict", "-q", "--json", f"{tmp}/w.json", "--workers", "2", str(listing)],
                n,
            ),
            ("howold batch --actors 1", batch("a1", listing, 1), n),
            ("howold batch --actors 2", batch("a2", listing, 2), n),
            ("howold batch --actors 2, 4 photos (start-up cost)", batch("few", few, 2), 4),
        ]
        rows = []
        for label, command, count in runs:
            seconds = _time(command)
            rows.append((label, count, seconds))
            print(f"{label}: {count} photos in {seconds:.1f} s", flush=True)
    print(f"load after: {_load()}\n")
    print("| command | photos | wall s | photos/s |\n|---|---:|---:|---:|")
    for label, count, seconds in rows:
        print(f"| {label} | {count} | {seconds:.1f} | {count / seconds:.1f} |")
    return 0


def _time(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:  # every photo here is readable: exit 1 (some photo failed) is a broken run too
        sys.exit(f"{command[:2]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def _load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


if __name__ == "__main__":
    sys.exit(main())
