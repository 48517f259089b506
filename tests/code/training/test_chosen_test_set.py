"""A test set the data scientist chooses (``muzhang train --test-from / --test-file``; issues 11 and 13)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from features import FeatureSet
from training.config import ConfigError, default_config_path, load_config
from training.families import plan_for
from training.splits import split_from_month


def dispute_like(months: int = 30, grids: int = 4) -> FeatureSet:
    """A dispute-shaped frame: one row per grid and month, keys grid_id and month."""
    stamps = pd.date_range("2022-01-01", periods=months, freq="MS")
    frame = pd.DataFrame(
        [
            {"grid_id": f"G{g:03d}", "month": m, "x": float(k), "dispute_next_month": float(k % 2)}
            for k, m in enumerate(stamps)
            for g in range(1, grids + 1)
        ]
    )
    return FeatureSet("dispute", frame, ["grid_id", "month"], "month", ["x"], targets=["dispute_next_month"])


def split_of(fs: FeatureSet, **chosen: object) -> tuple[pd.Series, object]:
    overrides = {f"split.{k}": v for k, v in chosen.items()}
    cfg = load_config(default_config_path("dispute"), **{"split.valid_months": 3, **overrides})
    return fs.frame["month"], plan_for("dispute").split(fs, cfg)


def test_test_from_holds_out_every_row_from_that_month_and_validates_on_the_months_before() -> None:
    times, split = split_of(dispute_like(), test_from="2023-09")
    test, valid, train = (times.iloc[p] for p in (split.test, split.valid, split.train))
    assert test.min() == pd.Timestamp("2023-09-01") and test.max() == pd.Timestamp("2024-06-01")
    assert len(test) == 10 * 4  # every row from 2023-09 to the end, no row before it
    assert sorted(valid.dt.strftime("%Y-%m").unique()) == ["2023-06", "2023-07", "2023-08"]
    assert train.max() < valid.min()  # no training row after validation starts
    assert len(train) + len(valid) + len(test) == len(times)


def test_a_test_file_names_exactly_the_test_rows(tmp_path: Path) -> None:
    fs = dispute_like()
    chosen = pd.DataFrame({"grid_id": ["G002", "G003", "G002"], "month": ["2023-10-01", "2023-10-01", "2024-02-01"]})
    path = tmp_path / "test_rows.csv"
    chosen.to_csv(path, index=False)
    times, split = split_of(fs, test_file=str(path))
    held = fs.frame.iloc[split.test][["grid_id", "month"]]
    assert sorted(zip(held["grid_id"], held["month"].dt.strftime("%Y-%m-%d"), strict=True)) == sorted(
        zip(chosen["grid_id"], chosen["month"], strict=True)
    )
    # validation: the 3 months before the first test month; nothing trains or validates after a test month
    assert sorted(times.iloc[split.valid].dt.strftime("%Y-%m").unique()) == ["2023-07", "2023-08", "2023-09"]
    assert times.iloc[split.train].max() < pd.Timestamp("2023-07-01")
    assert not set(split.test) & (set(split.train) | set(split.valid))


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("grid_id\nG001\n", "lacks the key column(s) month; a row is named by grid_id, month"),
        ("grid_id,month\nG001,2023-13-45\n", "row 1, field month: '2023-13-45' is not a date"),
        ("grid_id,month\nG001,2023-10-01\nG999,2023-10-01\n", "row 2 (grid_id='G999', month='2023-10-01') is no row"),
        ("grid_id,month\nG001,2023-10-01\nG001,2023-10-01\n", "row 2 names the same row as an earlier one"),
        ("grid_id,month\n", "holds no row"),
    ],
)
def test_a_bad_test_file_is_refused_naming_its_row_and_field(tmp_path: Path, rows: str, message: str) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(rows, encoding="utf-8")
    with pytest.raises(ValueError, match="test file") as err:
        split_of(dispute_like(), test_file=str(path))
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("test_from", "message"),
    [
        ("2023/09", "test_from must be a month YYYY-MM (or a date YYYY-MM-DD), got '2023/09'"),
        ("2023-02-30", "is no calendar date"),
    ],
)
def test_a_bad_test_month_is_a_config_error(test_from: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"split\.test_from") as err:
        load_config(default_config_path("dispute"), **{"split.test_from": test_from})
    assert message in str(err.value)


def test_a_missing_test_file_or_both_choices_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a file"):
        load_config(default_config_path("dispute"), **{"split.test_file": str(tmp_path / "nope.csv")})
    path = tmp_path / "rows.csv"
    path.write_text("grid_id,month\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="give test_from or test_file, not both"):
        load_config(default_config_path("dispute"), **{"split.test_file": str(path), "split.test_from": "2023-01"})


def test_a_test_month_outside_the_data_says_which_months_would_do() -> None:
    times = pd.Series(pd.date_range("2022-01-01", periods=12, freq="MS"))
    with pytest.raises(ValueError, match=r"test from 2023-03 .* leaves an empty slice.*not after 2022-12"):
        split_from_month(times, "2023-03", valid_months=2)
    with pytest.raises(ValueError, match=r"'train': 0"):
        split_from_month(times, "2022-02", valid_months=2)


def test_disease_refuses_a_test_month_and_holds_out_the_people_a_file_names(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(60)],
            "x": np.arange(60.0),
            "htn": [float(i % 3 == 0) for i in range(60)],
        }
    )
    fs = FeatureSet("disease", frame, ["patient_id"], None, ["x"], targets=["htn"])
    cfg = load_config(default_config_path("disease"), **{"split.test_from": "2024-01"})
    with pytest.raises(ValueError, match="disease is split by person"):
        plan_for("disease").split(fs, cfg)
    path = tmp_path / "people.csv"
    path.write_text("patient_id\nP003\nP010\nP042\n", encoding="utf-8")
    split = plan_for("disease").split(fs, load_config(default_config_path("disease"), **{"split.test_file": str(path)}))
    assert frame["patient_id"].iloc[split.test].tolist() == ["P003", "P010", "P042"]
    assert len(split.train) + len(split.valid) == 57 and not set(split.test) & set(split.valid)


def test_train_refuses_a_bad_test_month_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUZHANG_WORK_DIR", str(tmp_path / "state"))
    result = CliRunner().invoke(app, ["train", "dispute", "--test-from", "2024-13"])
    assert result.exit_code == 1
    assert "split.test_from: Value error, test_from must be a month YYYY-MM" in result.output


def test_a_retrains_recent_split_and_a_chosen_test_set_merge_into_one_set_of_overrides(tmp_path: Path) -> None:
    from training.pipeline import experiment_overrides

    recent = {"split.test_from": "2025-10", "split.valid_months": 3, "num_boost_round": 40}
    merged = experiment_overrides(recent, None, None)
    assert merged == recent  # a retrain's overrides reach the config once (they once clashed with the CLI's)
    cfg = load_config(default_config_path("market"), **merged)
    assert (cfg.split.test_from, cfg.split.valid_months, cfg.num_boost_round) == ("2025-10", 3, 40)
    assert experiment_overrides(recent, "2025-07", None)["split.test_from"] == "2025-07"  # the command line wins
    assert experiment_overrides(None, None, tmp_path / "rows.csv") == {"split.test_file": str(tmp_path / "rows.csv")}
