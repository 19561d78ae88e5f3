"""The mail API rows of the classification table: Microsoft Graph's and the Gmail API's refusals.

Graph names the cause in `error.code` (`ErrorAccessDenied`), Gmail in `errors[].reason`
(`insufficientPermissions`); `evidence.gather` puts either in `provider_code`. Every refusal is of
category `graph` or `gmail_api`. The scope says what waits: a missing permission or a throttled
mailbox holds every message (the relay scope), a message too large or a bad recipient is refused for
good, so only that message is dead-lettered, at once (domain/outbox.py `decide`).
Each hint names the setting, or the admin-center step, that fixes it.
"""

from __future__ import annotations

from dataclasses import replace

from alertmail.domain.classification_matchers import Rule, Scope, When

__all__ = ["API_RULES"]

RELAY, MESSAGE = Scope.RELAY, Scope.MESSAGE
_SIGN_IN_AGAIN = "Sign In again (Mail Settings)."
_TRANSIENT = (500, 502, 503, 504)

_GRAPH_PERMISSION = (
    "Microsoft Graph refused to send as this mailbox. App-only (Grant client_credentials) needs the "
    "Application permission Mail.Send, not the Delegated one, with admin consent: Microsoft Entra "
    "admin center > App registrations > the app > API permissions > Add a permission > Microsoft "
    "Graph > Application permissions > Mail.Send, then Grant admin consent. Delegated sign-in needs "
    "the Delegated Mail.Send and a sign-in as the mailbox. If the app is limited with Exchange's RBAC "
    "for Applications, the Username's mailbox must be in its scope."
)
_GRAPH_SCOPED_OUT = (
    "The app may send only as the mailboxes its Exchange RBAC for Applications scope (or an older "
    "application access policy) allows, and the Username's mailbox is not one of them. In Exchange "
    "Online PowerShell add the mailbox to the app's scope (New-ManagementScope, then "
    'New-ManagementRoleAssignment -App <client ID> -Role "Application Mail.Send" '
    "-CustomResourceScope <scope>), or set the Username to a mailbox in scope."
)
_GRAPH_NO_PERMISSIONS = (
    "The access token carries no Graph permission. App-only: add the Application permission "
    "Mail.Send and Grant admin consent (Entra admin center > App registrations > the app > API "
    "permissions); the Scopes must be the Graph endpoint followed by /.default. Delegated: the Scopes "
    "must include Mail.Send; " + _SIGN_IN_AGAIN
)
_GRAPH_MAILBOX = (
    "The Username is not an Exchange Online mailbox Graph can send from: it does not exist, has no "
    "Exchange Online license, is soft-deleted or is hosted on-premises. Set the Username to a "
    "licensed cloud mailbox, or assign it a license in the Microsoft 365 admin center > Users > "
    "Active users > the user > Licenses and apps."
)
_GRAPH_SEND_AS = (
    "The mailbox may not send as the From Address. Set the From Address to the mailbox itself (the "
    "Username), or give the mailbox Send As permission on that address in the Exchange admin center "
    "(Recipients > Mailboxes > the address > Delegation > Send as)."
)
_GRAPH_BEARER_REFUSED = (
    "Microsoft Graph refused a freshly issued access token. Check that the Token Endpoint is your "
    "tenant's on the same cloud as the Graph Endpoint (graph.microsoft.com with "
    "login.microsoftonline.com, graph.microsoft.us with login.microsoftonline.us), and that the "
    "Scopes are the Graph endpoint's: .../.default app-only, .../Mail.Send delegated."
)
_GRAPH_SIZE = (
    "The message is larger than Microsoft Graph accepts (sendMail takes about 4 MB once encoded). "
    "Send smaller messages (no large attachments), or send this kind through SMTP."
)
_GRAPH_THROTTLED = (
    "Microsoft Graph asks to slow down: nothing is sent until its Retry-After has passed. {retry} "
    "Graph allows 4 concurrent requests and 10,000 requests per 10 minutes per mailbox, and Exchange "
    "Online 30 messages a minute: lower Messages per minute if this repeats."
)
_GRAPH_RECIPIENTS = (
    "Exchange refused a recipient address of this message. Check the administrator's e-mail and the "
    "admin contacts for typing errors."
)

_GMAIL_SCOPE = (
    "The access token lacks the gmail.send scope. Set the Scopes to "
    "https://www.googleapis.com/auth/gmail.send (and list it on the OAuth consent screen in Google "
    "Cloud console > APIs & Services), then " + _SIGN_IN_AGAIN
)
_GMAIL_API_OFF = (
    "The Gmail API is not enabled in the Google Cloud project of this OAuth client: Google Cloud "
    "console > APIs & Services > Library > Gmail API > Enable, then send again."
)
_GMAIL_NO_GMAIL = (
    "Gmail is not enabled for the account that signed in (a Google Workspace user without the "
    "Gmail service, or an account without a Gmail mailbox). Turn Gmail on for that user in the Google "
    "Admin console (Apps > Google Workspace > Gmail > Service status), or sign in with a Gmail account."
)
_GMAIL_RATE = (
    "Gmail asks to slow down (too many requests for this user). {retry} Lower Messages per minute "
    "if this repeats."
)
_GMAIL_DAILY = (
    "The account reached Gmail's daily sending limit (about 2,000 messages for Google Workspace, "
    "500 for a free account). {retry}"
)
_GMAIL_BEARER_REFUSED = (
    "Gmail refused a freshly issued access token: the sign-in may have been revoked or belong to "
    "another account. " + _SIGN_IN_AGAIN
)
_GMAIL_INVALID = (
    "Gmail refused this message as invalid (most often a recipient address, e.g. 'Invalid To "
    "header'). Check the administrator's e-mail and the admin contacts for typing errors."
)
# Exchange names the policy that kept the app out: "Blocked by tenant configured AppOnly AccessPolicy".
_SCOPED_OUT_WORDS = r"accesspolicy|access policy|\[raop\]|rbac|management scope"
_UNAVAILABLE = "The API is failing or unavailable right now. {retry}"
_OTHER = "The API refused the message; its error code and message say why."


def _graph(name: str, when: When, retryable: bool, scope: Scope, hint: str) -> Rule:
    return Rule(f"graph_{name}", replace(when, kind="api", apis=("graph",)), "graph", retryable, scope, hint)


def _gmail(name: str, when: When, retryable: bool, scope: Scope, hint: str) -> Rule:
    gmail_when = replace(when, kind="api", apis=("gmail_api",))
    return Rule(f"gmail_{name}", gmail_when, "gmail_api", retryable, scope, hint)


def _code(code: str, words: str = "") -> When:
    return When(provider_code=code, words=words)


def _status(*statuses: int) -> When:
    return When(http_statuses=statuses)


# fmt: off
API_RULES: tuple[Rule, ...] = (
    _graph("scoped_out", _code("ErrorAccessDenied", _SCOPED_OUT_WORDS), False, RELAY, _GRAPH_SCOPED_OUT),
    _graph("access_denied", _code("ErrorAccessDenied"), False, RELAY, _GRAPH_PERMISSION),
    _graph("authorization_denied", _code("Authorization_RequestDenied"), False, RELAY, _GRAPH_PERMISSION),
    _graph("no_permissions", _code("NoPermissionsInAccessToken"), False, RELAY, _GRAPH_NO_PERMISSIONS),
    _graph("mailbox_not_enabled", _code("MailboxNotEnabledForRESTAPI"), False, RELAY, _GRAPH_MAILBOX),
    _graph("invalid_user", _code("ErrorInvalidUser"), False, RELAY, _GRAPH_MAILBOX),
    _graph("send_as_denied", _code("ErrorSendAsDenied"), False, RELAY, _GRAPH_SEND_AS),
    _graph("invalid_token", _code("InvalidAuthenticationToken"), False, RELAY, _GRAPH_BEARER_REFUSED),
    _graph("unauthorized", _status(401), False, RELAY, _GRAPH_BEARER_REFUSED),
    _graph("message_too_large", _code("ErrorMessageSizeExceeded"), False, MESSAGE, _GRAPH_SIZE),
    _graph("request_too_large", _status(413), False, MESSAGE, _GRAPH_SIZE),
    _graph("invalid_recipients", _code("ErrorInvalidRecipients"), False, MESSAGE, _GRAPH_RECIPIENTS),
    _graph("throttled", _status(429), True, RELAY, _GRAPH_THROTTLED),
    _graph("unavailable", _status(*_TRANSIENT), True, RELAY, _UNAVAILABLE),
    _graph("refused", When(), False, RELAY, _OTHER),
    _gmail("insufficient_permissions", _code("insufficientPermissions"), False, RELAY, _GMAIL_SCOPE),
    _gmail("api_not_enabled", _code("accessNotConfigured"), False, RELAY, _GMAIL_API_OFF),
    _gmail("failed_precondition", _code("failedPrecondition"), False, RELAY, _GMAIL_NO_GMAIL),
    _gmail("user_rate_limit", _code("userRateLimitExceeded"), True, RELAY, _GMAIL_RATE),
    _gmail("rate_limit", _code("rateLimitExceeded"), True, RELAY, _GMAIL_RATE),
    _gmail("daily_limit", _code("dailyLimitExceeded"), True, RELAY, _GMAIL_DAILY),
    _gmail("unauthorized", _status(401), False, RELAY, _GMAIL_BEARER_REFUSED),
    _gmail("invalid_argument", _code("invalidArgument"), False, MESSAGE, _GMAIL_INVALID),
    _gmail("throttled", _status(429), True, RELAY, _GMAIL_RATE),
    _gmail("unavailable", _status(*_TRANSIENT), True, RELAY, _UNAVAILABLE),
    _gmail("refused", When(), False, RELAY, _OTHER),
)
# fmt: on
