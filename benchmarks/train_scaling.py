"""Training time of one family against the number of rows, and the fitted growth exponent.

Fits the dispute booster with the experiment's LightGBM parameters (``experiments/dispute.yaml``, seed and
monotone constraints as training sets them) for a fixed number of rounds (no validation slice, no early
stopping) on 10^4, 10^5 and 10^6 rows. The county in ``MUZHANG_DATA_DIR`` has one dispute row per grid and
month (the sample: 457 x 120 = 54,840); every size is **bootstrapped** from that frame -- rows drawn with
replacement, numeric features jittered with Gaussian noise (``--noise`` x the column's standard deviation;
categories and missing values kept) so LightGBM sees new distinct values rather than copies. Simulating
10^6 real rows (~8,300 grids x 120 months) would take far longer than the fit being measured.

Prints, per size, the Dataset construction (binning) time, the boosting time and the total, then the slope
of log(time) against log(rows): 1.0 means linear. Figures, not asserts. About 1-2 minutes on 2 idle cores;
a size whose fit, projected from the previous one, would end past ``--budget`` seconds is skipped and said so.
On a busy machine LightGBM's OpenMP threads spin while waiting for each other: compare ``--threads 1`` or
``OMP_WAIT_POLICY=passive``.

    MUZHANG_WORK_DIR=work .venv/bin/python benchmarks/train_scaling.py [--max-rows 1000000] [--rounds 200]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import lightgbm as lgb
import numpy as np

SIZES = (10_000, 100_000, 1_000_000)
FAMILY = "dispute"


def bootstrap(
    x: np.ndarray, y: np.ndarray, n: int, numeric: list[int], noise: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows drawn with replacement; numeric columns jittered by ``noise`` x their standard deviation."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(x), n)
    xb, yb = x[rows], y[rows]
    if noise > 0:
        sd = np.nanstd(x[:, numeric], axis=0)
        xb[:, numeric] += rng.normal(0.0, 1.0, (n, len(numeric))) * (noise * sd)
    return xb, yb


def fit_once(
    x: np.ndarray, y: np.ndarray, params: dict[str, Any], categorical: list[int], names: list[str], rounds: int
) -> tuple[float, float]:
    """Seconds to build the Dataset (binning) and to boost ``rounds`` trees."""
    t = time.perf_counter()
    data = lgb.Dataset(x, y, feature_name=names, categorical_feature=categorical, params=params).construct()
    built = time.perf_counter()
    booster = lgb.train(params, data, num_boost_round=rounds)
    boosted = time.perf_counter()
    assert booster.current_iteration() == rounds
    return built - t, boosted - built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-rows", type=int, default=SIZES[-1], help="Largest size (default 1,000,000).")
    parser.add_argument("--rounds", type=int, default=200, help="Boosting rounds, fixed (default 200).")
    parser.add_argument("--noise", type=float, default=0.05, help="Jitter of numeric features, in SDs (0.05).")
    parser.add_argument("--repeats", type=int, default=3, help="Fits per size under 10 s; the best is kept (3).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the bootstrap.")
    parser.add_argument("--threads", type=int, default=None, help="LightGBM num_threads (default: the experiment's).")
    parser.add_argument(
        "--budget", type=float, default=300.0, help="Skip a size whose projected fit would end past this many s (300)."
    )
    args = parser.parse_args()
    load, start = os.getloadavg(), time.perf_counter()

    from features import build_features, load_county
    from models.bundle import FeatureEncoder
    from muzhang.settings import get_settings
    from training.config import default_config_path, load_config
    from training.engine import select_features
    from training.fit import booster_params

    settings = get_settings()
    cfg = load_config(default_config_path(FAMILY))
    fs = build_features(FAMILY, load_county(settings.data_dir))
    features = select_features(fs, cfg)
    encoder = FeatureEncoder(features, {f: fs.categorical[f] for f in features if f in fs.categorical})
    x = encoder.encode(fs.frame)
    y = fs.frame["any_dispute"].to_numpy(dtype=float)
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    categorical = encoder.categorical_indices
    numeric = [j for j in range(len(features)) if j not in categorical]
    monotone = [fs.monotone.get(f, 0) for f in features]
    params = booster_params(cfg.lightgbm, "binary", seed=cfg.seed, monotone=monotone)
    if args.threads is not None:
        params["num_threads"] = args.threads

    sizes = [n for n in SIZES if n <= args.max_rows]
    if args.max_rows not in sizes:
        sizes.append(args.max_rows)
    print(f"# Training scaling: {FAMILY}, {args.rounds} rounds (no early stopping), experiment params")
    print(
        f"{os.cpu_count()} cores, lightgbm {lgb.__version__} num_threads={params['num_threads']} "
        f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}); load average before "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
    )
    print(
        f"source: the county's dispute frame, {len(x):,} rows x {len(features)} features; every size is "
        f"bootstrapped from it (rows with replacement, numeric jitter {args.noise:g} SD), not simulated"
    )
    print(f"params: {', '.join(f'{k}={v}' for k, v in params.items() if k != 'monotone_constraints')}")
    print()
    print(f"{'rows':>10}{'build s':>10}{'boost s':>10}{'total s':>10}{'us/row':>9}{'ms/round':>10}{'fits':>6}")
    totals: list[float] = []
    boosts: list[float] = []
    measured: list[int] = []
    for n in sizes:
        if totals and (elapsed := time.perf_counter() - start) + totals[-1] * n / measured[-1] > args.budget:
            print(
                f"{n:>10,}  skipped: a fit projected at ~{totals[-1] * n / measured[-1]:.0f} s would end past "
                f"--budget {args.budget:.0f} s ({elapsed:.0f} s spent)"
            )
            break
        xb, yb = bootstrap(x, y, n, numeric, args.noise, args.seed)
        best: tuple[float, float] | None = None
        spent, fits = 0.0, 0
        while fits < args.repeats and (fits == 0 or spent < 10.0):
            built, boosted = fit_once(xb, yb, params, categorical, features, args.rounds)
            fits, spent = fits + 1, spent + built + boosted
            if best is None or built + boosted < sum(best):
                best = (built, boosted)
        assert best is not None
        measured.append(n)
        totals.append(sum(best))
        boosts.append(best[1])
        print(
            f"{n:>10,}{best[0]:>10.2f}{best[1]:>10.2f}{sum(best):>10.2f}{1e6 * sum(best) / n:>9.2f}"
            f"{1000 * best[1] / args.rounds:>10.1f}{fits:>6}",
            flush=True,
        )
        del xb, yb
    print()
    if len(measured) >= 2:
        logn = np.log10(measured)
        slope = float(np.polyfit(logn, np.log10(totals), 1)[0])
        slope_boost = float(np.polyfit(logn, np.log10(boosts), 1)[0])
        last = float(np.polyfit(logn[-2:], np.log10(totals[-2:]), 1)[0])
        print(
            f"growth exponent (slope of log time vs log rows, {measured[0]:,}-{measured[-1]:,}): {slope:.2f} total, "
            f"{slope_boost:.2f} boosting only; {last:.2f} between the two largest sizes (1.0 = linear)"
        )
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
