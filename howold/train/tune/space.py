"""The search space of `howold tune`, as data: a YAML file of dotted config keys and their ranges.

    proxy:                      # dotted overrides for every trial only (short runs), never the best config
      trainer.max_epochs: 3
      data.train_fraction: 0.25
    params:                     # what the search varies; any key `howold train` takes, list items by index
      optim.lr: {type: float, low: 5e-4, high: 4e-3, log: true}
      model.backbone: {type: categorical, choices: [tf_efficientnet_lite0, tf_efficientnet_lite1]}
      augment.scale: {type: categorical, choices: [[0.9, 1.1], [0.85, 1.15]]}
      data.train.0.weight: {type: float, low: 0.5, high: 2.0}
    start: [recipe]             # trials run first: `recipe` (the base config's own values) or {key: value}
    pruner: {n_startup_trials: 4, n_warmup_steps: 1}
    sampler: {n_startup_trials: 8}

A trial's config is the base config, then `proxy`, then the trial's values. Keys go through the same
dataclasses as `howold train`, so a key the config gains later works here without a change.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from howold.errors import HowoldError
from howold.train.config import TrainConfig, from_dict, parse_yaml

TYPES = ("float", "int", "categorical")
SCALARS = (bool, int, float, str, type(None))


@dataclass(frozen=True)
class ParamSpec:
    """One searched key: a float or int range (optionally log-scaled or stepped) or a list of choices."""

    key: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    def __post_init__(self) -> None:
        where = f"search space {self.key}"
        if self.type not in TYPES:
            raise HowoldError(f"{where}: type must be one of {', '.join(TYPES)}, got {self.type!r}.")
        if self.type == "categorical":
            if len(self.choices) < 1:
                raise HowoldError(f"{where}: a categorical key needs a non-empty list of choices.")
            return
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (self.low, self.high)):
            raise HowoldError(f"{where}: expected numbers low and high, got {self.low!r} and {self.high!r}.")
        if not self.low < self.high:
            raise HowoldError(f"{where}: low ({self.low}) must be below high ({self.high}).")
        if self.log and self.low <= 0:
            raise HowoldError(f"{where}: a log range must start above 0, got low={self.low}.")
        if self.log and self.step is not None:
            raise HowoldError(f"{where}: choose either log or step, not both.")

    def suggest(self, trial) -> Any:
        """Draw this key's value for an Optuna trial (the value as the config takes it)."""
        if self.type == "float":
            return trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)
        if self.type == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return self.from_optuna(trial.suggest_categorical(self.key, [_encode(c) for c in self.choices]))

    def from_optuna(self, stored: Any) -> Any:
        """Optuna keeps only scalar choices; a list or mapping choice travels as its YAML text."""
        return parse_yaml(stored) if self.type == "categorical" and _is_encoded(self, stored) else stored

    def to_optuna(self, value: Any) -> Any:
        return _encode(value) if self.type == "categorical" else value

    def sample(self) -> Any:
        """A value inside the range (its low end, or the first choice), to check the key early."""
        return self.choices[0] if self.type == "categorical" else (int(self.low) if self.type == "int" else self.low)


def _encode(choice: Any) -> Any:
    if isinstance(choice, SCALARS):
        return choice
    return yaml.safe_dump(json.loads(json.dumps(choice)), default_flow_style=True).strip()


def _is_encoded(spec: ParamSpec, stored: Any) -> bool:
    return any(not isinstance(c, SCALARS) and _encode(c) == stored for c in spec.choices)


@dataclass(frozen=True)
class SearchSpace:
    params: tuple[ParamSpec, ...]
    proxy: dict = field(default_factory=dict)
    start: tuple = ()
    pruner: dict = field(default_factory=dict)  # MedianPruner arguments
    sampler: dict = field(default_factory=dict)  # TPESampler arguments

    def __post_init__(self) -> None:
        if not self.params:
            raise HowoldError("search space: `params` is empty; name at least one key to search.")
        keys = {p.key for p in self.params}
        for entry in self.start:
            if entry != "recipe" and not isinstance(entry, dict):
                raise HowoldError(f"search space start: expected `recipe` or a mapping, got {entry!r}.")
            unknown = set(entry) - keys if isinstance(entry, dict) else set()
            if unknown:
                raise HowoldError(f"search space start: {sorted(unknown)} are not in params.")

    def spec(self, key: str) -> ParamSpec:
        return next(p for p in self.params if p.key == key)

    def to_dict(self) -> dict:
        """The space as plain JSON data (stored with the study, to refuse a changed space on resume)."""
        params = {p.key: {k: v for k, v in vars(p).items() if k != "key"} for p in self.params}
        return json.loads(json.dumps({"params": params, "proxy": self.proxy}, default=list))


SECTIONS = ("proxy", "params", "start", "pruner", "sampler")


def load_space(path: str | Path) -> SearchSpace:
    path = Path(path)
    if not path.is_file():
        raise HowoldError(f"search space file {path} not found.")
    data = parse_yaml(path.read_text()) or {}
    if not isinstance(data, dict) or set(data) - set(SECTIONS):
        raise HowoldError(f"search space {path}: expected a mapping with sections {', '.join(SECTIONS)}.")
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise HowoldError(f"search space {path}: params must map dotted keys to ranges.")
    specs = []
    for key, rule in params.items():
        if not isinstance(rule, dict) or "type" not in rule:
            raise HowoldError(f"search space {key}: expected {{type: float|int|categorical, ...}}, got {rule!r}.")
        unknown = set(rule) - {"type", "low", "high", "log", "step", "choices"}
        if unknown:
            raise HowoldError(f"search space {key}: unknown settings {sorted(unknown)}.")
        specs.append(ParamSpec(key=key, **{**rule, "choices": tuple(rule.get("choices") or ())}))
    return SearchSpace(
        tuple(specs),
        dict(data.get("proxy") or {}),
        tuple(data.get("start") or ()),
        dict(data.get("pruner") or {}),
        dict(data.get("sampler") or {}),
    )


def set_key(values: dict, dotted: str, value: Any) -> None:
    """Set a dotted key in a config dict; a number walks into a list (`data.train.0.weight`)."""
    *path, last = dotted.split(".")
    node: Any = values
    for part in path:
        node = _child(node, part, dotted)
    if isinstance(node, list):
        node[_index(node, last, dotted)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise HowoldError(f"search space {dotted}: {last!r} is inside a value, not a section.")


def get_key(values: dict, dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        node = _child(node, part, dotted)
    return node


def _child(node: Any, part: str, dotted: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, dotted)]
    if isinstance(node, dict):
        if part not in node:
            raise HowoldError(f"search space {dotted}: the config has no key {part!r} there.")
        return node[part]
    raise HowoldError(f"search space {dotted}: {part!r} is inside a value, not a section.")


def _index(items: list, part: str, dotted: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise HowoldError(f"search space {dotted}: {part!r} is not an item of a {len(items)}-item list.")
    return int(part)


def apply(base: TrainConfig, changes: dict[str, Any]) -> TrainConfig:
    """The base config with dotted changes, checked by the same dataclasses as `howold train`."""
    values = copy.deepcopy(base.to_dict())
    for key, value in changes.items():
        set_key(values, key, value)
    return from_dict(values)


def check_space(base: TrainConfig, space: SearchSpace) -> None:
    """Refuse a space whose keys the config does not have, before any trial runs."""
    apply(base, {**space.proxy, **{p.key: p.sample() for p in space.params}})


def start_points(base: TrainConfig, space: SearchSpace) -> list[dict]:
    """The `start` trials as Optuna parameters; `recipe` takes each key's value from the base config."""
    values = base.to_dict()
    points = []
    for entry in space.start:
        chosen = {p.key: get_key(values, p.key) for p in space.params} if entry == "recipe" else entry
        points.append({key: space.spec(key).to_optuna(value) for key, value in chosen.items()})
    return points


def as_overrides(changes: dict) -> list[str]:
    """Dotted changes as `howold train` KEY=VALUE arguments (to run a trial's proxy by hand)."""
    return [
        f"{key}={yaml.safe_dump(json.loads(json.dumps(value)), default_flow_style=True).strip()}".removesuffix("\n...")
        for key, value in changes.items()
    ]
