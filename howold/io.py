"""Image loading: any common photo format to one convention, RGB uint8 HxWx3, upright."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from howold.errors import ImageError

ImageSource = str | os.PathLike | bytes | bytearray | memoryview | Image.Image | np.ndarray

# File suffixes the CLI and the batch job pick up when given a folder.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif"}
)

_heif_registered = False


def _register_heif() -> None:
    """Teach Pillow to open HEIC/HEIF, once and only when an image is actually read."""
    global _heif_registered
    if not _heif_registered:
        try:
            from pillow_heif import register_heif_opener

            register_heif_opener()
        except ImportError:  # pillow-heif is a dependency; tolerate its absence anyway
            pass
        _heif_registered = True


def load_image(source: ImageSource, name: str | None = None) -> np.ndarray:
    """Return the image as an upright RGB uint8 array of shape (H, W, 3)."""
    if isinstance(source, np.ndarray):
        return to_rgb_array(source)
    if isinstance(source, Image.Image):
        return pil_to_rgb(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = name or "the uploaded image"
        return _decode(bytes(source), label)
    path = Path(source)
    label = name or str(path)
    if not path.exists():
        raise ImageError(f"{label}: no such file.")
    if path.is_dir():
        raise ImageError(f"{label}: is a folder, not an image file.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{label}: cannot be read ({exc.strerror or exc}).") from exc
    return _decode(data, label)


def _decode(data: bytes, label: str) -> np.ndarray:
    if not data:
        raise ImageError(f"{label}: the file is empty (0 bytes).")
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                return pil_to_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            f"{label}: the image is too large to open safely "
            f"(over {Image.MAX_IMAGE_PIXELS:,} pixels); it may be a decompression bomb."
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"{label}: not an image, or a format howold cannot read.") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{label}: the image data is damaged or truncated ({exc}).") from exc


def pil_to_rgb(image: Image.Image) -> np.ndarray:
    """Return a PIL image as upright 8-bit RGB (EXIF orientation applied, first frame only)."""
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    image = ImageOps.exif_transpose(image)
    if image.width < 1 or image.height < 1:
        raise ImageError("the image has no pixels.")
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return to_rgb_array(np.asarray(image))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def to_rgb_array(array: np.ndarray) -> np.ndarray:
    """Return an RGB uint8 (H, W, 3) copy of a grey, RGB or RGBA array of any integer or float depth."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"expected an image array of shape (H, W) or (H, W, 3|4), got {array.shape}.")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ImageError("the image has no pixels.")
    array = _to_uint8(array)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.shape[2] == 4:
        alpha = array[:, :, 3:4].astype(np.float32) / 255.0
        array = (array[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(array)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        scale = 255.0 if array.size and float(np.nanmax(array)) <= 1.0 else 1.0
        return np.clip(np.nan_to_num(array) * scale, 0, 255).round().astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        peak = int(array.max()) if array.size else 0
        if peak <= 255:
            return array.astype(np.uint8)
        bits = 16 if peak <= 65535 else 32
        return (array.astype(np.float64) / (2**bits - 1) * 255.0).round().astype(np.uint8)
    raise ImageError(f"unsupported image array type {array.dtype}.")


def save_image(image: np.ndarray, path: str | os.PathLike, quality: int = 92) -> None:
    """Write an RGB uint8 array to a file; the format follows the suffix."""
    pil = Image.fromarray(image)
    suffix = Path(path).suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        pil.save(path, quality=quality)
    else:
        pil.save(path)


def encode_png(image: np.ndarray) -> bytes:
    """Return an RGB uint8 array as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()
