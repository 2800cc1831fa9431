"""`howold tune --report`: what a study found, written into its run folder.

report.json (trial counts, the best trials with their values, parameter importances), history.png,
importances.png, slice.png (Optuna's matplotlib plots) and best_config.yaml: the full recipe with the
best trial's values, ready for `howold train --config`.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from howold.errors import HowoldError
from howold.train.config import TrainConfig, save_config
from howold.train.tune.space import SearchSpace
from howold.train.tune.study import TuneOptions, best_config, counts, open_storage

log = logging.getLogger(__name__)

TOP = 5  # best trials listed in the report


def load_study(base: TrainConfig, options: TuneOptions) -> optuna.Study:
    name = options.study_name(base)
    if options.storage is None and not (options.folder(base) / "study.db").is_file():
        raise HowoldError(f"no study {name} in {options.folder(base)}; run howold tune with --trials first.")
    try:
        return optuna.load_study(study_name=name, storage=open_storage(options.storage_url(base)))
    except KeyError:
        raise HowoldError(
            f"no study {name} in {options.storage or options.storage_url(base)}; run howold tune with --trials first."
        ) from None


def decoded(space: SearchSpace, params: dict) -> dict:
    """A trial's Optuna parameters as config values."""
    return {key: space.spec(key).from_optuna(value) for key, value in params.items()}


def write_best_config(base: TrainConfig, space: SearchSpace, trial, path: Path) -> Path:
    values = decoded(space, trial.params)
    save_config(best_config(base, values), path)
    header = [
        f"# Best trial {trial.number} of howold tune (proxy val MAE {trial.value:.3f}; proxy: "
        + (", ".join(f"{k}={v}" for k, v in space.proxy.items()) or "none")
        + ").",
        "# Values from the search: " + ", ".join(f"{k}={v}" for k, v in values.items()) + ".",
    ]
    path.write_text("\n".join(header) + "\n" + path.read_text())
    return path


def importances(study: optuna.Study) -> dict | str:
    """fANOVA importances of the parameters, or why there are none yet (too few trials, one value)."""
    try:
        return {k: round(v, 4) for k, v in optuna.importance.get_param_importances(study).items()}
    except (ValueError, RuntimeError) as exc:
        return f"not available: {exc}"


def save_plots(study: optuna.Study, folder: Path, with_importances: bool) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from optuna.visualization import matplotlib as oplt

    plots = {"history.png": oplt.plot_optimization_history, "slice.png": oplt.plot_slice}
    if with_importances:
        plots["importances.png"] = oplt.plot_param_importances
    written = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for name, plot in plots.items():
            figure = np.atleast_1d(plot(study)).flat[0].figure
            figure.savefig(folder / name, dpi=110, bbox_inches="tight")
            plt.close(figure)
            written.append(name)
    return written


def trial_row(space: SearchSpace, trial) -> dict:
    duration = trial.duration.total_seconds() if trial.duration else None
    return {
        "trial": trial.number,
        "val_mae": round(trial.value, 4),
        "params": decoded(space, trial.params),
        "epochs": len(trial.intermediate_values),
        "seconds": duration,
        "run_dir": trial.user_attrs.get("run_dir"),
    }


def write_report(base: TrainConfig, space: SearchSpace, options: TuneOptions) -> dict:
    study = load_study(base, options)
    folder = options.folder(base)
    folder.mkdir(parents=True, exist_ok=True)
    complete = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.value)
    if not complete:
        raise HowoldError(f"study {study.study_name} has no completed trial yet; run howold tune with --trials.")
    found = importances(study)
    report = {
        "study": study.study_name,
        "states": counts(study),
        "proxy": space.proxy,
        "best": [trial_row(space, t) for t in complete[:TOP]],
        "importances": found,
        "best_config": str(write_best_config(base, space, complete[0], folder / "best_config.yaml")),
    }
    report["plots"] = save_plots(study, folder, isinstance(found, dict))
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=str))
    return report


def format_report(report: dict) -> str:
    lines = [f"study {report['study']}: " + ", ".join(f"{n} {k}" for k, n in report["states"].items() if n)]
    for row in report["best"]:
        values = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row["params"].items())
        lines.append(f"  trial {row['trial']:>3}: val MAE {row['val_mae']:.3f}  {values}")
    found = report["importances"]
    lines.append(
        "importances: " + (", ".join(f"{k} {v:.2f}" for k, v in found.items()) if isinstance(found, dict) else found)
    )
    lines.append(f"best config: {report['best_config']}  (howold train --config {report['best_config']})")
    return "\n".join(lines)
