"""scale: badge states kept as derived data, and the indexes that listings use

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 01:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import reproreg.models.base  # noqa: F401  (custom column types)

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


INDEXES = (
    ('versions', 'ix_versions_published_at_id', ['published_at', 'id']),
    ('versions', 'ix_versions_venue_artifact_id', ['venue', 'artifact_id']),
    ('version_files', 'ix_version_files_version_id_blob_digest', ['version_id', 'blob_digest']),
    ('version_files', 'ix_version_files_blob_digest_version_id', ['blob_digest', 'version_id']),
    ('claims', 'ix_claims_version_id_metric', ['version_id', 'metric']),
    ('artifacts', 'ix_artifacts_visibility', ['visibility']),
)


def upgrade() -> None:
    op.create_table('version_states',
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('latest', sa.Boolean(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('yanked', sa.Boolean(), nullable=False),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('functional', sa.Boolean(), nullable=False),
    sa.Column('reproduced', sa.Boolean(), nullable=False),
    sa.Column('reproduced_state', sa.String(length=16), nullable=False),
    sa.Column('checklist', sa.Boolean(), nullable=False),
    sa.Column('checklist_state', sa.String(length=16), nullable=False),
    sa.Column('checklist_answered', sa.Integer(), nullable=False),
    sa.Column('checklist_items', sa.Integer(), nullable=False),
    sa.Column('claims', sa.Integer(), nullable=False),
    sa.Column('trusted', sa.Integer(), nullable=False),
    sa.Column('held', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('latest_trusted_id', sa.Integer(), nullable=True),
    sa.Column('community', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('search_vector', postgresql.TSVECTOR().with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('updated_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], name=op.f('fk_version_states_artifact_id_artifacts')),
    sa.ForeignKeyConstraint(['version_id'], ['versions.id'], name=op.f('fk_version_states_version_id_versions')),
    sa.PrimaryKeyConstraint('version_id', name=op.f('pk_version_states'))
    )
    with op.batch_alter_table('version_states', schema=None) as batch_op:
        batch_op.create_index('ix_version_states_artifact_id_latest', ['artifact_id', 'latest'], unique=False)
        batch_op.create_index('ix_version_states_latest', ['latest'], unique=False)
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)
    op.create_index('ix_claims_version_id_lower_metric', 'claims', ['version_id', sa.text('lower(metric)')],
                    unique=False)
    # full-text search on PostgreSQL; SQLite searches search_text with LIKE (search_vector stays NULL there)
    op.create_index('ix_version_states_search_vector', 'version_states', ['search_vector'], unique=False,
                    postgresql_using='gin')
    # existing versions get their states from `registry states refresh` (it needs the badge rules and storage)


def downgrade() -> None:
    op.drop_index('ix_version_states_search_vector', table_name='version_states', postgresql_using='gin')
    op.drop_index('ix_claims_version_id_lower_metric', table_name='claims')
    for table, name, _ in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    with op.batch_alter_table('version_states', schema=None) as batch_op:
        batch_op.drop_index('ix_version_states_latest')
        batch_op.drop_index('ix_version_states_artifact_id_latest')
    op.drop_table('version_states')
