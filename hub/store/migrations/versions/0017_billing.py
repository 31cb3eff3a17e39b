"""Subscription billing: the price model's versions (seeded from hub/store/seeds/billing,
the hub's illustrative model), the quarters billed (once each) and each municipality's
invoice lines.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-04
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa

from hub.domain.billing import price_model_from_dict, price_model_to_dict
from hub.store.seeds import price_model_files
from hub.store.tables import BigId, Json, UTCDateTime

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

SEEDED_AT = dt.datetime(2026, 12, 4, 17, tzinfo=dt.timezone.utc)
PUBLISHER = "hub-seed"


def upgrade() -> None:
    models = op.create_table(
        "billing_price_models",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("model", sa.String(20), nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "billing_runs",
        sa.Column("quarter", sa.String(7), primary_key=True),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("price_model_version", sa.Integer, nullable=False),
        sa.Column("model", sa.String(20), nullable=False),
        sa.Column("ledger_account", sa.String(40), nullable=False),
        sa.Column("run_at", UTCDateTime, nullable=False),
        sa.Column("unallocated", Json, nullable=False, server_default="{}"),
        sa.UniqueConstraint("run_id", name="uq_billing_runs_run_id"),
    )
    op.create_table(
        "billing_lines",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("quarter", sa.String(7), sa.ForeignKey("billing_runs.quarter",
                  name="fk_billing_lines_quarter_billing_runs"), nullable=False),
        sa.Column("municipality_code", sa.String(3), nullable=False),
        sa.Column("line_no", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("benefit_code", sa.String(64), nullable=False, server_default=""),
        sa.Column("cases", sa.BigInteger, nullable=False),
        sa.Column("unit_price_oere", sa.BigInteger, nullable=False),
        sa.Column("amount_oere", sa.BigInteger, nullable=False),
        sa.Column("national_cases", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cost_pool_oere", sa.BigInteger, nullable=False, server_default="0"),
        sa.UniqueConstraint("quarter", "municipality_code", "kind", "benefit_code", name="uq_billing_lines_line"),
    )
    rows = []
    for version, d in enumerate(price_model_files(), start=1):
        m = price_model_from_dict(d, version=version)
        rows.append(dict(version=version, effective_from=m.effective_from, model=m.kind.value,
                         data=price_model_to_dict(m), published_by=PUBLISHER, published_at=SEEDED_AT))
    op.bulk_insert(models, rows)


def downgrade() -> None:
    op.drop_table("billing_lines")
    op.drop_table("billing_runs")
    op.drop_table("billing_price_models")
