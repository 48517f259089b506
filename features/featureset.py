"""The one shape every feature family returns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from muzhang.catalog import Catalog, FieldSpec


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
        measurements: feature -> the catalog definition (``FieldSpec`` as JSON) of each field a catalog
            extension added as a feature (:func:`add_measurements`): the trained bundle carries them, so the
            service knows, validates and explains the measurement for that model.
        outcomes: target -> its catalog definition (``FieldSpec`` as JSON) where the catalog defines the
            targets (disease conditions: display names, ``horizon_years``, ``known_at_check``).
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
    measurements: dict[str, dict[str, Any]] = field(default_factory=dict)
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)

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


MEASUREMENT_TYPES = ("integer", "float", "boolean", "category")


def declared_measurements(catalog: Catalog, family: str) -> list[FieldSpec]:
    """The fields a catalog extension added for ``family`` (a data scientist's own measurements, e.g.
    ``glucose_mmol_l``, or a declared category list): passed through to the model, with no code change.
    Numbers and flags as numbers (a flag 1.0 / 0.0), a category by its declared list."""
    return [f for f in catalog.added_fields() if family in f.families and f.type in MEASUREMENT_TYPES]


def measurement_values(spec: FieldSpec, values: pd.Series) -> pd.Series:
    """A table's column as the model reads it: floats for numbers and flags (NaN: none), strings for a
    category (a value not in the declared list is unknown, as the encoder would make it)."""
    if spec.type == "category":
        known = set(spec.categories or ())
        return values.map(lambda v: str(v) if v is not None and not pd.isna(v) and str(v) in known else None)
    if spec.type == "boolean":
        words = {"true": 1.0, "1": 1.0, "1.0": 1.0, "false": 0.0, "0": 0.0, "0.0": 0.0}
        return values.map(lambda v: np.nan if v is None or pd.isna(v) else words.get(str(v).strip().lower(), np.nan))
    return pd.to_numeric(values, errors="coerce").astype("float64")


def add_measurements(fs: FeatureSet, tables: Mapping[str, pd.DataFrame], catalog: Catalog) -> FeatureSet:
    """``fs`` with every declared measurement of its family joined on as a feature (NaN where a row has none).

    A measurement is joined from the first of its tables whose primary key the family's rows carry (the
    health check's ``patient_id``, a grid's ``grid_id``...). A monthly table's value (``month`` in its key,
    e.g. a grid-month's) is the one of the row's ``as_of_col`` month, the last month its features may use:
    a dispute row for month t reads month t - 1, as its other features do, never the month it forecasts.

    Raises:
        ValueError: naming the field, its tables and the family when no table can be joined to the rows.
    """
    frame, added, specs = fs.frame, [], []
    for spec in declared_measurements(catalog, fs.family):
        if spec.name in frame.columns:
            continue
        for table in spec.tables:
            key = list(catalog.table(table).primary_key)
            as_of = fs.as_of_col if "month" in key else None
            on = [as_of if k == "month" and as_of else k for k in key]
            source = tables.get(table)
            if source is None or spec.name not in source.columns or not set(on) <= set(frame.columns):
                continue
            values = source[[*key, spec.name]].copy()
            values[spec.name] = measurement_values(spec, values[spec.name])
            if as_of:  # the same month resolution on both sides
                values = values.rename(columns={"month": as_of})
                values[as_of] = pd.to_datetime(values[as_of]).astype("datetime64[ns]")
                frame = frame.assign(**{as_of: pd.to_datetime(frame[as_of]).astype("datetime64[ns]")})
            frame = frame.merge(values, on=on, how="left", validate="many_to_one")
            added.append(spec.name)
            specs.append(spec)
            break
        else:
            raise ValueError(
                f"{fs.family}: measurement {spec.name} (tables {', '.join(spec.tables)}) cannot be joined to the "
                f"family's rows: no such table in the data with the column, or the rows lack its key"
            )
    if not added:
        return fs
    categorical = {s.name: list(s.categories or ()) for s in specs if s.type == "category"}
    return replace(
        fs,
        frame=frame,
        features=[*fs.features, *added],
        categorical={**fs.categorical, **categorical},
        measurements={**fs.measurements, **{s.name: s.model_dump(mode="json", exclude_none=True) for s in specs}},
    )


def all_missing(frame: pd.DataFrame, features: Iterable[str], rows: np.ndarray) -> list[str]:
    """The features with no value at all in ``rows`` (e.g. the training rows): nothing to learn from."""
    part = frame.iloc[rows]
    return [f for f in features if len(part) and not part[f].notna().any()]
