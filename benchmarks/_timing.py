"""Timing helpers shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time


def median_ms(function, repeats: int) -> float:
    """Return the median wall time of `function()` in milliseconds, after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def best_ms(function, repeats: int) -> dict[str, float]:
    """The least CPU (process) and wall ms of `repeats` calls of `function()`, after one warm-up call."""
    function()
    cpu, wall = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        function()
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
    return {"cpu": min(cpu), "wall": min(wall)}
