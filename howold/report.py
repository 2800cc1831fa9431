"""Results as files people download: JSON (the schema shared by CLI, API and batch) and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from howold.options import AgeCheck
from howold.pipeline import PhotoResult
from howold.video import VideoResult

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


def results_json(results: Sequence[PhotoResult | VideoResult], per_frame: bool = False,
                 check: AgeCheck | None = None, distribution: bool = False) -> str:
    """Return the results as a JSON document: {"howold_version": ..., "results": [...]}; a video's
    entry lists its persons, and with `per_frame` every analysed frame's faces too. A photo's faces
    carry the answer to `check` and, with `distribution`, their age distribution (Face.to_dict)."""
    from howold import __version__

    entries = [r.to_dict(per_frame=per_frame) if isinstance(r, VideoResult) else r.to_dict(check, distribution)
               for r in results]
    payload = {"howold_version": __version__, "results": entries}
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def results_csv(results: Sequence[PhotoResult | VideoResult], per_frame: bool = False,
                check: AgeCheck | None = None) -> str:
    """Return one CSV row per face of a photo and per person of a video (per face per analysed
    frame with `per_frame`), plus one per file without a face or with an error; with `check` the
    AGE_CHECK_COLUMNS follow."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS + (AGE_CHECK_COLUMNS if check else ()))
    writer.writeheader()
    writer.writerows(csv_rows(results, per_frame, check))
    return buffer.getvalue()


def csv_rows(results: Sequence[PhotoResult | VideoResult], per_frame: bool = False,
             check: AgeCheck | None = None) -> list[dict]:
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
        _box_row(result.source, person.to_dict(), person=person.person, first_seen=round(person.first_seen, 3),
                 last_seen=round(person.last_seen, 3), frames=person.frames)
        for person in result.persons
    ]


def _box_row(source: str, data: dict, **extra) -> dict:
    x1, y1, x2, y2 = data["box"]
    return {
        "source": source, "status": "ok", "age": data["age"], "age_low": data["age_low"],
        "age_high": data["age_high"], "x1": x1, "y1": y1, "x2": x2, "y2": y2,
        "warnings": ";".join(data["warnings"]), "error": "", **extra,
    }  # fmt: skip
