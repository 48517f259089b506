"""Batch explanations: rows explained per second by Muzhang and by ``shap.TreeExplainer`` on the same boosters.

For every family, loads its registered champion (``models:/muzhang-<family>@champion`` in the store the
settings point at), draws ``--rows`` rows of the family's feature frame (the county in ``MUZHANG_DATA_DIR``,
drawn with replacement when the frame is smaller) and encodes them as serving does. For each task of the
family (dispute 1, grazing 1, market 2, disease 4) it times, best of ``--repeats`` (fewer repeats once one
measurement has taken 10 s):

* ``contributions``: :func:`serving.explain.contributions` -- LightGBM ``pred_contrib`` (exact TreeSHAP);
* ``with sentences``: :func:`serving.scoring.common.explain_many` -- the same plus each row's top reasons,
  labels, sentence and response schema, i.e. the explanation part of an API answer;
* ``shap``: ``shap.TreeExplainer(booster).shap_values(x)`` (tree-path-dependent TreeSHAP; building the
  explainer is timed apart).

Rates are explained predictions per second (rows x tasks / seconds). The numbers must agree
(``np.allclose`` on the contributions and on the base value); a mismatch is printed as such.
Figures, not asserts. Takes about two minutes at the default 3,000 rows
(grazing's deep trees take most of it).

    MUZHANG_WORK_DIR=work .venv/bin/python benchmarks/explain_batch.py [--rows 3000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from muzhang.families import family_names

if TYPE_CHECKING:
    from models.bundle import ModelBundle


@dataclass
class FamilyTiming:
    family: str
    tasks: int
    rows: int
    contrib_s: float = 0.0
    sentences_s: float = 0.0
    shap_s: float = 0.0
    shap_init_s: float = 0.0
    max_diff: float = 0.0
    agree: bool = True

    def rate(self, seconds: float) -> float:
        return self.rows * self.tasks / seconds if seconds else float("nan")


def best_of(repeats: int, fn: Callable[[], Any], budget_s: float = 10.0) -> tuple[float, Any]:
    """Fastest wall time of up to ``repeats`` calls (fewer once ``budget_s`` is spent), and the last result."""
    best, out, spent = float("inf"), None, 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        took = time.perf_counter() - t
        best, spent = min(best, took), spent + took
        if spent > budget_s:
            break
    return best, out


def time_task(timing: FamilyTiming, bundle: ModelBundle, name: str, x: np.ndarray, repeats: int) -> None:
    """Add one task's three timings and its agreement check to the family's figures."""
    import shap

    from serving.explain import contributions
    from serving.observability import Metrics
    from serving.scoring.common import explain_many

    task, metrics = bundle.tasks[name], Metrics()
    heads = [f"{name}: {v:.3g}" for v in task.point(x)]
    s, ours = best_of(repeats, lambda: contributions(task, x))
    timing.contrib_s += s
    s, _ = best_of(repeats, lambda: explain_many(bundle, name, x, heads, "en", metrics))
    timing.sentences_s += s
    t = time.perf_counter()
    explainer = shap.TreeExplainer(task.booster)
    timing.shap_init_s += time.perf_counter() - t
    with warnings.catch_warnings():  # shap warns that its binary output format changed
        warnings.simplefilter("ignore", UserWarning)
        s, theirs = best_of(repeats, lambda: explainer.shap_values(x))
    timing.shap_s += s
    theirs = np.asarray(theirs[-1] if isinstance(theirs, list) else theirs)
    base = np.asarray(explainer.expected_value, dtype=float).reshape(-1)[-1]
    timing.agree &= bool(np.allclose(ours[:, :-1], theirs) and np.allclose(ours[:, -1], base))
    timing.max_diff = max(timing.max_diff, float(np.max(np.abs(ours[:, :-1] - theirs))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3000, help="Rows explained per family (default 3000).")
    parser.add_argument(
        "--repeats", type=int, default=3, help="Timed repeats, the best kept (default 3; fewer past 10 s)."
    )
    families = list(family_names())
    parser.add_argument("--families", nargs="+", choices=families, default=families, help="Families to run.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the row draw.")
    args = parser.parse_args()
    load = os.getloadavg()

    from features import build_features, load_county
    from models.pyfunc import load_bundle
    from muzhang.settings import get_settings
    from training.tracking import point_mlflow_at

    t = time.perf_counter()
    import shap

    shap_import = time.perf_counter() - t

    settings = get_settings()
    point_mlflow_at(settings.tracking_uri())
    tables = load_county(settings.data_dir)
    rng = np.random.default_rng(args.seed)
    results: list[FamilyTiming] = []
    for family in args.families:
        bundle = load_bundle(f"models:/muzhang-{family}@champion")
        frame = build_features(family, tables).frame
        rows = rng.choice(len(frame), args.rows, replace=len(frame) < args.rows)
        x = bundle.encoder.encode(frame.iloc[rows])
        timing = FamilyTiming(family, len(bundle.tasks), len(x))
        for name in bundle.tasks:
            time_task(timing, bundle, name, x, args.repeats)
        results.append(timing)

    print("# Batch explanations: Muzhang (LightGBM pred_contrib + sentences) vs shap.TreeExplainer")
    print(
        f"{os.cpu_count()} cores; load average before {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; "
        f"shap {shap.__version__} (import {shap_import:.1f} s); {args.rows:,} rows per family, best of "
        f"{args.repeats}; rates = explained predictions (rows x tasks) per second"
    )
    print()
    print(
        "| family | tasks | contributions /s | with sentences /s | shap /s | contributions / shap "
        "| sentences / shap | shap explainer build s | agree (max abs diff) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        c, w, sh = r.rate(r.contrib_s), r.rate(r.sentences_s), r.rate(r.shap_s)
        print(
            f"| {r.family} | {r.tasks} | {c:,.0f} | {w:,.0f} | {sh:,.0f} | {c / sh:.2f}x | {w / sh:.2f}x "
            f"| {r.shap_init_s:.2f} | {'yes' if r.agree else 'NO'} ({r.max_diff:.1e}) |"
        )
    disagree = [r.family for r in results if not r.agree]
    print()
    print("contributions agree with shap for every family" if not disagree else f"MISMATCH: {', '.join(disagree)}")
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
