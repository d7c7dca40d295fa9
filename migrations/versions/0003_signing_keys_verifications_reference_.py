"""signing keys, verifications, reference workers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 23:25:55.603455
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reproreg.models.base

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('signing_keys',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('revoked_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_signing_keys_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_keys'))
    )
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_keys_user_id'), ['user_id'], unique=False)

    op.create_table('verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('verifier_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.Column('digest', sa.String(length=71), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('sandbox', sa.String(length=32), nullable=False),
    sa.Column('hardware', sa.String(length=300), nullable=False),
    sa.Column('accelerator_used', sa.String(length=16), nullable=False),
    sa.Column('failure', sa.Text(), nullable=True),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('created_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['signing_keys.id'], name=op.f('fk_verifications_key_id_signing_keys')),
    sa.ForeignKeyConstraint(['verifier_id'], ['users.id'], name=op.f('fk_verifications_verifier_id_users')),
    sa.ForeignKeyConstraint(['version_id'], ['versions.id'], name=op.f('fk_verifications_version_id_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verifications'))
    )
    with op.batch_alter_table('verifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verifications_outcome'), ['outcome'], unique=False)
        batch_op.create_index(batch_op.f('ix_verifications_verifier_id'), ['verifier_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_verifications_version_id'), ['version_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_worker', sa.Boolean(), nullable=False, server_default=sa.false()))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('is_worker')

    with op.batch_alter_table('verifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verifications_version_id'))
        batch_op.drop_index(batch_op.f('ix_verifications_verifier_id'))
        batch_op.drop_index(batch_op.f('ix_verifications_outcome'))

    op.drop_table('verifications')
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_keys_user_id'))

    op.drop_table('signing_keys')
