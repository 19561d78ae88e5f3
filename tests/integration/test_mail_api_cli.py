"""`alertmail settings set email_type=graph|gmail_api ...` and a test e-mail, as an administrator
runs them: the real command against the token and mail API stand-ins on loopback."""

from __future__ import annotations

from alertmail.domain import messages
from tests.integration.test_oauth_cli import start_sign_in
from tests.support.api_settings import gmail_delegated, graph_app_only, strict_tokens
from tests.support.app import Cli
from tests.support.mail_api_fakes import MailApiFake
from tests.support.oauth_settings import browse
from tests.support.provider_fakes import ProviderFake

UNREACHABLE_REDIRECT = "http://127.0.0.1:9/login/smtp-verification"


def as_arguments(fields: dict[str, object]) -> list[str]:
    secretless = {name: value for name, value in fields.items() if name != "client_secret"}
    return [
        f"{name}={' '.join(value) if isinstance(value, list) else value}"
        for name, value in secretless.items()
    ] + ["client_secret=-"]


async def test_graph_from_the_command_line(
    cli: Cli, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    strict_tokens(provider_fake, mail_api_fake)
    fields = graph_app_only(provider_fake, mail_api_fake)
    saved = await cli.run("settings", "set", *as_arguments(fields), stdin=f"{fields['client_secret']}\n")
    assert saved.returncode == 0, saved.stderr

    sent = await cli.run("test-email", "--to", "ops@example.com")

    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert messages.test_email_sent("ops@example.com") in sent.stdout
    (received,) = mail_api_fake.received
    assert received.api == "graph" and received.message["To"] == "ops@example.com"
    shown = (await cli.run("settings", "show")).stdout
    assert "email_type = graph" in shown and f"graph_endpoint = {mail_api_fake.base_url}" in shown
    assert str(fields["client_secret"]) not in shown + saved.stdout + sent.stdout


async def test_gmail_from_the_command_line(
    cli: Cli, provider_fake: ProviderFake, mail_api_fake: MailApiFake
) -> None:
    strict_tokens(provider_fake, mail_api_fake)
    fields = gmail_delegated(provider_fake, mail_api_fake, redirect_uri=UNREACHABLE_REDIRECT)
    saved = await cli.run("settings", "set", *as_arguments(fields), stdin=f"{fields['client_secret']}\n")
    assert saved.returncode == 0, saved.stderr
    signing_in = await start_sign_in(cli)
    url = await signing_in.authorization_url()
    assert "access_type=offline" in url and "prompt=consent" in url and "gmail.send" in url
    await signing_in.paste(await browse(url))
    code, out, err = await signing_in.finish()
    assert code == 0, out + err

    sent = await cli.run("test-email", "--to", "ops@example.com")

    assert sent.returncode == 0, sent.stdout + sent.stderr
    (received,) = mail_api_fake.received
    assert received.api == "gmail_api" and received.message["Subject"] == "alertmail test e-mail"
