"""The OAuth client file Google Cloud offers for download ("Download JSON"), read into settings.

Seed 004 ends Google's setup with "Click to download a JSON file": its `client_id`, `client_secret`,
`auth_uri` and `token_uri` are the settings to enter. The file holds one client under `web` (or
`installed`, for a desktop client) and the redirect URIs registered for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from alertmail.errors import FieldError, SettingsValidationError

__all__ = ["GoogleClient", "read_google_client"]


@dataclass(frozen=True)
class GoogleClient:
    changes: dict[str, Any]  # the mail settings the file fills
    redirect_uris: tuple[str, ...]

    def registers(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris


def read_google_client(text: str) -> GoogleClient:
    """The settings of Google's client JSON, or `SettingsValidationError` saying what is wrong."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _refused(f"is not JSON ({exc})") from None
    client = data.get("web") or data.get("installed") if isinstance(data, dict) else None
    if not isinstance(client, dict) or not client.get("client_id"):
        raise _refused('is not a Google OAuth client file: it has no "web" (or "installed") client_id')
    changes: dict[str, Any] = {
        "auth_type": "oauth2",
        "oauth_provider": "google",
        "client_id": str(client["client_id"]),
    }
    for source, field in (
        ("client_secret", "client_secret"),
        ("auth_uri", "authorization_endpoint"),
        ("token_uri", "token_endpoint"),
    ):
        if client.get(source):
            changes[field] = str(client[source])
    uris = client.get("redirect_uris") or []
    return GoogleClient(changes, tuple(str(uri) for uri in uris if isinstance(uri, str)))


def _refused(message: str) -> SettingsValidationError:
    return SettingsValidationError([FieldError("file", message)])
