"""Microsoft Graph's and the Gmail API's refusals, from their own bodies, to a category and a fix.

One case per row of `API_RULES`, each built from the body the stand-in sends (`mail_api_errors`),
parsed by `domain.mail_api.api_error` as the transport parses it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from alertmail.domain.api_classification import API_RULES
from alertmail.domain.classification import Scope, classify
from alertmail.domain.mail_api import api_error, graph_size_problem, retry_after_seconds
from alertmail.errors import ApiReplyError
from tests.support.mail_api_errors import (
    GMAIL_ERRORS,
    GRAPH_ERRORS,
    gmail_error_body,
    graph_error_body,
    graph_headers,
)

NOW = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
REQUEST_ID = "8c2b3d6e-51a4-4f3e-9a51-2f7d4d9e1c11"
P, M = Scope.RELAY, Scope.MESSAGE


def graph(key: str) -> ApiReplyError:
    spec = GRAPH_ERRORS[key]
    body = json.dumps(graph_error_body(spec, REQUEST_ID, NOW))
    return api_error("graph", spec.status, body, graph_headers(REQUEST_ID, NOW) | spec.headers, now=NOW)


def gmail(key: str) -> ApiReplyError:
    spec = GMAIL_ERRORS[key]
    return api_error("gmail_api", spec.status, json.dumps(gmail_error_body(spec)), spec.headers, now=NOW)


def bare(api: str, status: int) -> ApiReplyError:
    """An answer without a JSON body (a proxy's, or a gateway's)."""
    return api_error(api, status, "<html>Bad Gateway</html>", {}, now=NOW)


# (rule, error, retryable, scope, words the fix must contain)
CASES: list[tuple[str, ApiReplyError, bool, Scope, str]] = [
    ("graph_scoped_out", graph("ErrorAccessDenied_policy"), False, P, "RBAC for Applications"),
    ("graph_access_denied", graph("ErrorAccessDenied"), False, P, "Application permission Mail.Send"),
    ("graph_authorization_denied", graph("Authorization_RequestDenied"), False, P, "Grant admin consent"),
    ("graph_no_permissions", graph("NoPermissionsInAccessToken"), False, P, "Grant admin consent"),
    ("graph_mailbox_not_enabled", graph("MailboxNotEnabledForRESTAPI"), False, P, "Licenses and apps"),
    ("graph_invalid_user", graph("ErrorInvalidUser"), False, P, "Username"),
    ("graph_send_as_denied", graph("ErrorSendAsDenied"), False, P, "From Address"),
    ("graph_invalid_token", graph("InvalidAuthenticationToken"), False, P, "Token Endpoint"),
    ("graph_unauthorized", bare("graph", 401), False, P, "Scopes"),
    ("graph_message_too_large", graph("ErrorMessageSizeExceeded"), False, M, "4 MB"),
    ("graph_request_too_large", graph("RequestEntityTooLarge"), False, M, "4 MB"),
    ("graph_invalid_recipients", graph("ErrorInvalidRecipients"), False, M, "admin contacts"),
    ("graph_throttled", graph("ApplicationThrottled"), True, P, "Retry-After"),
    ("graph_unavailable", graph("ServiceUnavailable"), True, P, "tries again"),
    ("graph_refused", graph("ErrorMimeContentInvalidBase64String"), False, P, "error code"),
    ("gmail_insufficient_permissions", gmail("insufficientPermissions"), False, P, "auth/gmail.send"),
    ("gmail_api_not_enabled", gmail("accessNotConfigured"), False, P, "Gmail API > Enable"),
    ("gmail_failed_precondition", gmail("failedPrecondition"), False, P, "Admin console"),
    ("gmail_user_rate_limit", gmail("userRateLimitExceeded"), True, P, "Messages per minute"),
    ("gmail_rate_limit", gmail("rateLimitExceeded"), True, P, "slow down"),
    ("gmail_daily_limit", gmail("dailyLimitExceeded"), True, P, "daily sending limit"),
    ("gmail_unauthorized", gmail("authError"), False, P, "Sign In again"),
    ("gmail_invalid_argument", gmail("invalidArgument"), False, M, "admin contacts"),
    ("gmail_throttled", bare("gmail_api", 429), True, P, "slow down"),
    ("gmail_unavailable", gmail("backendError"), True, P, "tries again"),
    ("gmail_refused", bare("gmail_api", 404), False, P, "error code"),
]


@pytest.mark.parametrize(("rule", "error", "retryable", "scope", "fix"), CASES, ids=[c[0] for c in CASES])
def test_each_api_rule(rule: str, error: ApiReplyError, retryable: bool, scope: Scope, fix: str) -> None:
    found = classify(error)
    category = "graph" if rule.startswith("graph_") else "gmail_api"
    assert (found.rule, found.category, found.retryable, found.scope) == (rule, category, retryable, scope)
    assert fix in found.hint and "{" not in found.hint
    assert found.provider_code == error.code


def test_every_api_rule_has_a_case() -> None:
    assert {rule.name for rule in API_RULES} == {case[0] for case in CASES}


def test_graph_request_id_and_date_are_kept_for_support() -> None:
    found = classify(graph("ErrorAccessDenied"))
    assert found.support_details["request_id"] == REQUEST_ID
    assert found.support_details["date"] == "2026-12-04T17:00:00"
    assert found.support_details["error"] == "ErrorAccessDenied"
    assert found.message == "HTTP 403 ErrorAccessDenied: Access is denied. Check credentials and try again."


def test_gmail_keeps_its_reason_and_status() -> None:
    found = classify(gmail("insufficientPermissions"))
    assert found.provider_code == "insufficientPermissions"
    assert found.support_details["status"] == "PERMISSION_DENIED"
    assert "insufficient authentication scopes" in found.message


def test_retry_after_is_carried_to_the_classification() -> None:
    assert classify(graph("ApplicationThrottled")).retry_after == 2
    assert classify(graph("ErrorAccessDenied")).retry_after is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Fri, 04 Dec 2026 17:00:30 GMT", 30.0),
        ("Fri, 04 Dec 2026 16:59:00 GMT", 0.0),  # a date gone by: no wait at all
        ("999999999", 86400.0),  # a day at most
        ("soon", None),
        ("", None),
        (None, None),
        ("-5", None),
    ],
)
def test_retry_after_seconds(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds


def test_graph_size_limit_is_on_the_encoded_body() -> None:
    limit = 4 * 1024 * 1024
    largest = limit // 4 * 3  # base64 of this many bytes is exactly the limit
    assert graph_size_problem(largest) is None
    problem = graph_size_problem(largest + 1)
    assert problem is not None and "4 MB" in problem and f"{limit + 4:,}" in problem


def test_a_body_that_is_not_json_still_names_the_status() -> None:
    error = bare("graph", 502)
    assert (error.code, error.message, error.http_status) == ("HTTP 502", "Bad Gateway", 502)
    assert classify(error).retryable
