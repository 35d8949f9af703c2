"""A caseworker's shift in a real browser: log in, watch an emergency arrive live in the
inbox, take the conversation over, answer the resident (who receives it on WeChat), hand it
back to the bot and resolve the emergency ticket."""

from __future__ import annotations

import asyncio
import re

import pytest
from channel_helpers import OPENID
from playwright.async_api import Dialog, Page, expect

from bot import appkeys
from bot.domain.tickets import TicketStatus
from bot.storage.conversations import Mode

from .conftest import Site, log_in, screenshot

pytestmark = pytest.mark.browser

EMERGENCY = "电梯困人了，4号楼电梯里有人被关住了"
HOSTILE = "<script>alert(1)</script> 维保的人大概什么时候能到？"
REPLY = "您好，我是社工王芳，维保人员10分钟内到，请让被困的人按下警铃并保持冷静。"
SUMMARY = "维保单位已将被困居民救出，电梯停用检修。"


async def wait_for_push(site: Site, containing: str) -> list[str]:
    """Every message pushed to the resident's WeChat, once one containing ``containing``
    has arrived."""
    arrived = site.platform.arrived
    async with asyncio.timeout(10):
        while not any(containing in text for text in site.pushed_to_resident()):
            arrived.clear()
            await arrived.wait()
    return site.pushed_to_resident()


async def test_a_caseworker_handles_a_live_emergency_from_the_inbox(site: Site, page: Page) -> None:
    dialogs: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    await log_in(page, site, "wangfang")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("普雄路居委会")
    await expect(page.locator("#live-status")).to_contain_text("实时提醒已连接")
    await expect(page.locator("#live-feed li")).to_have_count(0)

    # A resident who never wrote before reports an emergency on the Official Account while
    # the inbox is open (their first message: no conversation existed until now).
    answer = await site.wechat(EMERGENCY)
    assert "警铃" in answer or "110" in answer, answer
    number = re.search(r"紧急工单 (\S+?)，", answer)
    assert number, answer

    # It appears without a reload.
    item = page.locator("#live-feed li.feed-emergency")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("紧急求助")
    await expect(item).to_contain_text("4号楼电梯里有人被关住了")
    await expect(item.get_by_role("link", name=f"工单 {number.group(1)}")).to_be_visible()
    await screenshot(page, "inbox.png")

    # Open the conversation and take it over.
    await item.get_by_role("link", name="打开会话").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("的会话")
    await expect(page.locator(".chat")).to_contain_text(EMERGENCY)
    await page.get_by_role("button", name="接手会话").click()
    await expect(page.locator(".facts")).to_contain_text("社工接待中")
    await expect(page.locator(".facts")).to_contain_text("王芳")
    await expect(page.get_by_role("button", name="接手会话")).to_have_count(0)

    # The resident writes again (the bot stays silent); the text is shown as text.
    assert await site.wechat(HOSTILE) == ""
    await page.reload()
    await expect(page.locator(".chat .msg-in .body").last).to_have_text(HOSTILE)
    await expect(page.locator(".chat script")).to_have_count(0)

    # Reply: the resident's WeChat receives exactly the text.
    await page.get_by_label("回复居民").fill(REPLY)
    await page.get_by_role("button", name="发送").click()
    await expect(page.locator(".chat .msg-staff .body").last).to_have_text(REPLY)
    assert await wait_for_push(site, REPLY) == [REPLY]
    await screenshot(page, "conversation.png")
    assert dialogs == []

    conversations = site.app[appkeys.CONVERSATIONS]
    conv = await conversations.get(f"puxiong:wechat_mp:demo:p:{OPENID}")
    assert conv is not None
    assert (conv.mode, conv.assignee_name) == (Mode.HUMAN, "王芳")

    # Hand it back to the bot; the resident is told.
    await page.get_by_role("button", name="结束人工，交还机器人").click()
    await expect(page.locator(".facts")).to_contain_text("机器人接待")
    pushed = await wait_for_push(site, "社工已结束本次对话")
    assert pushed[0] == REPLY
    assert len(pushed) == 2
    conv = await conversations.get(conv.key)
    assert conv is not None
    assert conv.mode is Mode.BOT

    # Resolve the emergency ticket from the conversation page.
    await page.get_by_role("link", name=number.group(1)).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"工单 {number.group(1)}")
    await expect(page.locator(".facts")).to_contain_text("紧急")
    await page.get_by_role("button", name="受理此工单").click()
    await expect(page.locator(".facts")).to_contain_text("王芳")
    await page.get_by_label("办结说明").fill(SUMMARY)
    await page.get_by_role("button", name="办结", exact=True).click()
    status = page.locator(".facts dt:text-is('状态') + dd")
    await expect(status).to_have_text("已办结")
    await expect(page.locator(".events")).to_contain_text(SUMMARY)
    await expect(page.get_by_role("button", name="办结", exact=True)).to_have_count(0)
    ticket = await site.app[appkeys.TICKETS].queries.get("puxiong", number.group(1))
    assert ticket.status is TicketStatus.RESOLVED

    # Back in the inbox the ticket is no longer waiting.
    await page.get_by_role("link", name="← 返回待办").click()
    await expect(page.locator("#live-status")).to_contain_text("实时提醒已连接")
    open_tickets = page.locator("section", has=page.get_by_role("heading", name="未办结工单"))
    await expect(open_tickets).not_to_contain_text(number.group(1))
    # Its alert shows as taken (claiming the ticket acknowledged it): no "我来处理" left.
    alerts = page.locator("#alerts")
    await expect(alerts).to_contain_text("王芳")
    await expect(alerts.get_by_role("button", name="我来处理")).to_have_count(0)

    # The resident hears about it on WeChat and is asked to rate it.
    pushed = await wait_for_push(site, SUMMARY)
    told = [text for text in pushed if SUMMARY in text]
    assert len(told) == 1
    assert "已办结" in told[0]
    assert "满意" in told[0]
    assert dialogs == []
