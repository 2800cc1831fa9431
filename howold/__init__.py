"""howold: find every face in a photo and estimate how old each person looks, with a range."""

from howold.age_model import AgeModel, ModelInfo
from howold.detect import Detection, FaceDetector
from howold.errors import HowoldError, ImageError, ModelError, NoModelError
from howold.io import load_image
from howold.pipeline import Face, Predictor, predict

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
    "Predictor",
    "__version__",
    "load_image",
    "predict",
]
