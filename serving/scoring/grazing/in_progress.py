"""The season under way (e.g. the winter in progress): the months left of it, from observed yield."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.grazing import assess_season_in_progress
from muzhang.domain import grazing_advice, grazing_pressure, grazing_status
from serving.explain import Lang
from serving.schemas import AdviceOut
from serving.schemas_grazing import SeasonInProgressList, SeasonInProgressOut
from serving.scoring.context import ScoringContext
from serving.scoring.grazing.common import PRESSURE_SHOWN_MAX, check_grids, finite
from serving.scoring.grazing.explanations import advice_text, in_progress_text

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
                yield_so_far_kg_ha=finite(row["yield_so_far_kg_ha"]),
                capacity_season_su=finite(row["capacity_season_su"]),
                capacity_left_su=finite(row["capacity_left_su"]),
                stocking_su=finite(stocking[i]),
                stocking_range_su=(finite(row["stocking_su_low"]), finite(row["stocking_su_high"])),
                pressure=finite(pressure[i], PRESSURE_SHOWN_MAX),
                pressure_range=(finite(p_low[i], PRESSURE_SHOWN_MAX), finite(p_high[i], PRESSURE_SHOWN_MAX)),
                status=status[i],
                advice=AdviceOut(
                    action=action[i], su_to_move=float(move[i]), text=advice_text(str(action[i]), float(move[i]), lang)
                ),
            )
        )
    return SeasonInProgressList(items=items)
