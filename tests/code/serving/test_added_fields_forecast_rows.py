"""A forecast family's model trained with a field the served county does not carry gets a clear 503 message."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from serving.errors import Unavailable
from serving.scoring.context import ScoringContext


def test_a_forecast_model_reading_an_added_field_the_county_lacks_is_unavailable_by_name() -> None:
    frame = pd.DataFrame({"grid_id": ["G001", "G002"], "rain_mm": [1.0, 2.0]})
    county = SimpleNamespace(version="v1", forecasts={"dispute": SimpleNamespace(frame=frame)})
    ctx = ScoringContext(settings=None, registry=None, county=county, metrics=None, audit=None)  # type: ignore[arg-type]
    bundle: Any = SimpleNamespace(added_fields={"herder_meetings": {"type": "integer"}}, encoder=None)
    model: Any = SimpleNamespace(family="dispute", version="3", bundle=bundle)

    with pytest.raises(Unavailable, match=r"dispute model version 3 reads herder_meetings, added to the catalog"):
        ctx.prepared(model)
    assert ctx.encoded == {}
