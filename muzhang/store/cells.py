"""Small pure helpers on single values and frames that the store's modules share."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd


def month_start(value: str | date | pd.Timestamp) -> date:
    """The first day of the month ``value`` falls in."""
    stamp = pd.Timestamp(value)
    return date(stamp.year, stamp.month, 1)


def now_utc() -> datetime:
    """Now, timezone-aware (UTC)."""
    return datetime.now(UTC)


def first_line(exc: BaseException) -> str:
    """The first line of a database error's message (the driver's, where SQLAlchemy wraps one)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def given_or_none(value: Any) -> Any:
    """A cell's value, or None when it is empty (None, NaN, NA, NaT or blank text)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, list | dict | tuple) and pd.isna(value):
        return None
    return value


def aware_datetime(value: Any) -> datetime:
    """A timestamp as a timezone-aware datetime (a naive one is taken as UTC)."""
    stamp = pd.Timestamp(value)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).to_pydatetime()


def plain_value(value: Any) -> Any:
    """A numpy scalar as the Python value it holds; anything else as it is."""
    return value.item() if isinstance(value, np.generic) else value


def same_value(a: Any, b: Any) -> bool:
    """Two stored values are the same (None equals only None)."""
    if a is None or b is None:
        return a is None and b is None
    return bool(a == b)


def typed_frame(frame: pd.DataFrame, *, dates: Sequence[str] = (), stamps: Sequence[str] = ()) -> pd.DataFrame:
    """``frame`` with ``dates`` as datetime64[us] columns and ``stamps`` as UTC timestamps (in place)."""
    for column in dates:
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    for column in stamps:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
