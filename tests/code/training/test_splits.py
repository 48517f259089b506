"""Unit tests of training/splits.py: time splits for the forecasting families, person splits for disease."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.splits import Split, split_by_person, split_by_time


def shuffled_months(first: str, months: int, per_month: int, seed: int = 0) -> pd.Series:
    """``per_month`` rows (on different days) for each of ``months`` months, in a shuffled order."""
    starts = pd.date_range(first, periods=months, freq="MS")
    days = [start + pd.Timedelta(days=d) for start in starts for d in range(per_month)]
    order = np.random.default_rng(seed).permutation(len(days))
    return pd.Series([days[i] for i in order], index=[f"row{i}" for i in range(len(days))])


def assert_partition(split: Split, n: int) -> None:
    """The three slices are sorted, disjoint and together every row once."""
    for part in (split.train, split.valid, split.test):
        assert np.all(np.diff(part) > 0)
    joined = np.concatenate([split.train, split.valid, split.test])
    assert len(joined) == n
    np.testing.assert_array_equal(np.sort(joined), np.arange(n))


def months_of(times: pd.Series, positions: np.ndarray) -> list[str]:
    return sorted({str(p) for p in times.iloc[positions].dt.to_period("M")})


def test_time_split_gives_the_last_months_to_test_and_the_ones_before_to_validation() -> None:
    times = shuffled_months("2019-01-01", months=12, per_month=3)
    split = split_by_time(times, valid_months=2, test_months=3)
    assert_partition(split, len(times))
    assert split.sizes() == {"train": 21, "valid": 6, "test": 9}
    assert months_of(times, split.test) == ["2019-10", "2019-11", "2019-12"]
    assert months_of(times, split.valid) == ["2019-08", "2019-09"]
    assert months_of(times, split.train) == [f"2019-{m:02d}" for m in range(1, 8)]
    # every training row comes before every validation row, and those before every test row
    assert times.iloc[split.train].max() < times.iloc[split.valid].min()
    assert times.iloc[split.valid].max() < times.iloc[split.test].min()


def test_time_split_returns_positions_not_index_labels() -> None:
    times = shuffled_months("2020-01-01", months=4, per_month=1, seed=5)
    split = split_by_time(times, valid_months=1, test_months=1)
    assert split.test.dtype.kind == "i"
    assert times.iloc[split.test].dt.strftime("%Y-%m").tolist() == ["2020-04"]
    assert times.iloc[split.valid].dt.strftime("%Y-%m").tolist() == ["2020-03"]


def test_time_split_accepts_date_strings_and_crosses_years() -> None:
    times = pd.Series(["2018-11-30", "2018-12-01", "2019-01-15", "2019-02-28", "2019-02-01"])
    split = split_by_time(times, valid_months=1, test_months=2)
    np.testing.assert_array_equal(split.train, [0])
    np.testing.assert_array_equal(split.valid, [1])
    np.testing.assert_array_equal(split.test, [2, 3, 4])


@pytest.mark.parametrize(("valid_months", "test_months"), [(2, 3), (1, 4), (5, 1)])
def test_time_split_raises_clearly_when_no_month_is_left_to_train_on(valid_months: int, test_months: int) -> None:
    times = shuffled_months("2019-01-01", months=5, per_month=2)
    with pytest.raises(ValueError, match=r"time split needs data before \d{4}-\d{2}: got \{'train': 0, ") as err:
        split_by_time(times, valid_months=valid_months, test_months=test_months)
    assert "from 2019-01 to 2019-05" in str(err.value)


def test_time_split_raises_when_the_validation_window_is_empty() -> None:
    # a gap: nothing in the two months before the test month
    times = pd.Series(pd.to_datetime(["2019-01-01", "2019-02-01", "2019-05-01"]))
    with pytest.raises(ValueError, match="'valid': 0"):
        split_by_time(times, valid_months=2, test_months=1)


def people(counts: dict[int, int], seed: int = 0) -> pd.Series:
    """One stratum value per person, shuffled, with a non-positional index."""
    values = np.concatenate([np.full(n, s) for s, n in counts.items()])
    values = np.random.default_rng(seed).permutation(values)
    return pd.Series(values, index=np.arange(len(values)) * 7 + 1000)


def test_person_split_keeps_each_stratum_share_in_every_slice() -> None:
    strata = people({0: 800, 1: 160, 2: 40})  # 80 %, 16 %, 4 %
    split = split_by_person(strata, valid_share=0.15, test_share=0.2, seed=11)
    assert_partition(split, len(strata))
    assert split.sizes() == {"train": 650, "valid": 150, "test": 200}

    def counts(pos: np.ndarray) -> dict[int, int]:
        return {int(k): int(v) for k, v in strata.iloc[pos].value_counts().sort_index().items()}

    assert counts(split.test) == {0: 160, 1: 32, 2: 8}
    assert counts(split.valid) == {0: 120, 1: 24, 2: 6}
    assert counts(split.train) == {0: 520, 1: 104, 2: 26}


def test_person_split_is_seeded() -> None:
    strata = people({0: 90, 1: 30})
    a = split_by_person(strata, valid_share=0.2, test_share=0.2, seed=1)
    b = split_by_person(strata, valid_share=0.2, test_share=0.2, seed=1)
    c = split_by_person(strata, valid_share=0.2, test_share=0.2, seed=2)
    for part in ("train", "valid", "test"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    assert not np.array_equal(a.test, c.test)


def test_person_split_refuses_a_stratum_of_one() -> None:
    strata = people({0: 50, 1: 1})
    with pytest.raises(ValueError, match="least populated class"):
        split_by_person(strata, valid_share=0.2, test_share=0.2, seed=0)
