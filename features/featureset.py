"""The one shape every feature family returns."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class FeatureSet:
    """Rows to learn from (or to predict), and what each column is for.

    Attributes:
        family: ``grazing``, ``market``, ``dispute`` or ``disease``.
        frame: keys, time column, features, targets and decision columns; numbers and strings only.
        keys: columns that identify a row (unique together).
        time_col: column to split by time (``None``: split by person).
        features: model inputs, in order.
        categorical: feature -> sorted vocabulary; training encodes values to integer codes.
        targets: what the family predicts (NaN where unknown: forecast rows, not-at-risk people).
        monotone: feature -> +1/-1 where the domain fixes the direction of every target.
        decision_columns: not model inputs, but what turns predictions into decisions (e.g. the area and
            stocking that NY/T 635 capacity and grazing pressure need).
        as_of_col: the last month of data a row's features may use (``None`` for disease).
    """

    family: str
    frame: pd.DataFrame
    keys: list[str]
    time_col: str | None
    features: list[str]
    categorical: dict[str, list[str]] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)
    monotone: dict[str, int] = field(default_factory=dict)
    decision_columns: list[str] = field(default_factory=list)
    as_of_col: str | None = None

    def __post_init__(self) -> None:
        declared = [*self.keys, *self.features, *self.targets, *self.decision_columns]
        declared += [c for c in (self.time_col, self.as_of_col) if c is not None]
        missing = [c for c in dict.fromkeys(declared) if c not in self.frame.columns]
        if missing:
            raise ValueError(f"{self.family}: declared columns missing from the frame: {', '.join(missing)}")
        both = sorted(set(self.features) & set(self.targets))
        if both:
            raise ValueError(f"{self.family}: columns both feature and target: {', '.join(both)}")
        stray = sorted((set(self.categorical) | set(self.monotone)) - set(self.features))
        if stray:
            raise ValueError(f"{self.family}: categorical/monotone entries that are not features: {stray}")
        bad = {k: v for k, v in self.monotone.items() if v not in (-1, 1)}
        if bad:
            raise ValueError(f"{self.family}: monotone directions must be +1 or -1, got {bad}")
        # Numeric features are floats (NaN = unknown), so a model's signature accepts every row alike.
        numeric = [f for f in self.features if f not in self.categorical]
        ints = [f for f in numeric if not pd.api.types.is_float_dtype(self.frame[f])]
        if ints:
            frame = self.frame.copy()
            frame[ints] = frame[ints].astype("float64")
            object.__setattr__(self, "frame", frame)

    def select(self, **equals: Any) -> FeatureSet:
        """The same feature set restricted to rows whose columns equal the given values.

        A value may be a scalar or an iterable of allowed values, e.g.
        ``fs.select(grid_id="G001", month=pd.Timestamp("2024-12-01"))``.
        """
        mask = pd.Series(True, index=self.frame.index)
        for column, value in equals.items():
            if column not in self.frame.columns:
                raise KeyError(f"{self.family}: no column {column!r} to select on")
            many = isinstance(value, Iterable) and not isinstance(value, str)
            mask &= self.frame[column].isin(list(value)) if many else self.frame[column] == value
        return replace(self, frame=self.frame[mask].reset_index(drop=True))


def vocabulary(values: pd.Series, known: Iterable[str] = ()) -> list[str]:
    """Sorted vocabulary of a categorical column: the known values plus any others present."""
    return sorted(set(known) | {str(v) for v in values.dropna().unique()})


def ordered_columns(*groups: Iterable[str]) -> list[str]:
    """Column names from several lists, first occurrence kept (a key may also be a feature)."""
    return list(dict.fromkeys(c for group in groups for c in group))
