"""Outcomes come back: a closed month's reports become the realised values of the forecasts made for it.

The realised value of a forecast row is the target the same feature builder gives that row in training
mode (``build_features(family, tables)``): the season's peak yield, the head sold and price of the target
month, whether a dispute was reported. So a live metric compares exactly what a test metric compared. Each
outcome joins the logged forecast of every version that made one for that key and period: a champion
replaced mid-month keeps its own forecasts and gets its own outcomes.

A grid-month whose report never came was carried at close: that is no outcome (the forecast stays pending,
counted as missing), never last month's value passed off as this month's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from features import build_features
from features.tables import CountyTables
from muzhang.domain import DEFAULT_DOMAIN, Domain
from muzhang.families import family_specs
from muzhang.store.forecasts import read_forecasts, record_outcomes, series_key

MONTHLY = ("grid_monthly", "market_monthly")


def tables_since(tables: CountyTables, since: pd.Timestamp) -> CountyTables:
    """The county with its monthly tables cut to ``since`` onwards (targets need no long history)."""
    cut = {
        name: getattr(tables, name)[pd.to_datetime(getattr(tables, name)["month"]) >= since].reset_index(drop=True)
        for name in MONTHLY
    }
    return replace(tables, **cut)


def realised_outcomes(family: str, tables: CountyTables, since: pd.Timestamp) -> pd.DataFrame:
    """``series_key``, ``target_period`` and each target column, for every row whose target is known."""
    fs = build_features(family, tables_since(tables, since))
    if fs.time_col is None:
        raise ValueError(f"{family}: outcomes need a time column")
    frame = fs.frame[fs.frame[fs.targets].notna().any(axis=1)]
    key_columns = [frame[k].tolist() for k in fs.keys]
    return pd.DataFrame(
        {
            "series_key": [series_key(fs.keys, values) for values in zip(*key_columns, strict=True)],
            "target_period": pd.to_datetime(frame[fs.time_col]).astype("datetime64[us]").to_numpy(),
            **{t: frame[t].to_numpy(dtype=float) for t in fs.targets},
        }
    )


def outcome_months(key: Mapping[str, object], target_period: pd.Timestamp, domain: Domain = DEFAULT_DOMAIN) -> int:
    """How many months from ``target_period`` the outcome is made of (a season's length, else one month)."""
    season = key.get("season")
    return len(domain.season_months[str(season)]) if season in domain.season_months else 1


def was_carried(
    key: Mapping[str, object],
    target_period: pd.Timestamp,
    carried: Mapping[str, Sequence[pd.Timestamp]],
    domain: Domain = DEFAULT_DOMAIN,
) -> bool:
    """Whether any month of the outcome of a grid's forecast was carried (its report never came)."""
    grid = key.get("grid_id")
    if grid is None or str(grid) not in carried:
        return False
    end = target_period + pd.DateOffset(months=outcome_months(key, target_period, domain))
    return any(target_period <= pd.Timestamp(m) < end for m in carried[str(grid)])


def outcome_pairs(
    pending: pd.DataFrame,
    realised: pd.DataFrame,
    targets: Sequence[str],
    carried: Mapping[str, Sequence[pd.Timestamp]],
    domain: Domain = DEFAULT_DOMAIN,
) -> list[tuple[int, str]]:
    """(forecast-log id, outcome JSON) for each pending forecast whose outcome is known and not carried."""
    if pending.empty or realised.empty:
        return []
    left = pending[["id", "series_key", "target_period"]].assign(
        target_period=pd.to_datetime(pending["target_period"]).astype("datetime64[us]")
    )
    merged = left.merge(realised, on=["series_key", "target_period"], how="inner")
    pairs = []
    for row in merged.to_dict("records"):
        values = {t: float(row[t]) for t in targets if t in row and np.isfinite(row[t])}
        if not values:
            continue
        if was_carried(json.loads(row["series_key"]), pd.Timestamp(row["target_period"]), carried, domain):
            continue
        pairs.append((int(row["id"]), json.dumps(values, separators=(",", ":"))))
    return pairs


def join_outcomes(
    store: object,
    tables: CountyTables,
    carried: Mapping[str, Sequence[pd.Timestamp]],
    *,
    up_to: pd.Timestamp,
    window_months: int,
    domain: Domain = DEFAULT_DOMAIN,
) -> dict[str, int]:
    """Join every pending forecast whose target period is closed (within ``window_months`` before ``up_to``);
    returns family -> outcomes joined now. Idempotent: a joined forecast is never joined again."""
    joined: dict[str, int] = {}
    earliest = pd.Timestamp(up_to) - pd.DateOffset(months=window_months)
    for spec in family_specs():
        if not spec.serves_forecasts:
            continue
        pending = read_forecasts(store, spec.name, target_from=earliest, target_to=up_to, pending=True)  # type: ignore[arg-type]
        if pending.empty:
            continue
        since = pd.Timestamp(pending["as_of_month"].min()) - pd.DateOffset(months=1)
        realised = realised_outcomes(spec.name, tables, since)
        targets = [c for c in realised.columns if c not in ("series_key", "target_period")]
        pairs = outcome_pairs(pending, realised, targets, carried, domain)
        joined[spec.name] = record_outcomes(store, pairs)  # type: ignore[arg-type]
    return joined
