"""The notice pages in a browser, at a desk (1280 px) and on a caseworker's phone (375 px): a
caseworker writes a 停水 notice for one building in the form and sends it; the notice page
shows the households in range, the follow-up list with the 独居 household first (nobody was
reachable privately: this site has no push gateway) and records a visit, after which that
household moves below the ones nobody has told yet; the list, the form
and the notice fit a phone's screen with tables as cards and tap targets of 44 px."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from bot import appkeys
from bot.domain.tickets import Actor
from bot.storage.households import HouseholdRecord

from .conftest import CUSTOM_SEND, Site, log_in, screenshot
from .test_phone import DESKTOP, PHONE, context_at, layout

pytestmark = pytest.mark.browser

STAFF = Actor.caseworker("0", "导入")


async def seed(site: Site) -> None:
    """普雄馨苑 20号楼 and 21号楼, two rooms each; 20号楼1201 lives alone (独居), 802 is 高龄."""
    households = site.app[appkeys.HOUSEHOLDS]
    records = [
        HouseholdRecord("puxiongxinyuan", f"{b}号楼", "", f"{r}室", 58.5, labels)
        for b in (20, 21)
        for r, labels in ((802, ("高龄",)), (1201, ("独居",)))
    ]
    await households.import_records("puxiong", records, STAFF)


async def test_notice_pages_at_a_desk_and_on_a_phone(site: Site, browser: Browser) -> None:
    await seed(site)
    ctx = await context_at(browser, DESKTOP)
    page = await ctx.new_page()
    await log_in(page, site, "wangfang")
    await page.get_by_role("link", name="通知", exact=True).click()
    await expect(page.locator("h1")).to_have_text("通知")
    await page.locator("#new-notice").click()
    await page.get_by_label("类别").select_option(label="停水")
    await page.get_by_label("标题").fill("20号楼12月6日停水")
    await page.get_by_label("通知全文").fill(
        "因二次供水水箱清洗，20号楼明天8:00至17:00停水，请提前储水。"
    )
    await page.get_by_label("范围", exact=True).select_option("buildings")
    await page.locator("#building_compound").select_option(label="普雄馨苑")
    await page.locator("#buildings").fill("20")
    await screenshot(page, "notice-new-desktop.png")
    await page.locator("#notice-send").click()
    await page.wait_for_url(re.compile(r"/console/notices/\d+$"))
    await expect(page.locator("h1")).to_have_text("20号楼12月6日停水")
    await expect(page.locator("#total-households")).to_have_text("2")
    rows = page.locator("#follow-up-list tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0)).to_contain_text("普雄馨苑20号楼1201室")
    await expect(rows.nth(0)).to_contain_text("独居")
    await expect(rows.nth(1)).to_contain_text("高龄")
    first = rows.nth(0)
    await first.get_by_label("回访结果").select_option(label="已上门告知")
    await first.get_by_label("备注").fill("已当面告知，帮忙接了两桶水")
    await first.get_by_role("button", name="记录").click()
    await expect(page.locator("#notice-done")).to_contain_text("已记录：已上门告知")
    # Told by a visit: still listed, after the households nobody has told yet.
    after = page.locator("#follow-up-list tbody tr")
    await expect(after.nth(0)).to_contain_text("普雄馨苑20号楼802室")
    await expect(after.nth(1)).to_contain_text("已上门告知：已当面告知，帮忙接了两桶水（王芳")
    facts = await layout(page, DESKTOP)
    assert facts["rowDisplays"] == ["table-row"], facts
    await screenshot(page, "notice-desktop.png")
    notice_url = page.url
    await ctx.close()

    # The same pages on a phone.
    ctx = await context_at(browser, PHONE)
    page = await ctx.new_page()
    await log_in(page, site, "wangfang")
    for path, name in (
        ("/console/notices", "notices-phone.png"),
        ("/console/notices/new", "notice-new-phone.png"),
        (notice_url.removeprefix(site.base_url), "notice-phone.png"),
    ):
        await page.goto(site.url(path))
        facts = await layout(page, PHONE)
        assert facts["small"] == [], facts
        assert facts["narrow"] == [], facts
        assert facts["misplaced"] == [], facts
        if path != "/console/notices/new":
            assert facts["rowDisplays"] == ["block"], facts  # every row is a card
        await screenshot(page, name)
    await expect(page.locator("#follow-up-list tbody tr").nth(1)).to_contain_text("独居")
    await ctx.close()


async def test_a_resident_reads_and_acknowledges_a_notice_on_a_phone(
    site: Site, browser: Browser
) -> None:
    """A caseworker saves a draft, edits it and sends it; the resident bound through the
    Official Account gets the notice privately with a link, opens it on a 375 px phone (the
    console shows the household read) and taps 收到 (acknowledged); the sent notice can no
    longer be edited."""
    await seed(site)
    await site.wechat("绑定门牌")
    await site.wechat("同意")
    assert "待核实" in await site.wechat("普雄馨苑20号楼1201")

    desk = await context_at(browser, DESKTOP)
    page = await desk.new_page()
    await log_in(page, site, "wangfang")
    await page.goto(site.url("/console/notices/new"))
    await page.get_by_label("类别").select_option(label="停水")
    await page.get_by_label("标题").fill("20号楼停水")
    await page.get_by_label("通知全文").fill("水箱清洗。")
    await page.get_by_label("范围", exact=True).select_option("buildings")
    await page.locator("#building_compound").select_option(label="普雄馨苑")
    await page.locator("#buildings").fill("20")
    await page.locator("#notice-draft").click()
    await page.wait_for_url(re.compile(r"/console/notices/\d+$"))
    notice_url = page.url
    # The draft is edited, then sent from the form.
    await page.locator("#notice-edit").click()
    await expect(page.locator("h1")).to_have_text("修改通知（草稿）")
    await expect(page.get_by_label("标题")).to_have_value("20号楼停水")
    await expect(page.locator("#buildings")).to_have_value("20号楼")
    await page.get_by_label("标题").fill("20号楼12月6日停水")
    await page.get_by_label("通知全文").fill(
        "因二次供水水箱清洗，20号楼明天8:00至17:00停水。\n请提前储水，17:00后放水几分钟再用。"
    )
    await page.locator("#notice-send").click()
    await expect(page.locator("#notice-done")).to_contain_text("已保存并开始发送")
    await expect(page.locator("h1")).to_have_text("20号楼12月6日停水")

    await site.platform.wait_for(CUSTOM_SEND)
    (text,) = [t for t in site.pushed_to_resident() if "20号楼12月6日停水" in t]
    found = re.search(r"(/notice/\S+)", text)
    assert found is not None, text

    # The resident opens the link on a phone: the notice in full, a big 收到 button.
    ctx = await context_at(browser, PHONE)
    resident = await ctx.new_page()
    await resident.goto(site.url(found[1]))
    await expect(resident.locator("#notice-title")).to_have_text("20号楼12月6日停水")
    await expect(resident.locator("h1")).to_have_text("普雄路居委会通知")
    await expect(resident.locator(".notice-kind")).to_have_text("停水")
    await expect(resident.locator("#notice-text")).to_contain_text("17:00后放水几分钟再用")
    button = resident.get_by_role("button", name="收到")
    await expect(button).to_be_visible()
    facts = await layout(resident, PHONE)
    assert facts["small"] == [], facts
    assert (await button.bounding_box() or {"height": 0})["height"] >= 56
    await screenshot(resident, "notice-read-phone.png")

    row = page.locator("#notice-households tbody tr", has_text="普雄馨苑20号楼1201室")
    await page.reload()
    await expect(row.locator("td[data-label=已读]")).to_have_text("已读")
    await expect(row.locator("td[data-label=确认]")).to_have_text("—")

    await button.click()
    await expect(resident.locator("#notice-acknowledged")).to_contain_text("已确认收到")
    await expect(resident.get_by_role("button", name="收到")).to_have_count(0)
    assert (await layout(resident, PHONE))["small"] == []
    await screenshot(resident, "notice-acknowledged-phone.png")
    await page.reload()
    await expect(row.locator("td[data-label=确认]")).to_have_text("已确认")
    await expect(page.locator("#total-acknowledged")).to_have_text("1")

    # Sent: no 修改 button, and the edit address goes back with the reason.
    await expect(page.locator("#notice-edit")).to_have_count(0)
    await page.goto(notice_url + "/edit")
    await expect(page.locator("#notice-error")).to_contain_text("不能再修改")
    await ctx.close()
    await desk.close()
