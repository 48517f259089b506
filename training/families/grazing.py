"""Grazing: forage yield per grid and season, turned into NY/T 635 capacity, pressure and status."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import FeatureSet
from muzhang.domain import DEFAULT_DOMAIN, SEASONS, grazing_pressure, grazing_status, nyt635_capacity_su
from training.baselines import group_mean_forecast
from training.config import ExperimentConfig
from training.families.base import Family, TaskPlan
from training.metrics import status_metrics
from training.splits import Split

TARGET = "forage_yield_kg_ha"


def season_status(frame: pd.DataFrame, yield_kg_ha: np.ndarray) -> np.ndarray:
    """Status (under / balanced / over) of each row's season for a given yield, with its real stocking."""
    capacity = np.zeros(len(frame))
    season = frame["season"].to_numpy()
    for s in SEASONS:
        rows = season == s
        if rows.any():
            capacity[rows] = nyt635_capacity_su(
                yield_kg_ha[rows],
                frame["area_ha_season"].to_numpy()[rows],
                frame["pasture_type"].to_numpy()[rows],
                s,
            )
    return grazing_status(grazing_pressure(frame["stocking_su_season"].to_numpy(), capacity))


def season_start_of(month: pd.Series) -> pd.Series:
    """First month of the grazing season a calendar month belongs to (cold seasons start in October)."""
    m, y = month.dt.month, month.dt.year
    season = m.map(DEFAULT_DOMAIN.season_of_month)
    start_month = season.map({"warm": 6, "transition": 5, "cold": 10})
    start_year = np.where((season == "cold") & (m <= 4), y - 1, y)
    return pd.to_datetime(pd.DataFrame({"year": start_year, "month": start_month, "day": 1}))


class GrazingFamily(Family):
    name = "grazing"

    def tasks(self, fs: FeatureSet, cfg: ExperimentConfig) -> list[TaskPlan]:
        return [TaskPlan("yield", TARGET, "regression", unit="kg DM/ha")]

    def baselines(
        self, fs: FeatureSet, split: Split, cfg: ExperimentConfig, features: list[str]
    ) -> dict[str, pd.DataFrame]:
        train, test = fs.frame.iloc[split.train], fs.frame.iloc[split.test]
        seasonal_mean = group_mean_forecast(train, test, TARGET, by=["grid_id", "season"], fallback_by=["season"])
        return {"grid_seasonal_mean": pd.DataFrame({"yield": seasonal_mean})}

    def oracle(self, fs: FeatureSet, split: Split, oracle: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
        table = oracle.get("grid_monthly_oracle")
        if table is None or fs.time_col is None:
            return None
        per_season = (
            table.assign(_start=season_start_of(table["month"]))
            .groupby(["grid_id", "_start"])["expected_forage_yield_kg_ha"]
            .max()
            .rename("yield")
        )
        test = fs.frame.iloc[split.test]
        keys = pd.MultiIndex.from_arrays([test["grid_id"], pd.to_datetime(test[fs.time_col])])
        return pd.DataFrame({"yield": per_season.reindex(keys).to_numpy()})

    def extra_metrics(self, test: pd.DataFrame, preds: pd.DataFrame, cfg: ExperimentConfig) -> dict[str, float]:
        actual = season_status(test, test[TARGET].to_numpy(dtype=float))
        predicted = season_status(test, preds["yield"].to_numpy(dtype=float))
        return {f"status_{k}": v for k, v in status_metrics(actual, predicted).items()}
