"""chat routing: agents' category skills and the regions they serve

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 14:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The shape autogenerate gives for hashdesk.chat.models.AgentSkills, reviewed.
    op.create_table('chat_agent_skills',
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('regions', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_chat_agent_skills_agent_id_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('agent_id', name=op.f('pk_chat_agent_skills'))
    )


def downgrade() -> None:
    op.drop_table('chat_agent_skills')
