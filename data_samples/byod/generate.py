"""Write the bring-your-own-data example: a 200-person health check with a glucose reading, and outcomes.

The tables are in the county's real format (the catalog's ``patients`` and ``patient_outcomes`` columns, as
CSV), plus what a real survey brings: a measurement the catalog does not know (``glucose_mmol_l``, declared
in ``catalog.yaml`` beside the tables), checks from the late 1990s, a heart rate that was never measured
(an empty column), and two real but unusual readings (a BMI of 67.1 and a diastolic pressure of 24 mmHg).
Glucose carries signal: it raises the five-year onset of hypertension. The follow-up also brings a condition
the catalog does not know, ``diabetes_5y`` (diabetes found within five years, driven by glucose), declared with
its horizon in ``catalog.yaml``; it is drawn after every other value, so the other columns are those of the
example without it. Seeded: the same files every time.

    .venv/bin/python data_samples/byod/generate.py [--out data_samples/byod] [--seed 13]

See docs/bring-your-own-data.md for the walkthrough.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

PEOPLE = 200
UNUSUAL = {17: ("bmi", 67.1), 42: ("diastolic_bp", 24)}  # row -> (field, value): real, rare, kept with a warning


def logistic(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def health_check(seed: int, n: int = PEOPLE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The baseline check (one row per person) and the five-year follow-up outcomes."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    sex = rng.choice(["female", "male"], n)
    herder = rng.random(n) < 0.6
    dogs = rng.poisson(1.5, n)
    plays = rng.random(n) < 0.4
    flies = rng.random(n) < 0.5
    births = herder & (rng.random(n) < 0.5)
    abortions = rng.random(n) < 0.25
    raw_milk = rng.random(n) < 0.3
    bmi = np.round(rng.normal(23.5, 3.5, n).clip(15, 40), 1)
    glucose = np.round(np.exp(rng.normal(np.log(5.4) + 0.02 * (bmi - 23.5), 0.22, n)), 1)
    systolic = np.round(105 + 0.35 * age + 0.8 * (bmi - 23.5) + rng.normal(0, 9, n)).astype(int)
    diastolic = np.round(0.55 * systolic + rng.normal(8, 6, n)).astype(int)
    haemoglobin = np.round(rng.normal(np.where(sex == "male", 16.8, 15.2), 1.3), 1)
    altitude = rng.integers(3800, 4900, n)
    patients = pd.DataFrame(
        {
            "patient_id": [f"P{i:05d}" for i in range(1, n + 1)],
            "township_id": rng.choice(["T01", "T02", "T03"], n),
            "check_date": pd.to_datetime("1996-01-01")
            + pd.to_timedelta(rng.integers(0, 4 * 365, n), unit="D"),  # 1996-1999: old data is fine
            "age": age,
            "sex": sex,
            "ethnicity": np.where(rng.random(n) < 0.85, "tibetan", "han_or_other"),
            "occupation": np.where(herder, "herder", np.where(age < 20, "student", "other")),
            "residence_altitude_m": altitude,
            "years_above_4500m": np.minimum(age, rng.integers(0, 40, n) * (altitude > 4500)),
            "dogs_owned": dogs,
            "plays_with_dogs": plays,
            "water_source": rng.choice(["open_stream", "tap", "well"], n, p=[0.3, 0.4, 0.3]),
            "flies_on_food": flies,
            "fox_skin": rng.random(n) < 0.15,
            "butter_tea_cups_day": rng.integers(0, 12, n),
            "smoking": rng.choice(["current", "former", "never"], n, p=[0.3, 0.1, 0.6]),
            "alcohol": rng.random(n) < 0.3,
            "handles_livestock_births": births,
            "herd_abortion_history": abortions,
            "raw_milk": raw_milk,
            "bmi": bmi,
            "systolic_bp": systolic,
            "diastolic_bp": diastolic,
            "heart_rate": np.nan,  # not measured in this survey (declared nullable in catalog.yaml)
            "spo2_pct": rng.integers(84, 97, n),
            "haemoglobin_g_dl": haemoglobin,
            "baseline_hypertension": (systolic >= 140) | (diastolic >= 90),
            "baseline_cms": haemoglobin > np.where(sex == "male", 19.0, 18.0),
            "glucose_mmol_l": glucose,
        }
    )
    patients.loc[rng.choice(n, 6, replace=False), "glucose_mmol_l"] = np.nan  # a few not taken
    for row, (field, value) in UNUSUAL.items():
        patients.loc[row, field] = value

    def draw(z: np.ndarray) -> np.ndarray:
        return (rng.random(n) < logistic(z)).astype(int)

    hypertension = draw(-1.6 + 1.6 * (glucose - 5.4) + 0.05 * (systolic - 125)).astype(float)
    cms = draw(-2.2 + 1.1 * (haemoglobin - 16) + 0.5 * (altitude > 4500)).astype(float)
    outcomes = pd.DataFrame(
        {
            "patient_id": patients["patient_id"],
            "echinococcosis": draw(-2.6 + 0.45 * dogs + 1.1 * plays + 0.7 * flies),
            "hypertension_5y": np.where(patients["baseline_hypertension"], np.nan, hypertension),
            "cms_5y": np.where(patients["baseline_cms"], np.nan, cms),
            "brucellosis": draw(-2.6 + 1.4 * abortions + 1.0 * births + 0.8 * raw_milk),
        }
    )
    # Added last, so every value above is the same as without it (the rng stream is not disturbed).
    outcomes["diabetes_5y"] = draw(-2.2 + 2.2 * (glucose - 5.4) + 0.04 * (bmi - 23.5))
    return patients, outcomes


def write(out: Path, seed: int) -> None:
    patients, outcomes = health_check(seed)
    out.mkdir(parents=True, exist_ok=True)
    patients["check_date"] = patients["check_date"].dt.strftime("%Y-%m-%d")
    patients.to_csv(out / "patients.csv", index=False, lineterminator="\n")
    outcomes.astype({c: "Int64" for c in outcomes.columns if c != "patient_id"}).to_csv(
        out / "patient_outcomes.csv", index=False, lineterminator="\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    write(args.out, args.seed)
    print(f"wrote {args.out / 'patients.csv'} and {args.out / 'patient_outcomes.csv'} (seed {args.seed})")


if __name__ == "__main__":
    main()
