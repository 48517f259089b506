"""Directional expectations (Made-With-ML's "directional" tests) on bundles trained in process.

Each feature the domain fixes a direction for is swept over a grid of values on many sampled rows, all
else fixed; the prediction must never move the wrong way. A sweep that moves nothing at all would pass
vacuously, so each family also checks that some constrained feature does move its prediction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from features import FeatureSet, assess_grazing, monotone_for_condition
from features.disease import CONDITIONS

N_ROWS = 300
N_VALUES = 25
TOLERANCE = 1e-9

GRAZING_DOWN = ["stocking_su_last", "pressure_last_year"]  # more past pressure: less forage, never more
DISPUTE_UP = [
    "disputes_sum1",
    "disputes_sum3",
    "disputes_sum6",
    "disputes_sum12",
    "neighbour_disputes_sum3",
    "neighbour_disputes_sum6",
    "snow_days_sum3",  # a heavy-snow winter makes pasture scarce (DOMAIN.md)
]
DISEASE_UP = [(c, f) for c in CONDITIONS for f in monotone_for_condition(c)]


def sample_rows(fs: FeatureSet, n: int = N_ROWS) -> pd.DataFrame:
    return fs.frame.sample(min(n, len(fs.frame)), random_state=0).reset_index(drop=True)


def value_grid(fs: FeatureSet, feature: str) -> np.ndarray:
    """0/1 for flags; otherwise from 0 to twice the largest value seen (beyond the training range too)."""
    observed = pd.to_numeric(fs.frame[feature], errors="coerce")
    if set(observed.dropna().unique()) <= {0, 1}:
        return np.array([0.0, 1.0])
    return np.linspace(0.0, 2 * float(observed.max()), N_VALUES)


def sweep(rows: pd.DataFrame, changes: dict[str, np.ndarray]) -> pd.DataFrame:
    """One copy of ``rows`` per step (step-major), each changed column set to its step's value.

    A change is one value per step (all rows) or a (steps x rows) array (a value per row and step).
    """
    steps = len(next(iter(changes.values())))
    frame = pd.concat([rows] * steps, ignore_index=True)
    for column, values in changes.items():
        per_step = np.asarray(values, dtype=float).reshape(steps, -1)
        frame[column] = np.broadcast_to(per_step, (steps, len(rows))).ravel()
    return frame


def by_row(values: np.ndarray | pd.Series, n_rows: int) -> np.ndarray:
    """Step-major predictions reshaped to (rows, steps)."""
    return np.asarray(values, dtype=float).reshape(-1, n_rows).T


def never_falls(values: np.ndarray) -> bool:
    """True if every row is non-decreasing along the sweep (infinite pressure included)."""
    return bool(np.all(values[:, 1:] >= values[:, :-1] - TOLERANCE * np.maximum(1.0, np.abs(values[:, :-1]))))


def test_monotone_declarations_match_what_these_tests_sweep(tiny_feature_sets: dict[str, FeatureSet]) -> None:
    """If a builder adds or drops a direction, this list (and so the sweeps) must follow."""
    assert {f for f, d in tiny_feature_sets["grazing"].monotone.items() if d == -1} == set(GRAZING_DOWN)
    assert {f for f, d in tiny_feature_sets["dispute"].monotone.items() if d == 1} == set(DISPUTE_UP)


@pytest.mark.parametrize("feature", GRAZING_DOWN)
def test_grazing_yield_never_rises_as_past_pressure_feature_rises(
    trained_results: dict[str, Any], tiny_feature_sets: dict[str, FeatureSet], feature: str
) -> None:
    fs, bundle = tiny_feature_sets["grazing"], trained_results["grazing"].bundle
    rows = sample_rows(fs)
    frame = sweep(rows, {feature: value_grid(fs, feature)})
    yield_kg_ha = by_row(bundle.predict_frame(frame)["yield"], len(rows))
    assert never_falls(-yield_kg_ha), f"yield rises with {feature} for some rows"


def test_grazing_pressure_never_falls_as_the_herd_on_the_same_pasture_grows(
    trained_results: dict[str, Any], tiny_feature_sets: dict[str, FeatureSet]
) -> None:
    """Last month's and the season's stocking scaled together: NY/T 635 pressure never falls."""
    fs, bundle = tiny_feature_sets["grazing"], trained_results["grazing"].bundle
    rows = sample_rows(fs).dropna(subset=["stocking_su_last"])
    scale = np.linspace(0.25, 3.0, N_VALUES)[:, None]
    frame = sweep(
        rows,
        {
            "stocking_su_last": scale * rows["stocking_su_last"].to_numpy()[None, :],
            "stocking_su_season": scale * rows["stocking_su_season"].to_numpy()[None, :],
        },
    )
    predicted_yield = bundle.predict_frame(frame)["yield"].to_numpy()
    pressure = by_row(assess_grazing(frame, predicted_yield)["pressure"], len(rows))
    assert np.isfinite(pressure[:, 0]).mean() > 0.9  # the sweep starts from ordinary pastures
    assert never_falls(pressure), "predicted grazing pressure falls as the herd grows for some rows"


def test_grazing_pressure_never_falls_as_last_years_pressure_rises(
    trained_results: dict[str, Any], tiny_feature_sets: dict[str, FeatureSet]
) -> None:
    fs, bundle = tiny_feature_sets["grazing"], trained_results["grazing"].bundle
    rows = sample_rows(fs)
    frame = sweep(rows, {"pressure_last_year": value_grid(fs, "pressure_last_year")})
    pressure = assess_grazing(frame, bundle.predict_frame(frame)["yield"].to_numpy())["pressure"]
    assert never_falls(by_row(pressure, len(rows)))


@pytest.mark.parametrize("feature", DISPUTE_UP)
def test_dispute_risk_never_falls_as_past_dispute_count_rises(
    trained_results: dict[str, Any], tiny_feature_sets: dict[str, FeatureSet], feature: str
) -> None:
    fs, bundle = tiny_feature_sets["dispute"], trained_results["dispute"].bundle
    rows = sample_rows(fs)
    frame = sweep(rows, {feature: np.round(value_grid(fs, feature))})
    risk = by_row(bundle.predict_frame(frame)["p_any_dispute"], len(rows))
    assert never_falls(risk), f"dispute risk falls as {feature} rises for some rows"


@pytest.mark.parametrize(("condition", "feature"), DISEASE_UP, ids=[f"{c}-{f}" for c, f in DISEASE_UP])
def test_disease_risk_never_falls_as_named_risk_factor_rises(
    trained_results: dict[str, Any], tiny_feature_sets: dict[str, FeatureSet], condition: str, feature: str
) -> None:
    fs, bundle = tiny_feature_sets["disease"], trained_results["disease"].bundle
    rows = sample_rows(fs)
    frame = sweep(rows, {feature: value_grid(fs, feature)})
    risk = by_row(bundle.predict_frame(frame)[f"p_{condition}"], len(rows))
    assert never_falls(risk), f"{condition} risk falls as {feature} rises for some people"


@pytest.mark.parametrize(
    ("family", "column", "features"),
    [
        ("grazing", "yield", GRAZING_DOWN),
        ("dispute", "p_any_dispute", DISPUTE_UP),
        ("disease", None, [f for _, f in DISEASE_UP]),
    ],
)
def test_constrained_features_move_the_prediction_so_the_sweeps_are_not_vacuous(
    trained_results: dict[str, Any],
    tiny_feature_sets: dict[str, FeatureSet],
    family: str,
    column: str | None,
    features: list[str],
) -> None:
    fs, bundle = tiny_feature_sets[family], trained_results[family].bundle
    rows = sample_rows(fs, 100)
    moved = {}
    for feature in features:
        preds = bundle.predict_frame(sweep(rows, {feature: value_grid(fs, feature)}))
        cols = [column] if column else [c for c in preds.columns if c.startswith("p_")]
        moved[feature] = max(float(np.ptp(by_row(preds[c], len(rows)), axis=1).max()) for c in cols)
    assert max(moved.values()) > 1e-3, f"{family}: no constrained feature changes any prediction: {moved}"
