"""Signing in to the web UI: server-side sessions, a login rate limit, and the first-run setup link.

The browser holds a random cookie value; the database keeps only its SHA-256 (`WebSession.id`), the
administrator, a CSRF token, and when the session ends: after `idle` without a request, and at the
latest `lifetime` after sign-in, whichever comes first.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from alertmail.domain.ports import WebSession, WebSessionRepository
from alertmail.domain.records import Administrator
from alertmail.errors import ConflictError, UnauthorizedError
from alertmail.services.administrators import AdministratorService
from alertmail.services.clock import Clock, utc_now

__all__ = [
    "FirstRunSetup",
    "LoginThrottle",
    "LoginThrottledError",
    "NewSession",
    "WebSessionService",
    "session_id",
]

logger = logging.getLogger("alertmail.web")

DEFAULT_IDLE = timedelta(hours=2)
DEFAULT_LIFETIME = timedelta(hours=12)
# last_seen_at is written at most this often: a page and its HTMX requests cost one write, not ten.
TOUCH_INTERVAL = timedelta(minutes=1)
WRONG_CREDENTIALS = "The username or password is not correct."


def session_id(cookie_value: str) -> str:
    # The cookie is 256 random bits: a fast hash is enough, as for API tokens.
    return hashlib.sha256(cookie_value.encode()).hexdigest()


@dataclass(frozen=True)
class NewSession:
    """A session just started. `cookie_value` goes to the browser and is never stored."""

    cookie_value: str
    session: WebSession


class LoginThrottledError(UnauthorizedError):
    category = "login_throttled"


class LoginThrottle:
    """At most `max_failures` failed sign-ins per (username, client address) in `window`.

    Kept in memory: a restart forgives, which is fine for slowing a password guesser down to a
    handful of tries per window. The table is bounded so that a flood of names cannot grow it.
    """

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window: timedelta = timedelta(minutes=5),
        max_keys: int = 10_000,
        clock: Clock = utc_now,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self._max_keys = max_keys
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[datetime]] = {}

    def retry_after(self, username: str, client: str) -> timedelta | None:
        """How long until this pair may try again, or None when it may now."""
        recent = self._recent((username.casefold(), client))
        if len(recent) < self.max_failures:
            return None
        return recent[0] + self.window - self._clock()

    def failed(self, username: str, client: str) -> None:
        key = (username.casefold(), client)
        if key not in self._failures and len(self._failures) >= self._max_keys:
            self._forget_stale()
        self._failures.setdefault(key, deque(maxlen=self.max_failures)).append(self._clock())

    def succeeded(self, username: str, client: str) -> None:
        self._failures.pop((username.casefold(), client), None)

    def _recent(self, key: tuple[str, str]) -> deque[datetime]:
        times = self._failures.get(key, deque())
        cutoff = self._clock() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        return times

    def _forget_stale(self) -> None:
        for key in [k for k in self._failures if not self._recent(k)]:
            del self._failures[key]
        while len(self._failures) >= self._max_keys:  # all recent: drop the oldest-inserted
            del self._failures[next(iter(self._failures))]


class WebSessionService:
    def __init__(
        self,
        repository: WebSessionRepository,
        administrators: AdministratorService,
        *,
        throttle: LoginThrottle | None = None,
        idle: timedelta = DEFAULT_IDLE,
        lifetime: timedelta = DEFAULT_LIFETIME,
        clock: Clock = utc_now,
    ) -> None:
        self._repository = repository
        self._administrators = administrators
        self.throttle = throttle or LoginThrottle(clock=clock)
        self._idle = idle
        self._lifetime = lifetime
        self._clock = clock

    async def sign_in(self, username: str, password: str, *, client: str, user_agent: str) -> NewSession:
        """Check the password and start a session; refused while the pair is throttled."""
        wait = self.throttle.retry_after(username, client)
        if wait is not None:
            logger.warning("sign-in refused while throttled: %r from %s", username, client)
            minutes = max(1, -(-int(wait.total_seconds()) // 60))
            raise LoginThrottledError(
                f"Too many failed sign-ins. Wait {minutes} minute{'s' if minutes > 1 else ''} and try again."
            )
        admin = await self._administrators.verify_password(username, password)
        if admin is None:
            # Who and from where, for the administrator reading the log; never what was typed as password.
            logger.warning("failed sign-in for %r from %s", username, client)
            self.throttle.failed(username, client)
            raise UnauthorizedError(WRONG_CREDENTIALS)
        self.throttle.succeeded(username, client)
        await self._repository.delete_expired(self._clock())
        return await self.start(admin, user_agent=user_agent)

    async def start(self, admin: Administrator, *, user_agent: str) -> NewSession:
        now = self._clock()
        cookie_value = secrets.token_urlsafe(32)
        session = WebSession(
            id=session_id(cookie_value),
            administrator=admin,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=min(now + self._idle, now + self._lifetime),
            user_agent=user_agent[:300],
        )
        await self._repository.add(session)
        return NewSession(cookie_value, session)

    async def resolve(self, cookie_value: str) -> WebSession | None:
        """The live session this cookie belongs to, its idle time renewed; None when there is none."""
        if not cookie_value:
            return None
        session = await self._repository.find(session_id(cookie_value))
        now = self._clock()
        if session is None or session.expires_at <= now:
            return None
        if now - session.last_seen_at >= TOUCH_INTERVAL:
            expires = min(now + self._idle, session.created_at + self._lifetime)
            await self._repository.touch(session.id, last_seen_at=now, expires_at=expires)
        return session

    async def end(self, cookie_value: str) -> None:
        if cookie_value:
            await self._repository.delete(session_id(cookie_value))

    async def end_others(self, session: WebSession) -> None:
        """After a password change: every other browser signed in as this administrator is out."""
        await self._repository.delete_for_administrator(session.administrator.username, keep=session.id)


class FirstRunSetup:
    """The one-time link `alertmail serve` prints while no administrator exists.

    The token lives in this process only: it works until the first administrator is created or
    the server restarts (which prints a new one). A failed attempt (a short password, say) keeps it.
    """

    def __init__(self, token: str | None, *, compare: Callable[[str, str], bool] = secrets.compare_digest):
        self._token = token
        self._compare = compare
        self._lock = asyncio.Lock()

    @classmethod
    def generate(cls) -> FirstRunSetup:
        return cls(secrets.token_urlsafe(32))

    @property
    def token(self) -> str | None:
        return self._token

    def accepts(self, token: str) -> bool:
        return self._token is not None and bool(token) and self._compare(token, self._token)

    async def create_first(
        self,
        administrators: AdministratorService,
        token: str,
        *,
        username: str,
        email: str,
        password: str,
        password_confirm: str | None = None,
    ) -> Administrator:
        async with self._lock:  # two browsers on the same link: one administrator
            if not self.accepts(token):
                raise UnauthorizedError(
                    "This setup link is not valid: it was used already, or alertmail restarted and printed"
                    " a new one."
                )
            if await administrators.list():
                self._token = None
                raise ConflictError("An administrator exists already: sign in instead.")
            admin = await administrators.create(
                username, email=email or None, password=password, password_confirm=password_confirm
            )
            self._token = None
            return admin
