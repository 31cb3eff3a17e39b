"""Final settlement against the year's final income ("efterregulering"): the settlement
of each case and income year, the runs that make them, the income year a settlement's
decision settles, and the settlement figures (hub/store/seeds/settlement) added to the
rule sets of the benefits settled, as a new version of each rule set there is (the
calculation figures unchanged; published rule sets are never edited).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa

from hub.store.seeds import settlement_files
from hub.store.tables import BigId, Json, UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SEEDED_AT = dt.datetime(2026, 12, 4, 12, tzinfo=dt.timezone.utc)
PUBLISHER = "hub-seed"   # (the hub's seed, as 0012's; told apart by SEEDED_AT)

_rule_sets = sa.table(
    "rule_sets", sa.column("benefit_code", sa.String), sa.column("version", sa.Integer),
    sa.column("effective_from", sa.Date), sa.column("legal_basis", sa.Text), sa.column("source", sa.Text),
    sa.column("note", sa.Text), sa.column("parameters", Json), sa.column("published_by", sa.String),
    sa.column("published_at", UTCDateTime))


def upgrade() -> None:
    with op.batch_alter_table("decisions") as b:
        b.add_column(sa.Column("settlement_year", sa.Integer, nullable=True))
    op.create_table(
        "settlements",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("income_year", sa.Integer, nullable=False),
        sa.Column("municipality_code", sa.String(3), nullable=False),
        sa.Column("benefit_code", sa.String(64), nullable=False),
        sa.Column("status", sa.String(14), nullable=False),
        sa.Column("result", sa.String(14), nullable=True),
        sa.Column("granted_oere", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("final_oere", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("difference_oere", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("final_income_oere", sa.BigInteger, nullable=True),
        sa.Column("months", Json, nullable=False, server_default="[]"),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("decision_id", sa.String(36), sa.ForeignKey("decisions.decision_id"), nullable=True),
        sa.Column("information_id", sa.String(36), nullable=True),
        sa.Column("rule_set", sa.String(80), nullable=False, server_default=""),
        sa.Column("last_run", sa.String(36), nullable=True),
        sa.Column("claimed_by", sa.String(36), nullable=True),
        sa.Column("claimed_until", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("settled_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("case_id", "income_year", name="uq_settlements_case_year"),
    )
    op.create_index("ix_settlements_work", "settlements", ["income_year", "benefit_code", "status", "id"])
    op.create_index("ix_settlements_municipality", "settlements", ["municipality_code", "income_year", "id"])
    op.create_table(
        "settlement_runs",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("income_year", sa.Integer, nullable=False),
        sa.Column("benefit_code", sa.String(64), nullable=False),
        sa.Column("municipality_code", sa.String(3), nullable=False, server_default=""),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.Column("counts", Json, nullable=False, server_default="{}"),
        sa.UniqueConstraint("client_id", "request_id", name="uq_settlement_runs_request"),
    )
    conn = op.get_bind()
    for seed in settlement_files():
        code = seed["benefit_code"]
        rows = conn.execute(sa.select(_rule_sets).where(_rule_sets.c.benefit_code == code)
                            .order_by(_rule_sets.c.effective_from, _rule_sets.c.version)).all()
        latest = {}
        for r in rows:   # the newest version for each effective date
            latest[r.effective_from] = r
        version = max((r.version for r in rows), default=0)
        new = []
        for effective, r in sorted(latest.items()):
            version += 1
            new.append(dict(benefit_code=code, version=version, effective_from=effective,
                            legal_basis=r.legal_basis + "; final settlement §§ 8, 46 b-49",
                            source=r.source, note=f"{r.note} {seed['note']}".strip(),
                            parameters={**r.parameters, **seed["parameters"]}, published_by=PUBLISHER,
                            published_at=SEEDED_AT))
        if new:
            op.bulk_insert(_rule_sets, new)


def downgrade() -> None:
    op.execute(_rule_sets.delete().where(_rule_sets.c.published_by == PUBLISHER,
                                         _rule_sets.c.published_at == SEEDED_AT))
    op.drop_table("settlement_runs")
    op.drop_index("ix_settlements_municipality", "settlements")
    op.drop_index("ix_settlements_work", "settlements")
    op.drop_table("settlements")
    with op.batch_alter_table("decisions") as b:
        b.drop_column("settlement_year")
