"""Hearings, complaints and deadlines: the catalogue's hearing deadline and appeals
authority; decisions' decisive facts, hearing exception, complaint guidance and
source; hearings, complaints, and the deadline watcher's alerts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

from hub.store.tables import BigId, Json, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("benefits") as b:
        b.add_column(sa.Column("hearing_deadline_days", sa.Integer, nullable=False, server_default="14"))
        b.add_column(sa.Column("appeals_authority_name", sa.String(200), nullable=False,
                               server_default="Ankestyrelsen"))
    with op.batch_alter_table("decisions") as b:
        b.add_column(sa.Column("decisive_fact_ids", Json, nullable=False, server_default="[]"))
        b.add_column(sa.Column("hearing_exception", sa.String(40), nullable=True))
        b.add_column(sa.Column("hearing_exception_note", sa.Text, nullable=False, server_default=""))
        b.add_column(sa.Column("complaint_guidance", sa.Text, nullable=False, server_default=""))
        b.add_column(sa.Column("source", sa.String(30), nullable=False, server_default="AUTHORITY"))
    op.create_table(
        "hearings",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("hearing_id", sa.String(36), nullable=False, unique=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.case_id"), nullable=False, index=True),
        sa.Column("decision_id", sa.String(36), sa.ForeignKey("decisions.decision_id"), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("fact_item_ids", Json, nullable=False),
        sa.Column("intended_outcome", sa.String(30), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("started_by", sa.String(200), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("deadline", UTCDateTime, nullable=False),
        sa.Column("response_item_id", sa.String(36), nullable=True),
        sa.Column("answered_at", UTCDateTime, nullable=True),
        sa.Column("expired_at", UTCDateTime, nullable=True),
        sa.Index("ix_hearings_status_deadline", "status", "deadline"),
    )
    op.create_table(
        "complaints",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("complaint_id", sa.String(36), nullable=False, unique=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.case_id"), nullable=False, index=True),
        sa.Column("decision_id", sa.String(36), sa.ForeignKey("decisions.decision_id"), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("grounds", sa.Text, nullable=False),
        sa.Column("external_reference", sa.String(200), nullable=False, server_default=""),
        sa.Column("filed_by", sa.String(200), nullable=False),
        sa.Column("filed_at", UTCDateTime, nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("late_decision", Json, nullable=True),
        sa.Column("statement", Json, nullable=True),
        sa.Column("reconsider_by", UTCDateTime, nullable=False),
        sa.Column("reconsideration", Json, nullable=True),
        sa.Column("forwarded_at", UTCDateTime, nullable=True),
        sa.Column("forwarded_reference", sa.String(300), nullable=True),
        sa.Column("appeal", Json, nullable=True),
        sa.Index("ix_complaints_status_due", "status", "reconsider_by"),
    )
    op.create_table(
        "deadline_alerts",
        sa.Column("kind", sa.String(30), primary_key=True),
        sa.Column("subject_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("raised_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    for name in ("deadline_alerts", "complaints", "hearings"):
        op.drop_table(name)
    with op.batch_alter_table("decisions") as b:
        for col in ("source", "complaint_guidance", "hearing_exception_note", "hearing_exception",
                    "decisive_fact_ids"):
            b.drop_column(col)
    with op.batch_alter_table("benefits") as b:
        b.drop_column("appeals_authority_name")
        b.drop_column("hearing_deadline_days")
