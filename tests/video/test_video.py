"""Clip to persons with settled ages (howold.video.session), on real clips, the real detector and age model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from video_clips import camera, write_clip

import howold
from howold.video.session import VideoOptions, VideoSession, analyse_video

GROUP_PHOTO = Path(__file__).resolve().parents[3] / "shared" / "data" / "group-photos" / "Solvay_conference_1927.jpg"


@pytest.fixture(scope="module")
def pan(video_predictor, clips):
    return analyse_video(video_predictor, clips["pan"], per_frame=True)


def test_a_pan_with_zoom_and_noise_gives_two_persons_with_stable_numbers(pan):
    assert pan.ok and len(pan.persons) == 2 and pan.frames_analysed == 15 and pan.frames_read == 30
    for person in pan.persons:
        assert person.frames == 15 and person.first_seen == 0.0 and person.last_seen == pytest.approx(2.8)
    # through the pan each person stays on their side: the young man left, the old man right
    for frame in pan.frames:
        by_person = {t.person: t.face.box[0] for t in frame.faces}
        assert set(by_person) == {1, 2}
    left = {min((t.face.box[0], t.person) for t in f.faces)[1] for f in pan.frames}
    assert len(left) == 1


def test_settled_age_lies_within_the_frames_and_its_range_is_narrower(pan, video_predictor):
    for person in pan.persons:
        looks = [t.face for f in pan.frames for t in f.faces if t.person == person.person]
        ages = [face.age for face in looks]
        assert min(ages) <= person.age <= max(ages)
        assert person.age_low <= person.age <= person.age_high
        widths = sorted(face.age_high - face.age_low for face in looks)
        assert person.age_high - person.age_low < widths[len(widths) // 2]  # narrower than a typical frame
        assert person.looks > 10
    if video_predictor.model_info.name != "tiny":
        young, old = sorted(pan.persons, key=lambda p: p.age)
        assert young.age < 45 and old.age > 55


def test_a_person_who_leaves_and_comes_back_is_one_person(video_predictor, clips):
    result = analyse_video(video_predictor, clips["leave"])
    assert len(result.persons) == 2
    gone = min(result.persons, key=lambda p: p.frames)
    assert gone.frames == 11 and gone.first_seen == 0.0 and gone.last_seen == pytest.approx(2.8)


def test_a_clip_without_faces_has_no_persons(video_predictor, clips):
    result = analyse_video(video_predictor, clips["empty"])
    assert result.ok and result.persons == () and result.frames_analysed == 5


def test_a_single_frame_gives_its_faces(video_predictor, clips):
    result = analyse_video(video_predictor, clips["still"], thumbnails=True)
    assert len(result.persons) == 2 and all(p.frames == 1 for p in result.persons)
    assert all(p.thumbnail.shape == (160, 160, 3) for p in result.persons)


def test_fps_and_limits(video_predictor, clips):
    every = analyse_video(video_predictor, clips["pan"], VideoOptions(fps=30, max_seconds=1.0))
    assert every.frames_analysed == 10 and every.stopped_at == 1.0 and "only the first 1 s" in every.notes[0]
    with pytest.raises(howold.HowoldError, match="fps must be above 0"):
        VideoOptions(fps=0)


def test_bad_clip_is_a_result_with_one_sentence(video_predictor, tmp_path):
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(100))
    result = analyse_video(video_predictor, bad)
    assert not result.ok and result.error.startswith(f"{bad}: ") and result.error.count(".") <= 3


def test_a_4k_clip(video_predictor, tmp_path, two_people):
    path = write_clip(tmp_path / "uhd.mp4", camera(two_people, 0.2, 10, (3840, 2160)))
    result = analyse_video(video_predictor, path)
    assert (result.width, result.height) == (3840, 2160) and len(result.persons) == 2


def test_annotated_clip_has_every_frame(video_predictor, clips, tmp_path):
    from howold.video.io import VideoReader

    analyse_video(video_predictor, clips["leave"], annotate_to=tmp_path / "a.mp4")
    with VideoReader(tmp_path / "a.mp4") as reader, VideoReader(clips["leave"]) as original:
        drawn, plain = next(reader.frames()).image, next(original.frames()).image
        assert sum(1 for _ in reader.frames()) == 30 - 1
    assert drawn.shape == plain.shape and np.abs(drawn.astype(int) - plain).mean() > 0.5


def test_session_settles_live(video_predictor, two_people):
    session = VideoSession(video_predictor, fps=5)
    for i, frame in enumerate(camera(two_people, 0.8, 5, (640, 360))):
        faces = session.add(frame, i / 5)
    assert {t.person for t in faces} == {1, 2} and set(session.settled_labels()) == {1, 2}


@pytest.mark.data
@pytest.mark.skipif(not GROUP_PHOTO.is_file(), reason="needs ../shared/data (the group photo)")
def test_group_photo_zoom_keeps_every_person(video_predictor, tmp_path):
    scene = howold.load_image(GROUP_PHOTO)
    path = write_clip(tmp_path / "group.mp4", camera(scene, 1.2, 5, (1280, 852), zoom=0.05, noise=2), fps=5)
    result = analyse_video(video_predictor, path, per_frame=True)
    most = max(len(f.faces) for f in result.frames)
    assert most >= 20 and most <= len(result.persons) <= most + 1
