"""Management information: the event log folded into totals per municipality, benefit,
day and metric, and how far the log has been folded (hub.domain.statistics). Derived
data: the totals start empty and the hub folds the whole log, from the first event.

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

from hub.store.tables import UTCDateTime

revision = "0018"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "statistics_daily",
        sa.Column("municipality_code", sa.String(3), primary_key=True),
        sa.Column("benefit_code", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("metric", sa.String(40), primary_key=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_statistics_daily_metric", "statistics_daily",
                    ["municipality_code", "benefit_code", "metric", "day"])
    op.create_table(
        "statistics_checkpoint",
        sa.Column("name", sa.String(20), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("statistics_checkpoint")
    op.drop_index("ix_statistics_daily_metric", table_name="statistics_daily")
    op.drop_table("statistics_daily")
