"""`alertmail oauth verify` as an administrator runs it: exit 0 when the token allows sending, 1 with
the finding and its fix; against the real local OAuth server and the Microsoft stand-in."""

from __future__ import annotations

import json

from tests.support.app import Cli
from tests.support.oauth_server import OAuthServer
from tests.support.oauth_settings import CLIENT_ID, microsoft_app_only_at, microsoft_settings
from tests.support.provider_fakes import ProviderFake
from tests.support.smtp import SmtpSink


async def configure(cli: Cli, fields: dict[str, object], secret: str) -> None:
    args = [f"{name}={value}" for name, value in fields.items() if name != "client_secret"]
    done = await cli.run("settings", "set", *args, "client_secret=-", stdin=secret + "\n")
    assert done.returncode == 0, done.stderr


async def app_only_at_real_server(
    cli: Cli, oauth_server: OAuthServer, sink: SmtpSink, roles: list[str]
) -> None:
    fields = await microsoft_app_only_at(oauth_server, sink, roles)
    await configure(cli, fields, str(fields["client_secret"]))


async def test_a_missing_role_exits_1_with_the_finding_and_the_entra_step(
    cli: Cli, oauth_server: OAuthServer, smtp_server: SmtpSink
) -> None:
    await app_only_at_real_server(cli, oauth_server, smtp_server, roles=[])

    done = await cli.run("oauth", "verify")

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Email authorization failed!" in done.stderr
    assert (
        "Finding (missing_permission): The access token lacks the Application permission SMTP.SendAsApp"
        in done.stderr
    )
    assert "Fix: Microsoft Entra admin center > App registrations" in done.stderr
    assert "audience: https://outlook.office365.com" in done.stdout
    assert smtp_server.connections == 0 and not smtp_server.messages
    logs = await cli.run("logs", "--json", "--category", "oauth")
    [entry] = [json.loads(line) for line in logs.stdout.splitlines()]
    assert entry["context"] == "OAuth2 verify" and "SMTP.SendAsApp" in entry["hint"]


async def test_a_granted_role_exits_0(cli: Cli, oauth_server: OAuthServer, smtp_server: SmtpSink) -> None:
    await app_only_at_real_server(cli, oauth_server, smtp_server, roles=["SMTP.SendAsApp"])

    done = await cli.run("oauth", "verify")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Your email has been verified. Authorization complete!" in done.stdout
    assert "roles (application permissions): SMTP.SendAsApp" in done.stdout


async def test_json_output_holds_the_claims_not_the_token(cli: Cli, provider_fake: ProviderFake) -> None:
    provider_fake.jwt_access_tokens = True
    provider_fake.app_roles = ["Mail.Send"]  # a Graph permission: not what SMTP needs
    provider_fake.access_token = None
    fields = microsoft_settings(provider_fake, oauth_grant="client_credentials")
    await configure(cli, fields, str(fields["client_secret"]))

    done = await cli.run("oauth", "verify", "--json")

    assert done.returncode == 1, done.stderr
    body = json.loads(done.stdout)
    assert [finding["code"] for finding in body["findings"]] == ["missing_permission"]
    assert body["claims"]["app_id"] == CLIENT_ID and body["claims"]["roles"] == ["Mail.Send"]
    assert "eyJ" not in done.stdout + done.stderr  # no JWT, not even its header


async def test_verify_without_oauth_exits_1_naming_the_field(cli: Cli) -> None:
    done = await cli.run("oauth", "verify")

    assert done.returncode == 1
    assert "auth_type" in done.stderr and "Verify" in done.stderr
