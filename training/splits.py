"""Held-out rows: by time for the families that forecast, by person (stratified) for disease."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split


@dataclass(frozen=True)
class Split:
    """Positional row indices of the train, validation and test slices."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


def split_by_time(times: pd.Series, valid_months: int, test_months: int) -> Split:
    """Test = the last ``test_months`` months present, validation = the months before, train = the rest."""
    period = pd.to_datetime(times).dt.to_period("M")
    last = period.max()
    test_start = last - (test_months - 1)
    valid_start = test_start - valid_months
    pos = np.arange(len(times))
    is_test = (period >= test_start).to_numpy()
    is_valid = ((period >= valid_start) & (period < test_start)).to_numpy()
    split = Split(pos[~is_test & ~is_valid], pos[is_valid], pos[is_test])
    if min(len(split.train), len(split.valid), len(split.test)) == 0:
        raise ValueError(
            f"time split needs data before {valid_start}: got {split.sizes()} rows from {period.min()} to {last}"
        )
    return split


def split_by_person(strata: pd.Series, valid_share: float, test_share: float, seed: int) -> Split:
    """Stratified random split of people (each row is one person)."""
    pos = np.arange(len(strata))
    rest, test = train_test_split(pos, test_size=test_share, random_state=seed, stratify=strata)
    train, valid = train_test_split(
        rest, test_size=valid_share / (1 - test_share), random_state=seed, stratify=strata.iloc[rest]
    )
    return Split(np.sort(train), np.sort(valid), np.sort(test))
