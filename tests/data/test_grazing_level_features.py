"""The grid's own level read from its monthly record (issue 12): no look-ahead, and what each feature knows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from features import CountyTables, FeatureSet, build_features
from features.grazing import interval_group
from features.grazing_level import LEVEL_FEATURES, TARGET_BASE, growth_seen

SEASON_STARTS = ("2017-05-01", "2017-06-01", "2017-10-01")  # transition, warm and cold 2017


def yields_doubled_from(small_tables: CountyTables, cutoff: pd.Timestamp) -> CountyTables:
    """Every forage yield and rain figure from ``cutoff`` on changed (the season's own yield among them)."""
    out = small_tables.grid_monthly.copy()
    later = out["month"] >= cutoff
    for col in ("forage_yield_kg_ha", "precip_mm"):
        out.loc[later, col] = out.loc[later, col] * 2.0 + 5.0
    return dataclasses.replace(small_tables, grid_monthly=out)


@pytest.mark.parametrize("start", SEASON_STARTS)
def test_level_features_never_read_the_season_they_forecast(
    small_tables: CountyTables, small_grazing: FeatureSet, start: str
) -> None:
    """Risk: the season's realised yield leaking into its own forecast. Changing the yields of the season
    starting at ``start`` and of every later month leaves the level features of every row decided before
    it (all leads of that season included) unchanged, and changes those of later rows."""
    when = pd.Timestamp(start)
    changed = build_features("grazing", yields_doubled_from(small_tables, when))
    columns = [*small_grazing.keys, *LEVEL_FEATURES]

    def part(fs: FeatureSet, before: bool) -> pd.DataFrame:
        seen = fs.frame[fs.as_of_col] < when
        return fs.frame.loc[seen if before else ~seen, columns].sort_values(fs.keys, ignore_index=True)

    before = part(small_grazing, True)
    own_season = small_grazing.frame[small_grazing.frame["season_start"] == when]
    assert len(own_season) == 12 * own_season["grid_id"].nunique() > 0  # every lead of it is decided before
    pd.testing.assert_frame_equal(before, part(changed, True))
    assert not part(small_grazing, False).equals(part(changed, False))


def test_standing_forage_is_last_months_against_the_grids_usual_for_that_month(
    small_tables: CountyTables, small_grazing: FeatureSet
) -> None:
    """A cold season forecast in August sees July's growth: July's yield over the geometric mean of the
    grid's earlier Julys, by hand."""
    row = small_grazing.frame[(small_grazing.frame["season"] == "cold") & (small_grazing.frame["season_year"] == 2017)]
    row = row[row["lead_months"] == 3].iloc[0]  # decided in August 2017, last month of data July 2017
    assert pd.Timestamp(row["as_of_month"]) == pd.Timestamp("2017-07-01")
    monthly = small_tables.grid_monthly[small_tables.grid_monthly["grid_id"] == row["grid_id"]].set_index("month")
    julys = monthly.loc[monthly.index.month == 7, "forage_yield_kg_ha"]
    usual = np.exp(np.log(julys[julys.index.year < 2017]).mean())
    assert row["standing_forage_vs_usual"] == pytest.approx(julys[pd.Timestamp("2017-07-01")] / usual - 1)


def test_this_years_growth_is_known_only_once_its_growing_year_has_begun(small_grazing: FeatureSet) -> None:
    """A cold season forecast from May-September sees this year's growth; a warm one only from May (lead 1);
    a transition season (May) never does: the feature is there exactly then."""
    frame = small_grazing.frame
    seen = growth_seen(frame)
    known = frame["standing_forage_vs_usual"].notna().to_numpy()
    assert not (known & ~seen).any()
    leads = frame.loc[seen, ["season", "lead_months"]].drop_duplicates()
    assert set(map(tuple, leads.to_numpy())) == {("warm", 1), *(("cold", k) for k in range(1, 6))}
    later = (frame["season_year"] >= frame["season_year"].min() + 2).to_numpy()  # a past year of the month
    assert known[seen & later].mean() > 0.95


def test_every_row_has_an_expected_yield_for_the_log_ratio_target(small_grazing: FeatureSet) -> None:
    """Even a row decided before any yield is on record (the log-ratio target needs a base everywhere)."""
    assert small_grazing.frame[TARGET_BASE].gt(0).all()


def test_expected_yield_follows_the_grids_level_against_the_county(small_grazing: FeatureSet) -> None:
    """A grid that has stood above the county keeps a higher expected yield than one below, in the same
    season, year and lead (the base the model's log-ratio target is relative to)."""
    frame = small_grazing.frame.dropna(subset=[TARGET_BASE, "yield_vs_county_recent"])
    same = frame.groupby(["season", "season_year", "lead_months"])
    corr = same[[TARGET_BASE, "yield_vs_county_recent"]].corr(method="spearman").xs(TARGET_BASE, level=-1)
    assert corr["yield_vs_county_recent"].min() > 0.99
    realised = same[["forage_yield_kg_ha", TARGET_BASE]].corr(method="spearman").xs("forage_yield_kg_ha", level=-1)
    assert realised[TARGET_BASE].dropna().median() > 0.7  # and it ranks grids as their seasons turn out


def test_interval_groups_are_season_then_lead(small_grazing: FeatureSet) -> None:
    groups = interval_group(small_grazing.frame.head(3))
    expected = [f"{s}|{int(k)}" for s, k in small_grazing.frame.head(3)[["season", "lead_months"]].to_numpy()]
    assert list(groups) == expected
    assert np.unique(interval_group(small_grazing.frame)).size == 3 * 12
