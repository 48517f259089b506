"""One settings object for runtime configuration, read from the environment (prefix ``MUZHANG_``).

Create it explicitly with :func:`get_settings`; nothing is read at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from muzhang.paths import DEFAULT_WORK_DIR, SAMPLE_COUNTY

Role = Literal["planner", "health", "data_scientist", "admin", "reporter"]
# Every environment variable that sends data, runs, models or studies somewhere else than the defaults:
# MLflow's own two, Optuna's, and the settings below that name a store or a folder. Tests and benchmarks
# clear exactly these to work on a store of their own.
STORE_ENV_VARS: tuple[str, ...] = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "OPTUNA_STORAGE",
    "MUZHANG_MLFLOW_TRACKING_URI",
    "MUZHANG_OPTUNA_STORAGE",
    "MUZHANG_WORK_DIR",
    "MUZHANG_DATA_DIR",
    "MUZHANG_STORE_URL",
)


class ApiKey(BaseModel):
    """One API key: who holds it, its role, and the sha256 of the key (never the key itself)."""

    name: str = Field(min_length=1, max_length=64)
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    grids: list[str] = Field(
        default_factory=list,
        description="A reporter's (herder chief's) grid areas: the only grids the key may report for.",
    )


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
    store_url: str | None = Field(
        None,
        description="County store database (SQLAlchemy URL, e.g. postgresql+psycopg://...); "
        "default: SQLite county.db under work_dir.",
    )
    county_source: Literal["auto", "store", "directory"] = Field(
        "auto",
        description="Where training and serving read the county: the store (at its last closed month), the "
        "data directory, or auto: the store when a store URL is set or the default store file exists.",
    )
    on_time_days: int = Field(15, ge=0, le=90, description="Days after a month ends a report is still on time.")
    close_at_completeness: float | None = Field(
        None, gt=0, le=1, description="Close the open month by itself once this share of grids has reported."
    )
    close_on_day: int | None = Field(
        None, ge=1, le=28, description="Close the open month by itself from this day of the following month."
    )

    # --- Monitoring (issue 11) ----------------------------------------------------------------------
    monitor_outcome_window_months: int = Field(
        24,
        ge=1,
        le=240,
        description="Forecasts whose target is older than this many months stop waiting for an "
        "outcome (counted as missing).",
    )
    monitor_bootstrap: int = Field(
        200, ge=20, le=5000, description="Bootstrap resamples behind each live metric's 95 % interval."
    )
    drift_psi_threshold: float = Field(
        0.25, gt=0, description="PSI above which a feature (or the predictions) has drifted (0.1-0.25: watch)."
    )
    drift_ks_threshold: float = Field(
        0.3, gt=0, le=1, description="Kolmogorov-Smirnov distance above which a numeric feature has drifted."
    )

    # --- Serving ------------------------------------------------------------------------------------
    api_keys: list[ApiKey] = Field(
        default_factory=list,
        description='API keys as JSON: [{"name": "...", "role": "planner", "sha256": "<hex of the key>"}]. '
        "Only hashes are stored; there is no default key.",
    )
    audit_log: Path | None = Field(None, description="Append-only disease access log (default work_dir/audit/).")
    poll_seconds: float = Field(
        30.0, ge=0, description="How often to check the registry for a new champion (0: never)."
    )
    batch_cap: int = Field(1000, ge=1, le=100_000, description="Most items in one batch request.")
    max_body_bytes: int = Field(2_000_000, ge=1_000, description="Largest request body accepted.")
    max_header_bytes: int = Field(
        32_768,
        ge=1_024,
        le=1_048_576,
        description="Largest request line + headers the server reads; more is refused with 431 and the "
        "connection closed (the server's own bound, not only a proxy's).",
    )
    market_batch_cost_cap: int = Field(
        12_000,
        ge=1,
        description="Most forecast values one market batch may ask for: items x series x horizons x "
        "(median + quantiles); 12,000 is 100 (township, species) items of 2 series x 6 horizons x 10 values.",
    )
    audit_min_rows: int = Field(
        5,
        ge=1,
        description="Disease audit lines carry band counts only for requests of at least this many people "
        "(fewer would reveal a person's bands).",
    )
    failed_key_limit: int = Field(
        10, ge=1, description="Failed API keys one client address may send within the window before a 429."
    )
    failed_key_window_seconds: float = Field(
        60.0, gt=0, le=86_400, description="The window over which failed API keys are counted per address."
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    def audit_path(self) -> Path:
        return self.audit_log or self.work_dir / "audit" / "disease-access.jsonl"

    def tracking_uri(self) -> str:
        """The MLflow tracking URI in force (embedded SQLite store unless one is configured)."""
        return self.mlflow_tracking_uri or f"sqlite:///{(self.work_dir / 'mlflow.db').resolve()}"

    def artifact_root(self) -> Path:
        """Folder for artifacts of experiments created on the embedded store."""
        return (self.work_dir / "mlartifacts").resolve()

    def study_storage(self) -> str:
        """The Optuna storage URL in force (a local SQLite file unless one is configured)."""
        return self.optuna_storage or f"sqlite:///{(self.work_dir / 'optuna.db').resolve()}"

    def county_store_url(self) -> str:
        """The county store's URL in force (a SQLite file under work_dir unless one is configured)."""
        return self.store_url or f"sqlite:///{(self.work_dir / 'county.db').resolve()}"

    def reads_store(self) -> bool:
        """Whether training and serving read the county from the store (see ``county_source``)."""
        if self.county_source != "auto":
            return self.county_source == "store"
        return self.store_url is not None or (self.work_dir / "county.db").is_file()


def get_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides (e.g. from CLI options)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
