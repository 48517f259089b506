"""The county rotation plan: which grids rest, which are held in reserve, which livestock moves where.

A transport problem solved with HiGHS (``scipy.optimize.linprog``): grids with stock above capacity
(and every grid that must rest) send their excess to grids with spare capacity, so that every grid ends
at or under its NY/T 635 capacity with the least moving distance (SU·km). Stock that no grid can take is
*shortfall*: it leaves the pasture, sold or fed on hay, and makes the plan infeasible.

Decision rules (all in :class:`RotationConfig`, all named here):

* **Rest**: a ``must_rest`` grid (degraded, under a ban) ends with 0 SU; its whole herd moves out.
* **Reserve** (:func:`select_reserve_grids`): per township the ``reserve_per_township`` eligible grids
  with the most spare capacity are held back as an emergency forage bank (snow, drought). A reserve
  receives nobody; it keeps its own herd up to capacity (moving herders off it saves no forage) and
  sends any excess like any other grid. Reserves are never opened to avoid a shortfall: the planner
  sees the room they hold (``reserve_room_su``) and decides.
* **Townships**: a move across a township border costs ``cross_township_penalty`` km-equivalents per SU
  on top of its distance, larger than any road distance in the county, so the solver crosses only when
  the own township cannot absorb its excess.
* **Shortfall** costs ``shortfall_penalty`` per SU, far above any move, so it is used only when no grid
  has room left.

Whole sheep units: stocking is rounded to the nearest SU and capacity down to a whole SU (so "at or
under capacity" holds for the true capacity). With integer supplies and capacities the transport matrix
is totally unimodular and the simplex optimum is integral; moves are floored after the solve (removing
float noise only) and each sender's shortfall is recomputed as its excess minus what it sends, so
conservation (SU before = SU after + shortfall) and capacities hold exactly after rounding.

Only sender → receiver arcs exist (a chain i → j → k is never shorter than i → k). The LP starts from the
``k_nearest`` receivers inside and outside each sender's township and adds every arc with a negative
reduced cost (column generation on the HiGHS duals) until none is left, so the plan is optimal over all
sender × receiver pairs while the LP stays small.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

from muzhang.domain import DEFAULT_DOMAIN, grazing_pressure

# Track distance / straight-line distance on the plateau (assumption). Same figure as the simulator's
# muzhang.simulate.geography.ROAD_WINDING (a test keeps them equal); serving does not import the simulator.
ROAD_WINDING = 1.3
CROSS_TOWNSHIP_PENALTY_KM = 1_000.0  # per SU; Dari is ~200 km across by road, so crossing never pays
SHORTFALL_PENALTY_KM = 100_000.0  # per SU; selling or feeding only when no grid has room
K_NEAREST = 10  # starting receivers per sender, inside and outside its township (pricing adds the rest)
MAX_PRICING_ROUNDS = 50
REDUCED_COST_TOL = 1e-7
REQUIRED_COLUMNS = ("grid_id", "township_id", "x_km", "y_km", "capacity_su", "stocking_su")
OPTIONAL_COLUMNS = {"must_rest": False, "reserve_eligible": True}
# Per-grid actions, in the order they take precedence when several apply.
ACTIONS = ("rest", "reserve", "destock", "send", "receive", "graze")

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RotationConfig:
    """Decision rules of the rotation plan.

    Attributes:
        reserve_per_township: grids held back per township (DOMAIN.md: 1-2 reserve paddocks).
        cross_township_penalty: km-equivalents per SU added to a move across a township border.
        shortfall_penalty: km-equivalents per SU left without pasture; must exceed any move's cost.
        k_nearest: receivers per sender inside and outside its township in the first LP.
        road_winding: road distance / straight-line distance between grid centroids.
        season_days: grazing days of the season (warm season: 122 d), for the hay estimate.
        feed_kg_per_su_day: hay per SU per day for the shortfall. Stock kept entirely off pasture eats
            the full NY/T 635 intake (1.8 kg); DB63/T 2298's 0.5 kg is a supplement, not a ration.
    """

    reserve_per_township: int = DEFAULT_DOMAIN.reserve_grids_per_township
    cross_township_penalty: float = CROSS_TOWNSHIP_PENALTY_KM
    shortfall_penalty: float = SHORTFALL_PENALTY_KM
    k_nearest: int = K_NEAREST
    road_winding: float = ROAD_WINDING
    season_days: int = DEFAULT_DOMAIN.season_days["warm"]
    feed_kg_per_su_day: float = DEFAULT_DOMAIN.su_daily_intake_kg  # stock off pasture eats a full ration

    def __post_init__(self) -> None:
        checks = {
            "reserve_per_township": self.reserve_per_township >= 0,
            "cross_township_penalty": self.cross_township_penalty >= 0,
            "shortfall_penalty": self.shortfall_penalty > self.cross_township_penalty,
            "k_nearest": self.k_nearest >= 1,
            "road_winding": self.road_winding >= 1.0,
            "season_days": self.season_days > 0,
            "feed_kg_per_su_day": self.feed_kg_per_su_day >= 0,
        }
        bad = [f"{name}={getattr(self, name)!r}" for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid RotationConfig: {', '.join(bad)}")


@dataclass(frozen=True)
class RotationPlan:
    """A season's rotation plan. ``feasible`` is False when any SU must be sold or fed; the best placement
    is still given, with the shortfall per township."""

    feasible: bool
    status: str  # HiGHS's message for the final LP
    moves: pd.DataFrame  # from_grid, to_grid, from_township, to_township, su, distance_km, su_km
    grids: pd.DataFrame  # grid_id, township_id, action, su_before, su_in, su_out, shortfall_su, su_after, ...
    totals: dict[str, float]
    shortfall: pd.DataFrame  # township_id, shortfall_su, hay_t, reserve_room_su
    config: RotationConfig = field(default_factory=RotationConfig)
    solve_seconds: float = 0.0

    def summary(self, lang: str = "en") -> str:
        """One plain sentence for the planner, in English (``en``) or Chinese (``zh``)."""
        t = self.totals
        if lang == "zh":
            moved = (
                f"{t['moves']:.0f}次转移共{t['su_moved']:,.0f}个羊单位（{t['su_km']:,.0f}羊单位·千米，"
                f"其中跨乡镇{t['moves_across_township']:.0f}次）；{t['grids_resting']:.0f}个网格休牧，"
                f"{t['reserves']:.0f}个网格留作储备"
            )
            if self.feasible:
                return f"方案可行：{moved}，所有网格均不超过合理载畜量。"
            worst = self.shortfall.sort_values("shortfall_su", ascending=False).iloc[0]
            return (
                f"方案不可行：需出栏或舍饲{t['shortfall_su']:,.0f}个羊单位（{self.config.season_days}天约需干草"
                f"{t['hay_t']:,.1f}吨），缺口最大的是{worst['township_id']}（{worst['shortfall_su']:,.0f}个羊单位）；"
                f"最佳安排：{moved}。"
            )
        moved = (
            f"{t['su_moved']:,.0f} SU move {t['su_km']:,.0f} SU·km in {t['moves']:.0f} moves "
            f"({t['moves_across_township']:.0f} across township borders); {t['grids_resting']:.0f} grids "
            f"rest and {t['reserves']:.0f} reserve grids are held back"
        )
        if self.feasible:
            return f"Feasible: {moved}, and every grid ends at or under capacity."
        worst = self.shortfall.sort_values("shortfall_su", ascending=False).iloc[0]
        return (
            f"Not feasible: {t['shortfall_su']:,.0f} SU must be sold or fed "
            f"({t['hay_t']:,.1f} t hay for {self.config.season_days} days at "
            f"{self.config.feed_kg_per_su_day} kg/SU/day), most in {worst['township_id']} "
            f"({worst['shortfall_su']:,.0f} SU); best placement: {moved}."
        )


def validate_rotation_input(grids: pd.DataFrame) -> pd.DataFrame:
    """Check the per-grid input and return a clean copy with optional columns filled in.

    Raises:
        ValueError: a required column is missing, a grid id repeats, or a number is missing or negative.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in grids.columns]
    if missing:
        raise ValueError(f"rotation input lacks columns: {missing}")
    out = grids.reset_index(drop=True).copy()
    for column, default in OPTIONAL_COLUMNS.items():
        out[column] = out[column].fillna(default).astype(bool) if column in out else default
    if out["grid_id"].duplicated().any():
        raise ValueError(f"repeated grid_id: {sorted(out.loc[out['grid_id'].duplicated(), 'grid_id'])}")
    numbers = out[["x_km", "y_km", "capacity_su", "stocking_su"]].astype(float)
    if numbers.isna().any().any():
        raise ValueError(f"missing values in: {numbers.columns[numbers.isna().any()].tolist()}")
    negative = [c for c in ("capacity_su", "stocking_su") if (numbers[c] < 0).any()]
    if negative:
        raise ValueError(f"negative values in: {negative}")
    out[numbers.columns] = numbers
    return out


def select_reserve_grids(grids: pd.DataFrame, per_township: int) -> npt.NDArray[np.bool_]:
    """The reserve rule: per township, the ``per_township`` eligible grids with the most spare capacity.

    Eligible: ``reserve_eligible`` and not ``must_rest``. Spare capacity (capacity - stocking, at least 0)
    is the forage a reserve banks for snow or drought; ties go to the lower grid id.
    """
    eligible = grids["reserve_eligible"].to_numpy(bool) & ~grids["must_rest"].to_numpy(bool)
    spare = (grids["capacity_su"] - grids["stocking_su"]).clip(lower=0)
    ranked = (
        grids.assign(_spare=spare)[eligible]
        .sort_values(["township_id", "_spare", "grid_id"], ascending=[True, False, True])
        .groupby("township_id", sort=False)
        .head(per_township)
    )
    return grids.index.isin(ranked.index)


def compute_road_distances(xy_from: FloatArray, xy_to: FloatArray, winding: float) -> FloatArray:
    """Road distance (km) between every pair of centroids: straight line x winding factor."""
    return np.asarray(winding * np.hypot(*(xy_from[:, None, :] - xy_to[None, :, :]).transpose(2, 0, 1)))


def _starting_arcs(cost: FloatArray, same: npt.NDArray[np.bool_], k: int) -> npt.NDArray[np.bool_]:
    """Arcs to each sender's ``k`` cheapest receivers inside and ``k`` outside its township."""
    chosen = np.zeros(cost.shape, dtype=bool)
    k = min(k, cost.shape[1])
    for mask in (same, ~same):
        masked = np.where(mask, cost, np.inf)
        nearest = np.zeros(cost.shape, dtype=bool)
        np.put_along_axis(nearest, np.argsort(masked, axis=1)[:, :k], True, axis=1)
        chosen |= nearest & np.isfinite(masked)
    return chosen


def _solve_transport(
    cost: FloatArray, excess: IntArray, room: IntArray, arcs: npt.NDArray[np.bool_], penalty: float
) -> tuple[IntArray, IntArray, str]:
    """Min-cost transport of ``excess`` into ``room`` with a shortfall slack per sender.

    Column generation: solve on ``arcs``, add every sender × receiver arc whose reduced cost under the
    HiGHS duals is negative, repeat. Returns whole-SU flows (senders × receivers), shortfall, HiGHS status.
    """
    n_s, n_r = cost.shape
    note = "pricing stopped early: the plan may not be the shortest"
    for rounds in range(1, MAX_PRICING_ROUNDS + 1):
        rows, cols = np.nonzero(arcs)
        n_arcs = rows.size
        x_idx = np.arange(n_arcs)
        a_eq = sparse.csr_array(
            (np.ones(n_arcs + n_s), (np.r_[rows, np.arange(n_s)], np.r_[x_idx, n_arcs + np.arange(n_s)])),
            shape=(n_s, n_arcs + n_s),
        )
        a_ub = sparse.csr_array((np.ones(n_arcs), (cols, x_idx)), shape=(n_r, n_arcs + n_s))
        res = linprog(
            np.r_[cost[rows, cols], np.full(n_s, penalty)],
            A_ub=a_ub,
            b_ub=room.astype(float),
            A_eq=a_eq,
            b_eq=excess.astype(float),
            bounds=(0, None),
            method="highs-ds",  # simplex: a vertex optimum, integral for this totally unimodular matrix
        )
        if res.status != 0:
            raise RuntimeError(f"HiGHS failed on the rotation LP: {res.message}")
        reduced = cost - res.eqlin.marginals[:, None] - res.ineqlin.marginals[None, :]
        entering = (reduced < -REDUCED_COST_TOL) & ~arcs
        if not entering.any():
            note = f"{rounds} LP rounds, {n_arcs} arcs"
            break
        arcs = arcs | entering
    flows, short = _floor_flows(res.x, rows, cols, excess, n_r)
    return flows, short, f"{res.message} ({note})"


def _floor_flows(
    x: FloatArray, rows: IntArray, cols: IntArray, excess: IntArray, n_r: int
) -> tuple[IntArray, IntArray]:
    """Whole-SU flows (float noise removed, see module doc) and each sender's shortfall = excess - sent."""
    flows = np.zeros((excess.size, n_r), dtype=np.int64)
    flows[rows, cols] = np.floor(x[: rows.size] + 1e-6).astype(np.int64)
    return flows, excess - flows.sum(axis=1)


def plan_rotation(grids: pd.DataFrame, config: RotationConfig = RotationConfig()) -> RotationPlan:
    """Plan a season's rotation: every grid ends at or under capacity with the least SU·km moved.

    Args:
        grids: one row per grid area with ``grid_id``, ``township_id``, ``x_km``, ``y_km`` (local plane),
            ``capacity_su`` (NY/T 635 capacity for the season), ``stocking_su``, and optionally
            ``must_rest`` and ``reserve_eligible`` (booleans).
        config: decision rules.

    Returns:
        The plan; ``feasible`` is False when some stock must be sold or fed (see ``shortfall``).
    """
    started = time.perf_counter()
    g = validate_rotation_input(grids)
    rest = g["must_rest"].to_numpy(bool)
    reserve = select_reserve_grids(g, config.reserve_per_township)
    before = np.floor(g["stocking_su"].to_numpy() + 0.5).astype(np.int64)
    limit = np.where(rest, 0, np.floor(g["capacity_su"].to_numpy() + 1e-9)).astype(np.int64)
    excess = np.maximum(before - limit, 0)
    room = np.where(reserve | rest, 0, np.maximum(limit - before, 0))
    senders, receivers = np.flatnonzero(excess > 0), np.flatnonzero(room > 0)
    xy = g[["x_km", "y_km"]].to_numpy(float)
    distance = compute_road_distances(xy[senders], xy[receivers], config.road_winding)
    town = g["township_id"].to_numpy()
    same = town[senders][:, None] == town[receivers][None, :]
    if senders.size and receivers.size:
        cost = distance + np.where(same, 0.0, config.cross_township_penalty)
        if cost.max() >= config.shortfall_penalty:
            raise ValueError(f"shortfall_penalty={config.shortfall_penalty} must exceed every move's cost")
        arcs = _starting_arcs(cost, same, config.k_nearest)
        flows, short, status = _solve_transport(cost, excess[senders], room[receivers], arcs, config.shortfall_penalty)
    else:
        flows, short = np.zeros(distance.shape, dtype=np.int64), excess[senders]
        status = "nothing to move" if not senders.size else "no grid has spare capacity"
    return _assemble_plan(g, rest, reserve, before, senders, receivers, flows, short, distance, status, config, started)


def _assemble_plan(
    g: pd.DataFrame,
    rest: npt.NDArray[np.bool_],
    reserve: npt.NDArray[np.bool_],
    before: IntArray,
    senders: IntArray,
    receivers: IntArray,
    flows: IntArray,
    short: IntArray,
    distance: FloatArray,
    status: str,
    config: RotationConfig,
    started: float,
) -> RotationPlan:
    """Turn the solver's flows into the planner's tables, totals and summary."""
    si, ri = np.nonzero(flows)
    town = g["township_id"].to_numpy()
    moves = pd.DataFrame(
        {
            "from_grid": g["grid_id"].to_numpy()[senders[si]],
            "to_grid": g["grid_id"].to_numpy()[receivers[ri]],
            "from_township": town[senders[si]],
            "to_township": town[receivers[ri]],
            "su": flows[si, ri],
            "distance_km": np.round(distance[si, ri], 1),
        }
    )
    moves["su_km"] = moves["su"] * distance[si, ri]
    moves = moves.sort_values(["from_grid", "to_grid"], ignore_index=True)
    su_out, su_in, shortfall = (np.zeros(len(g), dtype=np.int64) for _ in range(3))
    su_out[senders], su_in[receivers], shortfall[senders] = flows.sum(axis=1), flows.sum(axis=0), short
    after = before - su_out + su_in - shortfall
    action = np.select([rest, reserve, shortfall > 0, su_out > 0, su_in > 0], list(ACTIONS[:-1]), default=ACTIONS[-1])
    spare_kept = np.where(reserve, np.maximum(np.floor(g["capacity_su"].to_numpy() + 1e-9) - after, 0), 0)
    per_grid = pd.DataFrame(
        {
            "grid_id": g["grid_id"],
            "township_id": town,
            "action": action,
            "su_before": before,
            "su_in": su_in,
            "su_out": su_out,
            "shortfall_su": shortfall,
            "su_after": after,
            "capacity_su": g["capacity_su"],
            "pressure_after": grazing_pressure(after, g["capacity_su"]),
            "reserve_room_su": spare_kept,
        }
    )
    hay_per_su_t = config.feed_kg_per_su_day * config.season_days / 1000.0
    by_town = per_grid.groupby("township_id", as_index=False)[["shortfall_su", "reserve_room_su"]].sum()
    by_town.insert(2, "hay_t", by_town["shortfall_su"] * hay_per_su_t)
    across = moves["from_township"] != moves["to_township"]
    totals = {
        "grids": float(len(g)),
        "su_before": float(before.sum()),
        "su_after": float(after.sum()),
        "su_moved": float(moves["su"].sum()),
        "su_km": float(moves["su_km"].sum()),
        "moves": float(len(moves)),
        "moves_within_township": float((~across).sum()),
        "moves_across_township": float(across.sum()),
        "su_across_township": float(moves.loc[across, "su"].sum()),
        "grids_resting": float(rest.sum()),
        "reserves": float(reserve.sum()),
        "reserve_room_su": float(spare_kept.sum()),
        "shortfall_su": float(shortfall.sum()),
        "hay_t": float(shortfall.sum() * hay_per_su_t),
    }
    return RotationPlan(
        feasible=bool(shortfall.sum() == 0),
        status=status,
        moves=moves,
        grids=per_grid,
        totals=totals,
        shortfall=by_town,
        config=config,
        solve_seconds=time.perf_counter() - started,
    )
