"""A batch job on Ray Data: many photos and videos in, one Parquet table of faces out, safe to kill
and resume. A video gives one row per person (as `howold predict clip.mp4 --csv` does).

Each Ray actor builds and prepares one `Predictor`, so the models load once per worker. Every
photo gives rows shaped like `howold predict --csv` (one per face, or one for a photo without a
face or with an error), plus the landmarks, the photo size and the model name. The driver writes
the rows of each finished batch as one Parquet part file, committed by an atomic rename, into
`<out>.parts/`; at the end the parts are merged into the single file `<out>` and removed. A
killed job leaves only whole parts behind, so `resume=True` skips exactly the photos already
written.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import ray
import ray.data
import ray.exceptions

from howold import (
    AGE_CHECK_COLUMNS,
    CSV_COLUMNS,
    DEFAULT_MODEL_PATH,
    AgeCheck,
    DetectOptions,
    HowoldError,
    PhotoResult,
    Predictor,
    VideoResult,
    analyse_video,
    csv_rows,
    failed,
    failed_video,
    is_video,
)
from howold.files import check_regular

_INT_COLUMNS = {"face", "width", "height", "person", "frames", "faces_dropped"}
_FLOAT_COLUMNS = {
    "age",
    "age_low",
    "age_high",
    "score",
    "x1",
    "y1",
    "x2",
    "y2",
    "first_seen",
    "last_seen",
    "time",
    "over",
    "p_over",
    "challenge",
    "p_challenge",
}

SCHEMA = pa.schema(
    [
        (name, pa.int32() if name in _INT_COLUMNS else pa.float64() if name in _FLOAT_COLUMNS else pa.string())
        for name in CSV_COLUMNS
    ]
    + [
        ("landmarks", pa.list_(pa.list_(pa.float64(), 2))),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("model", pa.string()),
    ]
    # a photo's faces with an age check (run_batch's `check`): as the CSV's; null otherwise
    + [(name, pa.float64() if name in _FLOAT_COLUMNS else pa.string()) for name in AGE_CHECK_COLUMNS]
    # with `distribution`: the face's calibrated age distribution, probs[i] for the age ages[i]; null otherwise
    + [("distribution_ages", pa.list_(pa.int32())), ("distribution_probs", pa.list_(pa.float64()))]
)


@dataclass(frozen=True)
class BatchSummary:
    """What a run did: photos analysed now, photos skipped as already written, and the row counts."""

    out: Path
    photos: int
    skipped: int
    faces: int
    no_face: int
    errors: int
    seconds: float
    nodes: tuple[int, ...] = ()  # photos analysed on each Ray node, most first

    @property
    def photos_per_second(self) -> float:
        return self.photos / self.seconds if self.seconds > 0 else 0.0


# ------------------------------------------------------------------------------------------ rows


def result_rows(
    result: PhotoResult | VideoResult, check: AgeCheck | None = None, distribution: bool = False
) -> list[dict[str, Any]]:
    """Return a photo's or a video's Parquet rows: the `howold predict --csv` row(s) plus landmarks
    (photos only) and size; a photo's faces with the answer to `check` and, with `distribution`,
    their age distribution."""
    rows = csv_rows([result], check=check)
    faces = getattr(result, "faces", ()) or (None,) * len(rows)
    for row, face in zip(rows, faces):
        if distribution and face is not None and face.distribution is not None:
            row["distribution_ages"] = list(face.distribution.ages)
            row["distribution_probs"] = list(face.distribution.probs)
        row["error"] = row.get("error") or None
        row["landmarks"] = face.to_dict()["landmarks"] if face is not None else None
        row["width"] = result.width if result.ok else None
        row["height"] = result.height if result.ok else None
        row["model"] = result.model
    return rows


def rows_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """Return rows as a table with the batch schema; missing values are nulls."""
    return pa.Table.from_pylist(list(rows), schema=SCHEMA)


def _predictor(model: str | None, options: DetectOptions, threads: int) -> Predictor:
    """The Predictor of one actor: `model` None takes the model shipped with howold on that worker."""
    return Predictor(DEFAULT_MODEL_PATH if model is None else model, options, threads=threads)


class Analyser:
    """The Ray actor: builds and prepares one Predictor, then turns batches of paths into rows.

    A batch holds `source` (the name written to the output) and `path` (where the worker reads
    the file). The output has one entry per photo: its source and its rows as JSON, so that a
    photo's rows always travel, and are written, together.
    """

    def __init__(
        self,
        model: str | None,
        options: DetectOptions,
        threads: int,
        check: AgeCheck | None = None,
        distribution: bool = False,
    ) -> None:
        self.predictor = _predictor(model, options, threads).prepare()
        self.check, self.distribution = check, distribution

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        sources = [str(s) for s in batch["source"]]
        rows = [json.dumps(self.rows(path, source)) for path, source in zip(batch["path"], sources)]
        node = ray.get_runtime_context().get_node_id()
        return {"source": sources, "rows": rows, "node": [node] * len(sources)}

    def rows(self, path: str, source: str) -> list[dict[str, Any]]:
        video = is_video(path)
        result: PhotoResult | VideoResult
        try:
            if video:
                check_regular(path, source)  # the video decoder opens the path itself: no FIFO, no device
                result = analyse_video(self.predictor, str(path), name=source)
            else:
                result = self.predictor.analyse(str(path), name=source)
        except HowoldError as exc:  # check_regular's: the readers give a result with its error instead
            result = VideoResult(source=source, error=str(exc)) if video else PhotoResult(source, error=str(exc))
        except Exception as exc:  # a file that trips a library bug must not stop the job
            result = failed_video(source, exc) if video else failed(source, exc)
        return result_rows(result, self.check, self.distribution)


# ---------------------------------------------------------------------------------------- output


class PartsOutput:
    """The output file `out` and its folder of committed parts, `<out>.parts/`."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = Path(out)
        self.parts = self.out.with_name(self.out.name + ".parts")
        self._next = 0

    def open(self, resume: bool) -> set[str]:
        """Get ready to write; return the sources already written (empty unless `resume`)."""
        if self.out.is_dir():
            raise HowoldError(f"{self.out}: is a folder; --out must name a Parquet file.")
        if self.parts.exists() and not resume:
            raise HowoldError(
                f"{self.parts}: holds the parts of an unfinished run; "
                "pass --resume to continue it, or delete the folder to start again."
            )
        try:
            self.parts.mkdir(parents=True, exist_ok=True)
            for stale in self.parts.glob(".*.tmp"):  # a part cut short by a kill
                stale.unlink()
        except OSError as exc:
            raise HowoldError(f"{self.parts}: cannot create the parts folder ({exc.strerror or exc}).") from exc
        done: set[str] = set()
        if resume:
            for path in self._committed(include_out=True):
                done.update(map(canonical, pq.read_table(path, columns=["source"]).column("source").to_pylist()))
        self._next = max((int(p.stem.split("-")[1]) for p in self._part_files()), default=-1) + 1
        return done

    def write(self, rows: Sequence[dict[str, Any]]) -> Path:
        """Commit rows as the next part file: written aside, flushed, then renamed into place."""
        final = self.parts / f"part-{self._next:06d}.parquet"
        temporary = self.parts / f".{final.name}.tmp"
        self._next += 1
        pq.write_table(rows_table(rows), temporary)
        _fsync(temporary)
        os.replace(temporary, final)
        _fsync(self.parts)
        return final

    def merge(self, resume: bool) -> None:
        """Write `out` from the earlier output (with `resume`) and every part, then drop the parts.

        A photo already seen in an earlier file is not copied twice, so a merge cut short at any
        point is safe to run again.
        """
        temporary = self.out.with_name(f".{self.out.name}.tmp")
        seen: set[str] = set()
        try:
            with pq.ParquetWriter(temporary, SCHEMA) as writer:
                for path in self._committed(include_out=resume):
                    table = pq.read_table(path, schema=SCHEMA)
                    sources = [canonical(source) for source in table.column("source").to_pylist()]
                    if seen:
                        table = table.filter(pa.array([source not in seen for source in sources]))
                    writer.write_table(table)
                    seen.update(sources)
            _fsync(temporary)
            os.replace(temporary, self.out)
        except BaseException:  # a full disk must not keep a half-written copy on it
            temporary.unlink(missing_ok=True)
            raise
        shutil.rmtree(self.parts)

    def _committed(self, include_out: bool) -> list[Path]:
        earlier = [self.out] if include_out and self.out.is_file() else []
        return earlier + self._part_files()

    def _part_files(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.parquet")) if self.parts.is_dir() else []


@functools.lru_cache(maxsize=1 << 16)
def canonical(path: str) -> str:
    """A photo's identity in a batch: its folder's resolved path (absolute; `..`, `.` and symlinks
    resolved) and its own name, so that `in/a.jpg`, `$PWD/in/a.jpg` and `in/../in/a.jpg` are one
    photo, analysed and written once. The name itself is kept: a link named `clip.mp4` stays a video."""
    folder, name = os.path.split(path)
    return os.path.join(os.path.realpath(folder or "."), name)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------------- ray


def start_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to the Ray cluster at `address` (or $RAY_ADDRESS), else start a quiet local one.

    Returns True when this call started Ray (the caller then shuts it down). Does nothing and
    returns False when Ray is already initialised in this process.
    """
    if ray.is_initialized():
        return False
    address = _cluster_address(address)
    quiet: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    # Ray starts a worker process per CPU for tasks when the first driver connects; the job runs only actors,
    # which get processes of their own, and those idle workers took the two cores while the actors were
    # starting: a 4-photo job with 2 actors took 9.2 / 9.0 s with them, 7.9 / 7.2 s without (alternating runs)
    no_idle_workers = {"prestart_worker_first_driver": False}
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        else:
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1, _system_config=no_idle_workers, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HowoldError(f"cannot start or reach {where} ({first}).") from exc
    _quiet_ray_data()
    return True


def _quiet_ray_data() -> None:
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    if hasattr(context, "print_on_execution_start"):
        context.print_on_execution_start = False


def _shutdown_ray() -> None:
    """Stop the Ray this job started, and keep anything cleaned up later from starting another
    (Ray starts a local instance on any call made after shutdown, and that one never exits)."""
    ray.shutdown()
    try:
        from ray._private import auto_init_hook

        auto_init_hook.enable_auto_connect = False
    except (ImportError, AttributeError):  # a Ray without the hook: nothing to turn off
        pass


def cluster_cpus() -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


# ------------------------------------------------------------------------------------------- job


def run_batch(
    photos: Sequence[str],
    out: str | os.PathLike,
    *,
    resume: bool = False,
    actors: int | None = None,
    cpus_per_actor: int = 1,
    batch_size: int = 32,
    model: str | os.PathLike | None = None,
    options: DetectOptions | None = None,
    ray_address: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    check: AgeCheck | None = None,
    distribution: bool = False,
    quiet: bool = False,
) -> BatchSummary:
    """Analyse `photos` on Ray and write their rows to the Parquet file `out`; return a summary.

    `actors` Predictors run at once, each on `cpus_per_actor` CPUs (default: as many actors as
    the cluster has CPUs). `model`: an ONNX age model (None: the one shipped with howold, found on
    each worker); `options`: how faces are found (`DetectOptions`). Ray starts locally unless
    `ray_address` or $RAY_ADDRESS names a cluster, or Ray is already initialised. `on_progress(n)`
    is called as n more photos are done (first with those skipped as already written). `check`
    and `distribution` add the age check's columns and the age distribution to the photos' face
    rows (see SCHEMA). With `quiet`, what Ray writes to stderr while the job runs goes to
    `<out>.parts/.ray-stderr.log` instead (kept when the job fails).
    """
    if batch_size < 1 or cpus_per_actor < 1 or (actors is not None and actors < 1):
        raise HowoldError("--actors, --cpus-per-actor and --batch-size must be at least 1.")
    if not photos:
        raise HowoldError("no image files found in the given paths.")
    model = None if model is None else str(Path(model).resolve())  # absolute: workers may start elsewhere
    options = DetectOptions() if options is None else options
    _predictor(model, options, cpus_per_actor)  # a wrong model path fails here, before Ray starts
    started = time.perf_counter()
    output = PartsOutput(out)
    done = output.open(resume)
    photos = list(dict.fromkeys(map(canonical, photos)))  # each photo once, however its path was spelled
    todo = [p for p in photos if p not in done]
    counts = {"ok": 0, "no_face": 0, "error": 0}
    per_node: dict[str, int] = {}
    if on_progress and len(todo) < len(photos):
        on_progress(len(photos) - len(todo))
    if todo:
        with _stderr_to(output.parts / ".ray-stderr.log" if quiet else None):
            work = _RayWork(actors, cpus_per_actor, batch_size, model, options, ray_address, check, distribution)
            _run_on_ray(work, todo, output, counts, per_node, on_progress)
    try:
        output.merge(resume)
    except OSError as exc:
        raise HowoldError(
            f"{output.out}: cannot write the merged results ({exc.strerror or exc}); every photo is kept "
            f"in {output.parts}, so free the space and run the same command with --resume."
        ) from exc
    return BatchSummary(
        out=output.out,
        photos=len(todo),
        skipped=len(photos) - len(todo),
        faces=counts["ok"],
        no_face=counts["no_face"],
        errors=counts["error"],
        seconds=time.perf_counter() - started,
        nodes=tuple(sorted(per_node.values(), reverse=True)),
    )


@dataclass(frozen=True)
class _RayWork:
    """How `run_batch` analyses on Ray: the actor pool, each actor's model and options, what each row carries."""

    actors: int | None
    cpus_per_actor: int
    batch_size: int
    model: str | None
    options: DetectOptions
    ray_address: str | None
    check: AgeCheck | None
    distribution: bool


def _run_on_ray(
    work: _RayWork,
    todo: list[str],
    output: PartsOutput,
    counts: dict[str, int],
    per_node: dict[str, int],
    on_progress: Callable[[int], None] | None,
) -> None:
    """Analyse `todo` on Ray, committing each finished batch to `output` and counting its rows and
    the photos each Ray node ran (`per_node`)."""
    local_cpus = max(os.cpu_count() or 1, (work.actors or 1) * work.cpus_per_actor)
    started_ray = start_ray(work.ray_address, num_cpus=local_cpus)
    written = 0
    batches = _analyse_on_ray(work, todo)
    try:
        with _terminate_as_interrupt():
            for rows, nodes in batches:
                for node in nodes:
                    per_node[node] = per_node.get(node, 0) + 1
                _write(output, [row for photo in rows for row in photo], written)
                written += len(rows)
                for photo in rows:
                    for row in photo:
                        counts[row["status"]] += 1
                if on_progress:
                    on_progress(len(rows))
    except ray.exceptions.RayError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HowoldError(
            f"the Ray job failed ({first}); the {written} photo(s) finished are kept in "
            f"{output.parts}, so run the same command with --resume to continue."
        ) from exc
    finally:
        batches.close()  # Ray Data's iterator must clean up while Ray still runs, or it starts a new Ray
        if started_ray:
            _shutdown_ray()


@contextmanager
def _stderr_to(path: Path | None) -> Iterator[None]:
    """Point file descriptor 2 at `path` (None: leave it), for what Ray's processes write there: its
    core worker logs errors to stderr whatever the log level, and ray 2.60 logs one for every actor
    Ray Data builds (ray-project/ray#53727)."""
    if path is None:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _write(output: PartsOutput, rows: list[dict[str, Any]], written: int) -> None:
    """Commit one part; a full disk or a folder made read-only ends the job with one sentence."""
    try:
        output.write(rows)
    except OSError as exc:
        raise HowoldError(
            f"{output.parts}: cannot write the results ({exc.strerror or exc}); the {written} photo(s) "
            "written so far are kept, so fix that and run the same command with --resume."
        ) from exc


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl+C while the job runs, so that it stops cleanly with Ray shut down
    (Ray's own handler would print a C++ stack trace and leave its processes behind)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cluster_address(address: str | None) -> str | None:
    return address or os.environ.get("RAY_ADDRESS") or None


def _analyse_on_ray(work: _RayWork, todo: list[str]):
    """Yield, per finished batch, one list of rows per photo and the Ray node id each photo ran on."""
    size = work.actors or max(1, cluster_cpus() // work.cpus_per_actor)
    items = [{"source": source, "path": source} for source in todo]  # canonical paths: absolute already
    dataset = ray.data.from_items(items).map_batches(
        Analyser,
        fn_constructor_kwargs={
            "model": work.model,
            "options": work.options,
            "threads": work.cpus_per_actor,
            "check": work.check,
            "distribution": work.distribution,
        },
        compute=ray.data.ActorPoolStrategy(size=size),
        num_cpus=work.cpus_per_actor,
        batch_size=work.batch_size,
        batch_format="numpy",
    )
    batches = dataset.iter_batches(batch_size=None, batch_format="numpy")
    try:
        for batch in batches:
            yield [json.loads(text) for text in batch["rows"]], [str(node) for node in batch["node"]]
    finally:  # however the loop ends (a write error, Ctrl+C), clean up while Ray still runs
        getattr(batches, "close", lambda: None)()


def print_summary(summary: BatchSummary, file=sys.stderr) -> None:
    skipped = f", {summary.skipped} skipped as already written" if summary.skipped else ""
    nodes = ""
    if len(summary.nodes) > 1:
        nodes = f" on {len(summary.nodes)} Ray nodes ({' + '.join(str(n) for n in summary.nodes)})"
    print(
        f"howold batch: {summary.photos} photo(s) in {summary.seconds:.1f} s "
        f"({summary.photos_per_second:.1f}/s){nodes}{skipped}: {summary.faces} face row(s), "
        f"{summary.no_face} without a face, {summary.errors} error(s) -> {summary.out}",
        file=file,
    )
