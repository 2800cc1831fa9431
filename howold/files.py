"""Reading a named file, or standard input, without trusting what the name points at.

A path can name a FIFO (which blocks its reader until something writes to it, that is forever),
a device such as /dev/zero (endless bytes), or a symlink to either. So a file is opened with
O_NONBLOCK (opening a FIFO then returns at once instead of waiting for a writer), checked with
fstat on the open descriptor (no gap between the check and the read), refused unless it is a
regular file, and read only up to a cap, as standard input is.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import BinaryIO

from howold.errors import ImageError, VideoError

# The most bytes read from one photo file or from stdin. Pillow refuses images over twice
# Image.MAX_IMAGE_PIXELS (179 M pixels); one at that size stored uncompressed as 8-bit RGB is 512 MiB,
# so no photo howold can decode is larger, and an endless source stops here instead of at MemoryError.
MAX_READ_BYTES = 512 * 2**20

_CHUNK = 1 << 20
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"),
)  # fmt: skip


def kind_of(mode: int) -> str:
    """What a non-regular file is, in a few words ("a FIFO (named pipe)", "a character device")."""
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def not_regular_message(label: str, mode: int) -> str:
    return f"{label}: is {kind_of(mode)}, not a regular file; only regular files are read."


def read_regular(path: str | os.PathLike, label: str, limit: int = MAX_READ_BYTES) -> bytes:
    """Return the bytes of the regular file at `path`; raise ImageError naming `label` when it is a
    FIFO, device, socket or folder, or holds more than `limit` bytes. OSError (missing, no
    permission) passes through for the caller to word."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb", buffering=0) as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(not_regular_message(label, info.st_mode))
        if info.st_size > limit:
            raise ImageError(_too_large(label, limit))
        return _capped(file, label, limit, first=info.st_size + 1)


def read_stdin(limit: int = MAX_READ_BYTES, stream: BinaryIO | None = None) -> bytes:
    """Return what standard input holds, refusing (ImageError) once it passes `limit` bytes."""
    return _capped(stream or sys.stdin.buffer, "stdin", limit)


def check_regular(path: str | os.PathLike, label: str | None = None) -> None:
    """Raise VideoError unless `path` (symlinks followed) is a regular file, for readers that open the
    path themselves (the video decoder); a missing file is left to them to report."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode):
        raise VideoError(not_regular_message(label or str(path), mode))


def _capped(file: BinaryIO, label: str, limit: int, first: int = _CHUNK) -> bytes:
    """Read to the end, refusing past `limit`; a file of known size comes in one read (no second copy)."""
    chunks: list[bytes] = []
    size, want = 0, first
    while size <= limit:
        chunk = file.read(min(want, limit + 1 - size))
        if not chunk:
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        want = _CHUNK
    raise ImageError(_too_large(label, limit))


def _too_large(label: str, limit: int) -> str:
    return f"{label}: is larger than {limit // 2**20} MiB, more than howold reads from one file."
