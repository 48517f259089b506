"""Grazing (planners): season assessment, what-if scenarios, the county rotation plan, offline scoring."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from features import assess_grazing
from features.grazing import assess_season_in_progress
from models.bundle import ModelBundle, TaskModel
from models.conformal import THRESHOLD_KEY, conformal_quantile
from muzhang.domain import (
    DEFAULT_DOMAIN,
    SPECIES,
    grazing_advice,
    grazing_pressure,
    grazing_status,
    must_rest,
    sheep_units,
)
from serving.errors import InvalidInput, NotFound
from serving.explain import Lang
from serving.rotation import RotationConfig, plan_rotation
from serving.schemas import (
    AdviceOut,
    RotationGridOut,
    RotationMoveOut,
    ShortfallOut,
    YieldOut,
)
from serving.schemas_grazing import (
    GrazingAssessmentOut,
    RotationPlanDetail,
    SeasonInProgressList,
    SeasonInProgressOut,
)
from serving.scoring.common import explain_many, require_columns
from serving.scoring.context import ScoringContext

FAMILY = "grazing"
TASK = "yield"
# Inputs that restate the question (which season, how far ahead): never listed as a reason.
QUESTION_FEATURES = ("season", "lead_months")
# A pressure shown when stock stands on no capacity (all of the pasture rested): JSON has no infinity.
PRESSURE_SHOWN_MAX = 99.0
SEASON_WORDS = {
    "en": {"warm": "warm-season", "cold": "cold-season", "transition": "transition-season"},
    "zh": {"warm": "暖季", "cold": "冷季", "transition": "过渡季"},
}
STATUS_WORDS = {
    "en": {"under": "under-stocked", "balanced": "balanced", "over": "over-stocked"},
    "zh": {"under": "载畜不足", "balanced": "草畜平衡", "over": "超载"},
}


@dataclass(frozen=True)
class Scenario:
    """What-if changes to one grid's season."""

    add_su: float = 0.0
    rest: bool = False
    rest_share: float = DEFAULT_DOMAIN.seasonal_rest_share
    drought: bool = False
    described: dict[str, Any] = field(default_factory=dict)


def scenario_of(
    add_head: Mapping[str, int], rest: bool = False, drought: bool = False, rest_share: float | None = None
) -> Scenario:
    """A scenario from head added (negative: removed) per species, resting (a share of the season's
    pasture, :attr:`Domain.seasonal_rest_share` unless given) and drought."""
    heads: dict[str, Any] = {s: int(add_head.get(s, 0)) for s in SPECIES}
    share = DEFAULT_DOMAIN.seasonal_rest_share if rest_share is None else float(rest_share)
    described: dict[str, Any] = {"add_head": {k: v for k, v in heads.items() if v}, "rest": rest, "drought": drought}
    if rest:
        described["rest_share"] = share
    return Scenario(add_su=float(sheep_units(heads)), rest=rest, rest_share=share, drought=drought, described=described)


def apply_scenarios(rows: pd.DataFrame, scenarios: list[Scenario]) -> pd.DataFrame:
    """The season's use under each scenario. The model's inputs never change: this season's herd, rest and
    weather come after every input the yield forecast reads, so the yield does not react to them (a drought
    is applied to the yield afterwards, by :func:`season_numbers`).

    - head added or removed: the season's herd (and its range) moves by their SU;
    - rest: at least ``rest_share`` of the season's pasture rests, so it leaves the capacity's area;
    - drought: the row is a drought season (the yield ratio and DB63/T 2298's edible-share cut).
    """
    add = np.array([s.add_su for s in scenarios], dtype=float)
    rest = np.array([s.rest for s in scenarios], dtype=bool)
    share = np.array([s.rest_share for s in scenarios], dtype=float)
    drought = np.array([s.drought for s in scenarios], dtype=bool)
    if not add.any() and not rest.any() and not drought.any():
        return rows
    out = rows.copy()
    for col in ("stocking_su_season", "stocking_su_low", "stocking_su_high"):
        out[col] = np.clip(out[col].to_numpy(dtype=float) + add, 0, None)
    rested = np.where(
        rest, np.maximum(out["rested_share_forecast"].to_numpy(dtype=float), share), out["rested_share_forecast"]
    )
    out["rested_share_forecast"] = rested
    out["area_ha_season"] = out["area_ha_full"].to_numpy(dtype=float) * (1 - rested)
    out["drought"] = np.where(drought, 1, out["drought"])
    return out


def yield_levels(
    bundle: ModelBundle, x: np.ndarray, seasons: np.ndarray, levels: Sequence[float]
) -> tuple[np.ndarray, dict[float, np.ndarray]]:
    """The season yield's point forecast and its quantile at each of ``levels``, per row.

    With a conformal table in the bundle (:mod:`models.conformal`, per season; models trained before the
    yield was learnt relative to each grid's level carry one): its quantiles. Otherwise a normal shape through
    the 10 % / 90 % quantile models, whose interval is calibrated on the validation year by the engine's
    conformal shifts (training.families.grazing says why no per-season table is fitted now).
    """
    task = bundle.tasks[TASK]
    point = task.point(x)
    quantiles = task.quantiles(x)
    low, high = quantiles.get(0.1, point), quantiles.get(0.9, point)
    table = bundle.thresholds.get(THRESHOLD_KEY, {}).get(TASK)
    out = {}
    for level in levels:
        if table:
            values = conformal_quantile(table, point, low, high, seasons, level)
        else:
            z = NormalDist().inv_cdf(level) / NormalDist().inv_cdf(0.9)
            side = np.where(z < 0, point - np.minimum(low, point), np.maximum(high, point) - point)
            values = point + z * side
        out[level] = np.maximum(values, 0.0)
    return point, out


@dataclass(frozen=True)
class SeasonNumbers:
    """One season's numbers per row, as every grazing answer gives them (assessment, plan, map layer)."""

    rows: pd.DataFrame
    risk: float
    yield_point: np.ndarray
    yield_low: np.ndarray
    yield_high: np.ndarray
    capacity: np.ndarray
    capacity_low: np.ndarray
    capacity_high: np.ndarray
    capacity_at_risk: np.ndarray
    stocking: np.ndarray
    stocking_low: np.ndarray
    stocking_high: np.ndarray
    pressure: np.ndarray
    pressure_low: np.ndarray
    pressure_high: np.ndarray
    pressure_at_risk: np.ndarray
    status: np.ndarray
    action: np.ndarray
    su_to_move: np.ndarray
    yield_ratio: np.ndarray


def _drought_factors(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Yield factors (low, mid, high) of each row: the county's drought-year ratios where the row is a
    drought what-if, 1 elsewhere (a season's forecast already knows what it knows of the weather)."""
    dry = rows["drought"].to_numpy(dtype=float) > 0
    out = []
    for level in ("low", "mid", "high"):
        ratio = rows[f"drought_ratio_{level}"].to_numpy(dtype=float) if f"drought_ratio_{level}" in rows else 1.0
        out.append(np.where(dry, np.nan_to_num(ratio, nan=1.0), 1.0))
    return out[0], out[1], out[2]


def _log_range(center: np.ndarray, *ranges: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """An 80 % range of a product of independent factors: their relative log half-widths add in quadrature.
    Each range is given as (low / centre, high / centre)."""
    down = np.sqrt(sum(np.log(np.clip(lo, 1e-9, None)) ** 2 for lo, _ in ranges))
    up = np.sqrt(sum(np.log(np.clip(hi, 1e-9, None)) ** 2 for _, hi in ranges))
    return center * np.exp(-down), center * np.exp(up)


def season_numbers(bundle: ModelBundle, rows: pd.DataFrame, x: np.ndarray, risk: float) -> SeasonNumbers:
    """Yield, capacity, stocking and pressure (each with its 80 % range), the capacity at the ``risk``
    yield quantile, and the one decision (:func:`muzhang.domain.grazing_advice`) taken on it."""
    point, levels = yield_levels(bundle, x, rows["season"].to_numpy(), (0.1, 0.9, risk))
    low, high, at_risk = levels[0.1], levels[0.9], levels[risk]
    d_low, d_mid, d_high = _drought_factors(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        y_point = point * d_mid
        y_low, y_high = _log_range(y_point, (low / point, high / point), (d_low / d_mid, d_high / d_mid))
        y_low, y_high = np.minimum(y_low, y_point), np.maximum(y_high, y_point)
        y_risk = np.minimum(at_risk * d_mid * np.where(d_mid < 1, d_low / d_mid, 1.0), y_point)
    now = assess_grazing(rows, y_point)
    capacity = now["capacity_su"].to_numpy(dtype=float)
    cap_low = assess_grazing(rows, y_low)["capacity_su"].to_numpy(dtype=float)
    cap_high = assess_grazing(rows, y_high)["capacity_su"].to_numpy(dtype=float)
    cap_risk = assess_grazing(rows, y_risk)["capacity_su"].to_numpy(dtype=float)
    stocking = rows["stocking_su_season"].to_numpy(dtype=float)
    s_low = np.minimum(rows["stocking_su_low"].to_numpy(dtype=float), stocking)
    s_high = np.maximum(rows["stocking_su_high"].to_numpy(dtype=float), stocking)
    pressure = now["pressure"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_low, p_high = _log_range(
            pressure, (s_low / stocking, s_high / stocking), (capacity / cap_high, capacity / cap_low)
        )
    p_low = np.where(stocking > 0, p_low, 0.0)
    p_high = np.where(stocking > 0, p_high, 0.0)
    p_risk = grazing_pressure(stocking, cap_risk)
    ratio = y_point / rows["yield_mean_past"].to_numpy(dtype=float)
    action, move = grazing_advice(p_risk, stocking, cap_risk, ratio)
    return SeasonNumbers(
        rows,
        risk,
        y_point,
        y_low,
        y_high,
        capacity,
        cap_low,
        cap_high,
        cap_risk,
        stocking,
        s_low,
        s_high,
        pressure,
        p_low,
        p_high,
        p_risk,
        now["status"].to_numpy(),
        action,
        move,
        ratio,
    )


def season_layer(ctx: ScoringContext, season: str, risk: float | None = None, drought: bool = False) -> SeasonNumbers:
    """Every grid's numbers for one season, from the served model (what the plan and a map layer use)."""
    model = ctx.served(FAMILY)
    prep = ctx.prepared(model)
    pos = np.flatnonzero((prep.frame["season"] == season).to_numpy())
    rows = prep.frame.iloc[pos].reset_index(drop=True)
    rows = apply_scenarios(rows, [Scenario(drought=drought)] * len(rows))
    return season_numbers(model.bundle, rows, prep.x[pos], DEFAULT_DOMAIN.plan_risk if risk is None else risk)


def advice_text(action: str, move: float, lang: Lang) -> str:
    if lang == "zh":
        return {
            "graze": "宜牧：载畜量在合理承载力之内，可正常放牧",
            "rotate": f"轮牧：需将{move:,.0f}个羊单位转移到其他网格",
            "rest": f"宜休：本季休牧，需转移全部{move:,.0f}个羊单位",
        }[action]
    return {
        "graze": "Graze: stocking is within the reasonable carrying capacity",
        "rotate": f"Rotate: move {move:,.0f} SU to other grid areas",
        "rest": f"Rest this season: move all {move:,.0f} SU off the pasture",
    }[action]


def _headline(season: str, status: str, yield_kg_ha: float, pressure: float, period: str, lang: Lang) -> str:
    season_word = SEASON_WORDS[lang][season]
    status_word = STATUS_WORDS[lang][status]
    shown = min(pressure, PRESSURE_SHOWN_MAX) if np.isfinite(pressure) else PRESSURE_SHOWN_MAX
    if lang == "zh":
        return (
            f"预计{season_word}产草量为每公顷{yield_kg_ha:,.0f}千克干物质，载畜压力指数{shown:.2f}"
            f"（{status_word}，{period}）"
        )
    return (
        f"Forecast {season_word} yield is {yield_kg_ha:,.0f} kg DM/ha, grazing pressure {shown:.2f} "
        f"({status_word}; {period})"
    )


def check_grids(ctx: ScoringContext, grid_ids: Sequence[str]) -> None:
    unknown = sorted({g for g in grid_ids if g not in ctx.county.grid_ids})
    if unknown:
        raise NotFound(f"grid_id: unknown grid area(s) {', '.join(unknown[:10])}")


def assess(
    ctx: ScoringContext,
    queries: Sequence[tuple[str, str]],
    scenarios: list[Scenario],
    lang: Lang,
    risk: float | None = None,
) -> list[GrazingAssessmentOut]:
    """Yield, NY/T 635 capacity, the season's herd, pressure, status and advice for each (grid area,
    season), explained; the advice at the ``risk`` yield quantile (default :attr:`Domain.plan_risk`)."""
    check_grids(ctx, [g for g, _ in queries])
    model = ctx.served(FAMILY)
    bundle = model.bundle
    prep = ctx.prepared(model)
    pos = prep.rows(queries)
    x = prep.x[pos]
    rows = apply_scenarios(prep.frame.iloc[pos].reset_index(drop=True), scenarios)
    level = DEFAULT_DOMAIN.plan_risk if risk is None else float(risk)
    n = season_numbers(bundle, rows, x, level)
    seasons = rows["season"].to_numpy()
    years = rows["season_year"].to_numpy()
    as_of = [pd.Timestamp(v) for v in rows["as_of_month"]]
    periods = [period_text(seasons[i], int(years[i]), as_of[i], lang) for i in range(len(rows))]
    headlines = [
        _headline(seasons[i], n.status[i], n.yield_point[i], n.pressure[i], periods[i], lang) for i in range(len(rows))
    ]
    explanations = explain_many(
        bundle,
        TASK,
        x,
        headlines,
        lang,
        ctx.metrics,
        question=QUESTION_FEATURES,
        other_item=True,
        references=_own_past(rows, bundle.tasks[TASK], x, lang),
    )
    grids = ctx.county.grids
    name_col = "grid_name_zh" if lang == "zh" else "grid_name"
    out = []
    for i, row in enumerate(rows[["grid_id", "season", "season_year", "as_of_month"]].to_dict("records")):
        out.append(
            GrazingAssessmentOut(
                grid_id=row["grid_id"],
                grid_name=str(grids.at[row["grid_id"], name_col]),
                township_id=str(grids.at[row["grid_id"], "township_id"]),
                season=row["season"],
                season_year=int(row["season_year"]),
                as_of_month=as_of[i].date(),
                yield_kg_ha=YieldOut(
                    predicted=float(n.yield_point[i]), low=float(n.yield_low[i]), high=float(n.yield_high[i])
                ),
                capacity_su=_finite(n.capacity[i]),
                capacity_range_su=(_finite(n.capacity_low[i]), _finite(n.capacity_high[i])),
                stocking_su=_finite(n.stocking[i]),
                pressure=_finite(n.pressure[i], PRESSURE_SHOWN_MAX),
                status=n.status[i],
                advice=AdviceOut(
                    action=n.action[i],
                    su_to_move=float(n.su_to_move[i]),
                    text=advice_text(str(n.action[i]), float(n.su_to_move[i]), lang),
                ),
                overrides=scenarios[i].described,
                carried_months=ctx.county.carried_months(row["grid_id"]),
                explanation=explanations[i],
                stocking_range_su=(_finite(n.stocking_low[i]), _finite(n.stocking_high[i])),
                rested_share=_finite(rows["rested_share_forecast"].iloc[i]),
                pressure_range=(
                    _finite(n.pressure_low[i], PRESSURE_SHOWN_MAX),
                    _finite(n.pressure_high[i], PRESSURE_SHOWN_MAX),
                ),
                risk=level,
                capacity_at_risk_su=_finite(n.capacity_at_risk[i]),
                pressure_at_risk=_finite(n.pressure_at_risk[i], PRESSURE_SHOWN_MAX),
                period=periods[i],
            )
        )
    ctx.metrics.rows.labels(FAMILY).inc(len(out))
    return out


def _finite(value: float, cap: float = float("inf")) -> float:
    """A number JSON can carry: no capacity with stock on it is shown as :data:`PRESSURE_SHOWN_MAX`."""
    v = float(value)
    return 0.0 if np.isnan(v) else min(v, cap) if np.isfinite(min(v, cap)) else PRESSURE_SHOWN_MAX


def _own_past(rows: pd.DataFrame, task: TaskModel, x: np.ndarray, lang: Lang) -> list[tuple[float, str]]:
    """What "higher / lower than usual" means: the grid's own mean yield in its past seasons of the same
    kind, on the model's raw scale (kg DM/ha, or its log ratio to the base feature when the model learns
    one), named with its value in kg DM/ha."""
    means = rows["yield_mean_past"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.log(means / x[:, task.base_index]) if task.transform == "log_ratio" else means
    out = []
    for mean, value, season in zip(means, raw, rows["season"], strict=True):
        word = SEASON_WORDS[lang][season]
        name = (
            f"本网格以往{word}的平均水平（{mean:,.0f}千克/公顷）"
            if lang == "zh"
            else f"this grid's past {word} mean ({mean:,.0f} kg DM/ha)"
        )
        out.append((float(value), name))
    return out


def period_text(season: str, season_year: int, as_of: pd.Timestamp, lang: Lang) -> str:
    """What a grazing pressure is: the season's forecast, and the month of data it was made from."""
    word = SEASON_WORDS[lang][season]
    if lang == "zh":
        return f"{season_year}年{word}预测（数据截至{as_of.year}年{as_of.month}月）"
    return f"{season_year} {word} forecast (data to {as_of:%b %Y})"


def rotation_plan(
    ctx: ScoringContext,
    season: str,
    reserve_per_township: int,
    lang: Lang,
    risk: float | None = None,
    drought: bool = False,
) -> RotationPlanDetail:
    """County rotation plan for a season: who rests, what moves where, least total distance (HiGHS LP).

    Made from the same numbers and the same decision as every grid's advice (:func:`season_layer`): the
    capacities are taken at the ``risk`` yield quantile, every grid advised to rest ends empty, every other
    grid sends exactly its advised ``su_to_move`` (or counts it short), and receivers stay within capacity
    at that quantile.
    """
    n = season_layer(ctx, season, risk, drought)
    rows = n.rows
    grids = ctx.county.grids.loc[rows["grid_id"]]
    plan_input = pd.DataFrame(
        {
            "grid_id": rows["grid_id"],
            "township_id": grids["township_id"].to_numpy(),
            "x_km": grids["x_km"].to_numpy(),
            "y_km": grids["y_km"].to_numpy(),
            "capacity_su": np.nan_to_num(n.capacity_at_risk, nan=0.0),
            "stocking_su": np.nan_to_num(n.stocking, nan=0.0),
            "must_rest": must_rest(n.action),
        }
    )
    config = RotationConfig(reserve_per_township=reserve_per_township, season_days=DEFAULT_DOMAIN.season_days[season])
    plan = plan_rotation(plan_input, config)
    totals = {k: float(v) for k, v in plan.totals.items()}
    totals["su_to_move"] = float(n.su_to_move.sum())  # = su_moved + shortfall_su: the advice's own total
    return RotationPlanDetail(
        season=season,  # type: ignore[arg-type]
        season_year=int(rows["season_year"].iloc[0]),
        feasible=plan.feasible,
        summary=plan.summary(lang),
        totals=totals,
        moves=[
            RotationMoveOut(**{k: m[k] for k in RotationMoveOut.model_fields}) for m in plan.moves.to_dict("records")
        ],
        grids=[
            RotationGridOut(
                grid_id=r["grid_id"],
                township_id=r["township_id"],
                action=r["action"],
                su_before=r["su_before"],
                su_after=r["su_after"],
                capacity_su=r["capacity_su"],
                pressure_after=None if pd.isna(r["pressure_after"]) else float(r["pressure_after"]),
            )
            for r in plan.grids.to_dict("records")
        ],
        shortfall=[
            ShortfallOut(**{k: s[k] for k in ShortfallOut.model_fields}) for s in plan.shortfall.to_dict("records")
        ],
        solve_seconds=plan.solve_seconds,
        risk=n.risk,
        drought=drought,
    )


# The season under way is computed once per county version (about a second for the sample).
_IN_PROGRESS: dict[str, pd.DataFrame] = {}


def season_in_progress(ctx: ScoringContext, grid_id: str | None, lang: Lang) -> SeasonInProgressList:
    """The season under way (e.g. the winter in progress): for its months left, the forage left, the herd
    forecast over them and the same decision as every other grazing answer. No model: its yield is observed.
    Empty when the next month starts a new season."""
    if grid_id is not None:
        check_grids(ctx, [grid_id])
    county = ctx.county
    rows = _IN_PROGRESS.get(county.version)
    if rows is None:
        rows = assess_season_in_progress(county.tables)
        _IN_PROGRESS.clear()
        _IN_PROGRESS[county.version] = rows
    if grid_id is not None:
        rows = rows[rows["grid_id"] == grid_id]
    if rows.empty:
        return SeasonInProgressList(items=[])
    stocking = rows["stocking_su_forecast"].to_numpy(dtype=float)
    capacity = rows["capacity_left_su"].to_numpy(dtype=float)
    pressure = grazing_pressure(stocking, capacity)
    p_low = grazing_pressure(rows["stocking_su_low"].to_numpy(dtype=float), capacity)
    p_high = grazing_pressure(rows["stocking_su_high"].to_numpy(dtype=float), capacity)
    status = grazing_status(pressure)
    action, move = grazing_advice(pressure, stocking, capacity, np.full(len(rows), np.nan))
    first = rows.iloc[0]
    as_of = pd.Timestamp(first["as_of_month"])
    period = in_progress_text(str(first["season"]), int(first["season_year"]), as_of, int(first["months_left"]), lang)
    items = []
    for i, row in enumerate(rows.to_dict("records")):
        items.append(
            SeasonInProgressOut(
                grid_id=row["grid_id"],
                township_id=str(county.grids.at[row["grid_id"], "township_id"]),
                season=row["season"],
                season_year=int(row["season_year"]),
                as_of_month=as_of.date(),
                period=period,
                months_left=int(row["months_left"]),
                yield_so_far_kg_ha=_finite(row["yield_so_far_kg_ha"]),
                capacity_season_su=_finite(row["capacity_season_su"]),
                capacity_left_su=_finite(row["capacity_left_su"]),
                stocking_su=_finite(stocking[i]),
                stocking_range_su=(_finite(row["stocking_su_low"]), _finite(row["stocking_su_high"])),
                pressure=_finite(pressure[i], PRESSURE_SHOWN_MAX),
                pressure_range=(_finite(p_low[i], PRESSURE_SHOWN_MAX), _finite(p_high[i], PRESSURE_SHOWN_MAX)),
                status=status[i],
                advice=AdviceOut(
                    action=action[i], su_to_move=float(move[i]), text=advice_text(str(action[i]), float(move[i]), lang)
                ),
            )
        )
    return SeasonInProgressList(items=items)


def in_progress_text(season: str, season_year: int, as_of: pd.Timestamp, months_left: int, lang: Lang) -> str:
    """What an in-progress pressure is: the months left of the season under way, from the last month's data."""
    word = SEASON_WORDS[lang][season]
    if lang == "zh":
        return f"{season_year}年{word}进行中：余下{months_left}个月（数据截至{as_of.year}年{as_of.month}月）"
    return f"{season_year} {word} in progress: the {months_left} months left (data to {as_of:%b %Y})"


def score_table(ctx: ScoringContext, frame: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """Offline scoring: columns ``grid_id[,season]`` (warm by default), one output row per input row."""
    require_columns(frame, ["grid_id"], FAMILY)
    seasons = frame["season"] if "season" in frame else pd.Series("warm", index=frame.index)
    queries = list(zip(frame["grid_id"].astype(str), seasons.astype(str), strict=True))
    bad = sorted({s for _, s in queries if s not in DEFAULT_DOMAIN.season_months})
    if bad:
        raise InvalidInput(f"season: unknown season(s) {', '.join(bad[:5])}; use warm, cold or transition")
    results = assess(ctx, queries, [Scenario()] * len(queries), lang)
    return pd.DataFrame(
        [
            {
                "grid_id": r.grid_id,
                "season": r.season,
                "season_year": r.season_year,
                "yield_kg_ha": r.yield_kg_ha.predicted,
                "yield_low": r.yield_kg_ha.low,
                "yield_high": r.yield_kg_ha.high,
                "capacity_su": r.capacity_su,
                "stocking_su": r.stocking_su,
                "pressure": r.pressure,
                "status": r.status,
                "advice": r.advice.action,
                "su_to_move": r.advice.su_to_move,
                "reason": r.explanation.sentence,
            }
            for r in results
        ]
    )
