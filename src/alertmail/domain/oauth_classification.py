"""The OAuth2 rows of the classification table: provider error codes, and what each one means.

Microsoft names the cause in an `AADSTSnnnn` code; Google and RFC 6749 providers only in `error`.
Codes that mean "the refresh token is dead" are `oauth_reauth`: sending stops asking the provider
with that token and waits for the administrator to sign in again. The rest are `oauth`: a setting
or a permission to fix (or, for throttling and an unreachable endpoint, a retry).
"""

from __future__ import annotations

from dataclasses import dataclass

from alertmail.domain.classification_matchers import Rule, Scope, When
from alertmail.errors import OAuthError

__all__ = ["DEVICE_CODES", "DEVICE_ERRORS", "OAUTH_CODES", "OAUTH_RULES", "OAuthCode", "oauth_log_message"]

_SIGN_IN_AGAIN = "Sign In again (Mail Settings)."


@dataclass(frozen=True)
class OAuthCode:
    category: str
    retryable: bool
    hint: str


_REDIRECT = OAuthCode(
    "oauth",
    False,
    "The Redirect URI is not registered for this application. Register exactly the Redirect URI "
    "shown in the Mail Settings (scheme, host, port and path must match) in the app registration, "
    "or change the Redirect URI to one that is registered.",
)
_REAUTH_INACTIVE = OAuthCode(
    "oauth_reauth",
    False,
    "The refresh token expired after a long time unused. " + _SIGN_IN_AGAIN + " alertmail's daily "
    "refresh keeps the new one alive.",
)
_REAUTH_REVOKED = OAuthCode(
    "oauth_reauth",
    False,
    "The sign-in was revoked (password change or reset, an administrator revoked sessions, or the "
    "consent was removed). " + _SIGN_IN_AGAIN,
)
_CLIENT = OAuthCode(
    "oauth",
    False,
    "The provider did not accept the Application (Client) ID and Client Secret Value. Check the "
    "Client ID, and enter the secret's Value (not its Secret ID); create a new one if it expired.",
)

OAUTH_CODES: dict[str, OAuthCode] = {
    "AADSTS50011": _REDIRECT,
    "AADSTS500112": _REDIRECT,
    "AADSTS700082": _REAUTH_INACTIVE,
    "AADSTS70008": _REAUTH_INACTIVE,
    "AADSTS50173": _REAUTH_REVOKED,
    "AADSTS70043": OAuthCode(
        "oauth_reauth",
        False,
        "A Conditional Access sign-in frequency policy ended the sign-in. "
        + _SIGN_IN_AGAIN
        + " To avoid this, exclude the sending account or app from the sign-in frequency policy.",
    ),
    "AADSTS7000215": OAuthCode(
        "oauth",
        False,
        "Invalid client secret: enter the secret's Value from Certificates & secrets in the app "
        "registration, not its Secret ID.",
    ),
    "AADSTS7000222": OAuthCode(
        "oauth",
        False,
        "The client secret has expired. Create a new client secret in the app registration "
        "(Certificates & secrets) and enter its Value as the Client Secret Value.",
    ),
    "AADSTS50194": OAuthCode(
        "oauth",
        False,
        "The app is single-tenant, so it cannot sign in through /common. Enter the Directory "
        "(Tenant) ID from the app registration's overview as the Tenant ID.",
    ),
    "AADSTS65001": OAuthCode(
        "oauth",
        False,
        "Nobody has consented to the app's permissions. Sign in again and accept, or have a "
        "Global Administrator grant admin consent for SMTP.Send in API permissions.",
    ),
    "AADSTS65004": OAuthCode(
        "oauth",
        False,
        "The consent screen was declined. Sign in again and accept the requested permissions.",
    ),
    "AADSTS50076": OAuthCode(
        "oauth", False, "The tenant requires multi-factor authentication: complete it when signing in."
    ),
    "AADSTS50079": OAuthCode(
        "oauth", False, "The account must register for multi-factor authentication before it can sign in."
    ),
    "AADSTS700016": OAuthCode(
        "oauth",
        False,
        "No application with this Client ID exists in the tenant. Check the Application (Client) ID "
        "and the Tenant ID; the app must be registered in that tenant or be multi-tenant.",
    ),
    "AADSTS90002": OAuthCode(
        "oauth", False, "The tenant was not found: check the Tenant ID (a GUID or a verified domain)."
    ),
    "AADSTS50020": OAuthCode(
        "oauth",
        False,
        "The account that signed in belongs to another directory. Sign in with the mailbox of "
        "this tenant, or use the tenant that account belongs to.",
    ),
    "AADSTS53003": OAuthCode(
        "oauth",
        False,
        "A Conditional Access policy blocked the sign-in. Ask the tenant administrator to allow "
        "this app or location for the sending account.",
    ),
    "AADSTS530035": OAuthCode(
        "oauth",
        False,
        "The tenant's security defaults blocked the sign-in. Ask the tenant administrator to review "
        "security defaults for the sending account.",
    ),
    "AADSTS50126": OAuthCode("oauth", False, "The username or password was wrong at sign-in: sign in again."),
    "AADSTS50057": OAuthCode(
        "oauth", False, "The account that signed in is disabled. Enable it, or sign in with another mailbox."
    ),
    "AADSTS50055": OAuthCode(
        "oauth", False, "The account's password has expired: change it, then sign in again."
    ),
    "AADSTS54005": OAuthCode(
        "oauth",
        False,
        "This authorization code was already used. Start a new sign-in; never reload the callback page.",
    ),
    "AADSTS501481": OAuthCode(
        "oauth", False, "The PKCE code verifier did not match the sign-in request. Start a new sign-in."
    ),
    "AADSTS70011": OAuthCode(
        "oauth",
        False,
        "The provider refused the Scopes. For Microsoft 365 use "
        "'https://outlook.office.com/SMTP.Send offline_access'.",
    ),
    "AADSTS90055": OAuthCode("oauth", True, "The provider is throttling sign-in requests. {retry}"),
    "redirect_uri_mismatch": _REDIRECT,
    "invalid_redirect_uri": _REDIRECT,
    "invalid_client": _CLIENT,
    "unauthorized_client": OAuthCode(
        "oauth",
        False,
        "The provider does not allow this client to use this grant. Check that the app is a web "
        "application allowed the authorization code and refresh token grants (or client "
        "credentials for app-only sending).",
    ),
    "deleted_client": OAuthCode(
        "oauth", False, "The OAuth client was deleted at the provider: create a new one and enter its IDs."
    ),
    "access_denied": OAuthCode(
        "oauth", False, "The sign-in was cancelled or consent was refused. Sign in again and accept."
    ),
    "admin_policy_enforced": OAuthCode(
        "oauth",
        False,
        "The Google Workspace administrator does not allow this app. Ask them to trust the app "
        "in the Admin console (Security > API controls).",
    ),
    "org_internal": OAuthCode(
        "oauth",
        False,
        "The app is limited to users of its own Google Workspace organisation: sign in with an "
        "account of that organisation, or make the app External.",
    ),
    "invalid_scope": OAuthCode(
        "oauth", False, "The provider refused the Scopes: check them (Google: 'https://mail.google.com/')."
    ),
}

_INVALID_GRANT = OAuthCode(
    "oauth_reauth",
    False,
    "The refresh token no longer works (expired, revoked or unused too long). " + _SIGN_IN_AGAIN,
)
_CODE_EXCHANGE = OAuthCode(
    "oauth", False, "The provider refused the authorization code. Start a new sign-in."
)


def _rule(name: str, when: When, known: OAuthCode) -> Rule:
    return Rule(name, when, known.category, known.retryable, Scope.RELAY, known.hint)


_BROWSER_SIGN_IN = "Use Sign In (the browser sign-in) instead"
# Sign in with a code (RFC 8628): what ends a device sign-in, read before the general rows. Microsoft
# names the cause in a code; the RFC's errors (Microsoft's too, beside its code) in `error`.
DEVICE_CODES: dict[str, OAuthCode] = {
    "AADSTS53003": OAuthCode(
        "oauth",
        False,
        "A Conditional Access policy blocks sign-in with a code (the device code flow) for this "
        "account or app, as Microsoft recommends. " + _BROWSER_SIGN_IN + ", or ask the tenant "
        "administrator to exclude the sending account from the policy that blocks the device code "
        "flow (Conditional Access, Authentication flows).",
    ),
    "AADSTS7000218": OAuthCode(
        "oauth",
        False,
        "The app registration does not allow public client flows, so a sign-in with a code needs the "
        "client secret. In the Azure portal, on the app registration's Authentication page, set "
        "Allow public client flows to Yes; or enter the Client Secret Value.",
    ),
}
_DECLINED = OAuthCode(
    "oauth",
    False,
    "The sign-in was declined on the provider's page. Start the sign-in with a code again and "
    "approve it, signed in as the mailbox that sends.",
)
DEVICE_ERRORS: dict[str, OAuthCode] = {
    "expired_token": OAuthCode(
        "oauth",
        False,
        "The code was not entered and approved in time. Start the sign-in with a code again and "
        "enter the new code at the address shown before it expires.",
    ),
    "access_denied": _DECLINED,
    "authorization_declined": _DECLINED,  # Microsoft's name for it
    "bad_verification_code": OAuthCode(
        "oauth", False, "The provider did not recognise the device code. Start the sign-in with a code again."
    ),
    "unauthorized_client": OAuthCode(
        "oauth",
        False,
        "The provider does not allow this client to sign in with a code (the device code grant). "
        "Allow the grant for the client (Microsoft: Allow public client flows), or use Sign In (the "
        "browser sign-in) instead.",
    ),
}

# First the device sign-in's own rows and the known codes, then what the error and stage say; the
# general `oauth` row last.
OAUTH_RULES: tuple[Rule, ...] = (
    *(
        _rule(f"device_{code.lower()}", When(kind="oauth", stages=("device",), provider_code=code), known)
        for code, known in DEVICE_CODES.items()
    ),
    *(
        _rule(f"device_{error}", When(kind="oauth", stages=("device",), oauth_error=error), known)
        for error, known in DEVICE_ERRORS.items()
    ),
    *(
        _rule(f"oauth_{code.lower()}", When(kind="oauth", provider_code=code), known)
        for code, known in OAUTH_CODES.items()
    ),
    _rule(
        "oauth_stored_dead",
        When(kind="oauth", oauth_error="reauthorization_required", stages=("stored",)),
        OAuthCode(
            "oauth_reauth",
            False,
            "The saved sign-in no longer works and was not tried again. " + _SIGN_IN_AGAIN,
        ),
    ),
    _rule(
        "oauth_not_authorized",
        When(kind="oauth", oauth_error="not_authorized", stages=("stored",)),
        OAuthCode(
            "oauth",
            False,
            "OAuth2 is configured but nobody has signed in yet: use Sign In on Mail Settings.",
        ),
    ),
    _rule(
        "oauth_code_refused",
        When(kind="oauth", oauth_error="invalid_grant", stages=("token",)),
        _CODE_EXCHANGE,
    ),
    _rule("oauth_invalid_grant", When(kind="oauth", oauth_error="invalid_grant"), _INVALID_GRANT),
    _rule(
        "oauth_unavailable",
        When(kind="oauth", transient=True),
        OAuthCode(
            "oauth",
            True,
            "The provider's token endpoint could not be reached or is failing. {retry} "
            "Check that this appliance can reach {host} over HTTPS.",
        ),
    ),
    _rule(
        "oauth_other",
        When(kind="oauth"),
        OAuthCode(
            "oauth",
            False,
            "The provider refused the request; the provider's error says why. Check the OAuth2 settings.",
        ),
    ),
)


def oauth_log_message(error: OAuthError) -> str:
    """`AADSTS700082: The refresh token has expired ...` or `invalid_grant: Token has been ...`."""
    text = error.description.splitlines()[0].strip() if error.description else ""
    if text.startswith(error.provider_code):
        return text
    return f"{error.provider_code}: {text}" if text else error.provider_code
