"""The rule sets the hub starts with (hub/store/seeds/rule_sets: 2025 and 2026 for the
five benefits, each figure with its section and source, a figure not found kept as null
with a note), and automatic processing for the benefits the hub can decide without a
person: housing benefit (boligstøtte) and advance child support (forskudsvis
børnebidrag), both without discretion in the catalogue. Later years are published with
RulesService.PublishRuleSet, not by a migration.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa

from hub.domain.rules import rule_set_from_dict, rule_set_to_dict
from hub.store.seeds import rule_set_files
from hub.store.tables import Json, UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

AUTOMATIC = ("BOLIGSTOETTE", "BOERNEBIDRAG")
SEEDED_AT = dt.datetime(2026, 12, 4, tzinfo=dt.timezone.utc)

_rule_sets = sa.table(
    "rule_sets", sa.column("benefit_code", sa.String), sa.column("version", sa.Integer),
    sa.column("effective_from", sa.Date), sa.column("legal_basis", sa.Text), sa.column("source", sa.Text),
    sa.column("note", sa.Text), sa.column("parameters", Json), sa.column("published_by", sa.String),
    sa.column("published_at", UTCDateTime))
_benefits = sa.table("benefits", sa.column("code", sa.String), sa.column("automatic_processing", sa.Boolean))


def upgrade() -> None:
    versions: dict[str, int] = {}
    rows = []
    for d in rule_set_files():   # by benefit, then effective date: versions count up in that order
        r = rule_set_from_dict(d)
        versions[r.benefit_code] = versions.get(r.benefit_code, 0) + 1
        rows.append(dict(benefit_code=r.benefit_code, version=versions[r.benefit_code],
                         effective_from=r.effective_from, legal_basis=r.legal_basis, source=r.source, note=r.note,
                         parameters=rule_set_to_dict(r)["parameters"], published_by="hub-seed",
                         published_at=SEEDED_AT))
    op.bulk_insert(_rule_sets, rows)
    op.execute(_benefits.update().where(_benefits.c.code.in_(AUTOMATIC)).values(automatic_processing=True))


def downgrade() -> None:
    op.execute(_benefits.update().values(automatic_processing=False))
    op.execute(_rule_sets.delete().where(_rule_sets.c.published_by == "hub-seed"))
