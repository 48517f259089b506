"""A forecast family's model trained with a field the served county does not carry gets a clear 503 message."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from muzhang.catalog import extend_catalog, load_catalog
from serving.errors import Unavailable
from serving.scoring.context import ScoringContext

MEETINGS = {"name": "herder_meetings", "type": "integer", "tables": ["grid_monthly"], "families": ["grazing"]}


def context(source: str, catalog: Any = None, unjoined: dict[str, str] | None = None) -> ScoringContext:
    frame = pd.DataFrame({"grid_id": ["G001", "G002"], "rain_mm": [1.0, 2.0]})
    county = SimpleNamespace(
        version="v1",
        forecasts={"dispute": SimpleNamespace(frame=frame)},
        source=source,
        data_dir=Path("county"),
        catalog=catalog or load_catalog(),
        unjoined=unjoined or {},
    )
    return ScoringContext(settings=None, registry=None, county=county, metrics=None, audit=None)  # type: ignore[arg-type]


def refusal(ctx: ScoringContext) -> str:
    bundle: Any = SimpleNamespace(added_fields={"herder_meetings": {"type": "integer"}}, encoder=None)
    model: Any = SimpleNamespace(family="dispute", version="3", bundle=bundle)
    with pytest.raises(Unavailable, match=r"dispute model version 3 reads herder_meetings, added to the catalog") as e:
        ctx.prepared(model)
    assert ctx.encoded == {}
    return str(e.value)


def test_a_store_without_the_field_says_how_to_import_it() -> None:
    message = refusal(context("store"))
    assert "the county store holds no such field: import the county with the catalog.yaml that declares it" in message
    assert "POST /v1/models/reload" in message


def test_a_directory_without_the_field_says_to_declare_it() -> None:
    assert "the county directory county has no such field" in refusal(context("directory"))


def test_a_field_kept_for_other_families_names_them() -> None:
    catalog = extend_catalog(load_catalog(), {"fields": [MEETINGS]})
    message = refusal(context("store", catalog))
    assert "keeps it but not for the dispute family (families herder_meetings: grazing)" in message


def test_a_field_the_rows_cannot_take_gives_the_reason() -> None:
    message = refusal(
        context("store", unjoined={"dispute": "dispute: measurement herder_meetings ... cannot be joined"})
    )
    assert "the county's dispute rows cannot take it: dispute: measurement herder_meetings" in message


def test_reload_reads_the_county_again_only_for_a_forecast_family_that_lacks_its_field() -> None:
    from serving.county import refresh_for_added_fields

    def slot(fields: dict[str, Any]) -> Any:
        return SimpleNamespace(model=SimpleNamespace(bundle=SimpleNamespace(added_fields=fields)))

    ctx: Any = context("store")
    ctx.store = object()  # never read: nothing asks for the county again
    ctx.registry = SimpleNamespace(slots={"disease": slot({"glucose_mmol_l": {}}), "dispute": slot({"rain_mm": {}})})
    assert refresh_for_added_fields(ctx) is False
