"""help center: an index of the translations' published state, read by every search index

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_help_article_translations_published_state', 'help_article_translations',
                    ['status', 'article_id', 'locale', 'version'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_help_article_translations_published_state',
                  table_name='help_article_translations')
