"""Models in the world: the forecast log (every forecast kept, its outcome joined) and retrain decisions.

``forecast_log`` keeps one row per (family, model version, target period, series key): written at month
close, never on the request path; ``outcome`` is filled once the target period's reports are in. Disease
rows hold counts per risk band only, never a person. ``retrain_decisions`` records what `muzhang retrain`
decided and why.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the forecast log and the retrain decisions."""
    op.create_table(
        "forecast_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("family", sa.String(), nullable=False),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("target_period", sa.Date(), nullable=False),
        sa.Column("series_key", sa.String(), nullable=False),
        sa.Column("as_of_month", sa.Date(), nullable=False),
        sa.Column("prediction", sa.Text(), nullable=False),
        sa.Column("input_fingerprint", sa.String(), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_log")),
        sa.UniqueConstraint(
            "family",
            "model_version",
            "target_period",
            "series_key",
            name=op.f("uq_forecast_log_family_model_version_target_period_series_key"),
        ),
    )
    op.create_index(
        op.f("ix_forecast_log_family_target_period"), "forecast_log", ["family", "target_period"], unique=False
    )
    op.create_table(
        "retrain_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("family", sa.String(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data_month", sa.Date(), nullable=True),
        sa.Column("triggers", sa.Text(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("champion_before", sa.String(), nullable=True),
        sa.Column("version", sa.String(), nullable=True),
        sa.Column("promoted", sa.Boolean(), nullable=True),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_decisions")),
    )
    op.create_index(
        op.f("ix_retrain_decisions_family_decided_at"), "retrain_decisions", ["family", "decided_at"], unique=False
    )


def downgrade() -> None:
    """Drop them (the forecast log's history is lost: export it first)."""
    op.drop_index(op.f("ix_retrain_decisions_family_decided_at"), table_name="retrain_decisions")
    op.drop_table("retrain_decisions")
    op.drop_index(op.f("ix_forecast_log_family_target_period"), table_name="forecast_log")
    op.drop_table("forecast_log")
