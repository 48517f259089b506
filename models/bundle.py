"""What a trained family is: LightGBM boosters plus everything needed to use them, in one object.

The bundle carries its own preprocessing (feature order, category vocabularies, units), calibration and
decision thresholds, so training, evaluation, the MLflow pyfunc and serving all predict the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.linear import is_linear_model_file, load_json_model
from models.recent_level import RecentLevel

TaskKind = Literal["regression", "binary", "quantile"]
Transform = Literal["none", "log1p", "log_ratio", "log1p_ratio"]


SMALL_BATCH = 64


def predict_threads(x: np.ndarray) -> int:
    """One thread for small batches: starting OpenMP threads costs more than a few rows take."""
    return 1 if len(x) < SMALL_BATCH else 0


def quantile_label(q: float) -> str:
    """Column suffix for a quantile, e.g. 0.025 -> ``q025``, 0.5 -> ``q500``."""
    return f"q{round(q * 1000):03d}"


@dataclass
class FeatureEncoder:
    """Turns a feature frame into the float matrix LightGBM was trained on.

    Categories become integer codes from a stored vocabulary, sent as floats; unseen or missing
    categories become NaN (LightGBM's "missing"), so new values never crash prediction.
    """

    features: list[str]
    vocabularies: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index = {name: {v: float(i) for i, v in enumerate(vocab)} for name, vocab in self.vocabularies.items()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, f in enumerate(self.features) if f in self.vocabularies]

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Float matrix (rows x features) in training order; raises KeyError naming missing columns."""
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise KeyError(f"missing feature columns: {', '.join(missing)}")
        out = np.empty((len(frame), len(self.features)), dtype=np.float64)
        for j, name in enumerate(self.features):
            col = frame[name]
            if name in self._index:
                out[:, j] = col.map(self._index[name]).astype("float64").to_numpy(na_value=np.nan)
            else:
                out[:, j] = pd.to_numeric(col, errors="coerce").astype("float64").to_numpy(na_value=np.nan)
        return out

    def encode_value(self, name: str, value: Any) -> float:
        """Encode one raw value of one feature (used for single-row predictions)."""
        if name in self._index:
            return self._index[name].get(value, np.nan)
        try:
            return float(value) if value is not None else np.nan
        except (TypeError, ValueError):
            return np.nan


@dataclass
class TaskModel:
    """One prediction target: a point booster, optional quantile boosters and optional calibration."""

    name: str
    kind: TaskKind
    booster: lgb.Booster
    quantile_boosters: dict[float, lgb.Booster] = field(default_factory=dict)
    calibration: tuple[float, float] | None = None  # Platt: p = sigmoid(a * margin + b)
    unit: str = ""
    # The boosters learn log1p(target), or log(target / base feature) for "log_ratio" (a relative change,
    # so a trend beyond the training range stays reachable), or log1p(target) - log1p(base) for
    # "log1p_ratio" (the same for a count that may be 0, e.g. head sold relative to the herd); outputs are
    # back-transformed.
    transform: Transform = "none"
    base_index: int | None = None
    # Conformal shifts (transformed scale) that make each quantile cover its level on the validation slice.
    quantile_shifts: dict[float, float] = field(default_factory=dict)
    # Which candidate this is and how the candidates scored on validation (training only; the bundle's
    # metadata keeps it as "candidates").
    selection: dict[str, Any] = field(default_factory=dict)
    # The quantile models give offsets added to the point model's raw score (a forecast with intervals
    # around its own median, e.g. the market's LightGBM correction of the classical forecast), instead of
    # quantiles of their own.
    offsets_on_point: bool = False
    # Binary tasks: the log-odds offset that puts the probabilities at the most recent closed months' level
    # (models.recent_level; None: the validation year's level, as calibrated).
    level: RecentLevel | None = None

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The booster's raw score (log-odds for binary tasks)."""
        return np.asarray(self.booster.predict(x, raw_score=True, num_threads=predict_threads(x)), dtype=float)

    def point(self, x: np.ndarray, level_offset: float | None = None) -> np.ndarray:
        """Probability (binary, calibrated, at the recent level; ``level_offset`` replaces the bundle's, e.g.
        refitted on a county's newer months) or value (regression / median quantile)."""
        raw = self.raw(x)
        if self.kind == "binary":
            a, b = self.platt(level_offset)
            return 1.0 / (1.0 + np.exp(-(a * raw + b)))
        return self.untransform(raw, x)

    def platt(self, level_offset: float | None = None) -> tuple[float, float]:
        """``(a, b)`` with probability = sigmoid(a * raw + b): the calibration plus the recent level's offset."""
        a, b = self.calibration or (1.0, 0.0)
        if level_offset is None:
            level_offset = self.level.offset if self.level is not None else 0.0
        return a, b + level_offset

    def calibrated_margin(self, x: np.ndarray) -> np.ndarray:
        """a * raw + b, before any recent-level offset (what :func:`models.recent_level.level_offset` fits on)."""
        a, b = self.calibration or (1.0, 0.0)
        return a * self.raw(x) + b

    def untransform(self, values: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Back to the target's unit (quantiles survive a monotone transform exactly)."""
        if self.transform == "log1p":  # a count: a conformal shift below log1p(0) must not give negative head
            return np.maximum(np.expm1(values), 0.0)
        if self.transform == "log_ratio":
            assert self.base_index is not None
            return x[:, self.base_index] * np.exp(values)
        if self.transform == "log1p_ratio":
            assert self.base_index is not None
            return np.maximum(np.expm1(values + np.log1p(x[:, self.base_index])), 0.0)
        return values

    def quantiles(self, x: np.ndarray) -> dict[float, np.ndarray]:
        """Quantile predictions, sorted per row so they never cross."""
        if not self.quantile_boosters:
            return {}
        qs = sorted(self.quantile_boosters)
        threads = predict_threads(x)
        raw = [
            np.asarray(self.quantile_boosters[q].predict(x, num_threads=threads)) + self.quantile_shifts.get(q, 0.0)
            for q in qs
        ]
        if self.offsets_on_point:
            point = self.raw(x)
            raw = [
                point if self.quantile_boosters[q] is self.booster else point + r for q, r in zip(qs, raw, strict=True)
            ]
        stacked = np.sort(np.column_stack([self.untransform(np.asarray(r), x) for r in raw]), axis=1)
        return {q: stacked[:, i] for i, q in enumerate(qs)}


@dataclass
class ModelBundle:
    """A trained family: encoder, task models, decision thresholds and metadata.

    ``added_fields``: feature -> catalog definition (name, type, unit, hard limits, plausible range,
    categories, labels; ``muzhang.catalog.FieldSpec`` as JSON) of each input a data directory's catalog
    extension added (e.g. ``glucose_mmol_l``). The service accepts, validates and explains these for this
    model only, whatever catalog it runs with.
    """

    family: str
    encoder: FeatureEncoder
    tasks: dict[str, TaskModel]
    thresholds: dict[str, Any] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    added_fields: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return self.encoder.features

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predictions for every task: ``p_<task>`` for probabilities, ``<task>`` and ``<task>_qNNN`` values."""
        x = self.encoder.encode(frame)
        return self.predict_matrix(x, index=frame.index)

    def predict_matrix(self, x: np.ndarray, index: pd.Index | None = None) -> pd.DataFrame:
        cols: dict[str, np.ndarray] = {}
        for task in self.tasks.values():
            point = task.point(x)
            cols[f"p_{task.name}" if task.kind == "binary" else task.name] = point
            for q, values in task.quantiles(x).items():
                cols[f"{task.name}_{quantile_label(q)}"] = values
        return pd.DataFrame(cols, index=index)


BUNDLE_FILE = "bundle.json"


def save_bundle(bundle: ModelBundle, folder: Path) -> Path:
    """Write a bundle as plain files: LightGBM text models plus one JSON (no pickle, readable anywhere)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tasks = []
    for task in bundle.tasks.values():
        point = f"{task.name}.txt"
        task.booster.save_model(folder / point)
        quantiles = {}
        for q, booster in task.quantile_boosters.items():
            name = f"{task.name}_{quantile_label(q)}.txt"
            booster.save_model(folder / name)
            quantiles[repr(q)] = name
        tasks.append(
            {
                "name": task.name,
                "kind": task.kind,
                "unit": task.unit,
                "booster": point,
                "quantiles": quantiles,
                "calibration": list(task.calibration) if task.calibration else None,
                "transform": task.transform,
                "base_index": task.base_index,
                "quantile_shifts": {repr(q): v for q, v in task.quantile_shifts.items()},
                "offsets_on_point": task.offsets_on_point,
                "level": task.level.to_json() if task.level is not None else None,
            }
        )
    doc = {
        "format": 1,
        "family": bundle.family,
        "features": bundle.encoder.features,
        "vocabularies": bundle.encoder.vocabularies,
        "tasks": tasks,
        "thresholds": bundle.thresholds,
        "units": bundle.units,
        "metadata": bundle.metadata,
        "added_fields": bundle.added_fields,
    }
    (folder / BUNDLE_FILE).write_text(json.dumps(doc, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    return folder


def require_complete_model_file(path: Path) -> None:
    """Refuse a LightGBM text model cut short, before LightGBM parses it.

    LightGBM 4 does not raise on a truncated model file: it reads past the end and aborts the whole
    process. A file ``Booster.save_model`` wrote completely has its trees, its parameters and ends with a
    ``pandas_categorical:`` line.
    """
    if is_linear_model_file(path):  # a GLM, classical or GLM-trees candidate: complete if its JSON parses
        try:
            load_json_model(Path(path).read_text(encoding="utf-8"))
        except (ValueError, TypeError, KeyError, lgb.basic.LightGBMError) as exc:
            raise ValueError(f"linear model file {Path(path).name} is incomplete or damaged; not loading it") from exc
        return
    text = Path(path).read_bytes()
    last_line = text.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    complete = (
        b"\nend of trees\n" in text
        and b"\nend of parameters\n" in text
        and last_line.startswith(b"pandas_categorical:")
        and text.endswith(b"\n")
    )
    if not complete:
        raise ValueError(f"LightGBM model file {Path(path).name} is incomplete (truncated); not loading it")


def _booster(path: Path) -> lgb.Booster:
    if is_linear_model_file(path):  # a GLM, classical or GLM-trees candidate won: same interface, JSON file
        return load_json_model(Path(path).read_text(encoding="utf-8"))  # type: ignore[return-value]
    require_complete_model_file(path)
    return lgb.Booster(model_file=str(path))


def load_bundle_files(folder: Path) -> ModelBundle:
    """Read a bundle written by :func:`save_bundle`; raises ``ValueError`` naming what is broken."""
    folder = Path(folder)
    try:
        doc = json.loads((folder / BUNDLE_FILE).read_text(encoding="utf-8"))
        tasks = {}
        for t in doc["tasks"]:
            booster = _booster(folder / t["booster"])
            quantiles = {float(q): _booster(folder / f) for q, f in t["quantiles"].items()}
            if t["kind"] == "quantile":  # the median booster is shared, as when it was trained
                quantiles[0.5] = booster
            calibration = tuple(t["calibration"]) if t["calibration"] else None
            shifts = {float(q): float(v) for q, v in t.get("quantile_shifts", {}).items()}
            tasks[t["name"]] = TaskModel(
                t["name"],
                t["kind"],
                booster,
                quantiles,
                calibration,
                t["unit"],
                t.get("transform", "none"),
                t.get("base_index"),
                shifts,
                offsets_on_point=bool(t.get("offsets_on_point", False)),
                level=RecentLevel.from_json(t.get("level")),  # none in a bundle written before it
            )
        encoder = FeatureEncoder(doc["features"], doc["vocabularies"])
        bundle = ModelBundle(
            doc["family"],
            encoder,
            tasks,
            doc["thresholds"],
            doc["units"],
            doc["metadata"],
            doc.get("added_fields") or {},  # a bundle written before added fields has none
        )
    except (OSError, KeyError, TypeError, ValueError, lgb.basic.LightGBMError) as exc:
        raise ValueError(f"model bundle in {folder} is unreadable: {type(exc).__name__}: {exc}") from exc
    for task in bundle.tasks.values():
        if task.booster.num_feature() != len(encoder.features):
            raise ValueError(
                f"model bundle in {folder}: task {task.name} expects {task.booster.num_feature()} "
                f"features, bundle lists {len(encoder.features)}"
            )
    return bundle
