"""``/try`` as a newcomer meets it, on a desktop and on a phone: a greeting with five questions
from the committee's FAQ for each compound, replies labelled in Chinese, one log per chat, a
switch to write in a group without "@邻里", a second resident in the same group, and a link
to the console."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Request, ViewportSize, expect

from bot import appkeys
from bot.domain import ReplyKind
from bot.playground import EXAMPLES, KIND_LABELS, SHANGHAI, example_questions

from .conftest import STEP_TIMEOUT_MS, Site, screenshot

pytestmark = pytest.mark.browser

PHONE = ViewportSize(width=375, height=812)
DESKTOP = ViewportSize(width=1280, height=900)
CHATTER = "今天天气真好，大家出来晒太阳伐"
CODES = re.compile(r"\b(faq|clarify|human|fallback|handoff|slot|welcome|status|notice)\b")

OVERFLOW_AND_TARGETS = """() => {
  const small = [...document.querySelectorAll("a, button, select, input")].filter((el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && (r.height < 44 || r.width < 44);
  }).map((el) => el.tagName + " " + (el.textContent || el.getAttribute("aria-label")));
  return {scrollWidth: document.scrollingElement.scrollWidth, innerWidth: window.innerWidth, small};
}"""


def test_every_reply_kind_has_a_chinese_label() -> None:
    assert set(KIND_LABELS) == set(ReplyKind)
    for label in KIND_LABELS.values():
        assert re.search(r"[\u4e00-\u9fff]", label), label
        assert not CODES.search(label), label


async def open_try(browser: Browser, site: Site, viewport: ViewportSize) -> Page:
    phone = viewport is PHONE
    ctx = await browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport=viewport,
        is_mobile=phone,
        has_touch=phone,
    )
    ctx.set_default_timeout(STEP_TIMEOUT_MS)
    page = await ctx.new_page()
    await page.goto(site.url("/try"))
    return page


async def visible_log(page: Page) -> str:
    return await page.locator(".log:not([hidden])").inner_text()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_the_try_page_teaches_a_newcomer(
    site: Site, browser: Browser, viewport: ViewportSize
) -> None:
    committee = site.app[appkeys.REGISTRY].committee("puxiong")
    corpus = await site.app[appkeys.FAQS].entries("puxiong")
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    questions = {e.question for e in corpus}
    page = await open_try(browser, site, viewport)
    sent: list[dict[str, object]] = []

    def on_request(request: Request) -> None:
        if request.url.endswith("/try/messages"):
            sent.append(json.loads(request.post_data or "{}"))

    page.on("request", on_request)

    # Every chat greets with five questions of the corpus for its compound.
    chats = page.locator("#chat option")
    await expect(chats).to_have_count(len(committee.compounds) + 1)
    first = committee.compounds[0]
    greeting = page.locator(".log:not([hidden]) .greeting")
    await expect(greeting).to_contain_text("您好")
    examples = greeting.locator(".examples button")
    await expect(examples).to_have_count(EXAMPLES)
    shown = await examples.all_inner_texts()
    assert shown == example_questions(corpus, first.id, today)
    assert set(shown) <= questions
    assert len(set(shown)) == EXAMPLES
    own = [e.question for e in corpus if first.id in e.variants]
    assert own, "the sample corpus has answers of this compound's own"
    assert own[0] in shown  # the compound's own answers are shown off first

    # An example asked (addressed): the answer is labelled in Chinese, never with a code.
    await examples.first.click()
    reply = page.locator(".log:not([hidden]) .row:not(.me)").last
    await expect(reply.locator(".kind")).to_have_text(KIND_LABELS[ReplyKind.FAQ])
    await expect(reply.locator(".meta")).to_contain_text("邻里 → 王阿姨")
    assert sent[-1]["mentioned"] is True
    assert sent[-1]["text"] == shown[0]

    # Not addressed: the message goes out without the mention and the bot stays quiet.
    await page.get_by_role("button", name="不@").click()
    await page.get_by_label("消息").fill(CHATTER)
    await page.get_by_role("button", name="发送").click()
    await expect(page.locator(".log:not([hidden]) .silent").last).to_contain_text("没有@它")
    assert sent[-1]["mentioned"] is False
    assert sent[-1]["text"] == CHATTER

    # A second resident in the same group: both are in this chat's log.
    await page.get_by_role("button", name="李叔叔").click()
    await page.get_by_role("button", name="@邻里").click()
    await page.get_by_label("消息").fill(shown[1])
    await page.get_by_role("button", name="发送").click()
    await expect(page.locator(".log:not([hidden]) .row.me").last).to_contain_text("李叔叔")
    await expect(page.locator(".log:not([hidden]) .row:not(.me)").last).to_contain_text(
        "邻里 → 李叔叔"
    )
    assert sent[-1]["sender"] != sent[0]["sender"]
    assert sent[-1]["chat"] == sent[0]["chat"]
    log = await visible_log(page)
    assert "王阿姨" in log
    assert "李叔叔" in log
    assert not CODES.search(await page.locator("body").inner_text())
    await screenshot(page, f"try-{'phone' if viewport is PHONE else 'desktop'}.png")

    # Another compound's group has its own log and its own greeting.
    second = committee.compounds[1]
    await page.locator("#chat").select_option(label=f"{second.name}居民群")
    log = await visible_log(page)
    assert CHATTER not in log
    assert second.name in log
    other = page.locator(".log:not([hidden]) .greeting .examples button")
    assert await other.all_inner_texts() == example_questions(corpus, second.id, today)

    facts = await page.evaluate(OVERFLOW_AND_TARGETS)
    assert facts["innerWidth"] == viewport["width"], facts  # a phone did not zoom out
    assert facts["scrollWidth"] <= facts["innerWidth"], facts
    if viewport is PHONE:
        assert facts["small"] == [], facts

    # The console is one tap away.
    await page.get_by_role("link", name="社工工作台").click()
    await expect(page.get_by_label("用户名")).to_be_visible()
    await page.context.close()


async def test_the_try_page_says_tickets_and_refusals_in_chinese(
    site: Site, browser: Browser
) -> None:
    """A ticket's status and priority, and a message the server refuses (store down, too
    long), are told in Chinese: never "new", "urgent" or the API's English error text."""
    page = await open_try(browser, site, DESKTOP)
    await page.locator("#chat").select_option(label="私聊邻里")
    await page.get_by_label("消息").fill("我不想活了")
    await page.get_by_role("button", name="发送").click()
    ticket = page.locator(".log:not([hidden]) .row:not(.me)").last
    await expect(ticket).to_contain_text("待受理")
    await expect(ticket).to_contain_text("紧急")
    body = await page.locator("body").inner_text()
    assert not re.search(r"\b(new|urgent|normal)\b", body), body

    async def store_down(route: Any) -> None:
        await route.fulfill(
            status=503,
            content_type="application/json",
            body='{"error": "service temporarily unavailable, please retry later"}',
        )

    await page.route("**/try/messages", store_down)
    await page.get_by_label("消息").fill("湿垃圾几点扔")
    await page.get_by_role("button", name="发送").click()
    await expect(page.locator(".log:not([hidden])")).to_contain_text("稍后再发一次")
    assert "unavailable" not in await page.locator("body").inner_text()
    await page.context.close()
