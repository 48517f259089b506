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

import inspect
from dataclasses import fields

from features.disease import features_for_condition, monotone_for_condition
from features.featureset import FeatureSet, add_measurements
from features.grazing import assess_grazing
from features.tables import CountyTables, load_county
from muzhang.catalog import Catalog
from muzhang.domain import DEFAULT_DOMAIN, Domain
from muzhang.families import get_family, resolve


def build_features(
    family: str,
    tables: CountyTables,
    *,
    domain: Domain = DEFAULT_DOMAIN,
    forecast: bool = False,
    catalog: Catalog | None = None,
) -> FeatureSet:
    """Build one family's feature set.

    Args:
        family: a registered family (:func:`muzhang.families.family_names`).
        tables: the county's raw tables (:func:`load_county`).
        domain: figures to use (sheep units, seasons, NY/T 635).
        forecast: rows to predict instead of rows to learn from (targets NaN): the next season (grazing),
            the latest origin (market), the next month (dispute), people as given (disease).
        catalog: an extended catalog (:func:`muzhang.catalog.catalog_for`): the numeric fields it adds
            for the family are passed through as features (:func:`features.featureset.add_measurements`).

    Raises:
        muzhang.families.UnknownFamily: naming the registered families.
    """
    builder = resolve(get_family(family).builder)
    # A builder whose rows the catalog shapes (the disease conditions are its outcome fields) takes it.
    extra = {"catalog": catalog} if "catalog" in inspect.signature(builder).parameters else {}
    fs: FeatureSet = builder(tables, domain=domain, forecast=forecast, **extra)
    if catalog is not None:
        fs = add_measurements(fs, {f.name: getattr(tables, f.name) for f in fields(tables)}, catalog)
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
