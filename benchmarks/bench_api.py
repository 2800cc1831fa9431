"""A bounded loopback load on `howold serve`: requests/s, p50/p95 latency, non-2xx, peak RSS.

    python benchmarks/bench_api.py [--requests 300] [--concurrency 1 4 8] [--workers 1]
    python benchmarks/bench_api.py --requests 100 --concurrency 1 4 --stalled 16   # beside stalled clients
    python benchmarks/bench_api.py --big-jpeg 9000 --concurrency                  # one huge JPEG only
    python benchmarks/bench_api.py --requests 100 --concurrency 1 4 --attack slow-heads bodies form

Starts `howold serve` on a free 127.0.0.1 port (its settings from HOWOLD_* variables, as
usual), sends a 640x320 JPEG with two faces (two test fixtures side by side) as a raw body to
POST /v1/predict, `--requests` times at each concurrency level, and stops the server. The load
generator runs on the same machine, so on a small machine it competes with the server for CPU.
Peak RSS is the server's high-water mark (VmHWM, summed over worker processes), so far.

`--stalled N` keeps N more connections open throughout, each having sent its headers
(Content-Length: 100000) and 10 bytes of the body, and reopened as soon as the server drops it:
the slow-client attack. `--big-jpeg SIDE` first sends, to a fresh server, a SIDE x SIDE JPEG
(the four fixture faces scaled up; a few MB) `--big-requests` times, one at a time, and reports
the time of each and the server's peak RSS.

`--attack NAME ...` measures each level idle and then beside each attack, on one server, and gives
the p95 ratio (attacked / idle), and the p95 of 20 requests each made on a new connection (a client
arriving during the attack): `slow-heads` holds 1,100 sockets that send half a request line
(the server under `ulimit -n 1024`, `--open-files`), `bodies` 40 clients that each declare 49 MiB
and send 48 MiB, then stall, and `form` 2 clients that post 49 MiB forms of 828k one-byte fields;
each attacker starts again as soon as the server drops it (after 0.1 s when refused). The attackers
run in a process of their own; `--attacker-cpus 1` also keeps them off the CPUs of the server and the
normal client (`0` on a 2-core machine), for the idle and the attacked load alike.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import threading
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


def big_jpeg(side: int) -> bytes:
    """The four fixture photos in a 2x2 grid, scaled up to side x side: four large faces."""
    from howold.io import load_image

    tiles = [load_image(p) for p in FACES]
    grid = Image.fromarray(np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:4])]))
    buffer = io.BytesIO()
    grid.resize((side, side), Image.BICUBIC).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


class StalledClients:
    """`count` connections that send a request head and 10 bytes, then nothing; reopened when dropped."""

    def __init__(self, url: str, count: int, headers: dict) -> None:
        self.port = int(url.rsplit(":", 1)[1])
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "content-type")
        self.head = (f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: image/jpeg\r\n"
                     f"{extra}Content-Length: 100000\r\n\r\n0123456789").encode()  # fmt: skip
        self.count, self.dropped, self.running = count, 0, True
        self.threads = [threading.Thread(target=self._hold, daemon=True) for _ in range(count)]
        self.open: set[socket.socket] = set()

    def __enter__(self) -> StalledClients:
        for thread in self.threads:
            thread.start()
        time.sleep(0.5)  # let every one connect before the load starts
        return self

    def __exit__(self, *exc) -> None:
        self.running = False
        for sock in list(self.open):  # a server that never times them out could not stop otherwise
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _hold(self) -> None:
        while self.running:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=120) as sock:
                    self.open.add(sock)
                    sock.sendall(self.head)
                    while self.running and sock.recv(4096):  # returns b"" once the server closes it
                        pass
                    self.open.discard(sock)
            except OSError:
                time.sleep(0.1)
            self.dropped += self.running


class Attack:
    """`count` attackers running one attack over and over, in a process of their own, until the load is
    done. Their own process (pinned to `cpus` when given) stands in for attackers on other machines:
    run as 1,100 threads of the load generator, their GIL held up the client that measures the normal
    requests, and that delay was counted as the server's."""

    def __init__(self, url: str, name: str, count: int = 0, cpus: set[int] | None = None) -> None:
        self.port, self.name, self.cpus = int(url.rsplit(":", 1)[1]), name, cpus
        self.count = count or ATTACKERS[name]
        self.answers: dict[str, int] = {}
        context = multiprocessing.get_context("fork")
        self._stop, self._answers = context.Event(), context.Queue()
        self._process = context.Process(target=self._run, daemon=True)

    def __enter__(self) -> Attack:
        self._process.start()
        time.sleep(3)  # every attacker connected and sending
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.answers = self._answers.get(timeout=120)
        self._process.join(timeout=30)

    def _run(self) -> None:
        if self.cpus:
            os.sched_setaffinity(0, self.cpus)
        attackers = Attackers(self.port, self.name)
        threads = [threading.Thread(target=attackers.loop, daemon=True) for _ in range(self.count)]
        for thread in threads:
            thread.start()
        self._stop.wait()
        attackers.running = False
        self._answers.put(dict(attackers.answers))


ATTACKERS = {"slow-heads": 1100, "bodies": 40, "form": 2}  # attackers of each kind, by default


class Attackers:
    """What each attacker thread does, and the answers they got."""

    def __init__(self, port: int, name: str) -> None:
        self.port, self.running, self.answers = port, True, {}
        self.attack = {"slow-heads": self._slow_head, "bodies": self._body, "form": self._form}[name]
        if name == "form":
            fields = "".join(f'--b\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nx\r\n' for i in range(828_000))
            self.form = f"{fields}--b--\r\n".encode()[: 49 * 2**20]

    def loop(self) -> None:
        while self.running:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
                    answer = self.attack(sock)
            except OSError as exc:
                answer = type(exc).__name__
            self.answers[answer] = self.answers.get(answer, 0) + 1
            time.sleep(0.1)

    def _head(self, sock: socket.socket) -> str:
        data = b""
        while self.running and (chunk := sock.recv(4096)):
            data += chunk
        return data.split(b"\r\n", 1)[0].decode("latin-1")[9:12] or "closed"

    def _slow_head(self, sock: socket.socket) -> str:
        sock.sendall(b"POST /v1/pre")
        return self._head(sock)

    def _body(self, sock: socket.socket) -> str:
        sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                     b"Content-Length: %d\r\n\r\n" % (49 * 2**20))  # fmt: skip
        sock.settimeout(0.5)
        try:
            return self._head(sock)  # refused before the body
        except TimeoutError:
            sock.settimeout(60)
        chunk = bytes(2**20)
        for _ in range(48):
            sock.sendall(chunk)
        return self._head(sock)

    def _form(self, sock: socket.socket) -> str:
        sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(self.form) + self.form)  # fmt: skip
        return self._head(sock)


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


def start_server(workers: int, open_files: int = 0) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "howold.cli", "serve", "--port", str(port), "--workers", str(workers),
               "--log-level", "warning"]  # fmt: skip
    if open_files:
        command = ["prlimit", f"--nofile={open_files}:{open_files}", *command]
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


def fresh_connection_p95(url: str, body: bytes, headers: dict, requests: int = 20) -> float:
    """p95 ms of `requests` requests made one after another, each on a new connection (a client that
    arrives during an attack has to get in first)."""
    latencies = []
    for _ in range(requests):
        start = time.perf_counter()
        httpx.post(f"{url}/v1/predict", content=body, headers=headers, timeout=120)
        latencies.append(time.perf_counter() - start)
    return statistics.quantiles(latencies, n=20)[18] * 1000


def big_jpeg_case(args, headers: dict) -> None:
    body = big_jpeg(args.big_jpeg)
    server, url = start_server(args.workers)
    try:
        before = peak_rss_mib(server.pid)
        print(f"big JPEG: {args.big_jpeg}x{args.big_jpeg}, {len(body) / 2**20:.2f} MiB; server peak RSS when ready: "
              f"{before:.0f} MiB\n")  # fmt: skip
        print("| request | status | faces | seconds | server peak RSS MiB |")
        print("|---:|---:|---:|---:|---:|")
        for number in range(1, args.big_requests + 1):
            start = time.perf_counter()
            response = httpx.post(f"{url}/v1/predict", content=body, headers=headers, timeout=600)
            seconds = time.perf_counter() - start
            faces = len(response.json().get("faces", [])) if response.is_success else "-"
            print(f"| {number} | {response.status_code} | {faces} | {seconds:.2f} | {peak_rss_mib(server.pid):.0f} |",
                  flush=True)  # fmt: skip
        print()
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="requests per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 4, 8], help="levels; none: no load")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--stalled", type=int, default=0, metavar="N", help="stalled uploads held open during the load")
    parser.add_argument("--big-jpeg", type=int, default=0, metavar="SIDE", help="first send a SIDE x SIDE JPEG")
    parser.add_argument("--big-requests", type=int, default=2, metavar="N", help="times the big JPEG is sent")
    parser.add_argument(
        "--attack",
        nargs="*",
        default=[],
        choices=("slow-heads", "bodies", "form"),
        help="measure beside each attack, against the same load idle",
    )
    parser.add_argument("--open-files", type=int, default=1024, help="the server's ulimit -n with --attack")
    parser.add_argument("--attackers", type=int, default=0, help="attackers of each kind (default: as above)")
    parser.add_argument(
        "--attacker-cpus",
        type=int,
        nargs="*",
        default=[],
        metavar="CPU",
        help="with --attack: run the attackers on these CPUs only and the server and the normal client on the "
        "others, idle and attacked alike (a stand-in for attackers on other machines)",
    )
    args = parser.parse_args()
    body = two_face_jpeg()
    headers = {"content-type": "image/jpeg"}
    if os.environ.get("HOWOLD_API_KEY"):
        headers["authorization"] = f"Bearer {os.environ['HOWOLD_API_KEY']}"
    if args.big_jpeg:
        big_jpeg_case(args, headers)
    if not args.concurrency:
        return
    if args.attack:
        attack_case(args, body, headers)
        return
    server, url = start_server(args.workers)
    try:
        warm = httpx.post(f"{url}/v1/predict", content=body, headers=headers, timeout=60)
        faces = len(warm.json().get("faces", [])) if warm.is_success else "error"
        ready = httpx.get(f"{url}/readyz").json()
        print(f"photo: 640x320 JPEG, {len(body) / 1024:.0f} KiB, {faces} faces; age model: {ready['model']}; "
              f"server workers: {args.workers}; CPUs: {os.cpu_count()}; stalled uploads: {args.stalled}; "
              f"load average before: {os.getloadavg()[0]:.1f}\n")  # fmt: skip
        print("| concurrency | requests | requests/s | p50 ms | p95 ms | non-2xx | stalled cut off | peak RSS MiB |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for concurrency in args.concurrency:
            with StalledClients(url, args.stalled, headers) as stalled:
                result = asyncio.run(load(url, body, args.requests, concurrency, headers))
            rss = peak_rss_mib(server.pid)
            figures = f"{result['p50']:.0f} | {result['p95']:.0f} | {result['non2xx']} | {stalled.dropped} | {rss:.0f}"
            print(f"| {concurrency} | {args.requests} | {result['rps']:.1f} | {figures} |", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


def attack_case(args, body: bytes, headers: dict) -> None:
    attacker_cpus = set(args.attacker_cpus) or None
    if attacker_cpus:  # the server (a child) and the normal client inherit the rest
        os.sched_setaffinity(0, os.sched_getaffinity(0) - attacker_cpus)
    server, url = start_server(args.workers, args.open_files)
    try:
        httpx.post(f"{url}/v1/predict", content=body, headers=headers, timeout=60)
        print(f"server: ulimit -n {args.open_files}, workers {args.workers}; CPUs: {os.cpu_count()}, "
              f"server and client on {sorted(os.sched_getaffinity(0))}, attackers on "
              f"{sorted(attacker_cpus) if attacker_cpus else 'the same'}; attackers in their own process; "
              f"load average before: {os.getloadavg()[0]:.1f}\n")  # fmt: skip
        print(
            "| attack | concurrency | p50 ms | p95 ms | p95 / idle p95 | non-2xx | new-connection p95 ms "
            "| server peak RSS MiB | attack answers |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for concurrency in args.concurrency:
            idle = asyncio.run(load(url, body, args.requests, concurrency, headers))
            fresh = fresh_connection_p95(url, body, headers)
            print(f"| none | {concurrency} | {idle['p50']:.0f} | {idle['p95']:.0f} | 1 | {idle['non2xx']} | "
                  f"{fresh:.0f} | {peak_rss_mib(server.pid):.0f} | |", flush=True)  # fmt: skip
            for name in args.attack:
                with Attack(url, name, args.attackers, attacker_cpus) as attack:
                    result = asyncio.run(load(url, body, args.requests, concurrency, headers))
                    fresh = fresh_connection_p95(url, body, headers)
                answers = ", ".join(f"{k}: {v}" for k, v in sorted(attack.answers.items()))
                print(f"| {name} | {concurrency} | {result['p50']:.0f} | {result['p95']:.0f} | "
                      f"{result['p95'] / idle['p95']:.2f} | {result['non2xx']} | {fresh:.0f} | "
                      f"{peak_rss_mib(server.pid):.0f} | {answers} |", flush=True)  # fmt: skip
                time.sleep(2)  # the attackers' sockets are closed
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
