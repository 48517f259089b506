"""How good the soft rules' flags are: flags against the faults the emitter injected, for rule variants.

Emits months after the shipped sample with 5x the emitter's typo and outlier rates (muzhang/simulate/emit.py;
seeded, so every run sees the same faults), checks each month as one upload (the frame path, history = the
sample) with each variant of :class:`muzhang.catalog.soft_rules.SoftRules`, and prints per variant:

- recall: injected value faults (typos, outliers) caught by a flag on the faulty item (or a rule that reads
  it: herd balance for a species, births or deaths; people and households) or refused by a hard rule;
- precision: flags that land on an injected fault;
- flags per clean report: flags on reports with no injected fault (what staff follow up for nothing).

In process, no service (~10 s a month). benchmarks/reports_intake.py gives the same figures for the
service's own paths (one upload, and one report at a time, where the month's shared move builds up).

    .venv/bin/python benchmarks/flag_rules.py [--months 2025-01 2025-02 2025-04]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import pandas as pd

from features.tables import load_county
from muzhang.catalog.checks import check_reports
from muzhang.catalog.soft_rules import HERD_FIELD, SoftRules
from muzhang.domain import SPECIES
from muzhang.paths import SAMPLE_COUNTY
from muzhang.simulate.emit import FaultRates, emit_month

FAULT_FACTOR = 5
SHOWS_IN = {HERD_FIELD: {*SPECIES, "births", "deaths"}, "people": {"people", "households"}}
LATEST = pd.Timestamp("2100-01-01")  # every emitted month may be reported


@dataclass
class Tally:
    faults: int = 0
    caught: int = 0
    flags: int = 0
    hits: int = 0
    clean: int = 0
    clean_flags: int = 0

    def line(self, name: str) -> str:
        return (
            f"| {name} | {self.faults} | {self.caught / max(self.faults, 1):.0%} | {self.flags:,} "
            f"| {self.hits / max(self.flags, 1):.0%} | {self.clean_flags / max(self.clean, 1):.2f} |"
        )


def tally(emitted: object, checked: object, reports: pd.DataFrame, out: Tally) -> None:
    faults = [f for kind in ("typo", "outlier") for f in emitted.manifest["faults"][kind]]  # type: ignore[attr-defined]
    injected = {(f["submission_id"], f["field"]) for f in faults}
    ids = reports["submission_id"]
    flags = checked.flags  # type: ignore[attr-defined]
    refused = checked.refused  # type: ignore[attr-defined]
    flagged = [(ids[r], f) for r, f in zip(flags["row"], flags["field"], strict=True)]
    refusals = {(ids[r], f) for r, f in zip(refused["row"], refused["field"], strict=True)} & injected

    def hits(sid: str, name: str) -> set[tuple[str, str]]:
        return {(sid, f) for f in SHOWS_IN.get(name, {name})} & injected

    faulty = {sid for sid, _ in injected}
    clean = set(ids[checked.accepted]) - faulty  # type: ignore[attr-defined]
    out.faults += len(injected)
    out.caught += len({k for sid, name in flagged for k in hits(sid, name)} | refusals)
    out.flags += len(flagged)
    out.hits += sum(1 for sid, name in flagged if hits(sid, name))
    out.clean += len(clean)
    out.clean_flags += sum(1 for sid, _ in flagged if sid in clean)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", nargs="+", default=["2025-01", "2025-02", "2025-04"])
    args = parser.parse_args()
    start = time.perf_counter()
    tables = load_county(SAMPLE_COUNTY)
    grids = set(tables.grids["grid_id"].astype(str))
    townships = dict(zip(tables.grids["grid_id"].astype(str), tables.grids["township_id"].astype(str), strict=True))
    base = FaultRates()
    rates = FaultRates(typo=FAULT_FACTOR * base.typo, outlier=FAULT_FACTOR * base.outlier)
    emitted = {m: emit_month(SAMPLE_COUNTY, m, rates=rates) for m in args.months}
    variants: dict[str, tuple[SoftRules, dict[str, str] | None]] = {
        "no shared move (each grid alone)": (SoftRules(count_spread_sqrt=0.0, shared_shift_min_grids=10**9), None),
        "county's shared move (before)": (SoftRules(count_spread_sqrt=0.0), None),
        "+ a count's spread >= sqrt(median)": (SoftRules(), None),
        "+ the township's shared move (now)": (SoftRules(), townships),
        "now, with z 5 instead of 3.5": (SoftRules(outlier_z=5.0), townships),
    }
    print(f"# Soft-rule flags against injected faults: {', '.join(args.months)}, {FAULT_FACTOR}x the fault rates")
    print("| variant | injected faults | recall | flags | precision | flags per clean report |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (rules, towns) in variants.items():
        out = Tally()
        for month in emitted.values():
            reports = month.reports.drop_duplicates("submission_id").reset_index(drop=True)  # a resend: once
            checked = check_reports(
                reports, known_grids=grids, latest_month=LATEST, history=tables.grid_monthly, rules=rules,
                townships=towns, lang="en",
            )  # fmt: skip
            tally(month, checked, reports, out)
        print(out.line(name))
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
