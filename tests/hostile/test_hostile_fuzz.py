"""A seeded fuzz run: a few hundred mutated files of each format through `Predictor.analyse()`.

Whatever the bytes, analyse() returns a PhotoResult (with a one-sentence error when the photo
cannot be read) and raises nothing. The mutants are the same on every run (fixed seeds), so a
failure names a file that can be rebuilt with `mutants(fmt)`.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from corpus import save
from PIL import Image

from howold.pipeline import PhotoResult

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns of some damage it survives

PER_FORMAT = 250
FORMATS = {  # Pillow's name, save options
    "JPEG": {"quality": 90},
    "PNG": {},
    "WEBP": {"quality": 80},
    "BMP": {},
    "TIFF": {"compression": "tiff_deflate"},
    "GIF": {},
    "HEIF": {"quality": 80},
    "DDS": {},  # refused by name, whatever its bytes: not a supported format
    "EPS": {},
}


def base_file(face: np.ndarray, fmt: str) -> bytes:
    image = Image.fromarray(face)
    if fmt == "HEIF":
        pytest.importorskip("pillow_heif").register_heif_opener()
    if fmt == "DDS":
        image = image.convert("RGBA")
    return save(image, fmt, **FORMATS[fmt])


def mutants(data: bytes, seed: int, count: int) -> list[bytes]:
    """Byte flips (half of them in the first 128 bytes, where the headers are), cuts and splices."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        buffer = bytearray(data)
        kind = rng.integers(0, 4)
        if kind < 2:
            span = min(len(buffer), 128) if kind == 0 else len(buffer)
            for at in rng.integers(0, span, rng.integers(1, 9)):
                buffer[at] = int(rng.integers(0, 256))
        elif kind == 2:
            buffer = buffer[: rng.integers(1, len(buffer))]
        else:
            at = int(rng.integers(0, len(buffer)))
            buffer[at:at] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
        out.append(bytes(buffer))
    return out


@pytest.fixture(scope="module")
def face(face_images) -> np.ndarray:
    return np.asarray(Image.fromarray(face_images["adult_20-29"]).resize((96, 96)))


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_nothing_but_a_result_comes_out_of_analyse(predictor, face, fmt):
    start = time.perf_counter()
    base = base_file(face, fmt)
    failures, errors = [], 0
    for number, data in enumerate(mutants(base, seed=sum(map(ord, fmt)), count=PER_FORMAT)):
        try:
            result = predictor.analyse(data, name=f"mutant-{number}.{fmt.lower()}")
        except Exception as exc:  # the test's point: nothing may escape
            failures.append(f"mutant {number}: {type(exc).__name__}: {exc}")
            continue
        assert isinstance(result, PhotoResult)
        if not result.ok:
            errors += 1
            assert result.error.endswith(".") and "\n" not in result.error, result.error
    assert not failures, failures[:5]
    assert errors > 0  # the mutants do reach the error paths
    assert time.perf_counter() - start < 15, f"{fmt}: {PER_FORMAT} mutants took too long"
