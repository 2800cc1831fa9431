"""How far to trust an age: the measures of a face's crop (sharpness, colour, exposure), their
thresholds, and the warnings they raise with the words and sentences every frontend shows.

`quality_warnings` names a photo's faults for one face, `age_warnings` what the estimate itself
says (a child, an elderly face, a wide range); photos (`howold.pipeline`) and video persons
(`howold.video.session`) take both from here.
"""

from __future__ import annotations

import cv2
import numpy as np

# Thresholds behind Face.warnings.
SMALL_FACE_PX = 48  # short side of the face box, in pixels of the photo
# variance of the Laplacian of the grey crop (sharper faces score higher); below 18 are the blurriest 10%
# of UTKFace val crops, whose MAE is 1.4x the rest (6.5 vs 4.5 years): scripts/blur_threshold.py
BLUR_VARIANCE = 18.0
BLUR_SIDE = 128  # crops are measured at this size, whatever the model's crop size
# mean |R-G| + |G-B| of the crop in grey levels: a greyscale photo gives 0; of 500 UTKFace chips 6 fall below
# 3 (themselves grey), the 5th percentile is 29
GREY_SPREAD = 3.0
# share of the crop's pixels burnt black or white (grey level <= 5 or >= 250): above 0.2 are 0.36% of
# UTKFace + AAF val crops (16 of 4,457), whose MAE was 1.5x the rest with model 0.3.0 (8.6 vs 5.7 years,
# coverage 0.56); from 0.05 to 0.15 it is no higher. Model 0.4.0 reads those 16 well (4.2 vs 4.9), but the
# val crops over-exposed (x3 +40) double its MAE (9.9; 98% flagged) and under-exposed (x0.3 -20) raise
# it to 6.1 (30% flagged): scripts/light_threshold.py
CLIPPED_SHARE = 0.2
CLIPPED_LEVELS = (5, 250)
CHILD_AGE = 13  # below this the estimate is weaker (as it is for every age model)
ELDERLY_AGE = 70
WIDE_RANGE_YEARS = 25.0  # width of the 80% range

# Why to trust an estimate less: each warning's name, a few words for tables and one plain sentence,
# the words the web page, the CLI and the README all use.
WARNING_LABELS = {
    "small_face": "small face",
    "blurry": "blurry",
    "greyscale": "greyscale",
    "poor_light": "poor light",
    "child": "child",
    "elderly": "elderly",
    "low_confidence": "low confidence",
}
WARNING_NOTES = {
    "small_face": f"The face is less than {SMALL_FACE_PX} pixels across, too small to show much of its age.",
    "blurry": "The face is blurry; blurry faces get less accurate ages.",
    "greyscale": "The photo has no colour (an old print or scan?); such photos get less accurate ages.",
    "poor_light": (
        "Much of the face is burnt white or lost in black (hard light or a bad exposure); "
        "such faces get less accurate ages."
    ),
    "child": f"The face looks younger than {CHILD_AGE}; every age model is less accurate for children.",
    "elderly": f"The face looks {ELDERLY_AGE} or older; every age model is less accurate for older people.",
    "low_confidence": (
        f"The model is unsure: its 80% age range spans more than {WIDE_RANGE_YEARS:.0f} years "
        "(a red box on the photo; a yellow box is an ordinary estimate)."
    ),
}
WARNINGS = tuple(WARNING_NOTES)
# the photo's own faults: a face with any of them is "poor" and its range takes the model's temperature_poor
QUALITY_WARNINGS = ("small_face", "blurry", "greyscale", "poor_light")
# faults of the whole photo rather than of one face: when every face carries one, tables and galleries name
# it once for the photo (`PhotoResult.photo_warnings`); JSON and CSV keep it on each face, for programs
PHOTO_WARNINGS = ("greyscale",)


def quality_warnings(width: float, height: float, crop: np.ndarray | None, sharpness: float | None = None) -> list[str]:
    """The photo's faults that make the age of a face `width` x `height` pixels with this crop less
    sure (QUALITY_WARNINGS); `sharpness`, the crop's `blur_variance` when the caller has it already."""
    warnings = ["small_face"] if min(width, height) < SMALL_FACE_PX else []
    if crop is None:
        return warnings
    if (blur_variance(crop) if sharpness is None else sharpness) < BLUR_VARIANCE:
        warnings.append("blurry")
    if colour_spread(crop) < GREY_SPREAD:
        warnings.append("greyscale")
    if clipped_share(crop) > CLIPPED_SHARE:
        warnings.append("poor_light")
    return warnings


def colour_spread(crop: np.ndarray) -> float:
    """Mean |R - G| + |G - B| over the crop, in grey levels: about 0 for a greyscale photo."""
    rgb = crop.astype(np.int16)
    return float(np.abs(rgb[..., 0] - rgb[..., 1]).mean() + np.abs(rgb[..., 1] - rgb[..., 2]).mean())


def clipped_share(crop: np.ndarray) -> float:
    """Share of the crop's pixels burnt black or white (grey level at or beyond CLIPPED_LEVELS)."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    dark, bright = CLIPPED_LEVELS
    return float(np.count_nonzero((grey <= dark) | (grey >= bright)) / grey.size)


def age_warnings(age: float | None, low: float | None, high: float | None) -> list[str]:
    """What an estimate says of itself: a child, an elderly face, or a range wider than
    WIDE_RANGE_YEARS (the age range only, not the detector's score); none without an age."""
    if age is None or low is None or high is None:
        return []
    warnings = ["child"] if age < CHILD_AGE else []
    if age >= ELDERLY_AGE:
        warnings.append("elderly")
    if high - low > WIDE_RANGE_YEARS:
        warnings.append("low_confidence")
    return warnings


def blur_variance(crop: np.ndarray) -> float:
    """Return the variance of the Laplacian of a face crop at 128×128: low means blurry."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    if grey.shape != (BLUR_SIDE, BLUR_SIDE):  # the variance depends on scale: measure every model's crop alike
        shrink = grey.shape[0] > BLUR_SIDE
        grey = cv2.resize(grey, (BLUR_SIDE, BLUR_SIDE), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())
