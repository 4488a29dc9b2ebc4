"""Screenshots of the chat widget for the docs: docs/images/widget.png and demo.png.

    .venv/bin/python scripts/screenshots.py

Starts the server in this process on a free port with a throw-away database, then drives
Debian's headless Chromium with Playwright (as the browser tests do): a Japanese
conversation in the widget on its own, and the demo broker page with the widget in its
corner. Japanese needs a CJK font on the machine (`apt-get install fonts-noto-cjk`), or it
is drawn as empty boxes.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatserver.app import create_app  # noqa: E402
from chatserver.settings import Settings  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS, missing_browser  # noqa: E402

IMAGES = ROOT / "docs" / "images"
TIMEOUT_MS = 15_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def converse(page: Any, widget: Any, texts: list[str]) -> None:
    """Send each text in `widget` (the page, or the frame holding the widget) and wait for
    the bot's reply to it."""
    for text in texts:
        bots = await widget.locator(".msg--bot").count()
        await widget.locator("#input").fill(text)
        await widget.locator("#input").press("Enter")
        await widget.locator(".msg--bot").nth(bots).wait_for(timeout=TIMEOUT_MS)
    await widget.locator(".msg.is-pending").first.wait_for(state="detached", timeout=TIMEOUT_MS)
    await page.wait_for_timeout(400)  # let the last message's entrance animation finish


async def shoot(base: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                locale="ja-JP", viewport={"width": 400, "height": 720}, device_scale_factor=2
            )
            page = await context.new_page()
            await page.goto(f"{base}/widget/")
            await page.locator(".msg--bot").first.wait_for(timeout=TIMEOUT_MS)
            await converse(page, page, ["MT5のパスワードを忘れました", "パスワード"])
            await page.screenshot(path=str(IMAGES / "widget.png"))
            await context.close()

            context = await browser.new_context(
                locale="en-US", viewport={"width": 1280, "height": 800}
            )
            page = await context.new_page()
            await page.goto(f"{base}/")
            frame = page.frame_locator("#chat-frame")
            await frame.locator(".msg--bot").first.wait_for(timeout=TIMEOUT_MS)
            await converse(page, frame, ["How do I reset my MT5 password?"])
            await page.screenshot(path=str(IMAGES / "demo.png"))
            await context.close()
        finally:
            await browser.close()


async def main() -> int:
    reason = missing_browser()
    if reason is not None:
        print(f"cannot take screenshots: {reason}", file=sys.stderr)
        return 1
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings.defaults(
            port=free_port(),
            database_url=f"sqlite+aiosqlite:///{Path(scratch) / 'screens.sqlite3'}",
            faq_dir=ROOT / "faq",
            locales_dir=ROOT / "locales",
        )
        runner = web.AppRunner(create_app(settings))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", settings.port).start()
        try:
            await shoot(f"http://127.0.0.1:{settings.port}")
        finally:
            await runner.cleanup()
    for name in ("widget.png", "demo.png"):
        print(IMAGES / name)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
