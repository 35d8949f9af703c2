"""A resident talking to a running bot through the generic webhook, and the bot's usual
test configuration (shared by the end-to-end tests)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.accounts.http import ACCOUNTS

HOOK = "hook-token"
ROBOT_PATH = "/cgi-bin/webhook/send"
PUSH_PATH = "/gateway/push"


@dataclass
class Resident:
    """A resident talking to the bot through the generic webhook of a running app."""

    client: TestClient[web.Request, web.Application]
    sender: str
    chat: str = ""
    group: bool = False
    name: str = "王阿姨"
    counter: list[int] = field(default_factory=lambda: [0])
    log: list[tuple[float, str]] = field(default_factory=list)

    async def say(self, text: str, *, mentioned: bool = True) -> dict[str, Any]:
        self.counter[0] += 1
        chat = self.chat or f"p-{self.sender}"
        body = {
            "message_id": f"{self.sender}-{self.counter[0]}-{time.monotonic_ns()}",
            "chat": {"id": chat, "type": "group" if self.group else "private"},
            "sender": {"id": self.sender, "name": self.name},
            "text": text,
            "mentioned": mentioned,
        }
        resp = await self.client.post(
            "/api/v1/messages", json=body, headers={"Authorization": f"Bearer {HOOK}"}
        )
        assert resp.status == 200, await resp.text()
        data: dict[str, Any] = await resp.json()
        self.log.append((time.monotonic(), "reply returned"))
        return data

    def key(self) -> str:
        if self.group:
            return f"puxiong:webhook:default:g:{self.chat}:{self.sender}"
        return f"puxiong:webhook:default:p:{self.sender}"


def texts(data: dict[str, Any]) -> str:
    return "\n".join(r["text"] for r in data["replies"])


def kinds(data: dict[str, Any]) -> list[str]:
    return [r["kind"] for r in data["replies"]]


async def caseworker_token(client: TestClient[web.Request, web.Application]) -> str:
    accounts = client.app[ACCOUNTS]
    await accounts.add_user("zhangmin", "caseworker", "puxiong", "Str0ng-pass-123", "张敏")
    token, _ = await accounts.create_token("zhangmin", "tests")
    return token
