"""What every grazing answer shares: the family and task names, how a number is shown, grid checks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from serving.errors import NotFound
from serving.scoring.context import ScoringContext

FAMILY = "grazing"
TASK = "yield"
# A pressure shown when stock stands on no capacity (all of the pasture rested): JSON has no infinity.
PRESSURE_SHOWN_MAX = 99.0


def check_grids(ctx: ScoringContext, grid_ids: Sequence[str]) -> None:
    unknown = sorted({g for g in grid_ids if g not in ctx.county.grid_ids})
    if unknown:
        raise NotFound(f"grid_id: unknown grid area(s) {', '.join(unknown[:10])}")


def finite(value: float, cap: float = float("inf")) -> float:
    """A number JSON can carry: no capacity with stock on it is shown as :data:`PRESSURE_SHOWN_MAX`."""
    v = float(value)
    return 0.0 if np.isnan(v) else min(v, cap) if np.isfinite(min(v, cap)) else PRESSURE_SHOWN_MAX
