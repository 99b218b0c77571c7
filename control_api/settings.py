"""The control service's settings: one class, read from ``DRAMAFLOW_*`` environment variables."""

from __future__ import annotations

import importlib.util
import math
import secrets
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nodes.common.settings import is_placeholder

# PostgreSQL drivers SQLAlchemy can use synchronously → the module each needs. psycopg2 is installed.
SYNC_DRIVERS = {"psycopg2": "psycopg2", "psycopg": "psycopg", "pg8000": "pg8000", "psycopg2cffi": "psycopg2cffi"}
DEFAULT_DRIVER = "psycopg2"
URL_SHAPE = "postgresql://user:password@host:5432/dbname"


def normalize_database_url(url: str) -> str:
    """``url`` with an installed driver named: ``postgres://`` and ``postgresql://`` (as hosting providers
    hand them out) mean psycopg2. Raises ``ValueError`` with one line that says what to change; the
    message never repeats the URL (it may hold a password)."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep or not rest:
        raise ValueError(f"not a database URL; write it as {URL_SHAPE}")
    dialect, _, driver = scheme.lower().partition("+")
    if dialect not in ("postgres", "postgresql"):
        raise ValueError(f"the URL is for {dialect!r}; dramaflow needs PostgreSQL: {URL_SHAPE}")
    driver = driver or DEFAULT_DRIVER
    module = SYNC_DRIVERS.get(driver)
    if module is None:
        raise ValueError(f"the driver {driver!r} is not one dramaflow can use; write postgresql://… "
                         f"(psycopg2) or name one of {', '.join(SYNC_DRIVERS)}")
    if importlib.util.find_spec(module) is None:
        raise ValueError(f"the URL names the driver {driver!r}, which is not installed: write postgresql://… "
                         f"to use psycopg2, or pip install {module}")
    return f"postgresql+{driver}://{rest}"


class ServiceSettings(BaseSettings):
    """Everything the API and the workers read. ``DRAMAFLOW_DATABASE_URL`` etc."""

    model_config = SettingsConfigDict(env_prefix="DRAMAFLOW_", frozen=True, extra="ignore",
                                      hide_input_in_errors=True)  # a URL may hold a password

    database_url: str = "postgresql+psycopg2://dramaflow@127.0.0.1:5432/dramaflow"
    redis_url: str = "redis://127.0.0.1:6379/0"
    data_dir: Path = Path("data")
    voices_file: Path | None = None  # default: the voices.yaml of this checkout
    queue_name: str = "dramaflow:queue"

    task_time_limit_s: float = Field(1800.0, gt=0)  # a render running longer is stopped and failed
    task_retries: int = Field(1, ge=0)  # extra attempts after a transient failure
    # tasks one worker process renders at once; default: from the cores and the memory (default_concurrency)
    worker_concurrency: int | None = Field(None, ge=1)
    cancel_poll_s: float = Field(0.5, gt=0)
    events_ttl_s: int = Field(86400, gt=0)  # Redis stream and status hash live this long after the end
    scratch_ttl_h: float = Field(24.0, gt=0)  # task folders (dataflow, logs) are swept after this
    audio_ttl_days: float = Field(30.0, gt=0)  # finished audio is kept this long
    max_body_bytes: int = Field(1_000_000, gt=0)  # larger request bodies get 413
    credits_per_1k_chars: int = Field(10, ge=0)  # price of spoken text; a task costs at least 1
    credits_per_minute: int = Field(2, ge=0)  # price per started minute of output, when that is more
    max_duration_s: float = Field(4 * 3600.0, gt=0)  # the longest output one task may make (estimated)
    max_lines: int = Field(20_000, ge=1)
    max_chars: int = Field(500_000, ge=1)
    page_size_max: int = 100
    # database connections per process: the API's thread pool (40) never waits on the pool for long
    db_pool_size: int = Field(10, ge=1)
    db_max_overflow: int = Field(30, ge=0)
    db_pool_timeout_s: float = Field(10.0, gt=0)  # then 503, never a hung request
    api_helper_processes: int = Field(2, ge=1)  # validate submissions and render previews off the API
    reconcile_after_s: float = Field(60.0, ge=0)  # a task row no job stands for this long is taken up again
    studio_dir: Path | None = None  # the built studio; default control_api/studio/dist
    default_engine: Literal["dora", "direct"] = "dora"  # a task that names no engine_type renders on this

    # accounts (README: Accounts and credits)
    secret_key: SecretStr | None = None  # signs access tokens; unset: a random one per API process (warned)
    access_token_expire_s: int = Field(3600, ge=60, le=30 * 86400)
    refresh_token_expire_s: int = Field(14 * 86400, ge=60, le=365 * 86400)  # the studio's sign-in cookie
    registration_open: bool = True  # POST /auth/register answers 403 when False
    welcome_credits: int = Field(0, ge=0)  # granted to each account that registers
    login_max_failures: int = Field(5, ge=1)  # per account, then 429 until the window ends
    login_max_failures_per_address: int = Field(20, ge=1)  # per client address
    login_window_s: int = Field(900, ge=1)  # failures are counted over, and lock out for, this long
    common_passwords_file: Path | None = None  # more passwords to refuse, one per line

    # the script writer (README: Writing with AI): a conversation costs conversation_credits for its first
    # conversation_rounds rounds, then credits_per_1k_tokens per 1,000 tokens, at most conversation_credits_max
    conversation_credits: int = Field(10, ge=0)
    conversation_rounds: int = Field(3, ge=1)
    credits_per_1k_tokens: int = Field(1, ge=0)
    conversation_credits_max: int = Field(50, ge=0)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("database_url", "redis_url")
    @classmethod
    def _no_placeholder_password(cls, value: str) -> str:
        password = urlsplit(value).password
        if password and is_placeholder(unquote(password)):
            raise ValueError("its password is a placeholder from an example (such as CHANGE-ME): set the real one")
        return value

    @field_validator("secret_key")
    @classmethod
    def _real_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        if is_placeholder(secret):
            raise ValueError("it is a placeholder from an example (such as CHANGE-ME): set a "
                             "random one, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`")
        if len(secret) < 32:
            raise ValueError("use at least 32 characters: "
                             "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`")
        return value

    @cached_property
    def token_secret(self) -> str:
        """The secret that signs access tokens (one random per process when none is set)."""
        return self.secret_key.get_secret_value() if self.secret_key else secrets.token_urlsafe(48)

    @property
    def tasks_dir(self) -> Path:
        return self.data_dir.resolve() / "tasks"

    @property
    def audio_dir(self) -> Path:
        return self.data_dir.resolve() / "audio"

    def audio_folder(self, task_id: str, created_at) -> Path:
        """Where a task's finished files live: ``audio/YYYY/MM/<task id>/`` by the month it was submitted."""
        return self.audio_dir / f"{created_at:%Y}" / f"{created_at:%m}" / task_id

    @property
    def previews_dir(self) -> Path:
        return self.data_dir.resolve() / "previews"

    def credit_cost(self, chars: int, duration_s: float = 0.0) -> int:
        """Credits a task costs: by its characters of spoken text or by the started minutes of audio it
        makes, whichever is more (a script of pauses is not free); at least 1."""
        by_chars = math.ceil(chars * self.credits_per_1k_chars / 1000)
        by_minutes = math.ceil(duration_s / 60) * self.credits_per_minute
        return max(1, by_chars, by_minutes)


@lru_cache(maxsize=1)
def get_settings() -> ServiceSettings:
    return ServiceSettings()


RENDER_MEMORY_BYTES = 2 << 30  # what one render's process tree may take (the demo through dora peaks near 1.7 GB)


def available_memory_bytes() -> int | None:
    """MemAvailable of /proc/meminfo (Linux), or None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def default_concurrency(cores: int | None = None, memory_bytes: int | None = None) -> int:
    """Renders one worker runs at once when not configured: one per core, as many as the memory holds at
    ``RENDER_MEMORY_BYTES`` each, at least one."""
    from nodes.common.settings import cores as machine_cores

    cores = cores or machine_cores()
    memory_bytes = memory_bytes if memory_bytes is not None else available_memory_bytes()
    fits = cores if memory_bytes is None else memory_bytes // RENDER_MEMORY_BYTES
    return max(1, min(cores, fits))


def tts_workers_per_render(concurrency: int, cores: int | None = None) -> int:
    """Segments a render speaks at once when ``concurrency`` renders share the machine's cores."""
    from nodes.common.settings import cores as machine_cores

    return max(1, (cores or machine_cores()) // max(1, concurrency))
