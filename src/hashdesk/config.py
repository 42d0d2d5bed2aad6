"""Settings, read once from ``HASHDESK_*`` environment variables (see README)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path.cwd() / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HASHDESK_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATA_DIR / 'hashdesk.sqlite3'}",
        description="SQLAlchemy URL; SQLite file by default, postgresql+psycopg://... in production",
    )
    redis_url: str | None = Field(
        default=None, description="redis://host:port/db; enables the Redis event bus when set"
    )
    redis_prefix: str = Field(
        default="hashdesk:",
        description="prefix of pub/sub channels and keys; distinct per deployment on one Redis",
    )
    secret_key: str = Field(
        default="change-me-in-production-hashdesk-demo-secret",
        description="signs session cookies and CSRF tokens",
    )
    exchange_jwt_key: str = Field(
        default="demo-exchange-jwt-key-change-me-in-production",
        description="HS256 key of the exchange's trader sign-in tokens",
    )
    exchange_jwt_issuer: str = "exchange"
    connector_secret: str = Field(
        default="demo-connector-secret-change-me",
        description="HMAC-SHA256 key of the exchange's connector API requests",
    )
    public_url: str = "http://127.0.0.1:8000"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "HashDesk Support <support@hashdesk.local>"
    email_enabled: bool = True
    upload_dir: Path = DEFAULT_DATA_DIR / "uploads"
    max_upload_bytes: int = 10 * 1024 * 1024
    demo_mode: bool = Field(
        default=False, description="shows the trader picker on the sign-in page"
    )
    reopen_window_days: int = 7
    outbox_poll_seconds: float = 1.0
    run_outbox_worker: bool = True
    cookie_secure: bool = False
    triage_model_dir: Path | None = Field(
        default=None,
        description="model trained by 'hashdesk triage train'; predicts the category of new "
        "chats and tickets (none: no prediction)",
    )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
