"""Admin API authentication (``/api/v1/…``): bearer tokens, browser sessions with CSRF, JSON
errors, committee scoping; the resident webhook ``POST /api/v1/messages`` is untouched."""

from __future__ import annotations

from typing import Any

import pytest

from bot.accounts.http import ACCOUNTS

from .support import AIOHTTP_SESSION_KEYS, HOOK_TOKEN, Client, csrf_from, login

pytestmark = AIOHTTP_SESSION_KEYS


@pytest.fixture
def load_models() -> bool:
    """A resident's message is answered within the webhook's time budget here."""
    return True


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def error_of(resp: Any, status: int) -> str:
    assert resp.status == status
    assert resp.headers["Content-Type"].startswith("application/json")
    body = await resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    return str(body["error"]["code"])


async def test_a_token_acts_as_its_user_until_revoked(console: Client) -> None:
    accounts = console.app[ACCOUNTS]
    token, record = await accounts.create_token("wangfang", "统计脚本")
    me = await console.get("/api/v1/me", headers=bearer(token))
    assert me.status == 200
    assert me.headers["Cache-Control"] == "no-store"
    assert await me.json() == {
        "user": {
            "id": record.user_id,
            "name": "wangfang",
            "display_name": "王芳",
            "role": "caseworker",
            "committee": "puxiong",
        },
        "auth": "token",
    }
    # Unsafe methods need no CSRF token with a bearer token, and no cookie is set.
    echo = await console.post("/api/v1/probe/echo", json={}, headers=bearer(token))
    assert echo.status == 200
    assert await echo.json() == {"ok": True, "by": "wangfang"}
    assert "Set-Cookie" not in echo.headers

    await accounts.revoke_token(record.id)
    refused = await console.get("/api/v1/me", headers=bearer(token))
    assert await error_of(refused, 401) == "invalid_token"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")


async def test_bad_or_missing_credentials_get_json_401(console: Client) -> None:
    assert await error_of(await console.get("/api/v1/me"), 401) == "unauthorized"
    for header in ("Bearer linli_nope", "Bearer ", "Basic d2FuZzpwdw==", "linli_x"):
        resp = await console.get("/api/v1/me", headers={"Authorization": header})
        assert await error_of(resp, 401) == "invalid_token"
    # The webhook's own token is not an admin token.
    resp = await console.get("/api/v1/me", headers=bearer(HOOK_TOKEN))
    assert await error_of(resp, 401) == "invalid_token"
    # Unknown admin paths do not reveal whether they exist before authentication.
    assert await error_of(await console.get("/api/v1/nothing-here"), 401) == "unauthorized"


async def test_a_disabled_users_token_stops_working(console: Client) -> None:
    accounts = console.app[ACCOUNTS]
    token, _ = await accounts.create_token("lijun")
    assert (await console.get("/api/v1/me", headers=bearer(token))).status == 200
    await accounts.set_disabled("lijun")
    assert await error_of(await console.get("/api/v1/me", headers=bearer(token)), 401) == (
        "invalid_token"
    )


async def test_a_bearer_token_wins_over_a_session_cookie(console: Client) -> None:
    await login(console, "wangfang")
    resp = await console.get("/api/v1/me", headers=bearer("linli_forged"))
    assert await error_of(resp, 401) == "invalid_token"


async def test_a_browser_session_needs_the_csrf_header_on_unsafe_methods(
    console: Client,
) -> None:
    await login(console, "wangfang")
    me = await console.get("/api/v1/me")
    assert (await me.json())["auth"] == "session"
    missing = await console.post("/api/v1/probe/echo", json={})
    assert await error_of(missing, 403) == "csrf_failed"
    wrong = await console.post("/api/v1/probe/echo", json={}, headers={"X-CSRF-Token": "x"})
    assert await error_of(wrong, 403) == "csrf_failed"
    token = await csrf_from(console, "/console/")
    # A form field is not enough for the API: the header is required.
    as_form = await console.post("/api/v1/probe/echo", data={"csrf_token": token})
    assert await error_of(as_form, 403) == "csrf_failed"
    ok = await console.post("/api/v1/probe/echo", json={}, headers={"X-CSRF-Token": token})
    assert ok.status == 200


@pytest.mark.parametrize(
    ("user", "committee", "status"),
    [
        ("wangfang", "puxiong", 200),
        ("wangfang", "other", 404),
        ("lijun", "other", 404),
        ("street", "other", 200),
        ("street", "puxiong", 200),
    ],
)
async def test_committee_scope_hides_other_committees(
    console: Client, user: str, committee: str, status: int
) -> None:
    token, _ = await console.app[ACCOUNTS].create_token(user)
    resp = await console.get(f"/api/v1/probe/committees/{committee}", headers=bearer(token))
    if status == 404:
        assert await error_of(resp, 404) == "not_found"
    else:
        assert resp.status == 200
        assert (await resp.json())["committee"] == committee


async def test_roles_are_enforced_with_json_403(console: Client) -> None:
    accounts = console.app[ACCOUNTS]
    caseworker, _ = await accounts.create_token("wangfang")
    admin, _ = await accounts.create_token("lijun")
    street, _ = await accounts.create_token("street")
    resp = await console.get("/api/v1/probe/admin", headers=bearer(caseworker))
    assert await error_of(resp, 403) == "forbidden"
    for token in (admin, street):
        assert (await console.get("/api/v1/probe/admin", headers=bearer(token))).status == 200


async def test_wrong_method_is_a_json_405(console: Client) -> None:
    token, _ = await console.app[ACCOUNTS].create_token("wangfang")
    resp = await console.delete("/api/v1/me", headers=bearer(token))
    assert await error_of(resp, 405) == "method_not_allowed"
    assert "GET" in resp.headers["Allow"]


async def test_the_resident_webhook_is_not_affected(console: Client) -> None:
    body = {
        "message_id": "m-acc-1",
        "chat": {"id": "g-putuoyicun", "type": "group"},
        "sender": {"id": "u1", "name": "王阿姨"},
        "text": "你好",
        "mentioned": True,
    }
    resp = await console.post("/api/v1/messages", json=body, headers=bearer(HOOK_TOKEN))
    assert resp.status == 200
    assert (await resp.json())["replies"]
    assert "Set-Cookie" not in resp.headers
    refused = await console.post("/api/v1/messages", json=body, headers=bearer("wrong"))
    assert refused.status == 401
    assert isinstance((await refused.json())["error"], str)  # the webhook's own error shape
    # An admin token is not a webhook token either.
    token, _ = await console.app[ACCOUNTS].create_token("street")
    again = await console.post("/api/v1/messages", json=body, headers=bearer(token))
    assert again.status == 401
