"""Reading and writing clips with PyAV (howold.video.io), and the bad clips people send."""

from __future__ import annotations

import tracemalloc
from fractions import Fraction

import numpy as np
import pytest
from video_clips import background, write_clip

from howold.errors import VideoError
from howold.video.io import VideoReader, VideoWriter


def test_frames_stream_in_order_with_times(clips):
    with VideoReader(clips["pan"]) as reader:
        info = reader.info
        frames = [(f.number, round(f.time, 2), f.image.shape) for f in reader.frames()]
    assert (info.width, info.height, info.fps, info.rotation) == (640, 360, 10.0, 0)
    assert info.duration == pytest.approx(3.0, abs=0.11) and len(frames) == 30
    assert frames[0] == (0, 0.0, (360, 640, 3)) and frames[-1][:2] == (29, 2.9)


@pytest.mark.parametrize("rotation", [90, -90])
def test_rotation_metadata_turns_frames_upright(tmp_path, face_images, rotation):
    portrait = np.ascontiguousarray(face_images["adult_40-49"][:, 64:384])  # 448 high, 320 wide
    stored = np.ascontiguousarray(np.rot90(portrait, k=-rotation // 90))  # as a phone stores it: sideways
    path = write_clip(tmp_path / "phone.mov", [stored] * 3, rotation=rotation, container="mov")
    with VideoReader(path) as reader:
        first = next(reader.frames()).image
    assert (reader.info.width, reader.info.height) == (320, 448) and first.shape == portrait.shape
    assert np.abs(first.astype(int) - portrait).mean() < 6  # upright, not sideways (only H.264 loss)


def test_writer_makes_an_mp4_the_reader_reads(tmp_path):
    with VideoWriter(tmp_path / "out" / "w.mp4", fps=12, width=161, height=121) as writer:
        for i in range(6):
            writer.write(np.full((121, 161, 3), 40 * i, np.uint8))
    with VideoReader(tmp_path / "out" / "w.mp4") as reader:
        assert (reader.info.width, reader.info.height, reader.info.fps) == (160, 120, 12.0)
        assert len(list(reader.frames())) == 6


def not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n")
    return path


def empty_file(tmp_path):
    path = tmp_path / "empty.webm"
    path.write_bytes(b"")
    return path


def zero_frames(tmp_path):
    import av

    path = tmp_path / "zero.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(10))
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        out.start_encoding()
    return path


def head_only(tmp_path, clips):
    path = tmp_path / "cut.mp4"
    path.write_bytes(clips["pan"].read_bytes()[:3000])  # moov atom at the end: nothing to index
    return path


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (not_a_video, r"notes\.mp4: is not a video FFmpeg can read \(not an MP4, MOV"),
        (empty_file, r"empty\.webm: the file is empty \(0 bytes\)"),
        (zero_frames, r"zero\.mp4: holds no video \("),
        (lambda tmp_path: tmp_path / "gone.mp4", r"gone\.mp4: no such file\.$"),
        (head_only, r"cut\.mp4: is not a video FFmpeg can"),
    ],
)
def test_bad_files_are_one_sentence(tmp_path, clips, make, match):
    path = make(tmp_path, clips) if make is head_only else make(tmp_path)
    with pytest.raises(VideoError, match=match):
        VideoReader(path)


def test_a_clip_cut_short_gives_its_first_frames(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (128, 160, 3), dtype=np.uint8) for _ in range(20)]  # noise: big frames
    whole = write_clip(tmp_path / "whole.mkv", frames, container="matroska")  # the index comes first
    data = whole.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    with VideoReader(cut) as reader:
        count = sum(1 for _ in reader.frames())
        assert reader.truncated
    assert 0 < count < 20


def test_a_long_clip_streams_in_bounded_memory(tmp_path):
    """Two hours at one frame every 30 s: every frame goes through, never more than a few held."""
    frames = (background(96, 64) for _ in range(240))
    path = write_clip(tmp_path / "two_hours.mp4", frames, fps=Fraction(1, 30))
    tracemalloc.start()
    with VideoReader(path) as reader:
        assert reader.info.duration == pytest.approx(7200, abs=31)
        last = None
        for frame in reader.frames():
            last = frame
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert last.number == 239 and last.time == pytest.approx(7170) and peak < 5_000_000


@pytest.mark.parametrize("kind", ["file", "bytes"])
def test_an_empty_clip_says_so_as_an_empty_photo_does(tmp_path, kind):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match=r"^.*empty\.mp4: the file is empty \(0 bytes\)\.$"):
        VideoReader(empty if kind == "file" else b"", name=None if kind == "file" else "empty.mp4")
