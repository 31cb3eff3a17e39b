"""Case sensitivity (not confidential / confidential / sensitive personal data /
protected person), a data limit on every read and list.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as b:
        b.add_column(sa.Column("sensitivity", sa.String(30), nullable=False, server_default="NOT_CONFIDENTIAL"))


def downgrade() -> None:
    with op.batch_alter_table("cases") as b:
        b.drop_column("sensitivity")
