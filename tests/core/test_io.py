"""Image loading: every odd or broken input gives an RGB array or one clear ImageError."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from howold.errors import HowoldError, ImageError
from howold.io import load_image, to_rgb_array


def _save(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny valid-looking PNG whose header claims a huge size."""
    data = bytearray(_save(Image.new("RGB", (8, 8)), "PNG"))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


@pytest.fixture(scope="module")
def face_jpeg(face_paths) -> bytes:
    return face_paths[0].read_bytes()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda jpg: b"", "empty"),
        (lambda jpg: jpg[: len(jpg) // 3], "damaged or truncated"),
        (lambda jpg: b"this is a text file, not a photo\n" * 20, "not an image"),
        (lambda jpg: _png_bomb(), "too large to open safely"),
    ],
    ids=["zero-byte", "truncated-jpeg", "text-named-jpg", "header-bomb"],
)
def test_bad_files_raise_one_clear_sentence(tmp_path, face_jpeg, make, message):
    path = tmp_path / "photo.jpg"
    path.write_bytes(make(face_jpeg))
    with pytest.raises(ImageError, match=message) as info:
        load_image(path)
    text = str(info.value)
    assert text.startswith(str(path)) and text.endswith(".") and "\n" not in text


def test_missing_file_and_folder_are_image_errors(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="is a folder"):
        load_image(tmp_path)
    assert issubclass(ImageError, HowoldError)


@pytest.mark.parametrize(
    ("mode", "fmt", "kwargs"),
    [
        ("CMYK", "JPEG", {}),
        ("RGBA", "PNG", {}),
        ("L", "PNG", {}),
        ("P", "PNG", {}),
        ("RGB", "WEBP", {}),
        ("RGB", "BMP", {}),
        ("RGB", "TIFF", {}),
    ],
)
def test_modes_and_formats_become_rgb_uint8(face_images, mode, fmt, kwargs):
    source = Image.fromarray(face_images["adult_40-49"]).convert(mode)
    image = load_image(_save(source, fmt, **kwargs))
    assert image.dtype == np.uint8 and image.shape == (448, 448, 3)
    reference = face_images["adult_40-49"].astype(int)
    if mode not in ("L", "P"):  # colour survives the round trip closely
        assert np.abs(image.astype(int) - reference).mean() < 12


def test_sixteen_bit_png_is_scaled_to_eight_bits(face_images):
    grey = face_images["adult_40-49"].mean(axis=2).astype(np.uint16) * 257
    image = load_image(_save(Image.fromarray(grey), "PNG"))
    assert image.dtype == np.uint8 and image.shape[2] == 3
    assert abs(int(image[..., 0].astype(int).mean()) - int(grey.mean() / 257)) <= 1


def test_one_pixel_image_loads():
    image = load_image(_save(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG"))
    assert image.shape == (1, 1, 3) and image[0, 0].tolist() == [10, 20, 30]


def test_animated_gif_gives_first_frame():
    frames = [Image.new("RGB", (40, 30), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    image = load_image(data)
    assert image.shape == (30, 40, 3)
    assert image[0, 0, 0] > 200 and image[0, 0, 2] < 50


def test_heic_loads(face_images):
    pillow_heif = pytest.importorskip("pillow_heif")
    heif = pillow_heif.from_bytes(mode="RGB", size=(448, 448), data=face_images["child_3-9"].tobytes())
    buffer = io.BytesIO()
    heif.save(buffer, quality=90)
    image = load_image(buffer.getvalue())
    assert image.shape == (448, 448, 3)
    assert np.abs(image.astype(int) - face_images["child_3-9"].astype(int)).mean() < 10


def test_exif_orientation_is_applied(face_images):
    upright = face_images["adult_20-29"][:, :300]  # 448 tall, 300 wide
    stored = np.rot90(upright, k=1)  # orientation 6 means: rotate 90° clockwise to display
    exif = Image.Exif()
    exif[0x0112] = 6
    image = load_image(_save(Image.fromarray(stored), "JPEG", exif=exif.tobytes(), quality=95))
    assert image.shape == upright.shape
    assert np.abs(image.astype(int) - upright.astype(int)).mean() < 8


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.zeros((4, 5), np.uint8), (4, 5, 3)),
        (np.zeros((4, 5, 1), np.uint8), (4, 5, 3)),
        (np.ones((4, 5, 3), np.float32), (4, 5, 3)),
        (np.full((4, 5, 4), 200, np.uint8), (4, 5, 3)),
        (np.full((4, 5), 65535, np.uint16), (4, 5, 3)),
    ],
)
def test_arrays_are_normalised(array, expected):
    out = to_rgb_array(array)
    assert out.shape == expected and out.dtype == np.uint8


def test_bad_array_shape_is_an_image_error():
    with pytest.raises(ImageError, match=r"expected an image array of shape"):
        load_image(np.zeros((4, 5, 2), np.uint8))
