"""Drawing results on a copy of the photo; separate from inference, which never sees drawn pixels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from howold.pipeline import Face

BOX_COLOUR = (255, 196, 0)
WARN_COLOUR = (255, 90, 60)
TEXT_COLOUR = (0, 0, 0)
LANDMARK_COLOUR = (0, 220, 255)


def annotate(image: np.ndarray, faces: Sequence[Face], landmarks: bool = False) -> np.ndarray:
    """Return a copy of the RGB image with each face boxed and labelled '34 (29–39)'."""
    canvas = Image.fromarray(image).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    long_side = max(canvas.size)
    for number, face in enumerate(faces, start=1):
        x1, y1, x2, y2 = face.box
        face_side = max(x2 - x1, y2 - y1)
        line = max(2, round(max(face_side / 40, long_side / 600)))
        colour = WARN_COLOUR if "low_confidence" in face.warnings else BOX_COLOUR
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=line)
        if landmarks:
            radius = max(2, line)
            for x, y in face.landmarks:
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=LANDMARK_COLOUR)
        text_size = max(12, round(max(face_side / 5, long_side / 120)))
        font = _font(text_size)
        text = f"#{number} {face.label}".replace("–", "-")  # the built-in font has no en dash
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        pad = max(2, text_size // 6)
        width, height = right - left + 2 * pad, bottom - top + 2 * pad
        tx = min(max(0, x1), canvas.width - width)
        ty = y1 - height if y1 - height >= 0 else min(y2, canvas.height - height)
        draw.rectangle((tx, ty, tx + width, ty + height), fill=colour)
        draw.text((tx + pad - left, ty + pad - top), text, fill=TEXT_COLOUR, font=font)
    return np.asarray(canvas)


_fonts: dict[int, ImageFont.ImageFont] = {}


def _font(size: int):
    if size not in _fonts:
        try:
            _fonts[size] = ImageFont.load_default(size=size)
        except (TypeError, ImportError, OSError):  # Pillow without FreeType: fixed bitmap font
            _fonts[size] = ImageFont.load_default()
    return _fonts[size]
