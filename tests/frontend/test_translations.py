"""The page and the note titles follow the browser's Accept-Language (Simplified Chinese ships)."""

# Chinese text uses full-width punctuation, which is what the page must show.
# ruff: noqa: RUF001

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.frontend.conftest import log_in, make_poster, screenshot
from tests.support.http import post_news

pytestmark = pytest.mark.timeout(60)


def test_a_chinese_browser_gets_the_page_and_the_toast_in_chinese(server, open_page, users):
    _li, token = make_poster("li")
    wang = users("wang", exact=True)
    english = users("emma")
    page = open_page(server, locale="zh-CN")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    log_in(page, wang.username)
    expect(page.locator("#notes-live .live-text")).to_have_text("实时")
    expect(page.get_by_role("heading", name="发布新闻")).to_be_visible()
    expect(page.get_by_role("button", name="退出")).to_be_visible()
    other = open_page(server, locale="en-US")
    log_in(other, english.username)

    news = post_news(server, token, "周五下午三点开会", "地点：三楼会议室。")

    # One note, each reader's own language: the title is rendered per socket.
    toast = page.locator(".toast", has_text="周五下午三点开会")
    expect(toast.locator(".toast-title")).to_have_text("li 发布了新闻：周五下午三点开会")
    expect(toast.locator("time")).to_have_text(re.compile(r"现在|\d+\s*秒钟?前"))
    expect(toast.get_by_role("button")).to_have_attribute("aria-label", "关闭")
    expect(page.locator("#notes-bell")).to_have_attribute("aria-label", "通知，1 条未读")
    expect(other.locator(".toast-title", has_text="周五")).to_have_text(
        "li posted news: 周五下午三点开会"
    )
    page.mouse.move(5, 400)
    screenshot(page, "toast-zh.png")

    page.locator("#notes-bell").click()
    inbox = page.locator("#notes-inbox")
    expect(inbox.get_by_role("button", name="全部标为已读")).to_be_visible()
    expect(inbox.locator(".inbox-title").first).to_have_text("li 发布了新闻：周五下午三点开会")
    assert news["title"] == "周五下午三点开会"
