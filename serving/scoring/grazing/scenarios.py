"""Grazing what-ifs: head added or removed, rest, drought, applied to the season's use (never to the model's inputs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from muzhang.domain import DEFAULT_DOMAIN, SPECIES, sheep_units


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
