"""release stages: risk, pauses, staged plans, review links and their uses, gated access requests

The artifacts' ``visibility`` column now holds the release stage (private, review, gated, public); its two older
values are the first and last stages, so existing rows keep their meaning unchanged.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 01:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reproreg.models.base  # noqa: F401  (custom column types)

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('risk', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('generative', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('paused_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pause_reason', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('release_blocked', sa.JSON(), nullable=True))
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=True))

    op.create_table('release_plan_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('due_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reached_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], name=op.f('fk_release_plan_steps_artifact_id_artifacts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_release_plan_steps')),
    sa.UniqueConstraint('artifact_id', 'stage', name=op.f('uq_release_plan_steps_artifact_id'))
    )
    with op.batch_alter_table('release_plan_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_release_plan_steps_artifact_id'), ['artifact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_release_plan_steps_due_at'), ['due_at'], unique=False)

    op.create_table('review_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_review_links_created_by_id_users')),
    sa.ForeignKeyConstraint(['version_id'], ['versions.id'], name=op.f('fk_review_links_version_id_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_links')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_review_links_secret_hash'))
    )
    with op.batch_alter_table('review_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_links_version_id'), ['version_id'], unique=False)

    op.create_table('review_link_uses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('used_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('what', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['link_id'], ['review_links.id'], name=op.f('fk_review_link_uses_link_id_review_links')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_link_uses'))
    )
    with op.batch_alter_table('review_link_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_link_uses_link_id'), ['link_id'], unique=False)

    op.create_table('access_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('conditions', sa.Text(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], name=op.f('fk_access_requests_artifact_id_artifacts')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_access_requests_decided_by_id_users')),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_access_requests_requester_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_requests'))
    )
    with op.batch_alter_table('access_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_requests_artifact_id'), ['artifact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_requests_requester_id'), ['requester_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('access_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_requests_requester_id'))
        batch_op.drop_index(batch_op.f('ix_access_requests_artifact_id'))
    op.drop_table('access_requests')
    with op.batch_alter_table('review_link_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_link_uses_link_id'))
    op.drop_table('review_link_uses')
    with op.batch_alter_table('review_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_links_version_id'))
    op.drop_table('review_links')
    with op.batch_alter_table('release_plan_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_release_plan_steps_due_at'))
        batch_op.drop_index(batch_op.f('ix_release_plan_steps_artifact_id'))
    op.drop_table('release_plan_steps')
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('kind')
    # stages that the older schema cannot name fall back to the nearest one that withholds at least as much
    op.execute("UPDATE artifacts SET visibility = 'private' WHERE visibility IN ('review', 'gated')")
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.drop_column('release_blocked')
        batch_op.drop_column('pause_reason')
        batch_op.drop_column('paused_at')
        batch_op.drop_column('generative')
        batch_op.drop_column('risk')
