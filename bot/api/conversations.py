"""Conversations: the waiting/human queue, history, and takeover / reply / release."""

from __future__ import annotations

from aiohttp import web

from bot import appkeys
from bot.accounts.http import ApiError
from bot.api import models
from bot.api.common import acting, actor_of, body, ok
from bot.dialogue.handoff import ConversationNotFound
from bot.storage.conversations import Conversation, Mode


def conversation_fields(conv: Conversation) -> dict[str, object]:
    """The fields of ``models.Conversation`` for a stored conversation."""
    return {
        "key": conv.key,
        "committee": conv.committee,
        "channel": conv.channel,
        "chat": models.ConversationChat(id=conv.chat_id, type=conv.chat_type),
        "resident": models.Person(id=conv.sender_id, name=conv.sender_name),
        "compound": conv.compound,
        "mode": conv.mode,
        "handoff_reason": conv.handoff_reason,
        "handoff_at": conv.handoff_at,
        "assignee": models.Person(id=conv.assignee_id, name=conv.assignee_name)
        if conv.assignee_id
        else None,
        "ticket": conv.ticket_number,
        "last_message_at": conv.last_message_at,
    }


def conversation_out(conv: Conversation) -> models.Conversation:
    return models.Conversation.model_validate(conversation_fields(conv))


async def list_conversations(request: web.Request) -> web.Response:
    """Conversations of the caller's committee, most recent first (``?mode=waiting|human``)."""
    _, committee = await acting(request)
    mode = request.query.get("mode")
    modes: tuple[Mode, ...] = ()
    if mode:
        try:
            modes = (Mode(mode),)
        except ValueError:
            raise ApiError(400, "bad_mode", "mode 只能是 bot、waiting 或 human。") from None
    found = await request.config_dict[appkeys.CONVERSATIONS].recent(committee, modes)
    return ok(models.ConversationList(conversations=[conversation_out(c) for c in found]))


async def _conversation(request: web.Request) -> tuple[str, Conversation]:
    _, committee = await acting(request)
    conv = await request.config_dict[appkeys.CONVERSATIONS].get(request.match_info["key"])
    if conv is None or conv.committee != committee:
        raise ApiError(404, "not_found", "没有找到该会话。")
    return committee, conv


async def get_conversation(request: web.Request) -> web.Response:
    """One conversation with its full history (resident, bot and caseworker turns)."""
    _, conv = await _conversation(request)
    history = await request.config_dict[appkeys.MESSAGE_LOG].conversation(conv.key, limit=500)
    messages = [
        models.LoggedMessage(
            id=m.id,
            direction=m.direction,
            sender=m.sender_name,
            text=m.text,
            kind=m.kind,
            delivery=m.delivery,
            error_code=m.delivery_code,
            error=m.delivery_error,
            at=m.created_at,
        )
        for m in history
    ]
    return ok(
        models.ConversationDetail.model_validate(
            {**conversation_fields(conv), "messages": messages}
        )
    )


async def takeover(request: web.Request) -> web.Response:
    """A caseworker takes the conversation: the bot stays silent in it until release."""
    principal, committee = await acting(request)
    try:
        conv = await request.config_dict[appkeys.HANDOFF].takeover(
            committee, request.match_info["key"], actor_of(principal)
        )
    except ConversationNotFound:
        raise ApiError(404, "not_found", "没有找到该会话。") from None
    return ok(conversation_out(conv))


async def reply(request: web.Request) -> web.Response:
    """Send a caseworker's reply to the resident through their channel."""
    principal, committee = await acting(request)
    data = await body(request, models.ReplyIn)
    if not data.text.strip():
        raise ApiError(422, "invalid", "回复内容不能为空。")
    try:
        report = await request.config_dict[appkeys.HANDOFF].reply(
            committee, request.match_info["key"], actor_of(principal), data.text
        )
    except ConversationNotFound:
        raise ApiError(404, "not_found", "没有找到该会话。") from None
    return ok(
        models.Delivery(
            delivery=report.status.value, error_code=report.error_code, error=report.error
        )
    )


async def release(request: web.Request) -> web.Response:
    """Give the conversation back to the bot."""
    principal, committee = await acting(request)
    try:
        conv = await request.config_dict[appkeys.HANDOFF].release(
            committee, request.match_info["key"], actor_of(principal)
        )
    except ConversationNotFound:
        raise ApiError(404, "not_found", "没有找到该会话。") from None
    return ok(conversation_out(conv))
