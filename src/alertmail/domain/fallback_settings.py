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
    return found
