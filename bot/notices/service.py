"""Notices as caseworkers and residents use them.

Sending: ``publish`` freezes the households the notice targets and plans one delivery per
recipient — each group chat that serves a targeted compound or building (its WeCom group
robot) and each resident with a verified or claimed binding to a targeted household — in one
transaction, once (a second publish, from any worker, plans nothing). ``send_due`` (the
periodic loop, on any worker) claims each planned delivery with a conditional UPDATE before
it sends, so a recipient never gets a notice twice; a group waits for its 20-a-minute window
(queued, never dropped); a private send goes through the resident's channel, where it allows
messages Linli starts, and is logged in the resident's conversation.

Each private delivery carries a signed link (``bot.domain.links``, one token per delivery,
expiring when the notice's validity ends) to the notice's page (``bot.console.notice_page``).

Per household: *reached* (a bound member's private delivery was accepted by the platform),
*read* (a member opened the notice's page from their link, wrote to Linli in private after
it was delivered, or acknowledged it), *acknowledged* (a member replied "收到" or pressed 收到
on the page). Drafts can be edited until they are sent. Staff calls name the caseworker and
are logged in the households' access log."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.domain import links
from bot.domain.once import Delivery, DeliveryReport
from bot.domain.registry import Registry
from bot.domain.tickets import Actor, ResidentId
from bot.households import places
from bot.households.service import Households
from bot.notices import matching, texts
from bot.settings import Settings
from bot.storage.conversations import Conversation, ConversationStore
from bot.storage.households import BindingStatus, Household
from bot.storage.messages import MessageLog
from bot.storage.notices import (
    Audience,
    DeliveryRow,
    FollowUp,
    FollowUpOutcome,
    NewDelivery,
    NewNotice,
    Notice,
    NoticeError,
    NoticeKind,
    NoticeNotDraft,
    NoticeNotFound,
    NoticeState,
    NoticeStore,
    Planned,
    SendState,
    Target,
)

log = logging.getLogger(__name__)

GROUP_CHANNEL = "wecom_robot"
"""The delivery rows' channel of a group chat's robot post."""
PRIORITY_LABELS = ("独居", "高龄")
"""Households carrying these labels head the follow-up list."""
STALE_SEND = timedelta(minutes=10)
"""A delivery claimed this long ago and not finished: its worker died mid-send. It is given
up (failed, so the household shows as not reached) rather than risk sending it twice."""
CURRENT_TTL_S = 5.0
"""How long a worker keeps a committee's valid notices before reading them again (another
worker's new notice is answered within this)."""
MAX_TITLE = 60
MAX_BODY = 2000
MAX_NOTE = 500
MAX_PERIOD = timedelta(days=366)
EARLIEST, LATEST = 2000, 2100
LINK_PURPOSE = "notice"
"""What a notice page's links are signed for (``bot.domain.links``)."""
LINK_HIDDEN = "（个人链接，记录中不显示）"
"""Stands for the resident's link in their conversation log: staff reading the log cannot
open the page as them."""


@dataclass(frozen=True, slots=True)
class GroupChat:
    """A group chat notices can reach: the compound it serves and, when it serves only some,
    its buildings."""

    chat_id: str
    compound: str
    buildings: tuple[str, ...]
    robot_key: str


class NoticeOut(Protocol):
    """How notices leave Linli (the channels implement it; see ``bot.channels.group``)."""

    async def group_ready(self, committee: str, chat_id: str) -> bool:
        """Whether the group's rate limit lets a post out now (a slot is taken)."""
        ...

    async def post_group(self, committee: str, chat_id: str, text: str) -> DeliveryReport: ...

    async def push(self, to: Conversation, text: str, kind: str) -> DeliveryReport: ...


@dataclass(frozen=True, slots=True)
class NoticeDraft:
    kind: NoticeKind
    title: str
    body: str
    valid_from: datetime
    valid_until: datetime
    audience: Audience
    post_groups: bool = True


@dataclass(frozen=True, slots=True)
class HouseholdStatus:
    household: Household
    address: str
    members: int
    """Residents bound (verified or claimed) when the notice was sent."""
    reached: bool
    read: bool
    acknowledged: bool
    follow_ups: tuple[FollowUp, ...]

    @property
    def priority(self) -> bool:
        return any(label in self.household.labels for label in PRIORITY_LABELS)

    @property
    def rank(self) -> tuple[int, tuple[int, str], tuple[int, str], tuple[int, str], str]:
        """独居 first, then 高龄, then the others; by building, unit and room within."""
        first = next(
            (i for i, label in enumerate(PRIORITY_LABELS) if label in self.household.labels),
            len(PRIORITY_LABELS),
        )
        h = self.household
        return (first, _natural(h.building), _natural(h.unit), _natural(h.room), h.compound)

    @property
    def informed(self) -> bool:
        """Reached by Linli, or told by a caseworker's call or visit."""
        return self.reached or any(f.outcome.informed for f in self.follow_ups)


@dataclass(frozen=True, slots=True)
class NoticeDetail:
    notice: Notice
    households: list[HouseholdStatus]
    deliveries: list[DeliveryRow]

    @property
    def groups(self) -> list[DeliveryRow]:
        return [d for d in self.deliveries if d.target is Target.GROUP]

    def count(self, what: str) -> int:
        return sum(1 for h in self.households if getattr(h, what))

    def follow_up_list(self, *, unacknowledged: bool = False) -> list[HouseholdStatus]:
        """Households not reached (``unacknowledged``: not acknowledged), 独居 and 高龄 first,
        then by address; those a caseworker has told already (a call or visit) last."""
        wanted = [
            h for h in self.households if (not h.acknowledged if unacknowledged else not h.reached)
        ]
        return sorted(wanted, key=lambda h: (h.informed, h.rank))


@dataclass(frozen=True, slots=True)
class NoticeView:
    """What a resident's link opens: the notice, or why not (Chinese, with the status)."""

    notice: Notice | None
    delivery: DeliveryRow | None
    committee_name: str
    acknowledged: bool = False
    error: str = ""
    status: int = 200


class Notices:
    def __init__(
        self,
        store: NoticeStore,
        households: Households,
        registry: Registry,
        settings: Settings,
        out: NoticeOut,
        conversations: ConversationStore,
        message_log: MessageLog,
        *,
        clock: Callable[[], datetime] | None = None,
        link_key: bytes | None = None,
        page_url: Callable[[str], str] | None = None,
    ) -> None:
        """``link_key`` and ``page_url`` (a token's address): private deliveries carry a
        link to the notice's page; without them, the text only."""
        self.store = store
        self._households = households
        self._registry = registry
        self._settings = settings
        self._out = out
        self._conversations = conversations
        self._log = message_log
        self._now = clock or (lambda: datetime.now(UTC))
        self._current: dict[str, tuple[float, list[Notice]]] = {}
        self._link_key = link_key
        self._page_url = page_url

    # --- staff -----------------------------------------------------------------------------

    async def create(self, committee: str, draft: NoticeDraft, actor: Actor) -> Notice:
        """A draft notice; NoticeError (Chinese) when something is wrong with it."""
        notice = await self.store.create(self._new(committee, draft, actor))
        log.info("notice created", extra={"committee": committee, "notice": notice.id})
        return notice

    async def edit(
        self, committee: str, notice_id: int, draft: NoticeDraft, actor: Actor
    ) -> Notice:
        """Replace a draft's content; NoticeNotDraft once it was sent (or withdrawn),
        NoticeError (Chinese) when something is wrong with the new content."""
        current = await self.get(committee, notice_id)
        if current.state is not NoticeState.DRAFT:
            raise NoticeNotDraft("这条通知已经发送（或已撤回），不能再修改。")
        notice = await self.store.edit(committee, notice_id, self._new(committee, draft, actor))
        log.info("notice edited", extra={"committee": committee, "notice": notice_id})
        return notice

    async def notices(self, committee: str) -> list[Notice]:
        return await self.store.notices(committee)

    async def get(self, committee: str, notice_id: int) -> Notice:
        notice = await self.store.get(committee, notice_id)
        if notice is None:
            raise NoticeNotFound("没有找到该通知。")
        return notice

    async def publish(self, committee: str, notice_id: int, actor: Actor) -> Planned:
        """Send the notice: its households and recipients planned once (``published`` False
        when it was sent before: nothing is sent again)."""
        notice = await self.get(committee, notice_id)
        if notice.state is not NoticeState.DRAFT:
            return Planned(0, 0, False)
        if notice.valid_until <= self._now():
            raise NoticeError("通知的有效期已过，不能发送。")
        targeted = [
            h
            for h in await self._households.store.households(committee)
            if notice.audience.covers(h.compound, h.building, h.labels)
        ]
        ids = {h.id for h in targeted}
        deliveries: list[NewDelivery] = []
        for b in await self._households.store.bindings(committee):
            if b.household_id not in ids or b.status is BindingStatus.REJECTED:
                continue
            r = b.resident
            deliveries.append(
                NewDelivery(
                    Target.PRIVATE,
                    r.channel,
                    r.account,
                    r.sender_id,
                    household_id=b.household_id,
                    conversation_key=f"{committee}:{r.channel}:{r.account}:p:{r.sender_id}",
                    name=b.sender_name,
                )
            )
        if notice.post_groups:
            for chat in self.group_chats(committee):
                if notice.audience.labels or not notice.audience.touches(
                    chat.compound, chat.buildings
                ):
                    continue
                deliveries.append(
                    NewDelivery(
                        Target.GROUP, GROUP_CHANNEL, committee, chat.chat_id, name=chat.chat_id
                    )
                )
        planned = await self.store.publish(
            committee, notice_id, [h.id for h in targeted], deliveries, self._now()
        )
        if planned.published:
            self._current.pop(committee, None)
            await self._access(
                committee,
                actor,
                "notice_send",
                f"通知 {notice_id}《{notice.title}》：{planned.households} 户，"
                f"{planned.deliveries} 个接收方",
            )
        return planned

    async def withdraw(self, committee: str, notice_id: int, actor: Actor) -> Notice:
        notice = await self.store.withdraw(committee, notice_id, self._now())
        self._current.pop(committee, None)
        log.info("notice withdrawn", extra={"committee": committee, "notice": notice_id})
        return notice

    async def detail(self, committee: str, notice_id: int, actor: Actor) -> NoticeDetail:
        """The notice with each targeted household's status and follow-ups (logged)."""
        notice = await self.get(committee, notice_id)
        deliveries = await self.store.deliveries(committee, notice_id)
        ids = await self.store.household_ids(committee, notice_id)
        follow_ups = await self.store.follow_ups(committee, notice_id)
        known = {h.id: h for h in await self._households.store.households(committee)}
        statuses = []
        for household_id in ids:
            household = known.get(household_id)
            if household is None:
                continue
            mine = [d for d in deliveries if d.household_id == household_id]
            statuses.append(
                HouseholdStatus(
                    household=household,
                    address=self._households.address(household),
                    members=len(mine),
                    reached=any(_delivered(d) for d in mine),
                    read=any(d.read_at is not None for d in mine),
                    acknowledged=any(d.acknowledged_at is not None for d in mine),
                    follow_ups=tuple(f for f in follow_ups if f.household_id == household_id),
                )
            )
        await self._access(
            committee, actor, "notice_view", f"通知 {notice_id} 各户送达情况（{len(statuses)} 户）"
        )
        return NoticeDetail(notice, statuses, deliveries)

    async def follow_up(
        self,
        committee: str,
        notice_id: int,
        household_id: int,
        outcome: FollowUpOutcome,
        note: str,
        actor: Actor,
    ) -> FollowUp:
        """Record a caseworker's call or visit (走访) to a household about the notice."""
        note = note.strip()
        if len(note) > MAX_NOTE or "\x00" in note:
            raise NoticeError(f"备注不能超过 {MAX_NOTE} 个字。")
        await self.get(committee, notice_id)
        done = await self.store.add_follow_up(
            committee, notice_id, household_id, outcome, note, actor.id, actor.name, self._now()
        )
        await self._households.store.log_access(
            committee,
            household_id,
            actor.id,
            actor.name,
            "notice_follow_up",
            f"通知 {notice_id}：{outcome.label}" + (f"，{note}" if note else ""),
            self._now(),
        )
        return done

    def group_chats(self, committee: str) -> list[GroupChat]:
        """The committee's group chats with the compound (and buildings) each serves: the
        registry's, with ``[committees.<id>.group_chats.<chat>]`` ``compound`` and
        ``buildings`` over them (a chat the registry does not know needs its ``compound``)."""
        if not self._registry.has_committee(committee):
            return []
        com = self._registry.committee(committee)
        conf = self._settings.committees.get(committee)
        chats: dict[str, str] = {}
        for compound in com.compounds:
            for chat_id in compound.group_chats:
                chats[chat_id] = compound.id
        if conf is not None:
            for chat_id, own in conf.group_chats.items():
                if own.compound:
                    found = com.compound(own.compound)
                    chats[chat_id] = found.id if found is not None else own.compound
        out = []
        for chat_id, compound_id in chats.items():
            group = conf.group(chat_id) if conf is not None else None
            out.append(
                GroupChat(
                    chat_id,
                    compound_id,
                    tuple(places.building(b) for b in group.buildings) if group is not None else (),
                    group.robot_key if group is not None else "",
                )
            )
        return out

    def buildings_of(self, committee: str, chat_id: str) -> tuple[str, ...]:
        """The buildings a group chat serves (empty: its whole compound)."""
        for chat in self.group_chats(committee):
            if chat.chat_id == chat_id:
                return chat.buildings
        return ()

    # --- sending ---------------------------------------------------------------------------

    async def send_now(self) -> None:
        """``send_due`` at once (after a publish), its failure logged: the periodic loop
        sends what it left."""
        try:
            await self.send_due()
        except Exception:
            log.exception("notice sending failed; the periodic loop retries")

    async def send_due(self) -> int:
        """Send what is planned and not sent (every committee); how many went out."""
        now = self._now()
        stale = await self.store.give_up_stale(now - STALE_SEND, now)
        if stale:
            log.warning("notice sends interrupted, given up", extra={"count": stale})
        sent = 0
        notices: dict[tuple[str, int], Notice | None] = {}
        waiting: set[str] = set()
        for row in await self.store.pending():
            key = (row.committee, row.notice_id)
            if key not in notices:
                notices[key] = await self.store.get(row.committee, row.notice_id)
            notice = notices[key]
            if notice is None or notice.state is not NoticeState.PUBLISHED:
                continue
            if row.target is Target.GROUP:
                if row.address in waiting:
                    continue
                if not await self._out.group_ready(row.committee, row.address):
                    waiting.add(row.address)  # queued: the next round tries again
                    continue
            if not await self.store.claim(row.id, self._now()):
                continue  # another worker has it
            report, conv, text = await self._send(row, notice)
            # How it went is recorded first: a send is never repeated, whatever follows.
            await self.store.finish(row.id, report.status.value, report.error, self._now())
            sent += report.delivered
            if conv is not None:
                await self._log.record_proactive(
                    conv,
                    text,
                    kind="notice",
                    direction="out",
                    sender_name="邻里",
                    delivery=report.status,
                    error_code=report.error_code,
                    error=report.error,
                )
        return sent

    async def _send(
        self, row: DeliveryRow, notice: Notice
    ) -> tuple[DeliveryReport, Conversation | None, str]:
        """Send one delivery: how it went, and the resident's conversation and the text
        (for their conversation log) when it was a private one."""
        name = self._committee_name(row.committee)
        if row.target is Target.GROUP:
            text = texts.message(notice, name, private=False)
            return await self._out.post_group(row.committee, row.address, text), None, text
        conv = await self._conversations.get(row.conversation_key)
        if conv is None:
            # The binding was made in a private chat, so its conversation is known; without
            # it Linli has no address to write to.
            report = DeliveryReport(Delivery.UNDELIVERABLE, error="没有该居民的私聊会话")
            return report, None, ""
        link = self._link(row, notice)
        text = texts.message(notice, name, private=True, link=link)
        logged = texts.message(notice, name, private=True, link=LINK_HIDDEN if link else "")
        return await self._out.push(conv, text, "notice"), conv, logged

    # --- residents -------------------------------------------------------------------------

    async def current(self, committee: str) -> list[Notice]:
        """The committee's notices valid now (kept a few seconds per worker)."""
        held = self._current.get(committee)
        clock = time.monotonic()
        now = self._now()
        if held is None or held[0] < clock:
            held = (clock + CURRENT_TTL_S, await self.store.current(committee, now))
            self._current[committee] = held
        return [n for n in held[1] if n.valid_at(now)]

    async def wrote(
        self, committee: str, resident: ResidentId, text: str, notices: Sequence[Notice]
    ) -> list[Notice] | None:
        """A resident wrote in private while ``notices`` are valid: the notices they had
        received are read now; when the message acknowledges, those are acknowledged and
        returned (``[]``: all acknowledged before). None: not an acknowledgement of any."""
        ids = [n.id for n in notices]
        received = await self.store.received(committee, resident, ids)
        if not received:
            return None
        now = self._now()
        if matching.is_ack(text):
            acked = set(await self.store.acknowledge(committee, resident, ids, now))
            if acked:
                log.info("notice acknowledged", extra={"committee": committee, "n": len(acked)})
            return [n for n in notices if n.id in acked]
        if any(d.read_at is None for d in received):
            await self.store.mark_read(committee, resident, ids, now)
        return None

    async def received_notices(
        self, committee: str, resident: ResidentId, notices: Sequence[Notice]
    ) -> list[Notice]:
        got = {
            d.notice_id
            for d in await self.store.received(committee, resident, [n.id for n in notices])
        }
        return [n for n in notices if n.id in got]

    async def relevant(
        self,
        committee: str,
        notices: Sequence[Notice],
        *,
        resident: ResidentId | None,
        named: str | None,
        around: str | None,
        buildings: Sequence[str] = (),
    ) -> list[Notice]:
        """The notices that concern the asker: a bound resident (private chat), those
        targeting their household; anyone else, those for everyone in the compound they
        name (``named``) or are in (``around``: the group's, or the one they told before).
        A bound resident naming a compound gets that compound's notices too."""
        if resident is not None:
            binding = await self._households.store.binding_of(committee, resident)
            if binding is not None and binding.status is not BindingStatus.REJECTED:
                ids = set(
                    await self.store.targeting(
                        committee, binding.household_id, [n.id for n in notices]
                    )
                )
                mine = [n for n in notices if n.id in ids]
                there = _for_compound(notices, named, ()) if named else []
                return mine + [n for n in there if n not in mine]
        return _for_compound(notices, named or around, buildings)

    async def for_unplaced(
        self,
        committee: str,
        notices: Sequence[Notice],
        *,
        resident: ResidentId | None,
        building: str | None = None,
    ) -> list[Notice]:
        """The notices an asker whose place is unknown may mean ("20号楼几点来水啊" in a
        private chat, not bound, no compound named or told before): every one for everyone
        in some compound (or the whole committee), narrowed to ``building`` when one is
        named. Empty for a bound resident: their binding already said which concern them."""
        if resident is not None:
            binding = await self._households.store.binding_of(committee, resident)
            if binding is not None and binding.status is not BindingStatus.REJECTED:
                return []
        found = [n for n in notices if not n.audience.labels]
        if building:
            found = [n for n in found if _reaches_building(n, building)]
        return found

    async def open_page(self, token: str) -> NoticeView:
        """A resident opened their link: the notice, its delivery read now."""
        view = await self._view(token)
        if view.delivery is not None and not view.error:
            d = view.delivery
            if await self.store.read_delivery(d.committee, d.id, self._now()):
                log.info("notice read on its page", extra={"committee": d.committee})
        return view

    async def acknowledge_page(self, token: str) -> NoticeView:
        """A resident pressed 收到 on the notice's page: acknowledged, as if they had
        replied "收到" in the chat."""
        view = await self._view(token)
        if view.delivery is None or view.error:
            return view
        d = view.delivery
        if await self.store.acknowledge_delivery(d.committee, d.id, self._now()):
            log.info("notice acknowledged on its page", extra={"committee": d.committee})
        return NoticeView(view.notice, d, view.committee_name, acknowledged=True)

    async def _view(self, token: str) -> NoticeView:
        bad = NoticeView(
            None,
            None,
            "",
            error="这个通知链接无效。请打开邻里在聊天里发给您的通知链接；如有疑问，请联系居委会。",
            status=404,
        )
        signed = (
            None if self._link_key is None else links.verify(self._link_key, LINK_PURPOSE, token)
        )
        if signed is None or not self._registry.has_committee(signed.committee):
            return bad
        committee = signed.committee
        delivery = await self.store.delivery(committee, signed.item)
        if delivery is None or delivery.target is not Target.PRIVATE:
            return bad
        notice = await self.store.get(committee, delivery.notice_id)
        if notice is None:
            return bad
        name = self._committee_name(committee)
        if notice.state is NoticeState.WITHDRAWN:
            return NoticeView(
                None, None, name, error=f"这条通知已被{name}撤回，不用再处理。", status=410
            )
        if signed.expires <= self._now().timestamp():
            return NoticeView(
                None,
                None,
                name,
                error="这条通知的有效期已过，链接已失效。如有疑问，请联系居委会。",
                status=410,
            )
        return NoticeView(notice, delivery, name, acknowledged=delivery.acknowledged_at is not None)

    def _link(self, row: DeliveryRow, notice: Notice) -> str:
        """The address of the notice's page for this private delivery ("" without links)."""
        if self._link_key is None or self._page_url is None:
            return ""
        expires = int(notice.valid_until.timestamp())
        return self._page_url(
            links.sign(self._link_key, LINK_PURPOSE, row.committee, row.id, expires)
        )

    # --- helpers ---------------------------------------------------------------------------

    def _new(self, committee: str, draft: NoticeDraft, actor: Actor) -> NewNotice:
        """The stored form of a checked draft (NoticeError when something is wrong)."""
        return NewNotice(
            committee=committee,
            kind=draft.kind,
            title=draft.title.strip(),
            body=draft.body.strip(),
            valid_from=draft.valid_from,
            valid_until=draft.valid_until,
            audience=self._check(committee, draft),
            post_groups=draft.post_groups,
            created_by_id=actor.id,
            created_by_name=actor.name,
            created_at=self._now(),
        )

    def _check(self, committee: str, draft: NoticeDraft) -> Audience:
        for value in (draft.valid_from, draft.valid_until):
            if not EARLIEST <= value.year <= LATEST:
                raise NoticeError(f"有效期应在 {EARLIEST} 年至 {LATEST} 年之间。")
        title, body = draft.title.strip(), draft.body.strip()
        if not title or len(title) > MAX_TITLE:
            raise NoticeError(f"请填写标题（不超过 {MAX_TITLE} 个字）。")
        if not body or len(body) > MAX_BODY:
            raise NoticeError(f"请填写通知全文（不超过 {MAX_BODY} 个字）。")
        if "\x00" in title + body:
            raise NoticeError("标题或正文含有无效字符。")
        if draft.valid_until <= draft.valid_from:
            raise NoticeError("有效期的结束时间必须晚于开始时间。")
        if draft.valid_until - draft.valid_from > MAX_PERIOD:
            raise NoticeError("有效期不能超过一年。")
        if draft.valid_until <= self._now():
            raise NoticeError("有效期的结束时间已经过去。")
        if not self._registry.has_committee(committee):
            raise NoticeNotFound("没有这个居委会。")
        com = self._registry.committee(committee)
        compounds = []
        for c in draft.audience.compounds:
            found = com.compound(c)
            if found is None:
                raise NoticeError(f"没有“{c}”这个小区。")
            compounds.append(found.id)
        buildings = []
        for c, b in draft.audience.buildings:
            found = com.compound(c)
            if found is None:
                raise NoticeError(f"没有“{c}”这个小区。")
            if not b.strip():
                raise NoticeError("请填写楼号。")
            buildings.append((found.id, places.building(b)))
        labels = [x.strip() for x in draft.audience.labels if x.strip()]
        if any(len(x) > 16 for x in labels) or len(labels) > 10:
            raise NoticeError("标签最多 10 个，每个不超过 16 个字。")
        return Audience(
            tuple(dict.fromkeys(compounds)),
            tuple(dict.fromkeys(buildings)),
            tuple(dict.fromkeys(labels)),
        )

    def _committee_name(self, committee: str) -> str:
        if self._registry.has_committee(committee):
            return self._registry.committee(committee).name
        return committee

    async def _access(self, committee: str, actor: Actor, action: str, detail: str) -> None:
        await self._households.store.log_access(
            committee, None, actor.id, actor.name, action, detail, self._now()
        )


def _delivered(d: DeliveryRow) -> bool:
    return d.target is Target.PRIVATE and d.state is SendState.DONE and d.delivery in _DELIVERED


def _for_compound(
    notices: Sequence[Notice], compound: str | None, buildings: Sequence[str]
) -> list[Notice]:
    """Notices for everyone living in ``compound`` (``buildings`` of it), not narrowed to
    labelled households (whose labels are for staff only)."""
    if compound is None:
        return []
    return [n for n in notices if not n.audience.labels and n.audience.touches(compound, buildings)]


def _reaches_building(notice: Notice, building: str) -> bool:
    """Whether a notice may concern a household in a building of that number in some
    compound (a whole compound or the committee counts)."""
    audience = notice.audience
    if not audience.buildings:
        return True
    return any(b == building for _, b in audience.buildings) or bool(audience.compounds)


def _natural(text: str) -> tuple[int, str]:
    digits = "".join(c for c in text if c.isdigit())
    return (int(digits) if digits and len(digits) < 9 else 0, text)


_DELIVERED = frozenset(x.value for x in Delivery if DeliveryReport(x).delivered)
