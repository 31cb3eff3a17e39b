"""Protect the audit log in the database: audit_log takes INSERT only (UPDATE, DELETE
and TRUNCATE are refused), and its head (audit_chain) only moves forward, to the hash
of an entry that is in the log, and is never deleted.

Triggers, on PostgreSQL and SQLite alike. They stop a mistake and a client that can
only run statements; whoever owns the tables can drop a trigger (on PostgreSQL run the
hub as a role that does not own them, see the README's Audit section), which is what
the kept chain head (`hub audit head`) is for. On SQLite a later migration that
rebuilds audit_log or audit_chain (batch_alter_table copies the table) drops their
triggers: it must create them again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_PG_UP = [
    """CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$""",
    """CREATE FUNCTION audit_chain_move_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.seq <= OLD.seq
       OR NEW.hash IS DISTINCT FROM (SELECT hash FROM audit_log WHERE seq = NEW.seq) THEN
        RAISE EXCEPTION 'the audit log''s head only moves forward, to an entry in the log'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$""",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()",
    "CREATE TRIGGER audit_chain_keep BEFORE DELETE OR TRUNCATE ON audit_chain "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()",
    "CREATE TRIGGER audit_chain_forward BEFORE UPDATE ON audit_chain "
    "FOR EACH ROW EXECUTE FUNCTION audit_chain_move_forward()",
]
_PG_DOWN = [
    "DROP TRIGGER audit_chain_forward ON audit_chain",
    "DROP TRIGGER audit_chain_keep ON audit_chain",
    "DROP TRIGGER audit_log_append_only ON audit_log",
    "DROP FUNCTION audit_chain_move_forward()",
    "DROP FUNCTION audit_log_refuse_change()",
]

# SQLite has no TRUNCATE (a DELETE without WHERE fires the DELETE trigger) and no
# statement triggers: these fire for each row.
_SQLITE_UP = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE on audit_log refused'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE on audit_log refused'); END",
    "CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE on audit_chain refused'); END",
    "CREATE TRIGGER audit_chain_forward BEFORE UPDATE ON audit_chain "
    "WHEN NEW.id IS NOT OLD.id OR NEW.seq <= OLD.seq "
    "OR NEW.hash IS NOT (SELECT hash FROM audit_log WHERE seq = NEW.seq) "
    "BEGIN SELECT RAISE(ABORT, 'the audit log''s head only moves forward, to an entry in the log'); END",
]
_SQLITE_DOWN = [f"DROP TRIGGER {name}" for name in
                ("audit_chain_forward", "audit_chain_no_delete", "audit_log_no_delete", "audit_log_no_update")]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _run(_PG_UP if postgres else _SQLITE_UP)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _run(_PG_DOWN if postgres else _SQLITE_DOWN)
