"""`howold predict clip.mp4`: one clip analysed with a progress bar (frames/s), then a table with one
row per person. Kept apart from `howold.cli` so that the photo command stays as it was."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from howold import Predictor, VideoOptions, VideoResult, analyse_video


def predict_video(
    predictor: Predictor, path: Path, options: VideoOptions, annotate_to: Path | None, args: argparse.Namespace
) -> VideoResult:
    """Analyse one clip, show its persons (unless quiet) and return the result; never raises for a
    bad clip (its result carries the error)."""
    from howold import failed_video

    bar = None if args.quiet else _bar(path)
    progress = None
    if bar is not None:

        def progress(analysed: int, time: float) -> None:
            bar.update(1)
            bar.set_postfix_str(f"{time:.1f} s of clip", refresh=False)

    try:
        result = analyse_video(
            predictor, path, options, per_frame=args.per_frame, annotate_to=annotate_to, on_frame=progress
        )
    except Exception as exc:  # a clip that trips a bug must not stop the other files
        result = failed_video(str(path), exc)
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet and result.ok:
        print_persons(result)
    for note in result.notes:
        print(f"howold: {note}", file=sys.stderr)
    return result


def _bar(path: Path):
    from tqdm import tqdm

    return tqdm(unit="frame", desc=path.name, file=sys.stderr, leave=False, disable=None)


def print_persons(result: VideoResult, file=None) -> None:
    """The clip's summary line, then one row per person (or a sentence when nobody was seen)."""
    lines = [
        f"{result.source}: {result.duration:.1f} s, {result.width}x{result.height}, "
        f"{result.frames_analysed} of {result.frames_read} frames analysed"
    ]
    if not result.persons:
        lines.append("  No face found in the clip.")
    else:
        lines.append(f"  {'person':>6}  {'age':<14} {'seen (s)':<13} {'frames':>6}  warnings")
        for person in result.persons:
            seen = f"{person.first_seen:.1f}–{person.last_seen:.1f}"
            lines.append(
                f"  {person.person:>6}  {person.label:<14} {seen:<13} {person.frames:>6}  "
                f"{', '.join(w for w in person.warnings if w not in result.photo_warnings)}"
            )
        lines += [f"  the clip: {name} (every person)" for name in result.photo_warnings]
    print("\n".join(lines), file=file or sys.stdout)
