"""The `howold` command line: predict, plus app/serve/batch and the training commands, each of which
says which extra to install when it is missing. Only light modules load before a command runs, so
`howold --help` is fast."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from howold import AgeCheck, DetectOptions, HowoldError, VideoOptions, WorkerError
from howold.api.cli import add_serve_command
from howold.app.launch import add_app_command
from howold.batch.cli import add_batch_command
from howold.train.cli import add_train_commands
from howold.train.tune.cli import add_tune_command

if TYPE_CHECKING:
    from howold import PhotoResult, VideoResult

STDIO = "-"  # as a photo: read it from standard input; as --json/--csv FILE: write to standard output


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
    parser.add_argument("--version", action=VersionAction, help="show howold's version and its age model's")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_predict(commands)
    for add_commands in (add_app_command, add_serve_command, add_batch_command, add_train_commands, add_tune_command):
        add_commands(commands)
    return parser


class VersionAction(argparse.Action):
    """`--version`: howold's version and the shipped age model's name and version, then exit."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from howold import __version__

        print(f"howold {__version__}, {shipped_model()}")
        parser.exit()


def shipped_model() -> str:
    """The shipped age model in a few words: 'age model NAME VERSION', or why there is none."""
    from howold import DEFAULT_MODEL_PATH, read_model_info

    if not DEFAULT_MODEL_PATH.is_file():
        return "no age model installed"
    try:
        info = read_model_info(DEFAULT_MODEL_PATH)
    except HowoldError as exc:
        return f"age model unreadable ({exc})"
    return f"age model {info.label}"


def _add_predict(commands) -> None:
    predict = commands.add_parser(
        "predict",
        help="estimate the age of every face in photos, and of every person in videos",
        description="Estimate the age of every face in the given photos, and of every person in the given videos "
        "(.mp4 .m4v .mov .mkv .webm .avi): files, folders, glob patterns or .txt lists of paths.",
    )
    predict.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="photo or video files, folders, patterns, lists; - reads one photo from stdin",
    )
    predict.add_argument("-r", "--recursive", action="store_true", help="look into sub-folders too")
    predict.add_argument("--json", metavar="FILE", help="write all results as JSON to FILE (- for stdout)")
    predict.add_argument("--csv", metavar="FILE", help="write one row per face as CSV to FILE (- for stdout)")
    predict.add_argument(
        "--annotate", metavar="DIR", help="write copies with boxes and ages into DIR (an MP4 for each video)"
    )
    VideoOptions.add_arguments(predict)
    predict.add_argument(
        "--per-frame", action="store_true", help="videos: also write every analysed frame's faces to --json and --csv"
    )
    predict.add_argument("--landmarks", action="store_true", help="draw the 5 landmarks when annotating")
    DetectOptions.add_arguments(predict)
    predict.add_argument("--model", metavar="FILE", help="ONNX age model with its .json sidecar (default: shipped)")
    AgeCheck.add_arguments(predict)
    predict.add_argument(
        "--distribution",
        action="store_true",
        help="photos: write each face's age distribution (ages and probabilities) to --json",
    )
    predict.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="photos: analyse them in N processes of one thread each (default: one per CPU, at most 4, "
        "for 100 photos or more; 1 for fewer)",
    )
    predict.add_argument("-q", "--quiet", action="store_true", help="no table and no progress bar")
    predict.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    from howold import Predictor, check_outputs, find_inputs

    if args.json == STDIO and args.csv == STDIO:
        raise HowoldError("--json - and --csv - would both write to stdout; send one of them to a file.")
    if args.paths.count(STDIO) > 1:
        raise HowoldError("- (stdin) can be read once; give it once.")
    if args.json and args.csv and args.json != STDIO and Path(args.json).resolve() == Path(args.csv).resolve():
        raise HowoldError(f"--json and --csv both name {args.json}; give each its own file.")
    table = sys.stderr if STDIO in (args.json, args.csv) else sys.stdout  # stdout carries the results
    check = AgeCheck.from_arguments(args)
    predictor = Predictor(args.model if args.model else _default_model(), DetectOptions.from_arguments(args))
    video = VideoOptions.from_arguments(args)
    _check_lists(args.paths, quiet=args.quiet)
    skipped: list[str] = []
    files = [Path(path) for path in find_inputs(args.paths, args.recursive, on_skip=skipped.append)]
    for note in skipped:
        print(f"howold: {note}", file=sys.stderr)
    targets = annotation_targets(files, args.paths, Path(args.annotate)) if args.annotate else {}
    in_processes = _photos_in_processes(predictor, files, args.model, args.workers)
    outputs = [(option, name) for option, name in (("--json", args.json), ("--csv", args.csv)) if name]
    check_outputs(outputs + [(f"--annotate {args.annotate}", target) for target in targets.values()],
                  [*files, *(raw for raw in args.paths if raw != STDIO)])  # fmt: skip
    predictor.prepare()
    if predictor.missing_model_reason and not args.quiet:
        print(f"howold: {predictor.missing_model_reason}", file=sys.stderr)
    writers = _open_results(args, check)  # before any work: a path that cannot be written fails now
    try:
        results, annotating = _analyse_all(predictor, files, video, targets, args, table, writers, check, in_processes)
    except KeyboardInterrupt:
        print(f"howold: interrupted{_kept(writers)}.", file=sys.stderr)
        return 130
    except WorkerError as exc:
        print(f"howold: {exc}{_kept(writers)}.", file=sys.stderr)
        return 1
    except BaseException:
        for writer in writers:
            writer.discard()
        raise
    _finish(writers)
    failures = [r for r in results if not r.ok]
    if failures:
        print(f"\n{len(failures)} of {len(results)} file(s) failed:", file=sys.stderr)
        for result in failures:
            print(f"  {result.error}", file=sys.stderr)
    return 1 if failures or skipped or annotating != bool(targets) else 0


def _open_results(args: argparse.Namespace, check: AgeCheck | None = None) -> list:
    from howold import ResultsFile

    writers = []
    try:
        for name, kind in ((args.json, "json"), (args.csv, "csv")):
            if name:
                writers.append(
                    ResultsFile(
                        name,
                        kind,
                        per_frame=args.per_frame,
                        stdout=sys.stdout,
                        check=check,
                        distribution=args.distribution,
                    )
                )
    except HowoldError:
        for writer in writers:
            writer.discard()
        raise
    return writers


def _kept(writers: list) -> str:
    """Complete the results files with what was analysed before a run stopped; say where it is."""
    done = _finish(writers)
    return f"; the {done} result(s) finished are in {', '.join(w.target for w in writers)}" if writers else ""


def _finish(writers: list) -> int:
    """Complete each results file with what was analysed; return how many results they hold."""
    for writer in writers:
        writer.finish()
    return writers[0].count if writers else 0


def _analyse_all(
    predictor, files: list[Path], video, targets: dict[Path, Path], args, table, writers, check=None, in_processes=None
):
    """Analyse each file in turn, handing each result to the results files as soon as it is known."""
    from howold import failed, is_video
    from howold.files import check_regular, read_stdin

    results, annotating = [], bool(targets)
    videos = any(is_video(path) for path in files)
    stdin = read_stdin() if Path(STDIO) in files else None
    for path in _progress(files, quiet=args.quiet or videos):
        result: PhotoResult | VideoResult
        if is_video(path):
            from howold import VideoResult
            from howold.cli_video import predict_video

            try:
                check_regular(path)  # the video decoder opens the path itself: no FIFO, no device
            except HowoldError as exc:
                result = VideoResult(source=str(path), error=str(exc))
            else:
                result = predict_video(predictor, path, video, targets.get(path) if annotating else None, args)
        else:
            source, name = (stdin, "stdin") if path == Path(STDIO) else (path, None)
            if in_processes and name is None:
                result = next(in_processes)  # a photo's bug or dead worker is its result; dying workers, a WorkerError
            else:
                try:
                    result = predictor.analyse(source, name=name)
                except Exception as exc:  # a photo that trips a bug must not stop the others
                    result = failed(name or str(path), exc)
            if annotating and result.ok:
                annotating = _write_annotated(source, result, targets[path], args.landmarks)
            if not args.quiet:
                _print_result(result, many=len(files) > 1, stream=table, check=check)
        results.append(result)
        for writer in writers:
            writer.add(result)
    if in_processes:
        in_processes.close()  # its processes end now, not when the iterator is collected
    if not args.quiet:
        _print_warning_notes(results, stream=table)
    return results, annotating


def _photos_in_processes(predictor, files: list[Path], model: str | None, workers: int | None):
    """The photos' results (stdin and videos aside) from `workers` processes (None: as many as
    `howold.default_workers` says), in order; None to analyse them here, in one process. A bad
    number is refused before any work."""
    from howold import analyse_in_processes, default_workers, is_video

    photos = [path for path in files if path != Path(STDIO) and not is_video(path)]
    workers = default_workers(len(photos)) if workers is None else workers
    if workers == 1:
        return None
    return analyse_in_processes(photos, model or _default_model(), predictor.options, workers)


def _check_lists(paths: Sequence[str], quiet: bool) -> None:
    """Say which arguments are read as lists of paths (a .txt or .lst file), and refuse a list that
    names no existing file or folder (a text file given by mistake)."""
    from howold.inputs import listed_paths

    for raw, entries in listed_paths(paths).items():
        if not any(Path(entry).exists() for entry in entries):
            raise HowoldError(
                f"{raw} is read as a list of paths, one per line, but none of its "
                f"{len(entries)} line(s) names an existing file or folder."
            )
        if not quiet:
            print(f"howold: {raw}: read as a list of {len(entries)} path(s), one per line.", file=sys.stderr)


def _default_model():
    from howold import DEFAULT_MODEL_PATH

    return DEFAULT_MODEL_PATH


def _progress(files: list[Path], quiet: bool):
    if quiet or len(files) < 2:
        return files
    from tqdm import tqdm

    return tqdm(files, unit="photo", file=sys.stderr, leave=False, disable=None)  # None: only on a terminal


def _print_result(result, many: bool, stream=sys.stdout, check: AgeCheck | None = None) -> None:
    from tqdm import tqdm

    lines = [f"{result.source}:"] if many else []
    indent = "  " if many else ""
    if not result.ok:
        return  # errors are listed together at the end
    if not result.faces:
        lines.append(f"{indent}No face found.")
    else:
        heading = f"{check.column:>7}  {'verdict':<10} " if check else ""
        lines.append(f"{indent}{'face':>4}  {'age':<14} {heading}{'score':>5}  {'box (x1, y1, x2, y2)':<24} warnings")
        for number, face in enumerate(result.faces, start=1):
            box = ", ".join(f"{v:.0f}" for v in face.box)
            lines.append(
                f"{indent}{number:>4}  {face.label:<14} {_check_cells(face, check)}{face.score:>5.2f}  {box:<24} "
                f"{', '.join(result.face_warnings(number - 1))}"
            )
        lines += photo_warning_lines(result, indent)
    if result.faces_dropped:
        lines.append(f"{indent}{result.faces_dropped} smaller face(s) left out: at most {len(result.faces)} per photo.")
    tqdm.write("\n".join(lines), file=stream)


def _check_cells(face, check: AgeCheck | None) -> str:
    """The age check's two table cells for a face, P(≥over) and the verdict; '' without a check."""
    if check is None:
        return ""
    answer = face.check(check)
    if answer is None:
        return f"{'?':>7}  {'?':<10} "
    return f"{answer['p_over']:>7.2f}  {check.verdict_label(answer['verdict']):<10} "


def photo_warning_lines(result, indent: str = "") -> list[str]:
    """One line per warning of the whole photo (`PhotoResult.photo_warnings`), said once under its table."""
    return [f"{indent}the photo: {name} (every face)" for name in result.photo_warnings]


def _print_warning_notes(results, stream=sys.stdout) -> None:
    """One plain sentence for each warning that came up, once, under the tables."""
    from howold import WARNING_NOTES

    seen = {
        w
        for result in results
        for face in getattr(result, "faces", getattr(result, "persons", ()))
        for w in face.warnings
    }
    notes = [f"  {name}: {note}" for name, note in WARNING_NOTES.items() if name in seen]
    if notes:
        print("\nWarnings:\n" + "\n".join(notes), file=stream)


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
        relative = Path("stdin") if path == Path(STDIO) else relative
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


def _write_annotated(source, result, target: Path, landmarks: bool) -> bool:
    """Write the annotated copy of a photo (its path, or its bytes read from stdin); on failure say so
    once and return False (annotating stops)."""
    from howold import annotate, load_image, save_image

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        save_image(annotate(load_image(source, name=result.source), result.faces, landmarks=landmarks), target)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        print(f"howold: cannot write the annotated copy {target} ({reason}); no more are written, "
              "the results still are.", file=sys.stderr)  # fmt: skip
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
