"""What the NLU returns: ``ParseResult`` (Rasa ``/model/parse`` shape) with ``Entity`` spans."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# Intents the dialogue acts on. A message classified as one of these starts work
# (an answer, a ticket, an escalation, a handover, a vote), so the classifier only
# commits to them above its confidence threshold.
ACTION_INTENTS: frozenset[str] = frozenset(
    {
        "ask_faq",
        "report_repair",
        "report_emergency",
        "complain",
        "request_human",
        "ticket_status",
        "vote",
    }
)
OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
"""The intent of a message no intent reached the threshold for (Rasa's name for it)."""
EMERGENCY = "report_emergency"

LINLI_INTENTS: tuple[str, ...] = (
    "ask_faq",
    "report_repair",
    "report_emergency",
    "complain",
    "request_human",
    "ticket_status",
    "give_feedback",
    "vote",
    "greet",
    "thank",
    "goodbye",
    "affirm",
    "deny",
    "chitchat",
    "out_of_scope",
)


class EmergencyCategory(enum.StrEnum):
    """What kind of crisis; the dialogue picks its reply and safety advice by it."""

    SELF_HARM = "self_harm"
    FIRE = "fire"
    GAS = "gas"
    LIFT = "lift"
    VIOLENCE = "violence"
    FLOOD = "flood"
    MEDICAL = "medical"
    WELFARE = "welfare"
    MISSING_CHILD = "missing_child"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class EmergencyHit:
    """An emergency found in a message. ``start``/``end`` index the original text;
    ``source`` is ``"rules"`` (the crisis rules) or ``"classifier"``; ``also`` lists the
    other categories the message matched (a self-harm message that mentions gas)."""

    category: EmergencyCategory
    matched: str
    start: int
    end: int
    source: str = "rules"
    also: tuple[EmergencyCategory, ...] = ()
    someone_else: bool = False
    """Self-harm about another person ("我妈说不想活了"): the reply speaks to a helper."""
    self_harm_cue: bool = False
    """Not recognised as self-harm, but with a sign of it (a self-harm phrase the rules
    calmed, a whole bottle of pills, a person on a ledge, charcoal, a rope, or the
    classifier's self-harm probability above a low bar): the reply for the main danger also
    gives the hotlines and 110/120."""

    @property
    def categories(self) -> tuple[EmergencyCategory, ...]:
        return (self.category, *self.also)

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "matched": self.matched,
            "start": self.start,
            "end": self.end,
            "source": self.source,
            "also": [c.value for c in self.also],
            "someone_else": self.someone_else,
            "self_harm_cue": self.self_harm_cue,
        }


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity span. ``start``/``end`` index the original text and ``text`` is that
    slice; ``value`` is the normalised value (``4幢`` → ``4号楼``, a compound's id, a
    phone number's digits, an ISO date)."""

    entity: str
    value: str
    start: int
    end: int
    text: str
    extractor: str = "LinliRules"
    confidence: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "start": self.start,
            "end": self.end,
            "value": self.value,
            "extractor": self.extractor,
            "confidence_entity": self.confidence,
        }


@dataclass(frozen=True, slots=True)
class IntentScore:
    name: str
    confidence: float


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The NLU's reading of one message.

    ``intent`` is the decided intent: a trained intent, ``out_of_scope``, or
    ``nlu_fallback`` when no intent is confident enough. ``ranking`` is the classifier's
    calibrated ranking (best first) regardless of that decision. ``emergency`` is set
    whenever the emergency layer fired, and then ``intent`` is ``report_emergency``.
    ``backend`` says who classified: ``builtin`` or ``rasa``.
    """

    text: str
    intent: str
    confidence: float
    ranking: tuple[IntentScore, ...] = ()
    entities: tuple[Entity, ...] = ()
    emergency: EmergencyHit | None = None
    backend: str = "builtin"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_action(self) -> bool:
        return self.intent in ACTION_INTENTS

    @property
    def is_emergency(self) -> bool:
        return self.intent == EMERGENCY or self.emergency is not None

    def first(self, entity: str) -> Entity | None:
        """The first entity of that type in text order, or None."""
        return next((e for e in self.entities if e.entity == entity), None)

    def value(self, entity: str) -> str | None:
        """The value of the first entity of that type, or None."""
        found = self.first(entity)
        return found.value if found is not None else None

    def all(self, entity: str) -> Iterator[Entity]:
        return (e for e in self.entities if e.entity == entity)

    def to_rasa_json(self) -> dict[str, Any]:
        """The Rasa ``POST /model/parse`` response shape (plus ``emergency`` when set)."""
        out: dict[str, Any] = {
            "text": self.text,
            "intent": {"name": self.intent, "confidence": self.confidence},
            "entities": [e.to_json() for e in self.entities],
            "intent_ranking": [{"name": s.name, "confidence": s.confidence} for s in self.ranking],
        }
        if self.emergency is not None:
            out["emergency"] = self.emergency.to_json()
        return out
