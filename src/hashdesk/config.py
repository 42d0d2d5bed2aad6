"""Settings, read once from ``HASHDESK_*`` environment variables (see README)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
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
    search_vector_cache: Path | None = Field(
        default=DEFAULT_DATA_DIR / "search-vectors.sqlite3",
        description="SQLite file keeping help-center passage vectors between starts "
        "(derived data: safe to delete); empty: embed every passage at each start",
    )
    max_upload_bytes: int = 10 * 1024 * 1024
    demo_mode: bool = Field(
        default=False, description="shows the trader picker on the sign-in page"
    )
    reopen_window_days: int = 7
    outbox_poll_seconds: float = 1.0
    run_outbox_worker: bool = True
    run_chain_monitor: bool = Field(
        default=False,
        description="poll the registry's networks in this process (one process leads, see "
        "docs); 'hashdesk chains monitor' runs the poller on its own",
    )
    chain_monitor_interval_seconds: float = Field(default=2.0, gt=0)
    chain_rpc_timeout_seconds: float = Field(default=5.0, gt=0)
    cookie_secure: bool = False
    triage_model_dir: Path | None = Field(
        default=None,
        description="model trained by 'hashdesk triage train'; predicts the category of new "
        "chats and tickets (none: no prediction)",
    )

    chat_offer_seconds: float = Field(
        default=30.0, gt=0, description="an agent who does not accept a chat within this "
        "time loses it to the next agent"
    )  # fmt: skip
    chat_agent_capacity: int = Field(
        default=3, ge=1, description="concurrent chats of an agent who did not set their own"
    )
    chat_handle_seconds: int = Field(
        default=300, ge=1, description="handle time assumed for the expected wait until "
        "closed chats give a measured one"
    )  # fmt: skip
    chat_schedules_file: Path | None = Field(
        default=None,
        description="YAML file of the chat queues' follow-the-sun opening hours and chains "
        "(see hashdesk/chat/schedules.py); unset: queues are always open",
    )
    chat_allowed_origins: str = Field(
        default="", description="the sites that embed the chat widget (origins like "
        "https://exchange.example, separated by commas); other sites' widget requests and "
        "chat sockets are refused. Empty: this site only"
    )  # fmt: skip
    chat_trusted_proxy_header: str | None = Field(
        default=None, description="header the reverse proxy puts the client address in "
        "(e.g. X-Forwarded-For; its last entry is used); unset: the socket's peer address"
    )  # fmt: skip

    margin_warning_ratio: float = Field(
        default=0.8, gt=0, description="margin ratio at which a trader gets a margin warning"
    )
    margin_critical_ratio: float = Field(
        default=0.9, gt=0, description="margin ratio at which a trader gets a critical margin call"
    )
    margin_rearm_gap: float = Field(
        default=0.05, ge=0,
        description="a margin alert re-arms once the ratio is this far below its threshold",
    )  # fmt: skip
    futures_tier_file: Path | None = Field(
        default=None, description="maintenance-margin tier tables (JSON/YAML); none: demo tables"
    )
    reserves_dir: Path | None = Field(
        default=None, description="proof of reserves: a folder written by 'hashdesk reserves "
        "build' (with its private/ part), or a folder of such builds (the latest is used); "
        "the agents' proof lookup reads it",
    )  # fmt: skip

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @field_validator("chat_allowed_origins")
    @classmethod
    def _origins_are_origins(cls, value: str) -> str:
        from hashdesk.chat.origins import parse_origins  # the chat domain owns the format

        return ", ".join(sorted(parse_origins(value)))


@lru_cache
def get_settings() -> Settings:
    return Settings()
