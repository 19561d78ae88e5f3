"""What an API token may do and for how long: its scope, and the lifetime written as `90d`.

An appliance component that only raises events gets an `events` token: it may raise and read
events and nothing else, so a leaked one cannot change where mail goes. `admin` may do anything
an administrator signed in to the web UI may do.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final, Literal, get_args

__all__ = [
    "DEFAULT_TOKEN_LIFETIME",
    "EXPIRES_IN_HELP",
    "EXPIRES_IN_PATTERN",
    "NAME_HELP",
    "NAME_PATTERN",
    "SCOPES",
    "TokenScope",
    "parse_expires_in",
]

TokenScope = Literal["events", "admin"]
SCOPES: Final[tuple[str, ...]] = get_args(TokenScope)
DEFAULT_TOKEN_LIFETIME: Final = "90d"  # noqa: S105  # a lifetime, not a secret
# Plain words: a name goes in a URL path (`DELETE /api/v1/tokens/NAME`) and on a command line.
NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9 _.@:-]{0,99}$"
NAME_HELP: Final = "must be 1 to 100 letters, digits, spaces or . _ @ : -, starting with a letter or digit"
# A number and a unit (h hours, d days, w weeks), or "never". The pattern is the whole rule, so the
# API's schema states it: at most 4 digits (9999w, some 190 years, still a date).
EXPIRES_IN_PATTERN: Final = r"^(never|[1-9][0-9]{0,3}[hdw])$"
_UNITS: Final = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
EXPIRES_IN_HELP: Final = (
    "must be a number of up to 4 digits and a unit, h, d or w (e.g. 12h, 90d, 52w), or never"
)


def parse_expires_in(text: str) -> timedelta | None:
    """`90d` → 90 days; `never` → None. A ValueError says what is accepted."""
    value = text.strip().lower()
    if not re.fullmatch(EXPIRES_IN_PATTERN, value):
        raise ValueError(EXPIRES_IN_HELP)
    if value == "never":
        return None
    return int(value[:-1]) * _UNITS[value[-1]]
