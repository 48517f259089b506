"""Market: head sold and price per township x species, 1-6 months ahead, as quantile forecasts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features import FeatureSet
from models.bundle import Transform
from training.baselines import seasonal_naive_quantiles
from training.config import ExperimentConfig
from training.families.base import Family, TaskPlan, quantile_columns
from training.splits import Split

SERIES = ["township_id", "species"]
TASKS = {  # task -> (target column, seasonal-naive column, unit)
    "head_sold": ("target_head_sold", "seasonal_naive_head_sold", "head"),
    "price": ("target_price", "seasonal_naive_price", "yuan/head"),
}
# Head sold is a skewed count: learn log1p. Price trends upward beyond any training level, which trees
# cannot extrapolate: learn its log change from the price at the forecast origin instead.
TRANSFORMS: dict[str, tuple[Transform, str | None]] = {
    "head_sold": ("log1p", None),
    "price": ("log_ratio", "price_at_origin"),
}


class MarketFamily(Family):
    name = "market"

    def tasks(self, fs: FeatureSet, cfg: ExperimentConfig) -> list[TaskPlan]:
        return [
            TaskPlan(name, target, "quantile", unit, transform=TRANSFORMS[name][0], base=TRANSFORMS[name][1])
            for name, (target, _, unit) in TASKS.items()
        ]

    def context(self, fs: FeatureSet, split: Split) -> dict[str, Any]:
        """MASE scale: each series' in-sample mean absolute seasonal-naive error (training rows only)."""
        train = fs.frame.iloc[split.train]
        test = fs.frame.iloc[split.test]
        scale = {}
        for name, (target, naive, _) in TASKS.items():
            err = (train[target] - train[naive]).abs().groupby([train[c] for c in SERIES]).mean().rename("s")
            scale[name] = test[SERIES].join(err, on=SERIES)["s"].to_numpy(dtype=float)
        return {"scale": scale}

    def baselines(
        self, fs: FeatureSet, split: Split, cfg: ExperimentConfig, features: list[str]
    ) -> dict[str, pd.DataFrame]:
        train, test = fs.frame.iloc[split.train], fs.frame.iloc[split.test]
        cols: dict[str, np.ndarray] = {}
        for name, (target, naive, _) in TASKS.items():
            naive_test = test[naive].to_numpy(dtype=float)
            cols[name] = naive_test
            cols.update(
                quantile_columns(
                    name,
                    seasonal_naive_quantiles(
                        train[naive].to_numpy(dtype=float),
                        train[target].to_numpy(dtype=float),
                        naive_test,
                        cfg.quantiles,
                    ),
                )
            )
        return {"seasonal_naive": pd.DataFrame(cols)}

    def oracle(self, fs: FeatureSet, split: Split, oracle: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
        table = oracle.get("market_oracle")
        if table is None:
            return None
        test = fs.frame.iloc[split.test][[*SERIES, "target_month"]]
        joined = test.merge(table.rename(columns={"month": "target_month"}), on=[*SERIES, "target_month"], how="left")
        return pd.DataFrame(
            {
                "head_sold": joined["expected_head_sold"].to_numpy(),
                "price": joined["expected_price_yuan_per_head"].to_numpy(),
            }
        )
