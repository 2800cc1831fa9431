"""Normal requests' latency beside hostile media on `howold serve`: p50/p95 of the 640x320 photo
of `bench_api.py` when idle, then while one client sends an attack again and again.

    python benchmarks/bench_media_attacks.py [--requests 60]

The attacks are built by tests/hostile/corpus.py: an ffconcat playlist naming the fixture photo
(relative to the server's working folder), an SDP file, 10 s of 4K H.264 at 1000 frames a second
(one I-frame, then copies of a 26-byte frame), 8192x8192 frames, and an 8000x8000 progressive JPEG
repeating its last scan 1,000 times. Each row gives the attack's own answer and time (the mean
over the times it was sent during the row) and the normal requests' figures at concurrency 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests" / "hostile")]
from bench_api import load, peak_rss_mib, start_server, two_face_jpeg  # noqa: E402
from corpus import SDP, ffconcat, frame_copies, scan_bomb  # noqa: E402


def attacks() -> dict[str, tuple[bytes, str]]:
    photo = os.path.relpath(ROOT / "tests" / "fixtures" / "faces" / "adult_20-29.jpg")
    return {
        "ffconcat naming a photo on disk": (ffconcat(photo), "video/mp4"),
        "SDP file": (SDP, "video/mp4"),
        "4K at 1000 fps, 10 s (10,000 frames)": (frame_copies(3840, 2160, 1000, 10_000), "video/mp4"),
        "8192x8192 frames": (frame_copies(8192, 8192, 30, 30, rgb=False), "video/mp4"),
        "progressive JPEG, 1,009 scans": (scan_bomb(8000, 1000), "image/jpeg"),
    }


class Attacker:
    """Sends one body again and again from a thread until stopped; keeps each answer's code and time."""

    def __init__(self, url: str, body: bytes, media_type: str) -> None:
        self.url, self.body, self.headers = url, body, {"content-type": media_type}
        self.stop, self.answers = threading.Event(), []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            start = time.perf_counter()
            try:
                code = httpx.post(f"{self.url}/v1/predict", content=self.body, headers=self.headers,
                                  timeout=300).status_code  # fmt: skip
            except httpx.TransportError as exc:
                code = type(exc).__name__
            self.answers.append((code, time.perf_counter() - start))

    def __enter__(self) -> Attacker:
        self.thread.start()
        time.sleep(0.2)  # the attack is under way before the normal requests start
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=60, help="normal requests per row")
    args = parser.parse_args()
    body, headers = two_face_jpeg(), {"content-type": "image/jpeg"}
    cases = attacks()
    server, url = start_server(1)
    try:
        httpx.post(f"{url}/v1/predict", content=body, headers=headers, timeout=60)  # warm
        print(f"normal photo: 640x320 JPEG, concurrency 1, {args.requests} requests a row; CPUs: {os.cpu_count()}; "
              f"load average before: {os.getloadavg()[0]:.1f}\n")  # fmt: skip
        print("| beside | attack answers | attack s | p50 ms | p95 ms | p95 / idle | non-2xx | peak RSS MiB |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        idle = asyncio.run(load(url, body, args.requests, 1, headers))
        print(
            f"| nothing (idle) | — | — | {idle['p50']:.0f} | {idle['p95']:.0f} | 1.00 | {idle['non2xx']} | "
            f"{peak_rss_mib(server.pid):.0f} |",
            flush=True,
        )
        for name, (attack, media_type) in cases.items():
            with Attacker(url, attack, media_type) as attacker:
                result = asyncio.run(load(url, body, args.requests, 1, headers))
            codes = sorted({str(code) for code, _ in attacker.answers})
            mean = sum(s for _, s in attacker.answers) / max(1, len(attacker.answers))
            print(f"| {name} | {len(attacker.answers)} x {'/'.join(codes)} | {mean:.2f} | {result['p50']:.0f} | "
                  f"{result['p95']:.0f} | {result['p95'] / idle['p95']:.2f} | {result['non2xx']} | "
                  f"{peak_rss_mib(server.pid):.0f} |", flush=True)  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
