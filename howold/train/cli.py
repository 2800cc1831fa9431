"""Training subcommands for the howold CLI: `train`, `export`, `val`, `teach`.

`howold.cli` calls `add_train_commands(subparsers)`; each subcommand sets `handler`, which takes
the parsed args and returns an exit code. Heavy imports (torch, lightning) happen only when a
subcommand runs, so `howold --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from howold import require_extra
from howold.train import DEFAULT_CACHE_DIR


def add_train_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `train`, `export`, `val` and `teach` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "train",
        help="train an age model (needs the [train] extra)",
        description="Train from a YAML config; KEY=VALUE overrides set dotted keys, e.g. "
        "trainer.max_epochs=2 data.batch_size=32 model.backbone=tiny_vit_5m_224 "
        "model.pretrained=none. Multi-GPU: trainer.accelerator=gpu trainer.devices=4 "
        "trainer.strategy=ddp (trainer.num_nodes=N for several machines).",
    )
    p.add_argument("--config", help="YAML file in configs/ (default: built-in defaults)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    p.add_argument("--resume", action="store_true", help="continue from <run dir>/checkpoints/last.ckpt")
    p.set_defaults(handler=_train)

    p = subparsers.add_parser("export", help="checkpoint → ONNX model + JSON sidecar (needs the [train] extra)")
    p.add_argument("ckpt", help="Lightning checkpoint (.ckpt) written by howold train")
    p.add_argument("--out", required=True, help="ONNX file to write; the sidecar gets the same stem + .json")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--no-check", action="store_true", help="skip the torch vs onnxruntime parity check")
    p.add_argument("--name", help="the model's name in its sidecar (default: the training config's)")
    p.add_argument("--version", help="the model's version in its sidecar (default: the training config's)")
    p.add_argument(
        "--no-flip", action="store_true", help="no flip averaging in the sidecar, whatever the training config says"
    )
    p.set_defaults(handler=_export)

    p = subparsers.add_parser("val", help="measure an ONNX age model on a labelled dataset")
    p.add_argument("--model", required=True, help="ONNX model with its sidecar")
    p.add_argument(
        "--data",
        default="utkface",
        help="utkface, aaf, fairface, fgnet, appa_real, or a CSV path; with --calibrate or --choose-flip "
        "several separated by commas (utkface,aaf), pooled",
    )
    p.add_argument(
        "--split",
        default="test",
        help="train, val, test or all (fairface: always all; fgnet: all means its test people)",
    )
    p.add_argument("--end-to-end", action="store_true", help="photo → detect → crop → model, no crop cache")
    p.add_argument("--json", help="write the full result here")
    choice = p.add_mutually_exclusive_group()
    choice.add_argument(
        "--calibrate",
        action="store_true",
        help="fit the temperature on this (validation) split and write it into the sidecar",
    )
    choice.add_argument(
        "--choose-flip",
        action="store_true",
        help="keep flip averaging (twice the age model's cost) only if it lowers the MAE on this "
        "(validation) split, pooled over the sets, by --min-flip-gain; writes tta_flip into "
        "the sidecar",
    )
    p.add_argument(
        "--min-flip-gain",
        type=float,
        default=0.1,
        metavar="YEARS",
        help="with --choose-flip: the MAE gain flip averaging must bring (default 0.1)",
    )
    p.add_argument("--record", action="store_true", help="store the headline figures in the sidecar")
    p.add_argument(
        "--degraded",
        action="store_true",
        help="on a fixed degraded copy of the crops (low resolution, old print, grain and JPEG, hard "
        "light, blur), every face taken as poor; with --calibrate, fits temperature_poor",
    )
    p.add_argument("--data-root", help="folder of the dataset (default: ../shared/data/<name>)")
    p.add_argument("--cache-dir", default=DEFAULT_CACHE_DIR)
    p.add_argument("--limit", type=int, help="only the first N images")
    p.set_defaults(handler=_val)

    p = subparsers.add_parser(
        "teach",
        help="soft age targets from exported models, for distillation (loss.teacher)",
        description="Average the age distributions of one or more ONNX models (each with and without a "
        "flip) over a training split's cached crops and write them to an .npz that a training "
        "config names as loss.teacher.",
    )
    p.add_argument("--model", action="append", required=True, help="ONNX teacher with its sidecar (repeatable)")
    p.add_argument("--out", required=True, help=".npz to write (keep it out of the repository, e.g. cache/)")
    p.add_argument("--data", default="utkface", help="utkface, appa_real, or a CSV path")
    p.add_argument("--split", default="train", help="the training split (never val or test)")
    p.add_argument("--no-flip", action="store_true", help="do not average each teacher with its flipped view")
    p.add_argument("--data-root", help="folder of the dataset (default: ../shared/data/<name>)")
    p.add_argument("--cache-dir", default=DEFAULT_CACHE_DIR)
    p.add_argument("--limit", type=int, help="only the first N images")
    p.set_defaults(handler=_teach)


def setup_logging(lightning: bool = False) -> None:
    """One line per message on stderr, timed and named. With `lightning` (commands that run it), Lightning
    is imported now and its package's own console handler dropped: it printed each of Lightning's lines
    a second time beside the root logger's."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if lightning:
        import lightning as package  # the handler is added on import

        logger = logging.getLogger(package.__name__)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)


def quiet_threads() -> None:
    """Idle OpenMP threads sleep instead of spinning: on a shared 2-core machine spinning threads
    made training 6x slower (7 vs 43 images/s). Must be set before torch loads."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _train(args) -> int:
    require_extra("train", "train")
    quiet_threads()
    setup_logging(lightning=True)
    from howold.train.config import load_config
    from howold.train.run import train

    overrides = list(args.overrides)
    if "ckpt_path=last" in overrides:
        overrides.remove("ckpt_path=last")
        args.resume = True
    summary = train(load_config(args.config, overrides), resume=args.resume)
    print(
        json.dumps(
            {k: summary[k] for k in ("name", "best_val_mae", "best_checkpoint", "wall_seconds", "images_per_s")},
            indent=2,
        )
    )
    return 0


def _export(args) -> int:
    require_extra("export", "train")
    quiet_threads()
    setup_logging()
    from howold.train.export import export

    sidecar = export(
        args.ckpt,
        args.out,
        opset=args.opset,
        check=not args.no_check,
        name=args.name,
        version=args.version,
        tta_flip=False if args.no_flip else None,
    )
    print(
        f"wrote {args.out} and {Path(args.out).with_suffix('.json')} "
        f"(parity max abs diff {sidecar['training']['parity_max_abs_diff']})"
    )
    return 0


def _val(args) -> int:
    if args.degraded:  # the degradations are torch transforms
        require_extra("val --degraded", "train")
    setup_logging()
    from howold.train.evaluate import EvalData, calibrate, choose_flip, evaluate, format_result, record

    data = EvalData(args.data, args.split, args.data_root, args.cache_dir, args.limit)
    if args.choose_flip:
        result = choose_flip(args.model, data, min_gain=args.min_flip_gain)
        print(
            f"flip averaging: pooled {args.split} MAE {result['val_mae_flip']:.3f} with, "
            f"{result['val_mae_noflip']:.3f} without -> tta_flip={result['tta_flip']}"
        )
        if args.json:
            _write_json(args.json, result)
        return 0
    if args.calibrate:
        result = calibrate(args.model, data, degraded=args.degraded)
        key = "temperature_poor" if args.degraded else "temperature"
        print(
            f"{key} {result[key]}: {result['target']:.0%} range coverage on "
            f"{result['data']} {result['split']} {result['coverage_before']:.3f} → {result['coverage_after']:.3f}"
        )
        if "," in args.data:
            return 0
    result = evaluate(args.model, data, end_to_end=args.end_to_end, degraded=args.degraded)
    print(format_result(result))
    if args.json:
        _write_json(args.json, result)
    if args.record:
        record(args.model, result)
    return 0


def _write_json(path: str, result: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=2))


def _teach(args) -> int:
    setup_logging()
    from howold.train.teacher import write_teacher_targets

    summary = write_teacher_targets(
        args.model,
        args.out,
        args.data,
        args.split,
        args.data_root,
        args.cache_dir,
        flip=not args.no_flip,
        limit=args.limit,
    )
    print(json.dumps(summary, indent=2))
    return 0
