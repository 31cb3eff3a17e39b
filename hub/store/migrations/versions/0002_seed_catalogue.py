"""Seed the benefit catalogue with the five areas of the municipal model, and the
event sequence counter.

The catalogue is data: a new benefit area is a new row (a later migration or an
operator's insert), never a code change. In the model this hub serves, the home
municipality is the authority for all five; set authority_kind = 'CENTRAL' and a
central_authority_code on a row where a central authority decides instead.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_benefits = sa.table(
    "benefits",
    sa.column("code", sa.String), sa.column("name_da", sa.String), sa.column("name_en", sa.String),
    sa.column("kle_number", sa.String), sa.column("processing_deadline_days", sa.Integer),
    sa.column("discretion_possible", sa.Boolean), sa.column("recurrence", sa.String),
    sa.column("retention_years", sa.Integer), sa.column("ledger_account", sa.String),
    sa.column("authority_kind", sa.String), sa.column("central_authority_code", sa.String),
    sa.column("central_authority_name", sa.String),
)

# (code, Danish, English, KLE, deadline days, discretion, recurrence, retention, ledger account)
SEED = [
    ("FOLKEPENSION", "Folkepension", "State old-age pension", "32.18", 56, True, "MONTHLY", 10, "5.57.72"),
    ("BOLIGSTOETTE", "Boligstøtte", "Housing benefit", "32.21", 42, False, "MONTHLY", 5, "5.57.76"),
    ("BOERNEBIDRAG", "Forskudsvis udbetalt børnebidrag", "Advance child support", "32.09", 28, False,
     "MONTHLY", 5, "5.57.73"),
    ("BARSELSDAGPENGE", "Barselsdagpenge", "Maternity and parental benefit", "32.30", 28, False,
     "PER_PERIOD", 5, "5.58.82"),
    ("OEKONOMISK_FRIPLADS", "Økonomisk fripladstilskud", "Daycare fee subsidy", "28.09", 28, True,
     "MONTHLY", 5, "5.25.17"),
]


def upgrade() -> None:
    op.bulk_insert(_benefits, [
        dict(code=c, name_da=da, name_en=en, kle_number=kle, processing_deadline_days=days,
             discretion_possible=disc, recurrence=rec, retention_years=ret, ledger_account=acc,
             authority_kind="HOME_MUNICIPALITY", central_authority_code="", central_authority_name="")
        for c, da, en, kle, days, disc, rec, ret, acc in SEED
    ])
    op.bulk_insert(sa.table("sequences", sa.column("name", sa.String), sa.column("value", sa.BigInteger)),
                   [{"name": "events", "value": 0}])


def downgrade() -> None:
    op.execute("DELETE FROM sequences WHERE name = 'events'")
    op.execute("DELETE FROM benefits WHERE code IN ('FOLKEPENSION', 'BOLIGSTOETTE', 'BOERNEBIDRAG', "
               "'BARSELSDAGPENGE', 'OEKONOMISK_FRIPLADS')")
