"""The schema, as SQLAlchemy Core tables. Alembic migrations create it."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class SQLiteDateTime(sqlite.DATETIME):
    """SQLite's DATETIME, bound from the text UTCDateTime makes (below)."""

    def bind_processor(self, dialect):
        return None


# The text of the datetimes bound on SQLite lately: a use case stamps most of its rows
# with one `now` (a new case binds it seven times, and two other times besides), and
# rows are bound column by column, so the last value alone is seldom the one asked
# for. Keyed by value: equal datetimes are one instant, whatever their zone, and so
# one UTC text. Emptied when full (one dict operation is atomic under the GIL).
_SQLITE_TEXTS: dict[dt.datetime, str] = {}
_SQLITE_TEXTS_MAX = 1024


def _aware(value: dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValueError("the store takes timezone-aware datetimes only")
    return value


def sqlite_text(value: dt.datetime) -> str:
    text = _SQLITE_TEXTS.get(_aware(value))
    if text is None:
        text = value.astimezone(dt.timezone.utc).isoformat(" ", "microseconds")[:-6]
        if len(_SQLITE_TEXTS) >= _SQLITE_TEXTS_MAX:
            _SQLITE_TEXTS.clear()
        _SQLITE_TEXTS[value] = text
    return text


def _sqlite_bind(value: dt.datetime | None) -> str | None:
    return None if value is None else sqlite_text(value)


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC in and out, on SQLite (which keeps no zone) and PostgreSQL.

    On SQLite the stored text is SQLAlchemy's DATETIME format, "YYYY-MM-DD
    HH:MM:SS.ffffff" (always with microseconds, so that text order is time order),
    made here by `isoformat`: 4 us instead of 8, and kept for the next rows that bind
    the same time (sqlite_text)."""
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        return SQLiteDateTime() if dialect.name == "sqlite" else super().load_dialect_impl(dialect)

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return sqlite_text(value)
        return _aware(value).astimezone(dt.timezone.utc)

    def bind_processor(self, dialect):
        # On SQLite, process_bind_param's result is bound as it is (SQLiteDateTime has
        # no processor of its own): one call per value instead of three layers.
        if dialect.name == "sqlite":
            return _sqlite_bind
        return super().bind_processor(dialect)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


Json = sa.JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

benefits = sa.Table(
    "benefits", metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("name_da", sa.String(200), nullable=False),
    sa.Column("name_en", sa.String(200), nullable=False),
    sa.Column("kle_number", sa.String(20), nullable=False),
    sa.Column("processing_deadline_days", sa.Integer, nullable=False),
    sa.Column("discretion_possible", sa.Boolean, nullable=False),
    sa.Column("recurrence", sa.String(20), nullable=False),
    sa.Column("retention_years", sa.Integer, nullable=False),
    sa.Column("ledger_account", sa.String(40), nullable=False),
    sa.Column("authority_kind", sa.String(30), nullable=False),
    sa.Column("central_authority_code", sa.String(64), nullable=False, server_default=""),
    sa.Column("central_authority_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("hearing_deadline_days", sa.Integer, nullable=False, server_default="14"),
    sa.Column("appeals_authority_name", sa.String(200), nullable=False, server_default="Ankestyrelsen"),
    # [{"per": "MONTH" | "WEEK" | "PAYMENT", "max_oere": n, "basis": "..."}]: plausible maxima.
    sa.Column("amount_limits", Json, nullable=False, server_default="[]"),
    # Applications the hub processes on its own: registers, calculated draft, automatic
    # approval where the rules allow it.
    sa.Column("automatic_processing", sa.Boolean, nullable=False, server_default=sa.false()),
)

# Benefit rules as data: the figures of each version, as hub.domain.rules.rule_set_to_dict
# writes them. Never updated: a correction is a new version.
rule_sets = sa.Table(
    "rule_sets", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("benefit_code", sa.String(64), sa.ForeignKey("benefits.code"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("effective_from", sa.Date, nullable=False),
    sa.Column("legal_basis", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("parameters", Json, nullable=False),
    sa.Column("published_by", sa.String(200), nullable=False),
    sa.Column("published_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("benefit_code", "version", name="uq_rule_sets_benefit_version"),
)

cases = sa.Table(
    "cases", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(36), nullable=False, unique=True),
    sa.Column("municipality_code", sa.String(3), nullable=False),
    sa.Column("cpr", sa.String(10), nullable=False),
    sa.Column("benefit_code", sa.String(64), sa.ForeignKey("benefits.code"), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("origin", sa.String(20), nullable=False),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("processing_deadline", UTCDateTime, nullable=False),
    sa.Column("applicant_statement", Json, nullable=False),
    sa.Column("external_reference", sa.String(200), nullable=False, server_default=""),
    sa.Column("authority_key", sa.String(80), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # Where the shared archive keeps the decided case (set when the bag is written).
    sa.Column("archive_reference", sa.String(300), nullable=True),
    # hub.domain.model.Sensitivity; only ever raised.
    sa.Column("sensitivity", sa.String(30), nullable=False, server_default="NOT_CONFIDENTIAL"),
    # Automatic processing (hub.domain.automation): where it stands (null: not processed
    # automatically), and why a case fell out of it to a person.
    sa.Column("automation", sa.String(20), nullable=True),
    sa.Column("fallout_reason", sa.String(40), nullable=True),
    sa.Column("fallout_detail", sa.Text, nullable=False, server_default=""),
    sa.Index("ix_cases_cpr_municipality", "cpr", "municipality_code"),
    sa.Index("ix_cases_fallout", "fallout_reason", "municipality_code", "id"),
    sa.Index("ix_cases_municipality_id", "municipality_code", "id"),
    sa.Index("ix_cases_authority_status", "authority_key", "status"),
)

status_history = sa.Table(
    "case_status_history", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.case_id"), nullable=False, index=True),
    sa.Column("from_status", sa.String(40), nullable=True),
    sa.Column("to_status", sa.String(40), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("by_client", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
)

information_items = sa.Table(
    "information_items", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.String(36), nullable=False, unique=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.case_id"), nullable=False, index=True),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("source_reference", sa.String(200), nullable=False, server_default=""),
    sa.Column("kind", sa.String(200), nullable=False),
    sa.Column("value", Json, nullable=False),
    sa.Column("discretionary", sa.Boolean, nullable=False),
    sa.Column("supplied_by", sa.String(200), nullable=False),
    sa.Column("added_at", UTCDateTime, nullable=False),
)

decisions = sa.Table(
    "decisions", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("decision_id", sa.String(36), nullable=False, unique=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.case_id"), nullable=False, index=True),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("outcome", sa.String(30), nullable=False),
    sa.Column("amounts", Json, nullable=False),
    sa.Column("reasoning", sa.Text, nullable=False),
    sa.Column("legal_basis", sa.Text, nullable=False),
    sa.Column("discretionary_points", Json, nullable=False),
    sa.Column("submitted_by", sa.String(200), nullable=False),
    sa.Column("submitted_at", UTCDateTime, nullable=False),
    # Set on approval.
    sa.Column("approval", Json, nullable=True),
    # Set on return.
    sa.Column("returned", Json, nullable=True),
    # When the decision letter was delivered to Digital Post (the complaint deadline
    # counts from it), and the letter's reference there.
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Column("letter_reference", sa.String(300), nullable=True),
    # From when the decision governs payments, and the decision that replaced it.
    sa.Column("effective_from", sa.Date, nullable=True),
    sa.Column("superseded_by", sa.String(36), nullable=True),
    # The information items it rests on; a hearing exception named by the draft; the
    # complaint guidance its letter carries; who made it (AUTHORITY, APPEALS_AUTHORITY).
    sa.Column("decisive_fact_ids", Json, nullable=False, server_default="[]"),
    sa.Column("hearing_exception", sa.String(40), nullable=True),
    sa.Column("hearing_exception_note", sa.Text, nullable=False, server_default=""),
    sa.Column("complaint_guidance", sa.Text, nullable=False, server_default=""),
    sa.Column("source", sa.String(30), nullable=False, server_default="AUTHORITY"),
    # The calculation by the rules the draft accepted or departed from (periods with
    # their rule set and steps, the facts, a departure's reason); null: typed without one.
    sa.Column("calculation", Json, nullable=True),
    # What the citizen must pay back under it (amount, months, offset allowed), and
    # whether the draft let an overpayment it causes be offset.
    sa.Column("repayment", Json, nullable=True),
    sa.Column("offset_repayment", sa.Boolean, nullable=False, server_default=sa.false()),
    # The last day a decision for a bounded time governs payments (null: open-ended).
    sa.Column("effective_to", sa.Date, nullable=True),
    # A final settlement's decision: the income year it settles (null: not one).
    sa.Column("settlement_year", sa.Integer, nullable=True),
    # Denormalised for the authority's inbox.
    sa.Column("authority_key", sa.String(80), nullable=False),
    sa.Index("ix_decisions_authority_status", "authority_key", "status", "id"),
)

# Append-only. `seq` is assigned at commit from the counter row in `sequences`, which
# the committing transaction holds locked: sequence order is commit order, so a
# subscriber that resumes after N never misses an event committed later below N.
events = sa.Table(
    "events", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("type", sa.String(80), nullable=False),
    sa.Column("case_id", sa.String(36), nullable=True, index=True),
    sa.Column("municipality_code", sa.String(3), nullable=True),
    sa.Column("benefit_code", sa.String(64), nullable=True),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("client_id", sa.String(200), nullable=False),
    sa.Column("payload", Json, nullable=False),
)

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(120), nullable=False, unique=True),
    sa.Column("destination", sa.String(60), nullable=False),
    sa.Column("case_id", sa.String(36), nullable=True),
    sa.Column("payload", Json, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="PENDING"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("claimed_by", sa.String(200), nullable=True),
    sa.Column("claim_expires_at", UTCDateTime, nullable=True),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    # Set when the message went to dead letters (permanent error or too many attempts).
    sa.Column("dead_at", UTCDateTime, nullable=True),
    # The claim walks the pending messages in id order and stops at its limit; the
    # operators' lists walk one status in id order.
    sa.Index("ix_outbox_pending", "id", sqlite_where=sa.text("status = 'PENDING'"),
             postgresql_where=sa.text("status = 'PENDING'")),
    sa.Index("ix_outbox_status_id", "status", "id"),
    sa.Index("ix_outbox_case_destination", "case_id", "destination", "id"),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("client_id", sa.String(200), nullable=False),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("rpc", sa.String(120), nullable=False),
    sa.Column("case_id", sa.String(36), nullable=True, index=True),
    # The citizen concerned, for the citizen's right of access. Never logged.
    sa.Column("cpr", sa.String(10), nullable=True, index=True),
    sa.Column("outcome", sa.String(40), nullable=False),
    sa.Column("request_id", sa.String(128), nullable=True),
    sa.Column("purpose", sa.String(200), nullable=True),
    # The hash chain (hub.domain.audit): position, the previous entry's hash, this one's.
    sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# The chain's head: the last entry's position and hash. Locked at the end of each
# transaction that appends, like the event counter, so entries chain in commit order;
# a deleted tail no longer matches it.
audit_chain = sa.Table(
    "audit_chain", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

idempotency = sa.Table(
    "idempotency", metadata,
    sa.Column("client_id", sa.String(200), primary_key=True),
    sa.Column("request_id", sa.String(128), primary_key=True),
    sa.Column("rpc", sa.String(120), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("response", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

sequences = sa.Table(
    "sequences", metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

# A destination an operator has paused: its messages wait, nothing else does.
destinations = sa.Table(
    "destinations", metadata,
    sa.Column("name", sa.String(60), primary_key=True),
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("changed_at", UTCDateTime, nullable=False),
    sa.Column("changed_by", sa.String(200), nullable=False),
)

# Months of register data asked for per case: a month is fetched once per case.
register_fetches = sa.Table(
    "register_fetches", metadata,
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.case_id"), primary_key=True),
    sa.Column("register", sa.String(40), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),  # YYYY-MM
    sa.Column("message_id", sa.String(120), nullable=False),
    sa.Column("requested_at", UTCDateTime, nullable=False),
)

# Durable event subscriptions: a client's named filter and acknowledged cursor.
subscriptions = sa.Table(
    "subscriptions", metadata,
    sa.Column("client_id", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("filter", Json, nullable=False),
    sa.Column("acked_seq", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)


# ---- payments and collection -------------------------------------------------------------

# What each grant grants per period. OPEN lines are the payment run's work list; a line
# is DONE once the run (or SchedulePayments) has considered it, SUPERSEDED when a later
# decision replaced it.
payment_lines = sa.Table(
    "payment_lines", metadata,
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
    sa.Column("held_reason", sa.Text, nullable=True),  # state HELD: why it was not ordered
    sa.UniqueConstraint("decision_id", "period_key", name="uq_payment_lines_decision_period"),
    sa.Index("ix_payment_lines_work", "state", "due_month", "id"),
    sa.Index("ix_payment_lines_case_period", "case_id", "period_key"),
)

payment_batches = sa.Table(
    "payment_batches", metadata,
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

# The end-to-end id is unique: no rerun, retry or concurrent run can pay a period of a
# grant twice.
payment_orders = sa.Table(
    "payment_orders", metadata,
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

claims = sa.Table(
    "claims", metadata,
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

claim_collections = sa.Table(
    "claim_collections", metadata,
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

payment_runs = sa.Table(
    "payment_runs", metadata,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("client_id", sa.String(200), nullable=False),
    sa.Column("request_id", sa.String(200), nullable=False),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("examined", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("orders_created", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("amount_oere", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("held", sa.BigInteger, nullable=False, server_default="0"),
    sa.UniqueConstraint("client_id", "request_id", name="uq_payment_runs_request"),
)


# ---- hearings, complaints, deadlines ------------------------------------------------------

# A hearing of the citizen before an adverse decision: the facts put to them, and
# whether they answered or the deadline passed (OPEN, ANSWERED, EXPIRED).
hearings = sa.Table(
    "hearings", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("hearing_id", sa.String(36), nullable=False, unique=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.case_id"), nullable=False, index=True),
    sa.Column("decision_id", sa.String(36), sa.ForeignKey("decisions.decision_id"), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("fact_item_ids", Json, nullable=False),
    sa.Column("intended_outcome", sa.String(30), nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("started_by", sa.String(200), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("deadline", UTCDateTime, nullable=False),
    sa.Column("response_item_id", sa.String(36), nullable=True),
    sa.Column("answered_at", UTCDateTime, nullable=True),
    sa.Column("expired_at", UTCDateTime, nullable=True),
    sa.Index("ix_hearings_status_deadline", "status", "deadline"),
)

complaints = sa.Table(
    "complaints", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("complaint_id", sa.String(36), nullable=False, unique=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.case_id"), nullable=False, index=True),
    sa.Column("decision_id", sa.String(36), sa.ForeignKey("decisions.decision_id"), nullable=False),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("grounds", sa.Text, nullable=False),
    sa.Column("external_reference", sa.String(200), nullable=False, server_default=""),
    sa.Column("filed_by", sa.String(200), nullable=False),
    sa.Column("filed_at", UTCDateTime, nullable=False),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Column("late_decision", Json, nullable=True),
    sa.Column("statement", Json, nullable=True),
    sa.Column("reconsider_by", UTCDateTime, nullable=False),
    sa.Column("reconsideration", Json, nullable=True),
    sa.Column("forwarded_at", UTCDateTime, nullable=True),
    sa.Column("forwarded_reference", sa.String(300), nullable=True),
    sa.Column("appeal", Json, nullable=True),
    sa.Index("ix_complaints_status_due", "status", "reconsider_by"),
)

# Deadline events raised by the watcher, one per (kind, subject): several watchers
# (one per dispatcher) raise each at most once.
deadline_alerts = sa.Table(
    "deadline_alerts", metadata,
    sa.Column("kind", sa.String(30), primary_key=True),
    sa.Column("subject_id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("raised_at", UTCDateTime, nullable=False),
)


# ---- final settlement ("efterregulering") --------------------------------------------------

# One row per case and income year once a settlement run has found the case: PENDING
# (to examine), WAITING (a household member's final income is not assessed yet: a later
# run asks again), NEEDS_PERSON (the rules cannot settle it: `reason`), SETTLED (its
# `result`: NOTHING, BACK_PAYMENT, REPAYMENT; a decision for the last two). A run claims
# rows for a while (`claimed_by`, `claimed_until`) so that two runs share the work.
settlements = sa.Table(
    "settlements", metadata,
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
    sa.Index("ix_settlements_work", "income_year", "benefit_code", "status", "id"),
    sa.Index("ix_settlements_municipality", "municipality_code", "income_year", "id"),
)

settlement_runs = sa.Table(
    "settlement_runs", metadata,
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


# ---- IT control -------------------------------------------------------------------------------

# The IT control's rule data (hub.domain.control.ControlRule): one row per version of each
# rule's thresholds, in force from a date. Never updated: a correction is a new version.
control_rules = sa.Table(
    "control_rules", metadata,
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

# A control run: one client's request (period, filters), what it has done so far.
control_runs = sa.Table(
    "control_runs", metadata,
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

# The work of the control of a month: one row per grant in force then (its case) and set
# of rules checked (`rules`: the codes, sorted, comma-separated), PENDING until a run has
# CHECKED it (or it FAILED: `reason`). A run claims rows for a while (`claimed_by`,
# `claimed_until`; on PostgreSQL FOR UPDATE SKIP LOCKED), so that two runs at once share
# the work and a run cut off is taken up again.
control_checks = sa.Table(
    "control_checks", metadata,
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
    sa.Index("ix_control_checks_work", "period", "rules", "status", "id"),
)

# A finding of the IT control on a case: OPEN until the municipality records the outcome
# of its physical control (CLOSED, with what the hub did after it). One per case, rule and
# `match_key` (what it is about: the month for an income, the register's values for a
# household or a rent, the date of a death or an emigration), however often control runs.
control_findings = sa.Table(
    "control_findings", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("finding_id", sa.String(36), nullable=False, unique=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.case_id"), nullable=False, index=True),
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
    # What a new draft decision needs of the register's answer (not sent to the unit).
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
    sa.UniqueConstraint("case_id", "rule_code", "match_key", name="uq_control_findings_case_rule_key"),
    sa.Index("ix_control_findings_municipality", "municipality_code", "id"),
    sa.Index("ix_control_findings_status", "status", "id"),
)

# Management information (hub.domain.statistics): the event log folded into totals per
# municipality, benefit, day and metric ("*" for every municipality or every benefit),
# and how far the log has been folded. Derived data: `hub statistics rebuild` empties
# both and folds the whole log again.
statistics_daily = sa.Table(
    "statistics_daily", metadata,
    sa.Column("municipality_code", sa.String(3), primary_key=True),
    sa.Column("benefit_code", sa.String(64), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("metric", sa.String(40), primary_key=True),
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("value", sa.BigInteger, nullable=False),
    sa.Index("ix_statistics_daily_metric", "municipality_code", "benefit_code", "metric", "day"),
)

statistics_checkpoint = sa.Table(
    "statistics_checkpoint", metadata,
    sa.Column("name", sa.String(20), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
