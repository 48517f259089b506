"""What scoring needs: the models being served, the county in memory, metrics, the audit log, limits.

The forecast rows of each family are encoded once per model version and kept (:meth:`prepared`), so a
request only indexes into an array.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.bundle import ModelBundle
from muzhang.families import get_family
from muzhang.settings import Settings
from serving.county import CountyState, absent_added_fields, absent_fields_message
from serving.errors import TooMany, Unavailable
from serving.observability import AuditLog, Metrics
from serving.registry import ModelRegistry, ServedModel
from serving.scoring.recent_level import at_county_level


@dataclass(frozen=True)
class Prepared:
    """A family's forecast rows, encoded once for one model version, with a key -> row positions index."""

    x: np.ndarray
    frame: pd.DataFrame
    index: dict[tuple[str, ...], list[int]]
    # The served model at this county's recent level (serving.scoring.recent_level): predict with this.
    bundle: ModelBundle

    def rows(self, keys: Sequence[tuple[str, ...]]) -> np.ndarray:
        return np.array([p for k in keys for p in self.index[k]], dtype=int)


@dataclass
class ScoringContext:
    """Everything a scoring function reads. The service's state is one; ``muzhang predict`` makes one."""

    settings: Settings
    registry: ModelRegistry
    county: CountyState
    metrics: Metrics
    audit: AuditLog
    store: Any = None  # the county store of record (muzhang.store.Store), or None when serving a directory
    # (family, model version, county month) -> forecast rows encoded for that model: requests only index into
    # it. When a month closes the county is swapped whole; rows of the old month are never served under the new.
    encoded: dict[tuple[str, str, str], Prepared] = field(default_factory=dict)

    def served(self, family: str) -> ServedModel:
        """The model serving ``family``; :class:`serving.errors.Unavailable` says how to get one."""
        return self.registry.get(family)

    def check_cap(self, n: int, what: str = "items") -> None:
        """Refuse a batch over the configured cap."""
        cap = self.settings.batch_cap
        if n > cap:
            raise TooMany(f"too many {what}: {n}; at most {cap} per request (split the batch)")

    def prepared(self, model: ServedModel) -> Prepared:
        """The family's forecast rows for this model version, built on first use and kept."""
        county = self.county  # one snapshot: a month closing mid-request swaps self.county
        key = (model.family, model.version, county.version)
        cached = self.encoded.get(key)
        if cached is None:
            keys = get_family(model.family).forecast_keys
            if keys is None:
                raise ValueError(f"family {model.family!r} has no forecast rows (requests bring their own)")
            frame = county.forecasts[model.family].frame
            absent = absent_added_fields(county, model.family, model.bundle.added_fields)
            if absent:  # trained with a catalog extension's field the served county's rows do not carry
                raise Unavailable(absent_fields_message(county, model.family, model.version, absent))
            index: dict[tuple[str, ...], list[int]] = {}
            columns = [frame[c].astype(str).tolist() for c in keys]
            for i, k in enumerate(zip(*columns, strict=True)):
                index.setdefault(k, []).append(i)
            cached = Prepared(model.bundle.encoder.encode(frame), frame, index, at_county_level(model.bundle, county))
            self.encoded = {k: v for k, v in self.encoded.items() if k[0] != model.family} | {key: cached}
        return cached
