"""Unit tests of the county rotation plan (transport LP on HiGHS): invariants, least distance, township
preference, reserves, shortfall, rounding, scale and the sample county."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from serving.rotation import (
    ROAD_WINDING,
    RotationConfig,
    RotationPlan,
    plan_rotation,
    select_reserve_grids,
    validate_rotation_input,
)

NO_RESERVES = RotationConfig(reserve_per_township=0)
SAMPLE = Path(__file__).resolve().parents[3] / "data_samples" / "county"


def make_grids(*rows: tuple) -> pd.DataFrame:
    """(grid_id, township_id, x_km, y_km, capacity_su, stocking_su[, must_rest]) rows as an input frame."""
    frame = pd.DataFrame(
        [(*r, False) if len(r) == 6 else r for r in rows],
        columns=["grid_id", "township_id", "x_km", "y_km", "capacity_su", "stocking_su", "must_rest"],
    )
    return frame


def assert_plan_invariants(plan: RotationPlan) -> None:
    """What every plan must satisfy, feasible or not."""
    g = plan.grids
    assert (g["su_after"] <= np.floor(g["capacity_su"] + 1e-9)).all(), "a grid ends over capacity"
    assert (g["su_after"] >= 0).all()
    assert g["su_before"].sum() == g["su_after"].sum() + g["shortfall_su"].sum(), "SU not conserved"
    assert not ((g["su_in"] > 0) & (g["su_out"] > 0)).any(), "a grid both sends and receives"
    assert (g.loc[g["action"] == "reserve", "su_in"] == 0).all(), "a reserve receives livestock"
    assert (g.loc[g["action"] == "rest", "su_after"] == 0).all(), "a resting grid keeps livestock"
    moves = plan.moves
    assert (moves["su"] > 0).all() and moves["su"].dtype.kind == "i"
    sent = moves.groupby("from_grid")["su"].sum().reindex(g["grid_id"], fill_value=0).to_numpy()
    received = moves.groupby("to_grid")["su"].sum().reindex(g["grid_id"], fill_value=0).to_numpy()
    assert (sent == g["su_out"].to_numpy()).all() and (received == g["su_in"].to_numpy()).all()
    assert plan.feasible == (plan.totals["shortfall_su"] == 0)
    assert plan.shortfall["shortfall_su"].sum() == g["shortfall_su"].sum()


def make_random_county(n: int, seed: int, *, overstock: float = 0.7) -> pd.DataFrame:
    """A seeded county of ``n`` grids in 10 townships, stock ``overstock`` x capacity in total."""
    rng = np.random.default_rng(seed)
    town = rng.integers(0, 10, n)
    centre = rng.uniform(-60, 60, (10, 2))
    xy = centre[town] + rng.normal(0, 15, (n, 2))
    capacity = rng.uniform(300, 3000, n)
    stocking = capacity * rng.lognormal(np.log(overstock), 0.5, n)
    return pd.DataFrame(
        {
            "grid_id": [f"G{i:03d}" for i in range(n)],
            "township_id": [f"T{t + 1:02d}" for t in town],
            "x_km": xy[:, 0],
            "y_km": xy[:, 1],
            "capacity_su": capacity,
            "stocking_su": stocking,
            "must_rest": rng.random(n) < 0.05,
        }
    )


def test_plan_rotation_tiny_county_is_feasible_and_keeps_every_invariant():
    grids = make_grids(
        ("G1", "A", 0, 0, 100, 150),
        ("G2", "A", 2, 0, 80, 30, True),
        ("G3", "A", 4, 0, 100, 20),
        ("G4", "A", 6, 0, 200, 10),
        ("G5", "B", 50, 0, 100, 140),
        ("G6", "B", 52, 0, 100, 40),
        ("G7", "B", 54, 0, 300, 0),
    )
    plan = plan_rotation(grids, RotationConfig(reserve_per_township=1))
    assert plan.feasible and "Optimal" in plan.status
    assert_plan_invariants(plan)
    assert plan.grids.set_index("grid_id").loc["G2", "su_after"] == 0
    assert plan.grids.set_index("grid_id")["action"].to_dict() == {
        "G1": "send",
        "G2": "rest",
        "G3": "receive",
        "G4": "reserve",  # most spare capacity in A (190 SU)
        "G5": "send",
        "G6": "receive",
        "G7": "reserve",  # most spare capacity in B (300 SU)
    }
    assert plan.summary().startswith("Feasible:")


def test_nearer_destination_inside_the_township_is_used():
    grids = make_grids(("S", "A", 0, 0, 10, 20), ("FAR", "A", 5, 0, 100, 0), ("NEAR", "A", 1, 0, 100, 0))
    plan = plan_rotation(grids, NO_RESERVES)
    assert plan.moves[["from_grid", "to_grid", "su"]].values.tolist() == [["S", "NEAR", 10]]
    assert plan.moves["distance_km"].iloc[0] == pytest.approx(ROAD_WINDING * 1.0)
    assert plan.totals["su_km"] == pytest.approx(10 * ROAD_WINDING)


def test_own_township_destination_beats_a_nearer_one_across_the_border():
    grids = make_grids(("S", "A", 0, 0, 10, 20), ("OWN", "A", 20, 0, 100, 0), ("ACROSS", "B", 1, 0, 100, 0))
    plan = plan_rotation(grids, NO_RESERVES)
    assert plan.moves[["to_grid", "su"]].values.tolist() == [["OWN", 10]]
    assert plan.totals["moves_across_township"] == 0


def test_crossing_the_border_happens_only_for_what_the_own_township_cannot_take():
    grids = make_grids(("S", "A", 0, 0, 10, 20), ("OWN", "A", 20, 0, 4, 0), ("ACROSS", "B", 1, 0, 100, 0))
    plan = plan_rotation(grids, NO_RESERVES)
    assert plan.moves.set_index("to_grid")["su"].to_dict() == {"ACROSS": 6, "OWN": 4}
    assert plan.totals["su_across_township"] == 6
    assert_plan_invariants(plan)


def test_infeasible_county_reports_the_shortfall_to_sell_or_feed():
    grids = make_grids(
        ("G1", "A", 0, 0, 100, 180),
        ("G2", "A", 3, 0, 100, 50, True),
        ("G3", "A", 6, 0, 100, 60),
        ("G4", "B", 40, 0, 100, 90),
    )
    plan = plan_rotation(grids, NO_RESERVES)
    excess = 180 + 50 + 60 + 90 - (100 + 100 + 100)  # G2 rests: its capacity does not count
    assert not plan.feasible
    assert plan.totals["shortfall_su"] == excess
    assert_plan_invariants(plan)
    assert plan.shortfall.set_index("township_id")["shortfall_su"].to_dict() == {"A": excess, "B": 0}
    hay_t = excess * RotationConfig().feed_kg_per_su_day * RotationConfig().season_days / 1000
    assert plan.totals["hay_t"] == pytest.approx(hay_t)
    assert plan.summary().startswith("Not feasible: 80 SU must be sold or fed")


def test_resting_grid_with_nowhere_to_go_still_ends_empty():
    plan = plan_rotation(make_grids(("G1", "A", 0, 0, 50, 30, True), ("G2", "A", 1, 0, 50, 50)), NO_RESERVES)
    assert not plan.feasible
    assert plan.grids["su_after"].tolist() == [0, 50]
    assert plan.grids["shortfall_su"].tolist() == [30, 0]


def test_reserve_keeps_its_own_herd_and_sends_only_its_excess():
    # Every grid in A is over capacity, so A's reserve (G1: ties go to the lower id) must send too.
    grids = make_grids(
        ("G1", "A", 0, 0, 100, 120),
        ("G2", "A", 1, 0, 100, 110),
        ("G3", "B", 2, 0, 500, 0),
        ("G4", "B", 9, 0, 400, 0),
    )
    plan = plan_rotation(grids, RotationConfig(reserve_per_township=1))
    by_id = plan.grids.set_index("grid_id")
    assert by_id.loc["G1", "action"] == "reserve"
    assert (by_id.loc["G1", "su_after"], by_id.loc["G1", "su_out"]) == (100, 20)
    assert by_id.loc["G3", "action"] == "reserve" and by_id.loc["G3", "su_in"] == 0  # nearer, held back
    assert by_id.loc["G4", "su_in"] == 30
    assert plan.shortfall.set_index("township_id").loc["B", "reserve_room_su"] == 500
    assert_plan_invariants(plan)


def test_select_reserve_grids_takes_most_spare_capacity_among_eligible_grids():
    grids = validate_rotation_input(
        make_grids(
            ("G1", "A", 0, 0, 100, 10),
            ("G2", "A", 0, 0, 100, 0, True),
            ("G3", "A", 0, 0, 100, 50),
            ("G4", "A", 0, 0, 100, 40),
        ).assign(reserve_eligible=[False, True, True, True])
    )
    assert select_reserve_grids(grids, 1).tolist() == [False, False, False, True]
    assert select_reserve_grids(grids, 2).tolist() == [False, False, True, True]
    assert not select_reserve_grids(grids, 0).any()


def test_fractional_stocking_becomes_whole_su_and_stays_under_capacity():
    grids = make_grids(("S", "A", 0, 0, 7.9, 10.4), ("R", "A", 1, 0, 20.5, 3.6))
    plan = plan_rotation(grids, NO_RESERVES)
    assert plan.grids["su_before"].tolist() == [10, 4]
    assert plan.grids["su_after"].tolist() == [7, 7]
    assert_plan_invariants(plan)


def test_nothing_to_move_gives_a_feasible_plan_without_moves():
    plan = plan_rotation(make_grids(("G1", "A", 0, 0, 50, 30), ("G2", "A", 1, 0, 50, 50)))
    assert plan.feasible and plan.moves.empty and plan.status == "nothing to move"
    assert plan.totals["su_moved"] == 0


def test_random_457_grid_county_solves_fast_with_every_invariant():
    plan = plan_rotation(make_random_county(457, seed=7), RotationConfig(reserve_per_township=2))
    assert plan.feasible
    assert_plan_invariants(plan)
    assert plan.totals["reserves"] == 20
    assert plan.solve_seconds < 1.0


def test_starting_arcs_with_pricing_reach_the_all_arcs_optimum():
    grids = make_random_county(200, seed=11, overstock=0.9)
    few = plan_rotation(grids, RotationConfig(k_nearest=1))
    every = plan_rotation(grids, RotationConfig(k_nearest=500))
    assert few.totals["su_km"] == pytest.approx(every.totals["su_km"], rel=1e-9)
    assert few.totals["su_across_township"] == every.totals["su_across_township"]
    assert few.totals["shortfall_su"] == every.totals["shortfall_su"]


def test_overstocked_random_county_is_infeasible_by_exactly_its_total_excess():
    grids = make_random_county(120, seed=3, overstock=1.6)
    plan = plan_rotation(grids, NO_RESERVES)
    usable = np.where(grids["must_rest"], 0, np.floor(grids["capacity_su"] + 1e-9))
    before = np.floor(grids["stocking_su"] + 0.5)
    assert not plan.feasible
    assert_plan_invariants(plan)
    # Without reserves every unit of room is filled, so the shortfall is total excess - total room.
    excess, room = np.maximum(before - usable, 0).sum(), np.maximum(usable - before, 0).sum()
    assert excess > room
    assert plan.totals["shortfall_su"] == excess - room


def test_validate_rotation_input_names_missing_columns():
    with pytest.raises(ValueError, match="capacity_su"):
        validate_rotation_input(make_grids(("G1", "A", 0, 0, 1, 1)).drop(columns="capacity_su"))


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [("stocking_su", -1.0, "negative"), ("capacity_su", np.nan, "missing"), ("grid_id", "G1", "repeated")],
)
def test_validate_rotation_input_rejects_bad_values(column, value, message):
    grids = make_grids(("G1", "A", 0.0, 0.0, 1.0, 1.0), ("G2", "A", 0.0, 0.0, 1.0, 1.0))
    grids.loc[1, column] = value
    with pytest.raises(ValueError, match=message):
        validate_rotation_input(grids)


def test_config_refuses_shortfall_penalty_below_the_crossing_penalty():
    with pytest.raises(ValueError, match="shortfall_penalty"):
        RotationConfig(cross_township_penalty=1_000.0, shortfall_penalty=500.0)


def test_road_winding_matches_the_simulator():
    from muzhang.simulate.geography import ROAD_WINDING as SIMULATOR_WINDING

    assert ROAD_WINDING == SIMULATOR_WINDING


def build_sample_warm_season_input(grids: pd.DataFrame, monthly: pd.DataFrame, year: int) -> pd.DataFrame:
    """Warm-season capacity (peak Jun-Sep yield, NY/T 635) and December herds of the sample county."""
    from muzhang.domain import nyt635_capacity_su, sheep_units

    warm = monthly[monthly["month"].between(f"{year}-06-01", f"{year}-09-30")]
    peak = warm.groupby("grid_id")["forage_yield_kg_ha"].max().reindex(grids["grid_id"]).to_numpy()
    december = monthly[monthly["month"] == f"{year}-12-01"].set_index("grid_id").reindex(grids["grid_id"])
    warm_area_ha = (grids["area_km2"] * 100 * grids["warm_share"]).to_numpy()
    return pd.DataFrame(
        {
            "grid_id": grids["grid_id"],
            "township_id": grids["township_id"],
            "x_km": grids["x_km"],
            "y_km": grids["y_km"],
            "capacity_su": nyt635_capacity_su(peak, warm_area_ha, grids["pasture_type"].to_numpy(), "warm"),
            "stocking_su": sheep_units({s: december[s].to_numpy() for s in ("yak", "sheep", "goat", "horse")}),
            "must_rest": (december["rest_status"] == "grazing_ban").to_numpy(),
        }
    )


@pytest.mark.slow
def test_sample_county_warm_season_plan_is_feasible_and_crosses_only_where_needed():
    grids = pd.read_csv(SAMPLE / "grids.csv")
    monthly = pd.read_parquet(SAMPLE / "grid_monthly.parquet")
    plan = plan_rotation(build_sample_warm_season_input(grids, monthly, 2024))
    assert_plan_invariants(plan)
    assert plan.feasible and plan.totals["grids"] == 457 and plan.solve_seconds < 1.0
    # Crossing is minimal: each township sends across exactly what its own room cannot take.
    g = plan.grids
    limit = np.where(g["action"] == "rest", 0, np.floor(g["capacity_su"] + 1e-9))
    room = np.where(g["action"].isin(["rest", "reserve"]), 0, np.maximum(limit - g["su_before"], 0))
    need = (
        pd.DataFrame({"t": g["township_id"], "excess": np.maximum(g["su_before"] - limit, 0), "room": room})
        .groupby("t")
        .sum()
        .pipe(lambda t: (t["excess"] - t["room"]).clip(lower=0))
    )
    across = plan.moves[plan.moves["from_township"] != plan.moves["to_township"]]
    crossed = across.groupby("from_township")["su"].sum().reindex(need.index, fill_value=0)
    assert (crossed.to_numpy() == need.to_numpy()).all()
