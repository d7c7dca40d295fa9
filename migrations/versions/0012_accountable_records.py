"""an audit log anyone can check, tokens with scopes and expiry, typed links, compute and carbon

The audit log becomes a hash chain: each entry gets its place (seq), the hash of the entry before it and its own
hash; entries written before the chain existed are chained here in the order they were written. Tokens get
scopes (existing tokens keep full power: 'admin') and an optional expiry. Versions' typed links get a table.
Compute and carbon need no schema change (they live in the manifest and the training JSON).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 01:00:00.000000
"""
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import rfc8785
import sqlalchemy as sa
from alembic import op

import reproreg.models.base  # noqa: F401  (custom column types)

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('entry_hash', sa.String(length=64), nullable=True))
    _chain_existing_entries()
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('entry_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_events_seq'), ['seq'])

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.String(length=500), server_default='admin', nullable=False))
        batch_op.add_column(sa.Column('expires_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=True))

    op.create_table('version_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('link_type', sa.String(length=32), nullable=False),
    sa.Column('target_name', sa.String(length=141), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['versions.id'], name=op.f('fk_version_links_version_id_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_version_links'))
    )
    with op.batch_alter_table('version_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_version_links_target_name'), ['target_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_version_links_version_id'), ['version_id'], unique=False)


def _chain_existing_entries() -> None:
    """Chain the entries written before this revision in the order they were written (by id), hashing them as
    reproreg.models.audit does."""
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT audit_events.id, audit_events.created_at, users.name, audit_events.action, audit_events.subject, "
        "audit_events.details FROM audit_events LEFT JOIN users ON users.id = audit_events.actor_id "
        "ORDER BY audit_events.id")).all()
    prev = GENESIS_HASH
    for seq, (row_id, created_at, actor, action, subject, details) in enumerate(rows, start=1):
        if isinstance(details, str):
            details = json.loads(details)
        if isinstance(created_at, str):
            created_at = datetime.fromisoformat(created_at)
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        time = created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        details_sha256 = hashlib.sha256(rfc8785.dumps(details or {})).hexdigest()
        entry = hashlib.sha256(rfc8785.dumps({
            "seq": seq, "time": time, "actor": actor, "action": action, "subject": subject,
            "details_sha256": details_sha256, "prev_hash": prev})).hexdigest()
        connection.execute(sa.text("UPDATE audit_events SET seq = :seq, prev_hash = :prev, entry_hash = :entry "
                                   "WHERE id = :id"), {"seq": seq, "prev": prev, "entry": entry, "id": row_id})
        prev = entry


def downgrade() -> None:
    with op.batch_alter_table('version_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_version_links_version_id'))
        batch_op.drop_index(batch_op.f('ix_version_links_target_name'))
    op.drop_table('version_links')

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
        batch_op.drop_column('scopes')

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_events_seq'), type_='unique')
        batch_op.drop_column('entry_hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
