"""Months after the sample, as a county sends them: the same county continued, with counted reporting faults."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from muzhang.catalog import load_catalog
from muzhang.catalog.validate import validate_table
from muzhang.domain import SPECIES
from muzhang.paths import SAMPLE_COUNTY
from muzhang.simulate.county import generate_county
from muzhang.simulate.emit import REPORT_COLUMNS, TYPED_FIELDS, emit_month, write_emitted

COLUMNS = load_catalog().columns("grid_monthly")
FAULT_KINDS = ("missing", "late", "duplicate", "typo", "outlier", "correction")


@pytest.fixture(scope="module")
def county():
    return generate_county(7, n_grids=60)


@pytest.fixture(scope="module")
def january(county):
    return emit_month(county, "2025-01")


@pytest.fixture(scope="module")
def march(county):
    return emit_month(county, "2025-03")


def _herd(frame: pd.DataFrame) -> pd.Series:
    return frame.set_index("grid_id")[list(SPECIES)].sum(axis=1)


def _value_faulty(emitted) -> set[str]:
    faults = emitted.manifest["faults"]
    return {f["submission_id"] for f in [*faults["typo"], *faults["outlier"]]}


def test_same_seed_writes_the_same_files(county, january, tmp_path):
    """Risk: an emitted month nobody can reproduce, so an import test cannot pin what it received."""
    again = emit_month(county, "2025-01")
    first = write_emitted(january, tmp_path / "a")
    second = write_emitted(again, tmp_path / "b")
    assert first == second
    for name in ("reports.csv", "market.csv", "emit-manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    from_csv = pd.read_csv(tmp_path / "a" / "reports.csv", dtype={"month": str})
    from_xlsx = pd.read_excel(tmp_path / "a" / "reports.xlsx", sheet_name="reports", dtype={"month": str})
    pd.testing.assert_frame_equal(from_xlsx, from_csv, check_dtype=False)
    assert list(from_csv.columns) == [*COLUMNS, *REPORT_COLUMNS]


def test_another_seed_changes_the_faults_not_the_county(county, january):
    other = emit_month(county, "2025-01", seed=99)
    pd.testing.assert_frame_equal(other.truth, january.truth)
    pd.testing.assert_frame_equal(other.market, january.market)
    assert other.manifest["faults"] != january.manifest["faults"]


def test_the_first_month_continues_the_sample_grid_by_grid(county, january):
    """Risk: a 'next month' from another county (new herds, new grids) that no model could follow."""
    sample = county.tables["grid_monthly"]
    december = sample[sample["month"] == sample["month"].max()].set_index("grid_id")
    jan = january.truth.set_index("grid_id")
    assert list(jan.index) == list(december.index)
    # every head is accounted for: last month's herd + births - deaths - sales
    sold = jan[[f"{sp}_sold" for sp in SPECIES]].sum(axis=1)
    assert (_herd(january.truth) == _herd(december.reset_index()) + jan["births"] - jan["deaths"] - sold).all()
    assert (_herd(january.truth) / _herd(december.reset_index()).clip(lower=1)).between(0.6, 1.2).all()
    assert ((jan["households"] - december["households"]).abs() <= 3).all()
    assert (jan["rest_status"] == december["rest_status"]).mean() > 0.8  # a new year may start new programmes
    towns = county.tables["townships"]["township_id"]
    assert set(january.market["township_id"]) == set(towns) and len(january.market) == len(towns) * len(SPECIES)


def test_months_emitted_out_of_order_are_the_same_county(county, january, march):
    """Emitting March alone simulates January and February on the way, exactly as emitting them does."""
    february = emit_month(county, "2025-02")
    assert february.truth["month"].eq(pd.Timestamp("2025-02-01")).all()
    for earlier, later in ((january, february), (february, march)):
        after = later.truth.set_index("grid_id")
        sold = after[[f"{sp}_sold" for sp in SPECIES]].sum(axis=1)
        assert (_herd(later.truth) == _herd(earlier.truth) + after["births"] - after["deaths"] - sold).all()
    # nothing of a later month is in an earlier one
    assert set(january.reports["month"]) == {"2025-01-01"} and set(march.reports["month"]) == {"2025-03-01"}
    assert set(january.market["month"]) == {"2025-01-01"}


def test_no_emitted_month_is_inside_the_sample(county):
    with pytest.raises(ValueError, match="inside the sample"):
        emit_month(county, "2024-12")
    with pytest.raises(ValueError, match="inside the sample"):
        emit_month(county, "2019-06")
    with pytest.raises(ValueError, match="YYYY-MM"):
        emit_month(county, "2025-01-15")


def test_every_fault_kind_is_present_and_counted(january, march):
    for emitted in (january, march):
        manifest, reports = emitted.manifest, emitted.reports
        counts = manifest["counts"]
        assert all(counts[kind] >= 1 for kind in FAULT_KINDS)
        assert all(counts[kind] == len(manifest["faults"][kind]) for kind in FAULT_KINDS)
        assert manifest["rows"] == len(reports)
        assert len(reports) == (
            manifest["expected_reports"] - counts["missing"] + counts["duplicate"] + counts["correction"]
        )
        assert not set(manifest["faults"]["missing"]) & set(reports["grid_id"])
        reported = set(reports["grid_id"]) | set(manifest["faults"]["missing"])
        assert reported == set(emitted.truth["grid_id"])


def test_duplicates_are_the_same_report_sent_twice(january):
    reports, dups = january.reports, january.manifest["faults"]["duplicate"]
    repeated = reports[reports.duplicated("submission_id", keep=False)]
    corrected_ids = {c["submission_id"] for c in january.manifest["faults"]["correction"]}
    assert set(repeated["submission_id"]) == set(dups) and not set(dups) & corrected_ids
    for _, pair in repeated.groupby("submission_id"):
        assert len(pair) == 2 and pair.iloc[0].equals(pair.iloc[1])


def test_late_reports_arrive_after_the_fifth(january):
    manifest, reports = january.manifest, january.reports
    received = pd.to_datetime(reports["received_at"])
    deadline = pd.Timestamp(manifest["on_time_by"])
    assert deadline == pd.Timestamp("2025-02-06T00:00:00+08:00")
    corrections = {c["submission_id"] for c in manifest["faults"]["correction"]}
    first = ~reports["submission_id"].isin(corrections)
    late = reports["submission_id"].isin(manifest["faults"]["late"])
    assert (received[late] >= deadline).all()
    assert (received[first & ~late] < deadline).all()
    assert (received >= pd.Timestamp("2025-02-01T00:00:00+08:00")).all()  # never before the month ends


def test_typos_and_outliers_carry_the_manifest_values(january):
    by_id = january.reports.drop_duplicates("submission_id").set_index("submission_id")
    truth = january.truth.set_index("grid_id")
    for fault in january.manifest["faults"]["typo"]:
        row = by_id.loc[fault["submission_id"]]
        assert row[fault["field"]] == fault["sent"] != fault["true"] == truth.at[fault["grid_id"], fault["field"]]
        expected = {"extra_digit": fault["true"] * 10, "dropped_digit": fault["true"] // 10}
        assert fault["sent"] == expected.get(fault["kind"], -abs(fault["true"]) or -1)
    for fault in january.manifest["faults"]["outlier"]:
        ratio = fault["sent"] / fault["true"]
        assert fault["sent"] >= 0 and (ratio >= 2.4 or ratio <= 0.42)
        assert by_id.at[fault["submission_id"], fault["field"]] == fault["sent"]
    # every other report says what happened
    clean = by_id.drop(index=list(_value_faulty(january)))
    clean = clean[~clean.index.isin([c["submission_id"] for c in january.manifest["faults"]["correction"]])]
    assert (clean[list(TYPED_FIELDS)] == truth.loc[clean["grid_id"], list(TYPED_FIELDS)].to_numpy()).all().all()


def test_a_negative_typo_breaks_a_hard_rule(january, march):
    """Typed negatives are refused by the catalog's physical limits; x10 and dropped digits are left to soft rules."""
    catalog = load_catalog()
    for emitted in (january, march):
        reports = emitted.reports[COLUMNS].assign(month=lambda f: pd.to_datetime(f["month"]))
        errors = [v for v in validate_table(reports, "grid_monthly", catalog) if v.severity == "error"]
        negatives = {f["field"] for f in emitted.manifest["faults"]["typo"] if f["kind"] == "negative"}
        assert negatives <= {v.field for v in errors if ">= 0" in v.rule}
        one_each = reports.drop_duplicates("grid_id", keep="last")  # the last word on each grid
        one_each = one_each[(one_each[list(TYPED_FIELDS)] >= 0).all(axis=1)]
        assert not [v for v in validate_table(one_each, "grid_monthly", catalog) if v.severity == "error"]


def test_corrections_have_new_ids_later_times_and_the_true_values(january):
    manifest, reports = january.manifest, january.reports
    first_ids = set(reports["submission_id"]) - {c["submission_id"] for c in manifest["faults"]["correction"]}
    truth = january.truth.set_index("grid_id")
    typo_ids = {f["submission_id"] for f in manifest["faults"]["typo"]}
    for c in manifest["faults"]["correction"]:
        assert c["submission_id"] not in first_ids and c["corrects"] in typo_ids
        new = reports[reports["submission_id"] == c["submission_id"]].iloc[0]
        old = reports[reports["submission_id"] == c["corrects"]].iloc[0]
        assert new["grid_id"] == old["grid_id"] == c["grid_id"] and new["month"] == old["month"]
        assert pd.Timestamp(new["received_at"]) > pd.Timestamp(old["received_at"])
        assert (new[list(TYPED_FIELDS)].to_numpy() == truth.loc[c["grid_id"], list(TYPED_FIELDS)].to_numpy()).all()
        assert (new[list(TYPED_FIELDS)] != old[list(TYPED_FIELDS)]).any()


@pytest.mark.slow
def test_cli_emits_the_month_after_the_shipped_sample(tmp_path):
    """The command continues data_samples/county itself: same 457 grids, herds carried from 2024-12."""
    out = tmp_path / "2025-01"
    result = CliRunner().invoke(app, ["data", "emit", "--month", "2025-01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"reports.csv", "reports.xlsx", "market.csv", "emit-manifest.json"}
    manifest = json.loads((out / "emit-manifest.json").read_text(encoding="utf-8"))
    reports = pd.read_csv(out / "reports.csv", dtype={"month": str})
    market = pd.read_csv(out / "market.csv", dtype={"month": str})
    grids = pd.read_csv(SAMPLE_COUNTY / "grids.csv")
    sample = pd.read_parquet(SAMPLE_COUNTY / "grid_monthly.parquet")
    december = sample[sample["month"] == sample["month"].max()].set_index("grid_id")
    assert manifest["county"]["seed"] == json.loads((SAMPLE_COUNTY / "manifest.json").read_text())["seed"]
    assert set(reports["grid_id"]) | set(manifest["faults"]["missing"]) == set(grids["grid_id"])
    assert set(market["township_id"]) == set(grids["township_id"]) and len(market) == 40
    assert (reports["month"] > sample["month"].max().strftime("%Y-%m-%d")).all()
    faulty = _value_faulty(type("E", (), {"manifest": manifest})())
    clean = reports[~reports["submission_id"].isin(faulty)].drop_duplicates("grid_id").set_index("grid_id")
    sold = clean[[f"{sp}_sold" for sp in SPECIES]].sum(axis=1)
    before = december.loc[clean.index, list(SPECIES)].sum(axis=1)
    assert (clean[list(SPECIES)].sum(axis=1) == before + clean["births"] - clean["deaths"] - sold).all()
    # the county's markets add up from its grids (all of them, missing reports included)
    assert market["herd_head"].sum() == pytest.approx(before.sum(), rel=0.1)
    assert np.isfinite(market["price_yuan_per_head"]).all()

    inside = CliRunner().invoke(app, ["data", "emit", "--month", "2024-06", "--out", str(tmp_path / "x")])
    assert inside.exit_code == 2 and "inside the sample" in inside.output
