"""The flags of a benchmarks/reports_intake.py run against the faults the emitter injected: precision, recall
and flags per clean report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.intake_runs import Run

# Where a fault in one item shows when a rule reads several (see muzhang/catalog/soft_rules.py).
FAULT_SHOWS_IN = {"yak+sheep+goat+horse": {"yak", "sheep", "goat", "horse", "births", "deaths"}}
FAULT_SHOWS_IN["people"] = {"people", "households"}


@dataclass
class FlagQuality:
    faults: int  # injected value faults (typos and outliers) in reports that were kept or refused
    caught_by_flag: int
    caught_by_refusal: int
    flags: int
    flags_on_faults: int  # flags on a faulty report's faulty item (or a rule that reads it)
    clean_reports: int
    flags_on_clean: int

    def line(self, name: str) -> str:
        precision = self.flags_on_faults / self.flags if self.flags else float("nan")
        recall = (self.caught_by_flag + self.caught_by_refusal) / self.faults if self.faults else float("nan")
        return (
            f"| {name} | {self.faults} ({self.caught_by_refusal} refused) | {self.flags:,} "
            f"| {precision:.0%} | {recall:.0%} ({self.caught_by_flag} by a flag) "
            f"| {self.flags_on_clean / max(self.clean_reports, 1):.2f} ({self.clean_reports} clean reports) |"
        )


def flag_quality(run: Run, manifest: dict[str, Any] | None) -> FlagQuality:
    """Flags against the faults the emitter injected (``manifest``: emit-manifest; None: every report clean)."""
    faults = (manifest or {}).get("faults", {})
    injected = {(f["submission_id"], f["field"]) for kind in ("typo", "outlier") for f in faults.get(kind, [])}
    faulty_ids = {sid for sid, _ in injected}

    def hits(sid: str, name: str) -> set[tuple[str, str]]:
        return {(sid, f) for f in FAULT_SHOWS_IN.get(name, {name})} & injected

    refused = {(sid, f) for sid, f in run.refused} & injected
    flagged = {key for sid, name in run.flagged for key in hits(sid, name)}
    seen = run.kept | {sid for sid, _ in run.refused}
    return FlagQuality(
        faults=len({(sid, f) for sid, f in injected if sid in seen}),
        caught_by_flag=len(flagged - refused),
        caught_by_refusal=len(refused),
        flags=len(run.flagged),
        flags_on_faults=sum(1 for sid, name in run.flagged if hits(sid, name)),
        clean_reports=len(run.kept - faulty_ids),
        flags_on_clean=sum(1 for sid, _ in run.flagged if sid not in faulty_ids),
    )
