"""The notice store: notices (通知) a caseworker writes for a committee, chosen compounds,
buildings or labelled households; the households each one targets (frozen when it is sent);
one delivery row per recipient (a group chat, or a resident bound to a targeted household)
that the send job claims with one conditional UPDATE, so that no recipient ever gets the same
notice twice; whether a resident read and acknowledged it; and the caseworkers' follow-up
calls and visits.

Every table carries its committee; every query names it, except the send job's, which works
for every committee and carries each row's committee with it."""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.errors import LinliError
from bot.domain.tickets import ResidentId


class NoticeError(LinliError):
    """Root of the notice errors; the message is Chinese, for the caseworker."""


class NoticeNotFound(NoticeError):
    """No such notice in this committee: the same for another committee's."""


class NoticeNotDraft(NoticeError):
    """Only a draft can be edited: this notice was sent (or withdrawn)."""


class NoticeKind(enum.StrEnum):
    WATER = "water"
    POWER = "power"
    LIFT = "lift"
    BINS = "bins"
    VACCINE = "vaccine"
    OTHER = "other"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    NoticeKind.WATER: "停水",
    NoticeKind.POWER: "停电",
    NoticeKind.LIFT: "电梯维保",
    NoticeKind.BINS: "撤桶",
    NoticeKind.VACCINE: "疫苗接种",
    NoticeKind.OTHER: "其他",
}


class NoticeState(enum.StrEnum):
    DRAFT = "draft"
    """Written, not sent: nobody has it yet."""
    PUBLISHED = "published"
    """Sent: its recipients are planned (delivery rows) and go out within the limits."""
    WITHDRAWN = "withdrawn"
    """Taken back by a caseworker: no longer answered nor sent (what went out stays)."""

    @property
    def label(self) -> str:
        return {"draft": "草稿", "published": "已发布", "withdrawn": "已撤回"}[self.value]


class Target(enum.StrEnum):
    GROUP = "group"
    PRIVATE = "private"


class SendState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    """Claimed by a worker. One that died here leaves it: the send is given up after a while
    (counted as failed), never repeated."""
    DONE = "done"
    """Sent or not: ``delivery`` says how it went."""


class FollowUpOutcome(enum.StrEnum):
    PHONED = "phoned"
    VISITED = "visited"
    NO_ANSWER = "no_answer"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "phoned": "已电话告知",
            "visited": "已上门告知",
            "no_answer": "无人应答",
            "other": "其他",
        }[self.value]

    @property
    def informed(self) -> bool:
        """The household now knows of the notice."""
        return self in (FollowUpOutcome.PHONED, FollowUpOutcome.VISITED)


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a notice is for: the whole committee (nothing chosen), compounds, buildings of a
    compound; ``labels`` narrows any of them to households carrying one of the labels."""

    compounds: tuple[str, ...] = ()
    """Compound ids."""
    buildings: tuple[tuple[str, str], ...] = ()
    """(compound id, building) pairs, e.g. ``("puxiongxinyuan", "20号楼")``."""
    labels: tuple[str, ...] = ()

    def covers(self, compound: str, building: str, labels: Sequence[str] = ()) -> bool:
        """Whether a household at ``compound``/``building`` with ``labels`` is targeted."""
        if self.labels and not set(self.labels) & set(labels):
            return False
        if not self.compounds and not self.buildings:
            return True
        return compound in self.compounds or (compound, building) in self.buildings

    def touches(self, compound: str, buildings: Sequence[str] = ()) -> bool:
        """Whether any targeted household may live in ``compound`` (in one of ``buildings``
        when given): whom a group chat of that compound or those buildings serves."""
        if not self.compounds and not self.buildings:
            return True
        if compound in self.compounds:
            return True
        chosen = [b for c, b in self.buildings if c == compound]
        return bool(chosen) and (not buildings or bool(set(chosen) & set(buildings)))


@dataclass(frozen=True, slots=True)
class NewNotice:
    committee: str
    kind: NoticeKind
    title: str
    body: str
    valid_from: datetime
    valid_until: datetime
    audience: Audience
    post_groups: bool
    created_by_id: str
    created_by_name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    committee: str
    kind: NoticeKind
    title: str
    body: str
    valid_from: datetime
    valid_until: datetime
    audience: Audience
    post_groups: bool
    state: NoticeState
    created_by_id: str
    created_by_name: str
    created_at: datetime
    published_at: datetime | None

    def valid_at(self, now: datetime) -> bool:
        return self.state is NoticeState.PUBLISHED and self.valid_from <= now < self.valid_until


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """One recipient of a notice: a group chat (``address`` its chat id) or a resident
    (``address`` their sender id) bound to ``household_id``."""

    target: Target
    channel: str
    account: str
    address: str
    household_id: int | None = None
    conversation_key: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    committee: str
    notice_id: int
    target: Target
    channel: str
    account: str
    address: str
    household_id: int | None
    conversation_key: str
    name: str
    state: SendState
    delivery: str
    """``bot.domain.once.Delivery`` once done (empty before)."""
    error: str
    claimed_at: datetime | None
    finished_at: datetime | None
    read_at: datetime | None
    acknowledged_at: datetime | None

    @property
    def resident(self) -> ResidentId:
        return ResidentId(self.channel, self.account, self.address)


@dataclass(frozen=True, slots=True)
class FollowUp:
    id: int
    committee: str
    notice_id: int
    household_id: int
    outcome: FollowUpOutcome
    note: str
    actor_id: str
    actor_name: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Planned:
    """What ``publish`` planned: households targeted and recipients to send to."""

    households: int
    deliveries: int
    published: bool
    """False: the notice was not a draft (sent already, or withdrawn): nothing planned."""
    rows: list[DeliveryRow] = field(default_factory=list)


class NoticeStore(abc.ABC):
    @abc.abstractmethod
    async def create(self, notice: NewNotice) -> Notice: ...

    @abc.abstractmethod
    async def get(self, committee: str, notice_id: int) -> Notice | None: ...

    @abc.abstractmethod
    async def notices(self, committee: str, *, limit: int = 200) -> list[Notice]:
        """Newest first."""

    @abc.abstractmethod
    async def publish(
        self,
        committee: str,
        notice_id: int,
        households: Sequence[int],
        deliveries: Sequence[NewDelivery],
        now: datetime,
    ) -> Planned:
        """Move a draft to published and store its households and recipients, in one
        transaction (a conditional UPDATE on the draft state: a second call, from any worker,
        plans nothing). NoticeNotFound."""

    @abc.abstractmethod
    async def edit(self, committee: str, notice_id: int, notice: NewNotice) -> Notice:
        """Replace a draft's content (kind, title, text, validity, audience, groups) with a
        conditional UPDATE on the draft state, so it never races a publish; its author and
        creation time are kept. NoticeNotFound; NoticeNotDraft once sent or withdrawn."""

    @abc.abstractmethod
    async def withdraw(self, committee: str, notice_id: int, now: datetime) -> Notice:
        """Withdraw a draft or published notice; its pending sends are dropped (done,
        ``undeliverable``). NoticeNotFound."""

    @abc.abstractmethod
    async def current(self, committee: str, now: datetime) -> list[Notice]:
        """Published notices valid at ``now``."""

    @abc.abstractmethod
    async def pending(self, limit: int = 200) -> list[DeliveryRow]:
        """Deliveries waiting to go out (every committee), oldest first."""

    @abc.abstractmethod
    async def claim(self, delivery_id: int, now: datetime) -> bool:
        """Move a pending delivery to sending; False when another worker did."""

    @abc.abstractmethod
    async def finish(self, delivery_id: int, delivery: str, error: str, now: datetime) -> None:
        """Record how a claimed delivery went."""

    @abc.abstractmethod
    async def give_up_stale(self, claimed_before: datetime, now: datetime) -> int:
        """Deliveries left sending since before ``claimed_before`` (their worker died
        mid-send): done as ``failed``, never sent again. How many."""

    @abc.abstractmethod
    async def deliveries(self, committee: str, notice_id: int) -> list[DeliveryRow]: ...

    @abc.abstractmethod
    async def household_ids(self, committee: str, notice_id: int) -> list[int]:
        """The households the notice targets (as frozen when it was sent)."""

    @abc.abstractmethod
    async def targeting(
        self, committee: str, household_id: int, notice_ids: Sequence[int]
    ) -> list[int]:
        """Those of ``notice_ids`` that target the household."""

    @abc.abstractmethod
    async def received(
        self, committee: str, resident: ResidentId, notice_ids: Sequence[int]
    ) -> list[DeliveryRow]:
        """The resident's private deliveries of those notices that reached them."""

    @abc.abstractmethod
    async def mark_read(
        self, committee: str, resident: ResidentId, notice_ids: Sequence[int], now: datetime
    ) -> int:
        """The resident wrote after receiving these notices: their delivered, unread rows
        are read now. How many."""

    @abc.abstractmethod
    async def acknowledge(
        self, committee: str, resident: ResidentId, notice_ids: Sequence[int], now: datetime
    ) -> list[int]:
        """The resident acknowledged ("收到"): their delivered rows of these notices, not
        acknowledged yet, are (and read). The notice ids newly acknowledged."""

    @abc.abstractmethod
    async def delivery(self, committee: str, delivery_id: int) -> DeliveryRow | None: ...

    @abc.abstractmethod
    async def read_delivery(self, committee: str, delivery_id: int, now: datetime) -> bool:
        """The resident opened the notice's page from this private delivery: read now,
        unless read before. Whether it was newly read."""

    @abc.abstractmethod
    async def acknowledge_delivery(self, committee: str, delivery_id: int, now: datetime) -> bool:
        """The resident pressed 收到 on the notice's page: acknowledged (and read) now,
        unless acknowledged before. Whether it was newly acknowledged."""

    @abc.abstractmethod
    async def add_follow_up(
        self,
        committee: str,
        notice_id: int,
        household_id: int,
        outcome: FollowUpOutcome,
        note: str,
        actor_id: str,
        actor_name: str,
        now: datetime,
    ) -> FollowUp:
        """NoticeNotFound when the notice does not target that household."""

    @abc.abstractmethod
    async def follow_ups(self, committee: str, notice_id: int) -> list[FollowUp]:
        """Oldest first."""
