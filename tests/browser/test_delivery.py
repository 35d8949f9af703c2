"""Delivery status in a real browser, at a desk and on a caseworker's phone: a reply to a
resident whose channel cannot receive pushes is shown as 无法送达 (with a copy button to send
it by phone), a reply WeChat refuses is shown as 发送失败 with WeChat's error, and
"重新发送" sends it once: the resident gets it, the status becomes 已发送, and a second click
from a page opened before sends nothing."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from channel_helpers import OPENID
from playwright.async_api import Browser, Page, expect

from bot import appkeys
from bot.storage.conversations import Mode

from .conftest import CUSTOM_SEND, Site, log_in, screenshot
from .test_phone import DESKTOP, PHONE, context_at, layout

pytestmark = pytest.mark.browser

WEBHOOK_RESIDENT = "delivery-resident"
TO_WEBHOOK = "王阿姨，楼道灯明天上午修，修好后我再告诉您。"
TO_WECHAT = "您好，我是社工王芳，下午三点我到您家看看漏水的情况。"
REFUSED = {"errcode": 45015, "errmsg": "response out of time limit"}


def href(site: Site, key: str) -> str:
    return site.url("/console/conversations/" + quote(key, safe=":@"))


async def waiting_keys(site: Site) -> tuple[str, str]:
    """Residents asking for a person on the webhook (it cannot push: no gateway) and on the
    Official Account; their conversation keys."""
    assert await site.webhook(WEBHOOK_RESIDENT, "转人工")
    assert "社工" in await site.wechat("我要找社工，转人工")
    waiting = await site.app[appkeys.CONVERSATIONS].recent("puxiong", (Mode.WAITING,))
    [webhook] = [c.key for c in waiting if c.sender_id == WEBHOOK_RESIDENT]
    [wechat] = [c.key for c in waiting if c.sender_id == OPENID]
    return webhook, wechat


async def send_reply(page: Page, text: str) -> None:
    await page.get_by_label("回复居民").fill(text)
    await page.get_by_role("button", name="发送", exact=True).click()
    await expect(page.locator(".msg-staff .body").last).to_have_text(text)


async def test_reply_status_undeliverable_failed_and_retried(site: Site, browser: Browser) -> None:
    webhook, wechat = await waiting_keys(site)

    # --- at the desk: a reply the webhook cannot push is 无法送达 --------------------------
    desk = await context_at(browser, DESKTOP)
    await desk.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.base_url)
    page = await desk.new_page()
    await log_in(page, site, "wangfang")
    await page.goto(href(site, webhook))
    await send_reply(page, TO_WEBHOOK)
    staff = page.locator(".msg-staff").last
    await expect(staff.locator(".delivery")).to_have_text("无法送达")
    await expect(staff.locator(".delivery-error")).to_contain_text("居民没有收到这条回复")
    await expect(staff.get_by_role("button", name="重新发送")).to_have_count(0)
    # The bot's own answer went back in the webhook's response.
    await expect(page.locator(".msg-out .delivery").first).to_have_text("被动回复")
    copy = staff.locator("button.copy")
    await expect(copy).to_have_text("复制内容，电话告知居民")
    await copy.click()
    await expect(copy).to_have_text("已复制")
    assert await page.evaluate("navigator.clipboard.readText()") == TO_WEBHOOK
    await layout(page, DESKTOP)
    await screenshot(page, "delivery-undeliverable-desktop.png")

    # --- WeChat refuses the next reply: 发送失败 with WeChat's error ----------------------
    site.platform.fail[CUSTOM_SEND] = [(200, REFUSED)]
    await page.goto(href(site, wechat))
    await send_reply(page, TO_WECHAT)
    staff = page.locator(".msg-staff").last
    await expect(staff.locator(".delivery")).to_have_text("发送失败")
    await expect(staff.locator(".delivery-error")).to_have_text(
        "平台返回：wechat custom send: errcode 45015 response out of time limit（错误码 45015）"
    )
    await expect(staff.get_by_role("button", name="重新发送")).to_be_visible()
    await layout(page, DESKTOP)
    await screenshot(page, "delivery-failed-desktop.png")
    assert site.pushed_to_resident().count(TO_WECHAT) == 1  # the refused attempt

    # --- on the phone: the same conversation, retried ---------------------------------------
    phone = await context_at(browser, PHONE)
    mobile = await phone.new_page()
    await log_in(mobile, site, "wangfang")
    await mobile.goto(href(site, wechat))
    failed = mobile.locator(".msg-staff").last
    await expect(failed.locator(".delivery")).to_have_text("发送失败")
    facts = await layout(mobile, PHONE)
    assert facts["small"] == [], facts
    assert facts["narrow"] == [], facts
    await screenshot(mobile, "delivery-failed-phone.png")
    await failed.get_by_role("button", name="重新发送").click()
    await expect(mobile.locator("p.notice")).to_have_text("已重新发送，居民已收到这条回复。")
    sent = mobile.locator(".msg-staff").last
    await expect(sent.locator(".delivery")).to_have_text("已发送")
    await expect(sent.locator(".delivery-error")).to_have_count(0)
    await expect(sent.get_by_role("button", name="重新发送")).to_have_count(0)
    assert site.pushed_to_resident().count(TO_WECHAT) == 2  # refused once, delivered once
    await screenshot(mobile, "delivery-retried-phone.png")

    # The desk still shows the old page: its click sends nothing and says why.
    await staff.get_by_role("button", name="重新发送").click()
    await expect(page.locator("p.notice")).to_have_text(
        "这条回复已经重发过或正在重发，没有再次发送。"
    )
    await expect(page.locator(".msg-staff .delivery").last).to_have_text("已发送")
    assert site.pushed_to_resident().count(TO_WECHAT) == 2

    # The undeliverable reply on the phone: labelled, copyable, laid out for the screen.
    await mobile.goto(href(site, webhook))
    await expect(mobile.locator(".msg-staff .delivery").last).to_have_text("无法送达")
    await expect(
        mobile.locator(".msg-staff").last.get_by_role("button", name="复制内容，电话告知居民")
    ).to_be_visible()
    facts = await layout(mobile, PHONE)
    assert facts["small"] == [], facts
    assert facts["narrow"] == [], facts
    await screenshot(mobile, "delivery-undeliverable-phone.png")

    # The dashboard counts them for today, per channel, on the phone too.
    await mobile.goto(site.url("/console/dashboard"))
    table = mobile.locator("#deliveries")
    await expect(
        table.locator("tr", has_text="接入网关").locator('td[data-label="无法送达"]')
    ).to_have_text("1")
    wechat_row = table.locator("tr", has_text="微信公众号")
    await expect(wechat_row.locator('td[data-label="已发送"]')).to_have_text("1")
    await expect(wechat_row.locator('td[data-label="发送失败"]')).to_have_text("0")
    await layout(mobile, PHONE)
    await screenshot(mobile, "delivery-dashboard-phone.png")
    await phone.close()
    await desk.close()
