"""Photos analysed in several processes at once, results in the order given: what `howold predict
--workers N` runs. Each process holds its own `Predictor` on one onnxruntime thread, so N
processes use N cores without their threads contending (one process with N intra-op threads
spends CPU in hand-offs between them: on UTKFace chips 17.2 ms of CPU a photo at 2 threads
against 13 ms at 1, `python benchmarks/bench_against.py`).

Videos are not handled here: a clip's frames depend on each other (tracking), so a clip stays in
one process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from howold.errors import HowoldError, WorkerError
from howold.options import DetectOptions
from howold.pipeline import PhotoResult, Predictor, failed

# photos handed to a process at a time: fewer round trips between processes, while a slow photo
# holds up at most this many results behind it
CHUNK = 4

# `howold predict` without --workers: a process per CPU, at most AUTO_MAX_WORKERS, for runs of at
# least AUTO_MIN_PHOTOS photos. Two processes read 2,000 UTKFace chips at 147.8 photos/s against 70.6
# for one on 2 cores, and each costs about 1.5 s to start (benchmarks/bench_batch.py), paid back after
# about 100 photos; each holds its own models (about 150 MB), hence the cap.
AUTO_MIN_PHOTOS = 100
AUTO_MAX_WORKERS = 4

_predictor: Predictor | None = None  # each worker process's own


def default_workers(photos: int) -> int:
    """The processes `howold predict` uses for `photos` photos when --workers is not given."""
    return max(1, min(os.cpu_count() or 1, AUTO_MAX_WORKERS)) if photos >= AUTO_MIN_PHOTOS else 1


def analyse_in_processes(
    paths: Iterable[str | os.PathLike],
    model: str | os.PathLike | None,
    options: DetectOptions,
    workers: int,
) -> Iterator[PhotoResult]:
    """Each photo's `Predictor.analyse` result, in the order of `paths`, from `workers` processes
    (one onnxruntime thread each; at most one per photo), started when the first result is asked
    for. A photo that trips a bug gives its error, like any bad photo. A worker that dies (killed, out
    of memory) costs only the photos it held, which are read again; a photo that stops its worker
    every time gets that as its error, and workers that cannot run at all end the iteration with a
    WorkerError. Closing the iterator early (or Ctrl-C) stops the processes; photos not yet begun are
    dropped. `workers` outside 1 to 8 per CPU is a HowoldError, at once."""
    most = 8 * (os.cpu_count() or 1)
    if not 1 <= workers <= most:
        raise HowoldError(f"--workers must be between 1 and {most} (8 per CPU here), got {workers}.")
    return _results([str(path) for path in paths], model, options, workers)


def _results(paths: list[str], model, options: DetectOptions, workers: int) -> Iterator[PhotoResult]:
    """The photos' results in order. When a worker dies, the photos it may have held (a chunk per worker
    after the last result given) are read again one at a time in a single process, so that a photo that
    stops its worker every time is known and gets its error, and the rest go on in the pool."""
    done = 0
    while done < len(paths):
        pool = _pool(min(workers, len(paths) - done), model, options)
        try:
            for result in pool.map(_analyse, paths[done:], chunksize=CHUNK):
                yield result
                done += 1
        except BrokenProcessPool:
            pool.shutdown(wait=True)
            with contextlib.closing(_one_at_a_time(paths[done : done + workers * CHUNK], model, options)) as alone:
                for result in alone:
                    yield result
                    done += 1
        except BaseException:  # closed early or Ctrl-C: the photos not yet begun are dropped
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        else:
            pool.shutdown(wait=True)


def _one_at_a_time(paths: list[str], model, options: DetectOptions) -> Generator[PhotoResult, None, None]:
    """Each photo analysed alone in a single worker process; a photo whose worker dies gets that as its
    error. Two photos in a row that each stop a fresh worker mean the workers cannot run at all: WorkerError."""
    pool, stopped = None, 0
    try:
        for path in paths:
            pool = pool or _pool(1, model, options)
            try:
                result = pool.submit(_analyse, path).result()
                stopped = 0
            except BrokenProcessPool as exc:
                pool.shutdown(wait=True)
                pool, stopped = None, stopped + 1
                if stopped == 2:
                    raise WorkerError("worker processes keep stopping (killed, or out of memory)") from exc
                result = PhotoResult(source=path, error=f"{path}: analysing it stopped its worker process "
                                     "(killed, or out of memory).")  # fmt: skip
            yield result
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _pool(processes: int, model, options: DetectOptions) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("spawn")  # no fork of a process holding onnxruntime's threads
    return ProcessPoolExecutor(max(1, processes), mp_context=context, initializer=_start, initargs=(model, options))


def _start(model: str | os.PathLike | None, options: DetectOptions) -> None:
    global _predictor
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle, once
    _predictor = Predictor(model, options, threads=1).prepare()


def _analyse(path: str) -> PhotoResult:
    assert _predictor is not None
    try:
        return _predictor.analyse(Path(path))
    except Exception as exc:  # a photo that trips a bug must not stop the others
        return failed(path, exc)
