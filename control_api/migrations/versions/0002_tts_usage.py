"""tasks: TTS usage (API requests, billed characters, cache hits)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("tts_requests", "tts_usage_characters", "tts_cache_hits"):
        op.add_column("tasks", sa.Column(column, sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    for column in ("tts_cache_hits", "tts_usage_characters", "tts_requests"):
        op.drop_column("tasks", column)
