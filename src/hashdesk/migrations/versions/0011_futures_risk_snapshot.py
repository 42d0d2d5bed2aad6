"""futures: the margin monitor's snapshot of the positions most at risk

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 14:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hashdesk.core.db


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The shape autogenerate gives for hashdesk.futures.models.RiskEntry, reviewed.
    op.create_table('futures_risk_snapshot',
    sa.Column('rank', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('position_id', sa.Integer(), nullable=False),
    sa.Column('margin_ratio', sa.Double(), nullable=False),
    sa.Column('taken_at', hashdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('rank', name=op.f('pk_futures_risk_snapshot'))
    )


def downgrade() -> None:
    op.drop_table('futures_risk_snapshot')
