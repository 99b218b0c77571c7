"""The control service's settings: one class, read from ``DRAMAFLOW_*`` environment variables."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Everything the API and the workers read. ``DRAMAFLOW_DATABASE_URL`` etc."""

    model_config = SettingsConfigDict(env_prefix="DRAMAFLOW_", frozen=True, extra="ignore")

    database_url: str = "postgresql+psycopg2://dramaflow@127.0.0.1:5432/dramaflow"
    redis_url: str = "redis://127.0.0.1:6379/0"
    data_dir: Path = Path("data")
    voices_file: Path | None = None  # default: the voices.yaml of this checkout
    queue_name: str = "dramaflow:queue"

    task_time_limit_s: float = Field(1800.0, gt=0)  # a render running longer is stopped and failed
    task_retries: int = Field(1, ge=0)  # extra attempts after a transient failure
    worker_concurrency: int = Field(2, ge=1)  # tasks one worker process renders at once
    cancel_poll_s: float = Field(0.5, gt=0)
    events_ttl_s: int = Field(86400, gt=0)  # Redis stream and status hash live this long after the end
    scratch_ttl_h: float = Field(24.0, gt=0)  # task folders (dataflow, logs) are swept after this
    audio_ttl_days: float = Field(30.0, gt=0)  # finished audio is kept this long
    max_body_bytes: int = Field(1_000_000, gt=0)  # larger request bodies get 413
    credits_per_1k_chars: int = Field(10, ge=0)  # price of spoken text; a task costs at least 1
    page_size_max: int = 100

    @property
    def tasks_dir(self) -> Path:
        return self.data_dir.resolve() / "tasks"

    @property
    def audio_dir(self) -> Path:
        return self.data_dir.resolve() / "audio"

    @property
    def previews_dir(self) -> Path:
        return self.data_dir.resolve() / "previews"

    def credit_cost(self, chars: int) -> int:
        """Credits a task with ``chars`` characters of spoken text costs (at least 1)."""
        return max(1, math.ceil(chars * self.credits_per_1k_chars / 1000))


@lru_cache(maxsize=1)
def get_settings() -> ServiceSettings:
    return ServiceSettings()
