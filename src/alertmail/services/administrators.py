"""Administrators and API tokens: argon2 password hashes, hashed bearer tokens shown once."""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from alertmail.domain.addresses import AddressError, normalize_address
from alertmail.domain.ports import AdministratorRepository, ApiTokenRepository
from alertmail.domain.records import Administrator, ApiToken
from alertmail.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    SettingsValidationError,
    UnauthorizedError,
)
from alertmail.services.credential_cache import TokenCache
from alertmail.services.password_policy import password_problems

__all__ = ["AdministratorService", "hash_token"]

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
TOKEN_PREFIX = "am_"  # noqa: S105  # makes a leaked token recognisable to secret scanners


def hash_token(token: str) -> str:
    # Tokens are 256 random bits: a fast hash is enough, unlike passwords.
    return hashlib.sha256(token.encode()).hexdigest()


class AdministratorService:
    def __init__(
        self,
        administrators: AdministratorRepository,
        tokens: ApiTokenRepository,
        hasher: PasswordHasher | None = None,
        *,
        token_cache: TokenCache | None = None,
    ) -> None:
        self._administrators = administrators
        self._tokens = tokens
        self._hasher = hasher or PasswordHasher()
        self._token_cache = token_cache

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

    async def change_password(self, username: str, *, current: str, new: str) -> None:
        """Change one's own password: the current one proves it is them at the keyboard."""
        if await self.verify_password(username, current) is None:
            raise SettingsValidationError([FieldError("current_password", "is not correct")])
        problems = password_problems(new, field="new_password", username=username)
        if problems:
            raise SettingsValidationError(problems)
        await self._administrators.set_password_hash(username, self._hasher.hash(new))

    async def remove(self, username: str, *, acting: str) -> None:
        """Remove another administrator; never oneself, never the last one."""
        if username == acting:
            raise ConflictError("You cannot remove the account you are signed in with")
        await self._administrators.remove(username)
        self._forget_tokens()

    async def create_token(self, name: str, *, administrator: str) -> tuple[ApiToken, str]:
        """A new bearer token: the record, and the token itself, which is never shown again."""
        if not name.strip() or len(name) > 100:
            raise SettingsValidationError([FieldError("name", "must be 1 to 100 characters")])
        if await self._administrators.get(administrator) is None:
            raise NotFoundError(f"There is no administrator named {administrator!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = await self._tokens.add(name.strip(), administrator, hash_token(token))
        return record, token

    async def authenticate_token(self, token: str) -> Administrator:
        """The token's administrator, or `UnauthorizedError`; from memory while nothing changed."""
        token_hash = hash_token(token)
        if self._token_cache is None:
            return await self._look_up_token(token_hash)
        return await self._token_cache.administrator(token_hash, lambda: self._look_up_token(token_hash))

    async def _look_up_token(self, token_hash: str) -> Administrator:
        record = await self._tokens.find(token_hash)
        admin = await self._administrators.get(record.administrator) if record else None
        if admin is None:
            raise UnauthorizedError("The API token is not valid")
        return admin

    def _forget_tokens(self) -> None:
        # Other processes learn of the change from the generation the repository bumped with it.
        if self._token_cache is not None:
            self._token_cache.clear()


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
