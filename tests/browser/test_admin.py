"""An admin in a real browser: edits an FAQ answer and the bot answers residents with the new
text; opens the dashboard after some traffic and sees its charts."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from playwright.async_api import Page, expect

from bot import appkeys

from .conftest import Site, log_in, screenshot

pytestmark = pytest.mark.browser

FAQ_ID = "committee-election"
QUESTION = "居委会换届选举，我有选举权吗？"
OLD_MARK = "年满十八周岁"
NEW_WAIT_S = 10.0
"""How soon residents must get an edited answer."""


async def answer_containing(site: Site, question: str, mark: str) -> list[str]:
    """Ask (as a new resident each time) until the bot's answer contains ``mark``."""
    attempt = 0
    async with asyncio.timeout(NEW_WAIT_S):
        while True:
            attempt += 1
            replies = await site.webhook(f"faq-{uuid.uuid4().hex[:8]}-{attempt}", question)
            if any(mark in r for r in replies):
                return replies
            await asyncio.sleep(0.25)


async def test_an_admin_edits_an_faq_and_residents_get_the_new_answer(
    site: Site, page: Page
) -> None:
    before = await site.webhook("faq-before", QUESTION)
    assert any(OLD_MARK in r for r in before), before
    mark = f"核对码{uuid.uuid4().hex[:6]}"
    new_answer = (
        "居委会每五年换届一次，年满十八周岁、住在本居住地区的居民都可以来居委会办理选民登记，"
        f"具体时间见小区公告栏（{mark}）。"
    )

    await log_in(page, site, "zhouadmin")
    await page.goto(site.url(f"/console/faqs/{FAQ_ID}"))
    form = page.locator("#faq-form")
    await expect(form).to_be_visible()
    answer = form.locator("textarea[name=answer]")
    await expect(answer).to_contain_text(OLD_MARK)
    await answer.fill(new_answer)
    await page.locator("#faq-save").click()
    await page.wait_for_load_state()
    await expect(page.get_by_role("alert")).to_have_count(0)

    # Saved: the edit page shows it again and the store holds it.
    await page.goto(site.url(f"/console/faqs/{FAQ_ID}"))
    await expect(page.locator("#faq-form textarea[name=answer]")).to_have_value(new_answer)
    rows = await site.app[appkeys.FAQ_STORE].load("puxiong")
    [row] = [r for r in rows if r["id"] == FAQ_ID]
    assert row["answer"] == new_answer

    # Residents get the new text within seconds, and never the old one again.
    replies = await answer_containing(site, QUESTION, mark)
    assert not any("享有政治权利" in r for r in replies)
    again = await site.webhook("faq-after", QUESTION)
    assert any(mark in r for r in again), again


async def test_the_dashboard_shows_charts_after_some_traffic(site: Site, page: Page) -> None:
    for n, text in enumerate(
        [QUESTION, "湿垃圾几点可以扔", "我要找社工，转人工", "电梯困人了，4号楼电梯里有人被关住了"]
    ):
        assert await site.webhook(f"dash-{n}", text)
    await site.wechat("楼道里有很重的煤气味，好像哪里漏气了")

    await log_in(page, site, "zhouadmin")
    await page.goto(site.url("/console/dashboard"))
    dashboard = page.locator("#dashboard")
    await expect(dashboard).to_be_visible()
    charts = dashboard.locator("svg.chart")
    await expect(charts.first).to_be_visible()
    assert await charts.count() >= 1
    box = await charts.first.bounding_box()
    assert box is not None
    assert box["width"] > 100
    assert box["height"] > 50
    await screenshot(page, "dashboard.png")
