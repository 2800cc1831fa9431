"""Results as files people download: JSON (the schema shared by CLI, API and batch) and CSV, whole
or written as the results come (`ResultsFile`)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from howold.errors import HowoldError
from howold.options import AgeCheck
from howold.pipeline import PhotoResult
from howold.video.session import VideoResult

# Photos give one row per face; videos one per person (`person`, when they were seen, in how many
# analysed frames; the box is their best look's), or with --per-frame one per face per frame (`time`).
# `faces_dropped` (photos) repeats on each row of a photo the number of smaller faces left out
# beyond `max_faces`, so a table of rows alone says when a crowd was cut short.
CSV_COLUMNS = (
    "source", "status", "face", "age", "age_low", "age_high", "score",
    "x1", "y1", "x2", "y2", "warnings", "error",
    "person", "first_seen", "last_seen", "frames", "time", "faces_dropped",
)  # fmt: skip
# with an age check (photos' faces only), after CSV_COLUMNS: the age checked, P(age >= over), the challenge age
# and the verdict ("over" or "check_id"), as in the JSON's "age_check"
AGE_CHECK_COLUMNS = ("over", "p_over", "challenge", "p_challenge", "verdict")


def results_json(
    results: Sequence[PhotoResult | VideoResult],
    per_frame: bool = False,
    check: AgeCheck | None = None,
    distribution: bool = False,
) -> str:
    """Return the results as a JSON document: {"howold_version": ..., "results": [...]}; a video's
    entry lists its persons, and with `per_frame` every analysed frame's faces too. A photo's faces
    carry the answer to `check` and, with `distribution`, their age distribution (Face.to_dict)."""
    buffer = io.StringIO()
    writer = _JsonWriter(buffer, per_frame, check, distribution)
    for result in results:
        writer.add(result)
    writer.close()
    return buffer.getvalue()


def results_csv(
    results: Sequence[PhotoResult | VideoResult], per_frame: bool = False, check: AgeCheck | None = None
) -> str:
    """Return one CSV row per face of a photo and per person of a video (per face per analysed
    frame with `per_frame`), plus one per file without a face or with an error; with `check` the
    AGE_CHECK_COLUMNS follow."""
    buffer = io.StringIO()
    writer = _CsvWriter(buffer, per_frame, check)
    for result in results:
        writer.add(result)
    writer.close()
    return buffer.getvalue()


class _JsonWriter:
    """The JSON document written one result at a time; the same bytes as json.dumps(indent=2) of it."""

    def __init__(
        self, stream: TextIO, per_frame: bool, check: AgeCheck | None = None, distribution: bool = False
    ) -> None:
        from howold import __version__

        self.stream, self.per_frame, self.count = stream, per_frame, 0
        self.check, self.distribution = check, distribution
        stream.write(f'{{\n  "howold_version": {json.dumps(__version__)},\n  "results": [')

    def add(self, result: PhotoResult | VideoResult) -> None:
        if isinstance(result, VideoResult):
            entry = result.to_dict(per_frame=self.per_frame)
        else:
            entry = result.to_dict(self.check, self.distribution)
        # indented by 4 more, as textwrap.indent would: json.dumps writes no blank line, no raw newline in a string
        text = "    " + json.dumps(entry, indent=2, ensure_ascii=False).replace("\n", "\n    ")
        self.stream.write(("\n" if self.count == 0 else ",\n") + text)
        self.count += 1

    def close(self) -> None:
        self.stream.write("\n  ]\n}\n" if self.count else "]\n}\n")


class _CsvWriter:
    def __init__(self, stream: TextIO, per_frame: bool, check: AgeCheck | None = None) -> None:
        self.per_frame, self.check = per_frame, check
        self.writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS + (AGE_CHECK_COLUMNS if check else ()))
        self.writer.writeheader()

    def add(self, result: PhotoResult | VideoResult) -> None:
        self.writer.writerows(csv_rows([result], self.per_frame, self.check))

    def close(self) -> None:
        pass


class ResultsFile:
    """A results file (`kind` "json" or "csv") written as the results come, so that an interrupted run
    keeps what it did. Each result goes at once to a hidden file beside `target` (`.NAME.partial`),
    flushed at most every FLUSH_SECONDS; `finish()` completes the document and renames it into place,
    so `target` is either a whole document or untouched. `-` writes to stdout, flushed after each
    result (a program reading the pipe gets each one as it comes). Opening it checks that `target`
    can be written, so a wrong path fails before any work."""

    # a flush per result cost `howold predict --json` 0.14 ms a photo in its main process, which shares
    # the cores with the workers; nothing reads the hidden file before `finish()` renames it
    FLUSH_SECONDS = 1.0

    def __init__(
        self,
        target: str,
        kind: str,
        per_frame: bool = False,
        stdout: TextIO | None = None,
        check: AgeCheck | None = None,
        distribution: bool = False,
    ) -> None:
        self.target, self.count = target, 0
        self._flushed = time.monotonic()
        if target == "-":
            self.path = self.partial = None
            self.stream: TextIO = sys.stdout if stdout is None else stdout
        else:
            self.path = Path(target)
            self.partial = self.path.with_name(f".{self.path.name}.partial")
            try:
                if self.path.is_dir():
                    raise IsADirectoryError(21, "is a folder")
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.stream = open(self.partial, "w", encoding="utf-8", newline="")  # noqa: SIM115
            except OSError as exc:
                raise HowoldError(f"{self.path}: cannot write the results ({exc.strerror or exc}).") from exc
        self._writer = (
            _JsonWriter(self.stream, per_frame, check, distribution)
            if kind == "json"
            else _CsvWriter(self.stream, per_frame, check)
        )

    def add(self, result: PhotoResult | VideoResult) -> None:
        self._guarded(self._writer.add, result)
        self.count += 1

    def finish(self) -> None:
        """Complete the document and put it in place (the results so far, when a run was stopped)."""
        self._guarded(self._writer.close)
        if self.path is None:
            return
        try:
            self.stream.flush()
            os.fsync(self.stream.fileno())
            self.stream.close()
            assert self.partial is not None  # set with self.path
            os.replace(self.partial, self.path)
        except OSError as exc:
            self.discard()
            raise HowoldError(f"{self.path}: cannot write the results ({exc.strerror or exc}).") from exc

    def discard(self) -> None:
        """Drop the unfinished file (the target is left as it was)."""
        if self.partial is not None:
            with contextlib.suppress(OSError):  # a full disk refuses the buffered rest too: it is dropped anyway
                self.stream.close()
            self.partial.unlink(missing_ok=True)

    def _guarded(self, write, *args) -> None:
        try:
            write(*args)
            if self.path is None or time.monotonic() - self._flushed >= self.FLUSH_SECONDS:
                self.stream.flush()
                self._flushed = time.monotonic()
        except OSError as exc:
            self.discard()
            raise HowoldError(f"{self.target}: cannot write the results ({exc.strerror or exc}).") from exc


def csv_rows(
    results: Sequence[PhotoResult | VideoResult], per_frame: bool = False, check: AgeCheck | None = None
) -> list[dict]:
    """Return the CSV rows as dicts keyed by CSV_COLUMNS (and AGE_CHECK_COLUMNS with `check`)."""
    rows = []
    for result in results:
        if isinstance(result, VideoResult):
            rows.extend(video_rows(result, per_frame))
            continue
        if not result.ok or not result.faces:
            status = "error" if not result.ok else "no_face"
            rows.append({"source": result.source, "status": status, "error": result.error or ""})
            continue
        for number, face in enumerate(result.faces, start=1):
            data = face.to_dict()
            x1, y1, x2, y2 = data["box"]
            rows.append({
                "source": result.source, "status": "ok", "face": number,
                "age": data["age"], "age_low": data["age_low"], "age_high": data["age_high"],
                "score": data["score"], "x1": x1, "y1": y1, "x2": x2, "y2": y2,
                "warnings": ";".join(face.warnings), "error": "", "faces_dropped": result.faces_dropped,
                **((face.check(check) or {}) if check else {}),
            })  # fmt: skip
    return rows


def video_rows(result: VideoResult, per_frame: bool = False) -> list[dict]:
    """A clip's rows: one per person (or per face per analysed frame), or one saying why there are none."""
    if not result.ok or not result.persons:
        status = "error" if not result.ok else "no_face"
        return [{"source": result.source, "status": status, "error": result.error or ""}]
    if per_frame:
        return [
            _box_row(result.source, tracked.face.to_dict(), person=tracked.person, face=number,
                     score=tracked.face.to_dict()["score"], time=round(frame.time, 3))
            for frame in result.frames for number, tracked in enumerate(frame.faces, start=1)
        ]  # fmt: skip
    return [
        _box_row(
            result.source,
            person.to_dict(),
            person=person.person,
            first_seen=round(person.first_seen, 3),
            last_seen=round(person.last_seen, 3),
            frames=person.frames,
        )
        for person in result.persons
    ]


def _box_row(source: str, data: dict, **extra) -> dict:
    x1, y1, x2, y2 = data["box"]
    return {
        "source": source, "status": "ok", "age": data["age"], "age_low": data["age_low"],
        "age_high": data["age_high"], "x1": x1, "y1": y1, "x2": x2, "y2": y2,
        "warnings": ";".join(data["warnings"]), "error": "", **extra,
    }  # fmt: skip
