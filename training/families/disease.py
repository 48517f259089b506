"""Disease risk: one calibrated probability per condition, split by person (stratified)."""

from __future__ import annotations

import pandas as pd

from features import FeatureSet, monotone_for_condition
from training.baselines import logistic_probabilities
from training.config import ExperimentConfig
from training.families.base import Family, TaskPlan
from training.splits import Split, rows_in_file, split_by_person, split_people_around_test_rows


class DiseaseFamily(Family):
    name = "disease"

    def tasks(self, fs: FeatureSet, cfg: ExperimentConfig) -> list[TaskPlan]:
        # Each condition gets the risk directions DOMAIN.md publishes for it.
        return [TaskPlan(t, t, "binary", unit="probability", monotone=monotone_for_condition(t)) for t in fs.targets]

    def split(self, fs: FeatureSet, cfg: ExperimentConfig) -> Split:
        # Stratify on how many conditions a person has, so rare outcomes land in every slice.
        strata = fs.frame[fs.targets].fillna(0).astype(int).sum(axis=1).clip(upper=2)
        if cfg.split.test_from is not None:
            raise ValueError("disease is split by person, not by time: hold people out with a test file instead")
        if cfg.split.test_file is not None:
            is_test = rows_in_file(fs.frame, fs.keys, cfg.split.test_file)
            return split_people_around_test_rows(strata, is_test, cfg.split.valid_share, cfg.seed)
        return split_by_person(strata, cfg.split.valid_share, cfg.split.test_share, cfg.seed)

    def baselines(
        self, fs: FeatureSet, split: Split, cfg: ExperimentConfig, features: list[str]
    ) -> dict[str, pd.DataFrame]:
        train, test = fs.frame.iloc[split.train], fs.frame.iloc[split.test]
        categorical = [f for f in features if f in fs.categorical]
        preds = {}
        for condition in fs.targets:
            at_risk = train[condition].notna()
            preds[f"p_{condition}"] = logistic_probabilities(
                train[at_risk], test, condition, features, categorical, cfg.seed
            )
        return {"logistic": pd.DataFrame(preds)}

    def oracle(self, fs: FeatureSet, split: Split, oracle: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
        table = oracle.get("patient_oracle")
        if table is None:
            return None
        test = fs.frame.iloc[split.test][["patient_id"]]
        return test.merge(table, on="patient_id", how="left").drop(columns="patient_id").reset_index(drop=True)
