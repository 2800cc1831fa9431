"""`howold tune` on the four fixture faces: a 3-trial study with a pruned trial, a killed study that
resumes, two processes sharing one PostgreSQL study, and the search-space checks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("lightning")
optuna = pytest.importorskip("optuna")
pytest.importorskip("optuna_integration")

from howold.cli import main  # noqa: E402
from howold.errors import HowoldError  # noqa: E402
from howold.train.config import load_config  # noqa: E402
from howold.train.tune.space import apply, check_space, load_space, start_points  # noqa: E402
from howold.train.tune.study import (  # noqa: E402
    TuneOptions,
    best_config,
    fail_dead_local_trials,
    trial_config,
    with_driver,
)

ROOT = Path(__file__).resolve().parents[2]

# trial 2's learning rate wrecks the model: its val MAE at epoch 1 is above the median of trials 0 and 1
PRUNING_SPACE = """
proxy: {trainer.max_epochs: 3, trainer.patience: 99}
params:
  optim.lr: {type: float, low: 1e-4, high: 1.0, log: true}
start: [{optim.lr: 1e-3}, {optim.lr: 3e-3}, {optim.lr: 0.5}]
pruner: {n_startup_trials: 2, n_warmup_steps: 1}
sampler: {n_startup_trials: 2}
"""

# no pruning: every trial completes, with values drawn by TPE after the fixed start
PLAIN_SPACE = """
proxy: {trainer.max_epochs: 1}
params:
  optim.lr: {type: float, low: 1e-4, high: 1e-2, log: true}
  augment.scale: {type: categorical, choices: [[0.9, 1.1], [1.0, 1.0]]}
start: [{optim.lr: 1e-3}]
pruner: {n_startup_trials: 100}
"""


def base_overrides(tiny_run) -> list[str]:
    return [
        *tiny_run(),
        "name=tiny",
        "model.pretrained=bundled",
        "optim.warmup_epochs=0",
        "trainer.log_every_n_steps=1",
        "augment.flip=false",
        "augment.degrees=0",
        "augment.translate=0",
        "augment.jitter=0",
        "augment.blur_p=0",
        "augment.grayscale_p=0",
    ]


def write_space(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def tune_args(tmp_path, tiny_run, space: str, trials: int, *extra: str) -> list[str]:
    return [
        "tune",
        "--space",
        str(write_space(tmp_path, space)),
        "--trials",
        str(trials),
        *extra,
        *base_overrides(tiny_run),
    ]


def load(tmp_path, storage: str | None = None, study: str = "tiny_tune"):
    url = storage or f"sqlite:///{tmp_path / 'runs' / study / 'study.db'}"
    return optuna.load_study(study_name=study, storage=with_driver(url))


def child_env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def howold(args: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "howold.cli", *args],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


@pytest.mark.slow
def test_three_trial_study_prunes_the_bad_one_and_writes_a_ready_config(tmp_path, faces_csv, capsys, tiny_run):
    started = time.perf_counter()
    assert main(tune_args(tmp_path, tiny_run, PRUNING_SPACE, 3, "--report")) == 0
    study = load(tmp_path)
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 2 + [optuna.trial.TrialState.PRUNED]
    assert study.trials[2].params["optim.lr"] == 0.5 and len(study.trials[2].intermediate_values) == 2

    folder = tmp_path / "runs" / "tiny_tune"
    assert {"history.png", "slice.png", "report.json", "best_config.yaml"} <= {p.name for p in folder.iterdir()}
    best = load_config(folder / "best_config.yaml")
    assert best.optim.lr == study.best_params["optim.lr"] and best.name == "tiny_tuned"
    assert best.trainer.max_epochs == 15  # the recipe's schedule, not the proxy's
    assert "howold train --config" in capsys.readouterr().out
    assert not (folder / "trials" / "trial_000" / "checkpoints").exists()

    # the same command again: the study is complete, nothing runs
    assert main(tune_args(tmp_path, tiny_run, PRUNING_SPACE, 3)) == 0
    assert len(load(tmp_path).trials) == 3
    report_only = ["tune", "--space", str(tmp_path / "space.yaml"), "--report", *base_overrides(tiny_run)]
    assert main(report_only) == 0
    print(f"3-trial study and its rerun: {time.perf_counter() - started:.1f} s")


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_killed_study_resumes_without_losing_or_repeating_a_trial(tmp_path, faces_csv, stop, tiny_run):
    space = PLAIN_SPACE.replace(
        "start: [{optim.lr: 1e-3}]", "start: [{optim.lr: 1e-3}, {optim.lr: 2e-3}, {optim.lr: 4e-3}]"
    )
    args = tune_args(tmp_path, tiny_run, space, 3)
    first = howold(args)
    study = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        try:
            study = load(tmp_path)
            states = [t.state.name for t in study.get_trials(deepcopy=False)]
        except (KeyError, Exception):
            states = []
        if states[:2] == ["COMPLETE", "RUNNING"]:
            break
        time.sleep(0.1)
    assert first.poll() is None, first.communicate()[0][-3000:]
    first.send_signal(stop)
    out = first.communicate(timeout=120)[0]
    done_before = {t.number: t.value for t in load(tmp_path).trials if t.state.name == "COMPLETE"}
    if len(done_before) == 3:  # seen once with the machine's 2 cores starved by a training run
        pytest.skip("the study finished before the signal could reach a running trial")
    assert list(done_before) == [0]

    second = howold(args)
    out += second.communicate(timeout=300)[0]
    assert second.returncode == 0, out[-3000:]
    trials = load(tmp_path).trials
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert [t.state.name for t in trials][:2] == ["COMPLETE", "FAIL"]
    assert sorted(t.params["optim.lr"] for t in complete) == [1e-3, 2e-3, 4e-3]  # each once
    assert complete[0].number == 0 and complete[0].value == done_before[0]  # kept, not run again
    assert any(t.system_attrs.get("failed_trial") == 1 for t in complete)  # the killed one, run again
    assert "queued again" in out


def postgres_binaries() -> Path | None:
    import shutil

    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


@pytest.fixture
def postgres_url():
    """A throwaway PostgreSQL cluster in a temporary folder (as user postgres when run as root)."""
    import shutil
    import socket
    import tempfile

    pytest.importorskip("psycopg", reason="psycopg (the PostgreSQL driver) is not installed")
    bin_dir = postgres_binaries()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server installed (Debian: apt-get install postgresql)")
    as_user = []
    if os.geteuid() == 0:
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser, so PostgreSQL cannot be started")
        as_user = ["runuser", "-u", "postgres", "--"]
    folder = Path(tempfile.mkdtemp(prefix="howold-pg-"))
    if as_user:
        shutil.chown(folder, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = folder / "data"
    start = [
        *as_user,
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(folder / "log"),
        "-w",
        "-o",
        f"-p {port} -k {folder} -h 127.0.0.1 -c fsync=off",
        "start",
    ]
    try:
        subprocess.run(
            [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "howold"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(start, check=True, capture_output=True, timeout=60)
    except (subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"could not start a PostgreSQL server: {exc}")
    yield f"postgresql://howold@127.0.0.1:{port}/postgres"
    subprocess.run(
        [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60
    )
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_two_processes_share_one_postgresql_study(tmp_path, faces_csv, postgres_url, tiny_run):
    n = 4
    args = tune_args(tmp_path, tiny_run, PLAIN_SPACE, n, "--storage", postgres_url, "--study", "shared")
    workers = [howold(args) for _ in range(2)]
    outputs = [w.communicate(timeout=400)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    trials = load(tmp_path, postgres_url, "shared").trials
    finished = [t for t in trials if t.state.name == "COMPLETE"]
    others = [t for t in trials if t.state.name != "COMPLETE"]
    assert len(finished) == n
    assert all(t.user_attrs.get("surplus") for t in others)  # at most a trial both asked for at once
    assert len({t.user_attrs["run_dir"] for t in finished}) == n  # every trial ran once, in one process
    pids = {t.user_attrs["worker"].split(":")[1] for t in finished}
    assert pids == {str(w.pid) for w in workers}  # both processes took part


def test_shipped_space_fits_the_shipped_recipe():
    base = load_config(ROOT / "configs" / "utkface_lite0_kd.yaml")
    space = load_space(ROOT / "configs" / "tune_space.yaml")
    check_space(base, space)
    (recipe,) = start_points(base, space)
    values = {key: space.spec(key).from_optuna(value) for key, value in recipe.items()}
    cfg = trial_config(base, space, values, Path("runs/t"), 7)
    assert (cfg.name, cfg.trainer.max_epochs, cfg.data.input_size, cfg.optim.lr) == ("trial_007", 3, 96, 1.5e-3)
    assert best_config(base, values).trainer.max_epochs == base.trainer.max_epochs


def test_space_keys_must_exist_in_the_config(tmp_path):
    base = load_config(None, [])
    bad = load_space(write_space(tmp_path, "params: {optim.learning_rate: {type: float, low: 1, high: 2}}"))
    with pytest.raises(HowoldError, match="unknown key"):
        check_space(base, bad)
    listed = load_space(write_space(tmp_path, "params: {data.train.3.weight: {type: float, low: 1, high: 2}}"))
    with pytest.raises(HowoldError, match="not an item of a 1-item list"):
        check_space(base, listed)


def test_list_items_and_structured_choices_reach_the_config(tmp_path):
    base = load_config(None, [])
    cfg = apply(base, {"data.train.0.split": "all", "augment.scale": [0.8, 1.2]})
    assert cfg.data.train[0]["split"] == "all" and cfg.augment.scale == [0.8, 1.2]
    space = load_space(write_space(tmp_path, PLAIN_SPACE.replace("start: [{optim.lr: 1e-3}]", "start: [recipe]")))
    (point,) = start_points(base, space)
    assert point == {"optim.lr": base.optim.lr, "augment.scale": "[0.9, 1.1]"}
    assert space.spec("augment.scale").from_optuna(point["augment.scale"]) == [0.9, 1.1]


@pytest.mark.parametrize(
    "text, message",
    [
        ("params: {optim.lr: {type: float, low: 1e-2, high: 1e-3}}", "must be below"),
        ("params: {optim.lr: {type: float, low: 0, high: 1, log: true}}", "log range must start above 0"),
        ("params: {optim.lr: {type: normal, low: 0, high: 1}}", "type must be one of"),
        ("params: {model.backbone: {type: categorical, choices: []}}", "non-empty list of choices"),
        ("params: {optim.lr: 0.1}", "expected {type"),
        ("params: {optim.lr: {type: float, low: 0, high: 1, lo: 2}}", "unknown settings"),
        ("params: {}", "params` is empty"),
        ("search: {}", "expected a mapping with sections"),
        ("params: {optim.lr: {type: float, low: 0, high: 1}}\nstart: [{optim.wd: 1}]", "are not in params"),
    ],
)
def test_bad_spaces_are_explained(tmp_path, text, message):
    with pytest.raises(HowoldError, match=message):
        load_space(write_space(tmp_path, text))


def test_changed_space_is_refused_on_resume(tmp_path):
    from howold.train.tune.study import open_study

    base = load_config(None, [f"out_dir={tmp_path}"])
    first = load_space(write_space(tmp_path, "params: {optim.lr: {type: float, low: 1e-4, high: 1e-2}}"))
    options = TuneOptions(trials=1, storage=f"sqlite:///{tmp_path / 'study.db'}")
    open_study(base, first, options)
    second = load_space(write_space(tmp_path, "params: {optim.lr: {type: float, low: 1e-5, high: 1e-2}}"))
    with pytest.raises(HowoldError, match="another search space"):
        open_study(base, second, options)


def test_a_trial_left_running_by_a_dead_process_is_queued_again(tmp_path):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}")
    trial = study.ask({"optim.lr": optuna.distributions.FloatDistribution(1e-4, 1e-2)})
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    trial.set_user_attr("worker", f"{socket.gethostname()}:{int(dead.stdout)}:{trial.number}")
    assert fail_dead_local_trials(study) == [0]
    assert [t.state.name for t in study.trials] == ["FAIL", "WAITING"]
    assert study.trials[1].params == study.trials[0].params


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(trials=0), "at least 1 trial"),
        (dict(trials=2, timeout=0), "above 0"),
    ],
)
def test_bad_options_are_explained(options, message):
    with pytest.raises(HowoldError, match=message):
        TuneOptions(**options)


def test_tune_needs_trials_or_report(tmp_path, capsys):
    assert main(["tune", "--space", str(tmp_path / "s.yaml")]) == 1
    assert "give --trials N" in capsys.readouterr().err
    space = write_space(tmp_path, PLAIN_SPACE)
    assert main(["tune", "--space", str(space), "--report", f"out_dir={tmp_path}"]) == 1
    assert "no study utkface_lite0_tune" in capsys.readouterr().err


def test_unknown_optuna_settings_are_explained(tmp_path):
    from howold.train.tune.study import make_pruner

    space = load_space(write_space(tmp_path, PLAIN_SPACE.replace("{n_startup_trials: 100}", "{n_start: 100}")))
    with pytest.raises(HowoldError, match="pruner: .* do not fit Optuna's MedianPruner"):
        make_pruner(space)


def test_proxy_check_ranks_recipes_from_their_runs(tmp_path):
    """experiments/tune_proxy_check.py on four finished proxy runs (summaries written here) and full figures."""
    import json

    recipes = []
    for name, proxy, full in [("a", 6.1, 4.9), ("b", 5.8, 4.7), ("c", 5.9, 4.8), ("d", 6.4, 5.2)]:
        config = tmp_path / f"{name}.yaml"
        config.write_text(f"name: {name}\nout_dir: {tmp_path / 'runs'}\n")
        (tmp_path / "runs" / f"proxy_{name}").mkdir(parents=True)
        (tmp_path / "runs" / f"proxy_{name}" / "summary.json").write_text(json.dumps({"best_val_mae": proxy}))
        recipes += ["--recipe", f"{config}={full}"]
    out = tmp_path / "check.json"
    done = subprocess.run(
        [sys.executable, "experiments/tune_proxy_check.py", *recipes, "--out", str(out)],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["spearman"] == 1.0 and len(result["recipes"]) == 4
    assert "Spearman 1.0" in done.stdout
    few = subprocess.run(
        [sys.executable, "experiments/tune_proxy_check.py", *recipes[:6]],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
    )
    assert few.returncode == 2 and "at least 4 recipes" in few.stderr
