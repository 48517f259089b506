"""The scoring layer speaks in domain errors; the app turns each kind into one HTTP status."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serving.app import ERROR_STATUS, install_error_handlers
from serving.errors import Conflict, InvalidInput, NotFound, ScoringError, TooMany, Unavailable
from serving.registry import FamilyUnavailable
from serving.scoring.disease import CSV_ROW_ERRORS, parse_csv


def csv(*rows: str, header: str = "ref,age,sex,dogs_owned,systolic_bp") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


def test_every_field_error_of_a_row_is_listed_with_its_value() -> None:
    """Before: the first bad field of a row hid the others (age 230 beside dogs_owned -1 went unreported)."""
    with pytest.raises(InvalidInput) as err:
        parse_csv(csv("a,230,male,-1,abc", "b,40,female,2,120"), cap=100)
    problems = {(p["row"], p["field"]): p for p in err.value.detail}  # type: ignore[union-attr]
    assert set(problems) == {(2, "age"), (2, "dogs_owned"), (2, "systolic_bp")}
    assert problems[(2, "age")]["value"] == "230" and "less than or equal" in problems[(2, "age")]["rule"]
    assert problems[(2, "dogs_owned")]["value"] == "-1"
    assert problems[(2, "systolic_bp")] == {
        "row": 2,
        "field": "systolic_bp",
        "value": "abc",
        "rule": "must be a whole number written in digits 0-9 (52 or 52.0)",
    }


def test_valid_rows_become_records() -> None:
    records = parse_csv(csv("a,52,male,3,134", "b,40,female,,"), cap=100)
    assert [r.ref for r in records] == ["a", "b"]  # type: ignore[attr-defined]
    assert records[1].dogs_owned is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("content", "error", "text"),
    [
        (csv(*["a,52,male,3,134"] * 4), TooMany, "too many rows: 4; at most 3"),
        (
            csv("a,52,male,3,134", header="ref,age,sex,dogs_owned,blood_type"),
            InvalidInput,
            "unknown column(s) 'blood_type'",
        ),
        (b"\xff\xfe\x00", InvalidInput, "not a readable UTF-8 CSV"),
        (csv(header="ref,age,sex"), InvalidInput, "no data rows"),
    ],
)
def test_bad_files_raise_domain_errors(content: bytes, error: type[ScoringError], text: str) -> None:
    with pytest.raises(error) as err:
        parse_csv(content, cap=3)
    assert text in str(err.value)


def test_error_lists_stop_at_the_cap() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_csv(csv(*["x,999,male,1,1"] * (CSV_ROW_ERRORS + 10)), cap=1000)
    assert len(err.value.detail) == CSV_ROW_ERRORS


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("grid_id: unknown grid area(s) G999"), 404),
        (Conflict("month: 2020-03 cannot close before 2020-02"), 409),
        (TooMany("too many items"), 413),
        (InvalidInput([{"row": 2, "field": "age", "value": "230", "rule": "too old"}]), 422),
        (Unavailable("no model"), 503),
        (FamilyUnavailable("no dispute model is being served"), 503),
    ],
)
def test_one_handler_maps_each_domain_error_to_its_status(error: ScoringError, status: int) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert response.status_code == status
    assert response.json() == {"detail": error.detail}


def test_every_error_kind_has_a_status() -> None:
    assert set(ERROR_STATUS) == {NotFound, Conflict, TooMany, InvalidInput, Unavailable}
