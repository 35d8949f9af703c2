"""What the channels can do in a group chat, for group etiquette (``bot.dialogue.etiquette``):
each group's rules from the settings, whether Linli can post into the group unprompted, whether
a private reply reaches the resident from a group, the group's rate limit, and the post itself.

Which channels can post into a group:

- a group with a WeCom group robot ("消息推送", ``robot_key`` in the group's settings), whatever
  channel the residents write through: the robot posts, @-mentioning the askers by their WeCom
  user id, within the robot's 20 messages a minute;
- the generic webhook with a ``push_url`` (the gateway posts into the chat), and the ``/try``
  playground (the page fetches the post from the conversation log); a notice goes to a group
  without a robot through the gateway when the webhook serves the notice's committee;
- not a WeCom AI bot without a robot key (it can only answer the message that mentioned it),
  nor the Official Account or WeChat customer service (no group chats).

A private reply (``Reply.private``) from a group reaches the resident only through the generic
webhook (the gateway sends it privately) and ``/try``; the WeCom AI bot leaves it out.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from bot.channels.outbound import OutboundSender
from bot.channels.platform import DELIVERY_ERRORS, failed
from bot.channels.registry import ChannelRegistry
from bot.channels.webhook import CHANNEL as WEBHOOK
from bot.channels.webhook.channel import ACCOUNT, TRY_ACCOUNT
from bot.domain import ChatType, IncomingMessage
from bot.domain.once import Delivery, DeliveryReport
from bot.settings import GroupEtiquette, Settings
from bot.storage import keys
from bot.storage.conversations import Conversation
from bot.storage.group_posts import Asker, GroupPost, GroupRules
from bot.storage.state import StateStore

log = logging.getLogger(__name__)

TRY_UNANSWERED_AFTER_S = 20.0
"""On ``/try`` a question nobody answers gets its answer after 20 s, so that a visitor sees
it (the page polls every 3 s); the committees' groups keep their own settings."""
POSTS_PER_MINUTE = 20
"""Posts into one group a minute at most (a WeCom group robot's limit, for every channel)."""


class GroupPoster:
    """``bot.dialogue.etiquette.GroupOut`` over the channel registry and the group robots."""

    def __init__(
        self,
        settings: Settings,
        channels: ChannelRegistry,
        outbound: OutboundSender | None,
        state: StateStore,
        *,
        window_s: float = 60.0,
    ) -> None:
        self._settings = settings
        self._channels = channels
        self._outbound = outbound
        self._state = state
        self._window_s = window_s

    def settings_for(self, committee: str, chat_id: str) -> GroupEtiquette:
        conf = self._settings.committees.get(committee)
        return conf.group(chat_id) if conf is not None else GroupEtiquette()

    def rules(self, msg: IncomingMessage) -> GroupRules:
        conf = self.settings_for(msg.committee, msg.chat.id)
        if msg.channel == WEBHOOK and msg.account == TRY_ACCOUNT:
            return GroupRules(True, TRY_UNANSWERED_AFTER_S, conf.merge_window_s)
        return GroupRules(conf.answer_unanswered, conf.unanswered_after_s, conf.merge_window_s)

    def can_post(self, msg: IncomingMessage) -> bool:
        if self.settings_for(msg.committee, msg.chat.id).robot_key:
            return self._outbound is not None
        channel = self._channels.get(msg.channel)
        return channel is not None and channel.posts_into_groups(msg.account)

    def private_replies(self, msg: IncomingMessage) -> bool:
        channel = self._channels.get(msg.channel)
        return channel is not None and channel.capabilities.private_from_groups

    async def ready(self, post: GroupPost) -> bool:
        robot = self.settings_for(post.committee, post.chat_id).robot_key
        key = (
            robot_throttle(robot)
            if robot
            else group_throttle(post.channel, post.account, post.chat_id)
        )
        wait = await self._state.reserve(key, POSTS_PER_MINUTE, self._window_s)
        return wait <= 0

    # --- notices (``bot.notices.NoticeOut``) -----------------------------------------------

    async def group_ready(self, committee: str, chat_id: str) -> bool:
        """Whether a notice may be posted into the group now (one of its 20 a minute is
        taken: the same window as group etiquette's posts through that robot or gateway)."""
        robot = self.settings_for(committee, chat_id).robot_key
        if robot:
            key = robot_throttle(robot)
        elif self._gateway_serves(committee):
            key = group_throttle(WEBHOOK, ACCOUNT, chat_id)
        else:
            return True  # nothing will be posted: it is recorded as undeliverable at once
        return await self._state.reserve(key, POSTS_PER_MINUTE, self._window_s) <= 0

    async def post_group(self, committee: str, chat_id: str, text: str) -> DeliveryReport:
        """Post a notice into the group through its WeCom group robot or, without one,
        through the generic webhook's gateway (its ``push_url``) when it serves the
        committee."""
        robot = self.settings_for(committee, chat_id).robot_key
        if not robot and self._gateway_serves(committee):
            group = Conversation(
                key=f"{committee}:{WEBHOOK}:{ACCOUNT}:g:{chat_id}:",
                committee=committee,
                channel=WEBHOOK,
                account=ACCOUNT,
                chat_id=chat_id,
                chat_type=ChatType.GROUP.value,
                sender_id="",
                sender_name="",
            )
            return await self._channels.push(group, text, "notice")
        if not robot or self._outbound is None:
            return DeliveryReport(
                Delivery.UNDELIVERABLE,
                error="该群没有配置群机器人（robot_key）或推送网关（push_url）",
            )
        try:
            await self._outbound.send_group_robot_text(robot, text)
        except DELIVERY_ERRORS as exc:
            log.error("notice not posted", extra={"channel": "wecom_robot", "error": str(exc)})
            return failed(exc)
        return DeliveryReport(Delivery.ACTIVE)

    def _gateway_serves(self, committee: str) -> bool:
        """The generic webhook's gateway can post into this committee's group chats."""
        hook = self._settings.channels.webhook
        channel = self._channels.get(WEBHOOK)
        return (
            hook.committee == committee
            and channel is not None
            and channel.posts_into_groups(ACCOUNT)
        )

    async def push(self, to: Conversation, text: str, kind: str) -> DeliveryReport:
        """A message to a resident through their channel (``ChannelRegistry.push``)."""
        return await self._channels.push(to, text, kind)

    async def post(self, post: GroupPost, text: str, askers: Sequence[Asker]) -> DeliveryReport:
        robot = self.settings_for(post.committee, post.chat_id).robot_key
        if robot and self._outbound is not None:
            try:
                await self._outbound.send_group_robot_text(
                    robot, text, mentioned_list=[a.id for a in askers]
                )
            except DELIVERY_ERRORS as exc:
                log.error(
                    "group post not delivered",
                    extra={"channel": "wecom_robot", "error": str(exc)},
                )
                return failed(exc)
            return DeliveryReport(Delivery.ACTIVE)
        first = askers[0] if askers else Asker("", "", "")
        return await self._channels.push(post.conversation_of(first), text, "faq")


def robot_throttle(robot_key: str) -> str:
    """The state-store key of a group robot's rate-limit window (20 posts a minute)."""
    digest = hashlib.sha256(robot_key.encode()).hexdigest()[:16]
    return keys.throttle(f"robot:{digest}")


def group_throttle(channel: str, account: str, chat_id: str) -> str:
    """The state-store key of a group's rate-limit window."""
    digest = hashlib.sha256(chat_id.encode()).hexdigest()[:16]
    return keys.throttle(f"group:{channel}:{account}:{digest}")
