"""What the command line and the batch job analyse: files, folders, glob patterns and lists of paths
turned into one ordered list of photos and videos; and the check that no output lands on one of
them. The one input-discovery module of howold.

A folder gives its photos and videos (sorted; its sub-folders too with `recursive`). A pattern
such as `photos/**/*.jpg` gives the photos and videos it matches. A `.txt` or `.lst` file gives
the paths it lists, one per line (blank lines and lines starting with # are skipped; relative
paths are relative to the list's folder), each taken as if given on the command line: a folder or
a pattern in a list gives its photos and videos. Any other path is kept as given, even if it does
not exist, so that it is reported as that file's error rather than dropped. Each path comes once.
A folder that cannot be listed is skipped, and `on_skip` is told so in one sentence.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from howold.errors import HowoldError
from howold.files import read_regular
from howold.io import IMAGE_SUFFIXES
from howold.video.io import VIDEO_SUFFIXES

MEDIA_SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES
LIST_SUFFIXES = frozenset({".txt", ".lst"})  # files holding a list of paths, one per line
MAX_LIST_BYTES = 64 * 2**20  # a list of a million paths of 60 characters is 61 MB


class InputError(HowoldError):
    """The inputs named no photo or video, a list or pattern could not be read, or an output would
    land on an input."""


def is_media(path: str | os.PathLike) -> bool:
    """True when the suffix is one of a photo or a video howold reads."""
    return Path(path).suffix.lower() in MEDIA_SUFFIXES


def find_inputs(
    inputs: Iterable[str | os.PathLike], recursive: bool = False, on_skip: Callable[[str], None] | None = None
) -> list[str]:
    """Return the photos and videos named by files, folders, patterns and lists, each once, in order.

    Raises `InputError` when there are none, saying so (with a hint to add -r when a folder named
    holds none itself but its sub-folders do), or when a pattern matches nothing. A folder that
    cannot be listed (no permission) is skipped and `on_skip` gets one sentence naming it.
    """
    names = [str(raw) for raw in inputs]
    finder = _Finder(recursive)
    found: dict[str, None] = {}
    for raw in names:
        for path in finder.expand(raw):
            found.setdefault(path, None)
    if finder.unreadable and on_skip:
        on_skip(f"skipped {len(finder.unreadable)} folder(s) that cannot be read: {', '.join(finder.unreadable)}.")
    if not found:
        reason = f"; {', '.join(finder.unreadable)} cannot be read" if finder.unreadable else ""
        raise InputError(no_inputs_message(names, recursive, reason))
    return list(found)


def no_inputs_message(inputs: Iterable[str], recursive: bool = False, reason: str = "") -> str:
    """One sentence: nothing to analyse, with a hint to use -r when that would find something."""
    message = "no image or video files found in the given paths" + reason
    if not recursive:
        nested = [raw for raw in inputs if Path(raw).is_dir() and _has_nested_media(Path(raw))]
        if nested:
            return f"{message}; {nested[0]} has sub-folders that hold some: add -r (--recursive) to look into them."
    return message + "."


def check_outputs(outputs: Sequence[tuple[str, str | os.PathLike]], inputs: Iterable[str | os.PathLike]) -> None:
    """Refuse, before any work, an output that is one of the inputs or the same file as one.

    `outputs` are (what names it, path) pairs, such as ("--json", "a.jpg"); "-" (stdout) is left
    alone. An output is an input when both are the same file (device and inode, so hard links and
    symlinks count) or, for an output not yet written, resolve to the same path. A results file
    named like a photo, a video or a list is refused too: that is what `--json *.jpg` does, the
    shell handing the first photo to --json.
    """
    by_inode: dict[tuple[int, int], str] = {}
    by_path: dict[str, str] = {}
    for path in inputs:
        identity = _identity(path)
        if identity is not None:
            by_inode.setdefault(identity, str(path))
        by_path.setdefault(os.path.realpath(path), str(path))
    for option, target in outputs:
        if str(target) == "-":
            continue
        identity = _identity(target)
        same = by_inode.get(identity) if identity is not None else None
        same = same or by_path.get(os.path.realpath(target))
        if same is not None:
            raise InputError(f"{option} {target} is the input {same}; writing there would destroy it, so name "
                             "another file.")  # fmt: skip
    for option, target in outputs:
        suffix = Path(target).suffix.lower()
        if option.startswith("--annotate") or not (suffix in MEDIA_SUFFIXES or suffix in LIST_SUFFIXES):
            continue
        hint = f" (as the shell does with {option} *{suffix}, handing it the first match)" if is_media(target) else ""
        raise InputError(f"{option} {target}: a results file must not be named like a photo, video or list{hint}; "
                         "name another file.")  # fmt: skip


def _identity(path: str | os.PathLike) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


class _Finder:
    """Expands one argument at a time; remembers the lists it has read and the folders it could not."""

    def __init__(self, recursive: bool) -> None:
        self.recursive = recursive
        self.unreadable: list[str] = []
        self.lists: set[str] = set()

    def expand(self, raw: str) -> list[str]:
        path = Path(raw)
        if path.is_dir():
            return self._folder(path)
        if glob.has_magic(raw) and not path.exists():
            matches = sorted(glob.glob(raw, recursive=True))
            if not matches:
                raise InputError(f"{raw}: the pattern matches no files.")
            return [m for m in matches if Path(m).is_file() and is_media(m)]
        if path.suffix.lower() in LIST_SUFFIXES and path.is_file():
            key = os.path.realpath(path)
            if key in self.lists:  # a list that names itself, or one read already
                return []
            self.lists.add(key)
            return [found for entry in _read_list(path) for found in self.expand(entry)]
        return [raw]

    def _folder(self, folder: Path) -> list[str]:
        found: list[str] = []
        seen: set[tuple[int, int] | None] = set()  # folders walked, so a symlink loop is walked once
        for root, folders, files in os.walk(folder, onerror=self._skipped, followlinks=True):
            identity = _identity(root)
            if identity in seen or not self.recursive:
                folders[:] = []
            if identity in seen:
                continue
            seen.add(identity)
            found.extend(str(Path(root, name)) for name in files if is_media(name) and Path(root, name).is_file())
        return sorted(found)

    def _skipped(self, exc: OSError) -> None:
        self.unreadable.append(f"{exc.filename} ({exc.strerror or exc})")


def _read_list(path: Path) -> list[str]:
    try:
        lines = read_regular(path, str(path), limit=MAX_LIST_BYTES).decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError, HowoldError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise InputError(f"{path}: cannot read the list of files ({reason}).") from exc
    entries = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return [entry if Path(entry).is_absolute() else str(path.parent / entry) for entry in entries]


def _has_nested_media(folder: Path) -> bool:
    try:
        return any(p.is_file() and is_media(p) for p in folder.glob("*/**/*"))
    except OSError:
        return False


def listed_paths(inputs: Iterable[str | Path]) -> dict[str, list[str]]:
    """The inputs that are lists of paths (existing .txt or .lst files), each with the paths it lists."""
    return {
        str(raw): _read_list(Path(raw))
        for raw in inputs
        if Path(raw).suffix.lower() in LIST_SUFFIXES and Path(raw).is_file()
    }
