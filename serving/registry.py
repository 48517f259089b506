"""The models being served: each family's ``champion`` from the MLflow registry, swapped without a restart.

A family without a champion, or whose store cannot be reached, is *unavailable* with a message saying
why and how to fix it; the other families keep working. A reload that fails keeps the old model serving.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.bundle import BUNDLE_FILE, ModelBundle, require_complete_model_file
from muzhang.families import family_specs
from serving.errors import Unavailable

CHAMPION = "champion"
UNREACHABLE = "registry unreachable"


@dataclass(frozen=True)
class ServedModel:
    family: str
    name: str
    version: str
    bundle: ModelBundle
    loaded_at: float


@dataclass
class FamilySlot:
    """What serves a family now, and the last problem seen with it."""

    model: ServedModel | None = None
    error: str | None = None
    checked_at: float | None = None


def family_models() -> dict[str, str]:
    """Family -> registered model name, for every registered family."""
    return {spec.name: spec.registered_model for spec in family_specs()}


class FamilyUnavailable(Unavailable):
    """Raised when a family has no model to serve; the message tells the user what to do."""


def missing_sqlite_store(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` store that does not exist, else None.

    MLflow would quietly create an empty store there (a wrong path then reads as "no champion"), and a
    store deleted under a running service still answers through its pooled connections.
    """
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return None if Path(path).is_file() else Path(path)


def check_booster_files(model_dir: Path) -> None:
    """Refuse a downloaded model whose LightGBM files are cut short (LightGBM would abort the process)."""
    for description in model_dir.rglob(BUNDLE_FILE):
        for path in sorted(description.parent.glob("*.txt")):
            require_complete_model_file(path)


@dataclass
class ModelRegistry:
    """Loads and follows each family's champion. Thread-safe: readers see whole models only."""

    tracking_uri: str
    families: dict[str, str] = field(default_factory=family_models)
    slots: dict[str, FamilySlot] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.slots = {f: FamilySlot() for f in self.families}

    def get(self, family: str) -> ServedModel:
        slot = self.slots[family]
        if slot.model is None:
            why = slot.error or "not loaded yet"
            raise FamilyUnavailable(
                f"no {family} model is being served ({why}). Train one with `muzhang train {family}` "
                f"(it becomes champion if it beats its baseline), then POST /v1/models/reload."
            )
        return slot.model

    def reload(self, family: str | None = None) -> dict[str, str]:
        """Load each family's current champion if it changed. Returns family -> outcome message.

        The families share one store: once it cannot be reached, the others are not asked again in this
        reload (a locked SQLite file or a dead server would otherwise cost its whole timeout per family).
        """
        with self._lock:
            outcomes: dict[str, str] = {}
            down: str | None = None
            for f in [family] if family else list(self.families):
                if down is None:
                    outcomes[f] = self._refresh(f)
                    down = outcomes[f] if outcomes[f].startswith(UNREACHABLE) else None
                else:
                    slot = self.slots[f]
                    slot.checked_at, slot.error, outcomes[f] = time.time(), down, down
            return outcomes

    def _refresh(self, family: str) -> str:
        slot = self.slots[family]
        slot.checked_at = time.time()
        name = self.families[family]
        try:
            version = self._champion_version(name)
        except Exception as exc:  # store missing, locked or unreachable: keep serving what we have
            slot.error = f"{UNREACHABLE}: {type(exc).__name__}: {str(exc)[:200]}"
            return slot.error
        if version is None:
            slot.error = f"registered model {name} has no '{CHAMPION}' alias"
            return slot.error
        if slot.model is not None and slot.model.version == version:
            slot.error = None
            return f"unchanged (version {version})"
        try:
            bundle = self._load_bundle(name, version)
        except Exception as exc:  # a corrupt or incompatible artifact is refused, the old model stays
            slot.error = f"version {version} refused: {type(exc).__name__}: {str(exc)[:300]}"
            kept = f"; still serving version {slot.model.version}" if slot.model else ""
            return slot.error + kept
        if bundle.family != family:
            slot.error = f"version {version} refused: it is a {bundle.family} model"
            return slot.error
        previous = slot.model.version if slot.model else None
        slot.model = ServedModel(family, name, version, bundle, time.time())
        slot.error = None
        return f"loaded version {version}" + (f" (was {previous})" if previous else "")

    def _champion_version(self, name: str) -> str | None:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        missing = missing_sqlite_store(self.tracking_uri)
        if missing is not None:
            raise FileNotFoundError(f"MLflow store {missing} does not exist")
        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        try:
            return str(client.get_model_version_by_alias(name, CHAMPION).version)
        except MlflowException as exc:
            if "RESOURCE_DOES_NOT_EXIST" in str(getattr(exc, "error_code", "")) or "not found" in str(exc).lower():
                return None
            raise

    def _load_bundle(self, name: str, version: str) -> ModelBundle:
        import mlflow
        from mlflow.tracking import MlflowClient

        from models.pyfunc import load_bundle

        # The URI is passed, never set process-wide: the service may follow another store than a trainer.
        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        source = client.get_model_version_download_uri(name, version)
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=source, tracking_uri=self.tracking_uri))
        check_booster_files(local)
        return load_bundle(str(local))

    def status(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for family, slot in self.slots.items():
            model = slot.model
            meta = model.bundle.metadata if model else {}
            out[family] = {
                "registered_model": self.families[family],
                "version": model.version if model else None,
                "serving": model is not None,
                "trained_at": meta.get("trained_at"),
                "run_id": meta.get("run_id"),
                "test_metrics": meta.get("test_metrics", {}),
                "error": slot.error,
                "added_fields": model.bundle.added_fields if model else {},
            }
        return out
