"""`howold tune`: hyper-parameter search with Optuna over short proxy runs of `howold train`.

A study lives in its run folder `<out_dir>/<study>/`: `study.db` (the default SQLite storage),
`trials/trial_NNN/` (each trial's `howold train` run, checkpoints removed when it ends) and the report.
Optuna's database storage does all the bookkeeping, so the same command run again continues the study,
and several processes (on several machines, with `--storage postgresql://...`) share one study:

- TPE proposes values (seeded by `seed` and the trial number, so runs repeat and processes never draw
  alike); a median pruner stops a trial whose per-epoch val MAE is worse than the median of earlier
  trials at the same epoch (Optuna's Lightning callback reports it).
- `--trials N` is the study's total of finished (complete or pruned) trials, not a number to add.
- A trial whose process died is failed and queued again with the same values: at once when the
  process was on this machine, else when its heartbeat is `GRACE_S` seconds old.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from howold.errors import HowoldError
from howold.train.config import TrainConfig
from howold.train.tune.space import SearchSpace, apply, check_space, start_points

log = logging.getLogger(__name__)

HEARTBEAT_S = 20  # a running trial writes a heartbeat to the storage this often
GRACE_S = 120  # a trial without a heartbeat for this long died with its machine; it is run again
MAX_RETRY = 2  # times a dead trial is queued again
TAKEN = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass(frozen=True)
class TuneOptions:
    trials: int | None = None  # finished trials the study should reach; None: run none (report only)
    storage: str | None = None  # SQLAlchemy URL; None: sqlite in the run folder
    study: str | None = None  # None: `<config name>_tune`
    timeout: float | None = None  # seconds after which no new trial starts

    def __post_init__(self) -> None:
        if self.trials is not None and self.trials < 1:
            raise HowoldError(f"--trials: expected at least 1 trial, got {self.trials}.")
        if self.timeout is not None and self.timeout <= 0:
            raise HowoldError(f"--timeout: expected a number of seconds above 0, got {self.timeout}.")

    def study_name(self, base: TrainConfig) -> str:
        return self.study or f"{base.name}_tune"

    def folder(self, base: TrainConfig) -> Path:
        return Path(base.out_dir) / self.study_name(base)

    def storage_url(self, base: TrainConfig) -> str:
        return self.storage or f"sqlite:///{(self.folder(base) / 'study.db').resolve()}"


class SurplusTrial(Exception):
    """A trial started after the study already had its trials (two processes asked at once)."""


def trial_config(base: TrainConfig, space: SearchSpace, params: dict, folder: Path, number: int) -> TrainConfig:
    """A trial's run: base config, then the proxy, then the trial's values, in `trials/trial_NNN`."""
    where = {"name": f"trial_{number:03d}", "out_dir": str(folder / "trials")}
    return apply(base, {**space.proxy, **params, **where})


def best_config(base: TrainConfig, params: dict) -> TrainConfig:
    """The full recipe with the search's values (no proxy): what `howold train --config` runs."""
    return apply(base, {**params, "name": f"{base.name}_tuned"})


def retry_callback():
    """Optuna's callback that queues a dead trial again with its values (renamed in Optuna 4.9)."""
    storages = optuna.storages
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if hasattr(storages, "RetryHeartbeatStaleTrialCallback"):
            return storages.RetryHeartbeatStaleTrialCallback(MAX_RETRY)
        return storages.RetryFailedTrialCallback(MAX_RETRY)


def with_driver(url: str) -> str:
    """`postgresql://` means psycopg 3 (the `train` extra's driver), whichever SQLAlchemy picks by default."""
    return "postgresql+psycopg://" + url.removeprefix("postgresql://") if url.startswith("postgresql://") else url


def open_storage(url: str, attempts: int = 3) -> RDBStorage:
    """Optuna's database storage. Processes that start together on an empty database race to create
    its tables, and all but one may fail once; they try again."""
    url = with_driver(url)
    for attempt in range(1, attempts + 1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    heartbeat_interval=HEARTBEAT_S,
                    grace_period=GRACE_S,
                    heartbeat_stale_trial_callback=retry_callback(),
                )
        except ImportError as exc:
            raise HowoldError(
                f"storage {_safe(url)}: its database driver is missing ({exc}); "
                "pip install -e '.[train]' brings psycopg for PostgreSQL."
            ) from exc
        except Exception as exc:  # sqlalchemy's errors: unreachable server, bad URL, no permission
            if attempt == attempts:
                raise HowoldError(f"cannot open the study storage {_safe(url)}: {str(exc).splitlines()[0]}") from exc
            log.info("opening %s failed (%s); trying again", _safe(url), str(exc).splitlines()[0])
            time.sleep(attempt)


def _safe(url: str) -> str:
    """The URL without its password, for messages and summaries."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unreadable URL)"


def make_sampler(space: SearchSpace, seed: int) -> optuna.samplers.TPESampler:
    # constant_liar: trials running elsewhere count as bad guesses, so parallel processes spread out
    settings = {"n_startup_trials": 8, "constant_liar": True, **space.sampler, "seed": seed}
    return _build("sampler", optuna.samplers.TPESampler, settings)


def make_pruner(space: SearchSpace) -> optuna.pruners.MedianPruner:
    return _build("pruner", optuna.pruners.MedianPruner, {"n_startup_trials": 4, "n_warmup_steps": 1, **space.pruner})


def _build(section: str, cls, settings: dict):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return cls(**settings)
    except (TypeError, ValueError) as exc:
        raise HowoldError(f"search space {section}: {settings} do not fit Optuna's {cls.__name__} ({exc}).") from exc


def open_study(base: TrainConfig, space: SearchSpace, options: TuneOptions) -> optuna.Study:
    """Create the study, or load it when it exists (same space required); the creator queues `start`."""
    storage = open_storage(options.storage_url(base))
    name = options.study_name(base)
    common = {
        "study_name": name,
        "storage": storage,
        "sampler": make_sampler(space, base.seed),
        "pruner": make_pruner(space),
    }
    try:
        study = optuna.create_study(direction="minimize", **common)
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(**common)
        stored = study.user_attrs.get("space")
        if stored is not None and stored != space.to_dict():
            raise HowoldError(
                f"study {name} was started with another search space; give a new --study "
                "name, or the space it was started with."
            ) from None
        return study
    study.set_user_attr("space", space.to_dict())
    study.set_user_attr("base_config", base.to_dict())
    for params in start_points(base, space):
        study.enqueue_trial(params)
    return study


def _worker_tag(number: int) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{number}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z")


def fail_dead_local_trials(study: optuna.Study) -> list[int]:
    """Fail (and queue again) running trials whose process on this machine is gone, e.g. killed."""
    host, failed = socket.gethostname(), []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        parts = str(trial.user_attrs.get("worker", "")).rsplit(":", 2)
        if len(parts) != 3 or parts[0] != host or parts[2] != str(trial.number) or _alive(int(parts[1])):
            continue
        frozen = study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        retry_callback()(study, frozen)
        log.warning(
            "trial %d was left running by process %s, which is gone; it is queued again", trial.number, parts[1]
        )
        failed.append(trial.number)
    return failed


def requeue_interrupted(study: optuna.Study) -> None:
    """After Ctrl-C (which Lightning turns into SystemExit), fail this process's trial and queue its
    values again, so the next run does it first."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.FAIL)):
        if trial.user_attrs.get("worker") != _worker_tag(trial.number) or trial.user_attrs.get("surplus"):
            continue
        frozen = study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        retry_callback()(study, frozen)
        log.warning("trial %d was interrupted; it is queued again for the next run", trial.number)


def _claim(trial: optuna.Trial, space: SearchSpace, seed: int, n_trials: int) -> None:
    """Mark the trial as this process's; refuse it when the study already has its trials."""
    trial.set_user_attr("worker", _worker_tag(trial.number))
    before = [t for t in trial.study.get_trials(deepcopy=False, states=TAKEN) if t.number < trial.number]
    if len(before) >= n_trials:
        trial.set_user_attr("surplus", True)
        raise SurplusTrial(f"trial {trial.number} is not needed: the study already has {n_trials} trials.")
    trial.study.sampler = make_sampler(space, seed * 1000 + trial.number)


def make_objective(base: TrainConfig, space: SearchSpace, folder: Path, n_trials: int, train_fn=None):
    """The objective: one proxy `howold train` run, pruned through Optuna's Lightning callback."""
    from optuna_integration import PyTorchLightningPruningCallback

    if train_fn is None:
        from howold.train.run import train as train_fn

    def objective(trial: optuna.Trial) -> float:
        _claim(trial, space, base.seed, n_trials)
        params = {p.key: p.suggest(trial) for p in space.params}
        cfg = trial_config(base, space, params, folder, trial.number)
        trial.set_user_attr("run_dir", str(cfg.run_dir))
        log.info("trial %d: %s", trial.number, ", ".join(f"{k}={v}" for k, v in params.items()))
        try:
            summary = train_fn(cfg, callbacks=[PyTorchLightningPruningCallback(trial, monitor="val/mae")])
        finally:
            shutil.rmtree(cfg.run_dir / "checkpoints", ignore_errors=True)  # 30 trials would keep ~1 GB
        if summary["best_val_mae"] is None:
            raise HowoldError(f"trial {trial.number} measured no val MAE; check data.val and the proxy.")
        return summary["best_val_mae"]

    return objective


def counts(study: optuna.Study) -> dict[str, int]:
    trials = study.get_trials(deepcopy=False)
    return {state.name.lower(): sum(t.state == state for t in trials) for state in TrialState}


def run_study(base: TrainConfig, space: SearchSpace, options: TuneOptions, train_fn=None) -> dict:
    """Run trials until the study has `options.trials` finished ones (or the timeout); return a summary."""
    check_space(base, space)
    folder = options.folder(base)
    folder.mkdir(parents=True, exist_ok=True)
    study = open_study(base, space, options)
    objective = make_objective(base, space, folder, options.trials, train_fn)
    deadline = time.monotonic() + options.timeout if options.timeout else None
    ran = 0
    while deadline is None or time.monotonic() < deadline:
        fail_dead_local_trials(study)
        trials = study.get_trials(deepcopy=False)
        taken = sum(t.state in TAKEN for t in trials)
        if taken >= options.trials and not any(t.state == TrialState.WAITING for t in trials):
            break  # every trial is finished or running in another process
        try:
            study.optimize(objective, n_trials=1, catch=(SurplusTrial,))
        except (KeyboardInterrupt, SystemExit):
            requeue_interrupted(study)
            raise
        ran += 1
    return summarise(study, options, base, ran)


def summarise(study: optuna.Study, options: TuneOptions, base: TrainConfig, ran: int = 0) -> dict:
    summary = {
        "study": study.study_name,
        "storage": _safe(options.storage_url(base)),
        "folder": str(options.folder(base)),
        "trials_run_here": ran,
        "states": counts(study),
    }
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if complete:
        best = min(complete, key=lambda t: t.value)
        summary["best"] = {"trial": best.number, "val_mae": best.value, "params": best.params}
    return summary
