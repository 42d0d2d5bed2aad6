"""futures positions from the exchange connector and margin-call crossings

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 13:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hashdesk.core.db


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Written in the shape autogenerate gives for hashdesk.futures.models, then reviewed.
    # Amounts are decimal text (hashdesk.assets.models.DecimalText, a String(48) underneath).
    op.create_table('futures_marks',
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('price', sa.String(length=48), nullable=False),
    sa.Column('time_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', hashdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('symbol', name=op.f('pk_futures_marks'))
    )
    op.create_table('futures_positions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trader_id', sa.Integer(), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('contract', sa.String(length=16), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('entry_price', sa.String(length=48), nullable=False),
    sa.Column('quantity', sa.String(length=48), nullable=False),
    sa.Column('contract_size', sa.String(length=48), nullable=False),
    sa.Column('wallet_balance', sa.String(length=48), nullable=False),
    sa.Column('leverage', sa.String(length=48), nullable=True),
    sa.Column('tier_table', sa.String(length=32), nullable=True),
    sa.Column('maintenance_margin_rate', sa.String(length=48), nullable=True),
    sa.Column('maintenance_amount', sa.String(length=48), nullable=True),
    sa.Column('alert_level', sa.Integer(), nullable=False),
    sa.Column('updated_at', hashdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['trader_id'], ['traders.id'], name=op.f('fk_futures_positions_trader_id_traders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_futures_positions')),
    sa.UniqueConstraint('trader_id', 'symbol', 'side', name=op.f('uq_futures_positions_trader_id'))
    )
    with op.batch_alter_table('futures_positions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_futures_positions_symbol'), ['symbol'], unique=False)

    op.create_table('futures_margin_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trader_id', sa.Integer(), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.String(length=48), nullable=False),
    sa.Column('margin_ratio', sa.String(length=48), nullable=False),
    sa.Column('mark_price', sa.String(length=48), nullable=False),
    sa.Column('liquidation_price', sa.String(length=48), nullable=True),
    sa.Column('created_at', hashdesk.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['trader_id'], ['traders.id'], name=op.f('fk_futures_margin_alerts_trader_id_traders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_futures_margin_alerts'))
    )
    with op.batch_alter_table('futures_margin_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_futures_margin_alerts_trader_id'), ['trader_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('futures_margin_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_futures_margin_alerts_trader_id'))

    op.drop_table('futures_margin_alerts')
    with op.batch_alter_table('futures_positions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_futures_positions_symbol'))

    op.drop_table('futures_positions')
    op.drop_table('futures_marks')
