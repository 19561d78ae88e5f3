"""Schemathesis hooks for the fuzz run against a live `alertmail serve` (test_openapi_fuzz.py).

Every address the fuzzer could make alertmail connect to (relay host and port, OAuth endpoints)
is pointed at a closed port on 127.0.0.1 before the request leaves: whatever the generated
settings, alertmail only ever connects to this machine's loopback. The values stay valid for the
schema, so every check still holds. Loaded by `SCHEMATHESIS_HOOKS=tests.integration.schemathesis_hooks`.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

CLOSED_PORT = int(os.environ.get("ALERTMAIL_FUZZ_CLOSED_PORT", "9"))
LOOPBACK = "127.0.0.1"


def _loopback(name: str, value: Any) -> Any:
    if not isinstance(value, str) and not (name.endswith("port") and isinstance(value, int)):
        return value  # a wrong type: the server refuses it without connecting anywhere
    if name.endswith("hostname"):
        return LOOPBACK
    if name.endswith("port"):
        return CLOSED_PORT
    if name.endswith(("_endpoint", "_url")):
        return f"http://{LOOPBACK}:{CLOSED_PORT}/fuzz"
    return value


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    if isinstance(case.body, dict):
        case.body = {name: _loopback(name, value) for name, value in case.body.items()}
