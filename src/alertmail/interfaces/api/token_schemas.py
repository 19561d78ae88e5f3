"""Request and response schemas of /api/v1/tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from alertmail.domain.api_tokens import (
    DEFAULT_TOKEN_LIFETIME,
    EXPIRES_IN_PATTERN,
    NAME_PATTERN,
    TokenScope,
)
from alertmail.domain.records import ApiToken

__all__ = ["TokenCreate", "TokenCreated", "TokenPublic"]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(pattern=NAME_PATTERN, description="What the token is for; unique, used to revoke it.")
    scope: TokenScope = Field(
        "admin",
        description="`events`: raise and read events only. `admin`: everything an administrator may do.",
    )
    expires_in: str = Field(
        DEFAULT_TOKEN_LIFETIME,
        pattern=EXPIRES_IN_PATTERN,
        description="A number of up to 4 digits and a unit (h, d, w), or `never`.",
    )


class TokenPublic(BaseModel):
    """A token as anyone may see it: never the token itself, nor its hash."""

    name: str
    administrator: str
    scope: TokenScope
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    expired: bool

    @classmethod
    def of(cls, token: ApiToken, now: datetime) -> TokenPublic:
        return cls(
            name=token.name,
            administrator=token.administrator,
            scope=token.scope,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            expired=token.expired(now),
        )


class TokenCreated(TokenPublic):
    token: str = Field(description="The bearer token. Shown this once: only its hash is kept.")
