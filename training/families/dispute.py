"""Dispute risk: any dispute in a grid area next month (probability), split by time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import FeatureSet
from training.baselines import logistic_probabilities
from training.config import ExperimentConfig
from training.families.base import Family, TaskPlan
from training.splits import Split

TARGET = "any_dispute"


class DisputeFamily(Family):
    name = "dispute"

    def tasks(self, fs: FeatureSet, cfg: ExperimentConfig) -> list[TaskPlan]:
        return [TaskPlan("any_dispute", TARGET, "binary", unit="probability")]

    def baselines(
        self, fs: FeatureSet, split: Split, cfg: ExperimentConfig, features: list[str]
    ) -> dict[str, pd.DataFrame]:
        train, test = fs.frame.iloc[split.train], fs.frame.iloc[split.test]
        base_rate = float(train[TARGET].mean())
        categorical = [f for f in features if f in fs.categorical]
        logistic = logistic_probabilities(train, test, TARGET, features, categorical, cfg.seed)
        return {
            "base_rate": pd.DataFrame({"p_any_dispute": np.full(len(test), base_rate)}),
            "logistic": pd.DataFrame({"p_any_dispute": logistic}),
        }

    def extra_metrics(self, test: pd.DataFrame, preds: pd.DataFrame, cfg: ExperimentConfig) -> dict[str, float]:
        """Calibration-in-the-large on the test rows: mean predicted probability over the observed rate, - 1
        (0: the level is right; -0.2: risk understated by a fifth), overall and per calendar year
        (``citl_2024``), since a level that is right on average can be wrong in the latest year."""
        p = preds[f"p_{TARGET}"]
        return {
            "citl": calibration_in_the_large(test[TARGET], p),
            **citl_by_year(test["month"], test[TARGET], p),
        }

    def oracle(self, fs: FeatureSet, split: Split, oracle: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
        table = oracle.get("grid_monthly_oracle")
        if table is None:
            return None
        test = fs.frame.iloc[split.test][["grid_id", "month"]]
        joined = test.merge(table[["grid_id", "month", "p_any_dispute"]], on=["grid_id", "month"], how="left")
        return pd.DataFrame({"p_any_dispute": joined["p_any_dispute"].to_numpy()})


def calibration_in_the_large(outcome: pd.Series, probability: pd.Series) -> float:
    """Mean probability / observed rate - 1 over the rows with a known outcome (NaN if none happened)."""
    y = pd.to_numeric(outcome, errors="coerce").to_numpy(dtype=float)
    p = np.asarray(probability, dtype=float)
    known = np.isfinite(y)
    rate = float(y[known].mean()) if known.any() else float("nan")
    return float(p[known].mean() / rate - 1) if rate > 0 else float("nan")


def citl_by_year(months: pd.Series, outcome: pd.Series, probability: pd.Series) -> dict[str, float]:
    """``citl_<year>`` for every calendar year of ``months`` (see :func:`calibration_in_the_large`)."""
    years = pd.to_datetime(months).dt.year.to_numpy()
    p = np.asarray(probability, dtype=float)
    y = outcome.reset_index(drop=True)
    return {
        f"citl_{year}": calibration_in_the_large(y[years == year], pd.Series(p[years == year]))
        for year in sorted(set(years.tolist()))
    }
