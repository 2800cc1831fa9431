"""`howold tune` on the command line; Optuna and torch load only when the command runs."""

from __future__ import annotations

import argparse
import json

from howold import HowoldError, require_extra


def add_tune_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "tune",
        help="hyper-parameter search with Optuna (needs the [train] extra)",
        description="Search the keys of SPACE.yaml with short proxy runs of howold train (TPE, median "
        "pruning on per-epoch val MAE). The study lives in <out_dir>/<study>/ (SQLite by "
        "default): run the same command again to continue it; --storage postgresql://... lets "
        "several processes or machines share it. KEY=VALUE overrides change the base config.",
    )
    p.add_argument("--config", help="base recipe (YAML, as for howold train)")
    p.add_argument("--space", required=True, help="search space YAML, e.g. configs/tune_space.yaml")
    p.add_argument("--trials", type=int, help="finished trials the study should reach (not trials to add)")
    p.add_argument("--storage", help="SQLAlchemy URL (default: sqlite:///<out_dir>/<study>/study.db)")
    p.add_argument("--study", help="study name (default: <config name>_tune)")
    p.add_argument("--timeout", type=float, help="start no new trial after this many seconds")
    p.add_argument(
        "--report",
        action="store_true",
        help="write best trials, importances, plots and best_config.yaml into the study folder",
    )
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    p.set_defaults(handler=_tune)


def _tune(args) -> int:
    from howold.train.cli import quiet_threads, setup_logging

    if args.trials is None and not args.report:
        raise HowoldError("howold tune: give --trials N to run a study, --report to report on it, or both.")
    require_extra("tune", "tune")
    quiet_threads()
    setup_logging(lightning=True)
    from howold.train.config import load_config
    from howold.train.tune.report import format_report, write_report
    from howold.train.tune.space import load_space
    from howold.train.tune.study import TuneOptions, run_study

    base, space = load_config(args.config, args.overrides), load_space(args.space)
    options = TuneOptions(trials=args.trials, storage=args.storage, study=args.study, timeout=args.timeout)
    if args.trials is not None:
        print(json.dumps(run_study(base, space, options), indent=2, default=str))
    if args.report:
        print(format_report(write_report(base, space, options)))
    return 0
