"""ALERTMAIL_TRUSTED_PROXIES: addresses and networks, refused with the entry named otherwise."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from alertmail.config import AppConfig


def test_empty_trusts_no_proxy() -> None:
    assert AppConfig().trusted_proxy_list == []


def test_addresses_and_networks_are_listed() -> None:
    config = AppConfig(trusted_proxies=" 10.0.0.5, 10.1.0.0/16 ,::1")
    assert config.trusted_proxy_list == ["10.0.0.5", "10.1.0.0/16", "::1"]


def test_a_name_is_refused_naming_the_field_and_the_entry() -> None:
    with pytest.raises(ValidationError) as refused:
        AppConfig(trusted_proxies="10.0.0.5, proxy.example")
    assert "trusted_proxies" in str(refused.value)
    assert "'proxy.example' is not an IP address or network" in str(refused.value)
