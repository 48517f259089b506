"""One training run from the command line: validate -> features -> (tune) -> train -> log, register, gate."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from features import build_features, load_county
from features.tables import CountyTables, latest_date
from muzhang.catalog import Catalog, catalog_for, load_catalog
from muzhang.families import get_family
from muzhang.settings import Settings
from training.config import ConfigError, ExperimentConfig, load_config
from training.engine import train_family


class DataValidationError(RuntimeError):
    """The county directory does not pass ``muzhang data validate``; carries the report text."""


@dataclass
class RunSummary:
    family: str
    run_id: str
    version: str
    promoted: bool
    gate_note: str
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    bayes: dict[str, float] | None
    seconds: float
    study: dict[str, Any] | None = None
    rows: dict[str, int] = field(default_factory=dict)
    gate_metrics: dict[str, Any] | None = None  # the gate's numbers (training.gate.GateDecision.gate_metrics)


def data_fingerprint(data_dir: Path) -> str:
    """sha256 over the county's table files (names and bytes) as the catalog lists them, oracle excluded."""
    digest = hashlib.sha256()
    for file_name in sorted(load_catalog().table_files().values()):
        path = Path(data_dir) / file_name
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def load_oracle(data_dir: Path) -> dict[str, pd.DataFrame]:
    """The simulator's truth tables, used only to report the Bayes limit (absent for real counties)."""
    layout = load_catalog().layout
    paths = {t: Path(data_dir) / layout.oracle_file(t) for t in layout.oracle_tables}
    return {t: pd.read_parquet(p) for t, p in paths.items() if p.is_file()}


@dataclass(frozen=True)
class CountySource:
    """The county a run trains on: its tables, a fingerprint of them, and where they came from."""

    tables: CountyTables
    fingerprint: str
    tags: dict[str, str]
    oracle_dir: Path  # the simulator's truth, when the county is simulated (for the Bayes limit only)
    catalog: Catalog | None = None  # the catalog the data was read with, when a directory extends it


def read_county(
    settings: Settings,
    data_dir: Path | None,
    log: Callable[[str], None] = print,
    *,
    family: str | None = None,
    catalog_path: Path | None = None,
) -> CountySource:
    """The store at its last closed month (when settings read the store and no directory is given), else the
    directory, validated first. A store's data was validated when it was imported; the fields a catalog
    extension added to it come with the catalog that describes them (``muzhang data import DIR``).

    For a directory, ``family`` limits the tables required to those the family needs, and the catalog is
    extended by the directory's ``catalog.yaml`` and ``catalog_path`` (:func:`muzhang.catalog.catalog_for`);
    the validation's warnings (values kept) are logged and counted in the tags.
    """
    if data_dir is None and settings.reads_store():
        from muzhang.store import open_store

        store = open_store(settings.county_store_url())
        cutoff = store.last_closed_month()
        if cutoff is None:
            raise DataValidationError("the county store has no closed month: import a county first")
        log(f"reading the county store at cut-off {cutoff:%Y-%m}")
        frames, catalog = store.read_county(cutoff)  # with the fields a catalog extension added, and their catalog
        tables = CountyTables.from_mapping(frames)
        tags = {"data_source": "store", "data_cutoff": f"{cutoff:%Y-%m}"}
        return CountySource(tables, store.fingerprint(cutoff), tags, Path(settings.data_dir), catalog)
    folder = Path(data_dir or settings.data_dir)
    catalog = catalog_for(folder, catalog_path)
    needed = catalog.tables_for(family) if family is not None else catalog.table_names
    log(f"validating {folder}" + (f" (family {family} needs {', '.join(needed)})" if family else ""))
    warnings = check_data(folder, catalog, needed, family, log)
    tables = load_county(folder, tables=needed, catalog=catalog)
    # The county's month when its monthly reports are there (what monitoring counts new months from), else
    # the latest date of the family's own tables (a health check brought alone).
    last = latest_date(tables, ("grid_monthly",) if len(tables.grid_monthly) else needed, catalog)
    tags = {"data_source": "directory", "data_warnings": str(warnings)}
    if last is not None:
        tags["data_cutoff"] = f"{last:%Y-%m}"
    return CountySource(tables, data_fingerprint(folder), tags, folder, catalog)


def check_data(
    data_dir: Path,
    catalog: Catalog | None = None,
    tables: tuple[str, ...] | None = None,
    family: str | None = None,
    log: Callable[[str], None] = print,
) -> int:
    """Validate the directory (raise :class:`DataValidationError` with the report if it fails); log its
    warnings (values kept, e.g. outside a plausible range) and return how many there are."""
    from muzhang.catalog.validate import format_report, validate_path

    report = validate_path(Path(data_dir), catalog, tables=tables, needed_by=family)
    if not report.ok:
        raise DataValidationError(format_report(report))
    found = report.warnings()
    if found:
        log(f"{len(found)} data warning(s), rows kept:")
        for line in format_report(report).splitlines()[1:-1]:
            log(f"  {line}")
    return len(found)


def run_training(
    family: str,
    settings: Settings,
    *,
    data_dir: Path | None = None,
    config_path: Path | None = None,
    tune: int | None = None,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
    test_from: str | None = None,
    test_file: Path | None = None,
    catalog_path: Path | None = None,
    log: Callable[[str], None] = print,
) -> RunSummary:
    """Train, evaluate, log and gate one family; raises before training if the data is invalid.

    ``test_from`` (a month) or ``test_file`` (a CSV of the family's key columns) hold out a chosen test set
    instead of the last ``split.test_months``; the champion is scored on the same rows by the gate.
    """
    from training.tracking import log_and_register  # mlflow import is slow; only runs need it
    from training.tune import tune_family

    spec = get_family(family)
    config_path = Path(config_path or spec.experiment_path)
    cfg: ExperimentConfig = load_config(
        config_path, seed=seed, **{"tuning.trials": tune}, **experiment_overrides(overrides, test_from, test_file)
    )
    if cfg.family != family:
        raise ValueError(f"{config_path} is for family {cfg.family!r}, not {family!r}")
    source = read_county(
        settings, data_dir, log=lambda msg: log(f"[{family}] {msg}"), family=family, catalog_path=catalog_path
    )
    fs = build_features(family, source.tables, catalog=source.catalog)
    log(f"[{family}] features: {len(fs.frame):,} rows x {len(fs.features)} features")
    study = None
    params: dict[str, Any] = {}
    if cfg.tuning.trials:
        settings.work_dir.mkdir(parents=True, exist_ok=True)  # the default study lives in work_dir/optuna.db
        log(f"[{family}] tuning: {cfg.tuning.trials} Optuna trials on the validation slice")
        study = tune_family(fs, cfg, cfg.tuning.trials, settings.study_storage())
        params = study["best_params"]
        log(f"[{family}] best {study['objective']} = {study['best_value']:.5g} after {study['n_trials']} trials")
    log(f"[{family}] training")
    try:
        result = train_family(fs, cfg, oracle=load_oracle(source.oracle_dir), params=params)
    except ConfigError as exc:  # a setting that does not fit the data (e.g. a condition it lacks): name the file
        raise ConfigError(f"{config_path}: {exc}") from exc
    dropped = result.bundle.metadata.get("dropped_features", {})
    for name, why in dropped.items():
        log(f"[{family}] dropped feature {name}: {why}")
    rows = {"frame": len(fs.frame), **result.split.sizes()}
    log(f"[{family}] logging to MLflow and applying the promotion gate")
    run_id, version, decision = log_and_register(
        result,
        cfg,
        settings,
        config_text=config_path.read_text(encoding="utf-8"),
        fingerprint=source.fingerprint,
        rows=rows,
        personal=spec.personal,
        study=study,
        data_tags={**source.tags, **test_choice_tags(cfg), **dropped_feature_tags(dropped)},
    )
    return RunSummary(
        family,
        run_id,
        version,
        decision.promoted,
        decision.note,
        result.metrics,
        result.baselines,
        result.bayes,
        result.seconds,
        study,
        rows,
        decision.gate_metrics(),
    )


def dropped_feature_tags(dropped: dict[str, str]) -> dict[str, str]:
    """The features a run dropped (all missing in its training rows), as an MLflow tag."""
    return {"dropped_features": ", ".join(dropped) or "none"}


def experiment_overrides(
    overrides: dict[str, Any] | None, test_from: str | None, test_file: Path | None
) -> dict[str, Any]:
    """The dotted overrides of a run: ``overrides`` (e.g. a retrain's recent split), then the test set chosen on
    the command line, which wins where given."""
    chosen = {"split.test_from": test_from, "split.test_file": None if test_file is None else str(test_file)}
    return {**(overrides or {}), **{k: v for k, v in chosen.items() if v is not None}}


def test_choice_tags(cfg: ExperimentConfig) -> dict[str, str]:
    """How the run's test rows were chosen, as MLflow tags (the file by name and content hash)."""
    if cfg.split.test_from is not None:
        return {"test_choice": "from", "test_from": cfg.split.test_from}
    if cfg.split.test_file is not None:
        digest = hashlib.sha256(Path(cfg.split.test_file).read_bytes()).hexdigest()
        return {"test_choice": "file", "test_file": Path(cfg.split.test_file).name, "test_file_sha256": digest}
    return {"test_choice": "last_months"}


def format_summary(s: RunSummary, metrics: list[str] | None = None) -> str:
    """A few lines: run id, version, metrics beside baselines and the oracle limit, the gate's decision."""
    names = metrics or [k for k in s.metrics if "_" not in k or k.startswith(("status_", "coverage_"))]
    header = f"{'metric':<18}{'model':>10}" + "".join(f"{b[:14]:>16}" for b in s.baselines) + f"{'oracle':>10}"
    lines = [
        f"{s.family}: run {s.run_id} -> version {s.version} "
        f"({'PROMOTED to champion' if s.promoted else 'kept as challenger'}; {s.seconds:.1f} s)",
        header,
    ]
    for k in names:
        row = f"{k:<18}{s.metrics[k]:>10.4g}" + "".join(
            f"{b.get(k, float('nan')):>16.4g}" for b in s.baselines.values()
        )
        row += f"{(s.bayes or {}).get(k, float('nan')):>10.4g}"
        lines.append(row)
    lines.append(f"gate: {s.gate_note}")
    return "\n".join(lines)
