"""The county rotation plan, made from the same numbers and decision as every grid's advice."""

from __future__ import annotations

import numpy as np
import pandas as pd

from muzhang.domain import DEFAULT_DOMAIN, must_rest
from serving.explain import Lang
from serving.rotation import RotationConfig, plan_rotation
from serving.schemas import RotationGridOut, RotationMoveOut, ShortfallOut
from serving.schemas_grazing import RotationPlanDetail
from serving.scoring.context import ScoringContext
from serving.scoring.grazing.numbers import season_layer


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
