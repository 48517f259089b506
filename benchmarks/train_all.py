"""Benchmark ``muzhang train all`` on the shipped sample: wall time per family, peak memory, test metrics.

Usage::

    .venv/bin/python benchmarks/train_all.py                        # as `muzhang train all`
    .venv/bin/python benchmarks/train_all.py --lightgbm-threads 1   # same, one LightGBM thread

Runs the four families in process, exactly as the CLI does (validate -> features -> train -> log,
register, gate) but without tuning, into a temporary work dir that is deleted afterwards, so local
state and any configured tracking server are left alone. Prints, on stdout:

* wall time per family and in total, peak RSS, and the target from the issue (<= 90 s wall on 2 cores)
  with PASS/FAIL;
* a markdown table of each family's test metrics beside its baselines and the Bayes limit (from the
  simulator's oracle), ready to paste into the README.

Exit code 0 whatever the timings; 1 only if a family fails to train. On a shared machine the load
average printed before and after says how far the timings can be trusted.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from training.pipeline import RunSummary

TARGET_SECONDS = 90.0
TARGET_CORES = 2


def progress(message: str) -> None:
    print(message, file=sys.stderr)


def peak_rss_mib() -> float:
    """Peak resident set size of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.4g}"


def metrics_table(summaries: list[RunSummary]) -> str:
    """Markdown: one row per family and headline metric; the gate's metric is marked."""
    from training.config import default_config_path, load_config

    lines = [
        "| family | metric (test) | model | baseline(s) | Bayes limit |",
        "|---|---|---:|---|---:|",
    ]
    for s in summaries:
        gate = load_config(default_config_path(s.family)).gate.metric
        # Headline metrics as the CLI shows them: family-level ones, statuses and coverages.
        names = [k for k in s.metrics if "_" not in k or k.startswith(("status_", "coverage_"))]
        names = [k for k in names if k != "prevalence"]
        for name in sorted(names, key=lambda k: (k != gate, names.index(k))):
            baselines = " · ".join(f"{b} {fmt(m.get(name))}" for b, m in s.baselines.items() if name in m)
            label = f"**{name}** (gate)" if name == gate else name
            cells = [s.family, label, fmt(s.metrics[name]), baselines or "–", fmt((s.bayes or {}).get(name))]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--lightgbm-threads",
        type=int,
        default=None,
        help="Override lightgbm.num_threads of every experiment (default: the YAML's / 2).",
    )
    args = parser.parse_args()
    overrides = {"lightgbm.num_threads": args.lightgbm_threads} if args.lightgbm_threads else {}
    start = time.perf_counter()
    from muzhang.families import family_names
    from muzhang.paths import SAMPLE_COUNTY
    from muzhang.settings import STORE_ENV_VARS, get_settings
    from training.pipeline import run_training

    # The benchmark's own store: settings from the environment would send runs to a real server.
    for name in STORE_ENV_VARS:
        os.environ.pop(name, None)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    imported = time.perf_counter() - start
    cores = os.cpu_count() or 0
    load = os.getloadavg()
    threads = f", lightgbm.num_threads={args.lightgbm_threads}" if overrides else ""
    print(f"# muzhang train all (no tuning{threads}) on {SAMPLE_COUNTY.relative_to(SAMPLE_COUNTY.parents[1])}")
    print(
        f"python {platform.python_version()}, {cores} cores, load average before "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; imports {imported:.1f} s"
    )

    summaries: list[RunSummary] = []
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="muzhang-bench-") as tmp:
        settings = get_settings(work_dir=Path(tmp), data_dir=SAMPLE_COUNTY)
        train_start = time.perf_counter()
        for family in family_names():
            t0 = time.perf_counter()
            try:
                summary = run_training(family, settings, tune=0, overrides=overrides, log=progress)
            except Exception:
                traceback.print_exc()
                print(f"{family}: training FAILED", file=sys.stderr)
                return 1
            timings[family] = time.perf_counter() - t0
            summaries.append(summary)
        train_total = time.perf_counter() - train_start
    total = time.perf_counter() - start

    print()
    print("| family | wall s | of which fit + evaluate s | version | gate |")
    print("|---|---:|---:|---:|---|")
    for s in summaries:
        gate = "promoted" if s.promoted else "kept as challenger"
        print(f"| {s.family} | {timings[s.family]:.1f} | {s.seconds:.1f} | {s.version} | {gate} |")
    print()
    print(f"train all: {train_total:.1f} s wall (first run includes creating the MLflow store)")
    print(f"whole script incl. imports: {total:.1f} s wall")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB; load average after {os.getloadavg()[0]:.2f}")
    verdict = "PASS" if train_total <= TARGET_SECONDS else "FAIL"
    note = "" if cores == TARGET_CORES else f" (measured on {cores} cores, not {TARGET_CORES})"
    print(f"target (issue): <= {TARGET_SECONDS:.0f} s wall on {TARGET_CORES} cores -> {verdict}{note}")
    print()
    print(metrics_table(summaries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
