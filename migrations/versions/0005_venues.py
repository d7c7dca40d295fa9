"""venues

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 23:45:32.062301
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reproreg.models.base  # noqa: F401  (custom column types)

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('venues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=63), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('created_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venues')),
    sa.UniqueConstraint('slug', name=op.f('uq_venues_slug'))
    )
    op.create_table('venue_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', reproreg.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_venue_members_user_id_users')),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_venue_members_venue_id_venues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venue_members')),
    sa.UniqueConstraint('venue_id', 'user_id', name=op.f('uq_venue_members_venue_id'))
    )
    with op.batch_alter_table('venue_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_venue_members_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_venue_members_venue_id'), ['venue_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('venue_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_venue_members_venue_id'))
        batch_op.drop_index(batch_op.f('ix_venue_members_user_id'))

    op.drop_table('venue_members')
    op.drop_table('venues')
