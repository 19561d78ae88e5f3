"""Passwords (NIST SP 800-63B 3.1.1.2): at least 8 characters, not a commonly used or breached one,
not the username, and no composition rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertmail.services.password_policy import common_passwords, password_problems


@pytest.mark.parametrize(
    "password", ["aaaaaaaa", "password", "12345678", "Password1", "QWERTYUIOP", "iloveyou"]
)
def test_a_common_password_is_refused_naming_the_field(password: str) -> None:
    problems = password_problems(password, field="new_password")
    assert [problem.field for problem in problems] == ["new_password"]
    assert "commonly used" in problems[0].message


def test_a_short_password_is_refused_with_the_minimum() -> None:
    [problem] = password_problems("kx7#qZ", field="password")
    assert (problem.field, problem.message) == ("password", "must be at least 8 characters")


def test_the_username_is_refused() -> None:
    [problem] = password_problems("Operator.North", field="password", username="operator.north")
    assert "username" in problem.message


def test_the_shipped_list_is_a_real_list() -> None:
    listed = common_passwords()
    assert len(listed) > 10_000
    assert all(len(entry) >= 8 and entry == entry.lower() for entry in listed)


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=8, max_size=64))
def test_any_long_enough_uncommon_password_is_accepted_whatever_its_characters(password: str) -> None:
    if password.strip().lower() in common_passwords():
        return
    assert password_problems(password, field="password") == []
