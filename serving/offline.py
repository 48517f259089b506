"""Offline scoring from the command line: ``muzhang predict FAMILY --input in.csv --output out.csv``.

Uses the same champions, county (the store when the settings read it), feature rows and explanations as the
API, through each family's registered offline scorer (:mod:`serving.scoring`), never a router. Input columns
by family: grazing ``grid_id[,season]``; dispute ``grid_id``; market ``township_id[,species]``; disease one
health-check record per row (the fields of ``POST /v1/disease/score``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from muzhang.families import get_family, resolve
from muzhang.settings import Settings
from serving.county import CountyState, load_county_state, store_county_state
from serving.errors import ScoringError
from serving.observability import AuditLog, Metrics
from serving.registry import ModelRegistry
from serving.scoring.context import ScoringContext

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class OfflineInputError(ValueError):
    """The input file cannot be scored; the message names the column, row or rule."""


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula (CSV injection) with a quote."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v
            )
    return out


def offline_county(settings: Settings) -> CountyState:
    """The county the service would read: the store at its last closed month (its added fields included) when
    the settings read the store, else the data directory."""
    if not settings.reads_store():
        return load_county_state(settings.data_dir)
    from muzhang.store import open_store

    store = open_store(settings.county_store_url())
    if store.last_closed_month() is None:
        raise OfflineInputError(
            "the county store has no closed month: import a county first (`muzhang data import DIR`)"
        )
    return store_county_state(store, settings.data_dir)


def offline_context(settings: Settings, family: str) -> ScoringContext:
    """The county and the family's champion, loaded as the service loads them."""
    registry = ModelRegistry(settings.tracking_uri(), families={family: get_family(family).registered_model})
    outcome = registry.reload(family)[family]
    if registry.slots[family].model is None:
        raise OfflineInputError(f"no {family} champion to score with: {outcome}")
    return ScoringContext(
        settings=settings,
        registry=registry,
        county=offline_county(settings),
        metrics=Metrics(),
        audit=AuditLog(settings.audit_path()),
    )


def score_frame(ctx: ScoringContext, family: str, frame: pd.DataFrame, lang: Any) -> pd.DataFrame:
    """Score every row with the family's offline scorer (market: one output row per horizon)."""
    spec = get_family(family)
    missing = [c for c in spec.offline_columns if c not in frame.columns]
    if missing:
        raise OfflineInputError(f"input lacks column(s) {', '.join(missing)} needed to score {family}")
    if spec.scorer is None:
        raise OfflineInputError(f"family {family} has no offline scorer")
    try:
        scored: pd.DataFrame = resolve(spec.scorer)(ctx, frame, lang)
    except ScoringError as exc:  # unknown ids, bad records, caps: the same rules as the API
        raise OfflineInputError(str(exc)) from None
    return scored


def predict_file(settings: Settings, family: str, input_path: Path, output_path: Path, lang: Any = "zh") -> int:
    """Score ``input_path`` into ``output_path`` (CSV, formula cells neutralised); returns rows written."""
    get_family(family)  # an unknown family fails before any file is read
    try:
        frame = pd.read_csv(input_path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise OfflineInputError(f"{input_path}: not a readable CSV with a header row ({exc})") from None
    if frame.empty:
        raise OfflineInputError(f"{input_path}: no data rows")
    scored = score_frame(offline_context(settings, family), family, frame, lang)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    neutralise_formulas(scored).to_csv(output_path, index=False)
    return len(scored)
