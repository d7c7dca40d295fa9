"""reference workers: the hardware each worker registered and when it was last seen

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 00:20:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reproreg.models.base  # noqa: F401  (custom column types)

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('reference_workers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('accelerators', sa.String(length=100), nullable=False),
    sa.Column('gpu_model', sa.String(length=200), nullable=True),
    sa.Column('gpu_memory_gb', sa.Float(), nullable=True),
    sa.Column('gpu_count', sa.Integer(), nullable=False),
    sa.Column('registered_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_reference_workers_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reference_workers')),
    sa.UniqueConstraint('owner_id', 'name', name=op.f('uq_reference_workers_owner_id'))
    )
    with op.batch_alter_table('reference_workers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reference_workers_last_seen_at'), ['last_seen_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reference_workers_owner_id'), ['owner_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reference_workers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reference_workers_owner_id'))
        batch_op.drop_index(batch_op.f('ix_reference_workers_last_seen_at'))
    op.drop_table('reference_workers')
