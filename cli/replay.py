"""``muzhang replay``: months of a generated county through Muzhang under a retraining policy, with shocks.

Each month the simulator emits the county's reports (``muzhang data emit``: late, missing, twice-sent,
mistyped rows) under the replay's scenario, the replay imports them into a county store of its own and closes
the month: the close keeps every family's forecasts and joins the outcomes that came in. Under policy
``triggered`` `muzhang retrain --if-needed` then runs (the triggers of experiments/*.yaml), under ``monthly``
every forecast family is retrained, under ``none`` never. It prints (and draws as a PNG) the champions' live
headline metric per family and month (``*``: worse than test beyond its interval), the retrain decisions and
the training minutes. ``benchmarks/replay.py`` runs the policies side by side.

Shocks (a scenario of the simulator, :mod:`muzhang.simulate.scenario`, so the county itself reacts:
yields, herds, sales, prices and disputes; ``--no-shocks`` for none):

- **drought summer**: the replay's first year is a severe drought year (rain factor 0.6): the season's
  peak yield, capacity, autumn destocking and prices follow the simulator's drought mechanism;
- **market shock**: from the replay's seventh month on, herders sell 40 % more and prices stand 35 % lower.

A small generated county (``--grids``, 40 by default) and fast boosters (40 rounds) keep a month to tens of
seconds on 2 cores; the figures are live metrics on the replayed months, never on training data.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from muzhang.simulate.scenario import Scenario

# Fast boosters; no classical peers (baselines printed beside a model, not judged by the gate once a champion
# exists: each took ~20 s a market run).
FAST = {"num_boost_round": 40, "early_stopping_rounds": 10, "lightgbm.num_threads": 1, "peers": []}
FAMILIES = ("grazing", "market", "dispute")
HEADLINE = {"grazing": "mae", "market": "spl", "dispute": "brier"}
POLICIES = ("none", "monthly", "triggered")
MARKET_SHOCK_AFTER_MONTHS = 6


def replay_scenario(first: pd.Timestamp, shocked: bool) -> Scenario:
    """The replay's shocks: a drought in its first year, a market shock from its seventh month (or none)."""
    if not shocked:
        return Scenario()
    return Scenario(drought_year=first.year, market_shock_from=first + pd.DateOffset(months=MARKET_SHOCK_AFTER_MONTHS))


def start_county(folder: Path, county: Path, *, train: bool = True) -> tuple[Any, float]:
    """A work dir with the county's history in its store and a champion per forecast family."""
    from mlflow.tracking import MlflowClient

    from features import load_county
    from muzhang.settings import get_settings
    from muzhang.store import open_store
    from training.pipeline import run_training

    settings = get_settings(work_dir=folder, data_dir=county, county_source="store")
    tables = load_county(county)
    open_store(settings.county_store_url()).import_tables(
        {f.name: getattr(tables, f.name) for f in fields(tables)}, who="replay", source="import"
    )
    start = time.perf_counter()
    for family in FAMILIES if train else ():
        summary = run_training(family, settings, overrides=FAST, log=lambda _: None)
        if not summary.promoted:  # the first model of a tiny county may not beat its baseline: serve it anyway
            MlflowClient(settings.tracking_uri()).set_registered_model_alias(
                f"muzhang-{family}", "champion", summary.version
            )
    return settings, time.perf_counter() - start


def replay(county: Path, first: pd.Timestamp, months: int, policy: str, scenario: Scenario) -> dict[str, Any]:
    """Run the months under one policy; returns the live metrics, the decisions and the training seconds."""
    from cli.retrain import retrain_families, scoring_context
    from muzhang.simulate.emit import emit_month, write_emitted
    from serving.monitoring.cycle import log_and_join
    from serving.monitoring.report import memo_of, monitoring_report
    from serving.months import close_month
    from serving.reports import import_month_files

    with tempfile.TemporaryDirectory() as tmp:
        settings, train_seconds = start_county(Path(tmp) / "work", county)
        ctx = scoring_context(settings)
        log_and_join(ctx)  # the champions' forecasts for the first replayed month, made from the history
        decisions: list[dict[str, Any]] = []
        for k in range(months):
            month = first + pd.DateOffset(months=k)
            emitted = emit_month(county, f"{month:%Y-%m}", scenario=scenario)
            folder = Path(tmp) / f"{month:%Y-%m}"
            write_emitted(emitted, folder)
            import_month_files(ctx.store, folder, who="replay")
            # the retrain step catches the forecast log up itself first: the close's own monitoring step would
            # repeat it (it is there for the policy that never retrains)
            close_month(ctx, month, who="replay", monitor=policy == "none")
            if policy != "none":
                start = time.perf_counter()
                done = retrain_families(
                    settings, FAMILIES, if_needed=policy == "triggered", overrides=FAST, echo=lambda _: None, ctx=ctx
                )
                train_seconds += sum(d.seconds for d in done)
                decisions += [
                    {
                        "month": f"{month:%Y-%m}",
                        "family": d.family,
                        "action": d.action,
                        "promoted": d.promoted,
                        "why": "; ".join(d.triggers)[:70],
                        "gate": d.note.removeprefix("gate: ")[:70],
                    }
                    for d in done
                    if d.action != "skipped"
                ]
                print(f"  {policy}: {month:%Y-%m} retrain step {time.perf_counter() - start:.0f} s", file=sys.stderr)
            print(f"  {policy}: {month:%Y-%m} closed", file=sys.stderr)
        report = monitoring_report(ctx, memo_of(ctx))
    live = pd.concat(
        [pd.DataFrame(f["live"]).assign(family=f["family"]) for f in report["families"] if f.get("live")],
        ignore_index=True,
    )
    raised = {f["family"]: f["reference_raised"] for f in report["families"] if f.get("reference_raised")}
    return {"live": live, "decisions": decisions, "train_minutes": train_seconds / 60, "raised": raised}


def headline_table(live: pd.DataFrame) -> pd.DataFrame:
    """Family x month: the headline live metric of the forecasts made for that month (by whichever version
    made them then; the latest version when two did), ``*`` when worse than that version's test value."""
    rows = live[live.apply(lambda r: r["metric"] == HEADLINE.get(r["family"]), axis=1)].copy()
    rows["version_n"] = pd.to_numeric(rows["model_version"], errors="coerce")
    rows = rows.sort_values("version_n").groupby(["family", "target_period"]).last().reset_index()
    rows["cell"] = [f"{v:.3g}{'*' if w else ''}" for v, w in zip(rows["value"], rows["worse"], strict=True)]
    rows["month"] = pd.to_datetime(rows["target_period"]).dt.strftime("%Y-%m")
    return rows.pivot(index="family", columns="month", values="cell").fillna("")


def draw_png(live: pd.DataFrame, path: Path, title: str) -> Path:
    """One panel per family: the headline live metric by month, its interval, and the test value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = [f for f in FAMILIES if f in set(live["family"])]
    fig, axes = plt.subplots(len(families) or 1, 1, figsize=(8, 2.6 * max(len(families), 1)), squeeze=False)
    for ax, family in zip(axes[:, 0], families, strict=False):
        rows = live[(live["family"] == family) & (live["metric"] == HEADLINE[family])].copy()
        rows["month"] = pd.to_datetime(rows["target_period"])
        rows["version_n"] = pd.to_numeric(rows["model_version"], errors="coerce")
        # as the table: the latest version's forecasts of each month, beside that version's own test value
        rows = rows.sort_values(["month", "version_n"]).groupby("month").last().reset_index()
        ax.fill_between(rows["month"], rows["low"], rows["high"], alpha=0.3, label="95 % interval")
        ax.plot(rows["month"], rows["value"], marker="o", label=f"live {HEADLINE[family]}")
        if rows["test"].notna().any():
            ax.step(rows["month"], rows["test"], where="mid", linestyle="--", color="grey", label="test (its version)")
        ax.set_title(family)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def replay_command(
    first: Annotated[
        str, typer.Option("--from", help="First replayed month, YYYY-MM (the county's history ends before it).")
    ] = "2025-01",
    months: Annotated[int, typer.Option(min=1, max=120, help="How many months to replay.")] = 24,
    policy: Annotated[str, typer.Option(help="none, monthly or triggered.")] = "triggered",
    grids: Annotated[int, typer.Option(min=20, max=2000, help="Grid areas of the generated county.")] = 40,
    seed: Annotated[int, typer.Option(help="The county's seed.")] = 7,
    no_shocks: Annotated[bool, typer.Option("--no-shocks", help="A calm county: no drought, no market shock.")] = False,
    png: Annotated[Path | None, typer.Option(help="Draw the live metrics here (PNG).")] = None,
) -> None:
    """Replay months of a generated county: emit, shock, import, close, join outcomes, retrain per the policy."""
    import re

    from muzhang.simulate.county import generate_county, write_county

    if policy not in POLICIES:
        raise typer.BadParameter(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", first):
        raise typer.BadParameter(f"--from must be YYYY-MM, got {first!r}")
    start_month = pd.Timestamp(f"{first}-01")
    scenario = replay_scenario(start_month, shocked=not no_shocks)
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        county = Path(tmp) / "county"
        history_end = start_month - pd.DateOffset(months=1)
        write_county(generate_county(seed, n_grids=grids, last_month=f"{history_end:%Y-%m-%d}"), county)
        result = replay(county, start_month, months, policy, scenario)
    what = scenario.describe()
    typer.echo(
        f"policy {policy}, {what}: {time.perf_counter() - wall:.0f} s wall, "
        f"{result['train_minutes']:.1f} training minutes"
    )
    typer.echo(headline_table(result["live"]).to_string())
    if result["decisions"]:
        typer.echo(pd.DataFrame(result["decisions"]).to_string(index=False))
    for family, why in result["raised"].items():
        typer.echo(f"{family} reference raised: {why}")
    if png is not None:
        typer.echo(f"drawn: {draw_png(result['live'], png, f'policy {policy}, {what}')}")
