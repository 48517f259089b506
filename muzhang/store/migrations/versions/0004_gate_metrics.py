"""Gate metrics as data: each retrain decision keeps the promotion gate's numbers, not only its words.

Adds ``gate_metrics`` to ``retrain_decisions``: JSON text ``{"metric": ..., "candidate": {metric: value},
"champion": {metric: value}, "champion_version": ..., "months": [first, last] or null}``, written by
`muzhang retrain` when the gate judged a candidate against a champion, read by the monitoring's "a failed
retrain is evidence" (serving/monitoring/policy.py). Decisions kept before this revision have NULL there.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable column (existing decisions keep NULL: their numbers were only in the note)."""
    with op.batch_alter_table("retrain_decisions") as batch:
        batch.add_column(sa.Column("gate_metrics", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop it (the structured numbers are lost; the note's words stay)."""
    with op.batch_alter_table("retrain_decisions") as batch:
        batch.drop_column("gate_metrics")
