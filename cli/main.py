"""The ``muzhang`` command line. Thin: each command parses options, calls one function, prints a summary."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

if TYPE_CHECKING:
    import pandas as pd

from cli.replay import replay_command
from cli.retrain import retrain
from muzhang.families import family_names
from muzhang.paths import SAMPLE_COUNTY

app = typer.Typer(help="Muzhang (牧长): decision support for high-altitude pastoral counties.", no_args_is_help=True)
data_app = typer.Typer(help="Generate and validate county data.", no_args_is_help=True)
features_app = typer.Typer(help="Build model-ready feature frames.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Muzhang (牧长): decision support for high-altitude pastoral counties."""
    # LightGBM's OpenMP threads spin while they wait; on a busy 2-core machine that made `train all`
    # 3x slower (benchmarks/train_all.py). Passive waiting costs nothing when the machine is idle.
    # Set here, before any command imports LightGBM, unless the user chose otherwise.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")

DEFAULT_SEED = 20241129


@data_app.command("generate")
def data_generate(
    seed: Annotated[int, typer.Option(help="Seed for every random draw.")] = DEFAULT_SEED,
    out: Annotated[Path, typer.Option(help="County data directory to write.")] = SAMPLE_COUNTY,
    grids: Annotated[int | None, typer.Option(min=20, max=2000, help="Smaller county for tests.")] = None,
    last_month: Annotated[str, typer.Option(help="Last simulated month, YYYY-MM-01.")] = "2024-12-01",
) -> None:
    """Simulate a Dari-like county (see data_samples/README.md) and write it to OUT."""
    from muzhang.simulate.county import generate_county, write_county

    start = time.perf_counter()
    county = generate_county(seed, n_grids=grids, last_month=last_month)
    write_county(county, out)
    totals = county.manifest["calibration"]["last_year_totals"]  # type: ignore[index]
    typer.echo(f"wrote {out} in {time.perf_counter() - start:.1f} s (seed {seed})")
    typer.echo(f"  grid areas {len(county.tables['grids'])}, area {county.tables['grids']['area_km2'].sum():,.0f} km2")
    typer.echo(f"  last year: livestock {totals['livestock_head']:,.0f} head, people {totals['people']:,.0f}")
    rows = cast(dict[str, int], county.manifest["rows"])
    for name, n in rows.items():
        typer.echo(f"  {name:<22} {n:>7,} rows")


CATALOG_HELP = "A catalog extension (YAML, `fields:` in the catalog's format); a directory's catalog.yaml is read too."


@data_app.command("validate")
def data_validate(
    path: Annotated[Path, typer.Argument(help="A table file or a county data directory.")] = SAMPLE_COUNTY,
    family: Annotated[
        str | None, typer.Option(help="Require only the tables this family needs (e.g. disease: patients, outcomes).")
    ] = None,
    catalog: Annotated[Path | None, typer.Option(help=CATALOG_HELP)] = None,
) -> None:
    """Check tables against the data catalog; list every violation (row, field, value, rule).

    Errors (exit 1) break a hard rule; warnings keep the row (e.g. a value outside the plausible range)."""
    from muzhang.catalog import CatalogExtensionError, catalog_for
    from muzhang.catalog.validate import format_report, validate_path

    folder = path if path.is_dir() else path.parent  # a table file's directory may carry its catalog.yaml
    try:
        extended = catalog_for(folder, catalog)
    except CatalogExtensionError as exc:
        typer.echo(f"cannot validate {path}: {exc}", err=True)
        raise typer.Exit(code=2) from None
    tables = extended.tables_for(chosen_families(family, allow_all=False)[0]) if family else None
    report = validate_path(path, extended, tables=tables, needed_by=family)
    typer.echo(format_report(report))
    raise typer.Exit(code=0 if report.ok else 1)


@data_app.command("emit")
def data_emit(
    month: Annotated[str, typer.Option(help="Month after the sample to emit, YYYY-MM.")],
    out: Annotated[Path, typer.Option(help="Directory for reports.csv, reports.xlsx, market.csv, emit-manifest.json.")],
    seed: Annotated[int | None, typer.Option(help="Seed of the reporting faults (default: the county's).")] = None,
    data: Annotated[Path, typer.Option(help="The generated county to continue.")] = SAMPLE_COUNTY,
) -> None:
    """Emit a month after the sample as the county sends it: reports with late, missing, twice-sent,
    mistyped, outlying and corrected rows (see data_samples/README.md)."""
    from muzhang.simulate.emit import emit_month, write_emitted

    start = time.perf_counter()
    try:
        emitted = emit_month(data, month, seed)
    except (ValueError, FileNotFoundError) as exc:
        typer.echo(f"cannot emit {month}: {exc}", err=True)
        raise typer.Exit(code=2) from None
    write_emitted(emitted, out)
    counts = cast(dict[str, int], emitted.manifest["counts"])
    typer.echo(
        f"wrote {out} in {time.perf_counter() - start:.1f} s: {emitted.month}, {len(emitted.reports)} report rows "
        f"for {emitted.manifest['expected_reports']} grid areas, {len(emitted.market)} market rows"
    )
    typer.echo("  faults: " + ", ".join(f"{kind} {n}" for kind, n in counts.items()))


@data_app.command("import")
def data_import(
    path: Annotated[Path, typer.Argument(help="A county data directory (the catalog's layout).")],
    who: Annotated[str | None, typer.Option(help="Who imports (kept in the audit); default: the OS user.")] = None,
    catalog: Annotated[Path | None, typer.Option(help=CATALOG_HELP)] = None,
) -> None:
    """Validate a county directory, then import its tables into the county store (MUZHANG_STORE_URL).

    Idempotent: rows already there as given are not written; changed values are audited; the imported
    months are recorded as closed. Fields the directory's catalog.yaml (or --catalog) adds to its tables are
    kept too, with their definitions. Exit 2 if PATH is not a valid county directory, 1 if the store refuses.
    """
    import getpass
    from dataclasses import fields

    from features.tables import load_county
    from muzhang.catalog import CatalogExtensionError, catalog_for
    from muzhang.catalog.validate import format_report, validate_path
    from muzhang.settings import get_settings
    from muzhang.store import StoreError, open_store

    if path.is_file() or (path.is_dir() and not (path / "grids.csv").is_file()):
        import_reports(path, who)
        return
    if not path.is_dir():
        typer.echo(f"cannot import {path}: no such directory")
        raise typer.Exit(code=2)
    try:
        extended = catalog_for(path, catalog)
    except CatalogExtensionError as exc:
        typer.echo(f"cannot import {path}: {exc}")
        raise typer.Exit(code=2) from None
    report = validate_path(path, extended)
    if not report.ok:
        typer.echo(format_report(report))
        option = f" --catalog {catalog}" if catalog else ""
        typer.echo(f"not imported: {path} fails validation (muzhang data validate {path}{option})")
        raise typer.Exit(code=2)
    try:
        who = who or getpass.getuser()
    except (KeyError, OSError):
        who = "cli"
    county = load_county(path, catalog=extended)
    tables = {f.name: getattr(county, f.name) for f in fields(county)}
    url = get_settings().county_store_url()
    try:
        summary = open_store(url).import_tables(tables, who=who, source=path.resolve().name, catalog=extended)
    except (StoreError, ValueError) as exc:
        typer.echo(f"not imported: {exc}")
        raise typer.Exit(code=1) from None
    typer.echo(f"imported {path} into {masked(url)} as {who}")
    typer.echo(str(summary))


def import_reports(path: Path, who: str | None) -> None:
    """A file of reports, or a month folder (reports + market) as `muzhang data emit` writes it."""
    import getpass

    from muzhang.settings import get_settings
    from muzhang.store import open_store
    from serving.errors import ScoringError
    from serving.reports import import_month_files

    settings = get_settings()
    store = open_store(settings.county_store_url())
    if store.last_closed_month() is None:
        typer.echo("cannot import reports: the store holds no county yet (muzhang data import data_samples/county)")
        raise typer.Exit(code=2)
    try:
        done = import_month_files(store, path, who=who or getpass.getuser(), lang="en")
    except ScoringError as exc:
        typer.echo(f"cannot import {path}: {exc}")
        raise typer.Exit(code=2) from None
    if done.reports is None and done.market is None and not done.market_problems:
        typer.echo(f"cannot import {path}: no reports.csv, reports.xlsx or market.csv there")
        raise typer.Exit(code=2)
    if done.reports is not None:
        counts = done.reports.counts()
        typer.echo("reports: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        for p in done.reports.refused[:20]:
            typer.echo(f"  refused: row {p['row']}, {p['field']} {p['value']!r}: {p['rule']}")
        for p in done.reports.flags[:10]:
            typer.echo(f"  flagged: row {p['row']}, {p['field']} {p['value']!r}: {p['rule']}")
    if done.market is not None:
        typer.echo(f"market: {done.market}")
    for line in done.market_problems:
        typer.echo(f"  market refused: {line}")
    if done.market_problems:
        raise typer.Exit(code=1)


@data_app.command("close")
def data_close(
    month: Annotated[str, typer.Argument(help="The month to close, YYYY-MM (the one after the last closed).")],
    who: Annotated[str | None, typer.Option(help="Who closes (kept in the record); default: the OS user.")] = None,
) -> None:
    """Close a month in the store: missing reports are carried (and flagged); its reports then feed decisions.

    A running service moves to the month at its next close call or restart (`POST /v1/months/{month}/close`
    closes and moves the service at once). Like that close, it keeps the champions' forecasts and joins the
    outcomes the month brought (issue 11; one code path, serving.months.close_month).
    """
    import getpass

    from cli.retrain import scoring_context
    from muzhang.settings import get_settings
    from serving.errors import ScoringError
    from serving.months import close_month

    settings = get_settings()
    try:
        ctx = scoring_context(settings)  # the service's view: the store's county and the champions
    except RuntimeError:
        typer.echo("cannot close: the store holds no county yet (muzhang data import data_samples/county)")
        raise typer.Exit(code=2) from None
    try:
        result = close_month(ctx, pd_month(month), who=who or getpass.getuser())
    except ScoringError as exc:
        typer.echo(f"cannot close {month}: {exc}")
        raise typer.Exit(code=2) from None
    state = "closed" if result.closed else "was closed already"
    typer.echo(f"{month} {state}; {len(result.carried)} report(s) carried; county as of {result.as_of:%Y-%m}")
    done = result.monitoring
    if done.get("error"):
        typer.echo(f"forecast log not updated ({done['error']}); the next close or `muzhang retrain` catches up")
    elif done:
        logged, joined = sum(done["logged"].values()), sum(done["joined"].values())
        typer.echo(f"forecast log: {logged} forecast(s) kept, {joined} outcome(s) joined")


def pd_month(text: str) -> pd.Timestamp:
    """YYYY-MM as the first day of the month; a usage error otherwise."""
    import re

    import pandas as pd

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise typer.BadParameter(f"month must be YYYY-MM, got {text!r}")
    return pd.Timestamp(f"{text}-01")


@features_app.command("build")
def features_build(
    data: Annotated[Path, typer.Option(help="County data directory.")] = SAMPLE_COUNTY,
    family: Annotated[str, typer.Option(help="grazing, market, dispute, disease or all.")] = "all",
    out: Annotated[Path | None, typer.Option(help="Write each frame as FAMILY.parquet here.")] = None,
) -> None:
    """Build feature frames from a county directory and print their shape."""
    from features import build_features, load_county
    from muzhang.catalog import catalog_for

    families = chosen_families(family)
    catalog = catalog_for(data)  # with the directory's catalog.yaml: its measurements become features
    needed = {t for name in families for t in catalog.tables_for(name)}
    tables = load_county(data, tables=needed, catalog=catalog)
    for name in families:
        start = time.perf_counter()
        fs = build_features(name, tables, catalog=catalog)
        typer.echo(
            f"{name:<8} {len(fs.frame):>7,} rows x {len(fs.features):>3} features "
            f"targets={','.join(fs.targets)} ({time.perf_counter() - start:.2f} s)"
        )
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            fs.frame.to_parquet(out / f"{name}.parquet", index=False)


def chosen_families(family: str, *, allow_all: bool = True) -> tuple[str, ...]:
    """The registered families a FAMILY argument names (``all``: every one); a bad name is a usage error."""
    names = family_names()
    if allow_all and family == "all":
        return names
    if family not in names:
        more = " or all" if allow_all else ""
        raise typer.BadParameter(f"unknown family {family!r}; choose from {', '.join(names)}{more}")
    return (family,)


def masked(uri: str) -> str:
    """A store URI fit to print: any password replaced by ***."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return uri


@app.command("train")
def train(
    family: Annotated[str, typer.Argument(help="grazing, market, dispute, disease or all.")],
    data: Annotated[Path | None, typer.Option(help="County data directory (must pass data validate).")] = None,
    config: Annotated[Path | None, typer.Option(help="Experiment YAML (default experiments/FAMILY.yaml).")] = None,
    tune: Annotated[int | None, typer.Option(min=0, max=10_000, help="Optuna trials before training.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for splits and LightGBM.")] = None,
    test_from: Annotated[
        str | None,
        typer.Option(help="Hold out the rows from this month on (YYYY-MM) as test, instead of the last months."),
    ] = None,
    test_file: Annotated[
        Path | None,
        typer.Option(help="Hold out exactly the rows this CSV names (the family's key columns) as test."),
    ] = None,
    catalog: Annotated[Path | None, typer.Option(help=CATALOG_HELP)] = None,
) -> None:
    """Train a family, log it to MLflow, register it and let the promotion gate decide."""
    from muzhang.settings import get_settings
    from training.config import ConfigError
    from training.pipeline import DataValidationError, format_summary, run_training

    families = chosen_families(family)
    if config is not None and len(families) > 1:
        raise typer.BadParameter("--config names one family's YAML; train one family with it")
    settings = get_settings()
    failed = False
    total = time.perf_counter()
    for name in families:
        try:
            summary = run_training(
                name,
                settings,
                data_dir=data,
                config_path=config,
                tune=tune,
                seed=seed,
                test_from=test_from,
                test_file=test_file,
                catalog_path=catalog,
                log=lambda msg: typer.echo(msg, err=True),
            )
        except DataValidationError as exc:
            typer.echo(f"[{name}] data does not pass validation; nothing was trained:\n{exc}", err=True)
            raise typer.Exit(code=2) from None
        except (ConfigError, ValueError, KeyError) as exc:
            typer.echo(f"[{name}] failed: {exc}", err=True)
            failed = True
            continue
        typer.echo(format_summary(summary))
    typer.echo(
        f"total {time.perf_counter() - total:.1f} s; tracking store: {masked(settings.tracking_uri())}", err=True
    )
    raise typer.Exit(code=1 if failed else 0)


app.command("retrain")(retrain)  # cli/retrain.py: after a month closes, when a trigger fires (issue 11)
app.command("replay")(replay_command)  # cli/replay.py: months of a generated county under a retrain policy


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default 8000).")] = None,
) -> None:
    """Start the API (uvicorn): loads each family's champion and the county data, then serves /v1."""
    from muzhang.settings import get_settings
    from serving.app import serve as run_server

    settings = get_settings(host=host, port=port)
    if not settings.api_keys:
        typer.echo(
            "warning: no API keys configured (MUZHANG_API_KEYS); every /v1 route will answer 401. "
            "Create one with `muzhang keys new --role planner`.",
            err=True,
        )
    run_server(settings)


keys_app = typer.Typer(help="API keys (only their sha256 is ever stored).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("new")
def keys_new(
    role: Annotated[str, typer.Option(help="planner, health, data_scientist, admin or reporter.")],
    name: Annotated[str | None, typer.Option(help="Who holds the key (shown in the audit log).")] = None,
    grids: Annotated[str | None, typer.Option(help="A reporter's grid areas, comma-separated (G001,G002).")] = None,
) -> None:
    """Print a new random key once, and the settings entry (with its hash) to add to MUZHANG_API_KEYS."""
    import json
    import secrets

    from pydantic import ValidationError

    from muzhang.settings import ApiKey
    from serving.deps import hash_key

    bound = [g.strip() for g in (grids or "").split(",") if g.strip()]
    if (role == "reporter") != bool(bound):
        raise typer.BadParameter("--grids is needed for a reporter key, and only for one")
    key = f"mz_{secrets.token_urlsafe(24)}"
    try:
        entry = ApiKey(name=name or role, role=role, sha256=hash_key(key), grids=bound)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise typer.BadParameter(f"role: {exc.errors()[0]['msg']}") from None
    typer.echo(f"key (give it to {entry.name}; it is not stored anywhere): {key}")
    typer.echo(f"settings entry: {json.dumps(entry.model_dump())}")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by its owner only (0600), even where the file existed with a looser mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an older file keeps its mode through O_CREAT: tighten it before writing
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


@keys_app.command("demo")
def keys_demo(
    out: Annotated[Path, typer.Option(help="Write the demo keys (plain) and settings here, for `make run`.")],
) -> None:
    """Create one random demo key per role: prints them and writes an env file with their hashes."""
    import json
    import secrets

    from serving.deps import hash_key

    entries, lines = [], []
    for role in ("planner", "health", "data_scientist", "admin", "reporter"):
        key = f"mz_demo_{role}_{secrets.token_urlsafe(12)}"
        entry: dict[str, object] = {"name": f"demo-{role}", "role": role, "sha256": hash_key(key)}
        if role == "reporter":  # a herder chief of the first two grid areas
            entry["grids"] = ["G001", "G002"]
        entries.append(entry)
        lines.append(f"{role:<15} {key}")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_private(out, f"MUZHANG_API_KEYS='{json.dumps(entries)}'\n")
    write_private(out.with_suffix(".txt"), "\n".join(lines) + "\n")
    typer.echo("demo keys (this run only):\n  " + "\n  ".join(lines))


@app.command("predict")
def predict(
    family: Annotated[str, typer.Argument(help="grazing, market, dispute or disease.")],
    input: Annotated[Path, typer.Option("--input", help="CSV to score (see serving/offline.py for columns).")],
    output: Annotated[Path, typer.Option("--output", help="CSV to write.")],
    lang: Annotated[str, typer.Option(help="zh or en, for the reasons.")] = "zh",
) -> None:
    """Score a CSV offline with the serving champions, explanations included."""
    from muzhang.settings import get_settings
    from serving.offline import OfflineInputError, predict_file

    chosen_families(family, allow_all=False)
    if lang not in ("zh", "en"):
        raise typer.BadParameter("lang must be zh or en")
    try:
        n = predict_file(get_settings(), family, input, output, lang)
    except OfflineInputError as exc:
        typer.echo(f"cannot score {input}: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"wrote {n} rows to {output}")
