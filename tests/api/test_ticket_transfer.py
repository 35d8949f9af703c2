"""A ticket is transferred only to an active caseworker or admin of its own committee, named
as the account is: unknown ids, disabled users, another committee's users, street admins
and free text are refused (API 422, console 422 with a Chinese message). Both back-ends."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from bot import appkeys
from bot.accounts import Passwords
from bot.accounts.http import ACCOUNTS
from bot.app import build_app
from bot.domain import Chat, ChatType, IncomingMessage, Sender
from bot.domain.tickets import EventKind, Reporter, TicketCategory, TicketDraft
from bot.encoders import Encoder
from bot.settings import Settings

Client = TestClient[web.Request, web.Application]
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse 1"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Street:
    client: Client
    ids: dict[str, str]
    token: str
    """API token of 王芳 (caseworker of 普雄路)."""
    number: str
    """An open ticket of 普雄路."""

    async def transfer(self, body: Any) -> tuple[int, dict[str, Any]]:
        resp = await self.client.post(
            f"/api/v1/tickets/{self.number}/transfer",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        data: dict[str, Any] = await resp.json()
        return resp.status, data


@pytest.fixture
async def street(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    encoder: Encoder,
    tmp_path: Path,
) -> Street:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    with (knowledge / "registry.yaml").open("a", encoding="utf-8") as f:
        f.write(
            "  - id: jiangning\n    name: 江宁路居委会\n    ticket_prefix: JN\n    compounds:\n"
            "      - id: jiangningyuan\n        name: 江宁苑\n"
        )
    settings = settings_factory(**backend, knowledge_dir=knowledge)
    app = await build_app(settings, encoder=encoder, load_models=False)
    accounts = app[ACCOUNTS]
    accounts.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    client: Client = await aiohttp_client(app)
    users = {
        "wangfang": ("caseworker", "puxiong", "王芳"),
        "lijun": ("admin", "puxiong", "李军"),
        "gone": ("caseworker", "puxiong", "已离职的赵敏"),
        "jn": ("caseworker", "jiangning", "江宁的陈刚"),
        "street": ("street_admin", None, "街道张主任"),
    }
    ids = {}
    for name, (role, committee, label) in users.items():
        ids[name] = str((await accounts.add_user(name, role, committee, PASSWORD, label)).id)
    await accounts.set_disabled("gone")
    token, _ = await accounts.create_token("wangfang", "test")
    msg = IncomingMessage(
        message_id="m1",
        channel="webhook",
        account="default",
        committee="puxiong",
        chat=Chat("p-r1", ChatType.PRIVATE),
        sender=Sender("r1", "钱阿姨"),
        text="",
    )
    draft = TicketDraft(
        committee="puxiong",
        category=TicketCategory.REPAIR,
        description="3号楼楼道灯坏了",
        reporter=Reporter.from_message(msg),
    )
    created = await app[appkeys.TICKETS].intake.create(draft)
    return Street(client, ids, token, created.ticket.number)


async def transfers(street: Street) -> int:
    history = await street.client.app[appkeys.TICKETS].queries.history("puxiong", street.number)
    return sum(1 for e in history if e.kind is EventKind.TRANSFERRED)


async def test_the_api_transfers_only_to_an_active_colleague_named_by_the_account(
    street: Street,
) -> None:
    refused: list[Any] = [
        street.ids["gone"],  # disabled
        street.ids["jn"],  # another committee's caseworker
        street.ids["street"],  # a street admin belongs to no committee's roster
        "999999",  # nobody
        "<b>x</b>",  # a name, not an id
        "李军",
        f" {street.ids['lijun']}",
        "0",
        "1e3",
        "٣",  # a digit, but not an ASCII one
    ]
    for to_id in refused:
        status, data = await street.transfer({"to_id": to_id})
        assert status == 422, to_id
        assert data["error"]["code"] == "invalid_assignee"
        assert "只能转交给本居委会的社工或居委管理员" in data["error"]["message"]
    assert await transfers(street) == 0
    ticket = await street.client.app[appkeys.TICKETS].queries.get("puxiong", street.number)
    assert ticket.assignee is None

    # An admin of the committee, given as a JSON number: the account's name is recorded.
    status, data = await street.transfer({"to_id": int(street.ids["lijun"]), "note": "交接"})
    assert status == 200, data
    assert data["assignee"]["id"] == street.ids["lijun"]
    assert data["assignee"]["name"] == "李军"
    # A name in the request (older clients send one) is accepted but never believed.
    status, data = await street.transfer({"to_id": street.ids["wangfang"], "to_name": "<b>x</b>"})
    assert status == 200
    assert data["assignee"]["name"] == "王芳"
    assert await transfers(street) == 2

    # A ticket of another committee is "not found", whoever it would go to.
    resp = await street.client.post(
        "/api/v1/tickets/JN-20990101-001/transfer",
        json={"to_id": street.ids["jn"]},
        headers={"Authorization": f"Bearer {street.token}"},
    )
    assert resp.status == 404


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_the_console_offers_and_accepts_only_active_colleagues(street: Street) -> None:
    client = street.client
    login_page = await (await client.get("/console/login")).text()
    token = CSRF_RE.search(login_page).group(1)  # type: ignore[union-attr]
    resp = await client.post(
        "/console/login",
        data={"username": "wangfang", "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    assert resp.status == 303
    path = f"/console/tickets/{street.number}"
    page = await (await client.get(path)).text()
    token = CSRF_RE.search(page).group(1)  # type: ignore[union-attr]
    select = page[page.index('<select id="to-id"') : page.index("</select>", page.index("to-id"))]
    offered = set(re.findall(r'<option value="(\d+)">', select))
    assert offered == {street.ids["wangfang"], street.ids["lijun"]}
    assert "已离职的赵敏" not in select
    assert "江宁的陈刚" not in select

    for to_id in (street.ids["jn"], street.ids["gone"], "<b>x</b>", ""):
        refused = await client.post(
            f"{path}/transfer", data={"csrf_token": token, "to_id": to_id, "to_name": "<b>x</b>"}
        )
        assert refused.status == 422
        html = await refused.text()
        assert "只能转交给本居委会的社工或居委管理员，请从列表中选择一位同事。" in html
        assert "<b>x</b>" not in html
    assert await transfers(street) == 0

    moved = await client.post(
        f"{path}/transfer",
        data={"csrf_token": token, "to_id": street.ids["lijun"], "to_name": "<b>x</b>"},
        allow_redirects=False,
    )
    assert moved.status == 303
    ticket = await client.app[appkeys.TICKETS].queries.get("puxiong", street.number)
    assert ticket.assignee is not None
    assert (ticket.assignee.id, ticket.assignee.name) == (street.ids["lijun"], "李军")
