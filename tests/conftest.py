"""Shared fixtures. Real servers and databases live in `tests/support/`, one module each."""

import pytest

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
