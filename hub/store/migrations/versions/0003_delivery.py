"""Delivery: dead letters, paused destinations, archive and letter references, and
the months of register data fetched per case.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

from hub.store.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as b:
        b.add_column(sa.Column("archive_reference", sa.String(300), nullable=True))
    with op.batch_alter_table("decisions") as b:
        b.add_column(sa.Column("sent_at", UTCDateTime(), nullable=True))
        b.add_column(sa.Column("letter_reference", sa.String(300), nullable=True))
    with op.batch_alter_table("outbox") as b:
        b.add_column(sa.Column("dead_at", UTCDateTime(), nullable=True))
    # The claim orders by id: walking the pending ids stops at the batch size, where
    # (status, next_attempt_at) made it sort the whole backlog on every claim.
    op.drop_index("ix_outbox_due", table_name="outbox")
    pending = sa.text("status = 'PENDING'")
    op.create_index("ix_outbox_pending", "outbox", ["id"], sqlite_where=pending, postgresql_where=pending)
    op.create_index("ix_outbox_status_id", "outbox", ["status", "id"])
    if op.get_bind().dialect.name == "postgresql":
        # A queue table: its statistics go stale fast, and a stale estimate of the
        # pending backlog makes the claim sort it all. Analyze after 1 % changes.
        op.execute("ALTER TABLE outbox SET (autovacuum_analyze_scale_factor = 0.01, "
                   "autovacuum_vacuum_scale_factor = 0.05)")
    op.create_table(
        "destinations",
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_destinations")),
    )
    op.create_table(
        "register_fetches",
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("register", sa.String(40), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("message_id", sa.String(120), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"],
                                name=op.f("fk_register_fetches_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", "register", "month", name=op.f("pk_register_fetches")),
    )


def downgrade() -> None:
    op.drop_table("register_fetches")
    op.drop_table("destinations")
    op.drop_index("ix_outbox_status_id", table_name="outbox")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    with op.batch_alter_table("outbox") as b:
        b.drop_column("dead_at")
    with op.batch_alter_table("decisions") as b:
        b.drop_column("letter_reference")
        b.drop_column("sent_at")
    with op.batch_alter_table("cases") as b:
        b.drop_column("archive_reference")
