"""Video files in and out with PyAV (FFmpeg in a wheel): frames streamed one at a time, upright, as
RGB uint8 HxWx3, and MP4 (H.264) written the same way. Nothing here holds more than one frame.

PyAV is the `[video]` extra; it is imported when a video is first opened, and a missing extra is
a `VideoError` saying how to install it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from howold.errors import VideoError, brief
from howold.extras import install_hint

# File suffixes read as videos (the CLI, the batch job and the page pick these up).
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"})
EXTRA_MESSAGE = f"reading video needs the [video] extra: {install_hint('video')}"

# The only FFmpeg demuxers a clip is opened with, chosen from its first bytes (`container_format`), never
# by FFmpeg's own sniffing: its concat, HLS, SDP/RTP and image-sequence demuxers open the files and
# sockets a "clip" names (an uploaded ffconcat playlist returned the ages in a photo on the server's
# disk; an SDP one bound UDP ports; issue 26). No protocol may be opened from inside a clip either.
DEMUXERS = "mov,matroska,avi"
# The largest frame decoded: 8K UHD. A 753 KB clip of 16000x16000 frames peaked at 4.45 GB (issue 26);
# the decoders refuse bigger frames themselves (max_pixels), in the probe that opening runs (which
# decodes a frame) and should a stream change size midway.
MAX_FRAME_PIXELS = 7680 * 4320
DECODER_OPTIONS = {"max_pixels": str(MAX_FRAME_PIXELS)}
# PyAV hands these to the demuxer and, with DECODER_OPTIONS, to the decoders of the opening probe
OPEN_OPTIONS = {"format_whitelist": DEMUXERS, "protocol_whitelist": "none", "enable_drefs": "0", **DECODER_OPTIONS}
_IMAGE_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif")
# QuickTime files written before the ftyp box existed start with one of these boxes instead
_QUICKTIME_BOXES = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


@dataclass(frozen=True)
class VideoInfo:
    """A clip's video stream as its container describes it: size upright (after `rotation`, the
    degrees its display matrix turns it by), frame rate, and duration in seconds (None: unknown)."""

    source: str
    width: int
    height: int
    fps: float
    duration: float | None
    frames: int | None
    rotation: int
    codec: str


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: its number in the stream, its time in seconds, its upright size, and its
    upright RGB pixels (`image`), converted from the decoder's picture only when first asked for, so
    that frames sampled out cost their decoding and nothing more."""

    number: int
    time: float
    width: int
    height: int
    decoded: Any = field(repr=False, compare=False)  # PyAV's frame
    rotation: int = 0

    @cached_property
    def image(self) -> np.ndarray:
        return upright(self.decoded.to_ndarray(format="rgb24"), self.rotation)


def _av():
    try:
        import av
    except ImportError as exc:
        raise VideoError(f"{EXTRA_MESSAGE} ({exc}).") from exc
    return av


def is_video(path: str | os.PathLike) -> bool:
    """True when the file's suffix is one howold reads as a video."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def container_format(data: bytes) -> str | None:
    """The FFmpeg demuxer for bytes that start like an MP4/MOV ("mov"), Matroska/WebM ("matroska")
    or AVI ("avi") file; None for anything else (photos never match: HEIC shares MP4's box layout
    but names an image brand)."""
    head = bytes(data[:16])
    if head[4:8] == b"ftyp":
        return None if head[8:12] in _IMAGE_BRANDS else "mov"
    if head[4:8] in _QUICKTIME_BOXES:
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    return None


def looks_like_video(data: bytes) -> bool:
    """True when the bytes start like an MP4/MOV, Matroska/WebM or AVI file."""
    return container_format(data) is not None


class VideoReader:
    """An open clip: `info`, then `frames()` streams them. Use as a context manager.

    A file that is missing, not a video, or has no video stream raises `VideoError` on opening, and
    so does one whose frames are above `MAX_FRAME_PIXELS`. Only the MP4/MOV, Matroska/WebM and AVI
    demuxers are used (`DEMUXERS`), on the bytes alone: FFmpeg never opens a file or a socket a
    clip names. A clip cut short (a truncated download) gives the frames before the damage and sets
    `truncated`; damage before any frame raises `VideoError`.
    """

    def __init__(self, source: str | os.PathLike | bytes, name: str | None = None) -> None:
        av = _av()
        self.label = name or ("video" if isinstance(source, bytes) else str(source))
        self.truncated = False
        if isinstance(source, bytes):  # an upload, read from memory
            if not source:
                raise VideoError(f"{self.label}: the file is empty (0 bytes).")
            target: BinaryIO = io.BytesIO(source)
        else:
            path = Path(source)
            if not path.is_file():
                reason = "no such file" if not path.exists() else "is not a file"
                raise VideoError(f"{self.label}: {reason}.")
            if path.stat().st_size == 0:  # as a photo's: FFmpeg would only say it found no format
                raise VideoError(f"{self.label}: the file is empty (0 bytes).")
            try:  # read through Python, so that FFmpeg opens no file itself, this one included
                target = path.open("rb")
            except OSError as exc:
                raise VideoError(f"{self.label}: cannot be read ({exc.strerror or exc}).") from exc
        self._file = target
        head = target.read(16)
        target.seek(0)
        demuxer = container_format(head)
        if demuxer is None:
            target.close()
            raise VideoError(f"{self.label}: is not a video FFmpeg can read (not an MP4, MOV, MKV, WebM or AVI file).")
        try:
            self._container = av.open(target, format=demuxer, options=OPEN_OPTIONS, metadata_errors="ignore")
        except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            target.close()
            raise VideoError(f"{self.label}: is not a video FFmpeg can read ({_reason(exc)}).") from exc
        if not self._container.streams.video:
            self.close()
            raise VideoError(f"{self.label}: holds no video (no video stream, or one without frames).")
        self._stream = self._container.streams.video[0]
        self._check_size(self._stream.codec_context.width, self._stream.codec_context.height)
        self._stream.codec_context.options = dict(DECODER_OPTIONS)
        self._stream.thread_type = "AUTO"
        self._decoded = self._container.decode(self._stream)
        self._number = 0
        self._first = self._next_frame()  # a file whose first frame cannot be decoded fails here
        if self._first is None:
            self.close()
            raise VideoError(f"{self.label}: holds no video (its video stream has no frames).")
        self.info = self._describe(self._first)

    def _describe(self, first: VideoFrame) -> VideoInfo:
        stream, container = self._stream, self._container
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        duration = None
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        width, height = first.width, first.height
        frames = stream.frames or (round(duration * fps) if duration and fps else None)
        return VideoInfo(self.label, width, height, fps, duration, frames, self._rotation, stream.codec_context.name)

    def _next_frame(self) -> VideoFrame | None:
        """The next decoded frame, upright; None at the end or (after the first) at damaged data."""
        av = _av()
        try:
            frame = next(self._decoded)
        except StopIteration:
            return None
        except (av.FFmpegError, ValueError, MemoryError) as exc:
            if self._number == 0:
                self.close()
                raise VideoError(f"{self.label}: is not a video FFmpeg can decode ({_reason(exc)}).") from exc
            self.truncated = True
            return None
        if self._number == 0:
            rate = self._stream.average_rate or self._stream.guessed_rate
            self._fps = float(rate) if rate else 25.0
            self._rotation = round((getattr(frame, "rotation", 0) or 0) / 90) * 90 % 360
        self._check_size(frame.width, frame.height)
        time = float(frame.time) if frame.time is not None else self._number / self._fps
        width, height = (frame.height, frame.width) if self._rotation in (90, 270) else (frame.width, frame.height)
        frame = VideoFrame(self._number, time, width, height, frame, self._rotation)
        self._number += 1
        return frame

    def _check_size(self, width: int, height: int) -> None:
        if width * height > MAX_FRAME_PIXELS:
            self.close()
            raise VideoError(
                f"{self.label}: its frames are {width}x{height} pixels; the limit is "
                f"{MAX_FRAME_PIXELS:,} pixels a frame (8K)."
            )

    def frames(self) -> Iterator[VideoFrame]:
        """The frames not yet read, in order, upright RGB; stops early (setting `truncated`) at
        damaged data."""
        frame = self._first if self._first is not None else self._next_frame()
        self._first = None
        while frame is not None:
            yield frame
            frame = self._next_frame()
        duration = self.info.duration
        if duration and self._number / self._fps < 0.5 * duration and duration - self._number / self._fps > 1:
            self.truncated = True  # the container promises much more than the file holds

    def close(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            container.close()
        self._file.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _reason(exc: BaseException) -> str:
    """FFmpeg's own words for an error, without the errno and the file name PyAV adds."""
    text = getattr(exc, "strerror", None) or brief(exc)
    return text[0].lower() + text[1:] if text else type(exc).__name__


def upright(image: np.ndarray, rotation: float) -> np.ndarray:
    """The frame as it is meant to be seen: `rotation` is the display matrix's angle in degrees
    (counter-clockwise; FFmpeg's autorotate turns the picture by it)."""
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(image, k=turns)) if turns else image


class VideoWriter:
    """Write RGB frames to an MP4 (H.264, yuv420p) one at a time, to a file (index first, so that
    browsers play it as it loads) or a binary buffer (io.BytesIO; a fragmented MP4, which they play
    too); sizes are rounded down to even."""

    def __init__(
        self, path: str | os.PathLike | io.BytesIO, fps: float, width: int, height: int, crf: int = 23
    ) -> None:
        av = _av()
        buffer = isinstance(path, io.IOBase)
        self.path = Path("video.mp4") if isinstance(path, io.IOBase) else Path(path)
        self.width, self.height = max(2, width - width % 2), max(2, height - height % 2)
        try:
            if not buffer:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            target = path if buffer else os.fspath(self.path)
            # the index first (faststart) rewrites a file once written; a buffer gets a fragmented MP4 instead
            flags = "frag_keyframe+empty_moov+default_base_moof" if buffer else "+faststart"
            self._container = av.open(target, mode="w", format="mp4", options={"movflags": flags})
        except (OSError, av.FFmpegError) as exc:
            raise VideoError(f"{self.path}: cannot write the video ({_reason(exc)}).") from exc
        rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(25)
        self._stream = self._container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=rate)
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": str(crf), "preset": "veryfast"}
        self._av = av

    def write(self, image: np.ndarray) -> None:
        if image.shape[:2] != (self.height, self.width):
            image = _fit(image, self.width, self.height)
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (OSError, self._av.FFmpegError) as exc:
            raise VideoError(f"{self.path}: cannot write the video ({_reason(exc)}).") from exc

    def close(self) -> None:
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        except (OSError, self._av.FFmpegError) as exc:
            raise VideoError(f"{self.path}: cannot write the video ({_reason(exc)}).") from exc
        finally:
            try:
                self._container.close()
            except (OSError, self._av.FFmpegError) as exc:
                raise VideoError(f"{self.path}: cannot finish the video ({_reason(exc)}).") from exc

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Crop (never scale) the frame to the writer's size: odd sizes lose a row or column."""
    if image.shape[0] >= height and image.shape[1] >= width:
        return image[:height, :width]
    import cv2

    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
