"""What an administrator's password must be (NIST SP 800-63B, 3.1.1.2): at least 8 characters, not
on a list of commonly used or breached passwords, not the username. No composition rules: they push
people to `Password1!`, which every guesser tries early.

The list (`data/common-passwords.txt.gz`, the entries of 8 characters or more, lower case) merges
Django's `common-passwords.txt.gz` (20,000 passwords by Royce Williams; BSD-3-Clause, Django
Software Foundation) and the `passwords` frequency list of zxcvbn 4.5.0 (30,000 from Xato's 10
million password corpus; MIT, Daniel Wolf and Dropbox). See `data/SOURCES.md`.
"""

from __future__ import annotations

import gzip
from functools import cache
from importlib import resources

from alertmail.errors import FieldError

__all__ = ["MIN_PASSWORD_LENGTH", "common_passwords", "password_problems"]

MIN_PASSWORD_LENGTH = 8
COMMON = "is one of the commonly used passwords that guessers try first: choose another"


@cache
def common_passwords() -> frozenset[str]:
    packed = resources.files("alertmail.services").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(packed).decode().splitlines())


def password_problems(password: str, *, field: str, username: str = "") -> list[FieldError]:
    if len(password) < MIN_PASSWORD_LENGTH:
        return [FieldError(field, f"must be at least {MIN_PASSWORD_LENGTH} characters")]
    folded = password.strip().casefold()
    if username and folded == username.casefold():
        return [FieldError(field, "must not be the username")]
    if folded in common_passwords():
        return [FieldError(field, COMMON)]
    return []
