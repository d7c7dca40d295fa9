"""files that live on the Hugging Face Hub: where each file of a version comes from

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 01:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reproreg.models.base  # noqa: F401  (custom column types)

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('version_files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=1200), nullable=True))
        batch_op.alter_column('blob_digest', existing_type=sa.String(length=71), nullable=True)


def downgrade() -> None:
    # a file whose bytes the registry never held cannot be listed without a blob: such versions must be
    # mirrored (regctl push --mirror) before going back
    with op.batch_alter_table('version_files', schema=None) as batch_op:
        batch_op.alter_column('blob_digest', existing_type=sa.String(length=71), nullable=False)
        batch_op.drop_column('source')
