"""tasks: retries of transient TTS errors

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("tts_retries", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("tasks", "tts_retries")
