"""Migration 0004 (accounts) on a database holding rows made at revision 0002: nothing is lost, the old
API keys still authenticate, and the way back (downgrade) and forth again keeps the rows as well."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url

from control_api import accounts
from control_api.db import alembic_config, engine_for, head_revision, session_scope, upgrade

pytestmark = [pytest.mark.xdist_group("service"), pytest.mark.slow]
TABLES = ("users", "scripts", "conversations", "conversation_messages", "tasks", "audio", "credit_transactions")
KEYS = {"ada": "dfk_ada-old-key", "Bob": "dfk_bob-old-key", "bob": "dfk_bob2-old-key", "cy": "dfk_cy-old-key"}


@pytest.fixture
def database(servers):
    """A database of its own on the test server, dropped afterwards."""
    admin_url = make_url(servers[0])
    name = f"migrate_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    yield url
    engine_for(url).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def fill_at_0002(conn) -> None:
    for i, (name, key) in enumerate(KEYS.items(), start=1):
        conn.execute(sa.text(
            "INSERT INTO users (id, name, api_key_hash, api_key_prefix, credits, is_active, created_at) "
            "VALUES (:id, :name, :hash, :prefix, :credits, :active, now())"),
            {"id": i, "name": name, "hash": accounts.hash_key(key), "prefix": key[:10], "credits": 10 * i,
             "active": name != "cy"})
    script_id, conversation_id, task_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    conn.execute(sa.text("INSERT INTO scripts (id, user_id, title, content, created_at, updated_at) "
                         "VALUES (:id, 1, 'Old', 'A: hello', now(), now())"), {"id": script_id})
    conn.execute(sa.text("INSERT INTO conversations (id, user_id, title, created_at) VALUES (:id, 1, 'Chat', now())"),
                 {"id": conversation_id})
    for role in ("user", "assistant"):
        conn.execute(sa.text("INSERT INTO conversation_messages (conversation_id, role, content, script_id, created_at) "
                             "VALUES (:c, :role, 'text', :s, now())"), {"c": conversation_id, "role": role, "s": script_id})
    conn.execute(sa.text(
        "INSERT INTO tasks (id, user_id, script_id, script_text, title, template, voice_config, options, engine_type, "
        "status, progress, credit_cost, chars_processed, segments, request_hash, retry_count, max_retries, created_at, "
        "updated_at, tts_requests, tts_usage_characters, tts_cache_hits) VALUES (:id, 1, :s, 'A: hello', 'Old', "
        "'podcast', '{}', '{}', 'dora', 'completed', 100, 3, 5, 1, 'h', 0, 1, now(), now(), 0, 0, 0)"),
        {"id": task_id, "s": script_id})
    conn.execute(sa.text("INSERT INTO audio (task_id, format, file_path, size_bytes, duration_s, sample_rate, created_at) "
                         "VALUES (:t, 'mp3', '/data/audio/x/output.mp3', 10, 1.5, 44100, now())"), {"t": task_id})
    conn.execute(sa.text("INSERT INTO credit_transactions (user_id, amount, balance_after, type, reference_id, note, "
                         "created_at) VALUES (1, 13, 13, 'grant', NULL, 'hello', now()), "
                         "(1, -3, 10, 'charge', :t, 'Old', now())"), {"t": str(task_id)})


def counts(url: str) -> dict[str, int]:
    with engine_for(url).connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def test_upgrading_a_database_of_revision_0002_keeps_every_row_and_every_key(database):
    config = alembic_config(database)
    command.upgrade(config, "0002")
    with engine_for(database).begin() as conn:
        fill_at_0002(conn)
    before = counts(database)
    assert upgrade(database) == head_revision(database)
    assert counts(database) == before

    with engine_for(database).connect() as conn:
        users = conn.execute(sa.text("SELECT id, username, credit_balance, status, role, total_credit_purchased "
                                     "FROM users ORDER BY id")).all()
        ledger = conn.execute(sa.text("SELECT type, amount, balance_after, description FROM credit_transactions "
                                      "ORDER BY id")).all()
        conversation = conn.execute(sa.text("SELECT message_count, status FROM conversations")).one()
        script_source = conn.execute(sa.text("SELECT source FROM scripts")).scalar_one()
    assert [tuple(u) for u in users] == [(1, "ada", 10, "active", "user", 0), (2, "Bob", 20, "active", "user", 0),
                                         (3, "bob-3", 30, "active", "user", 0), (4, "cy", 40, "banned", "user", 0)]
    assert [tuple(r) for r in ledger] == [("grant", 13, 13, "hello"), ("audio_generation", -3, 10, "Old")]
    assert tuple(conversation) == (2, "active") and script_source == "uploaded"
    with session_scope(database) as session:
        for name, key in KEYS.items():  # every old key still signs its user in
            user = accounts.by_key(session, key)
            assert user is not None and user.username.startswith(name), name

    command.downgrade(config, "0003")  # and back: the rows survive that too
    assert counts(database) == before
    with engine_for(database).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM credit_transactions WHERE type = 'charge'")).scalar_one() == 1
    assert upgrade(database) == head_revision(database) and counts(database) == before
