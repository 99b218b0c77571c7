"""conversations: the language a conversation writes in

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 06:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("language", sa.String(10), nullable=False, server_default="en"))


def downgrade() -> None:
    op.drop_column("conversations", "language")
