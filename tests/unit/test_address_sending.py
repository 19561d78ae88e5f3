"""Addresses on their way out (#17, #20): what `normalize_address` refuses word for word, and how an
internationalized address is sent to a relay with or without SMTPUTF8 (RFC 6531/6532)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from alertmail.domain.addresses import AddressError, normalize_address
from alertmail.domain.international_addresses import (
    UnsendableAddressError,
    ascii_address,
    ascii_address_headers,
    needs_smtputf8,
)

NO_LOCAL = "An e-mail address must have an @-sign and a part before it."


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("nolocal", NO_LOCAL),
        ("@example.com", NO_LOCAL),
        ("ops@", "There must be a domain after the @-sign."),
        ("ops@a.123", "The part after the @-sign is not a valid domain name."),
        ("ops@[300.1.1.1]", "The address in brackets after the @-sign is not valid"),
    ],
)
def test_each_refusal_says_what_is_wrong(address: str, reason: str) -> None:
    with pytest.raises(AddressError) as caught:
        normalize_address(address)
    assert str(caught.value).startswith(reason)


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("ops@[192.0.2.1]", "ops@[192.0.2.1]"),
        ("ops@ｅｘａｍｐｌｅ.com", "ops@example.com"),  # full-width letters mapped (UTS 46)
        ("ops@xn--bcher-kva.example", "ops@bücher.example"),
        ("ops@BÜCHER.example.", "ops@bücher.example"),
    ],
)
def test_domains_are_written_one_way(written: str, kept: str) -> None:
    assert normalize_address(written) == kept


def test_a_domain_of_253_characters_is_the_longest_accepted() -> None:
    longest = ".".join(["a" * 63] * 3) + "." + "b" * 61
    assert len(longest) == 253
    assert normalize_address(f"ops@{longest}") == f"ops@{longest}"
    with pytest.raises(AddressError):
        normalize_address(f"ops@{longest}b")


@pytest.mark.parametrize(
    ("address", "sent"),
    [
        ("ops@example.com", "ops@example.com"),
        ("ops@bücher.example", "ops@xn--bcher-kva.example"),
        ("ops@bücher.example.", "ops@xn--bcher-kva.example"),
    ],
)
def test_without_smtputf8_a_domain_goes_out_in_idna_form(address: str, sent: str) -> None:
    assert ascii_address(address) == sent


@pytest.mark.parametrize("address", ["jörg@example.com", "jörg", "ops@a_b.ü"])
def test_without_smtputf8_a_non_ascii_local_part_or_bad_domain_is_refused_by_name(address: str) -> None:
    with pytest.raises(UnsendableAddressError) as caught:
        ascii_address(address)
    assert caught.value.address == address
    assert str(caught.value) == (
        f"the address {address!r} has a non-ASCII local part (or a domain with no IDNA form),"
        " which needs SMTPUTF8; the relay does not offer SMTPUTF8"
    )


def message(**headers: str) -> EmailMessage:
    built = EmailMessage()
    for name, value in headers.items():
        built[name.replace("_", "-")] = value
    return built


def test_smtputf8_is_needed_for_an_address_not_for_a_display_name() -> None:
    named = message(From="Jörg <alerts@example.com>", To="ops@example.com")
    assert not needs_smtputf8(["alerts@example.com"], named)
    assert needs_smtputf8(["alerts@bücher.example"], named)
    assert needs_smtputf8(["alerts@example.com"], message(Reply_To="x@bücher.example"))
    assert needs_smtputf8(["alerts@example.com"], message(Resent_Cc="jörg@example.com"))


def test_address_headers_get_idna_domains_and_keep_encoded_display_names() -> None:
    built = message(
        From="Jörg Müller <alerts@bücher.example>",
        To="ops@example.com, Ünö <x@bücher.example>",
        Cc="plain@example.com",
        Subject="Grüße",
    )
    ascii_address_headers(built)
    wire = built.as_string().splitlines()
    assert "From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <alerts@xn--bcher-kva.example>" in wire
    assert "To: ops@example.com, =?utf-8?b?w5xuw7Y=?= <x@xn--bcher-kva.example>" in wire
    assert built.get_all("To") == [built["To"]]
    assert built["Cc"] == "plain@example.com"
    assert built["Subject"] == "Grüße"  # not an address header: left to the policy


def test_every_address_header_after_an_ascii_one_is_rewritten() -> None:
    built = message(From="alerts@example.com", Sender="s@bücher.example", Resent_To="r@bücher.example")
    ascii_address_headers(built)
    assert (built["From"], built["Sender"], built["Resent-To"]) == (
        "alerts@example.com",
        "s@xn--bcher-kva.example",
        "r@xn--bcher-kva.example",
    )


def test_an_address_header_with_a_non_ascii_local_part_is_refused() -> None:
    with pytest.raises(UnsendableAddressError) as caught:
        ascii_address_headers(message(To="ops@example.com, jörg@example.com"))
    assert caught.value.address == "jörg@example.com"
