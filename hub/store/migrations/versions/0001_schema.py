"""schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa
import hub.store.tables
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', hub.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('rpc', sa.String(length=120), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('cpr', sa.String(length=10), nullable=True),
    sa.Column('outcome', sa.String(length=40), nullable=False),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.Column('purpose', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_cpr'), ['cpr'], unique=False)

    op.create_table('benefits',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name_da', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('kle_number', sa.String(length=20), nullable=False),
    sa.Column('processing_deadline_days', sa.Integer(), nullable=False),
    sa.Column('discretion_possible', sa.Boolean(), nullable=False),
    sa.Column('recurrence', sa.String(length=20), nullable=False),
    sa.Column('retention_years', sa.Integer(), nullable=False),
    sa.Column('ledger_account', sa.String(length=40), nullable=False),
    sa.Column('authority_kind', sa.String(length=30), nullable=False),
    sa.Column('central_authority_code', sa.String(length=64), server_default='', nullable=False),
    sa.Column('central_authority_name', sa.String(length=200), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_benefits'))
    )
    op.create_table('events',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=80), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('municipality_code', sa.String(length=3), nullable=True),
    sa.Column('benefit_code', sa.String(length=64), nullable=True),
    sa.Column('occurred_at', hub.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_events')),
    sa.UniqueConstraint('event_id', name=op.f('uq_events_event_id'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_case_id'), ['case_id'], unique=False)

    op.create_table('idempotency',
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('request_id', sa.String(length=128), nullable=False),
    sa.Column('rpc', sa.String(length=120), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('response', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', hub.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('client_id', 'request_id', name=op.f('pk_idempotency'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=120), nullable=False),
    sa.Column('destination', sa.String(length=60), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', hub.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='PENDING', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', hub.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('claimed_by', sa.String(length=200), nullable=True),
    sa.Column('claim_expires_at', hub.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', hub.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('message_id', name=op.f('uq_outbox_message_id'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_case_destination', ['case_id', 'destination', 'id'], unique=False)
        batch_op.create_index('ix_outbox_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('sequences',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_sequences'))
    )
    op.create_table('cases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('municipality_code', sa.String(length=3), nullable=False),
    sa.Column('cpr', sa.String(length=10), nullable=False),
    sa.Column('benefit_code', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('origin', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=40), nullable=False),
    sa.Column('received_at', hub.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', hub.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('processing_deadline', hub.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('applicant_statement', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('external_reference', sa.String(length=200), server_default='', nullable=False),
    sa.Column('authority_key', sa.String(length=80), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('updated_at', hub.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['benefit_code'], ['benefits.code'], name=op.f('fk_cases_benefit_code_benefits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('case_id', name=op.f('uq_cases_case_id'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_authority_status', ['authority_key', 'status'], unique=False)
        batch_op.create_index('ix_cases_cpr_municipality', ['cpr', 'municipality_code'], unique=False)
        batch_op.create_index('ix_cases_municipality_id', ['municipality_code', 'id'], unique=False)

    op.create_table('case_status_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('from_status', sa.String(length=40), nullable=True),
    sa.Column('to_status', sa.String(length=40), nullable=False),
    sa.Column('at', hub.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('by_client', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.case_id'], name=op.f('fk_case_status_history_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_status_history'))
    )
    with op.batch_alter_table('case_status_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_status_history_case_id'), ['case_id'], unique=False)

    op.create_table('decisions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('decision_id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('outcome', sa.String(length=30), nullable=False),
    sa.Column('amounts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reasoning', sa.Text(), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('discretionary_points', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('submitted_by', sa.String(length=200), nullable=False),
    sa.Column('submitted_at', hub.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('approval', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('returned', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('authority_key', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.case_id'], name=op.f('fk_decisions_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions')),
    sa.UniqueConstraint('decision_id', name=op.f('uq_decisions_decision_id'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decisions_authority_status', ['authority_key', 'status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decisions_case_id'), ['case_id'], unique=False)

    op.create_table('information_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('source_reference', sa.String(length=200), server_default='', nullable=False),
    sa.Column('kind', sa.String(length=200), nullable=False),
    sa.Column('value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('discretionary', sa.Boolean(), nullable=False),
    sa.Column('supplied_by', sa.String(length=200), nullable=False),
    sa.Column('added_at', hub.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.case_id'], name=op.f('fk_information_items_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_information_items')),
    sa.UniqueConstraint('item_id', name=op.f('uq_information_items_item_id'))
    )
    with op.batch_alter_table('information_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_information_items_case_id'), ['case_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('information_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_information_items_case_id'))

    op.drop_table('information_items')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decisions_case_id'))
        batch_op.drop_index('ix_decisions_authority_status')

    op.drop_table('decisions')
    with op.batch_alter_table('case_status_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_status_history_case_id'))

    op.drop_table('case_status_history')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_municipality_id')
        batch_op.drop_index('ix_cases_cpr_municipality')
        batch_op.drop_index('ix_cases_authority_status')

    op.drop_table('cases')
    op.drop_table('sequences')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_due')
        batch_op.drop_index('ix_outbox_case_destination')

    op.drop_table('outbox')
    op.drop_table('idempotency')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_case_id'))

    op.drop_table('events')
    op.drop_table('benefits')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_cpr'))
        batch_op.drop_index(batch_op.f('ix_audit_log_case_id'))

    op.drop_table('audit_log')
