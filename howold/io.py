"""Image loading: any common photo format to one convention, RGB uint8 HxWx3, upright."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from howold.errors import ImageError, brief
from howold.files import read_regular

ImageSource = str | os.PathLike | bytes | bytearray | memoryview | Image.Image | np.ndarray

# File suffixes the CLI and the batch job pick up when given a folder.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif"})

# The decoders Pillow may use (its own names; JPEG includes MPO), and how messages name them. Nothing
# else is tried: no EPS (which runs Ghostscript), no DDS, ICO, PSD or the other rarely used decoders.
SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "DIB", "TIFF", "GIF", "HEIF")
SUPPORTED_NAMES = "JPEG, PNG, WebP, BMP, TIFF, GIF or HEIC/HEIF"

# The most scans (SOS segments) a JPEG may hold. Each scan is a pass over every pixel: a flat 8000x8000
# progressive JPEG repeating its last refinement scan 1,000 times (459 KiB) cost 43 s, ~43 ms a
# 95-byte scan (issue 26). All 37,690 JPEGs of ../shared/data hold 1 scan (baseline); libjpeg's
# progressive JPEGs hold 10 (colour), 6 (grey) or 18 (CMYK) (`python scripts/jpeg_scans.py FOLDER`).
MAX_JPEG_SCANS = 64
ORIENTATION = 0x0112  # the EXIF tag
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS = (Image.Transpose.TRANSPOSE, Image.Transpose.ROTATE_270, Image.Transpose.TRANSVERSE, Image.Transpose.ROTATE_90)

_heif_registered = False


def _register_heif() -> None:
    """Teach Pillow to open HEIC/HEIF (and load its other plugins), once, when an image is first read."""
    global _heif_registered
    if not _heif_registered:
        Image.init()  # load every Pillow plugin, so that each name in SUPPORTED_FORMATS is known
        try:
            from pillow_heif import register_heif_opener

            register_heif_opener()
        except ImportError:  # pillow-heif is a dependency; tolerate its absence anyway
            pass
        _heif_registered = True


def load_image(source: ImageSource, name: str | None = None, max_side: int | None = None) -> np.ndarray:
    """Return the image as an upright RGB uint8 array of shape (H, W, 3); with `max_side`, shrunk
    so its long side is at most that (a JPEG is decoded at reduced size, never in full)."""
    if max_side is not None:
        return open_photo(source, name).shrunk(max_side)[0]
    if isinstance(source, np.ndarray):
        return to_rgb_array(source)
    if isinstance(source, Image.Image):
        return pil_to_rgb(source)
    data, label = _read(source, name)
    with _decoding(label), _open(data) as image:
        _check_scans(image, data, label)
        image.load()
        _check_complete(image, label)
        return pil_to_rgb(image)


def _read(source: str | os.PathLike | bytes | bytearray | memoryview, name: str | None) -> tuple[bytes, str]:
    """Return the bytes of a file or buffer and the label its messages name it by."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label = bytes(source), name or "the uploaded image"
    else:
        path = Path(source)
        label = name or str(path)
        if not path.exists():
            raise ImageError(f"{label}: no such file.")
        if path.is_dir():
            raise ImageError(f"{label}: is a folder, not an image file.")
        try:
            data = read_regular(path, label)  # a regular file only, and at most MAX_READ_BYTES
        except OSError as exc:
            raise ImageError(f"{label}: cannot be read ({exc.strerror or exc}).") from exc
    if not data:
        raise ImageError(f"{label}: the file is empty (0 bytes).")
    return data, label


def _open(data: bytes) -> Image.Image:
    """Open (not yet decode) an image of one of the supported formats; no other decoder is tried."""
    _register_heif()
    return Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)


def jpeg_scans(data: bytes) -> int:
    """How many scans (SOS segments) a JPEG's bytes hold: 1 for a baseline JPEG, about 10 for a
    progressive one. The header's segments are skipped (an EXIF thumbnail's scans do not count);
    after the first scan every SOS marker counts, as entropy-coded data never holds one."""
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xDA:
            return data.count(b"\xff\xda", at)
        if marker == 0xFF:  # fill byte
            at += 1
        elif marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            at += 2
        else:
            at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return 0


def _check_scans(image: Image.Image, data: bytes, label: str) -> None:
    """Refuse a JPEG of more scans than `MAX_JPEG_SCANS` before decoding it (decoding work grows with them)."""
    if image.format in ("JPEG", "MPO") and (scans := jpeg_scans(data)) > MAX_JPEG_SCANS:
        raise ImageError(
            f"{label}: the JPEG holds {scans:,} scans, more than the {MAX_JPEG_SCANS} a photo "
            "ever needs; it may be built to take minutes to decode."
        )


def _check_complete(image: Image.Image, label: str, full_height: int | None = None) -> None:
    """Refuse a decoded baseline JPEG whose data stopped before its picture did: libjpeg fills the
    rest with mid-grey (every channel exactly 128) and says nothing when the file still ends with
    its end marker. Seen as a bottom row of blocks (8 rows at full size; `full_height` for a copy
    decoded smaller) that is exactly that grey under a top row that is not."""
    if image.format not in ("JPEG", "MPO") or image.info.get("progressive") or image.height < 2:
        return
    rows = max(1, round(8 * image.height / (full_height or image.height)))
    if 2 * rows > image.height:
        return
    bottom = np.asarray(image.crop((0, image.height - rows, image.width, image.height)))
    if (bottom == 128).all() and not (np.asarray(image.crop((0, 0, image.width, rows))) == 128).all():
        raise ImageError(
            f"{label}: the image data is damaged or truncated (its picture data stops early; the rest is blank)."
        )


@contextmanager
def _decoding(label: str) -> Iterator[None]:
    """Turn whatever a decoder raises into one ImageError sentence naming the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            f"{label}: the image is too large to open safely "
            f"(over {Image.MAX_IMAGE_PIXELS:,} pixels); it may be a decompression bomb."
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"{label}: not an image, or not a supported image format ({SUPPORTED_NAMES}).") from exc
    except MemoryError as exc:
        raise ImageError(f"{label}: the image is too large to decode in the memory available.") from exc
    except Exception as exc:  # a damaged file can trip any decoder in any way
        raise ImageError(f"{label}: the image data is damaged or truncated ({brief(exc)}).") from exc


def pil_to_rgb(image: Image.Image) -> np.ndarray:
    """Return a PIL image as upright 8-bit RGB (EXIF orientation applied, current frame only)."""
    method = _TRANSPOSE.get(image.getexif().get(ORIENTATION, 1))
    if method is not None:
        image = image.transpose(method)
    return _rgb(image)


def _rgb(image: Image.Image) -> np.ndarray:
    """Return a PIL image of any mode as an RGB uint8 array, without turning it upright."""
    if image.width < 1 or image.height < 1:
        raise ImageError("the image has no pixels.")
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return to_rgb_array(np.asarray(image))
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return _array(image)


def _array(image: Image.Image, band_bytes: int = 1 << 22) -> np.ndarray:
    """Copy an RGB PIL image into a new array band by band, never holding a second full copy."""
    width, height = image.size
    if 3 * width * height <= band_bytes:  # one band: no crop to copy it through
        return np.array(image)
    out = np.empty((height, width, 3), np.uint8)
    rows = max(1, band_bytes // (3 * width))
    for top in range(0, height, rows):
        out[top : top + rows] = np.asarray(image.crop((0, top, width, min(height, top + rows))))
    return out


class Photo:
    """A photo being analysed: its upright size, a small copy for the detector, full-size regions.

    An RGB array underneath (any source but a JPEG file). `open_photo` gives a JPEG its own kind,
    decoded at reduced size for the detector.
    """

    def __init__(self, pixels: np.ndarray) -> None:
        self.pixels = pixels

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the upright photo."""
        return self.pixels.shape[:2]

    def shrunk(self, max_side: int | None) -> tuple[np.ndarray, float]:
        """The photo shrunk so its long side is at most max_side, and the scale used."""
        return downscale(self.pixels, max_side)

    def region(self, box: tuple[int, int, int, int]) -> np.ndarray:
        """The RGB pixels of (x0, y0, x1, y1), a box inside the upright photo, at full resolution."""
        x0, y0, x1, y1 = box
        return self.pixels[y0:y1, x0:x1]


class JpegPhoto(Photo):
    """A JPEG: the detector's copy is decoded at 1/2, 1/4 or 1/8 size (libjpeg's DCT scaling); the
    full-size pixels are decoded only when a face region is asked for, and kept in the file's own
    mode (at most 4 bytes a pixel), so no full-size RGB copy is ever made."""

    def __init__(self, data: bytes, label: str, image: Image.Image) -> None:
        self.data, self.label = data, label
        self.raw_size = image.size
        self.method = _TRANSPOSE.get(image.getexif().get(ORIENTATION, 1))
        self._opened: Image.Image | None = image  # opened, not decoded: the first decode uses it
        self._full: Image.Image | None = None
        # a photo the detector sees at full size is decoded once into the RGB array it is given; its
        # regions are slices of it (on UTKFace's 200x200 chips each region cost 0.5 ms through PIL)
        self._pixels: np.ndarray | None = None

    def _image(self) -> Image.Image:
        """The file opened for one decode: the one `open_photo` opened first, a fresh one after."""
        image, self._opened = self._opened, None
        return _open(self.data) if image is None else image

    @property
    def shape(self) -> tuple[int, int]:
        width, height = self.raw_size
        return (width, height) if self.method in _SWAPS else (height, width)

    def shrunk(self, max_side: int | None) -> tuple[np.ndarray, float]:
        height, width = self.shape
        if max_side is None or max(height, width) <= max_side:
            if self._pixels is None:
                full = self._decoded()
                self._pixels = _rgb(full.transpose(self.method) if self.method is not None else full)
                self._full = None  # every region is a slice of the array now
            return self._pixels, 1.0
        scale = max_side / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        with _decoding(self.label), self._image() as image:
            image.draft(None, size[::-1] if self.method in _SWAPS else size)
            image.load()
            _check_complete(image, self.label, self.raw_size[1])
            small = _rgb(image.transpose(self.method) if self.method is not None else image)
        return cv2.resize(small, size, interpolation=cv2.INTER_AREA), scale

    def region(self, box: tuple[int, int, int, int]) -> np.ndarray:
        if self._pixels is not None:
            x0, y0, x1, y1 = box
            return self._pixels[y0:y1, x0:x1]
        full = self._decoded()
        with _decoding(self.label):
            piece = full.crop(raw_box(box, self.method, self.raw_size))
            return _rgb(piece.transpose(self.method) if self.method is not None else piece)

    def _decoded(self) -> Image.Image:
        """The full-size image, decoded on first use and kept."""
        if self._full is None:
            with _decoding(self.label):
                full = self._image()
                full.load()
                _check_complete(full, self.label)
            self._full = full
        return self._full


def open_photo(source: ImageSource, name: str | None = None) -> Photo:
    """Open a photo for analysis; a JPEG file or buffer is decoded only as far as it is needed."""
    if isinstance(source, (np.ndarray, Image.Image)):
        return Photo(load_image(source))
    data, label = _read(source, name)
    with _decoding(label):
        image = _open(data)
        _check_scans(image, data, label)
        if image.format in ("JPEG", "MPO"):
            photo = JpegPhoto(data, label, image)  # which keeps the opened image for its first decode
            if photo.shape[0] < 1 or photo.shape[1] < 1:
                raise ImageError(f"{label}: the image has no pixels.")
            return photo
        with image:
            image.load()
            return Photo(pil_to_rgb(image))


def raw_box(box: tuple[int, int, int, int], method: Image.Transpose | None, raw_size: tuple[int, int]):
    """Map a box of the upright photo to the stored (not yet transposed) image's pixels."""
    x0, y0, x1, y1 = box
    width, height = raw_size
    T = Image.Transpose
    corners = {
        None: (x0, y0, x1, y1),
        T.FLIP_LEFT_RIGHT: (width - x1, y0, width - x0, y1),
        T.ROTATE_180: (width - x1, height - y1, width - x0, height - y0),
        T.FLIP_TOP_BOTTOM: (x0, height - y1, x1, height - y0),
        T.TRANSPOSE: (y0, x0, y1, x1),
        T.ROTATE_90: (width - y1, x0, width - y0, x1),
        T.ROTATE_270: (y0, height - x1, y1, height - x0),
        T.TRANSVERSE: (width - y1, height - x1, width - y0, height - x0),
    }
    return corners[method]


def downscale(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """Return the image shrunk so its long side is at most max_side, and the scale used."""
    long_side = max(image.shape[:2])
    if max_side is None or long_side <= max_side:
        return image, 1.0
    scale = max_side / long_side
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


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
        array = np.nan_to_num(array, posinf=255.0, neginf=0.0)  # NaN is black; no warning for an all-NaN image
        scale = 255.0 if array.size and float(array.max()) <= 1.0 else 1.0
        return np.clip(array * scale, 0, 255).round().astype(np.uint8)
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
