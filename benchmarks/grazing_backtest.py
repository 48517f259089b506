"""Grazing backtest (issue 12): is the advice right before the season, and how far from what is possible?

Trains the grazing family on the county with its experiment YAML (train to 2022, validate 2023, test on the
seasons of the last year), then prints, on held-out rows only:

1. **Over-stocked grids flagged** in the test seasons (recall and precision against the realised status),
   for forecasts made as of the December before the season and as of the month before it: the model with
   December's herd and rest carried forward (before issue 12), the model with the forecast herd and rest
   programme (after), and the fair-limit forecaster with the same forecast herd.
2. **County pressure** (total SU / total capacity) forecast as of each December against realised, for the
   2022-24 seasons. Seasons before the test year were training rows of the model, so for them only the herd
   forecast is scored (on the realised yield); the test seasons use the model's yield too.
3. **Coverage** of the 80 % yield interval per season and per season and lead time (the quantile boosters
   shifted on the validation year; training.families.grazing says why no per-season table is fitted).
4. **Gap to the fair limit** (each grid's true reference yield and degradation known, the season's weather
   not) and to the hindsight limit (the season's weather known too), per season and lead. The oracle's
   forecast also knows each grid-year's own yield noise (the simulator's LogNormal(0, 0.07), a draw of the
   season no forecast can know), so the fair limit's MAE (``fair_limit_mae``) integrates that noise out
   (Gauss-Hermite); the easier one knowing it is printed beside it (``fair_limit_knowing_noise_mae``). The
   per-season and per-lead table shows the noise-knowing forecast's errors.

Figures, not asserts. Training takes ~5 min on 2 shared cores; ``--save``/``--reuse`` keep the trained result.

    .venv/bin/python benchmarks/grazing_backtest.py [--data data_samples/county] [--save r.pkl | --reuse r.pkl]
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features import build_features, load_county
from features.grazing import assess_grazing
from muzhang.paths import SAMPLE_COUNTY
from training.config import default_config_path, load_config
from training.engine import train_family
from training.families.grazing import forecast_use, over_stocked_recall_precision, season_status
from training.pipeline import load_oracle

SEASONS = ("warm", "cold", "transition")


def carried_use(frame: pd.DataFrame) -> pd.DataFrame:
    """The season's use as the service assumed it before issue 12: the last month's herd and rest go on."""
    rested = frame["rested_share_last"].fillna(0.0)
    return frame.assign(
        stocking_su_season=frame["stocking_su_last"], area_ha_season=frame["area_ha_full"] * (1 - rested), drought=0
    )


def planning_rows(frame: pd.DataFrame, when: str) -> pd.Series:
    """Rows forecast as of the December before the season's calendar year (``december``) or as of the month
    before the season starts (``month_before``)."""
    if when == "month_before":
        return frame["lead_months"] == 1
    december = pd.to_datetime(frame["season_start"]).dt.year - 1
    return pd.to_datetime(frame["as_of_month"]) == pd.to_datetime(december.astype(str) + "-12-01")


def flagged_table(result: Any, fair: np.ndarray) -> pd.DataFrame:
    test, preds = result.test_frame, result.test_preds["yield"].to_numpy(dtype=float)
    actual = season_status(test, test["forage_yield_kg_ha"].to_numpy(dtype=float))
    lines = []
    for when in ("december", "month_before"):
        for season in SEASONS:
            rows = (planning_rows(test, when) & (test["season"] == season)).to_numpy()
            if not rows.any():
                continue
            sub = test[rows]
            label = f"{season} {int(sub['season_year'].iloc[0])}"
            for name, use, yld in (
                ("before: model, herd carried", carried_use(sub), preds[rows]),
                ("after: model, herd forecast", forecast_use(sub), preds[rows]),
                ("fair limit, herd forecast", forecast_use(sub), fair[rows]),
            ):
                flagged = season_status(use, yld)
                stats = over_stocked_recall_precision(actual[rows], flagged, prefix="")
                lines.append({"as of": when, "season": label, "forecaster": name, **stats})
    return pd.DataFrame(lines)


def county_pressure(frame: pd.DataFrame, yield_kg_ha: np.ndarray, use: pd.DataFrame) -> float:
    capacity = assess_grazing(use, yield_kg_ha)["capacity_su"].to_numpy(dtype=float)
    return float(use["stocking_su_season"].sum() / np.nansum(capacity))


def pressure_table(fs_frame: pd.DataFrame, result: Any) -> pd.DataFrame:
    test_keys = set(map(tuple, result.test_frame[["season", "season_year"]].drop_duplicates().to_numpy()))
    preds = result.test_frame.assign(_pred=result.test_preds["yield"].to_numpy())
    lines = []
    for year in (2022, 2023, 2024):
        for season in SEASONS:
            rows = fs_frame[(fs_frame["season"] == season) & (fs_frame["season_year"] == year)]
            rows = rows[planning_rows(rows, "december") & rows["forage_yield_kg_ha"].notna()]
            if rows.empty:
                continue
            actual_yield = rows["forage_yield_kg_ha"].to_numpy(dtype=float)
            line = {
                "season": f"{season} {year}",
                "realised": county_pressure(rows, actual_yield, rows),
                "herd carried (realised yield)": county_pressure(rows, actual_yield, carried_use(rows)),
                "herd forecast (realised yield)": county_pressure(rows, actual_yield, forecast_use(rows)),
            }
            if (season, year) in test_keys:
                pick = preds[planning_rows(preds, "december") & (preds["season"] == season)]
                model_yield = pick["_pred"].to_numpy(dtype=float)
                line["before: model + herd carried"] = county_pressure(pick, model_yield, carried_use(pick))
                line["after: model + herd forecast"] = county_pressure(pick, model_yield, forecast_use(pick))
            lines.append(line)
    return pd.DataFrame(lines)


def next_seasons_table(data: Path, result: Any) -> pd.DataFrame:
    """County pressure of the next season of each kind, as the service forecasts it: before (December's herd
    and rest carried) and after (the forecast herd and rest programme)."""
    rows = build_features("grazing", load_county(data), forecast=True).frame
    predicted = result.bundle.predict_frame(rows)["yield"].to_numpy(dtype=float)
    lines = []
    for season in SEASONS:
        mask = (rows["season"] == season).to_numpy()
        sub = rows[mask]
        lines.append(
            {
                "season": f"{season} {int(sub['season_year'].iloc[0])}",
                "as of": f"{pd.Timestamp(sub['as_of_month'].iloc[0]):%Y-%m}",
                "before: herd carried": county_pressure(sub, predicted[mask], carried_use(sub)),
                "after: herd forecast": county_pressure(sub, predicted[mask], forecast_use(sub)),
            }
        )
    return pd.DataFrame(lines)


def mae_table(result: Any, fair: np.ndarray) -> pd.DataFrame:
    """MAE (kg DM/ha) of the model and the fair limit per season and per lead time, on the test rows."""
    test = result.test_frame
    y = test["forage_yield_kg_ha"].to_numpy(dtype=float)
    errors = pd.DataFrame(
        {
            "model": np.abs(result.test_preds["yield"].to_numpy(dtype=float) - y),
            "fair limit": np.abs(fair - y),
            "season": test["season"].to_numpy(),
            "lead": test["lead_months"].to_numpy(dtype=int),
        }
    )
    per_season = errors.groupby("season")[["model", "fair limit"]].mean()
    per_lead = errors.groupby("lead")[["model", "fair limit"]].mean()
    per_lead.index = [f"lead {v}" for v in per_lead.index]
    return pd.concat([per_season, per_lead]).T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SAMPLE_COUNTY)
    parser.add_argument("--save", type=Path, help="Keep the trained result here (pickle).")
    parser.add_argument("--reuse", type=Path, help="Use a result saved with --save instead of training.")
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    started = time.perf_counter()
    fs = build_features("grazing", load_county(args.data))
    oracle = load_oracle(args.data)
    if args.reuse:
        result = pickle.loads(args.reuse.read_bytes())
    else:
        result = train_family(fs, load_config(default_config_path("grazing")), oracle=oracle)
        if args.save:
            args.save.write_bytes(pickle.dumps(result))
    fair = result.plan.fair_limit(fs, result.split, oracle)["yield"].to_numpy(dtype=float)
    m, bayes = result.metrics, result.bayes or {}
    print(
        f"grazing backtest on {args.data.name}: {len(result.test_frame):,} test rows (every lead), "
        f"train {result.seconds:.0f} s, total {time.perf_counter() - started:.0f} s\n"
    )

    print("1. Over-stocked grids flagged in the test seasons, against the realised status")
    print(flagged_table(result, fair).round(3).to_string(index=False))
    print(
        f"   every lead: model ahead recall {m['ahead_over_recall']:.3f} precision {m['ahead_over_precision']:.3f}; "
        f"fair limit {m['fair_limit_ahead_over_recall']:.3f} / {m['fair_limit_ahead_over_precision']:.3f}\n"
    )

    print("2. County pressure (total SU / total capacity), forecast as of the December before, vs realised")
    print(pressure_table(fs.frame, result).round(3).to_string(index=False))
    print()

    print("   the next seasons (the county's forecast rows), model yield:")
    print(next_seasons_table(args.data, result).round(3).to_string(index=False))
    print()

    print("3. 80 % yield interval coverage (nominal 0.80): the quantile boosters, shifted on the validation year")
    leads = sorted(int(v) for v in result.test_frame["lead_months"].unique())
    cover = pd.DataFrame(
        {
            s: {"season": m.get(f"coverage_80_{s}"), **{lead: m.get(f"coverage_80_{s}_lead{lead}") for lead in leads}}
            for s in SEASONS
        }
    ).T
    print("   per season, then per lead time in months:")
    print(cover.round(3).to_string())
    worst = m.get("coverage_80_worst_gap", float("nan"))
    print(f"   largest gap to 0.80 over (season, lead): {worst:.3f} (goal <= 0.03)")
    print()

    print("4. Gap to the limits on the same test rows (MAE kg DM/ha; status accuracy with the season's real use)")
    limits = pd.DataFrame(
        {
            "model": {"mae": m["mae"], "status_accuracy": m["status_accuracy"]},
            "fair limit": {"mae": m["fair_limit_mae"], "status_accuracy": m["fair_limit_status_accuracy"]},
            "hindsight limit": {"mae": bayes.get("mae"), "status_accuracy": bayes.get("status_accuracy")},
        }
    )
    print(limits.round(3).to_string())
    print(
        f"   model MAE / fair-limit MAE = {m['mae'] / m['fair_limit_mae']:.3f} (goal <= 1.10); the fair limit "
        f"knowing each grid-year's noise: MAE {m['fair_limit_knowing_noise_mae']:.2f}, "
        f"model / it = {m['mae'] / m['fair_limit_knowing_noise_mae']:.3f}"
    )
    print(mae_table(result, fair).round(1).to_string())


if __name__ == "__main__":
    main()
