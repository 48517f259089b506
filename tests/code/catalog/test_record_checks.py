"""The per-record fast path (one JSON report) and the frame path (pandera) give identical outcomes.

Both are generated from the same hard-rule list (muzhang.catalog.checks.hard_rules) and the soft rules run
the same code on arrays, so these tests are the guard that keeps them so: the same good and bad records
through both, the same accepted rows, refused (row, field, value, rule id, rule) and flags.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.tables import load_county
from muzhang.catalog import load_catalog
from muzhang.catalog.checks import check_reports, hard_rules
from muzhang.catalog.record_checks import RecordChecker, coerce_value, record_columns
from muzhang.catalog.soft_rules import SoftRules, soft_check, soft_context
from muzhang.paths import SAMPLE_COUNTY

# Values a chief's app or a hand-made JSON may send, for the fields whose rules differ in kind.
ODD_NUMBERS: list[Any] = [
    -3, 0, 12, 12.0, 12.5, True, False, None, float("nan"), float("inf"), 2**60, 10**30, "12", " 12 ", "12.0",
    "1e3", "-0", "+4", ".5", "5.", "1_000", "0x10", "١٢", "12 000", "abc", "", "  ", "nan", "inf", "-inf",
]  # fmt: skip
ODD_MONTHS: list[Any] = [
    "2024-12-01", "2024-12-15", "2025-01-01", "2030-01-01", "2024-13-01", "2024-02-30", "2024-12", "20241201",
    "2024-12-01T00:00:00", "2024-12-01T06:00:00", " 2024-12-01", "1999-12-01", "1600-01-01", "2200-01-01",
    "", None, 202412, True, 3.5, "December",
]  # fmt: skip
ODD_TEXT: list[Any] = ["G001", "G0001", "G999", "g001", "G01", "X", "", " G001", 5, 1.5, True, None, "grazing"]


@pytest.fixture(scope="module")
def county() -> tuple[pd.DataFrame, frozenset[str]]:
    tables = load_county(SAMPLE_COUNTY)
    return tables.grid_monthly, frozenset(tables.grids["grid_id"].astype(str))


@pytest.fixture(scope="module")
def latest(county: tuple[pd.DataFrame, frozenset[str]]) -> pd.Timestamp:
    return pd.Timestamp(county[0]["month"].max())


@pytest.fixture(scope="module")
def good(county: tuple[pd.DataFrame, frozenset[str]], latest: pd.Timestamp) -> dict[str, Any]:
    """G001's last sample month as its app sends it (JSON types; the month as text)."""
    monthly = county[0]
    row = monthly[(monthly["grid_id"] == "G001") & (monthly["month"] == latest)].iloc[0]
    record = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.to_dict().items()}
    return {**record, "month": latest.date().isoformat()}


@pytest.fixture(scope="module")
def history(county: tuple[pd.DataFrame, frozenset[str]], latest: pd.Timestamp) -> pd.DataFrame:
    monthly = county[0]
    return monthly[(monthly["month"] < latest) & monthly["grid_id"].isin(["G001", "G002"])]


def both_paths(
    records: list[dict[str, Any]],
    grids: frozenset[str],
    latest: pd.Timestamp,
    history: pd.DataFrame,
    lang: str = "en",
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Per record, (accepted, refused, flags) of the frame path (all records in one frame, as an upload) and
    of the record path (one at a time). The month's shared move needs more grids than any test has."""
    rules = SoftRules(shared_shift_min_grids=10**6)
    columns = load_catalog().columns("grid_monthly")  # an item left out is empty, as the intake sends it
    frame = check_reports(
        pd.DataFrame([{c: r.get(c) for c in columns} for r in records]),
        known_grids=grids,
        latest_month=latest,
        history=history,
        lang=lang,  # type: ignore[arg-type]
        rules=rules,
    )
    frame_out = [
        (
            i in set(frame.accepted),
            sorted(tuple(r)[1:] for r in frame.refused.itertuples(index=False) if r.row == i),
            [tuple(f)[1:] for f in frame.flags.itertuples(index=False) if f.row == i],
        )
        for i in range(len(records))
    ]
    checker = RecordChecker(known_grids=grids, latest_month=latest)
    record_out = []
    for i, record in enumerate(records):
        checked = checker.check(record, lang)  # type: ignore[arg-type]
        flags: list[Any] = []
        if checked.accepted:
            keys = pd.DataFrame({"grid_id": [checked.values["grid_id"]], "month": [checked.values["month"]]})
            context = soft_context(keys, history, rules=rules)
            found, _ = soft_check(record_columns(checked.values), [i], context, lang=lang, rules=rules)  # type: ignore[arg-type]
            flags = [f[1:] for f in found]
        record_out.append((checked.accepted, sorted(checked.refused), flags))
    return frame_out, record_out


def assert_same(frame: list[tuple[Any, ...]], record: list[tuple[Any, ...]], records: list[dict[str, Any]]) -> None:
    for i, (by_frame, by_record) in enumerate(zip(frame, record, strict=True)):
        assert by_frame == by_record, f"record {i}: {records[i]}"


def test_a_good_report_is_accepted_alike_with_the_same_flags(
    good: dict[str, Any], county: tuple[pd.DataFrame, frozenset[str]], latest: pd.Timestamp, history: pd.DataFrame
) -> None:
    typo = {**good, "yak": int(good["yak"]) * 10, "people": int(good["households"]) * 20, "mediations": 9}
    records = [good, {**typo, "disputes": 1}]
    frame, record = both_paths(records, county[1], latest, history, lang="zh")
    assert_same(frame, record, records)
    assert frame[0][0] and frame[1][0]
    assert {f[2] for f in record[1][2]} >= {"outlier", "people_households", "mediations_disputes", "herd_balance"}


@pytest.mark.parametrize(
    ("name", "values"),
    [
        *((name, ODD_NUMBERS) for name in ("yak", "temp_mean_c", "ndvi", "rested_share", "patrol_days")),
        ("month", ODD_MONTHS),
        ("grid_id", ODD_TEXT),
        ("rest_status", ODD_TEXT),
    ],
)
def test_odd_values_give_the_same_outcome_on_both_paths(
    name: str,
    values: list[Any],
    good: dict[str, Any],
    county: tuple[pd.DataFrame, frozenset[str]],
    latest: pd.Timestamp,
    history: pd.DataFrame,
) -> None:
    records = [{**good, name: value} for value in values]
    frame, record = both_paths(records, county[1], latest, history)
    assert_same(frame, record, records)
    assert any(r[0] for r in record) and not all(r[0] for r in record)  # some kept, some refused


def test_many_bad_fields_and_a_missing_one_are_all_named_alike(
    good: dict[str, Any], county: tuple[pd.DataFrame, frozenset[str]], latest: pd.Timestamp, history: pd.DataFrame
) -> None:
    bad = {**good, "yak": -1, "sheep": "many", "ndvi": 2, "month": "2024-12-15", "dispute_kind": "feud"}
    del bad["goat"]
    frame, record = both_paths([bad], county[1], latest, history, lang="zh")
    assert_same(frame, record, [bad])
    assert {(p[0], p[2]) for p in record[0][1]} == {
        ("yak", "min"), ("sheep", "type"), ("ndvi", "max"), ("month", "month_not_first"),
        ("dispute_kind", "category"), ("goat", "required"),
    }  # fmt: skip


def test_every_hard_rule_kind_has_a_record_test(county: tuple[pd.DataFrame, frozenset[str]]) -> None:
    rules = hard_rules(known_grids=county[1], latest_month=pd.Timestamp("2025-01-01"))
    kinds = {r.kind for found, _ in rules.values() for r in found}
    assert kinds == {"ge", "le", "isin", "fullmatch", "known", "first_of_month", "not_after_month"}


def test_a_value_is_coerced_to_its_catalog_type() -> None:
    catalog = load_catalog()
    assert coerce_value(" 12 ", catalog.field("yak")) == (12, False)
    assert coerce_value(12.0, catalog.field("yak")) == (12, False)
    assert coerce_value(True, catalog.field("yak")) == (None, True)
    assert coerce_value("2025-01-01", catalog.field("month")) == (pd.Timestamp("2025-01-01"), False)
    assert coerce_value("", catalog.field("ndvi")) == (None, False)
    assert np.isnan(record_columns({"grid_id": "G1", "month": "2025-01-01", "yak": None})["yak"][0])


def test_data_validate_and_intake_refuse_the_same_cells(
    good: dict[str, Any], county: tuple[pd.DataFrame, frozenset[str]], latest: pd.Timestamp, history: pd.DataFrame
) -> None:
    """``muzhang data validate`` (vectorised masks, muzhang.catalog.rules) and intake (pandera) read the same
    catalog rules (checks.field_rules): on one CSV-like frame they refuse the same cells."""
    from muzhang.catalog.validate import validate_table

    bad_cells = [
        ("yak", "-1"), ("yak", "12.5"), ("yak", "many"), ("yak", ""), ("ndvi", "1.5"), ("temp_mean_c", "-60"),
        ("snow_days", "32"), ("rest_status", "resting"), ("grid_id", "G1"), ("grid_id", "G999"), ("ndvi", "inf"),
        ("dispute_kind", ""), ("rested_share", "0.5"), ("month", "2024-12-01"), ("month", "20xx-12-01"),
    ]  # fmt: skip
    grids = [f"G{i:03d}" for i in range(1, len(bad_cells) + 1)]  # one grid per row: no repeated key
    rows = [{**good, "grid_id": g, name: value} if name != "grid_id" else {**good, name: value}
            for g, (name, value) in zip(grids, bad_cells, strict=True)]  # fmt: skip
    frame = pd.DataFrame(rows).astype(str).replace({"None": ""})
    frame = frame.assign(month=[r["month"] for r in rows])
    validated = validate_table(frame, "grid_monthly", load_catalog(), known_ids={"grid_id": county[1]})
    by_validate = {(v.row, v.field) for v in validated if v.severity == "error"}
    checked = check_reports(frame, known_grids=county[1], latest_month=latest, history=history)
    by_intake = {(int(r.row), r.field) for r in checked.refused.itertuples(index=False)}
    assert by_validate == by_intake and len(by_intake) == 13  # all but the share of 0.5 and the good month


def test_the_service_starts_without_pandera() -> None:
    """pandera costs about a second to import: only an upload's checks load it, not the service's start-up."""
    import subprocess
    import sys

    code = "import sys, serving.app; sys.exit(1 if 'pandera' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
