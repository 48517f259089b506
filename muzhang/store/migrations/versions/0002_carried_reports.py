"""Carried reports: a closed month's missing grid report is carried from the grid's previous month.

Adds ``carry`` to the sources a submission may have, so a carried value is told apart from a report that
arrived (data quality never counts it as received) and every answer can say which inputs were carried.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "source IN ('api', 'upload', 'import', 'emit')"
NEW = "source IN ('api', 'upload', 'import', 'emit', 'carry')"


def _replace_check(condition: str) -> None:
    # batch mode: SQLite cannot alter a constraint in place, so Alembic copies the table (in a transaction)
    with op.batch_alter_table("submissions") as batch:
        batch.drop_constraint(op.f("ck_submissions_source"), type_="check")
        batch.create_check_constraint(op.f("ck_submissions_source"), condition)


def upgrade() -> None:
    _replace_check(NEW)


def downgrade() -> None:
    op.execute("DELETE FROM submissions WHERE source = 'carry'")
    _replace_check(OLD)
