"""Benchmark: each family's model beside every peer and baseline on the same test rows (issue 13).

Usage::

    .venv/bin/python benchmarks/peers.py                      # every family, on the shipped sample county
    .venv/bin/python benchmarks/peers.py --family market      # one family
    .venv/bin/python benchmarks/peers.py --data DIR           # another county directory

Trains each family in process exactly as ``muzhang train`` does (candidates chosen on validation, peers and
baselines fitted on the same training window), without MLflow, and prints markdown tables: the model (the
candidate each task kept) beside each baseline/peer and the simulator's limit, per headline metric; for
market also MASE and scaled pinball per horizon, per task, and per task and horizon, and the model's margin
over the best statsforecast peer.
Figures, not asserts: exit code 0 unless a family fails to train.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

STATSFORECAST_PEERS = ("mstl", "autoets", "autotheta")


def fmt(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.4g}"


def headline(metrics: dict[str, float]) -> list[str]:
    """Family-level metrics as the CLI shows them (task-prefixed and per-horizon ones left out)."""
    return [k for k in metrics if ("_" not in k or k.startswith(("status_", "coverage_"))) and k != "prevalence"]


def table(result: object, names: list[str]) -> str:
    metrics, baselines, bayes = result.metrics, result.baselines, result.bayes or {}  # type: ignore[attr-defined]
    lines = [
        "| metric (test) | model | " + " | ".join(baselines) + " | limit |",
        "|---|---:|" + "---:|" * len(baselines) + "---:|",
    ]
    for k in names:
        cells = [fmt(metrics.get(k))] + [fmt(b.get(k)) for b in baselines.values()] + [fmt(bayes.get(k))]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def market_margins(result: object) -> str:
    """How far the model is from the best statsforecast peer on MASE and pinball (negative = better)."""
    metrics, baselines = result.metrics, result.baselines  # type: ignore[attr-defined]
    out = []
    for k in ("mase", "spl"):
        peers = {p: baselines[p][k] for p in STATSFORECAST_PEERS if p in baselines and k in baselines[p]}
        if not peers:
            continue
        best = min(peers, key=lambda p: peers[p])
        change = 100 * (metrics[k] / peers[best] - 1)
        out.append(f"{k}: model {metrics[k]:.4f} vs best peer {best} {peers[best]:.4f} ({change:+.1f} %)")
    return "; ".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", action="append", help="a family (repeatable; default: all)")
    parser.add_argument("--data", type=Path, default=None, help="county directory (default: the shipped sample)")
    args = parser.parse_args()

    from features import build_features, load_county
    from muzhang.families import family_names
    from muzhang.paths import SAMPLE_COUNTY
    from training.config import default_config_path, load_config
    from training.engine import train_family
    from training.pipeline import load_oracle

    folder = args.data or SAMPLE_COUNTY
    tables = load_county(folder)
    oracle = load_oracle(folder)
    for family in args.family or list(family_names()):
        start, cpu = time.perf_counter(), time.process_time()
        try:
            fs = build_features(family, tables)
            result = train_family(fs, load_config(default_config_path(family)), oracle=oracle)
        except Exception as exc:  # a benchmark reports and exits non-zero
            print(f"{family}: training FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        chosen = {t: sel["chosen"] for t, sel in result.bundle.metadata.get("candidates", {}).items()}
        print(f"\n## {family}: {result.split.sizes()['test']:,} test rows; {wall:.0f} s wall, {cpu:.0f} CPU s")
        print(f"candidates kept on validation: {', '.join(f'{t}={c}' for t, c in chosen.items())}\n")
        print(table(result, headline(result.metrics)))
        if family == "market":
            horizons = sorted({int(k.rsplit("_h", 1)[1]) for k in result.metrics if "_h" in k})
            print("\nper horizon:\n")
            print(table(result, [f"{m}_h{h}" for m in ("mase", "spl") for h in horizons]))
            print("\nper task and horizon:\n")
            tasks = [t.name for t in result.tasks]
            print(table(result, [f"{t}_{m}_h{h}" for t in tasks for m in ("mase", "spl") for h in horizons]))
            print("\nper task:\n")
            tasks = [t.name for t in result.tasks]
            print(table(result, [f"{t}_{m}" for m in ("mase", "spl", "coverage_95") for t in tasks]))
            print("\n" + market_margins(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
