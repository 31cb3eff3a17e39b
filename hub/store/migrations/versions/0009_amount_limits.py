"""The catalogue's plausible maximum per benefit and period kind (a granted amount above
it is refused), payment lines held for the back office instead of ordered, and the
count of held lines on a payment run.

The ceilings are sanity limits, not the legal maxima: the highest legal amount found
for the benefit with a margin for indexation and supplements, so that no legitimate
grant meets them and a typing error (or 2^62 øre) cannot become a payment. Each
carries its basis; check the official rate tables ("satser") before tightening one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

from hub.store.tables import Json

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# code -> [(per, max øre, basis)]
LIMITS = {
    "FOLKEPENSION": [("MONTH", 3_500_000, (
        "Grundbeløb 7.544 kr. + pensionstillæg (enlig) 8.729 kr. pr. måned i 2026 = 16.273 kr. "
        "(lov om social pension §§ 26 og 29; satser 2026), med margen for opsat pension og regulering"))],
    "BOLIGSTOETTE": [("MONTH", 2_000_000, (
        "Højeste boligydelse 59.628 kr. om året i 2026 (4.969 kr. pr. måned), forhøjet med alle tillæg ca. 13.975 kr.; "
        "boligydelse i pleje- og ældreboliger har intet loft (lov om individuel boligstøtte §§ 21-23)"))],
    "BOERNEBIDRAG": [("MONTH", 2_000_000, (
        "Normalbidrag 1.603 kr. pr. barn pr. måned i 2025 (børnetilskudsloven § 14); "
        "2.500 kr. pr. barn med margen, for op til 8 børn i én sag"))],
    "BARSELSDAGPENGE": [("WEEK", 750_000, (
        "Højeste barselsdagpenge 4.695 kr. om ugen i 2024 (barselsloven § 35; 2025-2026 ikke fundet), "
        "med margen for regulering"))],
    "OEKONOMISK_FRIPLADS": [("MONTH", 1_000_000, (
        "Tilskuddet kan ikke overstige forældrebetalingen for pladsen (dagtilbudsloven § 43); "
        "ingen landsdækkende højeste takst fundet: et skøn"))],
}


def upgrade() -> None:
    with op.batch_alter_table("benefits") as b:
        b.add_column(sa.Column("amount_limits", Json, nullable=False, server_default="[]"))
    with op.batch_alter_table("payment_lines") as b:
        b.add_column(sa.Column("held_reason", sa.Text, nullable=True))
    with op.batch_alter_table("payment_runs") as b:
        b.add_column(sa.Column("held", sa.BigInteger, nullable=False, server_default="0"))
    benefits = sa.table("benefits", sa.column("code", sa.String), sa.column("amount_limits", Json))
    for code, limits in LIMITS.items():
        op.execute(benefits.update().where(benefits.c.code == code).values(
            amount_limits=[dict(per=per, max_oere=n, basis=basis) for per, n, basis in limits]))


def downgrade() -> None:
    with op.batch_alter_table("payment_runs") as b:
        b.drop_column("held")
    with op.batch_alter_table("payment_lines") as b:
        b.drop_column("held_reason")
    with op.batch_alter_table("benefits") as b:
        b.drop_column("amount_limits")
