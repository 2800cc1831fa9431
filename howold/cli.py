"""The `howold` command line: predict, plus app/serve/batch and the training commands when their
extras are installed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from howold import __version__
from howold.errors import HowoldError
from howold.io import IMAGE_SUFFIXES
from howold.report import results_csv, results_json


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except HowoldError as exc:
        print(f"howold: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("howold: interrupted.", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="howold", description="Find every face in a photo and estimate how old each person looks."
    )
    parser.add_argument("--version", action="version", version=f"howold {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_predict(commands)
    for module, function in (
        ("howold.app.launch", "add_app_command"),
        ("howold.api.cli", "add_serve_command"),
        ("howold.batch.cli", "add_batch_command"),
        ("howold.train.cli", "add_train_commands"),
        ("howold.train.tune_cli", "add_tune_command"),
    ):
        _add_optional(commands, module, function)
    return parser


def _add_optional(commands, module: str, function: str) -> None:
    """Add a frontend's subcommands; each imports its heavy extra only when run."""
    import importlib

    try:
        getattr(importlib.import_module(module), function)(commands)
    except ImportError:
        pass


def _add_predict(commands) -> None:
    predict = commands.add_parser(
        "predict",
        help="estimate the age of every face in photos",
        description="Estimate the age of every face in the given photos (files or folders).",
    )
    predict.add_argument("paths", nargs="+", metavar="PATH", help="photo files or folders")
    predict.add_argument("-r", "--recursive", action="store_true", help="look into sub-folders too")
    predict.add_argument("--json", metavar="FILE", help="write all results as JSON to FILE")
    predict.add_argument("--csv", metavar="FILE", help="write one row per face as CSV to FILE")
    predict.add_argument("--annotate", metavar="DIR", help="write copies with boxes and ages into DIR")
    predict.add_argument("--landmarks", action="store_true", help="draw the 5 landmarks when annotating")
    predict.add_argument("--min-score", type=float, default=0.9, metavar="S",
                         help="detection confidence threshold, 0..1 (default 0.9)")
    predict.add_argument("--max-side", type=int, default=1280, metavar="N",
                         help="detect on a copy at most N pixels on its long side; 0 = full size (default 1280)")
    predict.add_argument("--min-face", type=float, default=0, metavar="PX",
                         help="ignore faces smaller than PX pixels (default 0)")
    predict.add_argument("--model", metavar="FILE", help="ONNX age model with its .json sidecar (default: shipped)")
    predict.add_argument("-q", "--quiet", action="store_true", help="no table and no progress bar")
    predict.set_defaults(handler=run_predict)


def find_images(paths: Iterable[str], recursive: bool = False) -> list[Path]:
    """Return the image files named or held in folders, in a stable order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            found.extend(
                sorted(p for p in path.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            )
        else:
            found.append(path)  # a missing or odd file is reported by the loader, not skipped
    return found


def run_predict(args: argparse.Namespace) -> int:
    from howold.pipeline import Predictor

    if not 0.0 <= args.min_score <= 1.0:
        raise HowoldError(f"--min-score must be between 0 and 1, got {args.min_score}.")
    files = find_images(args.paths, args.recursive)
    if not files:
        raise HowoldError("no image files found in the given paths.")
    predictor = Predictor(
        model=args.model if args.model else _default_model(),
        min_score=args.min_score,
        max_side=args.max_side or None,
        min_face_size=args.min_face,
    ).prepare()
    if predictor.missing_model_reason and not args.quiet:
        print(f"howold: {predictor.missing_model_reason}", file=sys.stderr)
    annotate_dir = Path(args.annotate) if args.annotate else None
    if annotate_dir:
        annotate_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for path in _progress(files, quiet=args.quiet):
        result = predictor.analyse(path)
        results.append(result)
        if annotate_dir and result.ok:
            _write_annotated(path, result, annotate_dir, args.landmarks)
        if not args.quiet:
            _print_result(result, many=len(files) > 1)
    if not args.quiet:
        _print_warning_notes(results)
    if args.json:
        _write_json(results, Path(args.json))
    if args.csv:
        _write_csv(results, Path(args.csv))
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"\n{len(failed)} of {len(results)} file(s) failed:", file=sys.stderr)
        for result in failed:
            print(f"  {result.error}", file=sys.stderr)
        return 1
    return 0


def _default_model():
    from howold.age_model import DEFAULT_MODEL_PATH

    return DEFAULT_MODEL_PATH


def _progress(files: list[Path], quiet: bool):
    if quiet or len(files) < 2:
        return files
    from tqdm import tqdm

    return tqdm(files, unit="photo", file=sys.stderr, leave=False, disable=None)  # None: only on a terminal


def _print_result(result, many: bool) -> None:
    from tqdm import tqdm

    lines = [f"{result.source}:"] if many else []
    indent = "  " if many else ""
    if not result.ok:
        return  # errors are listed together at the end
    if not result.faces:
        lines.append(f"{indent}No face found.")
    else:
        lines.append(f"{indent}{'face':>4}  {'age':<14} {'score':>5}  {'box (x1, y1, x2, y2)':<24} warnings")
        for number, face in enumerate(result.faces, start=1):
            box = ", ".join(f"{v:.0f}" for v in face.box)
            lines.append(
                f"{indent}{number:>4}  {face.label:<14} {face.score:>5.2f}  {box:<24} {', '.join(face.warnings)}"
            )
    tqdm.write("\n".join(lines), file=sys.stdout)


def _print_warning_notes(results) -> None:
    """One plain sentence for each warning that came up, once, under the tables."""
    from howold.pipeline import WARNING_NOTES

    seen = {w for result in results for face in result.faces for w in face.warnings}
    notes = [f"  {name}: {note}" for name, note in WARNING_NOTES.items() if name in seen]
    if notes:
        print("\nWarnings:\n" + "\n".join(notes))


def _write_annotated(path: Path, result, folder: Path, landmarks: bool) -> None:
    from howold.annotate import annotate
    from howold.io import load_image, save_image

    target = folder / (path.stem + (".jpg" if path.suffix.lower() in (".jpg", ".jpeg") else ".png"))
    save_image(annotate(load_image(path), result.faces, landmarks=landmarks), target)


def _write_json(results, path: Path) -> None:
    _write_text(path, results_json(results))


def _write_csv(results, path: Path) -> None:
    _write_text(path, results_csv(results))


def _write_text(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise HowoldError(f"{path}: cannot write the results ({exc.strerror or exc}).") from exc


if __name__ == "__main__":
    sys.exit(main())
