"""Video in, one settled age per person out: decoding, sampling, the photo pipeline on each sampled
frame, tracking, and the combination of each person's looks, composed.

`VideoSession` takes frames one at a time (a file's, or a webcam's) and keeps, per person, the
looks at their face; `analyse_video` streams a file through one, never holding more than a frame
of pixels. A person's age and range come from `howold.video.persons.combine` (its docstring states the
rule). Memory grows only with the looks kept: about 0.5 KB per face per sampled frame.
"""

from __future__ import annotations

import io
import os
import time as clock
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from howold.errors import HowoldError, VideoError, brief
from howold.options import DetectOptions, VideoOptions
from howold.pipeline import AgeLabels, Face, FaceEstimate, Predictor
from howold.quality import PHOTO_WARNINGS, QUALITY_WARNINGS, age_warnings
from howold.video.io import VideoInfo, VideoReader, VideoWriter
from howold.video.persons import SHARED, combine, effective_looks, look_weight
from howold.video.track import FaceTracker

LIVE_LOOKS = 150  # the settling age shown while a clip plays combines at most this many latest looks


@dataclass(frozen=True)
class Person(AgeLabels):
    """One person followed through a clip: when they were seen, in how many analysed frames, and
    their settled age with its 80% range (None without an age model).

    `looks` is the evidence the frames are worth (`persons.effective_looks`); `box` and
    `best_time` are those of their best look, which `thumbnail` (RGB, when asked for) shows.
    """

    person: int
    first_seen: float
    last_seen: float
    frames: int
    age: float | None
    age_low: float | None
    age_high: float | None
    looks: float
    box: tuple[float, float, float, float]
    best_time: float
    warnings: tuple[str, ...] = ()
    thumbnail: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.person < 1 or self.frames < 1:
            raise ValueError(f"person and frames: expected at least 1, got {self.person} and {self.frames}")

    def to_dict(self) -> dict[str, Any]:
        rounded = {
            key: None if value is None else round(value, 1)
            for key, value in (("age", self.age), ("age_low", self.age_low), ("age_high", self.age_high))
        }
        return {
            "person": self.person,
            "first_seen": round(self.first_seen, 3),
            "last_seen": round(self.last_seen, 3),
            "frames": self.frames,
            **rounded,
            "looks": round(self.looks, 2),
            "box": [round(v, 1) for v in self.box],
            "best_time": round(self.best_time, 3),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class TrackedFace:
    """A face in one analysed frame and the person it belongs to (None: not, or not yet, tracked)."""

    person: int | None
    face: Face

    def to_dict(self) -> dict[str, Any]:
        return {"person": self.person, **self.face.to_dict()}


@dataclass(frozen=True)
class FrameResult:
    """One analysed frame: its number in the clip, its time in seconds, and its faces."""

    number: int
    time: float
    faces: tuple[TrackedFace, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"frame": self.number, "time": round(self.time, 3), "faces": [f.to_dict() for f in self.faces]}


@dataclass(frozen=True)
class VideoResult:
    """What one clip gave: its size and length, the frames read and analysed, one entry per person,
    and (when asked for) every analysed frame; or why it could not be read.

    `truncated`: the file ended before its container said it would (damaged or cut short), so the
    results cover the part that could be read. `stopped_at`: analysis stopped at this many seconds
    although the clip goes on, because of the limit `stopped_by` names ("seconds", "frames" or
    "pixels": `VideoOptions.max_seconds`, `max_frames`, `max_pixels`).
    """

    source: str
    width: int = 0
    height: int = 0
    fps: float = 0.0
    duration: float = 0.0
    frames_read: int = 0
    frames_analysed: int = 0
    persons: tuple[Person, ...] = ()
    frames: tuple[FrameResult, ...] = ()
    model: str | None = None
    rotation: int = 0
    truncated: bool = False
    stopped_at: float | None = None
    stopped_by: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def photo_warnings(self) -> tuple[str, ...]:
        """The PHOTO_WARNINGS every person carries (a black-and-white clip): said once for the clip."""
        return tuple(w for w in PHOTO_WARNINGS if self.persons and all(w in p.warnings for p in self.persons))

    @property
    def notes(self) -> tuple[str, ...]:
        """Plain sentences about how complete the result is."""
        notes = []
        if self.truncated:
            notes.append(
                f"{self.source}: the file ends early (damaged or cut short); "
                f"these results cover its first {self.duration:.1f} s."
            )
        if self.stopped_at is not None:
            limit = {
                "frames": f"the limit of {self.frames_read:,} decoded frames",
                "pixels": "the limit on decoded pixels",
            }.get(self.stopped_by or "", "the limit")
            notes.append(f"{self.source}: only the first {self.stopped_at:g} s were analysed ({limit}).")
        return tuple(notes)

    def to_dict(self, per_frame: bool = False) -> dict[str, Any]:
        data = {
            "source": self.source,
            "kind": "video",
            "width": self.width,
            "height": self.height,
            "fps": round(self.fps, 3),
            "duration": round(self.duration, 3),
            "rotation": self.rotation,
            "frames_read": self.frames_read,
            "frames_analysed": self.frames_analysed,
            "model": self.model,
            "persons": [p.to_dict() for p in self.persons],
            "truncated": self.truncated,
            "stopped_at": self.stopped_at,
            "notes": list(self.notes),
            "error": self.error,
        }
        if per_frame:
            data["frames"] = [f.to_dict() for f in self.frames]
        return data


@dataclass
class _Look:
    time: float
    age: float | None
    probs: np.ndarray | None
    weight: float
    face: Face


class VideoSession:
    """Frames in one at a time, persons out: detect and age every face, track them, and settle each
    person's age as looks add up. Used for files (`analyse_video`) and for a live webcam.

    `fps` is the rate frames are fed at. `thumbnails=True` keeps a face picture of each person's
    best look. `detect` replaces the predictor's detection options for these frames.
    """

    def __init__(
        self,
        predictor: Predictor,
        fps: float,
        options: VideoOptions | None = None,
        thumbnails: bool = False,
        detect: DetectOptions | None = None,
    ) -> None:
        self.predictor = predictor
        self.options = options or VideoOptions()
        self.detect = predictor.options if detect is None else detect
        self.tracker = FaceTracker(fps, min_score=self.detect.min_score, lost_seconds=self.options.lost_seconds)
        self.thumbnails = thumbnails
        self.frames_seen = 0
        self.claimed: dict[int, int] = {}  # after `add`: the previous frame's faces given a person only now
        self.timings = {"detect_age": 0.0, "track": 0.0}
        self._looks: dict[int, list[_Look]] = {}
        self._best: dict[int, tuple[float, np.ndarray | None]] = {}
        self._last: tuple[float, np.ndarray | None, list[FaceEstimate]] | None = None
        self._info = predictor.model_info
        self._labels: tuple[int, dict[int, str]] = (-1, {})

    def add(self, image: np.ndarray, time: float) -> tuple[TrackedFace, ...]:
        """Analyse one frame shown at `time` seconds; return its faces with their person numbers."""
        started = clock.perf_counter()
        estimates = self.predictor.estimate(image, self.detect)
        tracked_at = clock.perf_counter()
        assignments = self.tracker.update([e.face.box for e in estimates], [e.face.score for e in estimates])
        self.timings["track"] += clock.perf_counter() - tracked_at
        self.timings["detect_age"] += tracked_at - started
        numbers: dict[int, int] = {}
        self.claimed = {}
        for a in assignments:
            if a.frame == self.frames_seen:
                numbers[a.index] = a.person
                self._add_look(a.person, time, estimates[a.index], image)
            elif self._last is not None:  # the previous frame's first look at a track confirmed now
                last_time, last_image, last_estimates = self._last
                self._add_look(a.person, last_time, last_estimates[a.index], last_image)
                self.claimed[a.index] = a.person
        # the previous frame's pixels are kept only while a thumbnail may be wanted from them
        self._last = (time, image if self.thumbnails else None, estimates)
        self.frames_seen += 1
        return tuple(TrackedFace(numbers.get(i), e.face) for i, e in enumerate(estimates))

    def _add_look(self, person: int, time: float, estimate: FaceEstimate, image: np.ndarray | None) -> None:
        face = estimate.face
        side = min(face.box[2] - face.box[0], face.box[3] - face.box[1])
        weight = look_weight(face.score, side, estimate.sharpness)
        probs = None if estimate.probs is None else estimate.probs.astype(np.float32)
        self._looks.setdefault(person, []).append(_Look(time, face.age, probs, weight, face))
        if self.thumbnails and image is not None and weight > self._best.get(person, (-1.0, None))[0]:
            from howold.draw import face_thumbnail

            self._best[person] = (weight, face_thumbnail(image, face.box))

    def finish(self) -> tuple[Person, ...]:
        """Close the clip: a clip of one frame makes its faces persons; return every person."""
        for a in self.tracker.flush(self.frames_seen):
            assert self._last is not None  # the tracker holds looks only from a frame it was given
            last_time, last_image, last_estimates = self._last
            self._add_look(a.person, last_time, last_estimates[a.index], last_image)
        return self.persons()

    def persons(self) -> tuple[Person, ...]:
        """Every person so far with their settled age, in order of first appearance."""
        return tuple(self.person(number) for number in sorted(self._looks))

    def person(self, number: int, latest: int | None = None, shared: float = SHARED) -> Person:
        """A person's settled age from all their looks (or the `latest` few, for a live display).
        `shared` is the combination rule's share of error all looks share (`persons.SHARED`;
        another value only to calibrate it, as scripts/video_coverage.py does)."""
        looks = self._looks[number]
        used = looks[-latest:] if latest else looks
        best = max(looks, key=lambda look: look.weight)
        age = low = high = None
        n_eff = effective_looks([look.weight for look in used])
        ages = [look.age for look in used if look.age is not None]
        probs = [look.probs for look in used if look.probs is not None]
        if self._info is not None and len(ages) == len(probs) == len(used):  # every look read by the age model
            age, low, high, n_eff = combine(
                ages, np.stack(probs),
                [look.weight for look in used], self._info.interval, self._info.min_age, shared,
            )  # fmt: skip
        return Person(
            person=number, first_seen=looks[0].time, last_seen=looks[-1].time, frames=len(looks),
            age=age, age_low=low, age_high=high, looks=n_eff, box=best.face.box, best_time=best.time,
            warnings=_person_warnings(used, age, low, high), thumbnail=self._best.get(number, (0, None))[1],
        )  # fmt: skip

    def settled_labels(self) -> dict[int, str]:
        """Each person's settling age as the live display shows it, from their latest looks."""
        if self._labels[0] != self.frames_seen:
            self._labels = (self.frames_seen, {n: self.person(n, latest=LIVE_LOOKS).label for n in self._looks})
        return self._labels[1]


def _person_warnings(looks: list[_Look], age, low, high) -> tuple[str, ...]:
    """A photo fault most of the looks share, and the warnings of the settled age itself."""
    shared = [w for w in QUALITY_WARNINGS if sum(w in look.face.warnings for look in looks) * 2 > len(looks)]
    return tuple(shared + age_warnings(age, low, high))


class _Sampler:
    """Takes a frame whenever `1/fps` seconds have passed since the last one taken."""

    def __init__(self, fps: float) -> None:
        self.step = 1.0 / fps
        self.next: float | None = None

    def take(self, time: float) -> bool:
        if self.next is not None and time + 1e-6 < self.next:
            return False
        self.next = (time if self.next is None else self.next) + self.step
        if self.next <= time:
            self.next = time + self.step
        return True


def analyse_video(
    predictor: Predictor,
    source: str | os.PathLike | bytes,
    options: VideoOptions | None = None,
    name: str | None = None,
    per_frame: bool = False,
    annotate_to: str | os.PathLike | io.BytesIO | None = None,
    thumbnails: bool = False,
    on_frame: Callable[[int, float], None] | None = None,
    detect: DetectOptions | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> VideoResult:
    """Analyse a clip: each sampled frame's faces aged and tracked, one settled age per person.

    `source` is a file or the bytes of one. A clip that cannot be read gives a result with
    `error`, not a raise. `per_frame=True` keeps every analysed frame's faces in `frames`;
    `annotate_to` (a file or a buffer) gets an MP4 of every frame with each person's box, number
    and settling age, then the frame's own estimate, in one label placed like a photo's; `on_frame(n,
    t)` is called after each analysed frame (n analysed so far, t its time), for progress bars;
    `detect` replaces the predictor's detection options. `should_stop()` is asked before each
    frame is decoded; True ends the work at once with a `VideoError` (the API's client has gone).

    Frames are decoded within `options.max_frames` and `max_pixels` and converted to RGB only
    when analysed or drawn; a clip whose frames are above `video_io.MAX_FRAME_PIXELS` is an error.
    """
    options = options or VideoOptions()
    label = name or ("video" if isinstance(source, bytes) else str(source))
    model = predictor.model_info.label if predictor.model_info else None
    try:
        with VideoReader(source, name=label) as reader:
            session = VideoSession(predictor, _rate(options, reader.info), options, thumbnails, detect)
            return _analyse(session, reader, options, model, per_frame, annotate_to, on_frame, should_stop)
    except HowoldError as exc:
        return VideoResult(source=label, model=model, error=str(exc))
    except MemoryError as exc:
        error = f"{label}: the frames are too large to analyse ({brief(exc)})."
        return VideoResult(source=label, model=model, error=error)


def _rate(options: VideoOptions, info: VideoInfo) -> float:
    """The rate frames reach the tracker at: the sampling rate, or the clip's own when lower."""
    return min(options.fps, info.fps) if info.fps > 0 else options.fps


def _analyse(session, reader, options, model, per_frame, annotate_to, on_frame, should_stop) -> VideoResult:
    info = reader.info
    rate = _rate(options, info)
    sampler = _Sampler(options.fps)
    drawn_rate = min(info.fps or rate, options.MAX_FPS)  # a 1000 fps clip's annotated copy plays at 60
    drawn = _Sampler(drawn_rate)
    writer = VideoWriter(annotate_to, drawn_rate, info.width, info.height) if annotate_to else None
    frames: list[FrameResult] = []
    faces: tuple[TrackedFace, ...] = ()
    read, pixels, last_time, stopped_at, stopped_by = 0, 0, 0.0, None, None
    try:
        for frame in _until_stopped(reader.frames(), should_stop, info.source):
            pixels += frame.width * frame.height
            if options.max_seconds is not None and frame.time >= options.max_seconds:
                stopped_at, stopped_by = options.max_seconds, "seconds"
            elif options.max_frames is not None and read >= options.max_frames:
                stopped_at, stopped_by = round(frame.time, 3), "frames"
            elif options.max_pixels is not None and pixels > options.max_pixels:
                stopped_at, stopped_by = round(frame.time, 3), "pixels"
            if stopped_by is not None:
                break
            read, last_time = read + 1, frame.time
            if sampler.take(frame.time):
                faces = session.add(frame.image, frame.time)
                if per_frame and session.claimed and frames:
                    frames[-1] = _claimed(frames[-1], session.claimed)
                if per_frame:
                    frames.append(FrameResult(frame.number, frame.time, faces))
                if on_frame:
                    on_frame(session.frames_seen, frame.time)
            if writer is not None and drawn.take(frame.time):
                writer.write(_draw(frame.image, faces, session))
    finally:
        if writer is not None:
            writer.close()
    persons = session.finish()
    # the time the frames read cover, never the container's word for it, which may be wrong either way
    # (a Matroska header saying 1 s over 3 s of frames gave "1.0 s" beside persons seen at 2.9 s)
    duration = last_time + (1.0 / info.fps if info.fps else 0.0)
    if not info.fps and info.duration and not reader.truncated and stopped_at is None:
        duration = info.duration
    return VideoResult(
        source=info.source, width=info.width, height=info.height, fps=info.fps, duration=duration,
        frames_read=read, frames_analysed=session.frames_seen, persons=persons, frames=tuple(frames),
        model=model, rotation=info.rotation, truncated=reader.truncated, stopped_at=stopped_at,
        stopped_by=stopped_by,
    )  # fmt: skip


def _until_stopped(frames, should_stop: Callable[[], bool] | None, source: str):
    """The frames, asking `should_stop()` before each is decoded."""
    while should_stop is None or not should_stop():
        frame = next(frames, None)
        if frame is None:
            return
        yield frame
    raise VideoError(f"{source}: the analysis was stopped (the request was cancelled).")


def _claimed(frame: FrameResult, claimed: dict[int, int]) -> FrameResult:
    faces = tuple(TrackedFace(claimed.get(i, t.person), t.face) for i, t in enumerate(frame.faces))
    return FrameResult(frame.number, frame.time, faces)


def _draw(image: np.ndarray, faces: tuple[TrackedFace, ...], session: VideoSession) -> np.ndarray:
    from howold.draw import annotate_tracks

    labels = session.settled_labels() if faces else {}
    return annotate_tracks(image, faces, labels)


def probe_video(source: str | os.PathLike | bytes, name: str | None = None) -> VideoInfo:
    """The clip's size, frame rate, duration and rotation, read from its container and first frame;
    a file that is no video raises `VideoError`."""
    with VideoReader(source, name=name) as reader:
        return reader.info


def failed_video(source: str, exc: BaseException, model: str | None = None) -> VideoResult:
    """The result of a clip whose analysis raised something other than a HowoldError (a bug)."""
    error = f"{source}: unexpected error ({type(exc).__name__}: {brief(exc)})."
    return VideoResult(source=source, model=model, error=error)


__all__ = [
    "FrameResult",
    "Person",
    "TrackedFace",
    "VideoError",
    "VideoInfo",
    "VideoOptions",
    "VideoResult",
    "VideoSession",
    "analyse_video",
    "failed_video",
    "probe_video",
]
