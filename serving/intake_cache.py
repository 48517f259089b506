"""What report intake reads again and again, kept in memory for one county state.

One JSON report is checked against its grid's own history (the county's closed months plus the store's open
months) and, for the month's shared move, against the grids already reported that month. Reading and
grouping ten years of history per report costs more than everything else the report needs, so it is kept
here: the history by grid, the soft rules' context of every grid for each month being reported (built once
per month for the whole county, ~0.1 s), and the robust z of each grid reported per month. A write changes
a grid's history: its context in the other months is rebuilt when next asked for (one grid, a few ms).

The cache belongs to one county state: when a month closes the service swaps the county and the next report
builds a new cache from it (see :func:`cache_for`). Reports written by another process (``muzhang data
import`` while the service runs) are not seen until then.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from muzhang.catalog.record_checks import RecordChecker, record_checker
from muzhang.catalog.soft_rules import SoftContext, frame_columns, soft_check, soft_context
from muzhang.store import Store

REPORT_TABLE = "grid_monthly"


class IntakeCache:
    """History, soft-rule contexts and the month's robust z per grid, for one county state and store."""

    def __init__(self, county: Any, store: Store) -> None:
        self.county = county
        self.store = store
        self.lock = threading.RLock()
        closed = county.tables.grid_monthly
        self._closed = closed
        self._closed_at = {str(g): idx for g, idx in closed.groupby("grid_id", sort=False).indices.items()}
        open_rows = store.reports_after(county.last_month)
        self._open: dict[tuple[str, pd.Timestamp], dict[Any, Any]] = {
            (str(r["grid_id"]), pd.Timestamp(r["month"])): r for r in open_rows.to_dict("records")
        }
        self._grids = pd.Index(sorted(county.grid_ids))
        grids = county.tables.grids
        self.townships: dict[str, str] = dict(
            zip(grids["grid_id"].astype(str), grids["township_id"].astype(str), strict=True)
        )
        self._grid_at = {g: i for i, g in enumerate(self._grids)}
        self._stacks: dict[pd.Timestamp, tuple[list[str], np.ndarray]] = {}  # the month's z, stacked
        self._contexts: dict[pd.Timestamp, SoftContext] = {}
        self._dirty: dict[pd.Timestamp, set[str]] = {}
        self._z: dict[pd.Timestamp, dict[str, np.ndarray]] = {}

    # --- reading ------------------------------------------------------------------------------------------
    def checker(self, latest_month: pd.Timestamp) -> RecordChecker:
        """The compiled hard rules for this county's grids and the latest month a report may be for."""
        return record_checker(self.county.grid_ids, pd.Timestamp(latest_month))

    def history(self, grids: Iterable[str] | None = None) -> pd.DataFrame:
        """The grid_monthly rows of ``grids`` (all: None): closed months, with the open months' reports
        (and any later correction) in place of what the county read."""
        with self.lock:
            wanted = None if grids is None else {str(g) for g in grids}
            if wanted is None:
                closed = self._closed
            else:
                at = [self._closed_at[g] for g in wanted if g in self._closed_at]
                closed = self._closed.iloc[np.sort(np.concatenate(at))] if at else self._closed.iloc[:0]
            newer = [r for (g, _), r in self._open.items() if wanted is None or g in wanted]
        if not newer:
            return closed
        overridden = pd.MultiIndex.from_tuples([(str(r["grid_id"]), pd.Timestamp(r["month"])) for r in newer])
        keys = pd.MultiIndex.from_arrays([closed["grid_id"].astype(str), pd.to_datetime(closed["month"])])
        kept = closed[~keys.isin(overridden)]
        added = pd.DataFrame(newer, columns=list(closed.columns))
        return pd.concat([kept, added], ignore_index=True)

    def context(self, grid_id: str, month: pd.Timestamp) -> SoftContext:
        """The soft rules' context of one grid's report for ``month`` (see soft_rules.soft_context)."""
        month = pd.Timestamp(month)
        with self.lock:
            whole = self._month_context(month)
            at = self._grid_at.get(grid_id, -1)
            if at < 0:  # not a county grid: the hard rules refuse it first; nothing to compare with
                return soft_context(pd.DataFrame({"grid_id": [grid_id], "month": [month]}), None)
            if grid_id in self._dirty[month]:
                one = soft_context(pd.DataFrame({"grid_id": [grid_id], "month": [month]}), self.history([grid_id]))
                for name in ("centre", "scale", "count"):
                    getattr(whole, name)[at] = getattr(one, name)[0]
                whole.herd_before[at] = one.herd_before[0]
                self._dirty[month].discard(grid_id)
            return whole.take([at])

    def peers(
        self, months: Iterable[pd.Timestamp], besides: Iterable[str] = ()
    ) -> tuple[dict[object, np.ndarray], dict[object, np.ndarray]]:
        """Month -> robust z of the grids reported that month so far (not ``besides``), for the shared move;
        and month -> the township of each of those rows, for the township's."""
        skip = set(besides)
        out: dict[object, np.ndarray] = {}
        where: dict[object, np.ndarray] = {}
        with self.lock:
            for month in {pd.Timestamp(m) for m in months}:
                self._month_context(month)
                if month not in self._stacks:
                    by_grid = self._z.get(month, {})
                    width = len(self._contexts[month].items)
                    stack = np.array(list(by_grid.values())) if by_grid else np.empty((0, width))
                    self._stacks[month] = (list(by_grid), stack)
                grids, stack = self._stacks[month]
                towns = np.array([self.townships.get(g, "") for g in grids], dtype=object)
                if skip & set(grids):
                    keep = np.array([g not in skip for g in grids], dtype=bool)
                    stack, towns = stack[keep], towns[keep]
                if len(stack):
                    key = month.to_datetime64().astype("datetime64[ns]")
                    out[key], where[key] = stack, towns
        return out, where

    # --- writing ------------------------------------------------------------------------------------------
    def written(self, values: Mapping[Any, Any], z: np.ndarray | None) -> None:
        """A report's values were stored: they are now the grid's history for every other month, and its
        robust z counts towards its month's shared move."""
        grid_id, month = str(values["grid_id"]), pd.Timestamp(values["month"])
        with self.lock:
            self._open[(grid_id, month)] = dict(values)
            for other, dirty in self._dirty.items():
                if other != month:
                    dirty.add(grid_id)
            if z is not None and month in self._contexts:
                self._z.setdefault(month, {})[grid_id] = np.asarray(z, dtype="float64")
                self._stacks.pop(month, None)

    # --- building -----------------------------------------------------------------------------------------
    def _month_context(self, month: pd.Timestamp) -> SoftContext:
        """Every county grid's context for ``month``, built at its first use; the month's reports already in
        the store give their robust z then."""
        if month not in self._contexts:
            keys = pd.DataFrame({"grid_id": self._grids, "month": month})
            context = soft_context(keys, self.history())
            self._contexts[month], self._dirty[month] = context, set()
            stored = [r for (_, m), r in self._open.items() if m == month]
            self._z[month] = {}
            if stored:
                frame = pd.DataFrame(stored)
                at = self._grids.get_indexer(frame["grid_id"].astype(str))
                known = at >= 0
                frame, at = frame[known], at[known]
                _, z = soft_check(frame_columns(frame), list(range(len(frame))), context.take(at))
                self._z[month] = dict(zip(frame["grid_id"].astype(str), z, strict=True))
        return self._contexts[month]


_CACHES: dict[int, tuple[weakref.ref[Any], IntakeCache]] = {}
_CACHES_LOCK = threading.Lock()


def cache_for(state: Any) -> IntakeCache:
    """The intake cache of a service state, for its current county (a new one after a month closes)."""
    with _CACHES_LOCK:
        entry = _CACHES.get(id(state))
        if entry is not None:
            owner, held = entry[0](), entry[1]
            if held.county is state.county and owner is state:
                return held
        for key in [k for k, (other, _) in _CACHES.items() if other() is None]:  # states gone
            del _CACHES[key]
        cache = IntakeCache(state.county, state.store)
        _CACHES[id(state)] = (weakref.ref(state), cache)
        return cache
