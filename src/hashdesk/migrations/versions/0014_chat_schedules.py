"""chat: queue schedules in the database, agents' capacity, guests' email verification

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hashdesk.core.db


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The shape autogenerate gives for hashdesk.chat.models, reviewed.
    op.create_table('chat_queue_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=30), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('regions', sa.JSON(), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('hours', sa.JSON(), nullable=True),
    sa.Column('next', sa.String(length=30), nullable=True),
    sa.Column('updated_at', hashdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_queue_schedules')),
    sa.UniqueConstraint('name', name=op.f('uq_chat_queue_schedules_name'))
    )
    op.create_table('chat_guest_verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', hashdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('verified_at', hashdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', hashdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_guest_verifications'))
    )
    op.create_index('ix_chat_guest_verifications_email', 'chat_guest_verifications', ['email'], unique=False)
    with op.batch_alter_table('chat_agent_skills', schema=None) as batch_op:
        batch_op.add_column(sa.Column('capacity', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('chat_agent_skills', schema=None) as batch_op:
        batch_op.drop_column('capacity')
    op.drop_index('ix_chat_guest_verifications_email', table_name='chat_guest_verifications')
    op.drop_table('chat_guest_verifications')
    op.drop_table('chat_queue_schedules')
