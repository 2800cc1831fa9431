"""A bounded loopback load on `howold serve`: requests/s, p50/p95 latency, non-2xx, peak RSS.

    python benchmarks/bench_api.py [--requests 300] [--concurrency 1 4 8] [--workers 1]

Starts `howold serve` on a free 127.0.0.1 port (its settings from HOWOLD_* variables, as
usual), sends a 640x320 JPEG with two faces (two test fixtures side by side) as a raw body to
POST /v1/predict, `--requests` times at each concurrency level, and stops the server. The load
generator runs on the same machine, so on a small machine it competes with the server for CPU.
Peak RSS is the server's high-water mark (VmHWM, summed over worker processes), so far.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FACES = sorted((ROOT / "tests" / "fixtures" / "faces").glob("*.jpg"))


def two_face_jpeg() -> bytes:
    from howold.io import load_image

    pair = Image.fromarray(np.hstack([load_image(p) for p in FACES[:2]])).resize((640, 320), Image.LANCZOS)
    buffer = io.BytesIO()
    pair.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mib(pid: int) -> float:
    """VmHWM of the process and its children (uvicorn workers), in MiB; Linux only."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.is_file():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for p in pids:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return total / 1024


def start_server(workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "howold.cli", "serve", "--port", str(port), "--workers", str(workers),
               "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"howold serve exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.terminate()
    sys.exit("howold serve did not become ready in 120 s")


async def load(url: str, body: bytes, requests: int, concurrency: int, headers: dict) -> dict:
    latencies: list[float] = []
    failures = 0
    queue = iter(range(requests))

    async def user(client: httpx.AsyncClient) -> None:
        nonlocal failures
        for _ in queue:
            start = time.perf_counter()
            response = await client.post(f"{url}/v1/predict", content=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            failures += not response.is_success

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(user(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    cuts = statistics.quantiles(latencies, n=20)
    return {"rps": requests / elapsed, "p50": cuts[9] * 1000, "p95": cuts[18] * 1000, "non2xx": failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="requests per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    args = parser.parse_args()
    body = two_face_jpeg()
    headers = {"content-type": "image/jpeg"}
    if os.environ.get("HOWOLD_API_KEY"):
        headers["authorization"] = f"Bearer {os.environ['HOWOLD_API_KEY']}"
    server, url = start_server(args.workers)
    try:
        warm = httpx.post(f"{url}/v1/predict", content=body, headers=headers, timeout=60)
        faces = len(warm.json().get("faces", [])) if warm.is_success else "error"
        ready = httpx.get(f"{url}/readyz").json()
        print(f"photo: 640x320 JPEG, {len(body) / 1024:.0f} KiB, {faces} faces; age model: {ready['model']}; "
              f"server workers: {args.workers}; CPUs: {os.cpu_count()}; "
              f"load average before: {os.getloadavg()[0]:.1f}\n")  # fmt: skip
        print("| concurrency | requests | requests/s | p50 ms | p95 ms | non-2xx | server peak RSS MiB |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for concurrency in args.concurrency:
            result = asyncio.run(load(url, body, args.requests, concurrency, headers))
            rss = peak_rss_mib(server.pid)
            print(f"| {concurrency} | {args.requests} | {result['rps']:.1f} | {result['p50']:.0f} | "
                  f"{result['p95']:.0f} | {result['non2xx']} | {rss:.0f} |", flush=True)  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
