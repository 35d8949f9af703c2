"""“绑定门牌”: a resident binds their chat identity to their household in a private chat —
consent to the purpose and retention first, then compound → building → room (asked one at a
time, or taken from one message: "普雄馨苑20号楼1201"); the binding is claimed until a
caseworker verifies it or the resident sends the one-time code from the counter. “我的门牌”
shows it, “解除绑定” deletes it. In a group chat nothing about a room is ever asked."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.dialogue.turn import Turn
from bot.domain import Reply, ReplyKind
from bot.domain.tickets import ResidentId
from bot.households import Households, places, texts
from bot.households.service import CODE_DIGITS, normal_code

STATE = "household_bind"
"""Conversation state of a binding being made (also in the pipeline's ``AWAITING_KEYS``)."""
CODE_STATE = "household_code"
"""When a claimed binding was made: a bare code is expected for a while."""
BIND = re.compile(
    r"^(?:我要|我想|请|帮我|麻烦)?(?:绑定|帮定|邦定|绑|登记|更正|修改|更改)(?:一下)?(?:我的|我家)?"
    r"(?:门牌|房号|门牌号)(?:号)?(?:绑定)?[。！!]*$|^门牌绑定$"
)
BIND_AT = re.compile(
    r"^(?:我要|我想|请|帮我|麻烦)?(?:绑定|帮定|邦定|绑)(?:一下)?(?:我的|我家)?(?:门牌|房号|门牌号)?"
    r"号?\s*[:：,，]?\s*(?P<place>\S.*)$"
)
"""“绑定门牌普雄馨苑20号楼1201”: the request and the place in one message (typed "帮定" too)."""
MINE = re.compile(r"^(?:我的门牌(?:号)?|查(?:看|询)?(?:我的)?门牌(?:绑定)?|我绑定的门牌)[？?。]*$")
UNBIND = re.compile(r"^(?:解除绑定|解绑|取消绑定|删除绑定|解除门牌绑定)(?:门牌)?[。！!]*$")
CODE = re.compile(r"^(?:验证码|核实码|绑定码)\s*[:：]?\s*([\d０-９\s]{8,14})$")
BARE_CODE = re.compile(r"^[\d０-９\s]{8,14}$")
CANCEL = re.compile(r"^(算了|取消|不用了|不绑了|不绑定了|不要了|不同意|cancel)")
AGREE = re.compile(r"^(同意|我同意|同意的|好的?，?同意|可以|好的?|是的?|确认)[。！!]*$")
TIMEOUT = timedelta(minutes=30)
CODE_WINDOW = timedelta(hours=2)
MAX_MISSES = 3


class HouseholdRoute:
    name = "household"
    capability = "绑定门牌（私聊），查看或解除绑定"

    def __init__(self, households: Households) -> None:
        self._households = households

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        text = turn.text.strip()
        flow = turn.state.get(STATE)
        if turn.is_group:
            turn.state.pop(STATE, None)
            asks = BIND.match(text) or MINE.match(text) or UNBIND.match(text)
            if asks or CODE.match(text) or _binds_at(turn, text) is not None:
                return [_reply(texts.PRIVATE_ONLY)]
            return None
        now = datetime.now(UTC)
        if isinstance(flow, dict):
            if _expired(flow.get("started"), now, TIMEOUT):
                turn.state.pop(STATE, None)
                if not BIND.match(text):
                    return [_reply(texts.EXPIRED)]
            else:
                return await self._continue(turn, flow, text)
        if BIND.match(text):
            return self._start(turn, now)
        place = _binds_at(turn, text)
        if place is not None:
            # The place is kept and asked about only where it falls short, after consent.
            replies = self._start(turn, now)
            self._absorb(turn, turn.state[STATE], "compound", place)
            return replies
        if MINE.match(text):
            return await self._mine(turn)
        if UNBIND.match(text):
            return await self._unbind(turn)
        code = CODE.match(text)
        if code is not None:
            return await self._code(turn, code[1])
        pending = turn.state.get(CODE_STATE)
        if pending is not None and BARE_CODE.match(text) and len(normal_code(text)) == CODE_DIGITS:
            if _expired(pending, now, CODE_WINDOW):
                turn.state.pop(CODE_STATE, None)
            else:
                return await self._code(turn, text)
        return None

    def _start(self, turn: Turn, now: datetime) -> list[Reply]:
        turn.state[STATE] = {"step": "consent", "started": now.isoformat(), "misses": 0}
        return [
            _reply(
                texts.consent(turn.committee.name, self._households.retention_days),
                ReplyKind.SLOT,
            )
        ]

    async def _continue(self, turn: Turn, flow: dict[str, Any], text: str) -> list[Reply]:
        if CANCEL.match(text):
            turn.state.pop(STATE, None)
            return [_reply(texts.CANCELLED)]
        step = flow.get("step")
        if step == "consent":
            if not AGREE.match(text):
                return self._miss(turn, flow, texts.NOT_UNDERSTOOD + texts.ASK_CONSENT_AGAIN)
            flow["step"], flow["misses"] = "compound", 0
            flow["consented"] = datetime.now(UTC).isoformat()
            if turn.compound is not None and not flow.get("compound"):
                flow["compound"] = turn.compound.id
            return await self._next(turn, flow)
        moved = self._absorb(turn, flow, step, text)
        if not moved:
            return self._miss(turn, flow, texts.NOT_UNDERSTOOD + await self._prompt(turn, flow))
        flow["misses"] = 0
        return await self._next(turn, flow)

    def _absorb(self, turn: Turn, flow: dict[str, Any], step: object, text: str) -> bool:
        """Take what the message says (the asked part, or several at once)."""
        got = False
        compounds = turn.committee.compounds
        named = turn.parse.value("compound")
        found = turn.committee.compound(named) if named else turn.committee.compound(text)
        if found is None and step == "compound" and text.isdigit():
            n = int(text)
            found = compounds[n - 1] if 1 <= n <= len(compounds) else None
        if found is not None and found.id != flow.get("compound"):
            if flow.get("compound"):  # another compound: its building and room are not these
                flow.pop("building", None)
                flow.pop("room", None)
                flow.pop("unit", None)
            flow["compound"] = found.id
            got = True
        for slot, normal in (
            ("building", places.building),
            ("unit", places.unit),
            ("room", places.room),
        ):
            value = turn.parse.value(slot)
            if not value and step == slot and text:
                value = text
            if value:
                flow[slot] = normal(value)
                got = True
        return got or (step == "compound" and found is not None)

    async def _next(self, turn: Turn, flow: dict[str, Any]) -> list[Reply]:
        committee = turn.committee
        compound = committee.compound(str(flow.get("compound") or ""))
        if compound is None:
            flow["step"] = "compound"
            return [_reply(await self._prompt(turn, flow), ReplyKind.SLOT)]
        buildings = await self._households.buildings(committee.id, compound.id)
        if not buildings:
            turn.state.pop(STATE, None)
            return [_reply(texts.NO_ROOMS)]
        building = str(flow.get("building") or "")
        if not building or building not in buildings:
            lead = texts.no_building(compound.name, building) if building else ""
            flow.pop("building", None)
            flow["step"] = "building"
            return [_reply(lead + await self._prompt(turn, flow), ReplyKind.SLOT)]
        room = str(flow.get("room") or "")
        if not room:
            flow["step"] = "room"
            return [_reply(await self._prompt(turn, flow), ReplyKind.SLOT)]
        found = await self._households.rooms(committee.id, compound.id, building, room)
        unit = str(flow.get("unit") or "")
        if unit:
            found = [h for h in found if h.unit == unit] or found
        if not found:
            flow.pop("room", None)
            flow["step"] = "room"
            return self._miss(turn, flow, texts.no_room(compound.name, building, room))
        if len(found) > 1:
            flow["step"] = "unit"
            return [_reply(texts.ask_unit([h.unit or "无单元" for h in found]), ReplyKind.SLOT)]
        resident = ResidentId.from_message(turn.msg)
        view = await self._households.claim(
            committee.id, found[0].id, resident, turn.msg.sender.name
        )
        turn.state.pop(STATE, None)
        turn.state[CODE_STATE] = datetime.now(UTC).isoformat()
        if turn.compound is None:
            turn.remember_compound(compound)
        return [_reply(texts.claimed(view.address), ReplyKind.STATUS)]

    async def _prompt(self, turn: Turn, flow: dict[str, Any]) -> str:
        committee = turn.committee
        compound = committee.compound(str(flow.get("compound") or ""))
        step = flow.get("step")
        if compound is None or step == "compound":
            return texts.ask_compound([c.name for c in committee.compounds])
        if step == "building":
            buildings = await self._households.buildings(committee.id, compound.id)
            return texts.ask_building(compound.name, buildings or ["1号楼"])
        if step == "unit":
            return "请问是几单元？（比如“2单元”）"
        return texts.ask_room(compound.name, str(flow.get("building") or ""))

    def _miss(self, turn: Turn, flow: dict[str, Any], prompt: str) -> list[Reply]:
        flow["misses"] = int(flow.get("misses", 0)) + 1
        if flow["misses"] >= MAX_MISSES:
            turn.state.pop(STATE, None)
            return [_reply(texts.TOO_MANY_MISSES)]
        return [_reply(prompt, ReplyKind.SLOT)]

    async def _mine(self, turn: Turn) -> list[Reply]:
        view = await self._households.binding_of(
            turn.committee.id, ResidentId.from_message(turn.msg)
        )
        if view is None:
            return [_reply(texts.NOT_BOUND)]
        b = view.binding
        return [_reply(texts.mine(view.address, b.status.label, b.voter))]

    async def _unbind(self, turn: Turn) -> list[Reply]:
        resident = ResidentId.from_message(turn.msg)
        view = await self._households.binding_of(turn.committee.id, resident)
        gone = await self._households.unbind(turn.committee.id, resident)
        turn.state.pop(CODE_STATE, None)
        if gone is None or view is None:
            return [_reply(texts.NOT_BOUND)]
        return [_reply(texts.unbound(view.address))]

    async def _code(self, turn: Turn, code: str) -> list[Reply]:
        resident = ResidentId.from_message(turn.msg)
        outcome = await self._households.redeem(turn.committee.id, resident, code)
        if outcome.reason == "ok" and outcome.verified is not None:
            turn.state.pop(CODE_STATE, None)
            view = await self._households.binding_of(turn.committee.id, resident)
            address = view.address if view is not None else ""
            return [_reply(texts.code_verified(address, outcome.verified.voter))]
        message = {
            "no_binding": texts.CODE_NO_BINDING,
            "already": texts.CODE_ALREADY,
            "locked": texts.CODE_LOCKED,
        }.get(outcome.reason, texts.CODE_WRONG)
        if outcome.reason in {"already", "locked"}:
            turn.state.pop(CODE_STATE, None)
        return [_reply(message)]


def _reply(text: str, kind: ReplyKind = ReplyKind.STATUS) -> Reply:
    return Reply(text, kind)


def _expired(started: object, now: datetime, limit: timedelta) -> bool:
    try:
        at = datetime.fromisoformat(str(started))
    except ValueError:
        return True
    return now - at > limit


def _binds_at(turn: Turn, text: str) -> str | None:
    """The place of a binding asked for in one message, when it names a building or room."""
    at = BIND_AT.match(text)
    if at is None or not (turn.parse.value("building") or turn.parse.value("room")):
        return None
    return at["place"]
