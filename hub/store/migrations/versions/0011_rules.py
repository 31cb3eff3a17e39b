"""Benefit rules as data (rule_sets), the calculation a decision was made with, the
catalogue's flag for applications the hub processes on its own, and where a case's
automatic processing stands (or why it fell out to a person).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

from hub.store.tables import BigId, Json, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("benefits") as b:
        b.add_column(sa.Column("automatic_processing", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "rule_sets",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("benefit_code", sa.String(64), sa.ForeignKey("benefits.code",
                  name="fk_rule_sets_benefit_code_benefits"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("parameters", Json, nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("benefit_code", "version", name="uq_rule_sets_benefit_version"),
    )
    with op.batch_alter_table("cases") as b:
        b.add_column(sa.Column("automation", sa.String(20), nullable=True))
        b.add_column(sa.Column("fallout_reason", sa.String(40), nullable=True))
        b.add_column(sa.Column("fallout_detail", sa.Text, nullable=False, server_default=""))
    op.create_index("ix_cases_fallout", "cases", ["fallout_reason", "municipality_code", "id"])
    with op.batch_alter_table("decisions") as b:
        b.add_column(sa.Column("calculation", Json, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as b:
        b.drop_column("calculation")
    op.drop_index("ix_cases_fallout", "cases")
    with op.batch_alter_table("cases") as b:
        b.drop_column("fallout_detail")
        b.drop_column("fallout_reason")
        b.drop_column("automation")
    op.drop_table("rule_sets")
    with op.batch_alter_table("benefits") as b:
        b.drop_column("automatic_processing")
