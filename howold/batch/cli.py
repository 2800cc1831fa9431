"""`howold batch`: the command-line hook. Imports only the standard library and howold's light
names; Ray and pyarrow load when the command runs."""

from __future__ import annotations

import argparse
import sys

from howold import AgeCheck, DetectOptions, require_extra


def add_batch_command(subparsers) -> None:
    """Add `howold batch` to the `howold` command's subparsers."""
    batch = subparsers.add_parser(
        "batch",
        help="estimate ages for many photos and videos on Ray, into a Parquet file (needs the [batch] extra)",
        description=(
            "Estimate the age of every face in many photos with Ray Data, locally or on a Ray "
            "cluster, and write one Parquet row per face (one per person for a video; plus one per file "
            "without a face or with an error). Finished batches are committed to OUT.parts/ as the job runs and "
            "merged into OUT at the end; --resume continues a killed job."
        ),
    )
    batch.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="photo or video files, folders, glob patterns ('photos/**/*.jpg') or .txt lists of paths",
    )
    batch.add_argument("--out", required=True, metavar="FILE", help="the Parquet file to write")
    batch.add_argument(
        "--resume",
        action="store_true",
        help="skip photos already in OUT or OUT.parts/ (continue a killed or earlier run)",
    )
    batch.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="run on this Ray cluster (default: $RAY_ADDRESS, else a local Ray on this machine)",
    )
    batch.add_argument(
        "--actors",
        type=int,
        metavar="N",
        help="Predictors running at once, one per Ray actor (default: cluster CPUs / --cpus-per-actor)",
    )
    batch.add_argument(
        "--cpus-per-actor",
        type=int,
        default=1,
        metavar="N",
        help="CPUs (and onnxruntime threads) per actor (default 1)",
    )
    batch.add_argument(
        "--batch-size",
        type=int,
        default=32,
        metavar="N",
        help="photos per batch, and per committed part file (default 32)",
    )
    batch.add_argument("-r", "--recursive", action="store_true", help="look into sub-folders too")
    DetectOptions.add_arguments(batch)
    batch.add_argument(
        "--model",
        metavar="FILE",
        help="ONNX age model with its .json sidecar, readable by every worker (default: shipped)",
    )
    AgeCheck.add_arguments(batch)
    batch.add_argument(
        "--distribution",
        action="store_true",
        help="photos: write each face's age distribution (distribution_ages, distribution_probs)",
    )
    batch.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    batch.set_defaults(handler=run_batch_command)


def run_batch_command(args: argparse.Namespace) -> int:
    require_extra("batch", "batch")
    from howold import DEFAULT_MODEL_PATH, Predictor, check_outputs, find_inputs
    from howold.batch import job

    options = DetectOptions.from_arguments(args)
    check = AgeCheck.from_arguments(args)
    reason = Predictor(args.model or DEFAULT_MODEL_PATH, options).missing_model_reason
    if reason and not args.quiet:
        print(f"howold: {reason}", file=sys.stderr)
    photos = find_inputs(
        args.inputs, recursive=args.recursive, on_skip=lambda note: print(f"howold: {note}", file=sys.stderr)
    )
    check_outputs([("--out", args.out)], [*photos, *args.inputs])
    progress = None if args.quiet else _progress_bar(len(photos))
    try:
        summary = job.run_batch(
            photos,
            args.out,
            resume=args.resume,
            actors=args.actors,
            cpus_per_actor=args.cpus_per_actor,
            batch_size=args.batch_size,
            model=args.model or None,
            options=options,
            ray_address=args.ray_address,
            on_progress=progress.update if progress else None,
            check=check,
            distribution=args.distribution,
            quiet=args.quiet,
        )
    finally:
        if progress:
            progress.close()
    if not args.quiet:
        job.print_summary(summary)
    return 0


def _progress_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="photo", file=sys.stderr, leave=False)
