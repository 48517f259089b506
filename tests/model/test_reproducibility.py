"""The seed decides everything random: same seed, same model and metrics; other seed, other person split."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from features import FeatureSet
from training.engine import train_family
from training.families import plan_for
from training.splits import Split


def split_with_seed(fs: FeatureSet, fast_config: Any, seed: int) -> Split:
    return plan_for(fs.family).split(fs, fast_config(fs.family, seed=seed))


@pytest.mark.parametrize("family", ["grazing", "dispute"])
def test_train_family_twice_with_same_seed_gives_identical_test_metrics(
    tiny_feature_sets: dict[str, FeatureSet], fast_config: Any, family: str
) -> None:
    fs, cfg = tiny_feature_sets[family], fast_config(family)

    first, second = train_family(fs, cfg), train_family(fs, cfg)

    assert first.metrics == second.metrics
    assert first.baselines == second.baselines
    pd.testing.assert_frame_equal(first.test_preds, second.test_preds, check_exact=True)


def test_disease_split_with_same_seed_is_identical(tiny_feature_sets: dict[str, FeatureSet], fast_config: Any) -> None:
    fs = tiny_feature_sets["disease"]

    first, second = split_with_seed(fs, fast_config, 3), split_with_seed(fs, fast_config, 3)

    np.testing.assert_array_equal(first.train, second.train)
    np.testing.assert_array_equal(first.valid, second.valid)
    np.testing.assert_array_equal(first.test, second.test)


def test_disease_split_with_different_seed_puts_other_people_in_test(
    tiny_feature_sets: dict[str, FeatureSet], fast_config: Any
) -> None:
    fs = tiny_feature_sets["disease"]

    first, other = split_with_seed(fs, fast_config, 3), split_with_seed(fs, fast_config, 4)

    assert len(first.test) == len(other.test)
    overlap = len(np.intersect1d(first.test, other.test)) / len(first.test)
    assert overlap < 0.5, f"{overlap:.0%} of the test people are the same under another seed"


def test_time_split_does_not_depend_on_the_seed(tiny_feature_sets: dict[str, FeatureSet], fast_config: Any) -> None:
    """Forecasting families hold out the last months whatever the seed: the test year is the future."""
    fs = tiny_feature_sets["dispute"]

    first, other = split_with_seed(fs, fast_config, 3), split_with_seed(fs, fast_config, 4)

    np.testing.assert_array_equal(first.test, other.test)
    assert fs.frame["month"].iloc[first.test].min() > fs.frame["month"].iloc[first.train].max()
