"""征询意见 in a browser at phone size (375×812): a caseworker writes the lift-replacement
consultation in the console's form and publishes it; a resident opens the signed voting link
from the chat, reads the plan in full and votes with a tap; the page fits the screen (no
sideways scrolling, options and the button at least 44 px tall), shows the receipt, and the
used link refuses a second vote; the console shows the vote in the live tally, and the
printable result. Screenshots are saved with the others."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from bot import appkeys
from bot.storage.households import BindingStatus, HouseholdRecord

from .conftest import STEP_TIMEOUT_MS, Site, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["embedded"], indirect=True)]

PHONE = ViewportSize(width=375, height=812)
PLAN = (
    "20号楼两部电梯已运行28年，今年8月发生溜梯。经议事会讨论，拟整体更换为新电梯。"
    "费用约 96 万元，从本楼住宅专项维修资金中列支。施工期约 60 天，期间安排临时助老服务。"
)
FITS = """() => {
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const targets = [...document.querySelectorAll(
    "a, button, select, textarea, label.vote-option, "
    + "input:not([type=hidden]):not([type=radio]):not([type=checkbox])"
  )].filter(visible);
  return {
    scrollWidth: document.scrollingElement.scrollWidth,
    innerWidth: window.innerWidth,
    small: targets.filter((el) => el.getBoundingClientRect().height < 44)
      .map((el) => el.tagName + " " + (el.textContent || el.name || "").trim().slice(0, 12)),
  };
}"""


async def phone(browser: Browser) -> BrowserContext:
    ctx = await browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport=PHONE, is_mobile=True, has_touch=True
    )
    ctx.set_default_timeout(STEP_TIMEOUT_MS)
    return ctx


async def fits(page: Page, *, targets: bool = True) -> dict[str, Any]:
    facts: dict[str, Any] = await page.evaluate(FITS)
    assert facts["innerWidth"] == PHONE["width"], facts
    assert facts["scrollWidth"] <= facts["innerWidth"], facts
    if targets:
        assert facts["small"] == [], facts
    return facts


async def seed(site: Site) -> None:
    households = site.app[appkeys.HOUSEHOLDS]
    records = [
        HouseholdRecord("puxiongxinyuan", "20号楼", "", room, 58.5)
        for room in ("801室", "802室", "1201室")
    ]
    await households.store.import_households("puxiong", records)
    for sender, room in (("voter1", "801"), ("voter2", "802")):
        await site.webhook(sender, "绑定门牌")
        await site.webhook(sender, "同意")
        assert "待核实" in "".join(await site.webhook(sender, f"普雄馨苑20号楼{room}"))
    for b in await households.store.bindings("puxiong"):
        await households.store.decide(
            "puxiong", b.id, BindingStatus.VERIFIED, "t", "caseworker", b.created_at
        )


async def test_consultation_console_and_voting_page_on_a_phone(
    site: Site, browser: Browser
) -> None:
    await seed(site)
    ctx = await phone(browser)
    page = await ctx.new_page()
    await log_in(page, site, "wangfang")
    await page.get_by_role("link", name="征询意见").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("征询意见")
    await page.get_by_label("标题").fill("20号楼电梯更换方案征询")
    await page.get_by_label("方案全文").fill(PLAN)
    await page.get_by_label("小区", exact=True).select_option(label="普雄馨苑")
    await page.get_by_label("楼号").fill("20号楼")
    # The form's times are Shanghai wall-clock; the browser runs on Shanghai time.
    opens, closes = await page.evaluate(
        """() => {
            const p = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000)
              .toISOString().slice(0, 16);
            const now = new Date().getTime();
            return [p(new Date(now - 600000)), p(new Date(now + 5 * 86400000))];
        }"""
    )
    await page.get_by_label("开始时间").fill(opens)
    await page.get_by_label("截止时间").fill(closes)
    await page.get_by_label("表决规则").select_option("civil_majority")
    await fits(page, targets=False)
    await screenshot(page, "consultation-new-phone.png")
    await page.get_by_role("button", name="保存为草稿").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("20号楼电梯更换方案征询")
    await page.get_by_role("button", name="发布（确定范围内的户）").click()
    await expect(page.locator("#consultation-status")).to_have_text("投票中")
    await fits(page, targets=False)

    # The resident asks for the page in the chat and opens the signed link on the phone.
    replies = "".join(await site.webhook("voter1", "投票页面"))
    match = re.search(r"(/vote/\S+)", replies)
    assert match is not None, replies
    vote_url = site.url(match[1])
    resident = await (await phone(browser)).new_page()
    await resident.goto(vote_url)
    await expect(resident.get_by_role("heading", level=2)).to_have_text("20号楼电梯更换方案征询")
    await expect(resident.locator(".vote-plan")).to_contain_text("施工期约 60 天")
    await fits(resident)
    await screenshot(resident, "vote-phone.png")
    await resident.get_by_label("1. 同意").check()
    await resident.get_by_role("button", name="提交投票").click()
    await expect(resident.get_by_role("heading", level=2)).to_have_text("投票成功")
    await expect(resident.locator(".receipt-number")).to_have_text(
        re.compile(r"ZX\d{3}-[0-9A-F]{6}")
    )
    await fits(resident)
    await screenshot(resident, "vote-receipt-phone.png")
    # The link is used up: opening it again says so and offers no form.
    await resident.goto(vote_url)
    await expect(resident.locator(".vote-error")).to_contain_text("已经用过")
    await expect(resident.get_by_role("button", name="提交投票")).to_have_count(0)

    # The console's live tally shows the vote by household and by area.
    await page.reload()
    await expect(page.locator("#consultation-tally")).to_contain_text("已投票 1 户（58.5 ㎡）")
    row = page.locator("#consultation-households tr", has_text="普雄馨苑20号楼801室")
    await expect(row).to_contain_text("同意")
    await expect(row).to_contain_text("投票页面")
    await fits(page, targets=False)
    await screenshot(page, "consultation-phone.png")
    await page.get_by_role("link", name="打印结果（议事会、公告栏）").click()
    await expect(page.locator("#print-verdict")).to_contain_text("当前统计")
    await screenshot(page, "consultation-print.png")
