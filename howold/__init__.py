"""howold: find every face in a photo and estimate how old each person looks, with a range."""

from howold.age_model import AgeModel, ModelInfo
from howold.detect import Detection, FaceDetector
from howold.errors import HowoldError, ImageError, ModelError, NoModelError, VideoError
from howold.inputs import find_inputs
from howold.io import load_image
from howold.pipeline import Face, PhotoResult, Predictor, predict
from howold.video import (
    Person,
    TrackedFace,
    VideoOptions,
    VideoResult,
    VideoSession,
    analyse_video,
    probe_video,
)
from howold.video_io import is_video, looks_like_video

__version__ = "0.1.0"

__all__ = [
    "AgeModel",
    "Detection",
    "Face",
    "FaceDetector",
    "HowoldError",
    "ImageError",
    "ModelError",
    "ModelInfo",
    "NoModelError",
    "Person",
    "PhotoResult",
    "Predictor",
    "TrackedFace",
    "VideoError",
    "VideoOptions",
    "VideoResult",
    "VideoSession",
    "__version__",
    "analyse_video",
    "find_inputs",
    "is_video",
    "load_image",
    "looks_like_video",
    "predict",
    "probe_video",
]
