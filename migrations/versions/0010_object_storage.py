"""object storage: multipart uploads straight to the object store and their verification (by a job, with a lease,
for large ones)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 01:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reproreg.models.base  # noqa: F401  (custom column types)

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('multipart_uploads',
    sa.Column('upload_id', sa.String(length=32), nullable=False),
    sa.Column('storage_id', sa.String(length=1024), nullable=False),
    sa.Column('part_size', sa.BigInteger(), nullable=False),
    sa.Column('parts', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('lease_owner', sa.String(length=32), nullable=True),
    sa.Column('lease_expires_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.JSON(), nullable=True),
    sa.Column('created_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['upload_id'], ['upload_sessions.id'],
                            name=op.f('fk_multipart_uploads_upload_id_upload_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('upload_id', name=op.f('pk_multipart_uploads'))
    )
    with op.batch_alter_table('multipart_uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_multipart_uploads_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('multipart_uploads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_multipart_uploads_status'))
    op.drop_table('multipart_uploads')
