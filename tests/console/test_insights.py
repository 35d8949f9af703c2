"""The unanswered-questions page and the dashboard through the real application: residents
write through the webhook, admins look at the console."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from argon2 import PasswordHasher

from bot import appkeys
from bot.accounts import Passwords
from bot.accounts.http import ACCOUNTS
from bot.app import build_app
from bot.domain import Chat, ChatType, IncomingMessage, Reply, ReplyKind, Sender
from bot.domain.clock import SHANGHAI
from bot.domain.tickets import Actor, Reporter, TicketCategory, TicketDraft
from bot.encoders import Encoder
from bot.settings import Settings

from .conftest import EMBEDDED_ONLY, HOOK, PASSWORD, Client, Resident, login, tickets_of

ROOT = Path(__file__).resolve().parents[2]
BARBECUE = ["楼下能烧烤吗", "小区里可以烧烤吗", "小区楼下可以烧烤不"]
ANSWERED = "小区里能养鸡吗"
RAIN = "明天会下雨吗"


def two_committees(tmp_path: Path) -> Path:
    """The sample knowledge with a second committee (江宁路居委会) in the registry."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    with (knowledge / "registry.yaml").open("a", encoding="utf-8") as f:
        f.write(
            "  - id: jiangning\n"
            "    name: 江宁路居委会\n"
            "    ticket_prefix: JN\n"
            "    compounds:\n"
            "      - id: jiangningyuan\n"
            "        name: 江宁苑\n"
            "        group_chats: [g-jiangningyuan]\n"
        )
    return knowledge


@pytest.fixture
async def street(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    encoder: Encoder,
    tmp_path: Path,
) -> Client:
    """The application with two committees, a caseworker and an admin of 普雄路, an admin
    of 江宁路 and a street admin."""
    settings = settings_factory(
        **backend,
        knowledge_dir=two_committees(tmp_path),
        handoff_around_the_clock=True,
        channels={"webhook": {"tokens": [HOOK], "committee": "puxiong"}},
    )
    app = await build_app(settings, encoder=encoder)
    accounts = app[ACCOUNTS]
    accounts.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    client: Client = await aiohttp_client(app)
    await accounts.add_user("wangfang", "caseworker", "puxiong", PASSWORD, "王芳")
    await accounts.add_user("zhouadmin", "admin", "puxiong", PASSWORD, "周主任")
    await accounts.add_user("jnadmin", "admin", "jiangning", PASSWORD, "江宁管理员")
    await accounts.add_user("street", "street_admin", None, PASSWORD, "街道张主任")
    return client


def reporter(committee: str, sender: str) -> Reporter:
    msg = IncomingMessage(
        message_id="m",
        channel="webhook",
        account="default",
        committee=committee,
        chat=Chat(f"p-{sender}", ChatType.PRIVATE),
        sender=Sender(sender, "王阿姨"),
        text="",
    )
    return Reporter.from_message(msg)


async def open_ticket(client: Client, committee: str, sender: str) -> str:
    draft = TicketDraft(
        committee=committee,
        category=TicketCategory.REPAIR,
        description=f"{sender} 家楼道灯坏了",
        reporter=reporter(committee, sender),
    )
    return (await tickets_of(client).intake.create(draft)).ticket.number


def figure(page: str, label: str) -> str:
    found = re.search(rf"<dt>{label}</dt><dd>([^<]*)</dd>", page)
    assert found, label
    return found.group(1)


def cluster_texts(page: str) -> list[set[str]]:
    """The member messages of each cluster on the unanswered page, in order."""
    out = []
    for block in re.findall(
        r'<li class="card cluster">(.*?)</li>\s*(?=<li class="card|</ol>)', page, re.S
    ):
        out.append(set(re.findall(r'<a href="/console/conversations/[^"]+">([^<]*)</a>', block)))
    return out


# --- unanswered questions ---------------------------------------------------------------------
async def test_unanswered_questions_are_clustered_and_can_be_dismissed(street: Client) -> None:
    for i, text in enumerate([*BARBECUE, RAIN, ANSWERED, "<b>社区</b>有没有瑜伽班"]):
        # One resident per question: a second miss in one conversation hands it over.
        data = await Resident(street, f"r{i}").say(text)
        kinds = {r["kind"] for r in data["replies"]}
        if text == ANSWERED:
            assert kinds == {"faq"}
        else:
            assert kinds in ({"fallback"}, {"clarify"}), (text, kinds)

    await login(street, "zhouadmin")
    resp = await street.get("/console/unanswered")
    assert resp.status == 200
    page = await resp.text()
    assert 'id="unanswered"' in page
    assert ANSWERED not in page
    assert "&lt;b&gt;社区&lt;/b&gt;有没有瑜伽班" in page
    assert "<b>社区</b>" not in page
    clusters = cluster_texts(page)
    assert set(BARBECUE) in clusters
    assert {RAIN} in clusters
    assert clusters.index(set(BARBECUE)) == 0  # the most asked first

    links = re.findall(r'<a class="button" href="([^"]+)">一键生成常见问题</a>', page)
    first = parse_qs(urlsplit(links[0].replace("&amp;", "&")).query)
    assert urlsplit(links[0]).path == "/console/faqs/new"
    assert first["question"][0] in BARBECUE
    assert sorted([first["question"][0], *first["alternate"]]) == sorted(BARBECUE)
    ids = [int(i) for i in first["message_ids"][0].split(",")]
    assert len(ids) == 3
    assert "committee" not in first  # the admin's own committee is implied

    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    dismissed = await street.post(
        "/console/unanswered/dismiss",
        data={"csrf_token": token.group(1), "message_ids": ",".join(map(str, ids))},
        allow_redirects=False,
    )
    assert dismissed.status == 303
    after = await (await street.get(dismissed.headers["Location"])).text()
    assert "已忽略 3 条消息" in after
    assert set(BARBECUE) not in cluster_texts(after)
    assert {RAIN} in cluster_texts(after)

    forged = await street.post(
        "/console/unanswered/dismiss", data={"message_ids": "1"}, allow_redirects=False
    )
    assert forged.status == 403
    empty = await street.post(
        "/console/unanswered/dismiss", data={"csrf_token": token.group(1), "message_ids": "x"}
    )
    assert empty.status == 422


@EMBEDDED_ONLY
async def test_caseworkers_see_unanswered_questions_but_only_admins_act(street: Client) -> None:
    await Resident(street, "c1").say(RAIN)
    token = await login(street, "wangfang")
    page = await (await street.get("/console/unanswered")).text()
    assert {RAIN} in cluster_texts(page)
    assert "一键生成常见问题" not in page
    assert "忽略</button>" not in page
    refused = await street.post(
        "/console/unanswered/dismiss", data={"csrf_token": token, "message_ids": "1"}
    )
    assert refused.status == 403
    assert (await street.get("/console/unanswered?committee=jiangning")).status == 404

    # Another committee's admin neither sees nor dismisses 普雄路's questions.
    token = await login(street, "jnadmin")
    theirs = await (await street.get("/console/unanswered")).text()
    assert RAIN not in theirs
    ids = [
        m.id
        for m in await street.app[appkeys.MESSAGE_LOG].recent_inbound("puxiong")
        if m.text == RAIN
    ]
    await street.post(
        "/console/unanswered/dismiss",
        data={"csrf_token": token, "message_ids": ",".join(map(str, ids))},
    )
    unreviewed = await street.app[appkeys.MESSAGE_LOG].recent_inbound(
        "puxiong", include_reviewed=False
    )
    assert [m.text for m in unreviewed] == [RAIN]


@EMBEDDED_ONLY
async def test_a_street_admin_picks_a_committee_for_unanswered_questions(street: Client) -> None:
    for i, text in enumerate(BARBECUE):
        await Resident(street, f"s{i}").say(text)
    await login(street, "street")
    picker = await (await street.get("/console/unanswered")).text()
    assert "/console/unanswered?committee=jiangning" in picker
    page = await (await street.get("/console/unanswered?committee=puxiong")).text()
    link = re.search(r'<a class="button" href="([^"]+)">一键生成常见问题</a>', page)
    assert link
    assert parse_qs(urlsplit(link.group(1).replace("&amp;", "&")).query)["committee"] == ["puxiong"]
    assert (await street.get("/console/unanswered?committee=nowhere")).status == 404


# --- dashboard --------------------------------------------------------------------------------
async def scenario(client: Client) -> None:
    """普雄路: an FAQ answer, a miss and a handoff through the webhook; two tickets, one
    resolved in time and rated 满意. 江宁路: one answered message and one open ticket."""
    assert (await Resident(client, "d1").say(ANSWERED))["replies"][0]["kind"] == "faq"
    assert (await Resident(client, "d2").say(RAIN))["replies"][0]["kind"] == "fallback"
    assert (await Resident(client, "d3").say("我要找社工，转人工"))["replies"][0]["kind"] == (
        "handoff"
    )
    tickets = tickets_of(client)
    done = await open_ticket(client, "puxiong", "d4")
    await open_ticket(client, "puxiong", "d5")
    worker = Actor.caseworker("1", "王芳")
    await tickets.workflow.claim("puxiong", done, actor=worker)
    await tickets.workflow.resolve("puxiong", done, actor=worker, summary="已换灯泡。")
    await tickets.satisfaction.rate(
        "puxiong", done, 1, actor=Actor.resident(reporter("puxiong", "d4"))
    )

    log = client.app[appkeys.MESSAGE_LOG]
    elsewhere = IncomingMessage(
        message_id="jn-1",
        channel="webhook",
        account="default",
        committee="jiangning",
        chat=Chat("p-j1", ChatType.PRIVATE),
        sender=Sender("j1"),
        text="江宁路居委会在哪",
    )
    await log.record_inbound(elsewhere)
    await log.record_outbound(elsewhere, [Reply("在江宁路", ReplyKind.FAQ)], "passive")
    await open_ticket(client, "jiangning", "j2")


def today() -> str:
    return datetime.now(UTC).astimezone(SHANGHAI).date().isoformat()


async def test_the_dashboard_shows_a_committees_figures(street: Client) -> None:
    await scenario(street)
    await login(street, "wangfang")
    resp = await street.get("/console/dashboard?days=7")
    assert resp.status == 200
    page = await resp.text()
    assert 'id="dashboard"' in page
    assert "普雄路居委会 · 数据看板" in page
    assert figure(page, "居民消息") == "3"
    assert figure(page, "需机器人回答") == "3"
    assert figure(page, "机器人解答率") == "33.3%"
    assert figure(page, "转人工率") == "33.3%"
    assert figure(page, "新建工单") == "2"
    assert figure(page, "办结工单") == "1"
    assert figure(page, "首次响应达标率") == "100.0%"
    assert figure(page, "办结时限达标率") == "100.0%"
    assert figure(page, "满意率") == "100.0%"
    assert page.count('<svg class="chart"') == 5
    for title in (
        "每日居民消息数",
        "每日机器人解答率与转人工率",
        "每日工单新建与办结数",
        "工单时限达标率",
        "居民满意率 100.0%",
    ):
        assert f'-title">{title}</title>' in page, title
    # The data tables behind the charts: today's messages, rates and tickets.
    assert f"<td>{today()}</td><td>3</td><td>3</td>" in page
    assert f"<td>{today()}</td><td>33.3%</td><td>33.3%</td>" in page
    assert f"<td>{today()}</td><td>2</td><td>1</td>" in page
    assert "<td>满意</td><td>1 条</td>" in page
    assert "各居委会" not in page  # no street table for a committee
    assert "机器人解答率</b> =" in page  # the definitions are on the page

    month = await (await street.get("/console/dashboard?days=30")).text()
    assert month.count(f"<td>{today()}</td>") == 3  # 30 rows per daily table, today once each
    assert len(re.findall(r"<td>\d{4}-\d\d-\d\d</td><td>", month)) == 90
    assert (await street.get("/console/dashboard?days=15")).status == 400
    assert (await street.get("/console/dashboard?committee=jiangning")).status == 404
    assert (await street.get("/console/dashboard?committee=all")).status == 404
    assert (await street.get("/console/dashboard?committee=puxiong")).status == 200


async def test_the_street_dashboard_adds_up_every_committee(street: Client) -> None:
    await scenario(street)
    await login(street, "street")
    page = await (await street.get("/console/dashboard?days=7")).text()
    assert "长寿路街道 · 数据看板" in page
    assert figure(page, "居民消息") == "4"
    assert figure(page, "机器人解答率") == "50.0%"
    assert figure(page, "转人工率") == "25.0%"
    assert figure(page, "新建工单") == "3"
    assert figure(page, "办结工单") == "1"
    assert figure(page, "满意率") == "100.0%"
    rows = re.findall(
        r'<th scope="row"><a href="([^"]+)">([^<]+)</a></th>\s*((?:<td>[^<]*</td>\s*)+)', page
    )
    table = {name: re.findall(r"<td>([^<]*)</td>", cells) for _, name, cells in rows}
    assert table["普雄路居委会"][:6] == ["3", "3", "33.3%", "33.3%", "2", "1"]
    assert table["江宁路居委会"][:6] == ["1", "1", "100.0%", "0.0%", "1", "0"]
    assert table["江宁路居委会"][-1] == "—"  # no rating yet
    assert rows[0][0] == "/console/dashboard?committee=puxiong&amp;days=7"

    one = await (await street.get("/console/dashboard?committee=jiangning&days=7")).text()
    assert figure(one, "居民消息") == "1"
    assert figure(one, "新建工单") == "1"
    assert "各居委会" not in one
    same = await (await street.get("/console/dashboard?committee=all&days=7")).text()
    assert figure(same, "居民消息") == "4"
    assert (await street.get("/console/dashboard?committee=nowhere")).status == 404


def test_the_new_faq_link_of_a_huge_cluster_fits_a_request_line() -> None:
    from datetime import UTC, datetime

    from bot.console.insights import LINK_MAX_BYTES, faq_link
    from bot.domain.accounts import Principal, Role
    from bot.insights.unanswered import Cluster, ClusterMessage

    now = datetime.now(UTC)
    wordings = [
        f"第{i}种说法：我们小区楼道里的共享单车和电瓶车一直没人管到底该找谁来处理呢"
        for i in range(300)
    ]
    cluster = Cluster(
        wordings[0],
        tuple(ClusterMessage(i + 1, w, "k", "fallback", now) for i, w in enumerate(wordings)),
    )
    street = Principal(
        user_id=1, name="street", display_name="", role=Role.STREET_ADMIN, committee=None
    )
    link = faq_link(cluster, "puxiong", street)
    assert len(link) <= LINK_MAX_BYTES
    assert link.startswith("/console/faqs/new?question=")
    assert "message_ids=" in link
    assert "committee=puxiong" in link
