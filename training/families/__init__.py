"""One plan per family, sharing the shape in :mod:`training.families.base`."""

from training.families.base import Family, TaskPlan
from training.families.disease import DiseaseFamily
from training.families.dispute import DisputeFamily
from training.families.grazing import GrazingFamily
from training.families.market import MarketFamily

FAMILY_PLANS: dict[str, Family] = {
    f.name: f for f in (GrazingFamily(), MarketFamily(), DisputeFamily(), DiseaseFamily())
}

__all__ = ["FAMILY_PLANS", "Family", "TaskPlan"]
