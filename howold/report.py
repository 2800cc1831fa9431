"""Results as files people download: JSON (the schema shared by CLI, API and batch) and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from howold.pipeline import PhotoResult

CSV_COLUMNS = (
    "source", "status", "face", "age", "age_low", "age_high", "score",
    "x1", "y1", "x2", "y2", "warnings", "error",
)  # fmt: skip



def results_json(results: Sequence[PhotoResult]) -> str:
    """Return the results as a JSON document: {"howold_version": ..., "results": [...]}."""
    from howold import __version__

    payload = {"howold_version": __version__, "results": [r.to_dict() for r in results]}
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def results_csv(results: Sequence[PhotoResult]) -> str:
    """Return one CSV row per face, plus one per photo without a face or with an error."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(csv_rows(results))
    return buffer.getvalue()


def csv_rows(results: Sequence[PhotoResult]) -> list[dict]:
    """Return the CSV rows as dicts keyed by CSV_COLUMNS."""
    rows = []
    for result in results:
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
                "warnings": ";".join(face.warnings), "error": "",
            })  # fmt: skip
    return rows
