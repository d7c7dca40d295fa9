"""hardware in the record: a claim names the hardware it was measured on, an evaluation the GPU it needs

Versions published before this revision named neither: their columns stay empty.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 00:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hardware', sa.String(length=300), nullable=True))

    with op.batch_alter_table('evaluation_specs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gpu_min_memory_gb', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('gpu_model', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('evaluation_specs', schema=None) as batch_op:
        batch_op.drop_column('gpu_model')
        batch_op.drop_column('gpu_min_memory_gb')

    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('hardware')
