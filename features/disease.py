"""Disease risk: one row per person from the baseline health check; four outcomes from the follow-up.

What may be a feature, and why:

* Baseline demographics, exposures and readings are all measured at the baseline check, before any
  outcome, so each may predict each outcome.
* No outcome is *defined* by a feature. Echinococcosis is found by ultrasound and brucellosis by
  serology: neither exam is recorded at baseline, so neither can leak. Hypertension and chronic mountain
  sickness are *onsets* within five years among people free of them at baseline: the baseline blood
  pressure and haemoglobin only describe the starting point (clinically the strongest predictors), while
  the outcome is a later reading. :func:`features_for_condition` is the one place to drop a feature for
  one condition if a new feature ever takes part in an outcome's definition.
* ``baseline_hypertension`` / ``baseline_cms`` are conditions *known at the check*. They decide who is at
  risk of their own onset (the outcome is NaN for people who had the condition at baseline; training drops
  those rows per condition, so among the rows a model of that condition learns from the flag is constant
  and teaches it nothing), and they are ordinary inputs for the other conditions. Serving gives a person
  who already has a condition no onset risk of it (``thresholds.outcomes.<condition>.known_at_check`` in
  ``experiments/disease.yaml``).
* ``patient_id`` (a key) and ``check_date`` (no signal, identifying) are not features.

The conditions are data, not code (:func:`conditions_of`): every boolean field the catalog puts in the
``patient_outcomes`` table for the disease family is one, in catalog order. The shipped catalog has the four
above; a data directory's ``catalog.yaml`` adds one (e.g. ``diabetes_5y``, with its ``horizon_years`` and
``known_at_check``) with no code change (docs/bring-your-own-data.md). Each condition's catalog entry travels
in :attr:`FeatureSet.outcomes`; the experiment YAML (``thresholds.outcomes``) may set or override its horizon,
known-at-check input, band policy and display names.

Directions the domain fixes differ by condition, so they are given per condition
(:func:`monotone_for_condition`), not for the family.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.common import as_flag
from features.featureset import FeatureSet, vocabulary
from features.tables import CountyTables, require_columns
from muzhang.catalog import Catalog, load_catalog
from muzhang.domain import DEFAULT_DOMAIN, Domain

OUTCOME_TABLE = "patient_outcomes"
# The shipped catalog's conditions (a data directory's catalog may add more: conditions_of).
CONDITIONS = ("echinococcosis", "hypertension_5y", "cms_5y", "brucellosis")
KEYS = ["patient_id"]
CATEGORICAL = {
    "township_id": (),
    "sex": ("female", "male"),
    "ethnicity": ("han_or_other", "tibetan"),
    "occupation": ("herder", "other", "student"),
    "water_source": ("open_stream", "tap", "well"),
    "smoking": ("current", "former", "never"),
}
FLAGS = [
    "plays_with_dogs",
    "flies_on_food",
    "fox_skin",
    "alcohol",
    "handles_livestock_births",
    "herd_abortion_history",
    "raw_milk",
    "baseline_hypertension",
    "baseline_cms",
]
FEATURES = [
    "age",
    "sex",
    "ethnicity",
    "occupation",
    "township_id",
    "residence_altitude_m",
    "years_above_4500m",
    "dogs_owned",
    "plays_with_dogs",
    "water_source",
    "flies_on_food",
    "fox_skin",
    "butter_tea_cups_day",
    "smoking",
    "alcohol",
    "handles_livestock_births",
    "herd_abortion_history",
    "raw_milk",
    "bmi",
    "systolic_bp",
    "diastolic_bp",
    "heart_rate",
    "spo2_pct",
    "haemoglobin_g_dl",
    "baseline_hypertension",
    "baseline_cms",
]
NOT_FEATURES = ("patient_id", "check_date")
# The input that records a shipped condition as already present at the check (no onset risk for that
# person); the experiment YAML says so for serving, a catalog entry's known_at_check for an added condition.
KNOWN_AT_CHECK = {"hypertension_5y": "baseline_hypertension", "cms_5y": "baseline_cms"}
# Risk factors with a published direction (DOMAIN.md); only those, and only for their condition. A condition
# a catalog adds has none (the trees learn its directions from the data).
MONOTONE_BY_CONDITION: dict[str, dict[str, int]] = {
    "echinococcosis": {"dogs_owned": 1, "plays_with_dogs": 1, "flies_on_food": 1, "fox_skin": 1},
    "hypertension_5y": {"systolic_bp": 1, "butter_tea_cups_day": 1, "residence_altitude_m": 1},
    "cms_5y": {"haemoglobin_g_dl": 1, "years_above_4500m": 1},
    "brucellosis": {"herd_abortion_history": 1, "handles_livestock_births": 1, "raw_milk": 1},
}


def conditions_of(catalog: Catalog | None = None) -> dict[str, dict[str, Any]]:
    """Condition -> its catalog entry (JSON): the boolean fields of ``patient_outcomes`` for the disease
    family, in catalog order (default: the shipped catalog)."""
    catalog = catalog or load_catalog()
    keys = set(catalog.table(OUTCOME_TABLE).primary_key)
    return {
        f.name: f.model_dump(mode="json", exclude_none=True)
        for f in catalog.fields_of(OUTCOME_TABLE)
        if f.name not in keys and f.type == "boolean" and "disease" in f.families
    }


def build_disease_features(
    tables: CountyTables,
    *,
    domain: Domain = DEFAULT_DOMAIN,
    forecast: bool = False,
    catalog: Catalog | None = None,
) -> FeatureSet:
    """One row per person; outcomes as floats (NaN: not at risk). ``forecast`` leaves outcomes NaN (new
    people to score). ``catalog``: the (extended) catalog whose outcome fields are the conditions."""
    outcome_specs = conditions_of(catalog)
    conditions = list(outcome_specs)
    require_columns(tables.patients, [*KEYS, *FEATURES], "patients")
    people = tables.patients[[*KEYS, *FEATURES]].copy()
    for flag in FLAGS:
        people[flag] = as_flag(people[flag])
    if forecast:
        outcomes = pd.DataFrame({c: np.full(len(people), np.nan) for c in conditions}, index=people.index)
        frame = pd.concat([people, outcomes], axis=1)
    else:
        require_columns(tables.patient_outcomes, [*KEYS, *conditions], "patient_outcomes")
        outcomes = tables.patient_outcomes[[*KEYS, *conditions]].copy()
        outcomes[conditions] = outcomes[conditions].astype("float64")
        frame = people.merge(outcomes, on=KEYS, how="inner", validate="one_to_one")
    return FeatureSet(
        family="disease",
        frame=frame.sort_values(KEYS, ignore_index=True),
        keys=KEYS,
        time_col=None,
        features=FEATURES,
        categorical={
            name: vocabulary(frame[name], tables.townships["township_id"] if name == "township_id" else known)
            for name, known in CATEGORICAL.items()
        },
        targets=conditions,
        outcomes=outcome_specs,
    )


def features_for_condition(condition: str, catalog: Catalog | None = None) -> list[str]:
    """The features a model of ``condition`` may use: all but the flag saying it is already present (see
    the module docstring)."""
    conditions = conditions_of(catalog)
    if condition not in conditions:
        raise KeyError(f"unknown condition {condition!r}; expected one of {', '.join(conditions)}")
    known = conditions[condition].get("known_at_check", KNOWN_AT_CHECK.get(condition))
    return [f for f in FEATURES if f != known]


def monotone_for_condition(condition: str) -> dict[str, int]:
    """Feature -> +1 where DOMAIN.md names a risk factor of ``condition`` (more exposure, more risk); none
    for a condition a catalog added."""
    return dict(MONOTONE_BY_CONDITION.get(condition, {}))
