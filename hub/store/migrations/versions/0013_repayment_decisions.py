"""Repayment is a decision: what a decision makes the citizen pay back (a repayment
decision's own, or what a decision lowering a grant for months already paid overpaid),
and whether the draft let such an overpayment be offset against later payments; and the
last day a decision for a bounded time governs payments.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

from hub.store.tables import Json

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as b:
        b.add_column(sa.Column("repayment", Json, nullable=True))
        b.add_column(sa.Column("offset_repayment", sa.Boolean, nullable=False, server_default=sa.false()))
        b.add_column(sa.Column("effective_to", sa.Date, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as b:
        b.drop_column("effective_to")
        b.drop_column("offset_repayment")
        b.drop_column("repayment")
