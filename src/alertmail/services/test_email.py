"""The test e-mail: proof that the settings in force deliver, sent to the administrator's address."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from alertmail.domain import messages
from alertmail.domain.addresses import AddressError, normalize_address
from alertmail.domain.classification import Classification
from alertmail.domain.message import build_message
from alertmail.domain.ports import AdministratorRepository, SettingsRepository
from alertmail.domain.records import Administrator
from alertmail.domain.settings import API_TYPES, MailSettings, apply_update
from alertmail.errors import (
    AdministratorEmailMissingError,
    FieldError,
    NotConfiguredError,
    NotFoundError,
    SettingsValidationError,
)
from alertmail.services.clock import Clock, utc_now
from alertmail.services.sending import DeliveryFailedError, MailSendingService

__all__ = ["TestEmailResult", "TestEmailService"]


@dataclass(frozen=True)
class TestEmailResult:
    """What the administrator is told. `message` is the seed's sentence, word for word."""

    __test__ = False  # not a pytest test class

    sent: bool
    to: str
    message: str
    failure: Classification | None = None
    log_entry_id: int | None = None


class TestEmailService:
    __test__ = False

    def __init__(
        self,
        settings: SettingsRepository,
        administrators: AdministratorRepository,
        sending: MailSendingService,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self._settings = settings
        self._administrators = administrators
        self._sending = sending
        self._clock = clock

    async def send_test(self, *, administrator: str | None = None, to: str | None = None) -> TestEmailResult:
        """Send with the stored settings. Raises when there is no one to send to or nothing to send with."""
        stored = await self._settings.load()
        if stored.version == 0:
            raise NotConfiguredError(
                "The mail settings have not been saved yet: set the From Address and the relay first"
            )
        address = _checked_address(to) if to else await self._administrator_address(administrator)
        return await self.send_with(stored.settings, address)

    async def send_unsaved(
        self, changes: Mapping[str, Any], *, administrator: str | None = None, to: str | None = None
    ) -> TestEmailResult:
        """Send with the stored settings changed by `changes`, without saving them: a test of what
        is on the screen. Bad values raise `SettingsValidationError` naming every field."""
        stored = await self._settings.load()
        if stored.version == 0 and not changes:
            return await self.send_test(administrator=administrator, to=to)  # says what to set first
        candidate = apply_update(stored.settings, changes)
        address = _checked_address(to) if to else await self._administrator_address(administrator)
        return await self.send_with(candidate, address)

    async def send_with(self, settings: MailSettings, address: str) -> TestEmailResult:
        message = build_message(
            from_address=settings.from_address,
            to=[address],
            subject="alertmail test e-mail",
            text=_body_text(settings),
            html=_body_html(settings),
            sent_at=self._clock(),
        )
        try:
            await self._sending.send_now(message, [address], settings, context="test e-mail", purpose="test")
        except DeliveryFailedError as failed:
            return TestEmailResult(
                sent=False,
                to=address,
                message=messages.TEST_EMAIL_FAILED,
                failure=failed.classification,
                log_entry_id=failed.entry.id,
            )
        return TestEmailResult(sent=True, to=address, message=messages.test_email_sent(address))

    async def _administrator_address(self, username: str | None) -> str:
        admin = await self._administrators.get(username) if username else await self._only_admin()
        if admin is None:
            raise NotFoundError(f"There is no administrator named {username!r}")
        if not admin.email:
            raise AdministratorEmailMissingError(messages.NO_ADMINISTRATOR_EMAIL)
        return admin.email

    async def _only_admin(self) -> Administrator:
        admins = await self._administrators.list()
        if len(admins) != 1:
            raise SettingsValidationError(
                [
                    FieldError(
                        "to",
                        f"is required: there are {len(admins)} administrators, so name the recipient "
                        "(--to ADDRESS) or the administrator whose e-mail to use (--admin USERNAME)",
                    )
                ]
            )
        return admins[0]


def _checked_address(address: str) -> str:
    try:
        return normalize_address(address)
    except AddressError as exc:
        raise SettingsValidationError([FieldError("to", f"is not a valid e-mail address ({exc})")]) from None


def _summary(settings: MailSettings) -> list[tuple[str, str]]:
    if settings.email_type == "native":
        return [("E-mail Type", "Native (local sendmail)")]
    if settings.email_type in API_TYPES:
        graph = settings.email_type == "graph"
        grant = "App-only" if settings.oauth_grant == "client_credentials" else "Signed-in mailbox"
        return [
            ("E-mail Type", "Microsoft Graph" if graph else "Gmail API"),
            ("Endpoint", settings.graph_endpoint if graph else settings.gmail_endpoint),
            ("Mailbox", settings.username),
            ("Authentication", f"OAuth2 ({grant})"),
        ]
    return [
        ("E-mail Type", "SMTP"),
        ("Relay", f"{settings.hostname}:{settings.port}"),
        ("Encryption", settings.encryption.upper() if settings.encryption != "none" else "None"),
        (
            "Authentication",
            {"none": "None", "basic": "Username and Password", "oauth2": "OAuth2"}[settings.auth_type],
        ),
    ]


def _body_text(settings: MailSettings) -> str:
    lines = [f"{name}: {value}" for name, value in _summary(settings)]
    return "This is a test e-mail from alertmail. The mail settings work.\n\n" + "\n".join(lines) + "\n"


def _body_html(settings: MailSettings) -> str:
    rows = "".join(
        f"<tr><th align=left>{escape(name)}</th><td>{escape(value)}</td></tr>"
        for name, value in _summary(settings)
    )
    return f"<p>This is a test e-mail from alertmail. The mail settings work.</p><table>{rows}</table>"
