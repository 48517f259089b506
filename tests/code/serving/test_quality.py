"""Reporting rates as DHIS2 counts them: expected, received, on time, late, per grid, village, township, county."""

from __future__ import annotations

import pandas as pd
import pytest

from serving.quality import month_quality

GRIDS = pd.DataFrame(
    {
        "grid_id": ["G001", "G002", "G003", "G004"],
        "township_id": ["T01", "T01", "T02", "T02"],
        "village_id": ["V01", "V01", "V02", "V03"],
    }
)
MONTH = pd.Timestamp("2025-01-01")


def submission(grid: str, received: str, status: str = "accepted", sid: str | None = None) -> dict[str, object]:
    return {
        "submission_id": sid or f"s-{grid}-{received}",
        "grid_id": grid,
        "month": MONTH,
        "received_at": received,
        "status": status,
    }


def test_received_on_time_late_missing_and_history() -> None:
    reported = pd.DataFrame({"grid_id": ["G001", "G002", "G003"], "month": [MONTH] * 3})
    subs = pd.DataFrame(
        [
            submission("G001", "2025-02-10T08:00:00Z"),  # within 15 days after January ends
            submission("G002", "2025-02-20T08:00:00Z"),  # late
            submission("G002", "2025-02-01T08:00:00Z", status="refused"),  # a refused report is not received
        ]
    )
    q = month_quality(MONTH, GRIDS, reported, subs, on_time_days=15)
    county = q.by_level["county"].iloc[0]
    assert (county["expected"], county["received"], county["on_time"], county["late"]) == (4, 3, 1, 1)
    assert county["unknown_time"] == 1  # G003 came with the history import: no arrival time
    assert county["reporting_rate"] == pytest.approx(0.75) and county["on_time_rate"] == pytest.approx(0.5)
    assert q.missing["grid_id"].tolist() == ["G004"]
    assert q.late["grid_id"].tolist() == ["G002"]
    townships = q.by_level["township_id"].set_index("township_id")
    assert townships.loc["T01", "reporting_rate"] == 1.0 and townships.loc["T02", "reporting_rate"] == 0.5


def test_the_first_accepted_arrival_decides_timeliness() -> None:
    """A correction sent later does not make an on-time report late."""
    reported = pd.DataFrame({"grid_id": ["G001"], "month": [MONTH]})
    subs = pd.DataFrame([submission("G001", "2025-02-03T00:00:00Z"), submission("G001", "2025-03-30T00:00:00Z")])
    q = month_quality(MONTH, GRIDS, reported, subs)
    assert q.by_level["grid_id"].set_index("grid_id").loc["G001", "on_time"] == 1
    assert q.late.empty


def test_other_months_do_not_count() -> None:
    reported = pd.DataFrame({"grid_id": ["G001"], "month": [pd.Timestamp("2024-12-01")]})
    q = month_quality(MONTH, GRIDS, reported, pd.DataFrame())
    assert q.by_level["county"].iloc[0]["received"] == 0 and len(q.missing) == 4


def test_rates_per_chief_from_keys_then_senders_then_unassigned() -> None:
    from serving.quality import UNASSIGNED, grid_chiefs

    senders = pd.DataFrame({"grid_id": ["G002", "G003"], "submitted_by": ["C-G002-1", "C-G003-1"]})
    chiefs = grid_chiefs(GRIDS, {"chief-a": ["G001", "G002"]}, senders)  # a key wins over who last sent
    assert chiefs.set_index("grid_id")["chief"].to_dict() == {
        "G001": "chief-a", "G002": "chief-a", "G003": "C-G003-1", "G004": UNASSIGNED,
    }  # fmt: skip
    reported = pd.DataFrame({"grid_id": ["G001", "G002", "G003"], "month": [MONTH] * 3})
    subs = pd.DataFrame(
        [
            submission("G001", "2025-02-03T08:00:00Z"),
            submission("G002", "2025-02-25T08:00:00Z"),  # late
            submission("G003", "2025-02-01T08:00:00Z"),
        ]
    )
    rates = month_quality(MONTH, GRIDS, reported, subs, chiefs=chiefs).by_level["chief"].set_index("chief")
    assert rates.loc["chief-a", ["expected", "received", "on_time", "late"]].tolist() == [2, 2, 1, 1]
    assert rates.loc["chief-a", "on_time_rate"] == pytest.approx(0.5)
    assert rates.loc[UNASSIGNED, ["expected", "received"]].tolist() == [1, 0]
