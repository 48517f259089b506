"""Grazing: forage yield per grid and season, turned into NY/T 635 capacity, pressure and status."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from features import FeatureSet
from features.common import month_number, month_timestamp
from features.grazing import assess_grazing
from features.pasture import label_seasons
from muzhang.domain import DEFAULT_DOMAIN, Domain
from training.baselines import group_mean_forecast
from training.config import ExperimentConfig
from training.families.base import Family, TaskPlan
from models.metrics import status_metrics
from training.splits import Split

TARGET = "forage_yield_kg_ha"


def season_status(
    frame: pd.DataFrame, yield_kg_ha: npt.ArrayLike, domain: Domain = DEFAULT_DOMAIN
) -> npt.NDArray[np.str_]:
    """Status (under / balanced / over) of each row's season for a given yield, with its real stocking.

    The decision serving makes (:func:`features.grazing.assess_grazing`): NY/T 635 capacity with the
    row's drought cut, pressure, and the domain's balance band.
    """
    status = assess_grazing(frame, np.asarray(yield_kg_ha, dtype=float), domain)["status"]
    return np.asarray(status.to_numpy(), dtype=str)


def season_start_of(month: pd.Series, domain: Domain = DEFAULT_DOMAIN) -> pd.Series:
    """First month of the grazing season each calendar month belongs to, by ``domain.season_months``
    (a cold season that crosses the new year starts in the year of its first month)."""
    start_n = label_seasons(month_number(month), domain)["start_n"].to_numpy()
    return pd.Series(month_timestamp(start_n), index=month.index, name=month.name)


class GrazingFamily(Family):
    name = "grazing"

    def __init__(self, domain: Domain = DEFAULT_DOMAIN) -> None:
        self.domain = domain  # the figures the feature set was built with

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
            table.assign(_start=season_start_of(table["month"], self.domain))
            .groupby(["grid_id", "_start"])["expected_forage_yield_kg_ha"]
            .max()
            .rename("yield")
        )
        test = fs.frame.iloc[split.test]
        keys = pd.MultiIndex.from_arrays([test["grid_id"], pd.to_datetime(test[fs.time_col])])
        return pd.DataFrame({"yield": per_season.reindex(keys).to_numpy()})

    def extra_metrics(self, test: pd.DataFrame, preds: pd.DataFrame, cfg: ExperimentConfig) -> dict[str, float]:
        actual = season_status(test, test[TARGET].to_numpy(dtype=float), self.domain)
        predicted = season_status(test, preds["yield"].to_numpy(dtype=float), self.domain)
        return {f"status_{k}": v for k, v in status_metrics(actual, predicted).items()}
