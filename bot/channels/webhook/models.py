"""The webhook's response bodies, as pydantic models: ``render_result`` and ``json_guard``
write through them and the admin API's OpenAPI document is generated from them.

A flag (``private``, ``duplicate``, ``pending``) and an error's ``details`` appear only when
they say something: absent, not ``null``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from bot.domain import ReplyKind
from bot.domain.tickets import TicketPriority, TicketStatus


def _absent(value: object) -> bool:
    return value is None


def _omittable(schema: dict[str, Any]) -> None:
    """Describe an optional key by its value alone: left out, never ``null``."""
    schema.pop("default", None)
    present = [s for s in schema.pop("anyOf", []) if s != {"type": "null"}]
    if len(present) == 1:
        schema.update(present[0])


Omittable = Field(exclude_if=_absent, json_schema_extra=_omittable)
Flag = Annotated[Literal[True] | None, Omittable]
"""``true``, or left out of the body."""


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookReply(_Out):
    text: str
    kind: ReplyKind
    private: Flag = Field(
        default=None,
        description="Meant for the resident alone (send it privately in a group).",
    )


def _one_of(values: type[TicketStatus] | type[TicketPriority]) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": [v.value for v in values]})


class TicketRef(_Out):
    """The ticket a reply opened or reports on. Written as the pipeline gave it (the
    domain's ``TicketRef`` holds plain strings), described as the values a ticket has."""

    number: str
    status: Annotated[str, _one_of(TicketStatus)]
    priority: Annotated[str, _one_of(TicketPriority)]


class WebhookResponse(_Out):
    replies: list[WebhookReply]
    ticket: TicketRef | None
    duplicate: Flag = None
    pending: Flag = None


class FieldError(_Out):
    field: str
    message: str


class WebhookError(_Out):
    error: str
    details: Annotated[list[FieldError] | None, Omittable] = None
