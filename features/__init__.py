"""Feature builders: one per family, all returning the same :class:`FeatureSet` shape.

Usage::

    tables = load_county(SAMPLE_COUNTY)          # read once (serving keeps it in memory)
    fs = build_features("dispute", tables)        # pure function of the tables
    next_month = build_features("dispute", tables, forecast=True)

Builders never read the simulator's oracle, never touch the disk, and give a row of month ``t`` only data
its decision could have seen (see :mod:`features.common`).
"""

from __future__ import annotations

from collections.abc import Callable

from features.disease import build_disease_features, features_for_condition, monotone_for_condition
from features.dispute import build_dispute_features
from features.featureset import FeatureSet
from features.grazing import assess_grazing, build_grazing_features
from features.market import build_market_features
from features.tables import CountyTables, load_county
from muzhang.domain import DEFAULT_DOMAIN, Domain

FAMILIES = ("grazing", "market", "dispute", "disease")
Builder = Callable[..., FeatureSet]
BUILDERS: dict[str, Builder] = {
    "grazing": build_grazing_features,
    "market": build_market_features,
    "dispute": build_dispute_features,
    "disease": build_disease_features,
}


def build_features(
    family: str, tables: CountyTables, *, domain: Domain = DEFAULT_DOMAIN, forecast: bool = False
) -> FeatureSet:
    """Build one family's feature set.

    Args:
        family: one of :data:`FAMILIES`.
        tables: the county's raw tables (:func:`load_county`).
        domain: figures to use (sheep units, seasons, NY/T 635).
        forecast: rows to predict instead of rows to learn from (targets NaN): the next season (grazing),
            the latest origin (market), the next month (dispute), people as given (disease).
    """
    if family not in BUILDERS:
        raise ValueError(f"unknown feature family {family!r}; expected one of {', '.join(FAMILIES)}")
    return BUILDERS[family](tables, domain=domain, forecast=forecast)


__all__ = [
    "FAMILIES",
    "CountyTables",
    "FeatureSet",
    "assess_grazing",
    "build_features",
    "features_for_condition",
    "load_county",
    "monotone_for_condition",
]
