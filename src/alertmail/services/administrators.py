"""Administrators and API tokens: argon2 password hashes, hashed bearer tokens shown once."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from alertmail.domain.addresses import AddressError, normalize_address
from alertmail.domain.api_tokens import (
    DEFAULT_TOKEN_LIFETIME,
    NAME_HELP,
    NAME_PATTERN,
    SCOPES,
    TokenScope,
    parse_expires_in,
)
from alertmail.domain.ports import AdministratorRepository, ApiTokenRepository
from alertmail.domain.records import Administrator, ApiToken
from alertmail.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    SettingsValidationError,
    UnauthorizedError,
)
from alertmail.services.clock import Clock, utc_now
from alertmail.services.credential_cache import TokenCache
from alertmail.services.password_policy import password_problems

__all__ = ["AdministratorService", "ApiCaller", "hash_token"]

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
TOKEN_PREFIX = "am_"  # noqa: S105  # makes a leaked token recognisable to secret scanners


def hash_token(token: str) -> str:
    # Tokens are 256 random bits: a fast hash is enough, unlike passwords.
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ApiCaller:
    """Who an API request acts for, and what its token allows (the web session: everything)."""

    administrator: Administrator
    scope: TokenScope


class AdministratorService:
    def __init__(
        self,
        administrators: AdministratorRepository,
        tokens: ApiTokenRepository,
        hasher: PasswordHasher | None = None,
        *,
        token_cache: TokenCache | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._administrators = administrators
        self._tokens = tokens
        self._hasher = hasher or PasswordHasher()
        self._token_cache = token_cache
        self._clock = clock

    async def create(
        self, username: str, *, email: str | None, password: str, password_confirm: str | None = None
    ) -> Administrator:
        """`password_confirm`, from a form: checked with the rest, so every problem is told at once."""
        problems = _administrator_problems(username, email, password)
        if password_confirm is not None and password_confirm != password:
            problems.append(FieldError("password_confirm", "does not match the password"))
        if problems:
            raise SettingsValidationError(problems)
        if await self._administrators.get(username) is not None:
            raise ConflictError(f"An administrator named {username!r} already exists")
        return await self._administrators.add(username, _normalized(email), self._hasher.hash(password))

    async def list(self) -> list[Administrator]:
        return list(await self._administrators.list())

    async def get(self, username: str) -> Administrator | None:
        return await self._administrators.get(username)

    async def verify_password(self, username: str, password: str) -> Administrator | None:
        stored_hash = await self._administrators.password_hash(username)
        if stored_hash is None:
            # Hash anyway so a missing user costs as long as a wrong password.
            self._hasher.hash(password)
            return None
        try:
            self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        return await self._administrators.get(username)

    async def set_email(self, username: str, email: str | None) -> None:
        if email:
            problems = _email_problems(email)
            if problems:
                raise SettingsValidationError(problems)
        if await self._administrators.get(username) is None:
            raise NotFoundError(f"There is no administrator named {username!r}")
        await self._administrators.set_email(username, _normalized(email))
        self._forget_tokens()

    async def change_password(
        self, username: str, *, current: str, new: str, new_confirm: str | None = None
    ) -> None:
        """Change one's own password: the current one proves it is them at the keyboard. Every
        problem is told at once (`new_confirm`, from a form, is checked with the rest)."""
        problems = []
        if await self.verify_password(username, current) is None:
            problems.append(FieldError("current_password", "is not correct"))
        problems += password_problems(new, field="new_password", username=username)
        if new_confirm is not None and new_confirm != new:
            problems.append(FieldError("new_password_confirm", "does not match the new password"))
        if problems:
            raise SettingsValidationError(problems)
        await self._administrators.set_password_hash(username, self._hasher.hash(new))

    async def remove(self, username: str, *, acting: str) -> None:
        """Remove another administrator; never oneself, never the last one."""
        if username == acting:
            raise ConflictError("You cannot remove the account you are signed in with")
        await self._administrators.remove(username)
        self._forget_tokens()

    async def create_token(
        self,
        name: str,
        *,
        administrator: str,
        scope: str = "admin",
        expires_in: str | timedelta | None = DEFAULT_TOKEN_LIFETIME,
    ) -> tuple[ApiToken, str]:
        """A new bearer token: the record, and the token itself, which is never shown again."""
        lifetime = _token_problems(name, scope, expires_in)
        if await self._administrators.get(administrator) is None:
            raise NotFoundError(f"There is no administrator named {administrator!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires_at = None if lifetime is None else self._clock() + lifetime
        record = await self._tokens.add(
            name, administrator, hash_token(token), scope=_scope(scope), expires_at=expires_at
        )
        return record, token

    async def list_tokens(self) -> Sequence[ApiToken]:
        return await self._tokens.list()

    async def revoke_token(self, name: str) -> None:
        await self._tokens.remove(name)
        self._forget_tokens()

    async def authenticate_token(self, token: str) -> ApiCaller:
        """Who the token acts for, or `UnauthorizedError`; from memory while nothing changed."""
        token_hash = hash_token(token)
        if self._token_cache is None:
            record, admin = await self._look_up_token(token_hash)
        else:
            record, admin = await self._token_cache.resolve(
                token_hash, lambda: self._look_up_token(token_hash)
            )
        if record.expired(self._clock()):  # checked on every call: a cached token expires too
            raise UnauthorizedError(f"The API token {record.name!r} has expired: create a new one")
        return ApiCaller(admin, record.scope)

    def _forget_tokens(self) -> None:
        # Other processes learn of the change from the generation the repository bumped with it.
        if self._token_cache is not None:
            self._token_cache.clear()

    async def _look_up_token(self, token_hash: str) -> tuple[ApiToken, Administrator]:
        record = await self._tokens.find(token_hash)
        admin = await self._administrators.get(record.administrator) if record else None
        if record is None or admin is None:
            raise UnauthorizedError("The API token is not valid")
        return record, admin


def _token_problems(name: str, scope: str, expires_in: str | timedelta | None) -> timedelta | None:
    """The token's lifetime, or every problem with the request at once."""
    problems: list[FieldError] = []
    if not re.fullmatch(NAME_PATTERN, name):
        problems.append(FieldError("name", NAME_HELP))
    if scope not in SCOPES:
        problems.append(FieldError("scope", "must be events (raise and read events) or admin"))
    lifetime = expires_in if not isinstance(expires_in, str) else None
    if isinstance(expires_in, str):
        try:
            lifetime = parse_expires_in(expires_in)
        except ValueError as exc:
            problems.append(FieldError("expires_in", str(exc)))
    if problems:
        raise SettingsValidationError(problems)
    return lifetime


def _scope(value: str) -> TokenScope:
    return "events" if value == "events" else "admin"


def _administrator_problems(username: str, email: str | None, password: str) -> list[FieldError]:
    problems: list[FieldError] = []
    if not _USERNAME.match(username):
        problems.append(
            FieldError(
                "username", "must be 1 to 64 letters, digits or . _ @ -, starting with a letter or digit"
            )
        )
    if email:
        problems += _email_problems(email)
    return problems + password_problems(password, field="password", username=username)


def _email_problems(email: str) -> list[FieldError]:
    try:
        normalize_address(email)
    except AddressError as exc:
        return [FieldError("email", f"is not a valid e-mail address ({exc})")]
    return []


def _normalized(email: str | None) -> str | None:
    return normalize_address(email) if email else None
