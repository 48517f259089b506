"""Initial schema: one table per catalog table (catalog version 1) and the record-keeping tables.

Written out column by column (generated once from ``muzhang.store.schema`` and frozen here): a later
catalog change needs a new migration, never an edit of this one.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "frame_columns",
        sa.Column("table_name", sa.String(), nullable=False),
        sa.Column("column_name", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("dtype", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", "column_name", name=op.f("pk_frame_columns")),
    )
    op.create_table(
        "months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_months_status")),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_months")),
    )
    op.create_table(
        "submissions",
        sa.Column("submission_id", sa.String(), nullable=False),
        sa.Column("grid_id", sa.String(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("submitted_by", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.CheckConstraint("source IN ('api', 'upload', 'import', 'emit')", name=op.f("ck_submissions_source")),
        sa.CheckConstraint(
            "status IN ('accepted', 'partial', 'refused', 'duplicate')", name=op.f("ck_submissions_status")
        ),
        sa.PrimaryKeyConstraint("submission_id", name=op.f("pk_submissions")),
    )
    op.create_index(op.f("ix_submissions_month_grid_id"), "submissions", ["month", "grid_id"], unique=False)

    op.create_table(
        "townships",
        sa.Column("township_id", sa.String(), nullable=False),
        sa.Column("township_name", sa.String(), nullable=False),
        sa.Column("township_name_zh", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("seat_x_km", sa.Float(), nullable=False),
        sa.Column("seat_y_km", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("township_id", name=op.f("pk_townships")),
        comment="One row per town or township of the county, with the position of its seat.",
    )
    op.create_table(
        "flags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("grid_id", sa.String(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("field", sa.String(), nullable=True),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submission_id", sa.String(), nullable=True),
        sa.Column("resolved_by", sa.String(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'confirmed', 'corrected')", name=op.f("ck_flags_status")),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.submission_id"], name=op.f("fk_flags_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flags")),
    )
    op.create_index(op.f("ix_flags_month_status"), "flags", ["month", "status"], unique=False)

    op.create_table(
        "grids",
        sa.Column("grid_id", sa.String(), nullable=False),
        sa.Column("township_id", sa.String(), nullable=False),
        sa.Column("township_name", sa.String(), nullable=False),
        sa.Column("village_id", sa.String(), nullable=False),
        sa.Column("is_community", sa.Boolean(), nullable=False),
        sa.Column("cooperative_id", sa.String(), nullable=True),
        sa.Column("grid_name", sa.String(), nullable=False),
        sa.Column("grid_name_zh", sa.String(), nullable=False),
        sa.Column("herder_chiefs", sa.BigInteger(), nullable=False),
        sa.Column("area_km2", sa.Float(), nullable=False),
        sa.Column("elevation_m", sa.Integer(), nullable=False),
        sa.Column("pasture_type", sa.String(), nullable=False),
        sa.Column("warm_share", sa.Float(), nullable=False),
        sa.Column("cold_share", sa.Float(), nullable=False),
        sa.Column("transition_share", sa.Float(), nullable=False),
        sa.Column("seasonal_use", sa.String(), nullable=False),
        sa.Column("boundary_ambiguity", sa.Float(), nullable=False),
        sa.Column("distance_to_seat_km", sa.Float(), nullable=False),
        sa.Column("centroid_lon", sa.Float(), nullable=False),
        sa.Column("centroid_lat", sa.Float(), nullable=False),
        sa.Column("x_km", sa.Float(), nullable=False),
        sa.Column("y_km", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["township_id"], ["townships.township_id"], name=op.f("fk_grids_township_id_townships")
        ),
        sa.PrimaryKeyConstraint("grid_id", name=op.f("pk_grids")),
        comment="One row per grid area (网格片区) with its place in the administration and its static site attributes.",
    )
    op.create_table(
        "market_monthly",
        sa.Column("township_id", sa.String(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("species", sa.String(), nullable=False),
        sa.Column("head_sold", sa.BigInteger(), nullable=False),
        sa.Column("price_yuan_per_head", sa.Float(), nullable=False),
        sa.Column("revenue_yuan", sa.Float(), nullable=False),
        sa.Column("herd_head", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["township_id"], ["townships.township_id"], name=op.f("fk_market_monthly_township_id_townships")
        ),
        sa.PrimaryKeyConstraint("township_id", "species", "month", name=op.f("pk_market_monthly")),
        comment="Livestock sold and prices per township, species and month.",
    )
    op.create_index(op.f("ix_market_monthly_month"), "market_monthly", ["month"], unique=False)

    op.create_table(
        "patients",
        sa.Column("township_id", sa.String(), nullable=False),
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("check_date", sa.Date(), nullable=False),
        sa.Column("age", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(), nullable=False),
        sa.Column("ethnicity", sa.String(), nullable=False),
        sa.Column("occupation", sa.String(), nullable=False),
        sa.Column("residence_altitude_m", sa.Integer(), nullable=False),
        sa.Column("years_above_4500m", sa.Integer(), nullable=False),
        sa.Column("dogs_owned", sa.Integer(), nullable=False),
        sa.Column("plays_with_dogs", sa.Boolean(), nullable=False),
        sa.Column("water_source", sa.String(), nullable=False),
        sa.Column("flies_on_food", sa.Boolean(), nullable=False),
        sa.Column("fox_skin", sa.Boolean(), nullable=False),
        sa.Column("butter_tea_cups_day", sa.Integer(), nullable=False),
        sa.Column("smoking", sa.String(), nullable=False),
        sa.Column("alcohol", sa.Boolean(), nullable=False),
        sa.Column("handles_livestock_births", sa.Boolean(), nullable=False),
        sa.Column("herd_abortion_history", sa.Boolean(), nullable=False),
        sa.Column("raw_milk", sa.Boolean(), nullable=False),
        sa.Column("bmi", sa.Float(), nullable=False),
        sa.Column("systolic_bp", sa.Integer(), nullable=False),
        sa.Column("diastolic_bp", sa.Integer(), nullable=False),
        sa.Column("heart_rate", sa.Integer(), nullable=False),
        sa.Column("spo2_pct", sa.Integer(), nullable=False),
        sa.Column("haemoglobin_g_dl", sa.Float(), nullable=False),
        sa.Column("baseline_hypertension", sa.Boolean(), nullable=False),
        sa.Column("baseline_cms", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["township_id"], ["townships.township_id"], name=op.f("fk_patients_township_id_townships")
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patients")),
        comment="One row per person at the baseline health check (personal data).",
    )
    op.create_table(
        "value_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("table_name", sa.String(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submission_id", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.submission_id"], name=op.f("fk_value_audit_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_value_audit")),
    )
    op.create_index(op.f("ix_value_audit_table_name_key"), "value_audit", ["table_name", "key"], unique=False)

    op.create_table(
        "grid_monthly",
        sa.Column("grid_id", sa.String(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("precip_mm", sa.Float(), nullable=False),
        sa.Column("temp_mean_c", sa.Float(), nullable=False),
        sa.Column("snow_days", sa.Integer(), nullable=False),
        sa.Column("ndvi", sa.Float(), nullable=False),
        sa.Column("forage_yield_kg_ha", sa.Float(), nullable=False),
        sa.Column("households", sa.BigInteger(), nullable=False),
        sa.Column("people", sa.BigInteger(), nullable=False),
        sa.Column("new_households", sa.BigInteger(), nullable=False),
        sa.Column("settled_houses", sa.BigInteger(), nullable=False),
        sa.Column("camp_moves", sa.BigInteger(), nullable=False),
        sa.Column("yak", sa.BigInteger(), nullable=False),
        sa.Column("sheep", sa.BigInteger(), nullable=False),
        sa.Column("goat", sa.BigInteger(), nullable=False),
        sa.Column("horse", sa.BigInteger(), nullable=False),
        sa.Column("births", sa.BigInteger(), nullable=False),
        sa.Column("deaths", sa.BigInteger(), nullable=False),
        sa.Column("yak_sold", sa.BigInteger(), nullable=False),
        sa.Column("sheep_sold", sa.BigInteger(), nullable=False),
        sa.Column("goat_sold", sa.BigInteger(), nullable=False),
        sa.Column("horse_sold", sa.BigInteger(), nullable=False),
        sa.Column("dogs", sa.BigInteger(), nullable=False),
        sa.Column("rest_status", sa.String(), nullable=False),
        sa.Column("rested_share", sa.Float(), nullable=False),
        sa.Column("supplementary_feed_t", sa.Float(), nullable=False),
        sa.Column("patrol_days", sa.Integer(), nullable=False),
        sa.Column("disputes", sa.BigInteger(), nullable=False),
        sa.Column("dispute_kind", sa.String(), nullable=False),
        sa.Column("mediations", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.grid_id"], name=op.f("fk_grid_monthly_grid_id_grids")),
        sa.PrimaryKeyConstraint("grid_id", "month", name=op.f("pk_grid_monthly")),
        comment="The items each grid area reports every month (weather, forage, people, livestock, rest, disputes).",
    )
    op.create_index(op.f("ix_grid_monthly_month"), "grid_monthly", ["month"], unique=False)

    op.create_table(
        "grid_neighbours",
        sa.Column("grid_id", sa.String(), nullable=False),
        sa.Column("neighbour_id", sa.String(), nullable=False),
        sa.Column("shared_border_km", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.grid_id"], name=op.f("fk_grid_neighbours_grid_id_grids")),
        sa.ForeignKeyConstraint(
            ["neighbour_id"], ["grids.grid_id"], name=op.f("fk_grid_neighbours_neighbour_id_grids")
        ),
        sa.PrimaryKeyConstraint("grid_id", "neighbour_id", name=op.f("pk_grid_neighbours")),
        comment="One row per ordered pair of grid areas that share a border.",
    )
    op.create_table(
        "patient_outcomes",
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("echinococcosis", sa.Boolean(), nullable=False),
        sa.Column("hypertension_5y", sa.Boolean(), nullable=True),
        sa.Column("cms_5y", sa.Boolean(), nullable=True),
        sa.Column("brucellosis", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.patient_id"], name=op.f("fk_patient_outcomes_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patient_outcomes")),
        comment="Conditions found per person at the five-year follow-up (personal data).",
    )


def downgrade() -> None:
    """Drop every table, children first."""
    op.drop_table("patient_outcomes")
    op.drop_table("grid_neighbours")
    op.drop_index(op.f("ix_grid_monthly_month"), table_name="grid_monthly")

    op.drop_table("grid_monthly")
    op.drop_index(op.f("ix_value_audit_table_name_key"), table_name="value_audit")

    op.drop_table("value_audit")
    op.drop_table("patients")
    op.drop_index(op.f("ix_market_monthly_month"), table_name="market_monthly")

    op.drop_table("market_monthly")
    op.drop_table("grids")
    op.drop_index(op.f("ix_flags_month_status"), table_name="flags")

    op.drop_table("flags")
    op.drop_table("townships")
    op.drop_index(op.f("ix_submissions_month_grid_id"), table_name="submissions")

    op.drop_table("submissions")
    op.drop_table("months")
    op.drop_table("frame_columns")
