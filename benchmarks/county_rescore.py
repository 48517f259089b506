"""Re-score the whole county with explanations, as the service does, and print time and memory.

All grids x 3 seasons (grazing), all townships x species x 6 months (market), all grids (dispute) and
all patients (disease), each with its per-row TreeSHAP explanation and sentence, through the same
functions the routes call, in process (no HTTP). Prints the start-up time (imports; county + the four
champions from the registry the settings point at), each family's time, the total, the whole wall time
and the peak resident memory. Target (issue 4): re-scoring <= 10 s. Figures, not asserts.

    MUZHANG_WORK_DIR=work .venv/bin/python benchmarks/county_rescore.py [--lang zh]
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402  (imports after T0: their cost is part of the start-up time printed)
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402

from muzhang.domain import SEASONS, SPECIES  # noqa: E402
from muzhang.settings import get_settings  # noqa: E402
from serving.app import build_state  # noqa: E402
from serving.deps import Caller  # noqa: E402
from serving.routes import disease, dispute, grazing, market  # noqa: E402
from serving.schemas import patient_record_model  # noqa: E402

TARGET_S = 10.0


def peak_rss_mib() -> float:
    """Peak resident set size of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


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
    grids = sorted(state.county.grid_ids)
    townships = list(state.county.townships.index)
    patients = state.county.tables.patients
    record = patient_record_model()
    fields = [f for f in record.model_fields if f != "ref"]
    records = [
        record.model_validate({k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()})
        for row in patients[fields].to_dict("records")
    ]

    timings: dict[str, tuple[int, float]] = {}
    t = time.perf_counter()
    queries = [(g, s) for g in grids for s in SEASONS]
    out_g = grazing.assess(state, queries, [grazing.Scenario()] * len(queries), args.lang)
    timings["grazing"] = (len(out_g), time.perf_counter() - t)
    t = time.perf_counter()
    out_m = [market.forecast(state, tw, sp, args.lang) for tw in townships for sp in SPECIES]
    timings["market"] = (sum(len(f.head_sold) + len(f.price) for f in out_m), time.perf_counter() - t)
    t = time.perf_counter()
    out_d = dispute.score(state, grids, args.lang)
    timings["dispute"] = (len(out_d), time.perf_counter() - t)
    t = time.perf_counter()
    out_p = disease.score_records(state, Caller("benchmark", "health"), "benchmark", records, args.lang)
    timings["disease"] = (out_p.n * 4, time.perf_counter() - t)

    total = sum(s for _, s in timings.values())
    print(f"# County re-score with explanations ({settings.data_dir.name}, lang={args.lang}), in process")
    print(f"{os.cpu_count()} cores; load average before {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")
    print(f"start-up: imports {imported:.2f} s + county and 4 champions {load_s:.2f} s = {imported + load_s:.2f} s")
    print(f"{'family':<10}{'explained predictions':>24}{'seconds':>10}{'s per 1k':>10}")
    for family, (n, s) in timings.items():
        print(f"{family:<10}{n:>24,}{s:>10.2f}{1000 * s / n:>10.3f}")
    print(f"{'total':<10}{sum(n for n, _ in timings.values()):>24,}{total:>10.2f}")
    print(f"wall time of the whole script: {time.perf_counter() - T0:.2f} s; peak RSS {peak_rss_mib():,.0f} MiB")
    print(f"re-score target <= {TARGET_S:.0f} s: {'PASS' if total <= TARGET_S else 'FAIL'}")
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
