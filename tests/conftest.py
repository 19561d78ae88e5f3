"""Shared fixtures. Real servers and databases live in `tests/support/`, one module each."""

import pytest
from hypothesis import settings

# No per-example deadline: a property test is about what holds, not how fast, and a loaded CI
# machine (or the mutation run's tracer) makes a 2 ms example take 350 ms now and then.
settings.register_profile("alertmail", deadline=None)
settings.load_profile("alertmail")

pytest_plugins = [
    "tests.support.smtp",
    "tests.support.database",
    "tests.support.app",
    "tests.support.delivery",
    "tests.support.oauth_server",
    "tests.support.provider_fakes",
    "tests.support.mail_api_fakes",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--chaos-examples",
        type=int,
        default=12,
        help="examples per database of the delivery chaos test (tests/integration/test_delivery_chaos.py)",
    )
