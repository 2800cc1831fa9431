"""Age estimation from face crops: an ONNX network plus the JSON sidecar that travels with it.

The network outputs logits over the integer ages min_age..max_age. The point age is the mean of
softmax(logits); the range comes from the calibrated distribution softmax(logits / temperature),
its (1 - interval) / 2 and (1 + interval) / 2 quantiles: 10% and 90% for the default 80% range.
The temperature is fitted on validation data so that the range holds the true age as often as it
claims; it widens or narrows the range without moving the point estimate. Then, when the sidecar
has `survival_offsets`, the calibrated distribution's survival function P(age >= t) is shifted at
each age t by that offset in logit space (`calibrate_survival`): fitted on validation data so that
P(age >= t) is read right for every threshold t (the age checks), where one temperature could not
(it read people in their 20s too young and children too old: the 1.0.0 model's P(age >= 25) of
0.75 held 0.87 of UTKFace's test faces). The range and `p_at_least` are read from the result; the
point estimate is not moved.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from howold.runtime import create_session

if TYPE_CHECKING:
    import onnxruntime
from howold.errors import ModelError

SIDECAR_FORMAT = "howold-age-model"
SIDECAR_VERSION = 1
DEFAULT_MODEL_PATH = Path(__file__).parent / "models" / "age_model.onnx"


@dataclass(frozen=True)
class ModelInfo:
    """What a model file needs to be used right: its sidecar, as written by `howold export`."""

    name: str
    version: str
    input_size: int
    crop_size: int
    crop_margin: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    backbone: str = ""
    output: str = "age_logits"
    min_age: int = 0
    max_age: int = 100
    temperature: float = 1.0
    # the temperature for faces the pipeline marks as poor (small, blurry, grey, badly lit), fitted on a
    # degraded copy of validation data so their range stays honest; None: the same as `temperature`
    temperature_poor: float | None = None
    # per age t = min_age + 1 .. max_age, the logit offset added to P(age >= t); None: no offsets
    survival_offsets: tuple[float, ...] | None = None
    interval: float = 0.8
    tta_flip: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    format: str = SIDECAR_FORMAT
    format_version: int = SIDECAR_VERSION

    def __post_init__(self) -> None:
        if self.format != SIDECAR_FORMAT:
            raise ValueError(f"format: expected {SIDECAR_FORMAT!r}, got {self.format!r}")
        if self.format_version > SIDECAR_VERSION:
            raise ValueError(
                f"format_version {self.format_version} is newer than this howold reads "
                f"({SIDECAR_VERSION}); upgrade howold"
            )
        if self.output != "age_logits":
            raise ValueError(f"output: expected 'age_logits', got {self.output!r}")
        if not 0 <= self.min_age < self.max_age:
            raise ValueError(f"age range: expected 0 <= min_age < max_age, got {self.min_age}..{self.max_age}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError("mean and std: expected 3 numbers each, std positive")
        if self.temperature <= 0 or not 0 < self.interval < 1:
            raise ValueError("temperature must be positive and interval in (0, 1)")
        if self.temperature_poor is not None and self.temperature_poor <= 0:
            raise ValueError(f"temperature_poor: expected a positive number or null, got {self.temperature_poor}")
        if self.survival_offsets is not None:
            expected = self.max_age - self.min_age
            if len(self.survival_offsets) != expected:
                raise ValueError(
                    f"survival_offsets: expected {expected} numbers (ages {self.min_age + 1}..{self.max_age}), "
                    f"got {len(self.survival_offsets)}"
                )
            if not all(np.isfinite(self.survival_offsets)):
                raise ValueError("survival_offsets: expected finite numbers")
        if self.input_size < 8 or self.crop_size < 8:
            raise ValueError(f"input_size and crop_size: expected >= 8, got {self.input_size}, {self.crop_size}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("mean", "std"):
            if key in values:
                values[key] = tuple(float(v) for v in values[key])
        if values.get("survival_offsets") is not None:
            values["survival_offsets"] = tuple(float(v) for v in values["survival_offsets"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def label(self) -> str:
        """The model as every frontend names it: 'name version', e.g. 'utkface_aaf_fgnet_lite0 1.0.0'."""
        return f"{self.name} {self.version}"


METRIC_SPLITS = ("train", "val", "test", "all")
_METRIC_KEY = re.compile(rf"(\w+?)_({'|'.join(METRIC_SPLITS)})(_end_to_end)?(_degraded)?")


@dataclass(frozen=True)
class MetricKey:
    """The name of one measurement in the sidecar's `metrics`, as `howold val --record` writes it and
    the app reads it: `<data>_<split>`, then `_end_to_end` (photo to age, not face crops), then
    `_degraded` (on a degraded copy of the crops); e.g. 'utkface_test_end_to_end'. Other metrics
    (calibration, flip_choice, ...) are not measurements of a data set and have no MetricKey."""

    data: str
    split: str
    end_to_end: bool = False
    degraded: bool = False

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\w+", self.data):
            raise ValueError(f"data: expected a data set kind (letters, digits, _), got {self.data!r}")
        if self.split not in METRIC_SPLITS:
            raise ValueError(f"split: expected one of {', '.join(METRIC_SPLITS)}, got {self.split!r}")

    @property
    def key(self) -> str:
        return (
            f"{self.data}_{self.split}"
            + ("_end_to_end" if self.end_to_end else "")
            + ("_degraded" if self.degraded else "")
        )

    @classmethod
    def parse(cls, key: str) -> MetricKey | None:
        """The MetricKey that `key` is the name of, or None where it names no measurement."""
        match = _METRIC_KEY.fullmatch(key)
        if not match:
            return None
        data, split, end_to_end, degraded = match.groups()
        return cls(data, split, bool(end_to_end), bool(degraded))


def sidecar_path(model_path: str | os.PathLike) -> Path:
    """Return where a model file's sidecar lives: same folder, same stem, .json."""
    return Path(model_path).with_suffix(".json")


def read_model_info(model_path: str | os.PathLike) -> ModelInfo:
    """Return the parsed sidecar of a model file, or raise ModelError saying what is wrong."""
    path = sidecar_path(model_path)
    if Path(model_path).suffix.lower() != ".onnx" and Path(model_path).is_file():
        raise ModelError(f"{model_path}: is not an age model (an ONNX file, .onnx, with its .json sidecar beside it).")
    if not path.is_file():
        raise ModelError(f"{model_path}: its sidecar {path.name} is missing (export writes both files).")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: the sidecar is not valid JSON ({exc}).") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path}: the sidecar must be a JSON object.")
    try:
        return ModelInfo.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{path}: the sidecar does not describe a howold age model ({exc}).") from exc


def write_model_info(model_path: str | os.PathLike, info: ModelInfo) -> Path:
    """Write a model file's sidecar (the one writer; `read_model_info` is the one reader) and
    return its path. The file is replaced in one step, so a reader never sees half of it."""
    if not isinstance(info, ModelInfo):
        raise TypeError(f"info: expected a ModelInfo, got {type(info).__name__}")
    path = sidecar_path(model_path)
    data = info.to_dict()
    data = {"format": data.pop("format"), "format_version": data.pop("format_version"), **data}
    text = json.dumps(data, indent=2, default=_json_default) + "\n"
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ModelError(f"{path}: cannot write the sidecar ({exc.strerror or exc}).") from exc
    return path


def update_model_info(
    model_path: str | os.PathLike, metrics: dict[str, Any] | None = None, **changes: Any
) -> ModelInfo:
    """Read a model's sidecar, change the given fields, merge `metrics` into its metrics, check the
    result and write it back; return the new ModelInfo."""
    info = read_model_info(model_path)
    if metrics:
        changes["metrics"] = {**info.metrics, **metrics}
    try:
        info = replace(info, **changes)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{sidecar_path(model_path)}: the change does not fit a howold age model ({exc}).") from exc
    write_model_info(model_path, info)
    return info


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays (figures computed with numpy) as plain JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def decode_distribution(probs: np.ndarray, interval: float = 0.8, min_age: int = 0):
    """Return (age, low, high) arrays: the mean and the central `interval` range of each row.

    Each integer age k is taken to cover [k - 0.5, k + 0.5], so a distribution that puts all its
    mass on 34 gives 34.0 with the range (33.6, 34.4) rather than a range biased downwards.
    """
    probs, edges, cdf = _binned_cdf(probs, min_age)
    mean = probs @ (np.arange(probs.shape[1]) + min_age)
    cdf += np.arange(cdf.shape[1]) * 1e-12  # strictly increasing for interpolation
    lower_q, upper_q = (1 - interval) / 2, (1 + interval) / 2
    low = np.array([np.interp(lower_q * row[-1], row, edges) for row in cdf])
    high = np.array([np.interp(upper_q * row[-1], row, edges) for row in cdf])
    return mean, low, high


def _binned_cdf(probs: np.ndarray, min_age: int):
    """(rows normalised, bin edges, CDF at the edges) of the distributions over ages min_age.. in `probs`:
    age k covers [k - 0.5, k + 0.5]."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 1:
        probs = probs[None]
    probs = probs / probs.sum(axis=1, keepdims=True)
    edges = np.arange(probs.shape[1] + 1) + min_age - 0.5
    cdf = np.concatenate([np.zeros((len(probs), 1)), np.cumsum(probs, axis=1)], axis=1)
    return probs, edges, cdf


def survival(probs: np.ndarray) -> np.ndarray:
    """Per row, P(age >= min_age + i) for each i: column 0 is 1."""
    probs = np.asarray(probs, dtype=np.float64)
    return np.cumsum(probs[:, ::-1], axis=1)[:, ::-1]


def calibrate_survival(probs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Return the distributions `probs` (N, ages) whose P(age >= t), for each age t after the first,
    is sigmoid(logit(P(age >= t)) + offsets[t - min_age - 1]); kept non-increasing in t, so each row
    is again a distribution. Zero offsets give `probs` back."""
    probs = np.asarray(probs, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.float64)
    if probs.ndim != 2 or offsets.shape != (probs.shape[1] - 1,):
        raise ValueError(f"offsets: expected {probs.shape[-1] - 1} numbers, got shape {offsets.shape}")
    tail = np.clip(survival(probs)[:, 1:], 0.0, 1.0)
    scaled = tail * np.exp(offsets)  # sigmoid(logit(p) + offset) = p e^offset / (p e^offset + 1 - p)
    shifted = scaled / (scaled + 1.0 - tail)
    shifted = np.minimum.accumulate(shifted, axis=1)
    upper = np.concatenate([np.ones((len(probs), 1)), shifted], axis=1)
    calibrated = upper - np.concatenate([shifted, np.zeros((len(probs), 1))], axis=1)
    return calibrated / calibrated.sum(axis=1, keepdims=True)


def probability_at_least(probs: np.ndarray, age: float, min_age: int = 0) -> np.ndarray:
    """Return, per row, the probability that the person is at least `age` years old.

    Ages count completed years, as the labels do, so "at least 18" is the mass on 18, 19, ...: in
    the bins of `decode_distribution` (age k covers [k - 0.5, k + 0.5]) that is 1 - CDF(age - 0.5),
    and a fractional `age` falls linearly between two whole ones. Give it the calibrated
    distribution (AgeEstimates.probs), the one the range is read from.
    """
    _, edges, cdf = _binned_cdf(probs, min_age)
    below = np.array([np.interp(age - 0.5, edges, row) for row in cdf])
    return np.clip(1.0 - below, 0.0, 1.0)


@dataclass(frozen=True)
class AgeDistribution:
    """A face's calibrated age distribution, read-only: `probs[i]` is the probability that the person
    is `min_age + i` years old (completed years); the range and `p_at_least` are read from it."""

    min_age: int
    probs: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.probs or min(self.probs) < 0 or not abs(sum(self.probs) - 1.0) < 1e-6:
            raise ValueError("probs: expected probabilities that sum to 1")

    @classmethod
    def from_array(cls, probs: np.ndarray, min_age: int = 0) -> AgeDistribution:
        probs = np.asarray(probs, dtype=np.float64)
        return cls(int(min_age), tuple(float(p) for p in probs / probs.sum()))

    @property
    def ages(self) -> tuple[int, ...]:
        return tuple(range(self.min_age, self.min_age + len(self.probs)))

    def p_at_least(self, age: float) -> float:
        """The probability that the person is at least `age` years old (see `probability_at_least`)."""
        return float(probability_at_least(np.array(self.probs), age, self.min_age)[0])

    def to_dict(self, digits: int = 6) -> dict[str, list]:
        return {"ages": list(self.ages), "probs": [round(p, digits) for p in self.probs]}


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Return row-wise softmax(logits / temperature)."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class AgeEstimates:
    """Per crop: the point age, the range's low and high ends, and the calibrated distribution."""

    age: np.ndarray
    low: np.ndarray
    high: np.ndarray
    probs: np.ndarray


class AgeModel:
    """An ONNX age network and its sidecar; `predict` takes a batch of crops cut by howold.crop."""

    def __init__(self, path: str | os.PathLike = DEFAULT_MODEL_PATH, threads: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: no such model file.")
        self.info = read_model_info(self.path)
        self.threads = threads
        self._session: onnxruntime.InferenceSession | None = None

    def prepare(self) -> AgeModel:
        """Load the ONNX session now and check it fits the sidecar; returns self."""
        if self._session is None:
            # a single crop runs on one thread when the model has more (runtime.SizedSession): on one thread
            # against the default two, one 128 px crop took 2.43 against 2.40 ms wall and 2.43 against 3.67 ms
            # CPU, two crops 4.75 against 3.87 ms wall (python benchmarks/bench_threads.py, idle 2 cores)
            one_crop = 3 * self.info.input_size**2
            session = create_session(self.path, self.threads, label=str(self.path), one_thread_up_to=one_crop)
            inputs, outputs = session.get_inputs(), session.get_outputs()
            classes = self.info.max_age - self.info.min_age + 1
            if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[1] != 3:
                raise ModelError(f"{self.path}: expected one NCHW image input with 3 channels.")
            if isinstance(outputs[0].shape[-1], int) and outputs[0].shape[-1] != classes:
                raise ModelError(f"{self.path}: outputs {outputs[0].shape[-1]} ages but the sidecar says {classes}.")
            self._input_name = inputs[0].name
            self._session = session
        return self

    def preprocess(self, crops: np.ndarray) -> np.ndarray:
        """Return crops (N, H, W, 3) uint8 as the normalised float32 NCHW batch the network takes."""
        size = self.info.input_size
        if crops.shape[1:3] != (size, size):
            crops = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])
        mean = np.array(self.info.mean, np.float32) * 255.0
        scale = 1.0 / (np.array(self.info.std, np.float32) * 255.0)
        batch = np.empty((len(crops), 3, size, size), np.float32)
        for channel in range(3):  # plane by plane: several times faster than a float copy plus a transpose
            np.subtract(crops[..., channel], mean[channel], out=batch[:, channel], dtype=np.float32)
            batch[:, channel] *= scale[channel]
        return batch

    def predict(self, crops: np.ndarray, batch_size: int = 32, poor: np.ndarray | None = None) -> AgeEstimates:
        """Return age estimates for a batch of face crops, shape (N, H, W, 3) RGB uint8. `poor` (N,)
        bool marks the faces whose range takes the sidecar's `temperature_poor`."""
        return self.estimates_from_logits(self.logits(crops, batch_size), poor=poor)

    def predict_views(self, views: np.ndarray, batch_size: int = 32, poor: np.ndarray | None = None) -> AgeEstimates:
        """Return one estimate per face from several crops of each, shape (K, N, H, W, 3): the K
        views' age distributions are averaged (with their flips' when the sidecar asks for them)."""
        views = np.asarray(views)
        if views.ndim != 5:
            raise ValueError(f"views: expected shape (K, N, H, W, 3), got {views.shape}")
        count, faces = views.shape[:2]
        logits = self.logits(views.reshape(count * faces, *views.shape[2:]), batch_size)
        return self.estimates_from_logits(logits.reshape(len(logits) * count, faces, -1), poor=poor)

    def logits(self, crops: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Return the network's raw outputs, shape (views, N, ages): views is 2 with flip averaging."""
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[-1] != 3:
            raise ValueError(f"crops: expected shape (N, H, W, 3), got {crops.shape}")
        self.prepare()
        views = 2 if self.info.tta_flip else 1
        if len(crops) == 0:
            return np.zeros((views, 0, self.info.max_age - self.info.min_age + 1), np.float32)
        chunks = [self._logits(crops[i : i + batch_size]) for i in range(0, len(crops), batch_size)]
        return np.concatenate(chunks, axis=1)

    def estimates_from_logits(
        self, logits: np.ndarray, temperature: float | None = None, poor: np.ndarray | None = None
    ) -> AgeEstimates:
        """Return the estimates for logits from `logits()`, at the sidecar's or the given temperature;
        rows marked `poor` take the sidecar's `temperature_poor` (when it has one); then the sidecar's
        `survival_offsets` (when it has them) calibrate every row's P(age >= t)."""
        temperature = self.info.temperature if temperature is None else temperature
        point_probs = self._view_average(logits, 1.0)
        probs = point_probs if temperature == 1.0 else self._view_average(logits, temperature)
        if poor is not None and self.info.temperature_poor is not None and np.any(poor):
            poor = np.asarray(poor, bool)
            probs = probs.copy()
            probs[poor] = self._view_average(logits[:, poor], self.info.temperature_poor)
        if self.info.survival_offsets is not None and probs.shape[0]:
            probs = calibrate_survival(probs, np.array(self.info.survival_offsets))
        if probs.shape[0] == 0:
            empty = np.zeros(0)
            return AgeEstimates(empty, empty, empty, probs)
        age, _, _ = decode_distribution(point_probs, self.info.interval, self.info.min_age)
        _, low, high = decode_distribution(probs, self.info.interval, self.info.min_age)
        return AgeEstimates(age=age, low=low, high=high, probs=probs)

    @staticmethod
    def _view_average(logits: np.ndarray, temperature: float) -> np.ndarray:
        views, count, classes = logits.shape
        probs = softmax(logits.reshape(views * count, classes), temperature)
        return probs.reshape(views, count, classes).mean(axis=0)

    def _logits(self, crops: np.ndarray) -> np.ndarray:
        batch = self.preprocess(crops)
        if self.info.tta_flip:
            batch = np.concatenate([batch, batch[:, :, :, ::-1]])
        session = self._session
        assert session is not None  # prepare() loaded it
        logits = session.run(None, {self._input_name: np.ascontiguousarray(batch)})[0]
        return logits.reshape(2 if self.info.tta_flip else 1, len(crops), -1)
