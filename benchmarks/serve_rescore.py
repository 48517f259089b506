"""Re-score the whole sample county with explanations, as the service does, and print time and memory.

All grids x 3 seasons (grazing), all townships x species x 6 months (market), all grids (dispute) and
all patients (disease), each with its per-row TreeSHAP explanation and sentence. Target (issue 4): <= 10 s.

    MUZHANG_WORK_DIR=work .venv/bin/python benchmarks/serve_rescore.py
"""

from __future__ import annotations

import resource
import time

from muzhang.domain import SEASONS, SPECIES
from muzhang.settings import get_settings
from serving.app import build_state
from serving.deps import Caller
from serving.routes import disease, dispute, grazing, market
from serving.schemas import patient_record_model

TARGET_S = 10.0


def main() -> None:
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
    out_g = grazing.assess(state, queries, [grazing.Scenario()] * len(queries), "zh")
    timings["grazing"] = (len(out_g), time.perf_counter() - t)
    t = time.perf_counter()
    out_m = [market.forecast(state, tw, sp, "zh") for tw in townships for sp in SPECIES]
    timings["market"] = (sum(len(f.head_sold) + len(f.price) for f in out_m), time.perf_counter() - t)
    t = time.perf_counter()
    out_d = dispute.score(state, grids, "zh")
    timings["dispute"] = (len(out_d), time.perf_counter() - t)
    t = time.perf_counter()
    out_p = disease.score_records(state, Caller("benchmark", "health"), "benchmark", records, "zh")
    timings["disease"] = (out_p.n * 4, time.perf_counter() - t)

    total = sum(s for _, s in timings.values())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"start-up (county + 4 champions): {load_s:.2f} s")
    print(f"{'family':<10}{'explained predictions':>24}{'seconds':>10}{'per 1k':>10}")
    for family, (n, s) in timings.items():
        print(f"{family:<10}{n:>24,}{s:>10.2f}{1000 * s / n:>10.3f}")
    print(f"{'total':<10}{sum(n for n, _ in timings.values()):>24,}{total:>10.2f}")
    print(f"peak RSS {peak_mb:,.0f} MB; target <= {TARGET_S:.0f} s: {'PASS' if total <= TARGET_S else 'FAIL'}")


if __name__ == "__main__":
    main()
