"""Connection limits in front of the app: a deadline for request headers and a cap on open connections.

uvicorn (0.54, h11) closes an idle keep-alive connection after `--timeout-keep-alive`, but a
connection that has not yet sent a whole request head has no deadline at all, and
`--limit-concurrency` only answers 503 once a request head has arrived. So sockets that connect
and send nothing, or half a request line, stayed open for 75 s and more, and 1,100 of them at
`ulimit -n 1024` took every file descriptor (EMFILE), locking every client out. `GuardedH11Protocol`
is uvicorn's h11 protocol with both limits added where the connection is made:

* each request head (the first, and each next one on a keep-alive connection) must be complete
  within `header_timeout_s`, or the connection gets a 408 sentence and is closed;
* at most `max_connections` are open; at the cap a new connection pushes out the open one that
  has waited longest for its request head (so a flood of idle sockets cannot keep a real client
  out), and only when every open connection is busy with a request is the new one refused (503).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import resource
import time
from dataclasses import dataclass

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("howold.api")

# file descriptors kept free of connections for what the process opens later (worker threads' wake-up
# pipes, onnxruntime's cache, log files); a server with its models loaded holds about 12
RESERVED_FILES = 32
# connections asyncio may accept in one go (uvicorn's `backlog`, also the listen queue): they hold
# their descriptors for up to three loop turns (accepted, made and pushing out an old one, closed),
# so the cap leaves room for four bursts; with room for two, 1,100 reconnecting sockets at
# `ulimit -n 1024` still ran out. A short queue also keeps a flood's surplus connections waiting in
# the kernel (their clients resend the SYN after a second) instead of each buying a connection, a
# push-out and a close on the event loop: 1,100 slow-head sockets with the cap at `ulimit -n 1024`
# (python benchmarks/bench_api.py --attack slow-heads --attacker-cpus 1) drew 24,686 / 4,577 / 558
# refusals at a backlog of 64 / 16 / 8, and normal requests' p95 rose 2.09 / 1.55 / 1.29 times. uvicorn's
# default backlog of 2048 alone would take every descriptor there.
MAX_BACKLOG = 8
BURSTS = 4


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float
    max_connections: int
    backlog: int = MAX_BACKLOG


def fit_to_open_files(header_timeout_s: float, wanted: int) -> ConnectionLimits:
    """The limits for `wanted` connections, fewer when the open-files limit (`ulimit -n`) would run
    out first: the descriptors open now, `RESERVED_FILES` and `BURSTS` accept bursts stay free."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return ConnectionLimits(header_timeout_s, wanted)
    backlog = max(8, min(MAX_BACKLOG, soft // 8))
    open_now = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else RESERVED_FILES
    room = soft - open_now - RESERVED_FILES - BURSTS * backlog
    return ConnectionLimits(header_timeout_s, max(1, min(wanted, room)), backlog)


def guarded_protocol(limits: ConnectionLimits):
    """The protocol factory to pass to uvicorn as `http=` (picklable, for `--workers`)."""
    return functools.partial(GuardedH11Protocol, limits=limits)


def _waiting_queue(server_state) -> dict:
    """The server's queue of connections waiting for a request head, made on its first connection."""
    queue = getattr(server_state, "howold_waiting", None)
    if queue is None:
        queue = server_state.howold_waiting = {}
    return queue


def _answer(status: str, detail: str, extra: str = "") -> bytes:
    body = json.dumps({"detail": detail}).encode()
    head = (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"{extra}connection: close\r\n\r\n")  # fmt: skip
    return head.encode("latin-1") + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head deadline and a cap on open connections."""

    def __init__(self, config, server_state, app_state=None, _loop=None, *, limits: ConnectionLimits) -> None:
        super().__init__(config, server_state, app_state if app_state is not None else {}, _loop)
        self.limits = limits
        # the server's connections waiting for a request head, longest waiting first (a dict as an ordered
        # set, shared by every connection of the server): finding the one to push out is then one step, not
        # a pass over every open connection, which a flood of ~2,500 connections a second made on each one
        self.queue: dict[GuardedH11Protocol, None] = _waiting_queue(server_state)
        self.waiting_since: float | None = None  # set while no request head is being answered
        self.head_deadline: asyncio.TimerHandle | None = None
        self.answered = False  # a response has been sent on this connection

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._wait_for_head()
        if len(self.connections) > self.limits.max_connections:
            self._make_room()

    def connection_lost(self, exc) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request head arrived
            self._stop_waiting()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.answered = True
        if not self.transport.is_closing():
            self._wait_for_head()

    def _wait_for_head(self) -> None:
        self._stop_waiting()
        self.waiting_since = time.monotonic()
        self.queue[self] = None
        self.head_deadline = self.loop.call_later(self.limits.header_timeout_s, self._head_too_late)

    def _stop_waiting(self) -> None:
        self.waiting_since = None
        self.queue.pop(self, None)
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    @property
    def waiting(self) -> bool:
        """Whether the connection is open with no request being answered (idle or sending a head)."""
        answering = self.cycle is not None and not self.cycle.response_complete
        return self.waiting_since is not None and not answering and not self.transport.is_closing()

    def _head_too_late(self) -> None:
        self.head_deadline = None
        if not self.waiting:
            return
        seconds = self.limits.header_timeout_s
        self._close(_answer("408 Request Timeout", f"The request headers did not arrive within {seconds:g} s."))

    def _make_room(self) -> None:
        oldest = self._longest_waiting()
        if oldest is not None:
            oldest._close(_answer("503 Service Unavailable", "The server closed this idle connection to make room."))
            return
        cap = self.limits.max_connections
        log.warning("%d connections are busy with requests; refused a new one", cap)
        self._close(_answer("503 Service Unavailable", f"The server has {cap} connections busy; retry shortly.",
                            "retry-after: 1\r\n"))  # fmt: skip

    def _longest_waiting(self) -> GuardedH11Protocol | None:
        """The open connection that has waited longest for its request head, other than this one."""
        return next((c for c in self.queue if c is not self and c.waiting), None)

    def _close(self, answer: bytes) -> None:
        """Close the connection, first sending `answer` unless it is an idle keep-alive one (closed
        silently, or its client would read `answer` as the response to its next request)."""
        self._stop_waiting()
        self.connections.discard(self)  # counted out now, not when the close completes
        if self.conn.trailing_data[0] or not self.answered:
            self.transport.write(answer)
        self.transport.close()
