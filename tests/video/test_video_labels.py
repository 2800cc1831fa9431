"""Annotated clips: every drawn frame's labels are counted as benchmarks/bench_labels.py counts a
photo's (inside the frame, clear of every other face's box and label)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from video_clips import camera, side_by_side, write_clip

import howold
from howold import draw
from howold.video.session import TrackedFace, analyse_video

GROUP_PHOTO = Path(__file__).resolve().parents[3] / "shared" / "data" / "group-photos" / "Solvay_conference_1927.jpg"


def bad_labels(size, faces, labels) -> int:
    """Labels outside the frame or on another face's box or label (bench_labels.check)."""
    boxes = [t.face.box for t in faces]
    rects = [label.box for label in labels]
    bad = 0
    for i, rect in enumerate(rects):
        if rect is None:
            continue
        others = [b for j, b in enumerate(boxes) if j != i] + [r for j, r in enumerate(rects) if j != i and r]
        bad += not draw.inside(rect, *size) or any(draw.overlaps(rect, other) for other in others)
    return bad


def drawn_labels(monkeypatch, predictor, clip, out) -> list[tuple]:
    """Analyse `clip` into the annotated MP4 `out`, keeping each drawn frame's (size, faces, labels)."""
    seen = []
    place = draw.track_labels

    def recording(size, faces, settled, *args):
        labels = place(size, faces, settled, *args)
        seen.append((size, faces, labels))
        return labels

    monkeypatch.setattr(draw, "track_labels", recording)
    result = analyse_video(predictor, clip, annotate_to=out)
    assert result.ok and len(seen) == result.frames_read
    return seen


def test_labels_of_close_faces_never_cover_each_other(video_predictor, face_images, tmp_path, monkeypatch):
    # three people 12 px apart, shown small: a label the width of a face would reach the next one
    scene = side_by_side([face_images[name] for name in ("adult_20-29", "elderly_70plus", "adult_20-29")], gap=12)
    clip = write_clip(tmp_path / "close.mp4", camera(scene, 2.0, 10, (640, 240), pan=0.2, noise=2))
    seen = drawn_labels(monkeypatch, video_predictor, clip, tmp_path / "close_annotated.mp4")
    assert sum(bad_labels(size, faces, labels) for size, faces, labels in seen) == 0
    texts = [label.text for _, _, labels in seen for label in labels if label.box is not None]
    assert len(texts) >= 2 * len(seen) and any(" · now " in text for text in texts)


def test_first_frame_faces_show_their_estimate_in_colour():
    face = howold.Face(box=(40, 40, 120, 120), score=0.9, landmarks=((60, 70),) * 5, age=68.2, age_low=55,
                       age_high=80)  # fmt: skip
    frame = draw.annotate_tracks(np.zeros((200, 200, 3), np.uint8), [TrackedFace(None, face)], {})
    labels = draw.track_labels((200, 200), [TrackedFace(None, face)], {})
    assert labels[0].text == "now 68" and labels[0].box is not None
    assert tuple(frame[40, 80]) == draw.BOX_COLOUR  # the box is an age estimate's, not a bare white one


@pytest.mark.data
@pytest.mark.skipif(not GROUP_PHOTO.is_file(), reason="needs ../shared/data (the group photo)")
def test_group_photo_pan_labels_never_cover_each_other(video_predictor, tmp_path, monkeypatch):
    scene = howold.load_image(GROUP_PHOTO)
    clip = write_clip(tmp_path / "group.mp4", camera(scene, 1.2, 5, (1280, 720), pan=0.3, zoom=0.1, noise=2), fps=5)
    seen = drawn_labels(monkeypatch, video_predictor, clip, tmp_path / "group_annotated.mp4")
    assert sum(bad_labels(size, faces, labels) for size, faces, labels in seen) == 0
    assert max(sum(label.box is not None for label in labels) for _, _, labels in seen) >= 20
