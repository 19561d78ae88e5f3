"""Browser tests: the fixtures of `tests/support/browser.py` (live app, Chromium page, screenshots)
and of `tests/support/oauth_browser.py` (an OAuth2 sign-in up to its Sign In button)."""

from tests.support.browser import browser, live_app, page
from tests.support.oauth_browser import oauth_sign_in

__all__ = ["browser", "live_app", "oauth_sign_in", "page"]
