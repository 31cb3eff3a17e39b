"""IT control: the control rules' data (each rule's thresholds, versioned, seeded from
hub/store/seeds/control_rules), the control runs, the work of a month's control (one
row per grant and set of rules, claimed by the runs that share it), and the findings.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa

from hub.domain.control import control_rule_from_dict, control_rule_to_dict
from hub.store.seeds import control_rule_files
from hub.store.tables import BigId, Json, UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

SEEDED_AT = dt.datetime(2026, 12, 4, 15, tzinfo=dt.timezone.utc)
PUBLISHER = "hub-seed"


def upgrade() -> None:
    rules = op.create_table(
        "control_rules",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("rule_code", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("parameters", Json, nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("rule_code", "version", name="uq_control_rules_rule_version"),
    )
    op.create_table(
        "control_runs",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("municipality_code", sa.String(3), nullable=False, server_default=""),
        sa.Column("benefit_code", sa.String(64), nullable=False, server_default=""),
        sa.Column("rules", sa.String(200), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.Column("counts", Json, nullable=False, server_default="{}"),
        sa.UniqueConstraint("client_id", "request_id", name="uq_control_runs_request"),
    )
    op.create_table(
        "control_checks",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("rules", sa.String(200), nullable=False),
        sa.Column("municipality_code", sa.String(3), nullable=False),
        sa.Column("benefit_code", sa.String(64), nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("amount_oere", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("claimed_by", sa.String(36), nullable=True),
        sa.Column("claimed_until", UTCDateTime, nullable=True),
        sa.Column("last_run", sa.String(36), nullable=True),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.UniqueConstraint("case_id", "period", "rules", name="uq_control_checks_case_period_rules"),
    )
    op.create_index("ix_control_checks_work", "control_checks", ["period", "rules", "status", "id"])
    op.create_table(
        "control_findings",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("finding_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.case_id",
                  name="fk_control_findings_case_id_cases"), nullable=False),
        sa.Column("municipality_code", sa.String(3), nullable=False),
        sa.Column("benefit_code", sa.String(64), nullable=False),
        sa.Column("rule_code", sa.String(40), nullable=False),
        sa.Column("rule_key", sa.String(60), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("match_key", sa.String(100), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=True),
        sa.Column("observations", Json, nullable=False),
        sa.Column("amount_at_stake_oere", sa.BigInteger, nullable=True),
        sa.Column("register_data", Json, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("checked_decision_id", sa.String(36), nullable=False),
        sa.Column("found_at", UTCDateTime, nullable=False),
        sa.Column("outcome", sa.String(30), nullable=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("closed_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("closed_at", UTCDateTime, nullable=True),
        sa.Column("follow_up", sa.String(20), nullable=True),
        sa.Column("follow_up_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("decision_id", sa.String(36), nullable=True),
        sa.UniqueConstraint("finding_id", name="uq_control_findings_finding_id"),
        sa.UniqueConstraint("case_id", "rule_code", "match_key", name="uq_control_findings_case_rule_key"),
    )
    op.create_index("ix_control_findings_case_id", "control_findings", ["case_id"])
    op.create_index("ix_control_findings_municipality", "control_findings", ["municipality_code", "id"])
    op.create_index("ix_control_findings_status", "control_findings", ["status", "id"])
    versions: dict[str, int] = {}
    rows = []
    for d in control_rule_files():   # by rule, then effective date: versions count up in that order
        r = control_rule_from_dict(d)
        versions[r.code.value] = versions.get(r.code.value, 0) + 1
        stored = control_rule_to_dict(r)
        rows.append(dict(rule_code=r.code.value, version=versions[r.code.value], effective_from=r.effective_from,
                         title=r.title, legal_basis=r.legal_basis, source=r.source, note=r.note,
                         parameters=stored["parameters"], published_by=PUBLISHER, published_at=SEEDED_AT))
    op.bulk_insert(rules, rows)


def downgrade() -> None:
    op.drop_index("ix_control_findings_status", "control_findings")
    op.drop_index("ix_control_findings_municipality", "control_findings")
    op.drop_index("ix_control_findings_case_id", "control_findings")
    op.drop_table("control_findings")
    op.drop_index("ix_control_checks_work", "control_checks")
    op.drop_table("control_checks")
    op.drop_table("control_runs")
    op.drop_table("control_rules")
