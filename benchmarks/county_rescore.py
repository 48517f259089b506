"""Re-score the whole county with explanations, as the service does, and print time and memory.

All grids x 3 seasons (grazing), all townships x species x 6 months (market), all grids (dispute) and
all patients (disease), each with its per-row TreeSHAP explanation and sentence, through each registered
family's offline scorer (the scoring layer the routes and `muzhang predict` call), in process (no HTTP).
Prints the start-up time (imports; county + the champions from the registry the settings point at), each
family's time, the total, the whole wall time and the peak resident memory. Target (issue 4): re-scoring
<= 10 s. Figures, not asserts.

    MUZHANG_WORK_DIR=work .venv/bin/python benchmarks/county_rescore.py [--lang zh]
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402  (imports after T0: their cost is part of the start-up time printed)
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402

import pandas as pd  # noqa: E402

from muzhang.families import family_specs, resolve  # noqa: E402
from muzhang.settings import get_settings  # noqa: E402
from serving.app import build_state  # noqa: E402
from serving.schemas import patient_record_model  # noqa: E402

TARGET_S = 10.0


def peak_rss_mib() -> float:
    """Peak resident set size of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def whole_county_input(state: object, family: str, keys: tuple[str, ...] | None) -> pd.DataFrame:
    """Every key of a family's forecast rows; for a family whose requests bring their own rows (disease),
    every person of the county as a health-check record (strings, as a CSV upload brings them)."""
    county = state.county  # type: ignore[attr-defined]
    if keys is not None:
        return county.forecasts[family].frame[list(keys)].drop_duplicates().astype(str).reset_index(drop=True)
    fields = [f for f in patient_record_model().model_fields if f not in ("ref", "measurements")]
    return county.tables.patients[fields].astype(str).replace({"nan": "", "<NA>": ""})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="Language of the sentences (zh).")
    args = parser.parse_args()
    load = os.getloadavg()
    imported = time.perf_counter() - T0
    start = time.perf_counter()
    settings = get_settings(poll_seconds=0, batch_cap=100_000)
    state = build_state(settings)
    load_s = time.perf_counter() - start
    timings: dict[str, tuple[int, float]] = {}
    for spec in family_specs():  # every registered family with an offline scorer, as `muzhang predict` runs it
        if spec.scorer is None:
            continue
        frame = whole_county_input(state, spec.name, spec.forecast_keys)
        t = time.perf_counter()
        scored = resolve(spec.scorer)(state, frame, args.lang)
        timings[spec.name] = (len(scored), time.perf_counter() - t)

    total = sum(s for _, s in timings.values())
    print(f"# County re-score with explanations ({settings.data_dir.name}, lang={args.lang}), in process")
    print(f"{os.cpu_count()} cores; load average before {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")
    print(f"start-up: imports {imported:.2f} s + county and champions {load_s:.2f} s = {imported + load_s:.2f} s")
    print(f"{'family':<10}{'output rows':>24}{'seconds':>10}{'s per 1k':>10}")
    for family, (n, s) in timings.items():
        print(f"{family:<10}{n:>24,}{s:>10.2f}{1000 * s / n:>10.3f}")
    print(f"{'total':<10}{sum(n for n, _ in timings.values()):>24,}{total:>10.2f}")
    print(f"wall time of the whole script: {time.perf_counter() - T0:.2f} s; peak RSS {peak_rss_mib():,.0f} MiB")
    print(f"re-score target <= {TARGET_S:.0f} s: {'PASS' if total <= TARGET_S else 'FAIL'}")
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
