"""Completeness and timeliness of a month's reports, as DHIS2 reports them: expected, received, on time, late.

Expected = every grid area of the county for the month. Received = the grid has a report for the month in
the store (a report that arrived, or a history import). On time = its first accepted submission arrived
within ``on_time_days`` after the month ended (DHIS2's data set setting, commonly 15); reports imported as
history have no arrival time and count as received, timeliness unknown. Pure pandas; no HTTP, no store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

LEVELS = ("grid_id", "township_id", "village_id")
UNASSIGNED = "unassigned"  # a grid no reporter key names and no one has reported yet


@dataclass(frozen=True)
class MonthQuality:
    """One month's reporting rates per level, the grids still missing, and the open follow-up list."""

    month: pd.Timestamp
    by_level: dict[str, pd.DataFrame]  # level -> expected, received, on_time, late, unknown_time, rates
    missing: pd.DataFrame  # grid_id, township_id, village_id of grids without a report
    late: pd.DataFrame  # grid_id, received_at of reports received after the deadline


def month_quality(
    month: pd.Timestamp,
    grids: pd.DataFrame,
    reported: pd.DataFrame,
    submissions: pd.DataFrame,
    *,
    on_time_days: int = 15,
    chiefs: pd.DataFrame | None = None,
) -> MonthQuality:
    """Reporting rates of ``month``.

    Args:
        month: first day of the month.
        grids: the county's grid areas (grid_id, township_id, village_id).
        reported: grid-month rows present in the store (grid_id, month).
        submissions: accepted submissions (submission_id, grid_id, month, received_at, status).
        on_time_days: days after the month's end a report still counts as on time.
        chiefs: grid_id -> chief (:func:`grid_chiefs`); with it, ``by_level`` also has ``chief``.
    """
    month = pd.Timestamp(month).to_period("M").to_timestamp()
    deadline = month + pd.offsets.MonthBegin(1) + pd.Timedelta(days=on_time_days)
    frame = grids[list(LEVELS)].drop_duplicates("grid_id").copy()
    levels: tuple[str, ...] = (*LEVELS, "county")
    if chiefs is not None:
        by_grid = dict(zip(chiefs["grid_id"].astype(str), chiefs["chief"].astype(str), strict=True))
        frame["chief"] = [by_grid.get(str(g), UNASSIGNED) for g in frame["grid_id"]]
        levels = (*levels, "chief")
    months = pd.to_datetime(reported["month"]) if len(reported) else pd.Series(dtype="datetime64[ns]")
    received_ids = set(reported.loc[months == month, "grid_id"].astype(str)) if len(reported) else set()
    frame["received"] = frame["grid_id"].astype(str).isin(received_ids)
    first = _first_arrivals(submissions, month)
    frame = frame.merge(first, on="grid_id", how="left")
    arrived = frame["received_at"].notna()
    deadline_utc = deadline.tz_localize("UTC")
    frame["on_time"] = frame["received"] & arrived & (frame["received_at"] <= deadline_utc)
    frame["late"] = frame["received"] & arrived & (frame["received_at"] > deadline_utc)
    frame["unknown_time"] = frame["received"] & ~arrived
    by_level = {level: _rates(frame, level) for level in levels}
    missing = frame.loc[~frame["received"], list(LEVELS)].reset_index(drop=True)
    late = frame.loc[frame["late"], ["grid_id", "received_at"]].reset_index(drop=True)
    return MonthQuality(month, by_level, missing, late)


def _first_arrivals(submissions: pd.DataFrame, month: pd.Timestamp) -> pd.DataFrame:
    if submissions is None or submissions.empty:
        return pd.DataFrame({"grid_id": pd.Series(dtype=str), "received_at": pd.Series(dtype="datetime64[ns, UTC]")})
    subs = submissions[submissions["status"].isin(["accepted", "partial"])].copy()
    subs = subs[pd.to_datetime(subs["month"]).dt.to_period("M").dt.to_timestamp() == month]
    subs["received_at"] = pd.to_datetime(subs["received_at"], utc=True)
    first = subs.groupby("grid_id")["received_at"].min().rename("received_at").reset_index()
    first["grid_id"] = first["grid_id"].astype(str)
    return pd.DataFrame(first)


def _rates(frame: pd.DataFrame, level: str) -> pd.DataFrame:
    keys = frame.assign(county="county")[["county" if level == "county" else level]]
    grouped = frame.assign(expected=1, _key=keys.iloc[:, 0].to_numpy()).groupby("_key")
    out = grouped[["expected", "received", "on_time", "late", "unknown_time"]].sum().astype(int)
    out["reporting_rate"] = out["received"] / out["expected"]
    timed = out["on_time"] + out["late"]
    out["on_time_rate"] = (out["on_time"] / timed).where(timed > 0)
    return out.rename_axis(level).reset_index()


def grid_chiefs(grids: pd.DataFrame, assigned: Mapping[str, Iterable[str]], senders: pd.DataFrame) -> pd.DataFrame:
    """Who is expected to report each grid (grid_id, chief): the reporter key that names the grid (a key's
    holder is the chief), else whoever last sent the grid's report (a township file's ``reported_by``), else
    :data:`UNASSIGNED`.

    Args:
        grids: the county's grid areas (grid_id).
        assigned: reporter key name -> its grids.
        senders: grid_id, submitted_by of the latest accepted report of each grid (``Store.report_senders``).
    """
    chief = dict(zip(senders["grid_id"].astype(str), senders["submitted_by"].astype(str), strict=True))
    for name, own in assigned.items():
        chief.update(dict.fromkeys((str(g) for g in own), name))
    ids = grids["grid_id"].astype(str).drop_duplicates()
    return pd.DataFrame({"grid_id": ids.to_numpy(), "chief": [chief.get(g, UNASSIGNED) for g in ids]})
