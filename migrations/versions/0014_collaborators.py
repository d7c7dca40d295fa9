"""collaborators: users an artifact's owner names, who read and fetch it at every release stage

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 02:50:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reproreg.models.base  # noqa: F401  (custom column types)

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('artifact_collaborators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_artifact_collaborators_added_by_id_users')),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'],
                            name=op.f('fk_artifact_collaborators_artifact_id_artifacts')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_artifact_collaborators_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifact_collaborators')),
    sa.UniqueConstraint('artifact_id', 'user_id', name=op.f('uq_artifact_collaborators_artifact_id'))
    )
    with op.batch_alter_table('artifact_collaborators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifact_collaborators_artifact_id'), ['artifact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_artifact_collaborators_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('artifact_collaborators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifact_collaborators_user_id'))
        batch_op.drop_index(batch_op.f('ix_artifact_collaborators_artifact_id'))
    op.drop_table('artifact_collaborators')
