"""Microsoft Graph's and the Gmail API's refusals of a send, as they send them.

`GRAPH_ERRORS` and `GMAIL_ERRORS` hold each error's HTTP status, code, message and the headers
that come with it, and what causes it; `graph_error_body` and `gmail_error_body` build exactly
the JSON the service answers. The stand-in servers (`mail_api_fakes`) and the tests of our
classification share them, so both read the very same bodies.

Where they come from (the shape of each body, then the codes and messages):

- Graph error shape `{"error": {"code", "message", "innerError": {"date", "request-id",
  "client-request-id"}}}` and the `request-id` / `client-request-id` response headers: Microsoft
  Learn, "Microsoft Graph error responses and resource types"
  (https://learn.microsoft.com/graph/errors).
- sendMail with MIME, `202 Accepted`, `ErrorMimeContentInvalidBase64String` and the 4 MB limit of
  a request: Microsoft Learn, "user: sendMail" (https://learn.microsoft.com/graph/api/user-sendmail).
- 429 with `Retry-After` and `ApplicationThrottled` "Application is over its MailboxConcurrency
  limit.", 4 concurrent requests per mailbox: Microsoft Learn, "Microsoft Graph throttling
  guidance" and "service-specific throttling limits" (https://learn.microsoft.com/graph/throttling,
  https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits).
- `ErrorAccessDenied` "Access is denied. Check credentials and try again.", the application
  access policy refusal ("... Blocked by tenant configured AppOnly AccessPolicy settings."),
  `NoPermissionsInAccessToken`, `MailboxNotEnabledForRESTAPI` ("The mailbox is either inactive,
  soft-deleted, or is hosted on-premise."), `ErrorSendAsDenied`, `InvalidAuthenticationToken`
  ("Access token has expired or is not yet valid.") with its `WWW-Authenticate` header: the
  messages as quoted in public GitHub issue threads about Graph mail (the msgraph SDK repositories,
  GitLab's microsoft_graph_mailer, Uptime Kuma) and Microsoft Learn Q&A answers.
- Less certain, written from those threads and not checked against a live tenant: the exact
  wording of `ErrorInvalidRecipients`, of 413 `RequestEntityTooLarge` and of 503
  `ServiceUnavailable`, and the status 400 of `ErrorMessageSizeExceeded`. The classifier reads
  the code and the status, never these sentences, so a different wording changes no outcome.
- Gmail error shape `{"error": {"code", "message", "errors": [{"message", "domain", "reason"}],
  "status"}}` and the reasons `dailyLimitExceeded`, `userRateLimitExceeded`, `rateLimitExceeded`,
  `backendError`: Google for Developers, "Resolve errors" of the Gmail API
  (https://developers.google.com/gmail/api/guides/handle-errors), and the usage limits page
  (https://developers.google.com/gmail/api/reference/quota).
- `insufficientPermissions` ("Request had insufficient authentication scopes.", status
  `PERMISSION_DENIED`, with its `ErrorInfo` detail `ACCESS_TOKEN_SCOPE_INSUFFICIENT`),
  `failedPrecondition` ("Precondition check failed.", `FAILED_PRECONDITION`), `accessNotConfigured`
  and `authError` ("Request had invalid authentication credentials. ..."): the bodies as quoted in
  public issue threads of Google's API client libraries (google-api-python-client,
  google-api-nodejs-client). `invalidArgument` "Invalid To header" likewise.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

__all__ = [
    "GMAIL_ERRORS",
    "GRAPH_ERRORS",
    "ApiErrorSpec",
    "gmail_error_body",
    "graph_error_body",
    "graph_headers",
]

GRAPH_WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)


@dataclass(frozen=True)
class ApiErrorSpec:
    """One refusal: HTTP `status`, the provider's `code` (Graph) or `reason` (Gmail), its
    `message`, extra response `headers`, and what causes it. Gmail's also carry `domain`, the
    top-level `status` and an optional ErrorInfo `detail_reason`."""

    status: int
    code: str
    message: str
    cause: str
    headers: dict[str, str] = field(default_factory=dict)
    domain: str = "global"
    status_name: str = ""
    detail_reason: str = ""
    top_message: str = ""  # Gmail: the top-level message when it differs from the reason's


GRAPH_ERRORS: dict[str, ApiErrorSpec] = {
    "ErrorAccessDenied": ApiErrorSpec(
        403,
        "ErrorAccessDenied",
        "Access is denied. Check credentials and try again.",
        "Mail.Send granted as a Delegated permission to an app-only client, or no admin consent.",
    ),
    "ErrorAccessDenied_policy": ApiErrorSpec(
        403,
        "ErrorAccessDenied",
        "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.",
        "The mailbox is outside the app's RBAC for Applications scope (or application access policy).",
    ),
    "Authorization_RequestDenied": ApiErrorSpec(
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
        "The app holds a permission, but not one that allows this call.",
    ),
    "ErrorInvalidUser": ApiErrorSpec(
        404,
        "ErrorInvalidUser",
        "The requested user 'relay@contoso.com' is invalid.",
        "The mailbox in the URL (the Username) does not exist in the tenant.",
    ),
    "NoPermissionsInAccessToken": ApiErrorSpec(
        401,
        "NoPermissionsInAccessToken",
        "The token contains no permissions, or permissions can not be understood.",
        "Client credentials without any Application permission consented: `roles` is empty.",
        {"WWW-Authenticate": GRAPH_WWW_AUTHENTICATE},
    ),
    "MailboxNotEnabledForRESTAPI": ApiErrorSpec(
        404,
        "MailboxNotEnabledForRESTAPI",
        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        "The user has no Exchange Online license, or the mailbox is soft-deleted or on-premises.",
    ),
    "ErrorSendAsDenied": ApiErrorSpec(
        403,
        "ErrorSendAsDenied",
        "The user account which was used to submit this request does not have the right to send mail "
        "on behalf of the specified sending account., Cannot submit message.",
        "The From header names an address the mailbox has no Send As right on.",
    ),
    "InvalidAuthenticationToken": ApiErrorSpec(
        401,
        "InvalidAuthenticationToken",
        "Access token has expired or is not yet valid.",
        "An expired token, or one for another audience (outlook.office.com instead of Graph).",
        {"WWW-Authenticate": GRAPH_WWW_AUTHENTICATE},
    ),
    "ErrorMessageSizeExceeded": ApiErrorSpec(
        400,
        "ErrorMessageSizeExceeded",
        "The message exceeds the maximum supported size., Cannot save changes made to an item to store.",
        "The message is larger than the mailbox's maximum send size.",
    ),
    "RequestEntityTooLarge": ApiErrorSpec(
        413,
        "RequestEntityTooLarge",
        "The request is too large. The maximum request size is 4 MB.",
        "The sendMail request body (the base64 MIME) is over 4 MB.",
    ),
    "ErrorInvalidRecipients": ApiErrorSpec(
        400,
        "ErrorInvalidRecipients",
        "At least one recipient isn't valid., A message can't be sent because it contains no recipients.",
        "The MIME message names no recipient Exchange accepts.",
    ),
    "ErrorMimeContentInvalidBase64String": ApiErrorSpec(
        400,
        "ErrorMimeContentInvalidBase64String",
        "Invalid base64 string for MIME content.",
        "The body is not base64 (the Graph documentation's own example).",
    ),
    "ApplicationThrottled": ApiErrorSpec(
        429,
        "ApplicationThrottled",
        "Application is over its MailboxConcurrency limit.",
        "More than 4 requests at once for one mailbox.",
        {"Retry-After": "2"},
    ),
    "ServiceUnavailable": ApiErrorSpec(
        503,
        "ServiceUnavailable",
        "The service is temporarily unavailable. Please retry after a short delay.",
        "Exchange Online is overloaded or in maintenance.",
        {"Retry-After": "3"},
    ),
}

GMAIL_ERRORS: dict[str, ApiErrorSpec] = {
    "insufficientPermissions": ApiErrorSpec(
        403,
        "insufficientPermissions",
        "Insufficient Permission",
        "The token was granted without the gmail.send scope.",
        status_name="PERMISSION_DENIED",
        detail_reason="ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        top_message="Request had insufficient authentication scopes.",
    ),
    "failedPrecondition": ApiErrorSpec(
        400,
        "failedPrecondition",
        "Precondition check failed.",
        "Gmail is not enabled for the account (a Workspace user without the Gmail service).",
        status_name="FAILED_PRECONDITION",
    ),
    "accessNotConfigured": ApiErrorSpec(
        403,
        "accessNotConfigured",
        "Gmail API has not been used in project 123456789012 before or it is disabled. Enable it by "
        "visiting https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?"
        "project=123456789012 then retry. If you enabled this API recently, wait a few minutes for the "
        "action to propagate to our systems and retry.",
        "The Gmail API is not enabled in the OAuth client's Google Cloud project.",
        domain="usageLimits",
        status_name="PERMISSION_DENIED",
    ),
    "userRateLimitExceeded": ApiErrorSpec(
        403,
        "userRateLimitExceeded",
        "User Rate Limit Exceeded",
        "Too many requests for one user in a short time.",
        domain="usageLimits",
    ),
    "rateLimitExceeded": ApiErrorSpec(
        429,
        "rateLimitExceeded",
        "Rate Limit Exceeded",
        "Too many requests; Google asks to back off.",
        {"Retry-After": "2"},
        domain="usageLimits",
        status_name="RESOURCE_EXHAUSTED",
    ),
    "dailyLimitExceeded": ApiErrorSpec(
        403,
        "dailyLimitExceeded",
        "Daily Limit Exceeded",
        "The account's daily sending limit is reached.",
        domain="usageLimits",
    ),
    "authError": ApiErrorSpec(
        401,
        "authError",
        "Invalid Credentials",
        "The access token is expired or revoked.",
        {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'},
        status_name="UNAUTHENTICATED",
        top_message="Request had invalid authentication credentials. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
    ),
    "invalidArgument": ApiErrorSpec(
        400,
        "invalidArgument",
        "Invalid To header",
        "A recipient address Gmail cannot parse.",
        status_name="INVALID_ARGUMENT",
    ),
    "backendError": ApiErrorSpec(
        500,
        "backendError",
        "Backend Error",
        "A failure inside Google; retry with backoff.",
        status_name="INTERNAL",
    ),
}


def graph_headers(request_id: str, now: datetime | None = None) -> dict[str, str]:
    """The headers Graph puts on every answer (Content-Type aside)."""
    when = now or datetime.now(UTC)
    return {
        "request-id": request_id,
        "client-request-id": request_id,
        "x-ms-ags-diagnostic": '{"ServerInfo":{"DataCenter":"West Europe","Slice":"E","Ring":"5"}}',
        "Date": format_datetime(when, usegmt=True),
        "Cache-Control": "no-cache",
        "Strict-Transport-Security": "max-age=31536000",
    }


def graph_error_body(
    spec: ApiErrorSpec, request_id: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    request_id = request_id or str(uuid.uuid4())
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    return {
        "error": {
            "code": spec.code,
            "message": spec.message,
            "innerError": {"date": when, "request-id": request_id, "client-request-id": request_id},
        }
    }


def gmail_error_body(spec: ApiErrorSpec) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": spec.status,
        "message": spec.top_message or spec.message,
        "errors": [{"message": spec.message, "domain": spec.domain, "reason": spec.code}],
    }
    if spec.status_name:
        error["status"] = spec.status_name
    if spec.detail_reason:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": spec.detail_reason,
                "domain": "googleapis.com",
                "metadata": {
                    "method": "caribou.api.proto.MailboxService.SendMessage",
                    "service": "gmail.googleapis.com",
                },
            }
        ]
    return {"error": error}
