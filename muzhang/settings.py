"""One settings object for runtime configuration, read from the environment (prefix ``MUZHANG_``).

Create it explicitly with :func:`get_settings`; nothing is read at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from muzhang.paths import DEFAULT_WORK_DIR, SAMPLE_COUNTY


class Settings(BaseSettings):
    """Where data, tracking and studies live. Defaults need no server."""

    model_config = SettingsConfigDict(env_prefix="MUZHANG_", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(SAMPLE_COUNTY, description="County data directory (the shipped sample by default).")
    work_dir: Path = Field(DEFAULT_WORK_DIR, description="Local state: MLflow SQLite store, artifacts, Optuna DB.")
    mlflow_tracking_uri: str | None = Field(
        None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "MUZHANG_MLFLOW_TRACKING_URI"),
        description="MLflow tracking server or database; default: SQLite under work_dir.",
    )
    optuna_storage: str | None = Field(
        None,
        validation_alias=AliasChoices("OPTUNA_STORAGE", "MUZHANG_OPTUNA_STORAGE"),
        description="Optuna RDB URL; default: SQLite under work_dir.",
    )

    def tracking_uri(self) -> str:
        """The MLflow tracking URI in force (embedded SQLite store unless one is configured)."""
        return self.mlflow_tracking_uri or f"sqlite:///{(self.work_dir / 'mlflow.db').resolve()}"

    def artifact_root(self) -> Path:
        """Folder for artifacts of experiments created on the embedded store."""
        return (self.work_dir / "mlartifacts").resolve()

    def study_storage(self) -> str:
        """The Optuna storage URL in force (a local SQLite file unless one is configured)."""
        return self.optuna_storage or f"sqlite:///{(self.work_dir / 'optuna.db').resolve()}"


def get_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides (e.g. from CLI options)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
