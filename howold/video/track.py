"""Following faces from frame to frame: ByteTrack from Roboflow's `trackers` package (2.6.1), not a
home-made tracker. This module only adapts face boxes to it and gives each track a person number.

ByteTrack matches boxes to tracks by IoU against a Kalman prediction, and keeps a lost track for
`lost_seconds`, so a face hidden for a moment (or leaving and coming back near where it left)
keeps its number; one gone longer comes back as a new person (howold has no face recognition).

ByteTrack confirms a track on its second frame and reports the first as untracked (-1); this
module gives that first look to the track it started, so no frame is lost. A face seen in a single
sampled frame never becomes a track (a one-frame false alarm), except in a clip of one frame,
where `flush` makes it a person of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from howold.detect import box_iou
from howold.errors import VideoError
from howold.extras import install_hint
from howold.options import DetectOptions, VideoOptions

LOST_SECONDS = VideoOptions.lost_seconds  # how long a lost face keeps its number
MIN_IOU = 0.1  # ByteTrack's own default for matching a box to a track


@dataclass(frozen=True)
class Assignment:
    """The person number of a detection (`index` into the frame's boxes) in a given frame."""

    frame: int
    index: int
    person: int


class FaceTracker:
    """Person numbers (1, 2, ...) for face boxes, one sampled frame after another.

    `fps` is the rate frames are fed at (the sampling rate, not the clip's); `min_score` is the
    detector's threshold, so every detection may start a track.
    """

    def __init__(
        self, fps: float, min_score: float = DetectOptions.min_score, lost_seconds: float = LOST_SECONDS
    ) -> None:
        try:
            from trackers import ByteTrackTracker
        except ImportError as exc:
            raise VideoError(
                f"tracking faces in video needs the [video] extra: {install_hint('video')} ({exc})."
            ) from exc
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, round(lost_seconds * 30)),  # counted in 30 fps frames, scaled by frame_rate
            frame_rate=max(fps, 0.01),
            track_activation_threshold=min_score,
            minimum_consecutive_frames=1,
            minimum_iou_threshold=MIN_IOU,
            high_conf_det_threshold=min_score,
        )
        self._numbers: dict[int, int] = {}  # ByteTrack's id -> person number, in order of first sight
        self._pending: list[tuple[int, int, np.ndarray]] = []  # last frame's untracked: (frame, index, box)
        self._frame = -1

    def update(self, boxes: Sequence[Sequence[float]], scores: Sequence[float]) -> list[Assignment]:
        """Feed one frame's face boxes (x1, y1, x2, y2) and scores; return the assignments made now:
        this frame's tracked boxes, plus the previous frame's first look at a track confirmed now."""
        import supervision as sv

        self._frame += 1
        xyxy = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        detections = sv.Detections(
            xyxy=xyxy,
            confidence=np.asarray(scores, dtype=np.float32).reshape(-1),
            data={"index": np.arange(len(xyxy))},
        )
        tracked = self._tracker.update(detections)
        out: list[Assignment] = []
        pending: list[tuple[int, int, np.ndarray]] = []
        indices = tracked.data.get("index", ()) if len(tracked) else ()  # an empty result carries no data
        assert tracked.tracker_id is not None  # ByteTrack gives every detection it returns an id
        for index, track_id, box in zip(indices, tracked.tracker_id, tracked.xyxy):
            index, track_id = int(index), int(track_id)
            if track_id < 0:
                pending.append((self._frame, index, box))
                continue
            if track_id not in self._numbers:
                self._numbers[track_id] = len(self._numbers) + 1
                first = self._claim_pending(box)
                if first is not None:
                    out.append(Assignment(first[0], first[1], self._numbers[track_id]))
            out.append(Assignment(self._frame, index, self._numbers[track_id]))
        self._pending = pending
        return out

    def flush(self, frames_seen: int) -> list[Assignment]:
        """At the end of a clip of one frame, its faces become persons; otherwise nothing."""
        if frames_seen != 1:
            return []
        out = []
        for frame, index, _ in self._pending:
            number = len(self._numbers) + 1
            self._numbers[-number] = number
            out.append(Assignment(frame, index, number))
        self._pending = []
        return out

    def _claim_pending(self, box: np.ndarray) -> tuple[int, int] | None:
        """The previous frame's untracked box that this newly confirmed track grew from: the one
        overlapping its box most (ByteTrack matched it to that box by IoU)."""
        best, best_iou = None, MIN_IOU
        for entry in self._pending:
            overlap = box_iou(entry[2], box)
            if entry[0] == self._frame - 1 and overlap >= best_iou:
                best, best_iou = entry, overlap
        if best is None:
            return None
        self._pending.remove(best)
        return best[0], best[1]
