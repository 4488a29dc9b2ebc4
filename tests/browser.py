"""Finding the headless Chromium the browser tests drive, or skipping with the reason.

Debian's `chromium` package, driven by Python Playwright; `playwright install` (which
downloads a browser build of its own) is never needed. With CHATSERVER_REQUIRE_SERVICES=1
(CI) a missing browser fails the test instead.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CHATSERVER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "Python Playwright is not installed (pip install -e '.[test]')"
    if not CHROMIUM.is_file():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


def require_browser() -> None:
    reason = missing_browser()
    if reason is None:
        return
    if os.environ.get("CHATSERVER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and CHATSERVER_REQUIRE_SERVICES=1 says it must be")
    pytest.skip(reason)
