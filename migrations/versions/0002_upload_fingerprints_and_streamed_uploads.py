"""upload fingerprints and streamed uploads

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 23:15:01.087887
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('blobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=71), nullable=True))
        batch_op.create_index(batch_op.f('ix_blobs_fingerprint'), ['fingerprint'], unique=False)

    with op.batch_alter_table('upload_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=71), nullable=True))
        batch_op.alter_column('digest',
               existing_type=sa.VARCHAR(length=71),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_upload_sessions_fingerprint'), ['fingerprint'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('upload_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upload_sessions_fingerprint'))
        batch_op.alter_column('digest',
               existing_type=sa.VARCHAR(length=71),
               nullable=False)
        batch_op.drop_column('fingerprint')

    with op.batch_alter_table('blobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_blobs_fingerprint'))
        batch_op.drop_column('fingerprint')

