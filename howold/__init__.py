"""howold: find every face in a photo and estimate how old each person looks, with a range; in a
video, follow each person and settle their age.

The public names below are what the frontends (`howold.cli`, `app`, `api`, `batch`) use; everything
else is internal. Each loads on first use, so `import howold` (and `howold --help`) stays light: numpy,
OpenCV and onnxruntime load only when a name that needs them is touched.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

# each public name and the module that defines it
_EXPORTS = {
    # the pipeline and its results
    "Predictor": "howold.pipeline",
    "predict": "howold.pipeline",
    "Face": "howold.pipeline",
    "PhotoResult": "howold.pipeline",
    "failed": "howold.pipeline",
    "analyse_in_processes": "howold.parallel",
    "default_workers": "howold.parallel",
    "WARNINGS": "howold.quality",
    "WARNING_LABELS": "howold.quality",
    "WARNING_NOTES": "howold.quality",
    # videos
    "analyse_video": "howold.video.session",
    "probe_video": "howold.video.session",
    "failed_video": "howold.video.session",
    "VideoResult": "howold.video.session",
    "VideoSession": "howold.video.session",
    "Person": "howold.video.session",
    "TrackedFace": "howold.video.session",
    "VideoOptions": "howold.options",
    "AgeCheck": "howold.options",
    "VIDEO_SUFFIXES": "howold.video.io",
    "is_video": "howold.video.io",
    "looks_like_video": "howold.video.io",
    # its parts
    "AgeModel": "howold.age_model",
    "ModelInfo": "howold.age_model",
    "MetricKey": "howold.age_model",
    "AgeDistribution": "howold.age_model",
    "DEFAULT_MODEL_PATH": "howold.age_model",
    "read_model_info": "howold.age_model",
    "FaceDetector": "howold.detect",
    "Detection": "howold.detect",
    "DetectOptions": "howold.options",
    # inputs, images in and out
    "find_inputs": "howold.inputs",
    "check_outputs": "howold.inputs",
    "IMAGE_SUFFIXES": "howold.io",
    "load_image": "howold.io",
    "save_image": "howold.io",
    "encode_png": "howold.io",
    "annotate": "howold.draw",
    "face_thumbnail": "howold.draw",
    "reading_order": "howold.draw",
    "annotate_tracks": "howold.draw",
    # results as CSV and JSON
    "CSV_COLUMNS": "howold.report",
    "AGE_CHECK_COLUMNS": "howold.report",
    "csv_rows": "howold.report",
    "results_csv": "howold.report",
    "results_json": "howold.report",
    "ResultsFile": "howold.report",
    # errors
    "HowoldError": "howold.errors",
    "ImageError": "howold.errors",
    "ModelError": "howold.errors",
    "NoModelError": "howold.errors",
    "OptionError": "howold.errors",
    "VideoError": "howold.errors",
    "WorkerError": "howold.errors",
    "MissingExtraError": "howold.extras",
    "require_extra": "howold.extras",
    "missing_module": "howold.extras",
    "install_hint": "howold.extras",
}

# the same names, written out for readers and linters (a test checks the two agree)
__all__ = [
    "__version__",
    "Predictor",
    "predict",
    "Face",
    "PhotoResult",
    "failed",
    "analyse_in_processes",
    "default_workers",
    "WARNINGS",
    "WARNING_LABELS",
    "WARNING_NOTES",
    "analyse_video",
    "probe_video",
    "failed_video",
    "VideoResult",
    "VideoSession",
    "Person",
    "TrackedFace",
    "VideoOptions",
    "AgeCheck",
    "VIDEO_SUFFIXES",
    "is_video",
    "looks_like_video",
    "AgeModel",
    "ModelInfo",
    "MetricKey",
    "AgeDistribution",
    "DEFAULT_MODEL_PATH",
    "read_model_info",
    "FaceDetector",
    "Detection",
    "DetectOptions",
    "find_inputs",
    "check_outputs",
    "IMAGE_SUFFIXES",
    "load_image",
    "save_image",
    "encode_png",
    "annotate",
    "face_thumbnail",
    "reading_order",
    "annotate_tracks",
    "CSV_COLUMNS",
    "AGE_CHECK_COLUMNS",
    "csv_rows",
    "results_csv",
    "results_json",
    "ResultsFile",
    "HowoldError",
    "ImageError",
    "ModelError",
    "NoModelError",
    "OptionError",
    "VideoError",
    "WorkerError",
    "MissingExtraError",
    "require_extra",
    "missing_module",
    "install_hint",
]


def __getattr__(name: str):
    if name == "__version__":
        value = _version()
    elif name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'howold' has no attribute {name!r}")
    globals()[name] = value  # the next lookup is an ordinary attribute
    return value


def _version() -> str:
    """The installed distribution's version (pyproject.toml's), read when first asked for: reading
    package metadata costs a third of `howold --help`'s imports."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("howold")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # the same names, for type checkers and editors
    from howold.age_model import (
        DEFAULT_MODEL_PATH,
        AgeDistribution,
        AgeModel,
        MetricKey,
        ModelInfo,
        read_model_info,
    )
    from howold.detect import Detection, FaceDetector
    from howold.draw import annotate, annotate_tracks, face_thumbnail, reading_order
    from howold.errors import HowoldError, ImageError, ModelError, NoModelError, OptionError, VideoError, WorkerError
    from howold.extras import MissingExtraError, install_hint, missing_module, require_extra
    from howold.inputs import check_outputs, find_inputs
    from howold.io import IMAGE_SUFFIXES, encode_png, load_image, save_image
    from howold.options import AgeCheck, DetectOptions, VideoOptions
    from howold.parallel import analyse_in_processes, default_workers
    from howold.pipeline import (
        Face,
        PhotoResult,
        Predictor,
        failed,
        predict,
    )
    from howold.quality import WARNING_LABELS, WARNING_NOTES, WARNINGS
    from howold.report import AGE_CHECK_COLUMNS, CSV_COLUMNS, ResultsFile, csv_rows, results_csv, results_json
    from howold.video.io import VIDEO_SUFFIXES, is_video, looks_like_video
    from howold.video.session import (
        Person,
        TrackedFace,
        VideoResult,
        VideoSession,
        analyse_video,
        failed_video,
        probe_video,
    )
