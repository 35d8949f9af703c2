"""Console login, logout, CSRF, throttling, cookies and headers on the real application, on
both store back-ends."""

from __future__ import annotations

import asyncio
import re
from http.cookies import SimpleCookie

import aiohttp
from yarl import URL

from bot.accounts.http import ACCOUNTS

from .conftest import MakeConsole
from .support import AIOHTTP_SESSION_KEYS, EMBEDDED_ONLY, PASSWORD, Client, csrf_from, login

pytestmark = AIOHTTP_SESSION_KEYS


def _cookie_header(resp: aiohttp.ClientResponse) -> str:
    headers = resp.headers.getall("Set-Cookie", [])
    assert len(headers) == 1, headers
    return headers[0]


async def test_login_shows_the_user_and_logout_ends_the_session(console: Client) -> None:
    first = await console.get("/console/", allow_redirects=False)
    assert first.status == 303
    location = URL(first.headers["Location"])
    assert (location.path, location.query["next"]) == ("/console/login", "/console/")

    resp = await login(console, "WangFang")
    assert resp.status == 303
    assert resp.headers["Location"] == "/console/"
    home = await console.get("/console/")
    html = await home.text()
    assert home.status == 200
    assert "您好，王芳" in html
    assert "社工" in html
    assert "普雄路居委会" in html
    assert "退出登录" in html

    token = await csrf_from(console, "/console/")
    out = await console.post("/console/logout", data={"csrf_token": token}, allow_redirects=False)
    assert out.status == 303
    assert out.headers["Location"] == "/console/login"
    assert (await console.get("/console/", allow_redirects=False)).status == 303


async def test_a_copied_cookie_is_worthless_after_logout(console: Client) -> None:
    await login(console, "wangfang")
    cookie = next(iter(console.session.cookie_jar))
    stolen = f"{cookie.key}={cookie.value}"
    url = console.make_url("/console/")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as other:
        async with other.get(url, headers={"Cookie": stolen}, allow_redirects=False) as r:
            assert r.status == 200
        token = await csrf_from(console, "/console/")
        await console.post("/console/logout", data={"csrf_token": token})
        async with other.get(url, headers={"Cookie": stolen}, allow_redirects=False) as r:
            assert r.status == 303


async def test_wrong_password_and_unknown_user_get_the_same_refusal(console: Client) -> None:
    wrong = await login(console, "wangfang", "not the password")
    unknown = await login(console, "nobody", PASSWORD)
    for resp in (wrong, unknown):
        assert resp.status == 401
        html = await resp.text()
        assert "用户名或密码错误" in html
        assert 'name="password"' in html
    assert (await console.get("/console/", allow_redirects=False)).status == 303


async def login_from(
    client: Client, ip: str, username: str, password: str = PASSWORD
) -> aiohttp.ClientResponse:
    """A login through the trusted proxy (127.0.0.1, the test client) for client ``ip``."""
    token = await csrf_from(client)
    return await client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers={"X-Forwarded-For": ip},
        allow_redirects=False,
    )


async def until_admitted(
    client: Client, ip: str, username: str, password: str
) -> tuple[aiohttp.ClientResponse, list[float]]:
    """Log in, waiting out the user name's backoff: the final response and every wait the
    server asked for (each one also said in Chinese)."""
    waits: list[float] = []
    for _ in range(100):
        resp = await login_from(client, ip, username, password)
        html = await resp.text()
        if resp.status != 429 or "本机" in html:
            return resp, waits
        assert "为防止猜测密码，请" in html
        assert "秒后再试" in html
        waits.append(float(resp.headers["Retry-After"]))
        await asyncio.sleep(0.05)
    raise AssertionError("the backoff never let an attempt through")


async def test_wrong_passwords_slow_the_name_but_never_lock_the_caseworker_out(
    make_console: MakeConsole,
) -> None:
    client = await make_console(
        trusted_proxies=["127.0.0.1"],
        login_ip_limit=10,
        login_free_failures=3,
        login_backoff_base_s=0.05,
        login_backoff_max_s=0.2,
    )
    await client.app[ACCOUNTS].add_user("wangfang", "caseworker", "puxiong", PASSWORD, "王芳")
    attacker, caseworker = "203.0.113.66", "198.51.100.7"
    statuses = []
    for _ in range(10):
        resp, _ = await until_admitted(client, attacker, "wangfang", "guess guess")
        statuses.append(resp.status)
        if resp.status == 401:
            assert "用户名或密码错误" in await resp.text()
    # Ten failures from one address: 401s, the tenth locks the address.
    assert statuses == [401] * 9 + [429]
    locked = await login_from(client, attacker, "wangfang")
    assert locked.status == 429
    assert "本机登录失败次数过多，请 15 分钟后再试。" in await locked.text()
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    # The right password from the caseworker's address: at most the capped wait, then in.
    resp, waits = await until_admitted(client, caseworker, "wangfang", PASSWORD)
    assert resp.status == 303
    assert all(w <= 1 for w in waits)  # Retry-After in whole seconds, the cap is 0.2 s
    assert (await client.get("/console/", allow_redirects=False)).status == 200
    # The attacker's address stays locked, whatever the name or password.
    client.session.cookie_jar.clear()
    assert (await login_from(client, attacker, "wangfang")).status == 429
    # Guessing resumes from new addresses: the caseworker's address, now known, is not
    # slowed at all; an address the name never logged in from still waits its turn.
    for i in range(3):
        await until_admitted(client, f"203.0.113.{100 + i}", "wangfang", "guess guess")
    client.session.cookie_jar.clear()
    resp, waits = await until_admitted(client, caseworker, "wangfang", PASSWORD)
    assert (resp.status, waits) == (303, [])


async def test_the_backoff_is_explained_and_spares_other_users(make_console: MakeConsole) -> None:
    client = await make_console(login_backoff_base_s=30.0)
    accounts = client.app[ACCOUNTS]
    await accounts.add_user("wangfang", "caseworker", "puxiong", PASSWORD, "王芳")
    await accounts.add_user("lijun", "caseworker", "puxiong", PASSWORD, "李军")
    responses = [await login(client, "wangfang", "guess guess") for _ in range(5)]
    # Three free failures, one more let through (its failure starts a wait), then waits.
    assert [r.status for r in responses] == [401, 401, 401, 401, 429]
    assert "用户名或密码错误。请 30 秒后再试。" in await responses[3].text()
    refused = await login(client, "wangfang", PASSWORD)  # even the right password waits
    assert refused.status == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 30
    assert "该账号的密码错误次数较多，为防止猜测密码，请" in await refused.text()
    assert (await client.get("/console/", allow_redirects=False)).status == 303
    # Another user from the same address still gets in.
    assert (await login(client, "lijun")).status == 303


async def test_many_failures_from_one_address_throttle_that_address(
    make_console: MakeConsole,
) -> None:
    client = await make_console(throttle_kwargs={"ip_limit": 3})
    await client.app[ACCOUNTS].add_user("wangfang", "caseworker", "puxiong", PASSWORD)
    for name in ("a1", "a2"):
        assert (await login(client, name, "x" * 10)).status == 401
    locked = await login(client, "a3", "x" * 10)
    assert locked.status == 429
    assert "本机登录失败次数过多" in await locked.text()
    assert (await login(client, "wangfang")).status == 429


async def test_a_forged_x_forwarded_for_does_not_escape_the_address_lock(
    make_console: MakeConsole,
) -> None:
    # No trusted proxy (the default): the peer address counts, whatever the header says.
    client = await make_console(login_ip_limit=3)
    await client.app[ACCOUNTS].add_user("wangfang", "caseworker", "puxiong", PASSWORD)
    statuses = [
        (await login_from(client, f"10.0.{i}.1", f"name{i}", "x" * 10)).status for i in range(3)
    ]
    assert statuses == [401, 401, 429]
    for forged in ("10.9.9.9", "192.168.7.7", "8.8.8.8, 10.1.1.1", "garbage"):
        assert (await login_from(client, forged, "wangfang")).status == 429


async def test_behind_a_trusted_proxy_the_right_most_untrusted_hop_counts(
    make_console: MakeConsole,
) -> None:
    client = await make_console(trusted_proxies=["127.0.0.0/8", "10.0.0.0/8"], login_ip_limit=3)
    await client.app[ACCOUNTS].add_user("wangfang", "caseworker", "puxiong", PASSWORD)
    # 198.51.100.7 is the client the proxies saw; whatever it wrote to the left is ignored,
    # and a second trusted hop (10.0.0.2) is looked through.
    for i in range(3):
        hops = f"203.0.113.{i}, 198.51.100.7, 10.0.0.2"
        resp = await login_from(client, hops, f"name{i}", "x" * 10)
    assert resp.status == 429
    assert (await login_from(client, "1.2.3.4, 198.51.100.7", "wangfang")).status == 429
    # Another client behind the same proxy is not affected.
    assert (await login_from(client, "198.51.100.8", "wangfang")).status == 303


async def test_disabled_user_cannot_log_in_and_is_logged_out(console: Client) -> None:
    assert (await login(console, "wangfang")).status == 303
    assert (await console.get("/console/", allow_redirects=False)).status == 200
    await console.app[ACCOUNTS].set_disabled("wangfang")
    assert (await console.get("/console/", allow_redirects=False)).status == 303
    refused = await login(console, "wangfang")
    assert refused.status == 403
    assert "该账号已停用" in await refused.text()
    # A wrong password on a disabled account says nothing about the account.
    wrong = await login(console, "wangfang", "wrong password")
    assert wrong.status == 401


async def test_missing_or_wrong_csrf_is_refused(console: Client) -> None:
    await csrf_from(console)  # an anonymous session exists, with its token
    for data in (
        {"username": "wangfang", "password": PASSWORD},
        {"username": "wangfang", "password": PASSWORD, "csrf_token": "forged"},
    ):
        resp = await console.post("/console/login", data=data, allow_redirects=False)
        assert resp.status == 403
        assert "CSRF" in await resp.text()
    assert (await login(console, "wangfang")).status == 303
    assert (await console.post("/console/logout", allow_redirects=False)).status == 403
    assert (await console.get("/console/", allow_redirects=False)).status == 200

    good = await csrf_from(console, "/console/")
    ok = await console.post("/console/probe", data={"value": "1", "csrf_token": good})
    assert await ok.text() == "saved 1"
    by_header = await console.post(
        "/console/probe", data={"value": "2"}, headers={"X-CSRF-Token": good}
    )
    assert await by_header.text() == "saved 2"
    missing = await console.post("/console/probe", data={"value": "3"})
    assert missing.status == 403


async def test_csrf_token_of_another_session_is_refused(console: Client) -> None:
    other_token = await csrf_from(console)
    console.session.cookie_jar.clear()
    await csrf_from(console)  # a new anonymous session with its own token
    data = {"username": "wangfang", "password": PASSWORD, "csrf_token": other_token}
    resp = await console.post("/console/login", data=data, allow_redirects=False)
    assert resp.status == 403


async def test_login_rotates_the_csrf_token(console: Client) -> None:
    before = await csrf_from(console)
    await login(console, "wangfang")
    after = await csrf_from(console, "/console/")
    assert before != after


@EMBEDDED_ONLY
async def test_after_login_the_user_returns_where_they_were_going(console: Client) -> None:
    first = await console.get("/console/probe/puxiong?x=1", allow_redirects=False)
    assert first.status == 303
    resp = await login(console, "wangfang", next="/console/probe/puxiong?x=1")
    assert resp.headers["Location"] == "/console/probe/puxiong?x=1"
    console.session.cookie_jar.clear()
    for evil in ("https://evil.example/", "//evil.example/", "/api/v1/me", "/console/\\evil"):
        resp = await login(console, "wangfang", next=evil)
        assert resp.headers["Location"] == "/console/"
        console.session.cookie_jar.clear()


async def test_other_committees_data_is_not_found(console: Client) -> None:
    await login(console, "wangfang")
    assert (await console.get("/console/probe/puxiong")).status == 200
    other = await console.get("/console/probe/other")
    assert other.status == 404
    assert "不在您所属居委会的范围内" in await other.text()
    console.session.cookie_jar.clear()
    await login(console, "street")
    assert (await console.get("/console/probe/other")).status == 200
    home = await (await console.get("/console/")).text()
    assert "街道管理员" in home
    assert "长寿路街道" in home


@EMBEDDED_ONLY
async def test_session_cookie_flags_in_development(console: Client) -> None:
    resp = await login(console, "wangfang")
    raw = _cookie_header(resp)
    cookie = SimpleCookie(raw)["linli_session"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["max-age"] == "43200"
    assert not cookie["secure"]
    # A Fernet token (encrypted, not merely signed): no readable session data.
    assert cookie.value.startswith("gAAAAA")
    assert "sid" not in cookie.value


@EMBEDDED_ONLY
async def test_session_cookie_is_secure_in_production(make_console: MakeConsole) -> None:
    client = await make_console(env="production")
    resp = await client.get("/console/login")
    raw = _cookie_header(resp)
    assert raw.startswith("__Host-linli_session=")
    cookie = SimpleCookie(raw)["__Host-linli_session"]
    assert cookie["secure"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


@EMBEDDED_ONLY
async def test_security_headers_on_console_pages_errors_and_static(console: Client) -> None:
    page = await console.get("/console/login")
    css = await console.get("/console/static/console.css")
    error = await console.post("/console/login", data={}, allow_redirects=False)
    assert css.status == 200
    assert "text/css" in css.headers["Content-Type"]
    for resp in (page, css, error):
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "same-origin"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    html = await page.text()
    assert "<script" not in html
    assert re.search(r'href="/console/static/console\.css\?v=[^"]+"', html)
    # Other routes are left alone.
    health = await console.get("/healthz")
    assert "Content-Security-Policy" not in health.headers


@EMBEDDED_ONLY
async def test_user_text_is_escaped(console: Client) -> None:
    await console.app[ACCOUNTS].add_user(
        "mallory", "caseworker", "puxiong", PASSWORD, '<script>alert("x")</script>'
    )
    await login(console, "mallory")
    html = await (await console.get("/console/")).text()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    console.session.cookie_jar.clear()
    echoed = await login(console, '"><img src=x onerror=alert(1)>', "wrong password")
    assert "<img src=x" not in await echoed.text()


@EMBEDDED_ONLY
async def test_empty_form_is_asked_again(console: Client) -> None:
    token = await csrf_from(console)
    resp = await console.post("/console/login", data={"csrf_token": token, "username": "wangfang"})
    assert resp.status == 400
    assert "请输入用户名和密码" in await resp.text()


@EMBEDDED_ONLY
async def test_console_root_redirects_and_logout_needs_post(console: Client) -> None:
    root = await console.get("/console", allow_redirects=False)
    assert root.status == 301
    assert root.headers["Location"] == "/console/"
    assert (await console.get("/console/logout", allow_redirects=False)).status in (303, 405)


@EMBEDDED_ONLY
async def test_a_logged_in_user_skips_the_login_page(console: Client) -> None:
    await login(console, "lijun")
    resp = await console.get("/console/login", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/console/"
    assert (await console.get("/console/")).status == 200


@EMBEDDED_ONLY
async def test_logout_without_a_login_just_returns_to_the_login_page(console: Client) -> None:
    token = await csrf_from(console)
    resp = await console.post("/console/logout", data={"csrf_token": token}, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/console/login"


async def test_logging_in_again_ends_the_earlier_session(console: Client) -> None:
    await login(console, "wangfang")
    old = {c.key: c.value for c in console.session.cookie_jar}
    resp = await console.get("/console/login?next=/console/", allow_redirects=False)
    assert resp.status == 303  # already logged in
    console.session.cookie_jar.clear()
    console.session.cookie_jar.update_cookies(old)
    token = await csrf_from(console, "/console/")
    data = {"username": "lijun", "password": PASSWORD, "csrf_token": token}
    resp = await console.post("/console/login", data=data, allow_redirects=False)
    assert resp.status == 303
    home = await (await console.get("/console/")).text()
    assert "李军" in home
    console.session.cookie_jar.clear()
    console.session.cookie_jar.update_cookies(old)
    assert (await console.get("/console/", allow_redirects=False)).status == 303
