"""The console on a caseworker's phone (375×812) and on a desktop: the inbox, a conversation
and a ticket are laid out for the screen (no sideways scrolling, tables as cards on the
phone, tap targets of at least 44 px, no column so narrow its text runs vertically, the
reply box on screen while the chat scrolls), and "我来处理" takes an urgent ticket or a
waiting conversation for the signed-in caseworker."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from bot import appkeys
from bot.domain.tickets import TicketStatus
from bot.storage.conversations import Mode

from .conftest import STEP_TIMEOUT_MS, Site, log_in, screenshot

pytestmark = pytest.mark.browser

PHONE = ViewportSize(width=375, height=812)
DESKTOP = ViewportSize(width=1280, height=900)
EMERGENCY = "电梯困人了，4号楼电梯里有人被关住了"
WAITING_SENDER = "phone-resident"
LONG_STORY = (
    "我家楼上这几个月一直在半夜拖家具、敲敲打打，我们老两口每天晚上都睡不好，"
    "上门沟通过好几次也没有用，想请社工帮忙协调一下。"
)

LAYOUT = """() => {
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none";
  };
  const describe = (el) => el.tagName.toLowerCase() + "." + el.className + " '"
    + (el.textContent || el.value || "").trim().slice(0, 20) + "'";
  const targets = [...document.querySelectorAll(
    "a, button, select, textarea, input:not([type=hidden]):not([type=checkbox]), label.check"
  )].filter(visible);
  const small = targets.filter((el) => {
    const r = el.getBoundingClientRect();
    return r.height < 44 || r.width < 44;
  }).map(describe);
  // Text narrower than four characters of its own font would run vertically: every element
  // in the page's cells and facts holding more than four characters of its own text.
  const ownText = (el) => [...el.childNodes]
    .filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent.trim()).join("");
  const cells = [...document.querySelectorAll(
    "td, td *, dd, dd *, .body, .alert-item *, .msg *, .events *"
  )].filter(visible);
  const narrow = cells.filter((el) => {
    const em = parseFloat(getComputedStyle(el).fontSize);
    return ownText(el).length > 4 && el.getBoundingClientRect().width < 4 * em;
  }).map(describe);
  // In a card every value sits beside its label, never under it in the label's column.
  const misplaced = [];
  for (const td of document.querySelectorAll("table.cards td[data-label]:not(.lead)")) {
    if (!visible(td) || getComputedStyle(td).display === "table-cell") { continue; }
    const left = td.getBoundingClientRect().left + 4.5 * parseFloat(getComputedStyle(td).fontSize);
    for (const el of [td, ...td.querySelectorAll("*")]) {
      if (el.closest("form.take")) { continue; }
      for (const n of el.childNodes) {
        if (n.nodeType !== Node.TEXT_NODE || !n.textContent.trim()) { continue; }
        const range = document.createRange();
        range.selectNodeContents(n);
        for (const r of range.getClientRects()) {
          if (r.width > 0 && r.left < left) { misplaced.push(describe(el)); }
        }
      }
    }
  }
  const rows = [...document.querySelectorAll("table.list tbody tr")].filter(visible);
  const heads = [...document.querySelectorAll("table.list thead")].filter(visible);
  return {
    scrollWidth: document.scrollingElement.scrollWidth,
    innerWidth: window.innerWidth,
    small, narrow, misplaced,
    rowDisplays: [...new Set(rows.map((r) => getComputedStyle(r).display))],
    rowWidths: rows.map((r) => Math.round(r.getBoundingClientRect().width)),
    headsShown: heads.length,
  };
}"""


async def layout(page: Page, viewport: ViewportSize) -> dict[str, Any]:
    """The page's layout facts, once it is checked to fit the screen: nothing scrolls
    sideways and the browser did not widen the page to fit it (a phone zooms out to show a
    page wider than the screen, making ``innerWidth`` the page's width)."""
    facts: dict[str, Any] = await page.evaluate(LAYOUT)
    assert facts["innerWidth"] == viewport["width"], facts
    assert facts["scrollWidth"] <= facts["innerWidth"], facts
    return facts


async def context_at(browser: Browser, viewport: ViewportSize) -> BrowserContext:
    ctx = await browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport=viewport,
        is_mobile=viewport is PHONE,
        has_touch=viewport is PHONE,
    )
    ctx.set_default_timeout(STEP_TIMEOUT_MS)
    return ctx


async def seed(site: Site) -> tuple[str, str]:
    """An urgent ticket nobody claimed (an emergency on WeChat) and a resident waiting for a
    caseworker with a long story; returns (ticket number, conversation key)."""
    await site.wechat(EMERGENCY)
    urgent = [
        i.ticket
        for i in await site.app[appkeys.TICKETS].queries.inbox("puxiong")
        if i.ticket.category.value == "emergency"
    ]
    assert len(urgent) == 1
    assert urgent[0].assignee is None
    assert await site.webhook(WAITING_SENDER, "转人工")
    for n in range(6):
        assert await site.webhook(WAITING_SENDER, f"（第{n + 1}条）{LONG_STORY}") == []
    waiting = await site.app[appkeys.CONVERSATIONS].recent("puxiong", (Mode.WAITING,))
    keys = [c.key for c in waiting if c.sender_id == WAITING_SENDER]
    assert len(keys) == 1
    return urgent[0].number, keys[0]


async def test_the_console_on_a_phone_and_a_desktop(site: Site, browser: Browser) -> None:
    number, key = await seed(site)

    # --- desktop: the same pages, tables stay tables, nothing scrolls sideways -------------
    desk = await context_at(browser, DESKTOP)
    page = await desk.new_page()
    await log_in(page, site, "zhouadmin")
    facts = await layout(page, DESKTOP)
    assert facts["rowDisplays"] == ["table-row"], facts
    assert facts["headsShown"] == 2, facts
    assert facts["narrow"] == [], facts
    await screenshot(page, "inbox-desktop.png")
    await page.goto(site.url("/console/conversations/" + key))
    await layout(page, DESKTOP)
    await screenshot(page, "conversation-desktop.png")
    await page.goto(site.url("/console/tickets/" + number))
    await layout(page, DESKTOP)
    await screenshot(page, "ticket-desktop.png")
    await desk.close()

    # --- phone: cards, tap targets, "我来处理" ---------------------------------------------
    ctx = await context_at(browser, PHONE)
    page = await ctx.new_page()
    await log_in(page, site, "wangfang")
    facts = await layout(page, PHONE)
    assert facts["rowDisplays"] == ["block"], facts  # every row is a card
    assert facts["headsShown"] == 0, facts
    assert facts["rowWidths"], facts
    assert min(facts["rowWidths"]) >= 300, facts
    assert facts["small"] == [], facts
    assert facts["narrow"] == [], facts
    assert facts["misplaced"] == [], facts
    # A card names what each value is (the table's header is hidden).
    card = page.locator("#open-tickets tr", has_text=number)
    labels = await card.locator("td[data-label]").evaluate_all(
        "tds => tds.map(td => getComputedStyle(td, '::before').content)"
    )
    assert '"类别"' in labels, labels
    assert '"时限"' in labels, labels
    await screenshot(page, "inbox-phone.png")

    # 我来处理 on the urgent ticket: it is claimed for 王芳 and her phone shows the ticket.
    take = card.get_by_role("button", name="我来处理")
    await expect(take).to_be_visible()
    await take.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"工单 {number}")
    await expect(page.locator(".facts")).to_contain_text("王芳")
    ticket = await site.app[appkeys.TICKETS].queries.get("puxiong", number)
    assert ticket.status is TicketStatus.CLAIMED
    assert ticket.assignee is not None
    assert ticket.assignee.name == "王芳"
    facts = await layout(page, PHONE)
    assert facts["small"] == [], facts
    assert facts["narrow"] == [], facts
    await screenshot(page, "ticket-phone.png")

    # Back in the inbox the claimed ticket offers no "我来处理"; the waiting resident does.
    await page.goto(site.url("/console/"))
    claimed = page.locator("#open-tickets tr", has_text=number)
    await expect(claimed.get_by_role("button", name="我来处理")).to_have_count(0)
    waiting = page.locator("#waiting tr", has_text="等待社工")
    await expect(waiting).to_have_count(1)
    await waiting.get_by_role("button", name="我来处理").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("的会话")
    await expect(page.locator(".facts")).to_contain_text("社工接待中")
    conv = await site.app[appkeys.CONVERSATIONS].get(key)
    assert conv is not None
    assert (conv.mode, conv.assignee_name) == (Mode.HUMAN, "王芳")

    facts = await layout(page, PHONE)
    assert facts["small"] == [], facts
    assert facts["narrow"] == [], facts
    # The chat is longer than the screen; reading its first message, the reply box is on
    # screen (sticky at the bottom), above the fold.
    assert await page.evaluate("document.scrollingElement.scrollHeight") > 2 * PHONE["height"]
    first = page.locator(".chat .msg").first
    await first.scroll_into_view_if_needed()
    await page.evaluate("document.querySelector('.chat .msg').scrollIntoView({block: 'start'})")
    box = await page.locator("#reply-box").bounding_box()
    shown = await first.bounding_box()
    assert box is not None
    assert shown is not None
    assert box["y"] >= 0, box
    assert box["y"] + box["height"] <= PHONE["height"] + 1, box
    assert shown["y"] < box["y"], (shown, box)
    await screenshot(page, "conversation-phone.png")
    # It works from there.
    await page.get_by_label("回复居民").fill("您好，我是社工王芳，马上联系您楼上的住户。")
    await page.get_by_role("button", name="发送").click()
    await expect(page.locator(".chat .msg-staff .body").last).to_contain_text("王芳")
    await ctx.close()
