"""Photos per second of `howold batch --ray-address` on a real Ray cluster of one node, then of two: a head
and a second node started with `ray start` (separate processes, one CPU each, on 127.0.0.1).

    python benchmarks/bench_ray_cluster.py [--count 500] [--images DIR]

The first COUNT photos (sorted by name) of UTKFace; one actor on the head alone, then two actors once
the second node has joined. Wall time of each `howold batch` run as a person would run it (connecting
to the cluster and starting the actors included). Token authentication is off for this local cluster
(RAY_AUTH_MODE=disabled). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from howold.train.data import default_data_root

ROOT = Path(__file__).resolve().parents[1]


def node(arguments: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        ["ray", "start", "--block", "--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats", *arguments],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def alive(address: str, env: dict[str, str]) -> int:
    status = subprocess.run(
        ["ray", "status", f"--address={address}"], env=env, capture_output=True, text=True, timeout=60
    ).stdout
    active = status.split("Active:")[1].split("Pending:")[0] if "Active:" in status else ""
    return sum(line.strip().startswith("1 node_") for line in active.splitlines())


def wait_for(count: int, address: str, env: dict[str, str], seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while alive(address, env) < count:
        if time.monotonic() > deadline:
            sys.exit(f"bench_ray_cluster: {count} node(s) not up within {seconds:.0f} s")
        time.sleep(2)


def stop(process: subprocess.Popen) -> None:
    for signal_number in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, signal_number)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        time.sleep(2)


def batch(listing: Path, out: Path, address: str, actors: int, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "howold",
            "batch",
            str(listing),
            "--out",
            str(out),
            "--ray-address",
            address,
            "--actors",
            str(actors),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        sys.exit(f"bench_ray_cluster: howold batch failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started, done.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--images", type=Path, default=default_data_root() / "utkface" / "images")
    args = parser.parse_args()
    photos = sorted(str(p) for p in args.images.iterdir() if p.is_file())[: args.count]
    port = free_port()
    paths = [str(ROOT), os.environ.get("PYTHONPATH")]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, paths)),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "disabled",
    }
    env.pop("RAY_ADDRESS", None)
    address = f"127.0.0.1:{port}"
    rows = []
    with tempfile.TemporaryDirectory(prefix="howold-ray-") as tmp:
        listing = Path(tmp) / "photos.txt"
        listing.write_text("\n".join(photos) + "\n")
        nodes = [node(["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={tmp}/ray"], env)]
        try:
            wait_for(1, address, env)
            rows.append(("1 node, 1 actor", *batch(listing, Path(tmp) / "one.parquet", address, 1, env)))
            nodes.append(node([f"--address={address}"], env))
            wait_for(2, address, env)
            rows.append(("2 nodes, 2 actors", *batch(listing, Path(tmp) / "two.parquet", address, 2, env)))
        finally:
            for process in reversed(nodes):
                stop(process)
    print(f"{len(photos)} photos from {args.images}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("| cluster | wall s | photos/s | howold batch's summary |\n|---|---:|---:|---|")
    for label, seconds, summary in rows:
        print(f"| {label} | {seconds:.1f} | {len(photos) / seconds:.1f} | {summary} |")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
