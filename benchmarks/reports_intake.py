"""A living county: a month of reports in through the real service, the month closed under load, and whether
ten years of reports plus a year of corrections slow any route. Figures, not asserts.

In a temporary work dir (deleted afterwards; the environment's store variables are not passed on):

1. imports the shipped sample (``data_samples/county``, 2015-01..2024-12) into a SQLite county store, trains
   fast dispute and grazing champions from it (``--families``; 40 rounds, one LightGBM thread, or the YAML's
   rounds when 40 do not beat the baselines: only so the service can answer; families without a champion
   answer 503) and starts ``muzhang serve`` under uvicorn
   (one worker, ``county_source=store``) with a planner key and a reporter key bound to all 457 grids;
2. emits 2025-01 with :func:`muzhang.simulate.emit.emit_month` (and the true rows of 2025-02 and 2025-03) and
   measures, each on grid-months new to the store so every run inserts:

   (b) the emitted 2025-01 ``reports.xlsx`` (faults included: missing grids, duplicates, typos, corrections)
       as one ``POST /v1/reports/upload`` by the planner -- target <= 2 s;
   (a) a full month, one report per grid (457 ``POST /v1/reports``, JSON, reporter key), sequentially
       (2025-02) and with 8 concurrent clients (2025-03): wall time, p50/p99 per report -- target <= 2 s;
   (c) ``POST /v1/months/2025-01/close`` while 16 clients keep asking ``GET /v1/dispute/risk/{grid}`` and
       ``GET /v1/grazing/assessment/{grid}``: seconds from sending the close to the first answer of the new
       month (dispute ``month`` 2025-02, grazing ``as_of_month`` 2025-01) and the non-200 answers (or
       transport errors) while it switches -- target <= 5 s and 0 failures;

3. (d) p50/p99 of dispute risk, grazing assessment, data-quality (``month=2024-12``) and POST one report (a
   correction of a 2023 grid-month, one value changed) on the store as imported, after the intake and the
   close, and after a year of corrections (every grid-month of 2024, 12 x 457 reports with one value changed,
   through ``Store.apply_reports``, source ``api``), side by side; then closes 2025-02 to show the close time
   on the grown store.

Every failure is printed with its request, status and body, and the service log's error lines.

    .venv/bin/python benchmarks/reports_intake.py [--requests 100] [--families dispute grazing]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import secrets
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from benchmarks.intake_runs import Failure, Run, Switch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for benchmarks.intake_*
MONTH_TARGET_S = 2.0
UPLOAD_TARGET_S = 2.0
SWITCH_TARGET_S = 5.0
CONCURRENT_CLIENTS = 8
LOAD_CLIENTS = 16
TRAIN_OVERRIDES = {"num_boost_round": 40, "early_stopping_rounds": 10, "lightgbm.num_threads": 1}
CORRECTION_YEAR = 2024
FAULT_FACTOR = 5  # (e): 5x the emitter's typo and outlier rates, so recall rests on ~60 faults, not ~12


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(values: list[float] | np.ndarray, q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) * 1000 if len(values) else float("nan")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=60, help="Requests per route and phase in (d) (60).")
    parser.add_argument(
        "--families", nargs="+", default=["dispute", "grazing"], help="Families to train (dispute grazing)."
    )
    parser.add_argument(
        "--intake-only",
        action="store_true",
        help="Only the intake: no training (families answer 503), no close under load, no route latencies.",
    )
    args = parser.parse_args()
    if args.intake_only:
        args.families = []
    load0 = os.getloadavg()
    t_script = time.perf_counter()

    from muzhang.settings import STORE_ENV_VARS

    for name in STORE_ENV_VARS:  # the benchmark's own store: the environment's would send runs elsewhere
        os.environ.pop(name, None)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    from dataclasses import fields

    from benchmarks.intake_runs import (
        close_under_load,
        concurrent_posts,
        correction,
        plain,
        report_bodies,
        route_latencies,
        sequential_posts,
        timed,
        upload,
    )
    from benchmarks.intake_service import child_env, log_problems, start_service, stop_service
    from features import load_county
    from muzhang.paths import SAMPLE_COUNTY
    from muzhang.settings import get_settings
    from muzhang.simulate.emit import FaultRates, emit_month, write_emitted
    from muzhang.store import open_store
    from training.pipeline import run_training

    planner, reporter = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    setup: dict[str, float] = {}
    problems: list[str] = []

    with tempfile.TemporaryDirectory(prefix="muzhang-intake-") as tmp:
        work = Path(tmp)
        settings = get_settings(work_dir=work, data_dir=SAMPLE_COUNTY, county_source="store")

        t = time.perf_counter()
        tables = load_county(SAMPLE_COUNTY)
        store = open_store(settings.county_store_url())
        summary = store.import_tables(
            {f.name: getattr(tables, f.name) for f in fields(tables)}, who="benchmark", source="county"
        )
        setup["import the sample into the store"] = time.perf_counter() - t
        progress(f"imported: {summary.seconds:.1f} s")
        grids = sorted(tables.grids["grid_id"].astype(str))
        monthly = tables.grid_monthly

        promoted = {}
        for family in args.families:
            t = time.perf_counter()
            s = run_training(family, settings, tune=0, overrides=dict(TRAIN_OVERRIDES), log=progress)
            setup[f"train {family} (40 rounds)"] = time.perf_counter() - t
            if not s.promoted:  # the first model must beat its baselines: then the YAML's own rounds
                progress(f"{family}: 40 rounds did not beat the baselines; training with the YAML's rounds")
                t = time.perf_counter()
                s = run_training(family, settings, tune=0, overrides={"lightgbm.num_threads": 1}, log=progress)
                setup[f"train {family} (YAML rounds, 1 thread)"] = time.perf_counter() - t
            promoted[family] = s.promoted

        t = time.perf_counter()
        emitted = emit_month(SAMPLE_COUNTY, "2025-01")
        write_emitted(emitted, work / "emit-2025-01")
        truth_02 = emit_month(SAMPLE_COUNTY, "2025-02").truth
        truth_03 = emit_month(SAMPLE_COUNTY, "2025-03").truth
        base_rates = FaultRates()
        rates = FaultRates(typo=FAULT_FACTOR * base_rates.typo, outlier=FAULT_FACTOR * base_rates.outlier)
        faulty_04 = emit_month(SAMPLE_COUNTY, "2025-04", rates=rates)
        setup["emit 2025-01 (+ true rows of 2025-02, 2025-03, and 2025-04 with 5x the faults)"] = (
            time.perf_counter() - t
        )
        xlsx = (work / "emit-2025-01" / "reports.xlsx").read_bytes()

        keys: list[dict[str, Any]] = [
            {"name": "bench-planner", "role": "planner", "sha256": hashlib.sha256(planner.encode()).hexdigest()},
            {
                "name": "bench-chief",
                "role": "reporter",
                "sha256": hashlib.sha256(reporter.encode()).hexdigest(),
                "grids": grids,
            },
        ]
        log_path = work / "service.log"
        t = time.perf_counter()
        proc, base = start_service(child_env(work, SAMPLE_COUNTY, keys), log_path)
        setup["service start-up (to /healthz)"] = time.perf_counter() - t
        try:
            with httpx.Client(base_url=base, timeout=60, trust_env=False) as c:
                ready = c.get("/readyz")
                progress(f"/readyz {ready.status_code}: {ready.text[:300]}")
                # warm the intake path on a grid-month outside every measurement (2023-12, resent unchanged)
                warm = monthly[(monthly["grid_id"] == "G457") & (monthly["month"] == pd.Timestamp("2023-12-01"))]
                body = {k: plain(v) for k, v in warm.iloc[0].to_dict().items()}
                body["submission_id"] = f"warm-{uuid.uuid4()}"
                w = c.post("/v1/reports", json=body, headers={"Authorization": f"Bearer {reporter}"})
                progress(f"warm-up report: {w.status_code} {w.text[:200]}")
                # and the upload path (its checks import pandera on first use, ~0.3-1 s): the same report again
                csv = pd.DataFrame([{**body, "submission_id": f"warm-{uuid.uuid4()}"}]).to_csv(index=False)
                w = c.post(
                    "/v1/reports/upload",
                    files={"file": ("warm.csv", csv.encode(), "text/csv")},
                    headers={"Authorization": f"Bearer {planner}"},
                )
                progress(f"warm-up upload: {w.status_code} {w.text[:200]}")

            def posts_for(month: str, tag: str) -> list[dict[str, Any]]:
                rows = monthly[monthly["month"] == pd.Timestamp(f"{month}-01")].head(args.requests)
                return [correction(r, tag) for r in rows.to_dict("records")]

            phases: dict[str, dict[str, Run]] = {}
            if not args.intake_only:
                progress("(d) routes on the store as imported")
                phases["as imported"] = route_latencies(
                    base, planner, reporter, args.requests, posts_for("2023-01", "d0")
                )

            progress("(b) upload of the emitted 2025-01 reports.xlsx")
            lines = {i + 2: str(sid) for i, sid in enumerate(emitted.reports["submission_id"])}
            up = timed(proc.pid, lambda: upload(base, planner, xlsx, "reports.xlsx", lines))
            progress("(a) 457 reports of 2025-02, sequential")
            seq = timed(proc.pid, lambda: sequential_posts(base, reporter, report_bodies(truth_02, "2025-02", "seq")))
            progress("(a) 457 reports of 2025-03, 8 clients")
            bodies_03 = report_bodies(truth_03, "2025-03", "conc")
            conc = timed(proc.pid, lambda: asyncio.run(concurrent_posts(base, reporter, bodies_03, CONCURRENT_CLIENTS)))
            progress("(e) the emitted 2025-04 (5x the faults) one report at a time, as received")
            sent_04 = [
                {str(k): plain(v) for k, v in r.items() if k not in ("reported_by", "received_at")}
                for r in faulty_04.reports.to_dict("records")
            ]
            seq_faulty = timed(proc.pid, lambda: sequential_posts(base, reporter, sent_04))
            if args.intake_only:
                return report_intake(
                    args, load0, t_script, setup, promoted, emitted, faulty_04, seq, conc, up, seq_faulty
                )
            progress("(c) close 2025-01 under load")
            sw = asyncio.run(
                close_under_load(base, planner, grids, "2025-01", "2025-02-01", "2025-01-01", LOAD_CLIENTS)
            )

            progress("(d) routes after the intake and the close")
            phases["+ 2025-01..03 in, 2025-01 closed"] = route_latencies(
                base, planner, reporter, args.requests, posts_for("2023-02", "d1")
            )

            progress(f"a year of corrections: {CORRECTION_YEAR}, 12 x {len(grids)} reports via Store.apply_reports")
            year = monthly[pd.to_datetime(monthly["month"]).dt.year == CORRECTION_YEAR].copy()
            year["dogs"] = year["dogs"] + 1
            year["submission_id"] = [f"corr-{uuid.uuid4()}" for _ in range(len(year))]
            t = time.perf_counter()
            outcomes = store.apply_reports(year, who="benchmark", role="planner", source="api", reason="correction")
            corr_s = time.perf_counter() - t
            corr_counts = outcomes["outcome"].value_counts().to_dict()

            progress("(d) routes after a year of corrections")
            phases[f"+ a year of corrections ({len(year):,})"] = route_latencies(
                base, planner, reporter, args.requests, posts_for("2023-03", "d2")
            )

            with httpx.Client(base_url=base, timeout=120, trust_env=False) as c:
                t = time.perf_counter()
                later = c.post("/v1/months/2025-02/close", headers={"Authorization": f"Bearer {planner}"})
                close2_s = time.perf_counter() - t
            close2 = later.json() if later.status_code == 200 else {}
            if later.status_code != 200:
                problems.append(f"POST /v1/months/2025-02/close -> {later.status_code} {later.text[:400]}")
            counts = store.submissions()
            n_submissions = len(counts)
        finally:
            stop_service(proc)
            service_answers, service_errors = log_problems(log_path)

    report_intake(args, load0, t_script, setup, promoted, emitted, faulty_04, seq, conc, up, seq_faulty)
    report_switch(sw)
    report_routes(phases, args.requests)
    print(
        f"a year of corrections: {len(year):,} reports through Store.apply_reports in {corr_s:.1f} s "
        f"({1000 * corr_s / len(year):.1f} ms each); outcomes {corr_counts}; store now holds {n_submissions:,} "
        "submissions"
    )
    print(
        f"close 2025-02 afterwards (no load): HTTP {later.status_code} in {close2_s:.2f} s "
        f"(service's own `seconds` {close2.get('seconds', float('nan')):.2f}; (c)'s close took "
        f"{sw.close_reported_s:.2f})"
    )

    failures = [*seq.failures, *conc.failures, *up.failures, *seq_faulty.failures, *sw.failures]
    failures += [f for p in phases.values() for r in p.values() for f in r.failures]
    report_failures(failures, problems, service_answers, service_errors)
    return 0


def report_intake(
    args: argparse.Namespace,
    load0: tuple[float, float, float],
    t_script: float,
    setup: dict[str, float],
    promoted: dict[str, bool],
    emitted: Any,
    faulty: Any,
    seq: Run,
    conc: Run,
    up: Run,
    seq_faulty: Run,
) -> int:
    """Print the intake figures: (a), (b), (e) with targets, the flags raised, and the flags' quality."""
    from benchmarks.intake_flags import flag_quality

    load1 = os.getloadavg()
    cores = os.cpu_count() or 0
    print("# Reports intake and month close through the real service (uvicorn, 1 worker, SQLite store)")
    print(
        f"{cores} cores; load average before {load0[0]:.2f} / {load0[1]:.2f} / {load0[2]:.2f}, "
        f"after {load1[0]:.2f} / {load1[1]:.2f} / {load1[2]:.2f}; whole script {time.perf_counter() - t_script:.0f} s"
        + ("; --intake-only" if args.intake_only else "")
    )
    print("set-up: " + "; ".join(f"{k} {v:.1f} s" for k, v in setup.items()))
    print("champions promoted: " + (", ".join(f"{f} {'yes' if p else 'NO'}" for f, p in promoted.items()) or "none"))
    for month in (emitted, faulty):
        print(
            f"emitted {month.month}: {len(month.reports)} rows for {month.manifest['expected_reports']} grids; "
            f"faults {month.manifest['counts']}"
        )
    print()
    print("| measurement | figure | p50 ms | p99 ms | service CPU | target | verdict | outcomes |")
    print("|---|---:|---:|---:|---:|---|---|---|")

    def outcome_text(run: Run) -> str:
        text = ", ".join(f"{k} {v}" for k, v in sorted(run.outcomes.items()))
        return text + (f"; {len(run.failures)} FAILED" if run.failures else "")

    rows = [
        ("(a) 457 reports JSON, sequential", seq, MONTH_TARGET_S),
        (f"(a) 457 reports JSON, {CONCURRENT_CLIENTS} clients", conc, MONTH_TARGET_S),
        (f"(b) XLSX upload, {len(emitted.reports)} rows", up, UPLOAD_TARGET_S),
        (f"(e) {len(faulty.reports)} emitted reports JSON, sequential", seq_faulty, MONTH_TARGET_S),
    ]
    for name, run, target in rows:
        ok = run.wall <= target and not run.failures
        print(
            f"| {name} | {run.wall:.2f} s wall ({len(run.latencies) / run.wall:.0f} req/s) "
            f"| {pct(run.latencies, 50):.1f} | {pct(run.latencies, 99):.1f} "
            f"| {run.service_cpu:.2f} s ({1000 * run.service_cpu / max(len(run.latencies), 1):.1f} ms"
            f" per request) | <= {target:.0f} s | {verdict(ok)} | {outcome_text(run)} |"
        )
    print(
        "service CPU: what the service process spent (user + system) during the measurement; on an otherwise idle "
        "core a sequential run's wall time is about this plus the client's share"
    )
    print()
    for name, run, _ in rows:
        top = sorted(run.flag_rules.items(), key=lambda kv: -kv[1])[:6]
        if top:
            print(f"flags raised by {name}: " + ", ".join(f"{k} {v}" for k, v in top))
    print()
    print("Flags against the emitter's injected value faults (typos, outliers; muzhang/simulate/emit.py):")
    print("| reports | injected faults | flags | precision | recall (flag or refusal) | flags per clean report |")
    print("|---|---:|---:|---:|---:|---:|")
    print(flag_quality(seq, None).line("(a) 2025-02, true values, one at a time"))
    print(flag_quality(up, emitted.manifest).line("(b) 2025-01 emitted, one upload"))
    print(flag_quality(seq_faulty, faulty.manifest).line("(e) 2025-04 emitted with 5x the faults, one at a time"))
    return 0


def report_switch(sw: Switch) -> None:
    """Print (c): the close under load, its first new-month answers and the reads around it."""
    print()
    print("| measurement | figure | p50 ms | p99 ms | target | verdict | outcomes |")
    print("|---|---:|---:|---:|---|---|---|")
    first = max(sw.first_new.values()) if len(sw.first_new) == 2 else float("nan")
    switch_ok = first <= SWITCH_TARGET_S and not sw.failures and sw.close_status == 200
    print(
        f"| (c) close 2025-01 under {LOAD_CLIENTS} clients: first new-month answer "
        f"| dispute {sw.first_new.get('dispute', float('nan')):.2f} s, grazing "
        f"{sw.first_new.get('grazing', float('nan')):.2f} s | {pct(sw.latencies_during, 50):.1f} "
        f"| {pct(sw.latencies_during, 99):.1f} | <= {SWITCH_TARGET_S:.0f} s, 0 failures | {verdict(switch_ok)} "
        f"| {sw.answers:,} answers, {len(sw.failures)} failed |"
    )
    print()
    print(
        f"(c) the close: HTTP {sw.close_status} in {sw.close_s:.2f} s (service's own `seconds` "
        f"{sw.close_reported_s:.2f}); reads before the close p50/p99 {pct(sw.latencies_before, 50):.1f} / "
        f"{pct(sw.latencies_before, 99):.1f} ms, from the close on {pct(sw.latencies_during, 50):.1f} / "
        f"{pct(sw.latencies_during, 99):.1f} ms"
    )
    if sw.close_status == 200:
        answer = json.loads(sw.close_body) if sw.close_body.startswith("{") else {}
        print(f"    close answer: as_of {answer.get('as_of')}, carried {len(answer.get('carried_grids', []))} grids")


def report_routes(phases: dict[str, dict[str, Run]], requests: int) -> None:
    """Print (d): p50 / p99 of each route in each phase, and the largest growth from the first to the last."""
    print()
    names = list(next(iter(phases.values())))
    heads = list(phases)
    print(f"(d) sequential p50 / p99 ms, {requests} requests per route and phase")
    print("| route | " + " | ".join(heads) + " |")
    print("|---|" + "---:|" * len(heads))
    for route in names:
        cells = []
        for h in heads:
            run = phases[h][route]
            fail = f" ({len(run.failures)} FAILED)" if run.failures else ""
            cells.append(f"{pct(run.latencies, 50):.1f} / {pct(run.latencies, 99):.1f}{fail}")
        print(f"| {route} | " + " | ".join(cells) + " |")
    base_p50 = {r: pct(phases[heads[0]][r].latencies, 50) for r in names}
    last_p50 = {r: pct(phases[heads[-1]][r].latencies, 50) for r in names}
    worst = max(names, key=lambda r: last_p50[r] / base_p50[r])
    ratio = last_p50[worst] / base_p50[worst]
    print(
        f"largest p50 growth, as imported -> after the corrections: {worst} x{ratio:.2f} "
        f"(reading: 'no route slower' if every ratio <= 1.25: {verdict(ratio <= 1.25)})"
    )


def report_failures(
    failures: list[Failure], problems: list[str], service_answers: dict[str, int], service_errors: list[str]
) -> None:
    """Print the failed requests (first 10), other problems, and the service log's non-200 answers and errors."""
    if failures or problems:
        print()
        print(f"FAILED requests ({len(failures)}), first 10:")
        for f in failures[:10]:
            print(f"  {f.what} -> {f.status}: {f.body}")
        for p in problems:
            print(f"  {p}")
    if service_answers or service_errors:
        print()
        print("service log: answers other than 200, by route")
        for key, n in sorted(service_answers.items()):
            print(f"  {n:>6} x {key}")
        for line in service_errors:
            print(f"  {line}")


if __name__ == "__main__":
    sys.exit(main())
