"""Photo in, faces with ages out: detection, the shared crop and the age model, composed."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from howold.age_model import DEFAULT_MODEL_PATH, AgeDistribution, AgeEstimates, AgeModel, ModelInfo
from howold.crop import crop_box, crop_face, reframed_landmarks
from howold.detect import Detection, DetectOptions, FaceDetector
from howold.errors import HowoldError, brief
from howold.io import ImageSource, Photo, open_photo
from howold.options import AgeCheck
from howold.quality import PHOTO_WARNINGS, WARNINGS, age_warnings, blur_variance, quality_warnings

# A face smaller than the detector's refine_below is read from 3 framings, its crop as cut and 5% wider and
# narrower, and their age distributions averaged: a pixel's difference in a small face's landmarks, as
# between detector scales, moves its age. scripts/small_face_views.py (0.4.0, 375 UTKFace + AAF val photos
# shrunk to ~45 px faces, landmarks moved ~0.7 px): the age moves 0.93 years on average with one crop, 0.80
# with these 3, 0.79 with the crop moved 3% of the eye-to-mouth span 4 ways, 0.77 with all 7, at the same
# MAE; 3 framings cost the least. End to end on val (howold val --end-to-end): UTKFace 4.594 -> 4.587, AAF
# 5.153 -> 5.129 (coverage 0.80 -> 0.82); on the group photo (scripts/scale_stability.py) the same faces at
# max_side 1280 and full size moved 1.13 / 7.15 years (mean / most), 0.70 / 1.98 with the 3 framings.
SMALL_FACE_FRAMINGS = ((0.0, 0.0, 1.0), (0.0, 0.0, 1.05), (0.0, 0.0, 0.95))  # (dx, dy, scale)


def range_label(low: float | None, high: float | None) -> str:
    """An age range as people read it, e.g. '29–39'; '—' when there is none."""
    if low is None or high is None:
        return "—"
    return f"{round(low)}–{round(high)}"


def age_label(age: float | None, low: float | None, high: float | None) -> str:
    """An age and its range as people read it, e.g. '34 (29–39)'; '?' when there is no age."""
    if age is None or low is None or high is None:
        return "?"
    return f"{round(age)} ({range_label(low, high)})"


class AgeLabels:
    """`label` ('34 (29–39)') and `range_label` ('29–39') of a result that has `age`, `age_low` and
    `age_high` (a photo's face, a video's person); '?' and '—' without an age model."""

    age: float | None
    age_low: float | None
    age_high: float | None

    @property
    def label(self) -> str:
        return age_label(self.age, self.age_low, self.age_high)

    @property
    def range_label(self) -> str:
        return range_label(self.age_low, self.age_high)


@dataclass(frozen=True)
class Face(AgeLabels):
    """One face: where it is, how sure the detector is, and the age with its range.

    `box` is (x1, y1, x2, y2) in pixels of the upright photo; `landmarks` are five (x, y)
    points (eyes, nose tip, mouth corners). `age`, `age_low` and `age_high` are None when no
    age model is installed. `warnings` name the reasons to trust the estimate less.
    `distribution` is the calibrated age distribution the range is read from (None without an
    age model); `p_over(age)` reads the probability that the person is at least that old from it.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: tuple[tuple[float, float], ...]
    age: float | None = None
    age_low: float | None = None
    age_high: float | None = None
    warnings: tuple[str, ...] = ()
    distribution: AgeDistribution | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.box) != 4:
            raise ValueError(f"box: expected (x1, y1, x2, y2), got {self.box!r}")
        if len(self.landmarks) != 5:
            raise ValueError(f"landmarks: expected 5 points, got {len(self.landmarks)}")
        unknown = set(self.warnings) - set(WARNINGS)
        if unknown:
            raise ValueError(f"warnings: unknown {sorted(unknown)}; expected some of {WARNINGS}")

    def p_over(self, age: float) -> float:
        """The calibrated probability that the person is at least `age` years old (0 to 120)."""
        age = AgeCheck.parse_age("age", age)
        if self.distribution is None:
            raise HowoldError("This face has no age distribution (no age model was loaded), so no P(over).")
        return self.distribution.p_at_least(age)

    def check(self, check: AgeCheck) -> dict[str, Any] | None:
        """The age check's answer for this face, JSON-ready: `over`, `p_over` (P(age >= over)),
        `challenge`, `p_challenge` and `verdict` ("over" or "check_id"); None without an age model."""
        if self.distribution is None:
            return None
        assert check.challenge is not None  # AgeCheck.__post_init__ fills it in
        p_challenge = self.distribution.p_at_least(check.challenge)
        return {
            "over": check.over,
            "p_over": round(self.distribution.p_at_least(check.over), 4),
            "challenge": check.challenge,
            "p_challenge": round(p_challenge, 4),
            "verdict": check.verdict(p_challenge),
        }

    def to_dict(self, check: AgeCheck | None = None, distribution: bool = False) -> dict[str, Any]:
        """Return the face as plain JSON-ready values (ages rounded to 0.1 year); with `check` its
        answer under "age_check", with `distribution` the age distribution under "distribution"."""
        # built field by field, in the dataclass's order: dataclasses.asdict deep-copies the distribution
        # only for it to be dropped, half the CPU `howold predict --json` spent on 2,000 chips' results
        data: dict[str, Any] = {
            "box": [round(v, 1) for v in self.box],
            "score": round(self.score, 4),
            "landmarks": [[round(x, 1), round(y, 1)] for x, y in self.landmarks],
            "age": _tenth(self.age),
            "age_low": _tenth(self.age_low),
            "age_high": _tenth(self.age_high),
            "warnings": list(self.warnings),
        }
        if check is not None:
            data["age_check"] = self.check(check)
        if distribution:
            data["distribution"] = None if self.distribution is None else self.distribution.to_dict()
        return data


@dataclass(frozen=True)
class PhotoResult:
    """What one photo gave: its size, its faces, the model used, or why it could not be read.

    `faces_dropped` counts the faces found beyond the `max_faces` limit (the smallest), which
    are left out.
    """

    source: str
    width: int = 0
    height: int = 0
    faces: tuple[Face, ...] = ()
    model: str | None = None
    error: str | None = None
    faces_dropped: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def photo_warnings(self) -> tuple[str, ...]:
        """The PHOTO_WARNINGS that every face carries: faults of the photo, to be said once for it."""
        return tuple(w for w in PHOTO_WARNINGS if self.faces and all(w in face.warnings for face in self.faces))

    def face_warnings(self, index: int) -> tuple[str, ...]:
        """Face `index`'s warnings less the photo's own (`photo_warnings`), for tables and galleries."""
        photo = self.photo_warnings
        return tuple(w for w in self.faces[index].warnings if w not in photo)

    def to_dict(self, check: AgeCheck | None = None, distribution: bool = False) -> dict[str, Any]:
        """Return the result as the JSON schema shared by the CLI, the API and batch jobs; `check`
        and `distribution` add to each face as in `Face.to_dict`."""
        return {
            "source": self.source,
            "width": self.width,
            "height": self.height,
            "model": self.model,
            "faces": [face.to_dict(check, distribution) for face in self.faces],
            "faces_dropped": self.faces_dropped,
            "error": self.error,
        }


@dataclass(frozen=True)
class FaceEstimate:
    """A face and what combining several looks at it needs: `probs`, its calibrated age distribution
    over the model's ages min_age..max_age (None without an age model), and `sharpness`, the
    variance of the Laplacian of its crop (`blur_variance`; None without an age model)."""

    face: Face
    probs: np.ndarray | None = None
    sharpness: float | None = None


class Predictor:
    """Holds the detector and the age model, loaded once, for repeated `predict` calls.

    `model`: path to an ONNX age model with its sidecar; the default is the model shipped in
    the package. With `model=None` (or no default installed) faces are found but get no age.
    `options`: how faces are found (`howold.DetectOptions`, which holds their defaults and bounds),
    e.g. `Predictor(options=DetectOptions(max_side=None))`; a call may pass others. `threads`:
    onnxruntime's intra-op threads per network (None: its default).
    """

    def __init__(
        self,
        model: str | os.PathLike | None = DEFAULT_MODEL_PATH,
        options: DetectOptions | None = None,
        *,
        threads: int | None = None,
    ) -> None:
        self.detector = FaceDetector(options, threads=threads)
        self.age_model: AgeModel | None = None
        self.missing_model_reason: str | None = None
        if model is not None:
            model = Path(model)
            if model == DEFAULT_MODEL_PATH and not model.is_file():
                self.missing_model_reason = no_model_message()
            else:
                self.age_model = AgeModel(model, threads=threads)

    @property
    def options(self) -> DetectOptions:
        """How this predictor finds faces; a call may pass others, e.g.
        `predictor.analyse(photo, options=dataclasses.replace(predictor.options, max_side=None))`."""
        return self.detector.options

    @property
    def model_info(self) -> ModelInfo | None:
        """The age model's sidecar, or None when no age model is loaded."""
        return self.age_model.info if self.age_model else None

    def prepare(self) -> Predictor:
        """Load every model now rather than on the first photo; returns self."""
        self.detector.prepare()
        if self.age_model:
            self.age_model.prepare()
        return self

    def analyse(self, image: ImageSource, name: str | None = None, options: DetectOptions | None = None) -> PhotoResult:
        """Return the photo's faces and size; a photo that cannot be read gives `error`, not a raise.
        `options` replace the predictor's detection options for this photo only."""
        source = name or (str(image) if isinstance(image, (str, os.PathLike)) else "image")
        model = self.model_info.label if self.model_info else None
        try:
            photo = open_photo(image, name=source)
            faces, dropped = self._faces(photo, options)
        except HowoldError as exc:
            return PhotoResult(source=source, model=model, error=str(exc))
        height, width = photo.shape
        return PhotoResult(source, width, height, tuple(faces), model, faces_dropped=dropped)

    def predict(self, image: ImageSource, options: DetectOptions | None = None) -> list[Face]:
        """Return every face in the photo with its age, largest face first; [] if none.

        `options` replace the predictor's detection options for this call only. At most
        `options.max_faces` faces come back, the largest.
        """
        return self._faces(open_photo(image), options)[0]

    def estimate(self, image: np.ndarray, options: DetectOptions | None = None) -> list[FaceEstimate]:
        """Like `predict` for one RGB uint8 frame, each face with its calibrated age distribution and
        sharpness: what `howold.video` needs to combine a person's frames. Each face is read from one
        crop: a person's frames, framed a little differently each, are averaged anyway, and the
        SMALL_FACE_FRAMINGS would cost a 10-face 720p clip 42% of its frames per second
        (benchmarks/bench_video.py: 6.4 -> 3.7)."""
        return self._estimates(Photo(image), options, framings=False)[0]

    def _faces(self, photo: Photo, options: DetectOptions | None = None) -> tuple[list[Face], int]:
        """The photo's largest faces (at most max_faces) with their ages, and how many were left out."""
        estimates, dropped = self._estimates(photo, options)
        return [e.face for e in estimates], dropped

    def largest_face_crop(self, image: ImageSource, size: int, margin: float) -> np.ndarray | None:
        """The largest face's crop cut exactly as `analyse` cuts crops for the age model (the same
        detection, refinement of small faces and full-resolution crop), `size` px wide with `margin`;
        None when there is no face. howold's training crops are cut by this, so a model learns on the
        crops it will be shown."""
        photo = open_photo(image)
        kept, _ = self._detections(photo, self.options)
        return _crop(photo, kept[0].landmarks, size, margin) if kept else None

    def _detections(self, photo: Photo, options: DetectOptions) -> tuple[list[Detection], int]:
        """The photo's largest faces (at most max_faces), small ones refined, largest first, and how
        many were left out."""
        small, scale = photo.shrunk(options.max_side)
        detections = self.detector.detect_scaled(small, scale, photo.shape, options)
        detections.sort(key=lambda d: -d.width * d.height)
        kept, dropped = detections[: options.max_faces], max(0, len(detections) - options.max_faces)
        kept = self.detector.refine_small(kept, photo.region, photo.shape)
        kept.sort(key=lambda d: -d.width * d.height)
        return kept, dropped

    def _estimates(self, photo: Photo, options: DetectOptions | None = None, framings: bool = True):
        kept, dropped = self._detections(photo, self.options if options is None else options)
        if not kept or self.age_model is None:
            return [FaceEstimate(_face(d, None, None, None, None)) for d in kept], dropped
        info = self.age_model.info
        crops = np.stack([_crop(photo, d.landmarks, info.crop_size, info.crop_margin) for d in kept])
        sharpness = [blur_variance(crop) for crop in crops]
        quality = [quality_warnings(d.width, d.height, crop, s) for d, crop, s in zip(kept, crops, sharpness)]
        poor = np.array([bool(q) for q in quality])
        estimates = self._ages(photo, kept, crops, poor, framings)
        faces = [
            FaceEstimate(
                _face(
                    d,
                    crop,
                    estimates.age[i],
                    estimates.low[i],
                    estimates.high[i],
                    quality[i],
                    AgeDistribution.from_array(estimates.probs[i], info.min_age),
                ),
                probs=estimates.probs[i],
                sharpness=sharpness[i],
            )
            for i, (d, crop) in enumerate(zip(kept, crops))
        ]
        return faces, dropped

    def _ages(
        self, photo: Photo, kept: list[Detection], crops: np.ndarray, poor: np.ndarray, framings: bool
    ) -> AgeEstimates:
        """The faces' ages from their crops; with `framings`, faces under the detector's refine_below
        are read from their SMALL_FACE_FRAMINGS instead (the first of which is the crop as cut)."""
        age_model = self.age_model
        assert age_model is not None  # analyse() reads ages only with a model
        small = [i for i, d in enumerate(kept) if framings and min(d.width, d.height) < self.detector.refine_below]
        others = SMALL_FACE_FRAMINGS[1:]
        if not small or not others:
            return age_model.estimates_from_logits(age_model.logits(crops), poor=poor)
        info = age_model.info
        moved = np.stack([reframed_landmarks(kept[i].landmarks, others) for i in small], axis=1)  # (framings, faces)
        extra = np.stack([_crop(photo, points, info.crop_size, info.crop_margin) for points in moved.reshape(-1, 5, 2)])
        # one run for the crops as cut and the framings: onnxruntime gives each crop the same logits in any
        # batch (tests/core/test_pipeline_framings.py), and a second run costs its own overhead
        both = age_model.logits(np.concatenate([crops, extra]))  # (flip views, faces + framings, ages)
        logits, extra_logits = both[:, : len(crops)], both[:, len(crops) :]
        # every face gets len(SMALL_FACE_FRAMINGS) views; a large face's are copies of its one crop's,
        # whose average is that crop's own distribution
        every = np.concatenate([logits] * len(SMALL_FACE_FRAMINGS))
        every[len(logits) :, small] = extra_logits.reshape(-1, len(small), extra_logits.shape[-1])
        return age_model.estimates_from_logits(every, poor=poor)


def _tenth(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def failed(source: str, exc: BaseException, model: str | None = None) -> PhotoResult:
    """The result of a photo whose analysis raised something other than a HowoldError (a bug
    tripped by this photo): frontends record it as the photo's error and go on with the next."""
    error = f"{source}: unexpected error ({type(exc).__name__}: {brief(exc)})."
    return PhotoResult(source=source, model=model, error=error)


def _crop(photo: Photo, landmarks: np.ndarray, size: int, margin: float) -> np.ndarray:
    """The face's crop, cut from the full-resolution pixels around it only."""
    x0, y0, x1, y1 = crop_box(landmarks, photo.shape, size, margin)
    return crop_face(photo.region((x0, y0, x1, y1)), landmarks - np.array([x0, y0]), size, margin)


def _face(
    detection: Detection,
    crop,
    age,
    low,
    high,
    quality: list[str] | None = None,
    distribution: AgeDistribution | None = None,
) -> Face:
    warnings = quality_warnings(detection.width, detection.height, crop) if quality is None else list(quality)
    warnings += age_warnings(age, low, high)
    return Face(
        box=detection.box,
        score=detection.score,
        landmarks=tuple((float(x), float(y)) for x, y in detection.landmarks),
        age=None if age is None else float(age),
        age_low=None if low is None else float(low),
        age_high=None if high is None else float(high),
        warnings=tuple(warnings),
        distribution=distribution,
    )


def no_model_message() -> str:
    return (
        "No age model is installed, so faces are found but not aged. Reinstall howold from its checkout "
        "(`pip install -e .`) or pass --model FILE.onnx with its .json sidecar."
    )


@functools.lru_cache(maxsize=1)
def _shared_predictor() -> Predictor:
    return Predictor()


def predict(image: ImageSource, model: str | os.PathLike | None = None) -> list[Face]:
    """Return every face in the photo with its estimated age; [] when no face is found.

    Uses the shipped model, loaded on the first call and kept for the next ones, or the given
    model file. For many photos with one model, a `Predictor` is the explicit way.
    """
    predictor = _shared_predictor() if model is None else Predictor(model)
    return predictor.predict(image)
