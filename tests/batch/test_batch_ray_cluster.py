"""`howold batch --ray-address` on a real two-node Ray cluster: a head and a second node started with
`ray start` (separate processes, one CPU each, on 127.0.0.1), each photo analysed exactly once, on both."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]
RAY = shutil.which("ray")
START_S = 240  # both nodes up; `ray start` of one took 15-40 s on the loaded 2-core test machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_node(arguments: list[str], env: dict[str, str]) -> subprocess.Popen:
    """`ray start --block` in its own process group, so that the node's processes stop with it (and only
    them: `ray stop` would stop every Ray on the machine)."""
    return subprocess.Popen(
        [RAY, "start", "--block", "--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats", *arguments],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(node: subprocess.Popen) -> None:
    """Stop the node: politely, then whatever of its process group is left (Ray's GCS outlives a SIGTERM)."""
    for signal_number in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(node.pid, signal_number)
        except ProcessLookupError:
            return
        try:
            node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        time.sleep(2)


def nodes_alive(address: str, env: dict[str, str]) -> int:
    """The cluster's live nodes, as `ray status` counts them (0 while the head is not up)."""
    try:
        status = subprocess.run(
            [RAY, "status", f"--address={address}"], env=env, capture_output=True, text=True, timeout=60
        ).stdout
    except subprocess.TimeoutExpired:
        return 0
    active = status.split("Active:")[1].split("Pending:")[0] if "Active:" in status else ""
    return sum(line.strip().startswith("1 node_") for line in active.splitlines())


@pytest.fixture
def cluster(tmp_path):
    """A Ray head and a second node, one CPU each, both up; their address. Both stop afterwards."""
    if RAY is None:
        pytest.skip("no `ray` command: pip install -e '.[batch]'")
    port = free_port()
    # the nodes' workers import howold from this checkout, as the job's driver does
    paths = [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, paths)),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "disabled",
    }  # a test cluster on 127.0.0.1: no token to hand around
    env.pop("RAY_ADDRESS", None)
    temp = Path(f"/tmp/howold-ray-{port}")  # Ray's socket paths must stay short
    address = f"127.0.0.1:{port}"
    nodes = [ray_node(["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}"], env)]
    try:
        deadline = time.monotonic() + START_S
        while nodes_alive(address, env) < 1 and time.monotonic() < deadline:
            time.sleep(2)
        nodes.append(ray_node([f"--address={address}"], env))
        while nodes_alive(address, env) < 2 and time.monotonic() < deadline:
            time.sleep(2)
        if nodes_alive(address, env) < 2:
            pytest.fail(f"the two Ray nodes were not both up within {START_S} s")
        yield address, env
    finally:
        for node in reversed(nodes):
            stop(node)
        shutil.rmtree(temp, ignore_errors=True)


def test_a_batch_on_two_ray_nodes_runs_actors_on_both_and_every_photo_once(cluster, tmp_path, face_paths):
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    address, env = cluster
    photos = tmp_path / "photos"
    photos.mkdir()
    for copy in range(40):  # 160 distinct files: enough work that the second actor is up before it is done
        for path in face_paths:
            shutil.copy(path, photos / f"{copy}-{path.name}")
    out = tmp_path / "faces.parquet"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "howold",
            "batch",
            str(photos),
            "--out",
            str(out),
            "--ray-address",
            address,
            "--actors",
            "2",
            "--batch-size",
            "8",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "on 2 Ray nodes" in done.stderr, done.stderr
    sources = pq.read_table(out, columns=["source"]).column("source").to_pylist()
    assert sorted(sources) == sorted(str(p) for p in photos.iterdir())
