"""Hostile media in process: playlists and SDP files sent as clips, clips that buy minutes of
decoding or gigabytes of frames, progressive-JPEG scan bombs and photos whose data stops early;
each refused or bounded with one sentence, within a stated time."""

from __future__ import annotations

import struct
import time
import warnings
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("av", reason="needs the [video] extra")

from corpus import SDP, blank_tail_jpeg, ffconcat, frame_copies, gradient, save, scan_bomb  # noqa: E402
from PIL import Image  # noqa: E402

from howold import VideoOptions, analyse_video  # noqa: E402
from howold.errors import ImageError, VideoError  # noqa: E402
from howold.io import MAX_JPEG_SCANS, jpeg_scans, load_image, open_photo  # noqa: E402
from howold.video.io import MAX_FRAME_PIXELS, VideoReader  # noqa: E402


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "real.mp4"
    path.write_bytes(frame_copies(64, 48, 10, 10))
    return path


def playlists(target: str) -> dict[str, bytes]:
    return {
        "ffconcat": ffconcat(target),
        "sdp": SDP,
        "hls": f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{target}\n#EXT-X-ENDLIST\n".encode(),
        "file url in a concat": ffconcat(f"file:{target}"),
    }


@pytest.mark.parametrize("kind", ["ffconcat", "sdp", "hls", "file url in a concat"])
def test_playlists_and_sdp_are_no_video_and_open_nothing(small_clip, kind):
    """Before, the concat playlist decoded the server's own file and SDP bound UDP ports for 20 s."""
    data = playlists(str(small_clip))[kind]
    started = time.perf_counter()
    with pytest.raises(VideoError, match=r"^upload\.mp4: is not a video FFmpeg can read \(not an MP4, MOV"):
        VideoReader(data, name="upload.mp4")
    assert time.perf_counter() - started < 1


def test_a_playlist_on_disk_is_refused_too(tmp_path, small_clip):
    playlist = tmp_path / "list.mp4"
    playlist.write_bytes(ffconcat(str(small_clip)))
    with pytest.raises(VideoError, match=r"list\.mp4: is not a video FFmpeg can read"):
        VideoReader(playlist)
    with VideoReader(small_clip) as reader:  # the clip it named is a video
        assert sum(1 for _ in reader.frames()) == 10


def test_a_thousand_frames_a_second_stop_at_the_frame_budget(predictor):
    """10,000 frames of 320x240 in 10 s of clip: an upload decodes SERVICE_MAX_FRAMES of them."""
    data = frame_copies(320, 240, 1000, 10_000)
    started = time.perf_counter()
    result = analyse_video(predictor, data, VideoOptions.upload(max_seconds=60), name="fast.mp4")
    seconds = time.perf_counter() - started
    assert result.ok and result.frames_read == VideoOptions.SERVICE_MAX_FRAMES and result.stopped_by == "frames"
    assert result.stopped_at == pytest.approx(3.6, abs=0.01) and result.frames_analysed == 18
    assert result.notes == ("fast.mp4: only the first 3.6 s were analysed (the limit of 3,600 decoded frames).",)
    assert result.to_dict()["notes"] == list(result.notes)
    assert seconds < 30, seconds


def test_4k_frames_stop_at_the_pixel_budget(predictor):
    data = frame_copies(3840, 2160, 1000, 1000)
    started = time.perf_counter()
    result = analyse_video(predictor, data, VideoOptions.upload(max_seconds=60), name="4k.mp4")
    assert result.ok and result.stopped_by == "pixels"
    assert result.frames_read == VideoOptions.SERVICE_MAX_PIXELS // (3840 * 2160)
    assert "the limit on decoded pixels" in result.notes[0]
    assert time.perf_counter() - started < 45


def test_frames_above_8k_are_refused_before_any_is_decoded(predictor):
    side = 8192  # 8192x8192 is twice the 8K limit; 16000x16000 frames peaked at 4.45 GB before
    data = frame_copies(side, side, 30, 30, rgb=False)
    started = time.perf_counter()
    result = analyse_video(predictor, data, name="huge.mp4")
    assert result.error == (
        f"huge.mp4: its frames are {side}x{side} pixels; the limit is {MAX_FRAME_PIXELS:,} pixels a frame (8K)."
    )
    assert time.perf_counter() - started < 5


def test_frames_sampled_out_are_never_converted(predictor, monkeypatch):
    import howold.video.io as video_io

    converted = []
    upright = video_io.upright
    monkeypatch.setattr(video_io, "upright", lambda image, rotation: converted.append(1) or upright(image, rotation))
    result = analyse_video(predictor, frame_copies(64, 48, 30, 60), VideoOptions(fps=5))
    assert result.frames_read == 60 and result.frames_analysed == 10 and len(converted) == 10


def test_should_stop_ends_the_work_with_a_sentence(predictor):
    asked = []
    result = analyse_video(predictor, frame_copies(64, 48, 30, 300), name="left.mp4",
                           should_stop=lambda: asked.append(1) or len(asked) > 5)  # fmt: skip
    assert result.error == "left.mp4: the analysis was stopped (the request was cancelled)." and len(asked) == 6


def test_the_duration_is_what_the_frames_cover_whatever_the_header_says(predictor, tmp_path):
    """A Matroska header saying 1 s over 3 s of frames used to give "1.0 s" beside persons seen at 2.9 s."""
    import av

    path = tmp_path / "short-header.mkv"
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for image in [gradient(64, 48)] * 30:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode())
    data = bytearray(path.read_bytes())
    at = data.index(b"\x44\x89\x88")  # Segment Info's Duration, an 8-byte float in milliseconds
    data[at + 3 : at + 11] = struct.pack(">d", 1000.0)
    with VideoReader(bytes(data)) as reader:
        assert reader.info.duration == pytest.approx(1.0)
    result = analyse_video(predictor, bytes(data), name="short-header.mkv")
    assert result.duration == pytest.approx(3.0) and result.frames_read == 30 and result.notes == ()


def test_scan_bombs_are_refused_before_decoding():
    """A flat 8000x8000 progressive JPEG repeating its last scan 1,000 times cost 43 s (and 122 s
    on this 2-core machine) before."""
    data = scan_bomb(8000, 1000)
    for read in (load_image, open_photo):
        started = time.perf_counter()
        with pytest.raises(ImageError, match=r"^bomb\.jpg: the JPEG holds 1,009 scans, more than the 64 a photo"):
            read(data, name="bomb.jpg")
        assert time.perf_counter() - started < 1


@pytest.mark.parametrize(("mode", "scans"), [("RGB", 10), ("L", 6), ("CMYK", 18)])
def test_progressive_photos_as_libjpeg_writes_them_load(mode, scans):
    data = save(Image.fromarray(gradient(320, 240)).convert(mode), "JPEG", progressive=True)
    assert jpeg_scans(data) == scans <= MAX_JPEG_SCANS
    assert load_image(data).shape == (240, 320, 3)


def test_exif_thumbnail_scans_do_not_count():
    thumbnail = save(gradient(32, 24), "JPEG", progressive=True)
    exif = Image.Exif()
    exif[0x010E] = "a description"
    data = save(gradient(320, 240), "JPEG", exif=exif.tobytes() + thumbnail)
    assert data.count(b"\xff\xda") == 11 and jpeg_scans(data) == 1


def test_a_jpeg_whose_data_stops_early_is_damaged_not_faceless(predictor):
    data = blank_tail_jpeg()
    for max_side in (None, 100):
        result = predictor.analyse(data, name="cut.jpg", options=replace(predictor.options, max_side=max_side))
        assert result.error == (
            "cut.jpg: the image data is damaged or truncated (its picture data stops early; the rest is blank)."
        )
    whole = save(gradient(640, 480), "JPEG", quality=90)
    grey = np.full((480, 640, 3), 128, np.uint8)  # an all-grey photo is a photo
    assert predictor.analyse(whole).ok and predictor.analyse(save(grey, "JPEG")).ok


def test_an_all_nan_tiff_loads_black_without_a_warning():
    data = save(Image.fromarray(np.full((48, 64), np.nan, np.float32), mode="F"), "TIFF")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_image(data).max() == 0


def test_the_scan_count_script_finds_the_bomb(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "baseline.jpg").write_bytes(save(gradient(), "JPEG"))
    (tmp_path / "progressive.jpg").write_bytes(save(gradient(), "JPEG", progressive=True))
    (tmp_path / "bomb.jpg").write_bytes(scan_bomb(64, 100))
    script = Path(__file__).resolve().parents[2] / "scripts" / "jpeg_scans.py"
    run = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "    1 scans: 1 files",
        "   10 scans: 1 files",
        "  109 scans: 1 files",
        "1 above the limit of 64",
        f"  {tmp_path / 'bomb.jpg'}",
    ]
