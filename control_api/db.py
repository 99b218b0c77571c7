"""Records in PostgreSQL (SQLModel over psycopg2): the seven tables of design §7.

Schema changes go through Alembic (``control_api/migrations``); ``dramaflow db upgrade`` applies
them and ``serve``/``worker`` refuse to start on an out-of-date schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, Session, SQLModel, create_engine

from nodes.common.errors import SchemaOutOfDate

MIGRATIONS = Path(__file__).parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(sa.DateTime(timezone=True), nullable=False, **kw))


class TaskStatus(StrEnum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def final(self) -> bool:
        return self in (TaskStatus.completed, TaskStatus.failed, TaskStatus.cancelled)


class UserRole(StrEnum):
    user = "user"
    admin = "admin"


class UserStatus(StrEnum):
    active = "active"
    suspended = "suspended"  # reads, cannot submit
    banned = "banned"  # cannot sign in or use a key


class CreditType(StrEnum):
    purchase = "purchase"
    grant = "grant"
    audio_generation = "audio_generation"
    script_generation = "script_generation"
    refund = "refund"


class User(SQLModel, table=True):
    """A person (password and JWT) or a machine client (API keys only: no password). Usernames and
    emails are unique whatever their case (functional unique indexes on ``lower()``)."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("credit_balance >= 0", name="credits_not_negative"),
        sa.Index("users_username_lower", sa.text("lower(username)"), unique=True),
        sa.Index("users_email_lower", sa.text("lower(email)"), unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, nullable=False)
    email: str | None = Field(default=None, max_length=254)
    password_hash: str | None = Field(default=None, max_length=255)
    role: str = Field(default=UserRole.user, max_length=20)
    status: str = Field(default=UserStatus.active, max_length=20)
    status_reason: str | None = Field(default=None, max_length=300)
    credit_balance: int = 0
    total_credit_purchased: int = 0
    keep_audio: bool = False  # the default of a task's `keep` option: audio that never expires
    token_version: int = 0  # raised on a password change: every token issued before it stops working
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ApiKey(SQLModel, table=True):
    """A machine client's key: 256 random bits, only its SHA-256 stored; deleting the row revokes it."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(max_length=100)
    key_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})  # sha256 hex
    prefix: str = Field(max_length=16)  # shown in listings, never enough to authenticate
    created_at: datetime = _ts()
    last_used_at: datetime | None = Field(default=None, sa_column=Column(sa.DateTime(timezone=True)))


class Script(SQLModel, table=True):
    __tablename__ = "scripts"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    title: str = Field(default="", max_length=300)
    content: str = Field(sa_column=Column(sa.Text, nullable=False))
    source: str = Field(default="uploaded", max_length=20)  # uploaded | ai_generated | template
    generation_params: dict | None = Field(default=None, sa_column=Column(sa.JSON))
    estimated_chars: int | None = None
    estimated_duration_s: float | None = None
    conversation_id: uuid.UUID | None = Field(default=None, sa_column=Column(
        sa.Uuid, sa.ForeignKey("conversations.id", use_alter=True, name="scripts_conversation_id_fkey")))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Conversation(SQLModel, table=True):
    """A chat with the script writer (issue 16 adds its endpoints)."""

    __tablename__ = "conversations"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    script_id: uuid.UUID | None = Field(default=None, foreign_key="scripts.id")
    title: str = Field(default="", max_length=300)
    topic: str = Field(default="", sa_column=Column(sa.Text, nullable=False, server_default=""))
    style: str | None = Field(default=None, max_length=30)
    language: str = Field(default="en", max_length=10)
    target_duration_s: float | None = None
    speakers: list | None = Field(default=None, sa_column=Column(sa.JSON))
    status: str = Field(default="active", max_length=20)  # active | completed | abandoned
    message_count: int = 0
    total_tokens: int = 0
    total_cost: float = 0.0
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ConversationMessage(SQLModel, table=True):
    __tablename__ = "conversation_messages"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: uuid.UUID = Field(foreign_key="conversations.id", index=True)
    role: str = Field(max_length=20)  # user | assistant | system
    content: str = Field(sa_column=Column(sa.Text, nullable=False))
    script_id: uuid.UUID | None = Field(default=None, foreign_key="scripts.id")
    # model, prompt_tokens, completion_tokens, cost, latency_s ("metadata" is taken on a SQLModel class)
    details: dict | None = Field(default=None, sa_column=Column("metadata", sa.JSON))
    created_at: datetime = _ts()


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (sa.UniqueConstraint("user_id", "idempotency_key", name="tasks_user_idempotency_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    script_id: uuid.UUID | None = Field(default=None, foreign_key="scripts.id")
    script_text: str = Field(sa_column=Column(sa.Text, nullable=False))
    title: str = Field(default="", max_length=300)
    template: str = Field(max_length=100)
    voice_config: dict = Field(default_factory=dict, sa_column=Column(sa.JSON, nullable=False))
    options: dict = Field(default_factory=dict, sa_column=Column(sa.JSON, nullable=False))
    engine_type: str = Field(default="dora", max_length=20)
    status: str = Field(default=TaskStatus.queued, max_length=20, index=True)
    stage: str | None = Field(default=None, max_length=20)
    progress: int = 0
    error_message: str | None = Field(default=None, sa_column=Column(sa.Text))
    credit_cost: int = 0
    chars_processed: int = 0
    segments: int = 0
    duration_s: float | None = None
    # what the TTS provider billed for this task (0 for offline voices and cache hits), for billing
    tts_requests: int = 0
    tts_usage_characters: int = 0
    tts_cache_hits: int = 0
    tts_retries: int = 0  # transient provider errors retried (none of them billed)
    idempotency_key: str | None = Field(default=None, max_length=200)
    request_hash: str = Field(default="", max_length=64)
    retry_count: int = 0
    max_retries: int = 1
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    started_at: datetime | None = Field(default=None, sa_column=Column(sa.DateTime(timezone=True)))
    finished_at: datetime | None = Field(default=None, sa_column=Column(sa.DateTime(timezone=True)))


class Audio(SQLModel, table=True):
    __tablename__ = "audio"
    __table_args__ = (sa.UniqueConstraint("task_id", "format", name="audio_task_format"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: uuid.UUID = Field(foreign_key="tasks.id", index=True)
    format: str = Field(max_length=10)
    file_path: str
    size_bytes: int
    duration_s: float
    sample_rate: int
    created_at: datetime = _ts()
    expires_at: datetime | None = Field(default=None, sa_column=Column(sa.DateTime(timezone=True)))


class CreditTransaction(SQLModel, table=True):
    """Append-only ledger. One ``audio_generation`` charge per task at most (a partial unique index on
    reference_id)."""

    __tablename__ = "credit_transactions"
    __table_args__ = (
        sa.Index("credit_charge_once", "reference_id", unique=True,
                 postgresql_where=sa.text("type = 'audio_generation'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    amount: int  # positive adds, negative takes
    balance_after: int
    type: str = Field(max_length=20)  # CreditType
    reference_id: str | None = Field(default=None, max_length=100)  # the task (or conversation) it is for
    description: str = Field(default="", max_length=300)
    created_at: datetime = _ts()


# --- engine and sessions ---------------------------------------------------------------------------


POOL = {"pool_size": 10, "max_overflow": 30, "pool_timeout": 10.0}


def configure_pool(pool_size: int, max_overflow: int, pool_timeout_s: float) -> None:
    """Size the connection pool of engines made from now on (the API and workers call it at start)."""
    POOL.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout_s)
    engine_for.cache_clear()


@lru_cache(maxsize=8)
def engine_for(url: str) -> sa.Engine:
    return create_engine(url, pool_pre_ping=True, **POOL)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine_for(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# --- migrations ------------------------------------------------------------------------------------


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> str:
    """Apply every migration; returns the head revision."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")
    return head_revision(url)


def head_revision(url: str) -> str:
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config(url)).get_current_head())


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine_for(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def require_current_schema(url: str) -> None:
    """Raise ``SchemaOutOfDate`` with the fix when the database is not at the newest migration."""
    current, head = current_revision(url), head_revision(url)
    if current != head:
        raise SchemaOutOfDate(f"database schema is at {current or 'nothing'}, this version needs {head}: "
                              "run `dramaflow db upgrade` first")
