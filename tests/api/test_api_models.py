"""The admin API's response models write exactly what the domain views wrote before them
(timestamps as ``isoformat()``, days as ``YYYY-MM-DD``, nulls kept), refuse a key they do not
know, and the generated document names each route's models."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from bot.api import models
from bot.api.openapi import ROUTES, openapi_document
from bot.channels.webhook.models import WebhookError, WebhookReply, WebhookResponse
from bot.domain import Chat, ChatType, IncomingMessage, ReplyKind, Sender
from bot.domain.accounts import Role, User
from bot.domain.faq import FaqEntry
from bot.domain.tickets import (
    Actor,
    Reporter,
    Satisfaction,
    Ticket,
    TicketCategory,
    TicketPriority,
    TicketStatus,
)
from bot.storage.alerts import AlertStatus, StaffAlert

AT = datetime(2026, 3, 1, 2, 30, 15, 123456, tzinfo=UTC)


def reporter() -> Reporter:
    msg = IncomingMessage(
        message_id="m",
        channel="webhook",
        account="default",
        committee="puxiong",
        chat=Chat("g-puxiongxinyuan", ChatType.GROUP),
        sender=Sender("u1", "王阿姨"),
        text="",
    )
    return Reporter.from_message(msg, phone="13800138000")


def ticket(**changes: object) -> Ticket:
    base = Ticket(
        id=7,
        number="PX-20260301-0007",
        committee="puxiong",
        category=TicketCategory.REPAIR,
        priority=TicketPriority.HIGH,
        status=TicketStatus.RESOLVED,
        description="2号楼电梯停在12楼不动了",
        reporter=reporter(),
        compound="puxiongxinyuan",
        building="2号楼",
        unit="",
        room="1203",
        assignee=Actor.caseworker("3", "张敏"),
        attachments=("a.jpg",),
        created_at=AT,
        updated_at=AT + timedelta(hours=1),
        first_response_due=AT + timedelta(hours=2),
        resolution_due=AT + timedelta(days=1),
        first_response_at=AT + timedelta(minutes=5),
        resolved_at=AT + timedelta(hours=1),
        rating_requested_at=AT + timedelta(hours=1),
        satisfaction=Satisfaction(2),
        rated_at=AT + timedelta(hours=2),
        links=("PX-20260301-0001",),
    )
    return Ticket(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, **changes})


@pytest.mark.parametrize("include_phone", [False, True])
def test_a_ticket_is_written_as_its_domain_view(include_phone: bool) -> None:
    for t in (ticket(), ticket(assignee=None, satisfaction=None, rated_at=None, compound=None)):
        view = t.to_dict(include_phone=include_phone)
        assert models.Ticket.model_validate(view).model_dump(mode="json") == view


def test_timestamps_keep_the_utc_offset_and_microseconds() -> None:
    written = models.Ticket.model_validate(ticket().to_dict()).model_dump(mode="json")
    assert written["created_at"] == "2026-03-01T02:30:15.123456+00:00"
    assert written["closed_at"] is None


def test_an_alert_a_user_and_a_faq_entry_are_written_as_their_views() -> None:
    alert = StaffAlert(
        id=4,
        committee="puxiong",
        source_key="k",
        kind="crisis",
        category="self_harm",
        text="有居民需要帮助",
        conversation_key=None,
        ticket_number="PX-20260301-0007",
        holder=None,
        status=AlertStatus.ACKNOWLEDGED,
        level=1,
        recipients=("13800138000",),
        attempts=2,
        next_attempt_at=None,
        escalate_at=AT,
        last_error="",
        last_attempt_at=AT,
        acknowledged_by="3",
        acknowledged_by_name="张敏",
        acknowledged_at=AT,
        created_at=AT,
        updated_at=AT,
        steps=({"at": AT.isoformat(), "step": "sent", "summary": "已发送"},),
    )
    assert models.Alert.model_validate(alert.to_dict()).model_dump(mode="json") == alert.to_dict()

    user = User(3, "zhangmin", "张敏", Role.CASEWORKER, "puxiong", False, AT, None)
    assert models.User.model_validate(user.to_dict()).model_dump(mode="json") == user.to_dict()

    entry = FaqEntry.from_dict(
        {
            "id": "cert-x",
            "question": "怎么开证明？",
            "answer": "带身份证来居委会。",
            "valid_from": "2026-01-01",
            "variants": {"puxiongxinyuan": {"answer": "周二下午办理。", "materials": []}},
            "updated": "2026-02-01",
        }
    )
    view = {**entry.to_dict(), "state": "active"}
    written = models.Faq.model_validate(view).model_dump(mode="json")
    assert written == view
    assert written["valid_from"] == date(2026, 1, 1).isoformat()


def test_response_models_refuse_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="extra"):
        models.Ticket.model_validate({**ticket().to_dict(), "secret": "x"})


def test_webhook_flags_are_left_out_unless_true() -> None:
    plain = WebhookResponse(
        replies=[WebhookReply(text="您好", kind=ReplyKind.FAQ)], ticket=None
    ).model_dump(mode="json")
    assert plain == {"replies": [{"text": "您好", "kind": "faq"}], "ticket": None}
    flagged = WebhookResponse(
        replies=[WebhookReply(text="您好", kind=ReplyKind.FAQ, private=True)],
        ticket=None,
        duplicate=True,
    ).model_dump(mode="json")
    assert flagged["duplicate"] is True
    assert flagged["replies"][0]["private"] is True
    assert "pending" not in flagged
    assert WebhookError(error="x").model_dump(mode="json") == {"error": "x"}


def test_each_route_names_its_models_in_the_document() -> None:
    doc = openapi_document()
    schemas = doc["components"]["schemas"]
    for route in ROUTES:
        op = doc["paths"][route.path][route.method]
        if route.body is not None:
            body = op["requestBody"]["content"]["application/json"]["schema"]
            assert body == {"$ref": f"#/components/schemas/{route.body.__name__}"}
        if route.response is not None:
            ok = op["responses"][str(route.status)]["content"]["application/json"]["schema"]
            assert ok == {"$ref": f"#/components/schemas/{route.response.__name__}"}
            written = route.response.model_json_schema(
                mode="serialization", ref_template="#/components/schemas/{model}"
            )
            written.pop("$defs", None)
            assert schemas[route.response.__name__] == written
    # optional webhook flags are described as present-or-absent, never null
    reply = schemas["WebhookReply"]
    assert reply["properties"]["private"] == {
        "const": True,
        "description": "Meant for the resident alone (send it privately in a group).",
        "title": "Private",
        "type": "boolean",
    }
    assert "private" not in reply["required"]
