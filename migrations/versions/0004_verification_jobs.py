"""verification jobs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 23:30:42.206404
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reproreg.models.base  # noqa: F401  (custom column types)

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('verification_jobs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('accelerator', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('lease_token', sa.String(length=32), nullable=True),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_expires_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('hardware', sa.String(length=300), nullable=True),
    sa.Column('log', sa.Text(), nullable=False),
    sa.Column('failure', sa.Text(), nullable=True),
    sa.Column('verification_id', sa.Integer(), nullable=True),
    sa.Column('started_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_verification_jobs_requested_by_id_users')),
    sa.ForeignKeyConstraint(['verification_id'], ['verifications.id'], name=op.f('fk_verification_jobs_verification_id_verifications')),
    sa.ForeignKeyConstraint(['version_id'], ['versions.id'], name=op.f('fk_verification_jobs_version_id_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_jobs'))
    )
    with op.batch_alter_table('verification_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verification_jobs_lease_expires_at'), ['lease_expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_verification_jobs_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_verification_jobs_version_id'), ['version_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('verification_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verification_jobs_version_id'))
        batch_op.drop_index(batch_op.f('ix_verification_jobs_state'))
        batch_op.drop_index(batch_op.f('ix_verification_jobs_lease_expires_at'))

    op.drop_table('verification_jobs')
