"""A bot that learns from its residents, through the real application: a question answered
with "did you mean" choices, the resident's pick recorded as a proposed alternate of the
entry (counted), shown on the FAQ page, accepted with one click as a normal revision (which
can be reverted), and the same question answered directly next time; a caseworker answering
unanswered questions with an existing entry proposes their wordings too."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot import appkeys
from bot.accounts.http import ACCOUNTS

from .conftest import EMBEDDED_ONLY, PASSWORD, Client, Resident, login

VAGUE = "证明怎么开"
TARGET_QUESTION = "居委会能开证明吗？"


@pytest.fixture
async def admin_console(console: Client) -> Client:
    await console.app[ACCOUNTS].add_user("lizhuren", "admin", "puxiong", PASSWORD, "李主任")
    return console


def kinds(data: dict[str, Any]) -> list[str]:
    return [r["kind"] for r in data["replies"]]


def text(data: dict[str, Any]) -> str:
    return "\n".join(r["text"] for r in data["replies"])


async def target_id(client: Client) -> str:
    entries = await client.app[appkeys.FAQS].entries("puxiong")
    return next(e.id for e in entries if e.question == TARGET_QUESTION)


async def ask_and_pick(resident: Resident) -> dict[str, Any]:
    """Ask the vague question, get choices, reply with the number of the target entry."""
    asked = await resident.say(VAGUE)
    assert kinds(asked) == ["clarify"], text(asked)
    lines = re.findall(r"^(\d+)\. (.+)$", text(asked), flags=re.M)
    number = next(n for n, q in lines if q == TARGET_QUESTION)
    picked = await resident.say(number)
    assert kinds(picked) == ["faq"]
    assert TARGET_QUESTION in text(picked)
    return picked


async def test_a_picked_choice_is_proposed_accepted_and_then_answered_directly(
    admin_console: Client,
) -> None:
    client = admin_console
    faq_id = await target_id(client)
    await ask_and_pick(Resident(client, "learn-1"))
    await ask_and_pick(Resident(client, "learn-2"))

    token = await login(client, "lizhuren")
    listing = await (await client.get("/console/faqs")).text()
    assert "新问法 1" in listing  # one phrasing waiting on this entry
    page = await (await client.get(f"/console/faqs/{faq_id}")).text()
    section = page[page.index('id="faq-proposals"') : page.index('id="faq-history"')]
    assert VAGUE in section
    assert '<td class="count">2</td>' in section  # two residents picked it
    assert "居民从候选中选了本条" in section
    proposal = re.search(r'id="accept-(\d+)"', section)
    assert proposal

    accepted = await client.post(
        f"/console/faqs/{faq_id}/proposals/{proposal.group(1)}/accept",
        data={"csrf_token": token},
        allow_redirects=False,
    )
    assert accepted.status == 303
    assert "accepted=1" in accepted.headers["Location"]
    after = await (await client.get(accepted.headers["Location"])).text()
    assert "已加入相似问法" in after
    assert 'id="faq-proposals"' not in after  # nothing left to decide
    history = await client.app[appkeys.FAQS].history("puxiong", faq_id)
    assert history[-1].action == "update"
    assert history[-1].actor == "李主任（lizhuren）"
    assert VAGUE in (history[-1].after or {}).get("alternates", [])

    # Next time the same words are answered at once, for anyone.
    direct = await Resident(client, "learn-3").say(VAGUE)
    assert kinds(direct) == ["faq"], text(direct)
    assert TARGET_QUESTION in text(direct)

    # An accepted phrasing is an ordinary revision: reverting the one before removes it.
    revert = await client.post(
        f"/console/faqs/{faq_id}/revert/{history[-2].id}",
        data={"csrf_token": token},
        allow_redirects=False,
    )
    assert revert.status == 303
    entry = await client.app[appkeys.FAQS].entry("puxiong", faq_id)
    assert entry is not None
    assert VAGUE not in entry.alternates
    again = await Resident(client, "learn-4").say(VAGUE)
    assert kinds(again) == ["clarify"]


@EMBEDDED_ONLY
async def test_only_admins_accept_and_a_decided_proposal_is_gone(admin_console: Client) -> None:
    client = admin_console
    faq_id = await target_id(client)
    await ask_and_pick(Resident(client, "learn-5"))
    proposals = await client.app[appkeys.FAQS].proposals_for("puxiong", faq_id)
    assert [p.text for p in proposals] == [VAGUE]
    pid = proposals[0].id

    token = await login(client, "wangfang")  # a caseworker: sees, cannot decide
    page = await (await client.get(f"/console/faqs/{faq_id}")).text()
    assert VAGUE in page
    assert f'id="accept-{pid}"' not in page
    denied = await client.post(
        f"/console/faqs/{faq_id}/proposals/{pid}/accept",
        data={"csrf_token": token},
        allow_redirects=False,
    )
    assert denied.status == 403
    await client.post("/console/logout", data={"csrf_token": token})

    token = await login(client, "lizhuren")
    dismissed = await client.post(
        f"/console/faqs/{faq_id}/proposals/{pid}/dismiss",
        data={"csrf_token": token},
        allow_redirects=False,
    )
    assert dismissed.status == 303
    assert await client.app[appkeys.FAQS].proposals_for("puxiong", faq_id) == []
    twice = await client.post(
        f"/console/faqs/{faq_id}/proposals/{pid}/accept",
        data={"csrf_token": token},
        allow_redirects=False,
    )
    assert twice.status == 404
    entry = await client.app[appkeys.FAQS].entry("puxiong", faq_id)
    assert entry is not None
    assert VAGUE not in entry.alternates
    # Asked and picked again, a dismissed phrasing stays dismissed.
    await ask_and_pick(Resident(client, "learn-6"))
    assert await client.app[appkeys.FAQS].proposals_for("puxiong", faq_id) == []


@EMBEDDED_ONLY
async def test_a_caseworker_answers_unanswered_questions_with_an_existing_entry(
    admin_console: Client,
) -> None:
    client = admin_console
    faq_id = await target_id(client)
    wording = "开个条子找哪个"  # 条子: a slip (of proof); the corpus never says it so
    first = await Resident(client, "learn-7").say(wording)
    assert kinds(first) == ["fallback"]

    token = await login(client, "wangfang")
    page = await (await client.get("/console/unanswered")).text()
    assert wording in page
    assert 'list="faq-options"' in page
    ids = re.search(r'name="message_ids" value="([^"]+)"', page)
    assert ids
    answered = await client.post(
        "/console/unanswered/answer",
        data={"csrf_token": token, "message_ids": ids.group(1), "faq_id": faq_id},
        allow_redirects=False,
    )
    assert answered.status == 303
    after = await (await client.get(answered.headers["Location"])).text()
    assert "已用所选问答解答" in after
    assert wording not in after
    proposals = await client.app[appkeys.FAQS].proposals_for("puxiong", faq_id)
    assert [(p.text, p.source) for p in proposals] == [(wording, "caseworker")]

    unknown = await client.post(
        "/console/unanswered/answer",
        data={"csrf_token": token, "message_ids": ids.group(1), "faq_id": "no-such-entry"},
        allow_redirects=False,
    )
    assert unknown.status == 422
