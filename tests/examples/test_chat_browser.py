"""End to end: the chat example in headless Chromium, two pages on two server processes
joined by the Redis broadcast, exchanging messages both ways.

Chromium comes from Debian (``apt-get install -y chromium``); ``scripts/test`` installs it
when it is missing and the test run may use apt-get; otherwise this test is skipped with
that reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .cdp import browser, chromium_path
from .chat_servers import chat_servers

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.skipif(
        chromium_path() is None,
        reason="chromium is not installed (apt-get install -y chromium, or run scripts/test)",
    ),
]

STATUS = "document.getElementById('status').textContent === 'connected'"


def say(name: str, text: str) -> str:
    return (
        f"document.getElementById('name').value = {name!r};"
        f"document.getElementById('text').value = {text!r};"
        "document.getElementById('send').click(); true"
    )


def heard(text: str) -> str:
    return f"document.getElementById('log').textContent.includes({text!r})"


async def test_two_browser_pages_chat_across_two_servers(tmp_path: Path) -> None:
    with chat_servers(2) as (first, second):
        async with browser(tmp_path / "profile") as devtools:
            one = await devtools.open(first + "/?room=e2e")
            two = await devtools.open(second + "/?room=e2e")
            await one.wait_for(STATUS)
            await two.wait_for(STATUS)
            await one.evaluate(say("ada", "hello from page one"))
            await two.wait_for(heard("hello from page one"))
            await one.wait_for(heard("hello from page one"))
            await two.evaluate(say("bob", "<b>hi</b> from page two"))
            await one.wait_for(heard("<b>hi</b> from page two"))
            # Text stays text: the page never turns a message into markup.
            assert await one.evaluate("document.querySelectorAll('#log b').length") == 0
            await two.screenshot(tmp_path / "page-two.png")
            assert (tmp_path / "page-two.png").stat().st_size > 1000
