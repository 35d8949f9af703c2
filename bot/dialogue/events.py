"""Live events for the console (new emergency, conversation waiting, resident message…),
published on the committee's channel of the shared state store."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from bot.domain import StoreUnavailable
from bot.storage import keys
from bot.storage.state import StateStore

log = logging.getLogger(__name__)


def committee_channel(committee: str) -> str:
    return keys.channel(f"committee:{committee}")


class LiveEvents:
    def __init__(self, state: StateStore) -> None:
        self._state = state

    async def publish(self, committee: str, kind: str, **data: Any) -> None:
        """Best effort: a console that misses an event still sees the record on reload."""
        payload = {"type": kind, "committee": committee, "at": datetime.now(UTC).isoformat()}
        payload.update(data)
        try:
            await self._state.publish(
                committee_channel(committee), json.dumps(payload, ensure_ascii=False)
            )
        except StoreUnavailable:
            log.warning("live event not published", extra={"type": kind})
