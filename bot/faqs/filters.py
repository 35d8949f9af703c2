"""The FAQ list's filters (the console and the admin API share them): an entry's validity
state on a day, and the search over ids, questions and answers."""

from __future__ import annotations

from datetime import date
from typing import Literal

from bot.domain.faq import FaqEntry

State = Literal["active", "expired", "upcoming"]


def state_of(entry: FaqEntry, today: date) -> State:
    if entry.valid_from is not None and today < entry.valid_from:
        return "upcoming"
    if entry.valid_until is not None and today > entry.valid_until:
        return "expired"
    return "active"


def matches(
    entry: FaqEntry,
    today: date,
    *,
    q: str = "",
    topic: str = "",
    compound: str = "",
    state: str = "all",
) -> bool:
    """The list's filters (shared with the console): ``q`` in the id, question,
    alternates or answers; the topic; entries a compound's residents get (general ones and
    those with its own answer); the validity state."""
    if topic and entry.topic != topic:
        return False
    if compound and not (compound in entry.variants or entry.applies_to(compound)):
        return False
    if state != "all" and state_of(entry, today) != state:
        return False
    if q:
        needle = q.strip().casefold()
        haystack = [
            entry.id,
            *entry.texts,
            entry.answer,
            *(v.answer for v in entry.variants.values()),
        ]
        return any(needle in h.casefold() for h in haystack)
    return True
