"""Browser tests: the fixtures of `tests/support/browser.py` (live app, Chromium page, screenshots)."""

from tests.support.browser import browser, live_app, page

__all__ = ["browser", "live_app", "page"]
