"""chat desk: assistant hand-off, internal notes, escalation and survey, attachments

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 14:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hashdesk.core.db


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The shape autogenerate gives for hashdesk.chat.records, reviewed.
    op.create_table('chat_handoffs',
    sa.Column('chat_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('predicted_category', sa.String(length=64), nullable=True),
    sa.Column('predicted_confidence', sa.Double(), nullable=True),
    sa.Column('transcript', sa.Text(), nullable=False),
    sa.Column('created_at', hashdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_chat_handoffs_chat_id_chats'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['conversation_id'], ['assistant_conversations.id'], name=op.f('fk_chat_handoffs_conversation_id_assistant_conversations')),
    sa.PrimaryKeyConstraint('chat_id', name=op.f('pk_chat_handoffs'))
    )
    op.create_table('chat_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', hashdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_chat_notes_agent_id_agents')),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_chat_notes_chat_id_chats'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_notes'))
    )
    op.create_index(op.f('ix_chat_notes_chat_id'), 'chat_notes', ['chat_id'], unique=False)
    op.create_table('chat_outcomes',
    sa.Column('chat_id', sa.Integer(), nullable=False),
    sa.Column('escalated_to', sa.String(length=32), nullable=True),
    sa.Column('escalated_at', hashdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('satisfaction', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('surveyed_at', hashdesk.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_chat_outcomes_chat_id_chats'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('chat_id', name=op.f('pk_chat_outcomes'))
    )
    op.create_table('chat_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.Integer(), nullable=False),
    sa.Column('sender_kind', sa.String(length=16), nullable=False),
    sa.Column('sender_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=255), nullable=False),
    sa.Column('created_at', hashdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_chat_attachments_chat_id_chats'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_attachments'))
    )
    op.create_index(op.f('ix_chat_attachments_chat_id'), 'chat_attachments', ['chat_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_chat_attachments_chat_id'), table_name='chat_attachments')
    op.drop_table('chat_attachments')
    op.drop_table('chat_outcomes')
    op.drop_index(op.f('ix_chat_notes_chat_id'), table_name='chat_notes')
    op.drop_table('chat_notes')
    op.drop_table('chat_handoffs')
