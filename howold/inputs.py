"""What the command line and the batch job analyse: files, folders, glob patterns and lists of paths
turned into one ordered list of photos and videos. The one input-discovery module of howold.

A folder gives its photos and videos (sorted; its sub-folders too with `recursive`). A pattern
such as `photos/**/*.jpg` gives the photos and videos it matches. A `.txt` or `.lst` file gives
the paths it lists, one per line (blank lines and lines starting with # are skipped; relative
paths are relative to the list's folder). Any other path is kept as given, even if it does not
exist, so that it is reported as that file's error rather than dropped. Each path comes once.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from howold.errors import HowoldError
from howold.io import IMAGE_SUFFIXES
from howold.video_io import VIDEO_SUFFIXES

MEDIA_SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES
LIST_SUFFIXES = frozenset({".txt", ".lst"})  # files holding a list of paths, one per line


class InputError(HowoldError):
    """The inputs named no photo or video, or a list or pattern could not be read."""


def is_media(path: str | Path) -> bool:
    """True when the suffix is one of a photo or a video howold reads."""
    return Path(path).suffix.lower() in MEDIA_SUFFIXES


def find_inputs(inputs: Iterable[str | Path], recursive: bool = False) -> list[str]:
    """Return the photos and videos named by files, folders, patterns and lists, each once, in order.

    Raises `InputError` when there are none, saying so (with a hint to add -r when a folder named
    holds none itself but its sub-folders do), or when a pattern matches nothing.
    """
    inputs = [str(raw) for raw in inputs]
    found: dict[str, None] = {}
    for raw in inputs:
        for path in _expand(raw, recursive):
            found.setdefault(path, None)
    if not found:
        raise InputError(no_inputs_message(inputs, recursive))
    return list(found)


def no_inputs_message(inputs: Iterable[str], recursive: bool = False) -> str:
    """One sentence: nothing to analyse, with a hint to use -r when that would find something."""
    message = "no image or video files found in the given paths"
    if not recursive:
        nested = [raw for raw in inputs if Path(raw).is_dir() and _has_nested_media(Path(raw))]
        if nested:
            return f"{message}; {nested[0]} has sub-folders that hold some: add -r (--recursive) to look into them."
    return message + "."


def _expand(raw: str, recursive: bool) -> list[str]:
    path = Path(raw)
    if path.is_dir():
        pattern = "**/*" if recursive else "*"
        return sorted(str(p) for p in path.glob(pattern) if p.is_file() and is_media(p))
    if glob.has_magic(raw) and not path.exists():
        matches = sorted(glob.glob(raw, recursive=True))
        if not matches:
            raise InputError(f"{raw}: the pattern matches no files.")
        return [m for m in matches if Path(m).is_file() and is_media(m)]
    if path.suffix.lower() in LIST_SUFFIXES and path.is_file():
        return _read_list(path)
    return [raw]


def _read_list(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the list of files ({exc}).") from exc
    entries = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return [entry if Path(entry).is_absolute() else str(path.parent / entry) for entry in entries]


def _has_nested_media(folder: Path) -> bool:
    try:
        return any(p.is_file() and is_media(p) for p in folder.glob("*/**/*"))
    except OSError:
        return False


def listed_paths(inputs: Iterable[str | Path]) -> dict[str, list[str]]:
    """The inputs that are lists of paths (existing .txt or .lst files), each with the paths it lists."""
    return {str(raw): _read_list(Path(raw)) for raw in inputs
            if Path(raw).suffix.lower() in LIST_SUFFIXES and Path(raw).is_file()}
