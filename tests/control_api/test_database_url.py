"""DRAMAFLOW_DATABASE_URL as people write it: postgres:// and postgresql:// mean the installed driver; a
driver that is not installed, another database or an unreachable server is one line, never a traceback
and never the password."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from control_api.settings import ServiceSettings, normalize_database_url

BIN = Path(sys.executable).parent
PASSWORD = "s3cret-pw"


@pytest.mark.parametrize(("url", "expected"), [
    ("postgres://u:pw@db.example:5432/app", "postgresql+psycopg2://u:pw@db.example:5432/app"),
    ("postgresql://u@127.0.0.1/app", "postgresql+psycopg2://u@127.0.0.1/app"),
    ("postgresql+psycopg2://u@h/app", "postgresql+psycopg2://u@h/app"),
    ("POSTGRES://u@h/app?sslmode=require", "postgresql+psycopg2://u@h/app?sslmode=require"),
])
def test_urls_as_providers_hand_them_out_mean_the_installed_driver(url, expected):
    assert normalize_database_url(url) == expected
    assert ServiceSettings(database_url=url).database_url == expected


@pytest.mark.parametrize(("url", "needle"), [
    (f"postgresql+psycopg://u:{PASSWORD}@h/app", "pip install psycopg"),
    (f"postgresql+asyncpg://u:{PASSWORD}@h/app", "not one dramaflow can use"),
    (f"mysql://u:{PASSWORD}@h/app", "needs PostgreSQL"),
    ("just-a-name", "postgresql://user:password@host:5432/dbname"),
])
def test_a_url_that_cannot_work_says_what_to_write(url, needle):
    with pytest.raises(ValidationError) as info:
        ServiceSettings(database_url=url)
    assert needle in str(info.value) and PASSWORD not in str(info.value)


def cli(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAMAFLOW_")}
    env.update(DRAMAFLOW_DATABASE_URL=url, COLUMNS="200")
    return subprocess.run([str(BIN / "dramaflow"), *args], env=env, capture_output=True, text=True, timeout=60)


def test_the_cli_names_a_missing_driver_in_one_line():
    proc = cli("db", "upgrade", url=f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1/app")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: DRAMAFLOW_DATABASE_URL: the URL names the driver 'psycopg', which is not installed: write "
        "postgresql://… to use psycopg2, or pip install psycopg"]
    assert "Traceback" not in proc.stdout + proc.stderr


def test_an_unreachable_database_is_one_line_without_the_password():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for command in (["db", "upgrade"], ["cleanup"]):
        proc = cli(*command, url=f"postgres://u:{PASSWORD}@127.0.0.1:{port}/app")
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and f"cannot use the database 'app' at 127.0.0.1:{port}" in lines[0]
        assert PASSWORD not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("field", ["database_url", "redis_url"])
@pytest.mark.parametrize("password", ["CHANGE-ME", "changeme", "<your-password>", "xxx"])
def test_a_placeholder_password_is_refused_without_repeating_the_url(field, password):
    url = {"database_url": f"postgresql://app:{password}@db.internal/app",
           "redis_url": f"redis://:{password}@cache.internal:6379/0"}[field]
    with pytest.raises(ValidationError, match="placeholder") as caught:
        ServiceSettings(**{field: url})
    assert "db.internal" not in str(caught.value) and "cache.internal" not in str(caught.value)


def test_real_passwords_pass():
    assert ServiceSettings(database_url="postgresql://app:s3cr3t-9f2@db/app").database_url.endswith("@db/app")


def test_the_cli_refuses_a_placeholder_at_start():
    proc = cli("cleanup", url="postgresql://app:CHANGE-ME@127.0.0.1:1/app")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: DRAMAFLOW_DATABASE_URL: its password is a placeholder from an example (such as CHANGE-ME): set the "
        "real one"]


def test_a_placeholder_minimax_key_is_an_error_not_a_key():
    from nodes.common.errors import ConfigError
    from nodes.tts.backends.minimax import MiniMaxConfig

    with pytest.raises(ConfigError, match="placeholder"):
        MiniMaxConfig.from_env({"MINIMAX_API_KEY": "CHANGE-ME"})
    assert MiniMaxConfig.from_env({"MINIMAX_API_KEY": "sk-real-looking-key-123"}) is not None


def test_serve_refuses_the_example_secret_key_at_start():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAMAFLOW_")}
    env.update(DRAMAFLOW_SECRET_KEY="CHANGE-ME", COLUMNS="200")  # as deploy/dramaflow.env.example has it
    proc = subprocess.run([str(BIN / "dramaflow"), "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: DRAMAFLOW_SECRET_KEY: it is a placeholder from an example"), proc.stderr
