"""Google's client JSON ("Download JSON" in Google Cloud) read into mail settings (seed 004)."""

from __future__ import annotations

import json

import pytest

from alertmail.domain.google_client import read_google_client
from alertmail.errors import SettingsValidationError

# The shape Google Cloud writes for a Web application client (values made up).
GOOGLE_FILE = {
    "web": {
        "client_id": "1234-abc.apps.googleusercontent.com",
        "project_id": "appliance-mail",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_secret": "GOCSPX-made-up",
        "redirect_uris": ["https://appliance.corp.local/login/smtp-verification"],
    }
}


def test_the_file_fills_the_client_and_its_endpoints() -> None:
    client = read_google_client(json.dumps(GOOGLE_FILE))
    assert client.changes == {
        "auth_type": "oauth2",
        "oauth_provider": "google",
        "client_id": "1234-abc.apps.googleusercontent.com",
        "client_secret": "GOCSPX-made-up",
        "authorization_endpoint": "https://accounts.google.com/o/oauth2/auth",
        "token_endpoint": "https://oauth2.googleapis.com/token",
    }
    assert client.registers("https://appliance.corp.local/login/smtp-verification")
    assert not client.registers("http://127.0.0.1:8025/login/smtp-verification")


def test_a_desktop_client_file_is_read_too() -> None:
    client = read_google_client(json.dumps({"installed": GOOGLE_FILE["web"]}))
    assert client.changes["client_id"] == "1234-abc.apps.googleusercontent.com"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("not json", "is not JSON"),
        ("[]", 'no "web"'),
        ('{"web": {}}', 'no "web"'),
        ('{"other": 1}', 'no "web"'),
    ],
)
def test_other_files_are_refused_saying_why(text: str, said: str) -> None:
    with pytest.raises(SettingsValidationError) as refused:
        read_google_client(text)
    assert said in refused.value.errors[0].message
