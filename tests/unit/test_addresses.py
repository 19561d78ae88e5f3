"""Intranet addresses are addresses: only `.invalid` and `localhost` never receive mail."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertmail.domain.addresses import AddressError, normalize_address
from alertmail.domain.settings import validate_settings
from alertmail.errors import SettingsValidationError

INTRANET = [
    "alice@appliance.local",
    "relay@example.test",
    "ops@corp.internal",
    "nas@home.arpa",
    "printer@office.lan",
    "admin@mail.example.com",
]


@pytest.mark.parametrize("address", INTRANET)
def test_intranet_and_special_use_domains_are_accepted(address: str) -> None:
    assert normalize_address(address) == address


@pytest.mark.parametrize("address", ["a@x.invalid", "a@localhost", "a@relay.localhost", "a@LOCALHOST."])
def test_invalid_and_localhost_are_refused(address: str) -> None:
    with pytest.raises(AddressError, match="never receives e-mail"):
        normalize_address(address)


@pytest.mark.parametrize(
    "address", ["no-at-sign", "@example.com", "a@", "a@-x.com", "a b@x.com", "a@1.2.3.4"]
)
def test_malformed_addresses_are_refused(address: str) -> None:
    with pytest.raises(AddressError):
        normalize_address(address)


def test_the_domain_is_lower_cased_and_the_local_part_kept() -> None:
    assert normalize_address("Bob@Corp.LOCAL") == "Bob@corp.local"


def test_settings_take_intranet_addresses_for_from_and_admin_contacts() -> None:
    settings = validate_settings(
        {
            "from_address": "alice@appliance.local",
            "email_type": "native",
            "admin_contacts": "ops@corp.internal nas@home.arpa",
        }
    )
    assert settings.admin_contacts == ["ops@corp.internal", "nas@home.arpa"]


def test_settings_refuse_an_invalid_contact_naming_it() -> None:
    with pytest.raises(SettingsValidationError) as refused:
        validate_settings(
            {"from_address": "a@b.local", "email_type": "native", "admin_contacts": "x@y.invalid"}
        )
    assert [error.field for error in refused.value.errors] == ["admin_contacts"]
    assert "'x@y.invalid'" in refused.value.errors[0].message


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


@given(
    local=st.from_regex(r"[a-z0-9]([a-z0-9._+-]{0,15}[a-z0-9])?", fullmatch=True).filter(
        lambda s: ".." not in s
    ),
    labels=st.lists(_label, min_size=1, max_size=4),
    tld=st.from_regex(r"[a-z]{2,10}", fullmatch=True).filter(lambda t: t not in ("invalid", "localhost")),
)
def test_every_syntactically_valid_domain_is_accepted(local: str, labels: list[str], tld: str) -> None:
    address = f"{local}@{'.'.join([*labels, tld])}"
    assert normalize_address(address) == address
