"""The shape of one classification rule: what it requires of the evidence, and what it concludes.

A `When` lists conditions; every condition given must hold, and an empty one always does. A `Rule`
names the conclusion: category, whether waiting helps (None: as the reply's class says, 4xx yes,
5xx no), the scope (None: by the stage, so a refusal at RCPT is about one recipient, at DATA about
the message, anywhere else about the whole relay) and the key of its hint in `hints.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from alertmail.domain.evidence import Evidence

__all__ = ["Rule", "Scope", "When", "scope_of_stage"]


class Scope(StrEnum):
    """What a failure concerns: one recipient, this message, or every message through the relay."""

    RECIPIENT = "recipient"
    MESSAGE = "message"
    RELAY = "relay"


def scope_of_stage(stage: str) -> Scope:
    if stage == "rcpt":
        return Scope.RECIPIENT
    if stage == "data":
        return Scope.MESSAGE
    return Scope.RELAY


@dataclass(frozen=True)
class When:
    """Conditions on `Evidence`. `enhanced` entries are prefixes of the enhanced code; an "x" class
    matches 4 and 5 alike ("x.7.139", "x.1."), and a trailing "$" asks for the whole code ("4.7.1$").
    `words` is a regular expression searched in the reply or error text, lower-cased with its
    whitespace collapsed."""

    kind: str = "reply"  # "" for any kind
    stages: tuple[str, ...] = ()
    codes: tuple[int, ...] = ()
    reply_class: int | None = None
    enhanced: tuple[str, ...] = ()
    words: str = ""
    errnos: tuple[int, ...] = ()
    resolver: tuple[int, ...] = ()
    verify: tuple[int, ...] = ()
    ports: tuple[int, ...] = ()
    provider_code: str = ""
    oauth_error: str = ""
    transient: bool | None = None  # OAuth: HTTP 429/5xx or a "try later" error
    exit_codes: tuple[int, ...] = ()
    certificate_invalid: bool | None = None
    apis: tuple[str, ...] = ()  # a mail API's refusal: `graph`, `gmail_api`
    http_statuses: tuple[int, ...] = ()

    def holds(self, found: Evidence) -> bool:
        return all(check(self, found) for check in _CHECKS)


def _kind(when: When, found: Evidence) -> bool:
    return not when.kind or when.kind == found.kind


def _stage(when: When, found: Evidence) -> bool:
    return not when.stages or found.stage in when.stages


def _codes(when: When, found: Evidence) -> bool:
    if when.codes and found.code not in when.codes:
        return False
    return when.reply_class is None or found.reply_class == when.reply_class


def _enhanced(when: When, found: Evidence) -> bool:
    if not when.enhanced:
        return True
    code = found.enhanced or ""
    return any(_enhanced_matches(code, wanted) for wanted in when.enhanced)


def _enhanced_matches(code: str, wanted: str) -> bool:
    """`wanted` is a prefix ("x.1.", "5.7."), or a whole code when it ends in "$" ("4.7.1$")."""
    exact = wanted.endswith("$")
    wanted = wanted.rstrip("$")
    if wanted.startswith("x"):
        code, wanted = code[1:], wanted[1:]
    return code == wanted if exact else code.startswith(wanted)


def _words(when: When, found: Evidence) -> bool:
    return not when.words or re.search(when.words, found.text) is not None


def _numbers(when: When, found: Evidence) -> bool:
    pairs = (
        (when.errnos, found.os_errno),
        (when.resolver, found.resolver_code),
        (when.verify, found.verify_code),
        (when.ports, found.port),
        (when.exit_codes, found.exit_code),
        (when.http_statuses, found.http_status),
        (when.apis, found.api),
    )
    if when.certificate_invalid is not None and found.certificate_invalid != when.certificate_invalid:
        return False
    return all(not wanted or value in wanted for wanted, value in pairs)


def _oauth(when: When, found: Evidence) -> bool:
    return (
        (not when.provider_code or found.provider_code == when.provider_code)
        and (not when.oauth_error or found.oauth_error == when.oauth_error)
        and (when.transient is None or _transient_oauth(found) == when.transient)
    )


def _transient_oauth(found: Evidence) -> bool:
    status = found.http_status
    return found.oauth_error in ("temporarily_unavailable", "network_error", "server_error") or (
        status is not None and (status == 429 or status >= 500)
    )


_CHECKS = (_kind, _stage, _codes, _enhanced, _words, _numbers, _oauth)


@dataclass(frozen=True)
class Rule:
    name: str
    when: When
    category: str
    retryable: bool | None
    scope: Scope | None
    hint: str

    def retry(self, found: Evidence) -> bool:
        if self.retryable is not None:
            return self.retryable
        return found.reply_class != 5

    def scope_for(self, found: Evidence) -> Scope:
        return self.scope if self.scope is not None else scope_of_stage(found.stage)
