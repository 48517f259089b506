"""A catalog extension's category (a declared list) and flag become model inputs, with no code change, and
the trained bundle carries their definitions for the service (issue 13, item 4)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features import build_features, load_county
from features.featureset import FeatureSet
from muzhang.catalog import catalog_for
from muzhang.paths import DATA_SAMPLES
from training.engine import train_family

BYOD = DATA_SAMPLES / "byod"
DIETS = ["pastoral", "mixed", "town"]  # declared order, not alphabetical
EXTENSION = """fields:
  - {name: diet, type: category, categories: [pastoral, mixed, town], nullable: true, tables: [patients],
     families: [disease], display: Diet, display_zh: 饮食}
  - {name: yak_dung_fire, type: boolean, nullable: true, tables: [patients], families: [disease]}
"""


@pytest.fixture(scope="module")
def own_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bring-your-own-data example plus a diet (one value nobody declared) and a flag."""
    folder = tmp_path_factory.mktemp("categories")
    patients = pd.read_csv(BYOD / "patients.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(7)
    patients["diet"] = rng.choice(DIETS, size=len(patients))
    patients.loc[0, "diet"] = "vegan"  # not declared: unknown to the model
    patients.loc[1, "diet"] = ""
    patients["yak_dung_fire"] = rng.choice(["True", "False"], size=len(patients))
    patients.to_csv(folder / "patients.csv", index=False)
    (folder / "patient_outcomes.csv").write_bytes((BYOD / "patient_outcomes.csv").read_bytes())
    (folder / "catalog.yaml").write_text((BYOD / "catalog.yaml").read_text("utf-8") + EXTENSION[len("fields:\n") :])
    return folder


@pytest.fixture(scope="module")
def features(own_dir: Path) -> FeatureSet:
    catalog = catalog_for(own_dir)
    tables = load_county(own_dir, tables=catalog.tables_for("disease"), catalog=catalog)
    return build_features("disease", tables, catalog=catalog)


def test_a_declared_category_is_a_categorical_feature_with_its_declared_list(features: FeatureSet) -> None:
    assert features.features[-3:] == ["glucose_mmol_l", "diet", "yak_dung_fire"]
    assert features.categorical["diet"] == DIETS
    by_person = features.frame.set_index("patient_id")
    assert by_person.loc["P00001", "diet"] is None  # "vegan" was not declared
    assert by_person.loc["P00002", "diet"] is None
    assert set(by_person["diet"].dropna()) == set(DIETS)
    assert set(by_person["yak_dung_fire"].unique()) == {0.0, 1.0}
    assert features.measurements["diet"]["categories"] == DIETS
    assert features.measurements["glucose_mmol_l"]["max"] == 60.0


def test_the_bundle_carries_the_added_fields_it_reads(features: FeatureSet, fast_config: Callable[..., Any]) -> None:
    result = train_family(features, fast_config("disease"))

    bundle = result.bundle
    assert bundle.encoder.vocabularies["diet"] == DIETS
    assert set(bundle.added_fields) == {"glucose_mmol_l", "diet", "yak_dung_fire"}
    assert bundle.added_fields["diet"]["type"] == "category"
    assert bundle.added_fields["yak_dung_fire"]["type"] == "boolean"
    assert bundle.added_fields["glucose_mmol_l"]["unit"] == "mmol/L"

    dropped = train_family(features, fast_config("disease", drop_features=["diet"])).bundle
    assert "diet" not in dropped.added_fields and "glucose_mmol_l" in dropped.added_fields
