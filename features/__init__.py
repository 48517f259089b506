"""Feature builders: one per family, all returning the same :class:`FeatureSet` shape.

Usage::

    tables = load_county(SAMPLE_COUNTY)          # read once (serving keeps it in memory)
    fs = build_features("dispute", tables)        # pure function of the tables
    next_month = build_features("dispute", tables, forecast=True)

Which builder makes a family's rows is the family registry's business (:mod:`muzhang.families`).
Builders never read the simulator's oracle, never touch the disk, and give a row of month ``t`` only data
its decision could have seen (see :mod:`features.common`).
"""

from __future__ import annotations

from features.disease import features_for_condition, monotone_for_condition
from features.featureset import FeatureSet
from features.grazing import assess_grazing
from features.tables import CountyTables, load_county
from muzhang.domain import DEFAULT_DOMAIN, Domain
from muzhang.families import get_family, resolve


def build_features(
    family: str, tables: CountyTables, *, domain: Domain = DEFAULT_DOMAIN, forecast: bool = False
) -> FeatureSet:
    """Build one family's feature set.

    Args:
        family: a registered family (:func:`muzhang.families.family_names`).
        tables: the county's raw tables (:func:`load_county`).
        domain: figures to use (sheep units, seasons, NY/T 635).
        forecast: rows to predict instead of rows to learn from (targets NaN): the next season (grazing),
            the latest origin (market), the next month (dispute), people as given (disease).

    Raises:
        muzhang.families.UnknownFamily: naming the registered families.
    """
    builder = resolve(get_family(family).builder)
    fs: FeatureSet = builder(tables, domain=domain, forecast=forecast)
    return fs


__all__ = [
    "CountyTables",
    "FeatureSet",
    "assess_grazing",
    "build_features",
    "features_for_condition",
    "load_county",
    "monotone_for_condition",
]
