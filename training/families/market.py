"""Market: head sold and price per township x species, 1-6 months ahead, as quantile forecasts."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from features import FeatureSet
from models.bundle import Transform
from training.config import ExperimentConfig
from training.families.base import Family, TaskPlan, quantile_columns
from training.peers import (
    SEASON_LENGTH,
    PeerForecast,
    forecast_rows,
    in_unit,
    peer_factories,
    seasonal_naive_log_quantiles,
    series_history,
)
from training.splits import Split

SERIES = ["township_id", "species"]
TASKS = {  # task -> (target column, seasonal-naive column, unit)
    "head_sold": ("target_head_sold", "seasonal_naive_head_sold", "head"),
    "price": ("target_price", "seasonal_naive_price", "yuan/head"),
}
# LightGBM learns a correction to the classical seasonal-trend forecast (features.classical), which carries
# each series' level, trend and season: the target is log1p(sold) - log1p(classical) and log(price /
# classical), so the served forecast is the classical one times exp(the trees' sum) ("hybrid"). The trees
# learn only from inputs without units that the per-series forecast cannot see (festival months that move,
# this summer's rain, the winter's snow, the herd against the forecast sales, the horizon), so a correction
# learned in earlier years applies to a grown herd or a higher price. Price also learns from its recent
# departure from its own forecast (last month's, the last three months'): on the sample's validation year that
# made its hybrid beat the classical forecast, while the same inputs made head sold's hybrid lose to it:
# head sold takes last month's departure at horizon 1 only (validation score 0.597 against 0.612 without
# it, 0.618 with it at every horizon), and the herd times its usual sales per head against the classical
# forecast (validation score 0.584 against 0.597). Beside it, the classical forecast itself is a candidate (a
# zero correction). Price's classical forecast is pooled over the species' townships (features.market.POOLED_BY);
# on the sample's validation year it alone scores 0.7546 and its LightGBM correction 0.7548, so the classical
# forecast is kept for price.
TRANSFORMS: dict[str, tuple[Transform, str]] = {
    "head_sold": ("log1p_ratio", "classical_head_sold"),
    "price": ("log_ratio", "classical_price"),
}
CLASSICAL = TRANSFORMS
CALENDAR = ("horizon", "target_month_of_year", "target_festival", "target_festival_vs_usual")
LEARN_FROM = {
    "head_sold": (
        *CALENDAR,
        "species",
        "herd_head_change12",
        "summer_precip_anomaly",
        "summer_rain_to_date_anomaly",
        "winter_snow_days",
        "herd_vs_classical_head_sold",
        "seasonal_naive_vs_classical_head_sold",
        "head_sold_h1_deviation",
        "offtake_vs_classical_head_sold",
    ),
    "price": (*CALENDAR, "price_origin_vs_classical1", "price_origin_vs_classical3"),
}
AT_ORIGIN = {"head_sold": "head_sold_at_origin", "price": "price_at_origin"}  # the series' value at t0
LOG_SCALE = {"head_sold": "log1p", "price": "log"}  # counts may be 0; prices are positive
HORIZON = "horizon"
# The peers' forecasts depend only on the rows, the split and the peer list: runs of the same county in one
# process (a benchmark, the test session, training after tuning) fit them once (~10 CPU s on 40 series).
PEER_MEMO: dict[str, dict[str, pd.DataFrame]] = {}


class MarketFamily(Family):
    name = "market"

    def tasks(self, fs: FeatureSet, cfg: ExperimentConfig) -> list[TaskPlan]:
        return [
            TaskPlan(
                name,
                target,
                "quantile",
                unit,
                transform=TRANSFORMS[name][0],
                base=TRANSFORMS[name][1],
                classical=CLASSICAL[name] if CLASSICAL[name][1] in fs.features else None,
                learn_from=LEARN_FROM[name],
            )
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
        """Per-series seasonal naive (log-scale intervals), then each classical peer the experiment lists."""
        train, test = fs.frame.iloc[split.train], fs.frame.iloc[split.test]
        cols: dict[str, np.ndarray] = {}
        for name, (target, naive, _) in TASKS.items():
            naive_test = test[naive].to_numpy(dtype=float)
            cols[name] = naive_test
            quantiles = seasonal_naive_log_quantiles(
                train[naive].to_numpy(dtype=float),
                train[target].to_numpy(dtype=float),
                series_label(train),
                naive_test,
                series_label(test),
                cfg.quantiles,
                LOG_SCALE[name],
            )
            cols.update(quantile_columns(name, quantiles))
        return {"seasonal_naive": pd.DataFrame(cols), **self.peers(fs, split, cfg)}

    def peers(self, fs: FeatureSet, split: Split, cfg: ExperimentConfig) -> dict[str, pd.DataFrame]:
        """statsforecast peers fitted per series on the training window (months before validation) and
        applied at every test origin without refitting; none when the window is shorter than two seasons."""
        if not cfg.peers:
            return {}
        key = peers_key(fs.frame, split, cfg)
        if key not in PEER_MEMO:
            PEER_MEMO.clear()  # one county at a time: a later run on other data recomputes
            PEER_MEMO[key] = self.fit_peers(fs, split, cfg)
        return dict(PEER_MEMO[key])

    def fit_peers(self, fs: FeatureSet, split: Split, cfg: ExperimentConfig) -> dict[str, pd.DataFrame]:
        frame = fs.frame
        test = frame.iloc[split.test].reset_index(drop=True)
        fit_end = pd.Timestamp(frame.iloc[split.valid]["target_month"].min())
        first = pd.Timestamp(frame["origin_month"].min())
        if (fit_end.year - first.year) * 12 + fit_end.month - first.month < 2 * SEASON_LENGTH:
            return {}
        factories = peer_factories()
        out: dict[str, pd.DataFrame] = {}
        for peer in cfg.peers:
            cols: dict[str, np.ndarray] = {}
            for name, (target, _, _) in TASKS.items():
                history = series_history(frame, SERIES, target, AT_ORIGIN[name], "origin_month", "target_month")
                forecast: PeerForecast = forecast_rows(
                    history,
                    test,
                    series=SERIES,
                    make_model=factories[peer],
                    fit_end=fit_end,
                    transform=LOG_SCALE[name],
                    quantiles=cfg.quantiles,
                )
                forecast = in_unit(forecast, LOG_SCALE[name])
                cols[name] = forecast.point
                cols.update(quantile_columns(name, forecast.quantiles))
            out[peer] = pd.DataFrame(cols)
        return out

    def evaluate(
        self,
        test: pd.DataFrame,
        preds: pd.DataFrame,
        tasks: list[TaskPlan],
        context: dict[str, Any],
        cfg: ExperimentConfig,
    ) -> dict[str, float]:
        """The family's metrics, plus MASE and scaled pinball per horizon (``mase_h1`` ... ``spl_h6``), also per
        task (``head_sold_mase_h1`` ... ``price_spl_h6``)."""
        out = super().evaluate(test, preds, tasks, context, cfg)
        horizons = test[HORIZON].to_numpy(dtype=int)
        preds = preds.reset_index(drop=True)
        for h in np.unique(horizons):
            rows = np.flatnonzero(horizons == h)
            scale = {t: np.asarray(v, dtype=float)[rows] for t, v in context["scale"].items()}
            part = super().evaluate(
                test.iloc[rows].reset_index(drop=True),
                preds.iloc[rows].reset_index(drop=True),
                tasks,
                {**context, "scale": scale},
                cfg,
            )
            out.update({f"{k}_h{h}": part[k] for k in ("mase", "spl") if k in part})
            out.update({f"{k}_h{h}": part[k] for t in tasks for k in (f"{t.name}_mase", f"{t.name}_spl") if k in part})
        return out

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


def series_label(frame: pd.DataFrame) -> pd.Series:
    """One label per series (township and species), for per-series statistics."""
    return frame["township_id"].astype(str) + "/" + frame["species"].astype(str)


def peers_key(frame: pd.DataFrame, split: Split, cfg: ExperimentConfig) -> str:
    """What the peers' forecasts depend on: the rows' values, the slices, the peers and the quantiles."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    for part in (split.train, split.valid, split.test):
        digest.update(np.asarray(part, dtype=np.int64).tobytes())
    digest.update(repr((cfg.peers, cfg.quantiles)).encode())
    return digest.hexdigest()
