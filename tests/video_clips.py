"""Real clips built in code from the fixture photos: written with PyAV (H.264 in MP4 unless asked
otherwise) and read back by howold like any clip from a camera."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np


def write_clip(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: float = 10,
    codec: str = "libx264",
    rotation: int | None = None,
    container: str | None = None,
) -> Path:
    """Encode RGB frames (all one size, even sides) to `path`; `rotation` sets the display matrix."""
    import av

    frames = iter(frames)
    first = next(frames)
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = first.shape[1], first.shape[0]
        stream.pix_fmt = "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for image in (first, *frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def background(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth colour gradient: nothing a detector could call a face."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 200 // max(width, 1) + 30, y * 200 // max(height, 1) + 30, np.full_like(x, 120)], axis=2)
    return base.astype(np.uint8)


def camera(
    scene: np.ndarray,
    seconds: float,
    fps: float,
    size: tuple[int, int],
    pan: float = 0.0,
    zoom: float = 0.0,
    noise: float = 0.0,
    seed: int = 0,
    hide: Callable[[float], list[tuple[int, int, int, int]]] | None = None,
):
    """Frames of a camera looking at `scene` (RGB): a (width, height) window that sweeps right across
    `pan` of the scene's spare width, centred, and zooms in by `zoom` (0.1: 10 %) over the clip, with Gaussian noise
    of `noise` grey levels. `hide(t)` lists scene rectangles covered by background at time t."""
    rng = np.random.default_rng(seed)
    width, height = size
    count = max(1, round(seconds * fps))
    cover = background(scene.shape[1], scene.shape[0])
    for i in range(count):
        t = i / fps
        progress = i / max(count - 1, 1)
        shown = scene
        if hide:
            shown = scene.copy()
            for x1, y1, x2, y2 in hide(t):
                shown[y1:y2, x1:x2] = cover[y1:y2, x1:x2]
        scale = height / scene.shape[0] * (1 + zoom * progress)
        view_w, view_h = width / scale, height / scale
        spare = max(scene.shape[1] - view_w, 0)
        x0 = spare * (0.5 + pan * (progress - 0.5))
        y0 = (scene.shape[0] - view_h) / 2
        matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], np.float32)
        frame = cv2.warpAffine(shown, matrix, (width, height), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
        if noise:
            frame = np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8)
        yield frame


def side_by_side(images: list[np.ndarray], gap: int = 96, margin: int = 0) -> np.ndarray:
    """The photos in a row on a background, `gap` pixels apart, with `margin` more pixels of
    background left and right: a scene of several people."""
    height = max(i.shape[0] for i in images)
    width = sum(i.shape[1] for i in images) + gap * (len(images) + 1) + 2 * margin
    scene = background(width, height + 2 * gap)
    x = gap + margin
    for image in images:
        scene[gap : gap + image.shape[0], x : x + image.shape[1]] = image
        x += image.shape[1] + gap
    return scene
