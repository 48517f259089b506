"""The training plan of each family, sharing the shape in :mod:`training.families.base`.

Which plan a family uses is the family registry's business (:mod:`muzhang.families`); :func:`plan_for`
looks it up.
"""

from muzhang.families import get_family, resolve
from training.families.base import Family, TaskPlan


def plan_for(family: str) -> Family:
    """A fresh training plan for a registered family."""
    plan = resolve(get_family(family).plan)()
    if not isinstance(plan, Family):
        raise TypeError(f"the plan of family {family!r} is a {type(plan).__name__}, not a training Family")
    return plan


__all__ = ["Family", "TaskPlan", "plan_for"]
