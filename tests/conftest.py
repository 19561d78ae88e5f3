"""Shared fixtures. Real servers and databases live in `tests/support/`, one module each."""

pytest_plugins = [
    "tests.support.smtp",
    "tests.support.database",
    "tests.support.app",
    "tests.support.oauth_server",
    "tests.support.provider_fakes",
]
