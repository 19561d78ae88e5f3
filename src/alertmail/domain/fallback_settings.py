"""The rules between the fallback transport's fields: the same as the primary's, named by its fields.

Kept apart from settings.py so that a new kind of fallback (Graph) brings its rules here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alertmail.domain.fallback import NO_FALLBACK

if TYPE_CHECKING:
    from alertmail.domain.settings_model import MailSettings

__all__ = ["fallback_problems"]


def fallback_problems(s: MailSettings) -> list[tuple[str, str]]:
    """Each (field, problem) of a fallback that could not send; none when there is no fallback."""
    if s.fallback_email_type == NO_FALLBACK:
        return []
    found: list[tuple[str, str]] = []
    smtp = s.fallback_email_type == "smtp"
    if smtp and not s.fallback_hostname:
        found.append(("fallback_hostname", "is required when the fallback E-mail Type is SMTP"))
    if smtp and s.fallback_auth_type == "basic":
        if s.fallback_encryption == "none" and not s.allow_plaintext_auth:
            found.append(
                (
                    "fallback_encryption",
                    "must be tls or starttls with a password; or set allow_plaintext_auth",
                )
            )
        if not s.fallback_username:
            found.append(("fallback_username", "is required with username and password authentication"))
        if s.fallback_password is None or not s.fallback_password.get_secret_value():
            found.append(("fallback_password", "is required with username and password authentication"))
    if smtp and s.email_type == "smtp" and (s.fallback_hostname, s.fallback_port) == (s.hostname, s.port):
        found.append(("fallback_hostname", "must be another relay than the primary one (hostname and port)"))
    if s.fallback_email_type == "graph":
        found += _graph_problems(s)
    return found


_APP_ONLY = "a Graph fallback signs in app-only (client credentials) and only so"


def _graph_problems(s: MailSettings) -> list[tuple[str, str]]:
    """A Graph fallback: an app (tenant, client ID, secret) and the mailbox it sends as; nothing
    that belongs to a sign-in by a person or to a relay."""
    found: list[tuple[str, str]] = []
    for field, what in (
        ("fallback_tenant_id", "the directory (tenant) ID of the fallback's app"),
        ("fallback_client_id", "the application (client) ID of the fallback's app"),
        ("fallback_username", "the mailbox the fallback sends as"),
    ):
        if not getattr(s, field):
            found.append((field, f"is required when the fallback E-mail Type is Graph: {what}"))
    if s.fallback_client_secret is None or not s.fallback_client_secret.get_secret_value():
        found.append(
            ("fallback_client_secret", f"is required when the fallback E-mail Type is Graph: {_APP_ONLY}")
        )
    if s.fallback_auth_type != "none" or (s.fallback_password and s.fallback_password.get_secret_value()):
        found.append(("fallback_auth_type", f"must be none with a Graph fallback: {_APP_ONLY}, no password"))
    if s.email_type == "graph" and (s.fallback_graph_endpoint, s.fallback_username.lower()) == (
        s.graph_endpoint,
        s.username.lower(),
    ):
        found.append(
            ("fallback_username", "must be another mailbox than the primary's at the same Graph endpoint")
        )
    return found
