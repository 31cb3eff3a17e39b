"""Hash-chain the audit log: seq, prev_hash and hash on every entry (existing entries
are chained in id order), and the chain's head.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

from hub.domain.audit import GENESIS, entry_hash

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as b:
        b.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        b.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        b.add_column(sa.Column("hash", sa.String(64), nullable=True))
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain")),
    )
    conn = op.get_bind()
    from hub.store.tables import audit_log  # the table as it is after this revision
    prev, seq = GENESIS, 0
    rows = conn.execute(sa.select(audit_log.c.id, audit_log.c.at, audit_log.c.client_id, audit_log.c.role,
                                  audit_log.c.rpc, audit_log.c.case_id, audit_log.c.cpr, audit_log.c.outcome,
                                  audit_log.c.request_id, audit_log.c.purpose).order_by(audit_log.c.id)).mappings()
    for r in list(rows):
        seq += 1
        h = entry_hash(prev, dict(r, seq=seq))
        conn.execute(sa.update(audit_log).where(audit_log.c.id == r["id"]).values(seq=seq, prev_hash=prev, hash=h))
        prev = h
    conn.execute(sa.text("INSERT INTO audit_chain (id, seq, hash) VALUES (1, :seq, :hash)"), {"seq": seq, "hash": prev})
    with op.batch_alter_table("audit_log") as b:
        b.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        b.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        b.alter_column("hash", existing_type=sa.String(64), nullable=False)
        b.create_unique_constraint(op.f("uq_audit_log_seq"), ["seq"])


def downgrade() -> None:
    op.drop_table("audit_chain")
    with op.batch_alter_table("audit_log") as b:
        b.drop_constraint(op.f("uq_audit_log_seq"), type_="unique")
        b.drop_column("hash")
        b.drop_column("prev_hash")
        b.drop_column("seq")
