"""Tracking faces from frame to frame (howold.video.track, on trackers' ByteTrack)."""

from __future__ import annotations

from howold.video.track import FaceTracker


def run(tracker, frames):
    """Feed frames of boxes; return {(frame, index): person}."""
    found = {}
    for boxes in frames:
        for a in tracker.update(boxes, [0.99] * len(boxes)):
            found[(a.frame, a.index)] = a.person
    return found


def test_moving_faces_keep_their_numbers_and_the_first_look_is_kept():
    frames = [[(100 + 8 * i, 100, 180 + 8 * i, 190), (400 - 5 * i, 120, 470 - 5 * i, 200)] for i in range(12)]
    found = run(FaceTracker(fps=5), frames)
    assert len(found) == 24  # every face of every frame, the first frame's too
    assert {found[(i, 0)] for i in range(12)} == {1} and {found[(i, 1)] for i in range(12)} == {2}


def test_a_face_gone_briefly_keeps_its_number_and_one_gone_long_is_new():
    face = [(200, 100, 280, 190)]
    brief = [face] * 5 + [[]] * 5 + [face] * 5  # 1 s away at 5 frames/s
    assert set(run(FaceTracker(fps=5, lost_seconds=3.0), brief).values()) == {1}
    long = [face] * 5 + [[]] * 25 + [face] * 5  # 5 s away
    assert set(run(FaceTracker(fps=5, lost_seconds=3.0), long).values()) == {1, 2}


def test_one_frame_clip_gives_persons_but_a_one_frame_flash_does_not():
    single = FaceTracker(fps=5)
    assert run(single, [[(10, 10, 60, 70), (100, 10, 150, 70)]]) == {}
    assert sorted(a.person for a in single.flush(frames_seen=1)) == [1, 2]
    flash = FaceTracker(fps=5)
    assert run(flash, [[]] * 3 + [[(10, 10, 60, 70)]] + [[]] * 3) == {} and flash.flush(frames_seen=7) == []
