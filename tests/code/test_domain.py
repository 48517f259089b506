"""Unit tests of the domain rules: sheep units, NY/T 635 capacity, pressure and status."""

import numpy as np
import pytest

from muzhang.domain import (
    DEFAULT_DOMAIN,
    Domain,
    grazing_advice,
    grazing_pressure,
    grazing_status,
    is_banned,
    is_degraded,
    kept_su,
    must_rest,
    nyt635_capacity_su,
    sheep_units,
)


def test_sheep_units_use_domain_factors():
    su = sheep_units({"yak": [10, 0], "sheep": [0, 10], "horse": [1, 0]})
    assert su.tolist() == [10 * 4 + 6, 10]


def test_sheep_units_follow_a_configured_factor():
    domain = Domain(su_factors={**DEFAULT_DOMAIN.su_factors, "sheep": 0.8})
    assert sheep_units({"sheep": 10}, domain) == pytest.approx(8.0)


def test_nyt635_capacity_matches_hand_calculation():
    # 600 kg/ha x 0.80 edible x 100 ha x 0.60 utilization x 1.00 hay / (1.8 kg x 122 d)
    cap = nyt635_capacity_su(600.0, 100.0, "alpine_meadow", "warm")
    assert cap == pytest.approx(600 * 0.8 * 100 * 0.6 * 1.0 / (1.8 * 122))


def test_drought_cuts_edible_share_by_db63_2298():
    normal = nyt635_capacity_su(500.0, 50.0, "alpine_steppe", "cold")
    drought = nyt635_capacity_su(500.0, 50.0, "alpine_steppe", "cold", drought=True)
    assert drought == pytest.approx(normal * (1 - DEFAULT_DOMAIN.drought_edible_cut))


def test_capacity_rejects_unknown_pasture_type():
    with pytest.raises(KeyError):
        nyt635_capacity_su(500.0, 50.0, "desert", "warm")


def test_pressure_and_status_bands():
    p = grazing_pressure([50, 100, 150, 5, 0], [100, 100, 100, 0, 0])
    assert p[:3].tolist() == [0.5, 1.0, 1.5]
    assert np.isinf(p[3]) and p[4] == 0
    assert grazing_status(p).tolist() == ["under", "balanced", "over", "over", "under"]


def test_more_sheep_units_never_lower_pressure():
    su = np.linspace(0, 5000, 50)
    assert np.all(np.diff(grazing_pressure(su, 1234.0)) >= 0)


def test_season_of_month_covers_the_year():
    seasons = [DEFAULT_DOMAIN.season_of_month(m) for m in range(1, 13)]
    assert seasons.count("warm") == 4 and seasons.count("cold") == 7 and seasons.count("transition") == 1
    days = sum(DEFAULT_DOMAIN.season_days.values())
    assert days == 365
    with pytest.raises(ValueError):
        DEFAULT_DOMAIN.season_of_month(13)


def test_grazing_advice_graze_rotate_rest():
    action, move = grazing_advice(
        pressure=[0.8, 1.3, 1.7, 0.9],
        stocking_su=[80, 130, 170, 90],
        capacity_su=[100, 100, 100, 100],
        yield_ratio=[1.0, 1.0, 1.0, 0.6],  # the last grid's forecast yield fell 40 %: moderate degradation
    )
    assert action.tolist() == ["graze", "rotate", "rest", "rest"]
    assert move.tolist() == [0, 30, 170, 90]


def test_grazing_advice_threshold_is_configurable():
    action, _ = grazing_advice([1.3], [130], [100], [1.0], Domain(rest_pressure=1.25))
    assert action.tolist() == ["rest"]


def test_season_days_match_the_calendar_of_season_months():
    # season_days are NY/T 635 grazing days kept apart from season_months; by default they are the same months
    days_in_month = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    for season, months in DEFAULT_DOMAIN.season_months.items():
        assert DEFAULT_DOMAIN.season_days[season] == sum(days_in_month[m - 1] for m in months), season


def test_season_start_month_is_the_first_listed_month():
    assert {s: DEFAULT_DOMAIN.season_start_month(s) for s in ("warm", "cold", "transition")} == {
        "warm": 6,
        "cold": 10,
        "transition": 5,
    }
    later = Domain(season_months={"warm": (6, 7, 8, 9, 10), "cold": (11, 12, 1, 2, 3, 4), "transition": (5,)})
    assert later.season_start_month("cold") == 11


def test_drought_rule_figures_live_in_the_domain():
    assert DEFAULT_DOMAIN.drought_rain_ratio == 0.82
    assert DEFAULT_DOMAIN.drought_growing_months == (5, 6, 7, 8)
    assert DEFAULT_DOMAIN.drought_seasons == ("warm", "cold")


def test_is_degraded_at_moderate_loss_and_unknown_is_not():
    assert is_degraded([1.0, 0.71, 0.70, 0.5, np.nan]).tolist() == [False, False, True, True, False]
    assert is_degraded([0.75], Domain(degradation_moderate=0.25)).tolist() == [True]


def test_is_banned_from_last_months_rested_share():
    assert is_banned([0.0, 0.49, 0.5, 0.8, np.nan]).tolist() == [False, False, True, True, False]
    assert is_banned([0.4], Domain(banned_rest_share=0.4)).tolist() == [True]


def test_must_rest_is_exactly_the_advised_rest():
    # one rule: the plan empties every grid the advice tells to rest, and no other
    assert must_rest(["rest", "rotate", "graze", "rest"]).tolist() == [True, False, False, True]


def test_grazing_advice_moves_whole_su_over_whole_capacity():
    # pressure 1.05 is inside the balance band, but the advice moves what is over capacity, as the plan does
    action, move = grazing_advice([1.05, 1.0, 0.999], [105.2, 100.4, 99.9], [100.0, 100.0, 100.0], [1.0] * 3)
    assert action.tolist() == ["rotate", "graze", "graze"]
    assert move.tolist() == [5, 0, 0]
    assert kept_su(action, [105.2, 100.4, 99.9], move).tolist() == [100, 100, 100]


def test_grazing_advice_rests_where_is_degraded_says_so():
    domain = Domain(degradation_moderate=0.2)
    ratio = [0.79, 0.81]
    action, _ = grazing_advice([1.0, 1.0], [100, 100], [100, 100], ratio, domain)
    assert (action == "rest").tolist() == is_degraded(ratio, domain).tolist() == [True, False]
