"""The one place that creates onnxruntime sessions."""

from __future__ import annotations

import os

from howold.errors import ModelError


def create_session(
    model: bytes | str | os.PathLike, threads: int | None = None, label: str = "model", one_thread_up_to: int = 0
):
    """Return an onnxruntime CPU InferenceSession for a model file or its bytes, on `threads` intra-op
    threads (None: onnxruntime's default, one per core). With `one_thread_up_to` and more than one
    thread, a `SizedSession`: inputs of at most that many elements run on a second session of one thread."""
    many = _session(model, threads, label)
    if not one_thread_up_to or threads == 1:
        return many
    return SizedSession(_session(model, 1, label), many, one_thread_up_to)


class SizedSession:
    """One model in two sessions: a run whose inputs hold at most `up_to` elements goes to `one`, on a
    single intra-op thread, the rest to `many`. Splitting a small network's run over threads that
    sleep between nodes (spinning off, below) buys no time and costs CPU: RetinaFace on a 200x200 photo
    took 2.19 ms wall and CPU on one thread, 2.29 ms wall and 3.34 ms CPU on two, while a 1280x1280
    detection took 87.3 against 47.9 ms wall (python benchmarks/bench_threads.py; the crossovers are
    the detector's and the age model's own). Everything but `run` is `many`'s."""

    def __init__(self, one, many, up_to: int) -> None:
        self.one, self.many, self.up_to = one, many, up_to

    def run(self, output_names, input_feed, run_options=None):
        size = sum(getattr(value, "size", 0) for value in input_feed.values())
        session = self.one if size <= self.up_to else self.many
        return session.run(output_names, input_feed, run_options)

    def __getattr__(self, name: str):
        return getattr(self.many, name)


def _session(model: bytes | str | os.PathLike, threads: int | None, label: str):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Idle intra-op threads spin by default, waiting for the next node: on howold's small networks that
    # burns CPU time the run does not use. Off (with the framings in one run and blur measured once), 300
    # UTKFace chips took 0.43x the CPU per photo at 2 threads, the same faces on all 401 photos tried:
    # python benchmarks/bench_against.py <main checkout> --outputs. Off, the threads sleep between nodes.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    source = model if isinstance(model, bytes) else os.fspath(model)
    try:
        return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"{label}: not a valid ONNX model ({str(exc).splitlines()[0][:200]}).") from exc
