"""accounts: people (password, role, status), API keys per person, the visible ledger, and the plan's
fields of scripts and conversations

Existing rows are kept: each user's one API key becomes a key named "default" in ``api_keys``, an
inactive user becomes ``banned`` (it could not authenticate before either), ledger rows of type
``charge`` become ``audio_generation``. Usernames that differ only in case (allowed before) get
``-<id>`` appended to all but the oldest, so that names are unique whatever their case.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 04:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # --- users -------------------------------------------------------------------------------------
    op.alter_column("users", "name", new_column_name="username")
    op.alter_column("users", "credits", new_column_name="credit_balance")
    op.add_column("users", sa.Column("email", sa.String(254), nullable=True))
    op.add_column("users", sa.Column("password_hash", sa.String(255), nullable=True))
    op.add_column("users", sa.Column("role", sa.String(20), nullable=False, server_default="user"))
    op.add_column("users", sa.Column("status", sa.String(20), nullable=False, server_default="active"))
    op.add_column("users", sa.Column("status_reason", sa.String(300), nullable=True))
    op.add_column("users", sa.Column("total_credit_purchased", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("users", sa.Column("keep_audio", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("users", sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("users", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                                     server_default=sa.func.now()))
    op.execute("UPDATE users SET status = 'banned', status_reason = 'inactive before accounts existed' "
               "WHERE NOT is_active")
    op.execute("UPDATE users SET username = username || '-' || id WHERE id NOT IN "
               "(SELECT min(id) FROM users GROUP BY lower(username))")
    op.drop_constraint("users_name_key", "users", type_="unique")
    op.create_index("users_username_lower", "users", [sa.text("lower(username)")], unique=True)
    op.create_index("users_email_lower", "users", [sa.text("lower(email)")], unique=True)

    # --- API keys: one per user so far, now any number ---------------------------------------------
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])
    op.execute("INSERT INTO api_keys (user_id, name, key_hash, prefix, created_at) "
               "SELECT id, 'default', api_key_hash, api_key_prefix, created_at FROM users")
    op.drop_index("ix_users_api_key_hash", table_name="users")
    for column in ("api_key_hash", "api_key_prefix", "is_active"):
        op.drop_column("users", column)

    # --- the ledger --------------------------------------------------------------------------------
    op.alter_column("credit_transactions", "note", new_column_name="description")
    op.drop_index("credit_charge_once", table_name="credit_transactions")
    op.execute("UPDATE credit_transactions SET type = 'audio_generation' WHERE type = 'charge'")
    op.create_index("credit_charge_once", "credit_transactions", ["reference_id"], unique=True,
                    postgresql_where=sa.text("type = 'audio_generation'"))

    # --- scripts and conversations -----------------------------------------------------------------
    op.add_column("scripts", sa.Column("source", sa.String(20), nullable=False, server_default="uploaded"))
    op.add_column("scripts", sa.Column("generation_params", sa.JSON(), nullable=True))
    op.add_column("scripts", sa.Column("estimated_chars", sa.Integer(), nullable=True))
    op.add_column("scripts", sa.Column("estimated_duration_s", sa.Float(), nullable=True))
    op.add_column("scripts", sa.Column("conversation_id", sa.Uuid(), nullable=True))
    op.create_foreign_key("scripts_conversation_id_fkey", "scripts", "conversations", ["conversation_id"], ["id"])
    op.add_column("conversations", sa.Column("script_id", sa.Uuid(), sa.ForeignKey("scripts.id"), nullable=True))
    op.add_column("conversations", sa.Column("topic", sa.Text(), nullable=False, server_default=""))
    op.add_column("conversations", sa.Column("style", sa.String(30), nullable=True))
    op.add_column("conversations", sa.Column("target_duration_s", sa.Float(), nullable=True))
    op.add_column("conversations", sa.Column("speakers", sa.JSON(), nullable=True))
    op.add_column("conversations", sa.Column("status", sa.String(20), nullable=False, server_default="active"))
    for column in ("message_count", "total_tokens"):
        op.add_column("conversations", sa.Column(column, sa.Integer(), nullable=False, server_default="0"))
    op.add_column("conversations", sa.Column("total_cost", sa.Float(), nullable=False, server_default="0"))
    op.add_column("conversations", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                                             server_default=sa.func.now()))
    op.execute("UPDATE conversations c SET message_count = "
               "(SELECT count(*) FROM conversation_messages m WHERE m.conversation_id = c.id)")
    op.add_column("conversation_messages", sa.Column("metadata", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("conversation_messages", "metadata")
    for column in ("updated_at", "total_cost", "total_tokens", "message_count", "status", "speakers",
                   "target_duration_s", "style", "topic", "script_id"):
        op.drop_column("conversations", column)
    op.drop_constraint("scripts_conversation_id_fkey", "scripts", type_="foreignkey")
    for column in ("conversation_id", "estimated_duration_s", "estimated_chars", "generation_params", "source"):
        op.drop_column("scripts", column)
    op.drop_index("credit_charge_once", table_name="credit_transactions")
    op.execute("UPDATE credit_transactions SET type = 'charge' WHERE type = 'audio_generation'")
    op.create_index("credit_charge_once", "credit_transactions", ["reference_id"], unique=True,
                    postgresql_where=sa.text("type = 'charge'"))
    op.alter_column("credit_transactions", "description", new_column_name="note")
    # each user keeps its oldest key; users without one get an unusable hash
    op.add_column("users", sa.Column("api_key_hash", sa.String(64), nullable=True))
    op.add_column("users", sa.Column("api_key_prefix", sa.String(16), nullable=False, server_default=""))
    op.add_column("users", sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.execute("UPDATE users u SET api_key_hash = k.key_hash, api_key_prefix = k.prefix FROM "
               "(SELECT DISTINCT ON (user_id) user_id, key_hash, prefix FROM api_keys ORDER BY user_id, id) k "
               "WHERE k.user_id = u.id")
    op.execute("UPDATE users SET api_key_hash = md5(random()::text) || md5(random()::text) "
               "WHERE api_key_hash IS NULL")
    op.execute("UPDATE users SET is_active = (status = 'active')")
    op.alter_column("users", "api_key_hash", nullable=False)
    op.create_index("ix_users_api_key_hash", "users", ["api_key_hash"], unique=True)
    op.drop_table("api_keys")
    op.drop_index("users_email_lower", table_name="users")
    op.drop_index("users_username_lower", table_name="users")
    op.create_unique_constraint("users_name_key", "users", ["username"])
    for column in ("updated_at", "token_version", "keep_audio", "total_credit_purchased", "status_reason",
                   "status", "role", "password_hash", "email"):
        op.drop_column("users", column)
    op.alter_column("users", "credit_balance", new_column_name="credits")
    op.alter_column("users", "username", new_column_name="name")
