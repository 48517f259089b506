"""Synthetic health-check cohort: a 2019 baseline check and outcomes found by the 2024 follow-up.

No real person is described. Each outcome is defined apart from the features that predict it:
echinococcosis by ultrasound (not a feature), hypertension and chronic mountain sickness as *onset*
within five years among people free of them at baseline (baseline readings are allowed as predictors),
brucellosis by serology (not a feature). Intercepts are calibrated so prevalences match DOMAIN.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from muzhang.domain import Domain

N_PATIENTS = 12_000
BASELINE_YEAR = 2019
FOLLOW_UP_YEARS = 5
# Target prevalence of each outcome (echinococcosis: Dari ultrasound survey; the rest: assumptions within
# the plateau ranges of DOMAIN.md, for onset among those free of the condition at baseline).
TARGET_PREVALENCE = {"echinococcosis": None, "hypertension_5y": 0.18, "cms_5y": 0.04, "brucellosis": 0.06}
LATENT_SD = 0.5  # unobserved susceptibility (genes, history) on the logit scale
CONDITIONS = tuple(TARGET_PREVALENCE)


def _calibrate(linear: np.ndarray, eligible: np.ndarray, target: float) -> float:
    """Intercept so that the mean true probability among eligible people equals ``target``."""
    return float(brentq(lambda b: expit(b + linear[eligible]).mean() - target, -20, 20))


def simulate_patients(
    rng: np.random.Generator, grids: pd.DataFrame, people_by_grid: pd.Series, domain: Domain
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (baseline records, outcomes, oracle probabilities), one row per patient each."""
    n = N_PATIENTS
    weights = people_by_grid.reindex(grids["grid_id"]).to_numpy(dtype=float)
    home = rng.choice(len(grids), n, p=weights / weights.sum())
    g = grids.iloc[home].reset_index(drop=True)
    town = g["is_community"].to_numpy()

    child = rng.uniform(size=n) < 0.22
    age = np.where(child, rng.integers(6, 18, n), np.clip(18 + rng.gamma(2.2, 14, n), 18, 88)).astype(int)
    female = rng.uniform(size=n) < 0.5
    tibetan = rng.uniform(size=n) < np.where(town, 0.82, 0.97)
    occupation = np.where(
        child, "student", np.where(rng.uniform(size=n) < np.where(town, 0.15, 0.78), "herder", "other")
    )
    herder = occupation == "herder"
    altitude = np.clip(g["elevation_m"].to_numpy() + rng.normal(0, 60, n), 3_850, 5_250).round()
    high = altitude > 4_450
    years_high = np.where(
        tibetan, age * np.where(high, rng.uniform(0.5, 1, n), rng.uniform(0, 0.3, n)), rng.uniform(0, 12, n)
    ).round()

    dogs = rng.poisson(np.where(herder, 1.6, np.where(town, 0.2, 0.6)))
    plays_dogs = rng.uniform(size=n) < np.where(child, 0.5, 0.22)
    water = np.where(
        rng.uniform(size=n) < np.where(town, 0.04, np.where(herder, 0.38, 0.2)),
        "open_stream",
        np.where(rng.uniform(size=n) < np.where(town, 0.85, 0.35), "tap", "well"),
    )
    flies = rng.uniform(size=n) < np.where(town, 0.2, 0.45)
    fox_skin = rng.uniform(size=n) < np.where(herder, 0.16, 0.04)
    tea = rng.poisson(np.where(child, 2.5, np.where(tibetan, 6.0, 2.0)))
    smoking = np.where(
        child,
        "never",
        np.where(
            rng.uniform(size=n) < np.where(female, 0.03, 0.38),
            "current",
            np.where(rng.uniform(size=n) < 0.08, "former", "never"),
        ),
    )
    alcohol = (~child) & (rng.uniform(size=n) < np.where(female, 0.05, 0.3))
    births_handling = herder & (rng.uniform(size=n) < 0.7)
    abortion_history = herder & (rng.uniform(size=n) < 0.18)  # yak herds 18 % infected (DOMAIN.md)
    raw_milk = rng.uniform(size=n) < np.where(herder, 0.35, 0.1)

    alt_km = (altitude - 4_200) / 1_000
    bmi = np.where(child, rng.normal(17.5, 2.2, n), rng.normal(23.8, 3.3, n)).clip(12, 45).round(1)
    sbp = (
        (113 + 0.5 * (age - 30) + 5 * ~female + 8 * alt_km + 0.8 * (tea - 5) + 0.9 * (bmi - 23) + rng.normal(0, 12, n))
        .clip(80, 220)
        .round()
    )
    dbp = (0.55 * sbp + 8 + rng.normal(0, 7, n)).clip(45, 130).round()
    heart_rate = rng.normal(76, 9, n).clip(45, 130).round()
    spo2 = (91.5 - 4 * alt_km + 1.2 * tibetan + rng.normal(0, 2, n)).clip(72, 100).round()
    hb = (
        (
            np.where(female, 14.9, 17.2)
            + 1.1 * alt_km
            + 0.7 * (smoking == "current")
            - 0.5 * tibetan
            + 0.012 * years_high
            + rng.normal(0, 1.4, n)
        )
        .clip(8, 26)
        .round(1)
    )

    hb_limit = np.where(female, domain.cms_hb_threshold_women, domain.cms_hb_threshold_men)
    baseline_hypertension = (sbp >= domain.hypertension_sbp) | (dbp >= domain.hypertension_dbp)
    baseline_cms = hb > hb_limit
    latent = rng.normal(0, LATENT_SD, (n, 4))

    child_dogs = plays_dogs & child
    linear = {
        # Age (rising, then levelling off), women, dogs, children playing with dogs, herding, open streams,
        # flies, fox skin (DOMAIN.md risk factors).
        "echinococcosis": 0.05 * np.minimum(age, 45)
        - 0.01 * np.maximum(age - 45, 0)
        + 0.35 * female
        + 0.28 * np.minimum(dogs, 4)
        + 0.3 * plays_dogs
        + 0.7 * child_dogs
        + 0.45 * herder
        + 0.6 * (water == "open_stream")
        + 0.3 * flies
        + 0.35 * fox_skin
        + latent[:, 0],
        # Altitude (stronger after 40), age (accelerating after 55), male sex, salted butter tea (OR 1.33
        # for heavy drinkers), BMI above 25, baseline SBP.
        "hypertension_5y": 0.03 * (age - 45)
        + 0.06 * np.maximum(age - 55, 0)
        + 0.35 * ~female
        + 0.4 * alt_km
        + 0.9 * alt_km * (age >= 40)
        + np.log(domain.butter_tea_hypertension_or) * (tea >= 6)
        + 0.12 * np.maximum(bmi - 25, 0)
        + 0.045 * (sbp - 120)
        + 0.2 * (smoking == "current")
        + latent[:, 1],
        # Haemoglobin close to the limit (little risk far below it), migrants, smoking (worse above 4,500 m),
        # long residence above 4,500 m, men.
        "cms_5y": 1.4 * np.maximum(hb - (hb_limit - 3.0), 0)
        + 1.0 * ~tibetan
        + 0.3 * (smoking == "current")
        + 0.6 * (smoking == "current") * high
        + 0.025 * years_high
        + 0.3 * ~female
        + latent[:, 2],
        # Herd abortion history (OR ~5), worst for those who handle births; raw milk; herding.
        "brucellosis": np.log(domain.brucellosis_abortion_or) * abortion_history
        + 0.4 * births_handling
        + 0.8 * abortion_history * births_handling
        + 0.5 * raw_milk
        + 0.6 * herder
        + latent[:, 3],
    }
    eligible = {
        "echinococcosis": np.ones(n, bool),
        "hypertension_5y": ~baseline_hypertension,
        "cms_5y": ~baseline_cms,
        "brucellosis": np.ones(n, bool),
    }
    targets = {**TARGET_PREVALENCE, "echinococcosis": domain.echinococcosis_prevalence}
    oracle = pd.DataFrame({"patient_id": [f"P{i:05d}" for i in rng.permutation(np.arange(1, n + 1))]})
    outcomes = oracle.copy()
    for condition in CONDITIONS:
        b0 = _calibrate(linear[condition], eligible[condition], float(targets[condition]))  # type: ignore[arg-type]
        p = expit(b0 + linear[condition])
        drawn = (rng.uniform(size=n) < p).astype(float)
        oracle[f"p_{condition}"] = np.where(eligible[condition], p, np.nan)
        outcomes[condition] = pd.array(np.where(eligible[condition], drawn, np.nan), dtype="Int8")

    day = rng.integers(0, 365, n)
    baseline = pd.DataFrame(
        {
            "patient_id": oracle["patient_id"],
            "township_id": g["township_id"],
            "check_date": pd.Timestamp(f"{BASELINE_YEAR}-01-01") + pd.to_timedelta(day, unit="D"),
            "age": age,
            "sex": np.where(female, "female", "male"),
            "ethnicity": np.where(tibetan, "tibetan", "han_or_other"),
            "occupation": occupation,
            "residence_altitude_m": altitude.astype(int),
            "years_above_4500m": years_high.astype(int),
            "dogs_owned": dogs,
            "plays_with_dogs": plays_dogs,
            "water_source": water,
            "flies_on_food": flies,
            "fox_skin": fox_skin,
            "butter_tea_cups_day": tea,
            "smoking": smoking,
            "alcohol": alcohol,
            "handles_livestock_births": births_handling,
            "herd_abortion_history": abortion_history,
            "raw_milk": raw_milk,
            "bmi": bmi,
            "systolic_bp": sbp.astype(int),
            "diastolic_bp": dbp.astype(int),
            "heart_rate": heart_rate.astype(int),
            "spo2_pct": spo2.astype(int),
            "haemoglobin_g_dl": hb,
            "baseline_hypertension": baseline_hypertension,
            "baseline_cms": baseline_cms,
        }
    )
    order = np.argsort(baseline["patient_id"].to_numpy())
    return (
        baseline.iloc[order].reset_index(drop=True),
        outcomes.iloc[order].reset_index(drop=True),
        oracle.iloc[order].reset_index(drop=True),
    )
