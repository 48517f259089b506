"""What the registry recorded for a model version: its test metrics (from its MLflow run) and its data's month.

A version never changes once registered, so each is read once per process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class VersionRecord:
    version: str
    run_id: str | None = None
    test_metrics: dict[str, float] = field(default_factory=dict)
    data_cutoff: pd.Timestamp | None = None  # the last month of the data it was trained on
    error: str | None = None


_known: dict[tuple[str, str, str], VersionRecord] = {}  # read ones only: an unreadable one is asked again
_lock = threading.Lock()


def version_record(tracking_uri: str, registered_model: str, version: str) -> VersionRecord:
    """The version's run: ``test_*`` metrics (prefix dropped) and the ``data_cutoff`` tag (YYYY-MM)."""
    key = (tracking_uri, registered_model, str(version))
    with _lock:
        known = _known.get(key)
    if known is not None:
        return known
    record = _read_record(tracking_uri, registered_model, str(version))
    if record.error is None:
        with _lock:
            _known[key] = record
    return record


def _read_record(tracking_uri: str, registered_model: str, version: str) -> VersionRecord:
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        run_id = client.get_model_version(registered_model, version).run_id
        run = client.get_run(str(run_id))
    except Exception as exc:  # a version or run that cannot be read: shown as such, never a failed page
        return VersionRecord(version, error=f"{type(exc).__name__}: {str(exc)[:200]}")
    metrics = {k.removeprefix("test_"): float(v) for k, v in run.data.metrics.items() if k.startswith("test_")}
    cutoff = run.data.tags.get("data_cutoff")
    return VersionRecord(version, run_id, metrics, pd.Timestamp(f"{cutoff}-01") if cutoff else None)
