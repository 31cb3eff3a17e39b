"""Payments and collection: grant lines per period, payment orders (unique end-to-end
ids), provider batches, claims and their collections, payment runs; decisions get an
effective date and the decision that superseded them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

from hub.store.tables import BigId, Json, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("claim_collections", "claims", "payment_orders", "payment_batches", "payment_lines", "payment_runs")


def upgrade() -> None:
    with op.batch_alter_table("decisions") as b:
        b.add_column(sa.Column("effective_from", sa.Date, nullable=True))
        b.add_column(sa.Column("superseded_by", sa.String(36), nullable=True))
    op.create_table(
        "payment_lines",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.String(36), sa.ForeignKey("decisions.decision_id"), nullable=False),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("municipality_code", sa.String(3), nullable=False),
        sa.Column("benefit_code", sa.String(64), nullable=False),
        sa.Column("period_key", sa.String(21), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("due_month", sa.String(7), nullable=False),
        sa.Column("amount_oere", sa.BigInteger, nullable=False),
        sa.Column("end_to_end_id", sa.String(35), nullable=False, unique=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("superseded_by", sa.String(36), nullable=True),
        sa.UniqueConstraint("decision_id", "period_key", name="uq_payment_lines_decision_period"),
        sa.Index("ix_payment_lines_work", "state", "due_month", "id"),
        sa.Index("ix_payment_lines_case_period", "case_id", "period_key"),
    )
    op.create_table(
        "payment_batches",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.String(36), nullable=False, unique=True),
        sa.Column("provider_id", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),  # FETCH | FILE
        sa.Column("status", sa.String(15), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("lease_expires_at", UTCDateTime, nullable=True),
        sa.Column("acknowledged_at", UTCDateTime, nullable=True),
        sa.Column("order_count", sa.Integer, nullable=False),
        sa.Column("control_sum_oere", sa.BigInteger, nullable=False),
        sa.Index("ix_payment_batches_provider_status", "provider_id", "status"),
    )
    op.create_table(
        "payment_orders",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("end_to_end_id", sa.String(35), nullable=False, unique=True),
        sa.Column("line_id", sa.BigInteger, sa.ForeignKey("payment_lines.id"), nullable=False),
        sa.Column("decision_id", sa.String(36), sa.ForeignKey("decisions.decision_id"), nullable=False),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("municipality_code", sa.String(3), nullable=False),
        sa.Column("benefit_code", sa.String(64), nullable=False),
        sa.Column("period_key", sa.String(21), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("due_month", sa.String(7), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("amount_oere", sa.BigInteger, nullable=False),
        sa.Column("offset_oere", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("batch_id", sa.String(36), nullable=True),
        sa.Column("run_id", sa.String(36), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("settlement", Json, nullable=True),
        sa.Column("reissued_as", sa.String(35), nullable=True),
        sa.Column("cancel_reason", sa.String(200), nullable=True),
        sa.Index("ix_payment_orders_case_period", "case_id", "period_key"),
        sa.Index("ix_payment_orders_pool", "status", "municipality_code", "id"),
        sa.Index("ix_payment_orders_batch", "batch_id"),
        sa.Index("ix_payment_orders_municipality", "municipality_code", "id"),
    )
    op.create_table(
        "claims",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("claim_id", sa.String(36), nullable=False, unique=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("municipality_code", sa.String(3), nullable=False),
        sa.Column("benefit_code", sa.String(64), nullable=False),
        sa.Column("origin", sa.String(30), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        # Empty for claims made by hand; they do not enter a period's balance.
        sa.Column("period_key", sa.String(21), nullable=False, server_default=""),
        sa.Column("decision_id", sa.String(36), nullable=True),
        sa.Column("amount_oere", sa.BigInteger, nullable=False),
        sa.Column("collected_oere", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cancelled_oere", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("written_off_oere", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("offset_allowed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Index("ix_claims_case_period", "case_id", "period_key"),
        sa.Index("ix_claims_offset", "offset_allowed", "status", "benefit_code"),
    )
    op.create_table(
        "claim_collections",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("claim_id", sa.String(36), sa.ForeignKey("claims.claim_id"), nullable=False, index=True),
        sa.Column("source", sa.String(10), nullable=False),  # PROVIDER | OFFSET
        sa.Column("amount_oere", sa.BigInteger, nullable=False),
        # The order offset against (OFFSET), or the provider's reference.
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("reversed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Index("ix_claim_collections_reference", "reference"),
    )
    op.create_table(
        "payment_runs",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.Column("examined", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("orders_created", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("amount_oere", sa.BigInteger, nullable=False, server_default="0"),
        sa.UniqueConstraint("client_id", "request_id", name="uq_payment_runs_request"),
    )


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
    with op.batch_alter_table("decisions") as b:
        b.drop_column("superseded_by")
        b.drop_column("effective_from")
