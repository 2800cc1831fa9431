"""The one place that creates onnxruntime sessions."""

from __future__ import annotations

import os

from howold.errors import ModelError


def create_session(model: bytes | str | os.PathLike, threads: int | None = None, label: str = "model"):
    """Return an onnxruntime CPU InferenceSession for a model file or its bytes."""
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
