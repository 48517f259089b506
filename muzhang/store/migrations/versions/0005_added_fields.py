"""Fields a data directory's catalog extension added: kept in the store without changing the shipped schema.

``added_fields`` records each added field of a county table with its catalog entry (JSON), who defined it,
when and from where; ``added_values`` keeps its values, one row per (table, field, row key), the row's primary
key and the value as JSON. `muzhang data import DIR` fills them from ``DIR/catalog.yaml`` (or ``--catalog``);
reading the county re-attaches the columns, so training and serving from the store see the added fields.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the two tables (empty: no county imported before this revision had added fields)."""
    op.create_table(
        "added_fields",
        sa.Column("table_name", sa.String(), nullable=False),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("defined_by", sa.String(), nullable=False),
        sa.Column("defined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", "field", name=op.f("pk_added_fields")),
    )
    op.create_table(
        "added_values",
        sa.Column("table_name", sa.String(), nullable=False),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("row_key", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["table_name", "field"],
            ["added_fields.table_name", "added_fields.field"],
            name=op.f("fk_added_values_table_name_added_fields"),
        ),
        sa.PrimaryKeyConstraint("table_name", "field", "row_key", name=op.f("pk_added_values")),
    )


def downgrade() -> None:
    """Drop them (the added fields' values are lost: export the county with its catalog.yaml first)."""
    op.drop_table("added_values")
    op.drop_table("added_fields")
