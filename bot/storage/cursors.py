"""Where a channel that pulls its messages (WeChat 客服's ``sync_msg``) remembers how far it
has read, durably: a restarted worker, or another one, continues from there."""

from __future__ import annotations

import abc


class CursorStore(abc.ABC):
    @abc.abstractmethod
    async def get(self, channel: str, account: str) -> str:
        """The saved cursor ("" before the first pull)."""

    @abc.abstractmethod
    async def set(self, channel: str, account: str, cursor: str) -> None:
        """Save the cursor after the messages it passes are stored."""
