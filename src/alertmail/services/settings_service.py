"""Reading and saving the mail settings: validate, version, audit, and test on save."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alertmail.domain.ports import SettingsRepository
from alertmail.domain.records import AuditEntry, StoredSettings
from alertmail.domain.settings import FIELD_NAMES, SECRET_FIELDS, MailSettings, apply_update
from alertmail.errors import AdministratorEmailMissingError
from alertmail.services.clock import Clock, utc_now
from alertmail.services.test_email import TestEmailResult, TestEmailService

__all__ = ["SaveResult", "SettingsService", "changed_fields"]


@dataclass(frozen=True)
class SaveResult:
    stored: StoredSettings
    changed: tuple[str, ...]
    test_email: TestEmailResult | None = None
    test_email_problem: str | None = None


class SettingsService:
    def __init__(
        self,
        repository: SettingsRepository,
        test_email: TestEmailService,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self._repository = repository
        self._test_email = test_email
        self._clock = clock

    async def current(self) -> StoredSettings:
        return await self._repository.load()

    async def save(
        self,
        changes: Mapping[str, Any],
        *,
        actor: str,
        replace: bool = False,
        test_recipient_admin: str | None = None,
        send_test: bool | None = None,
    ) -> SaveResult:
        """Validate and store a change (PATCH) or a whole new set (PUT, `replace=True`).

        Bad input raises `SettingsValidationError` and nothing is stored. Empty secrets keep the
        stored ones. With `send_test_on_save` (or `send_test=True`) a test e-mail follows a save.
        """
        stored = await self._repository.load()
        base = _replacement_base(stored.settings) if replace else stored.settings
        updated = apply_update(base, changes)
        changed = changed_fields(stored.settings, updated)
        if changed or stored.version == 0:
            audit = AuditEntry(
                actor=actor,
                action="mail_settings.update",
                at=self._clock(),
                details=_audit_details(stored.settings, updated, changed),
            )
            stored = await self._repository.save(
                updated, expected_version=stored.version, actor=actor, audit=audit
            )
        wants_test = updated.send_test_on_save if send_test is None else send_test
        if not wants_test:
            return SaveResult(stored, changed)
        return await self._with_test_email(stored, changed, test_recipient_admin)

    async def _with_test_email(
        self, stored: StoredSettings, changed: tuple[str, ...], admin: str | None
    ) -> SaveResult:
        try:
            result = await self._test_email.send_test(administrator=admin)
        except AdministratorEmailMissingError as missing:
            return SaveResult(stored, changed, test_email_problem=str(missing))
        return SaveResult(stored, changed, test_email=result)


def _replacement_base(current: MailSettings) -> MailSettings:
    # PUT replaces every field, but a form or a file never carries the stored secrets back.
    return MailSettings.model_construct(**{name: getattr(current, name) for name in SECRET_FIELDS})


def changed_fields(before: MailSettings, after: MailSettings) -> tuple[str, ...]:
    return tuple(name for name in FIELD_NAMES if _comparable(before, name) != _comparable(after, name))


def _comparable(settings: MailSettings, name: str) -> Any:
    value = getattr(settings, name)
    if name in SECRET_FIELDS:
        return value.get_secret_value() if value is not None else None
    return value


def _audit_details(before: MailSettings, after: MailSettings, changed: tuple[str, ...]) -> dict[str, Any]:
    """Which fields changed, with old and new values, except secrets: only that they changed."""
    details: dict[str, Any] = {}
    for name in changed:
        if name in SECRET_FIELDS:
            details[name] = {"changed": True}
        else:
            details[name] = {"from": getattr(before, name), "to": getattr(after, name)}
    return {"changed": details}
