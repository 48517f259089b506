"""Every served forecast is kept: the county's forecast rows, as each family's champion predicts them.

At month close the service has just rebuilt each family's forecast rows (the rows every request indexes
into). :func:`log_county_forecasts` predicts them once more with the model serving each family and writes one
forecast-log row per row: the target period (the feature set's time column), its keys, the prediction per
task (point and quantiles, or a probability), and a fingerprint of the encoded inputs. Nothing here runs on a
request. The disease family logs counts per risk band from the access log only, never a person.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features import FeatureSet
from models.bundle import ModelBundle, quantile_label
from muzhang.families import family_specs
from muzhang.store.forecasts import record_forecasts, series_key
from serving.errors import Unavailable
from serving.scoring.context import ScoringContext

log = logging.getLogger("muzhang.monitoring")

BAND_KEY = '{"bands":"all"}'  # the disease family's one row a month: counts per condition and band


def input_fingerprints(x: np.ndarray) -> list[str]:
    """sha256 of each encoded input row (float64 bytes, NaN included): the same inputs, the same text."""
    rows = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    return [hashlib.sha256(row.tobytes()).hexdigest() for row in rows]


def task_targets(bundle: ModelBundle, fs: FeatureSet) -> dict[str, str]:
    """Task name -> the feature set's target column it learnt (tasks and targets are declared in one order).

    Raises:
        ValueError: the bundle has not one task per target.
    """
    if len(bundle.tasks) != len(fs.targets):
        raise ValueError(
            f"{fs.family}: {len(bundle.tasks)} task(s) {list(bundle.tasks)} but {len(fs.targets)} target(s) "
            f"{fs.targets}: cannot tell which outcome each forecast meets"
        )
    return dict(zip(bundle.tasks, fs.targets, strict=True))


def series_scales(fs: FeatureSet, tables: Any) -> dict[str, np.ndarray]:
    """Per row and task, the MASE scale training uses: the series' mean absolute seasonal-naive error.

    Only for quantile families whose rows name a ``seasonal_naive_<task>`` feature (the market); from the
    series' recorded history up to the forecast origin, so live scaled pinball is comparable with test's.
    """
    out: dict[str, np.ndarray] = {}
    monthly = getattr(tables, "market_monthly", None)
    if monthly is None or not {"township_id", "species"} <= set(fs.frame.columns):
        return out
    columns = {"head_sold": "head_sold", "price": "price_yuan_per_head"}
    history = monthly.sort_values("month")
    for task, column in columns.items():
        if f"seasonal_naive_{task}" not in fs.frame.columns or column not in history.columns:
            continue
        by = history.groupby(["township_id", "species"])[column]
        error = (history[column] - by.shift(12)).abs().groupby([history["township_id"], history["species"]]).mean()
        keys = pd.MultiIndex.from_frame(fs.frame[["township_id", "species"]].astype(str))
        out[task] = error.reindex(keys).to_numpy(dtype=float)
    return out


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def forecast_rows(
    family: str, version: str, fs: FeatureSet, x: np.ndarray, bundle: ModelBundle, tables: Any = None
) -> pd.DataFrame:
    """The forecast-log rows of a family's forecast rows, predicted by ``bundle`` (version ``version``).

    Args:
        family: the family's name.
        version: the registered model version that predicts.
        fs: the county's forecast rows (``build_features(..., forecast=True)``).
        x: ``fs.frame`` encoded for ``bundle``.
        bundle: the model.
        tables: the county's tables (for the market's MASE scales), optional.
    """
    if fs.time_col is None or fs.as_of_col is None:
        raise ValueError(f"{family}: forecast rows need a time column and an as-of column")
    targets = task_targets(bundle, fs)
    scales = series_scales(fs, tables) if tables is not None else {}
    per_task: dict[str, dict[str, Any]] = {}
    for name, task in bundle.tasks.items():
        point = task.point(x)
        quantiles = task.quantiles(x)
        per_task[name] = {"kind": task.kind, "point": point, "quantiles": quantiles}
    frame = fs.frame
    key_columns = [frame[k].tolist() for k in fs.keys]
    predictions = []
    for i in range(len(frame)):
        doc: dict[str, Any] = {}
        for name, values in per_task.items():
            entry: dict[str, Any] = {"target": targets[name], "kind": values["kind"]}
            entry["point"] = _number(values["point"][i])
            if values["quantiles"]:
                entry["quantiles"] = {quantile_label(q): _number(v[i]) for q, v in values["quantiles"].items()}
            if name in scales:
                entry["scale"] = _number(scales[name][i])
            doc[name] = entry
        predictions.append(json.dumps(doc, separators=(",", ":")))
    return pd.DataFrame(
        {
            "family": family,
            "model_version": str(version),
            "target_period": pd.to_datetime(frame[fs.time_col]).to_numpy(),
            "series_key": [series_key(fs.keys, values) for values in zip(*key_columns, strict=True)],
            "as_of_month": pd.to_datetime(frame[fs.as_of_col]).to_numpy(),
            "prediction": predictions,
            "input_fingerprint": input_fingerprints(x),
        }
    )


def band_counts_of_month(audit_path: Path, month: pd.Timestamp) -> dict[str, dict[str, int]]:
    """Condition -> band -> count of the disease scores made in ``month`` (from the access log's counts)."""
    totals: dict[str, dict[str, int]] = {}
    if not Path(audit_path).is_file():
        return totals
    prefix = f"{month:%Y-%m}"
    with open(audit_path, encoding="utf-8") as lines:
        for line in lines:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not str(entry.get("ts", "")).startswith(prefix):
                continue
            for condition, bands in (entry.get("bands") or {}).items():
                for band, n in bands.items():
                    totals.setdefault(condition, {}).setdefault(band, 0)
                    totals[condition][band] += int(n)
    return totals


def log_county_forecasts(ctx: ScoringContext, families: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Write the forecast log of the county's current month for every family with a model; returns family ->
    new rows (0: logged before). A family without a champion is skipped (nothing to keep), never an error.

    Args:
        ctx: the scoring context (its store, county and registry).
        families: optional family -> ServedModel to log instead of the registry's (a retrain's new champion).
    """
    if ctx.store is None:
        return {}
    written: dict[str, int] = {}
    county = ctx.county
    for spec in family_specs():
        if families is not None:
            if spec.name not in families:
                continue
            model = families[spec.name]
        else:
            try:
                model = ctx.served(spec.name)
            except (Unavailable, KeyError):  # no champion, or a registry that follows no model (the CLI's close)
                continue
        if spec.serves_forecasts:
            fs = county.forecasts.get(spec.name)
            if fs is None or fs.frame.empty:
                continue
            prep = ctx.prepared(model)  # the rows encoded and the model at the county's level, as requests see them
            rows = forecast_rows(spec.name, model.version, fs, prep.x, prep.bundle, county.tables)
        elif spec.personal:
            counts = band_counts_of_month(ctx.settings.audit_path(), county.last_month)
            if not counts:
                continue
            rows = pd.DataFrame(
                {
                    "family": [spec.name],
                    "model_version": [model.version],
                    "target_period": [county.last_month],
                    "series_key": [BAND_KEY],
                    "as_of_month": [county.last_month],
                    "prediction": [json.dumps({"bands": counts}, sort_keys=True)],
                    "input_fingerprint": [hashlib.sha256(b"band counts only").hexdigest()],
                }
            )
        else:
            continue
        written[spec.name] = record_forecasts(ctx.store, rows)
    return written
