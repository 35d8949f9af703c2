"""Posts Linli owes a group chat, kept durably until they go out: the answer to a question
nobody answered within the group's delay, and the one reply to the same question asked by
several residents (``bot.dialogue.etiquette``). A restarted worker, or another one, sends
what is due; each post goes out at most once (``claim`` moves it from pending to sending in
one conditional update, so two workers never both send it)."""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from datetime import datetime

from bot.domain import ChatType
from bot.storage.conversations import Conversation


@dataclass(frozen=True, slots=True)
class GroupRules:
    """One group chat's etiquette (the settings' ``GroupEtiquette``, as the dialogue reads it)."""

    answer_unanswered: bool = False
    unanswered_after_s: float = 180.0
    merge_window_s: float = 0.0


class PostKind(enum.StrEnum):
    UNANSWERED = "unanswered"
    """A question not addressed to Linli: cancelled when someone else speaks in the group."""
    MERGED = "merged"
    """Questions addressed to Linli, held for the merge window: always answered."""


class PostState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    """Claimed by a worker. One that died here leaves it: the post is lost, never doubled."""
    SENT = "sent"
    CANCELLED = "cancelled"
    """Someone in the group spoke after the question (it counts as answered)."""
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Asker:
    id: str
    name: str
    conversation_key: str


@dataclass(frozen=True, slots=True)
class GroupPost:
    id: int
    committee: str
    channel: str
    account: str
    chat_id: str
    kind: PostKind
    topic: str
    """What merges questions: the FAQ entry that answers them."""
    question: str
    """The first asker's words, quoted in the post (never holds personal data)."""
    answer: str
    askers: tuple[Asker, ...]
    asked_at: datetime
    due_at: datetime
    state: PostState = PostState.PENDING
    delivery: str = ""

    @property
    def group_key(self) -> tuple[str, str, str]:
        return (self.channel, self.account, self.chat_id)

    def conversation_of(self, asker: Asker) -> Conversation:
        """The asker's conversation in the post's group (where the post is logged for them,
        and the address a channel push into the group takes)."""
        return Conversation(
            key=asker.conversation_key,
            committee=self.committee,
            channel=self.channel,
            account=self.account,
            chat_id=self.chat_id,
            chat_type=ChatType.GROUP.value,
            sender_id=asker.id,
            sender_name=asker.name,
        )


@dataclass(frozen=True, slots=True)
class NewPost:
    committee: str
    channel: str
    account: str
    chat_id: str
    kind: PostKind
    topic: str
    question: str
    answer: str
    asker: Asker
    asked_at: datetime
    due_at: datetime


class GroupPostStore(abc.ABC):
    @abc.abstractmethod
    async def add(self, post: NewPost) -> tuple[GroupPost, bool]:
        """Join the pending post of the same group, kind and topic (the asker is added once;
        the due time stays the first one's), or create it. Returns the post and whether it
        was created."""

    @abc.abstractmethod
    async def spoke(
        self,
        channel: str,
        account: str,
        chat_id: str,
        sender_id: str,
        now: datetime,
        *,
        joining: str = "",
    ) -> int:
        """``sender_id`` posted in the group at ``now``: pending unanswered posts of the group
        that ``sender_id`` did not ask and that are not due yet are cancelled (not the one of
        topic ``joining``: the message asks the same question; a due post only waiting for
        the group's rate limit is owed already). Returns how many."""

    @abc.abstractmethod
    async def due(self, now: datetime, limit: int = 100) -> list[GroupPost]:
        """Pending posts whose time has come, oldest first."""

    @abc.abstractmethod
    async def claim(self, post_id: int) -> bool:
        """Move a pending post to sending; False when another worker did (or it was
        cancelled meanwhile)."""

    @abc.abstractmethod
    async def finish(self, post_id: int, state: PostState, delivery: str) -> None:
        """Record how a claimed post went (sent or failed, with the channel's delivery)."""

    @abc.abstractmethod
    async def get(self, post_id: int) -> GroupPost | None: ...
