"""Held-out rows: by time for the families that forecast, by person (stratified) for disease."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def split_at_months(period: pd.Series, test_start: pd.Period, valid_start: pd.Period) -> Split:
    """Rows from ``test_start`` on are test, from ``valid_start`` to before it validation, the rest train."""
    pos = np.arange(len(period))
    is_test = (period >= test_start).to_numpy()
    is_valid = ((period >= valid_start) & (period < test_start)).to_numpy()
    return Split(pos[~is_test & ~is_valid], pos[is_valid], pos[is_test])


def split_by_time(times: pd.Series, valid_months: int, test_months: int) -> Split:
    """Test = the last ``test_months`` months present, validation = the months before, train = the rest."""
    period = pd.to_datetime(times).dt.to_period("M")
    last = period.max()
    test_start = last - (test_months - 1)
    valid_start = test_start - valid_months
    split = split_at_months(period, test_start, valid_start)
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


def split_from_month(times: pd.Series, test_from: Any, valid_months: int) -> Split:
    """A chosen test start: test = every row in or after ``test_from``'s month, validation = the
    ``valid_months`` months before it, train = the rest (all before validation).

    Raises:
        ValueError: no row in or after ``test_from``, or none left for validation or training.
    """
    period = pd.to_datetime(times).dt.to_period("M")
    test_start = pd.Timestamp(test_from).to_period("M")
    valid_start = test_start - valid_months
    split = split_at_months(period, test_start, valid_start)
    if min(len(split.train), len(split.valid), len(split.test)) == 0:
        raise ValueError(
            f"test from {test_start} (validation from {valid_start}) leaves an empty slice: got {split.sizes()} "
            f"rows from {period.min()} to {period.max()}; choose a test start after {period.min() + valid_months} "
            f"and not after {period.max()}"
        )
    return split


def split_around_test_rows(times: pd.Series, is_test: np.ndarray, valid_months: int) -> Split:
    """Chosen test rows (a time family): validation = the other rows of the ``valid_months`` months before
    the first test month, train = the rows before those. Other rows in or after the first test month are
    left out, so no training or validation row comes after a test row's month.

    Raises:
        ValueError: no test row, or no row left for validation or training.
    """
    period = pd.to_datetime(times).dt.to_period("M")
    is_test = np.asarray(is_test, dtype=bool)
    if not is_test.any():
        raise ValueError("the test file selects no row")
    test_start = period[is_test].min()
    valid_start = test_start - valid_months
    pos = np.arange(len(times))
    before = (period < test_start).to_numpy()
    is_valid = before & (period >= valid_start).to_numpy()
    split = Split(pos[before & ~is_valid], pos[is_valid], pos[is_test])
    if min(len(split.train), len(split.valid)) == 0:
        raise ValueError(
            f"the test file's first month is {test_start}: validation from {valid_start} leaves an empty slice, "
            f"got {split.sizes()} rows from {period.min()} to {period.max()}"
        )
    return split


def split_people_around_test_rows(strata: pd.Series, is_test: np.ndarray, valid_share: float, seed: int) -> Split:
    """Chosen test people: the others split into train and validation, stratified (``valid_share`` of them)."""
    is_test = np.asarray(is_test, dtype=bool)
    if not is_test.any():
        raise ValueError("the test file selects no row")
    rest = np.flatnonzero(~is_test)
    train, valid = train_test_split(rest, test_size=valid_share, random_state=seed, stratify=strata.iloc[rest])
    return Split(np.sort(train), np.sort(valid), np.flatnonzero(is_test))


def rows_in_file(frame: pd.DataFrame, keys: list[str], path: Path) -> np.ndarray:
    """Which rows of ``frame`` a CSV of key columns names (a boolean mask).

    Raises:
        ValueError: the file cannot be read, lacks a key column, holds a value that does not parse, names a row
            twice or a row the frame does not have (each naming the file's row, field and value).
    """
    try:
        chosen = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"test file {path}: cannot be read as CSV: {exc}") from exc
    missing = [k for k in keys if k not in chosen.columns]
    if missing:
        raise ValueError(
            f"test file {path}: lacks the key column(s) {', '.join(missing)}; a row is named by {', '.join(keys)}"
        )
    if chosen.empty:
        raise ValueError(f"test file {path}: holds no row")
    left = pd.DataFrame(index=frame.index)
    right = pd.DataFrame(index=chosen.index)
    for key in keys:
        left[key], right[key] = _comparable(frame[key], chosen[key], key, path)
    twice = right.duplicated(keep="first")
    if twice.any():
        row = int(np.flatnonzero(twice.to_numpy())[0])
        raise ValueError(
            f"test file {path}: row {row + 1} names the same row as an earlier one ({_named(chosen, keys, row)})"
        )
    index = pd.MultiIndex.from_frame(left)
    wanted = pd.MultiIndex.from_frame(right)
    unknown = ~wanted.isin(index)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise ValueError(
            f"test file {path}: row {row + 1} ({_named(chosen, keys, row)}) is no row of the training data "
            f"({int(unknown.sum())} such rows)"
        )
    return np.asarray(index.isin(wanted), dtype=bool)


def _named(chosen: pd.DataFrame, keys: list[str], row: int) -> str:
    return ", ".join(f"{k}={chosen[k].iloc[row]!r}" for k in keys)


def _comparable(column: pd.Series, values: pd.Series, key: str, path: Path) -> tuple[pd.Series, pd.Series]:
    """The frame's key column and the file's text as values that compare (dates, numbers or text)."""
    ours: pd.Series
    parsed: pd.Series
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
        kind = "a date (YYYY-MM-DD)"
        ours = pd.to_datetime(column)
    elif pd.api.types.is_numeric_dtype(column):
        parsed = pd.to_numeric(values, errors="coerce").astype(float)
        kind = "a number"
        ours = pd.to_numeric(column).astype(float)
    else:
        return column.astype(str), values.astype(str)
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"test file {path}: row {row + 1}, field {key}: {values.iloc[row]!r} is not {kind}")
    return ours, parsed
