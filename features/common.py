"""Time-correct helpers written once for the four builders: months, panels, past windows, calendars.

The one rule: a feature computed on the row of month ``t`` (the *decision month*) uses data up to
``t - 1`` only. Each family picks its decision month: a dispute row for month ``t`` is decided at ``t``;
a market forecast made at the end of origin ``t0`` is decided at ``t0 + 1``; a grazing season starting at
``s`` is decided at ``s``. Every window helper shifts by one month within its group before it looks back,
so the current row's own value never enters its features.

Months are handled as integers (months since 1970-01, column ``month_n``) so shifting and joining are
plain arithmetic. Panels must be *complete*: one row per group and month, sorted by group then month
(:func:`complete_panel` makes them so), which is what lets a positional shift mean "one month earlier".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from muzhang.calendar import festival_dates

MONTH_DTYPE = "datetime64[us]"  # the resolution the county tables are stored with
EPOCH_YEAR = 1970

IntArray = npt.NDArray[np.int64]


def month_number(months: pd.Series | pd.DatetimeIndex | npt.ArrayLike) -> IntArray:
    """Months since 1970-01 (the day of the month is ignored)."""
    return np.asarray(np.asarray(months, dtype="datetime64[M]").astype(np.int64), dtype=np.int64)


def month_timestamp(numbers: npt.ArrayLike) -> npt.NDArray[np.datetime64]:
    """First day of each month given as months since 1970-01."""
    return np.asarray(numbers, dtype=np.int64).astype("datetime64[M]").astype(MONTH_DTYPE)


def month_of_year(numbers: npt.ArrayLike) -> IntArray:
    """Calendar month 1-12 of months given as months since 1970-01."""
    return np.asarray(np.asarray(numbers, dtype=np.int64) % 12 + 1, dtype=np.int64)


def calendar_year(numbers: npt.ArrayLike) -> IntArray:
    """Calendar year of months given as months since 1970-01."""
    return np.asarray(np.asarray(numbers, dtype=np.int64) // 12 + EPOCH_YEAR, dtype=np.int64)


def complete_panel(frame: pd.DataFrame, by: list[str], *, extra_months: int = 0) -> pd.DataFrame:
    """One row per group and month, sorted by group then month, with an integer ``month_n`` column.

    Months run from the frame's first to its last month plus ``extra_months`` (rows for months the
    data has not reached yet, all values NaN: the decision rows of a forecast). Missing months become NaN
    rows too, so a positional shift within a group always means one calendar month.
    """
    numbers = month_number(frame["month"])
    months = pd.DataFrame({"month_n": np.arange(numbers.min(), numbers.max() + extra_months + 1)})
    groups = frame[by].drop_duplicates().sort_values(by)
    panel = groups.merge(months, how="cross")
    values = frame.drop(columns="month").assign(month_n=numbers)
    panel = panel.merge(values, on=[*by, "month_n"], how="left", validate="one_to_one")
    panel.insert(len(by), "month", month_timestamp(panel["month_n"]))
    return panel


Agg = Literal["lag", "sum", "mean", "since"]


@dataclass(frozen=True)
class Past:
    """One look back from the decision month: the value ``window`` months ago (``lag``), the sum or
    mean over the last ``window`` months (NaN unless all of them are known), or the months since the
    column was last positive (``since``; NaN if never within the data)."""

    column: str
    how: Agg
    window: int = 1
    name: str = ""

    @property
    def output(self) -> str:
        """The feature's column name."""
        if self.name:
            return self.name
        return f"months_since_{self.column}" if self.how == "since" else f"{self.column}_{self.how}{self.window}"


def _groupers(frame: pd.DataFrame, by: Sequence[str]) -> list[pd.Series]:
    return [frame[c] for c in by]


def lag_within(frame: pd.DataFrame, by: list[str], column: str, k: int = 1) -> pd.Series:
    """Value of ``column`` ``k >= 1`` rows earlier in the same group (rows in time order)."""
    if k < 1:
        raise ValueError(f"a lag must look back at least one step, got {k}")
    return frame.groupby(by, sort=False)[column].shift(k)


def rolling_within(frame: pd.DataFrame, by: list[str], column: str, window: int, how: str = "sum") -> pd.Series:
    """Sum or mean of ``column`` over the ``window`` rows before each row in its group (never the row).

    Shifts by one within the group, then rolls; NaN unless all ``window`` earlier values are known.
    """
    shifted = lag_within(frame, by, column, 1)
    rolled = shifted.groupby(_groupers(frame, by), sort=False).rolling(window, min_periods=window)
    out = rolled.sum() if how == "sum" else rolled.mean()
    return out.droplevel(list(range(len(by)))).reindex(frame.index)


def months_since_event(frame: pd.DataFrame, by: list[str], column: str) -> pd.Series:
    """Months between each row's month and the last earlier month where ``column`` was positive."""
    event_month = frame["month_n"].where(frame[column] > 0)
    last = event_month.groupby(_groupers(frame, by), sort=False).ffill()
    last = last.groupby(_groupers(frame, by), sort=False).shift(1)
    return frame["month_n"] - last


def past_features(panel: pd.DataFrame, by: list[str], specs: Sequence[Past]) -> pd.DataFrame:
    """Compute every look back in ``specs`` on a complete panel; one column per spec, aligned to it."""
    out: dict[str, pd.Series] = {}
    for spec in specs:
        if spec.how == "lag":
            out[spec.output] = lag_within(panel, by, spec.column, spec.window)
        elif spec.how == "since":
            out[spec.output] = months_since_event(panel, by, spec.column)
        else:
            out[spec.output] = rolling_within(panel, by, spec.column, spec.window, spec.how)
    return pd.DataFrame(out, index=panel.index)


def expanding_mean_within(frame: pd.DataFrame, by: list[str], column: str, lag: int = 1) -> pd.Series:
    """Mean of ``column`` over the group's rows at least ``lag`` rows earlier (time order); NaN if none."""
    prev = lag_within(frame, by, column, lag)
    keys = _groupers(frame, by)
    total = prev.fillna(0.0).groupby(keys, sort=False).cumsum()
    count = prev.notna().astype(float).groupby(keys, sort=False).cumsum()
    return total / count.where(count > 0)


def anomaly_vs_past_years(panel: pd.DataFrame, by: list[str], column: str) -> pd.Series:
    """``column`` relative to its mean in the same calendar month of earlier years, minus 1 (0 = normal).

    Meant for columns that are already past-only (e.g. a past window): the normal is built from earlier
    years of that column, so it never sees a later month either.
    """
    keyed = panel.assign(_moy=month_of_year(panel["month_n"]))
    normal = expanding_mean_within(keyed, [*by, "_moy"], column)
    return panel[column] / normal.where(normal > 0) - 1.0


def last_season_total(
    panel: pd.DataFrame, by: list[str], column: str, months: Sequence[int], *, to_date: bool
) -> pd.Series:
    """Total of ``column`` over the most recent run of ``months`` (a season, may cross the new year)
    before each row's month.

    With ``to_date`` a season in progress counts what it has so far; without, only a finished season
    counts (its total is carried forward until the next one ends).
    """
    n = panel["month_n"].to_numpy()
    moy = month_of_year(n)
    inside = np.isin(moy, months)
    first = months[0]
    season_id = calendar_year(n) - (moy < first)  # a season crossing the new year keeps its start year
    keys = [*_groupers(panel, by), pd.Series(season_id, index=panel.index)]
    running = panel[column].where(inside).groupby(keys, sort=False).cumsum()
    counted = panel[column].where(inside).notna().groupby(keys, sort=False).cumsum()
    value = running.where(inside) if to_date else running.where((moy == months[-1]) & (counted == len(months)))
    carried = value.groupby(_groupers(panel, by), sort=False).ffill()
    return carried.groupby(_groupers(panel, by), sort=False).shift(1)


def calendar_features(month_n: npt.ArrayLike, prefix: str = "") -> pd.DataFrame:
    """Month of year and festival flags for months given as months since 1970-01.

    ``losar_month`` / ``spring_festival_month``: the festival falls in that month. ``festival_window``:
    a festival falls in that month or the next (the pre-festival demand window). Flags are NaN for months
    the shipped festival table does not cover.
    """
    n = np.asarray(month_n, dtype=np.int64)
    table = festival_dates()
    losar = set(month_number(table["losar"]).tolist())
    spring = set(month_number(table["spring_festival"]).tolist())
    covered = np.isin(calendar_year(n), table["year"].to_numpy()) & np.isin(
        calendar_year(n + 1), table["year"].to_numpy()
    )
    flags = {
        "losar_month": np.isin(n, list(losar)),
        "spring_festival_month": np.isin(n, list(spring)),
        "festival_window": np.isin(n, list(losar | spring)) | np.isin(n + 1, list(losar | spring)),
    }
    out = pd.DataFrame({f"{prefix}month_of_year": month_of_year(n)})
    for name, flag in flags.items():
        values = flag.astype(np.int64)
        out[f"{prefix}{name}"] = values if covered.all() else np.where(covered, values.astype(float), np.nan)
    return out


def as_flag(values: pd.Series) -> pd.Series:
    """Booleans as 0/1 integers (float with NaN where unknown)."""
    if values.isna().any():
        return values.map({True: 1.0, False: 0.0}).astype(float)
    return values.astype(bool).astype(np.int64)
