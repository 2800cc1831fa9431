"""The `howold` command line: predict, plus app/serve/batch and the training commands when their
extras are installed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from howold import __version__
from howold.detect import DetectOptions
from howold.errors import HowoldError, OptionError
from howold.report import results_csv, results_json
from howold.video import VideoOptions


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
        help="estimate the age of every face in photos, and of every person in videos",
        description="Estimate the age of every face in the given photos, and of every person in the given videos "
                    "(.mp4 .mov .mkv .webm .avi): files, folders, glob patterns or .txt lists of paths.",
    )
    predict.add_argument("paths", nargs="+", metavar="PATH", help="photo or video files, folders, patterns, lists")
    predict.add_argument("-r", "--recursive", action="store_true", help="look into sub-folders too")
    predict.add_argument("--json", metavar="FILE", help="write all results as JSON to FILE")
    predict.add_argument("--csv", metavar="FILE", help="write one row per face as CSV to FILE")
    predict.add_argument("--annotate", metavar="DIR",
                         help="write copies with boxes and ages into DIR (an MP4 for each video)")
    predict.add_argument("--fps", type=float, default=VideoOptions.fps, metavar="N",
                         help="videos: analyse N frames per second, every frame if fewer "
                              f"(default {VideoOptions.fps:g})")
    predict.add_argument("--per-frame", action="store_true",
                         help="videos: also write every analysed frame's faces to --json and --csv")
    predict.add_argument("--landmarks", action="store_true", help="draw the 5 landmarks when annotating")
    defaults = DetectOptions()
    predict.add_argument("--min-score", type=float, default=defaults.min_score, metavar="S",
                         help=f"detection confidence threshold, 0..1 (default {defaults.min_score})")
    predict.add_argument("--max-side", type=int, default=defaults.max_side, metavar="N",
                         help="detect on a copy at most N pixels on its long side; 0 = full size "
                              f"(default {defaults.max_side})")
    predict.add_argument("--min-face", type=float, default=defaults.min_face_size, metavar="PX",
                         help="ignore faces smaller than PX pixels (default 0)")
    predict.add_argument("--model", metavar="FILE", help="ONNX age model with its .json sidecar (default: shipped)")
    predict.add_argument("-q", "--quiet", action="store_true", help="no table and no progress bar")
    predict.set_defaults(handler=run_predict)


# The command-line flag of each DetectOptions field, for messages.
FLAGS = {"min_score": "--min-score", "max_side": "--max-side", "min_face_size": "--min-face", "fps": "--fps"}


def run_predict(args: argparse.Namespace) -> int:
    from howold import Predictor, find_inputs, is_video
    from howold.pipeline import failed

    predictor = Predictor(
        model=args.model if args.model else _default_model(),
        **detect_options(args.min_score, args.max_side, args.min_face),
    )
    video = video_options(args.fps)
    files = [Path(path) for path in find_inputs(args.paths, args.recursive)]
    videos = any(is_video(path) for path in files)
    targets = annotation_targets(files, args.paths, Path(args.annotate)) if args.annotate else {}
    predictor.prepare()
    if predictor.missing_model_reason and not args.quiet:
        print(f"howold: {predictor.missing_model_reason}", file=sys.stderr)
    results, annotating = [], bool(targets)
    for path in _progress(files, quiet=args.quiet or videos):
        if is_video(path):
            from howold.cli_video import predict_video

            results.append(predict_video(predictor, path, video, targets.get(path) if annotating else None, args))
            continue
        try:
            result = predictor.analyse(path)
        except Exception as exc:  # a photo that trips a bug must not stop the others
            result = failed(str(path), exc)
        results.append(result)
        if annotating and result.ok:
            annotating = _write_annotated(path, result, targets[path], args.landmarks)
        if not args.quiet:
            _print_result(result, many=len(files) > 1)
    if not args.quiet:
        _print_warning_notes(results)
    if args.json:
        _write_text(Path(args.json), results_json(results, per_frame=args.per_frame))
    if args.csv:
        _write_text(Path(args.csv), results_csv(results, per_frame=args.per_frame))
    failures = [r for r in results if not r.ok]
    if failures:
        print(f"\n{len(failures)} of {len(results)} file(s) failed:", file=sys.stderr)
        for result in failures:
            print(f"  {result.error}", file=sys.stderr)
    return 1 if failures or annotating != bool(targets) else 0


def detect_options(min_score: float, max_side: int, min_face: float) -> dict:
    """The detection options as typed on a command line (max side 0: full size), checked; a value
    out of range is a HowoldError naming its flag."""
    try:
        options = DetectOptions(min_score=min_score, max_side=max_side or None, min_face_size=min_face)
    except OptionError as exc:
        raise HowoldError(f"{FLAGS.get(exc.option, exc.option)} {exc.reason}.") from exc
    return {"min_score": options.min_score, "max_side": options.max_side, "min_face_size": options.min_face_size}


def video_options(fps: float) -> VideoOptions:
    """The video options as typed on a command line, checked; a value out of range names its flag."""
    try:
        return VideoOptions(fps=fps)
    except OptionError as exc:
        raise HowoldError(f"{FLAGS.get(exc.option, exc.option)} {exc.reason}.") from exc


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
    if result.faces_dropped:
        lines.append(f"{indent}{result.faces_dropped} smaller face(s) left out: at most {len(result.faces)} per photo.")
    tqdm.write("\n".join(lines), file=sys.stdout)


def _print_warning_notes(results) -> None:
    """One plain sentence for each warning that came up, once, under the tables."""
    from howold.pipeline import WARNING_NOTES

    seen = {w for result in results for face in getattr(result, "faces", getattr(result, "persons", ()))
            for w in face.warnings}
    notes = [f"  {name}: {note}" for name, note in WARNING_NOTES.items() if name in seen]
    if notes:
        print("\nWarnings:\n" + "\n".join(notes))


def annotation_targets(files: list[Path], roots: Iterable[str], folder: Path) -> dict[Path, Path]:
    """Where each photo's annotated copy goes: its path below the folder it was found in (its name
    for a photo named directly), inside `folder`. Refuses, before any work, a plan that would
    write over an input photo or write two copies to one file."""
    from howold import is_video

    folders = [Path(root) for root in roots if Path(root).is_dir()]
    targets: dict[Path, Path] = {}
    owners: dict[Path, Path] = {}
    inputs = {path.resolve(): path for path in files}
    for path in files:
        relative = next((path.relative_to(root) for root in folders if path.is_relative_to(root)), Path(path.name))
        suffix = ".mp4" if is_video(path) else ".jpg" if path.suffix.lower() in (".jpg", ".jpeg") else ".png"
        target = folder / relative.with_suffix(suffix)
        key = target.resolve()
        if key in inputs:
            raise HowoldError(f"--annotate {folder} would write over the photo {inputs[key]}; choose another folder.")
        if key in owners:
            raise HowoldError(
                f"--annotate {folder}: {owners[key]} and {path} would both be written to {target}; "
                "give their folders instead, or annotate them in separate runs."
            )
        owners[key] = path
        targets[path] = target
    return targets


def _write_annotated(path: Path, result, target: Path, landmarks: bool) -> bool:
    """Write the annotated copy; on failure say so once and return False (annotating stops)."""
    from howold.annotate import annotate
    from howold.io import load_image, save_image

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        save_image(annotate(load_image(path), result.faces, landmarks=landmarks), target)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        print(f"howold: cannot write the annotated copy {target} ({reason}); no more are written, "
              "the results still are.", file=sys.stderr)  # fmt: skip
        return False
    return True


def _write_text(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise HowoldError(f"{path}: cannot write the results ({exc.strerror or exc}).") from exc


if __name__ == "__main__":
    sys.exit(main())
