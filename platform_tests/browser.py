"""Debian's Chromium as the UI test and the soak benchmark drive it through Playwright (never
a browser Playwright downloads).
"""

import re
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying hosts this machine cannot reach.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium_page(timeout_ms: int) -> Iterator[Any]:
    """A page in Debian's Chromium with a fresh profile, waiting at most `timeout_ms`."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415  (only where a browser runs)

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1600, "height": 1100},
        )
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        try:
            yield page
        finally:
            context.close()


def open_page(page: Any, url: str, dialog_timeout_ms: int = 3000) -> None:
    """Go to a UI page; a first visit may be greeted by a newsletter dialog, which is skipped."""
    page.goto(url)
    page.get_by_text(re.compile("Overview")).first.wait_for()
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=dialog_timeout_ms)
    except Exception:  # noqa: BLE001  (Playwright's TimeoutError: no dialog this time)
        return
    skip.click()


def responds(url: str) -> bool:
    """Whether the UI answers at `url` (loopback)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 (loopback only)
            return bool(reply.status == 200)
    except OSError:
        return False
