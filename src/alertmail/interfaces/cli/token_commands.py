"""`alertmail token create | list | revoke`: API bearer tokens with a scope and an expiry."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from alertmail.composition import Container
from alertmail.domain.api_tokens import DEFAULT_TOKEN_LIFETIME
from alertmail.interfaces.api.token_schemas import TokenPublic
from alertmail.interfaces.cli.runtime import console, fail, run

app = typer.Typer(help="API bearer tokens: scoped, expiring, revocable.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. monitoring; unique.")],
    scope: Annotated[
        str, typer.Option(help="events: raise and read events only; admin: everything.")
    ] = "admin",
    expires_in: Annotated[
        str, typer.Option(help="Lifetime: a number and h, d or w (12h, 90d, 52w), or never.")
    ] = DEFAULT_TOKEN_LIFETIME,
    admin: Annotated[
        str | None, typer.Option(help="The administrator the token acts as (default: the only one).")
    ] = None,
) -> None:
    """Create an API bearer token. It is printed once and stored only as a hash."""

    async def work(container: Container) -> str:
        owner = admin or await _only_admin(container)
        _, token = await container.administrators.create_token(
            name, administrator=owner, scope=scope, expires_in=expires_in
        )
        return token

    sys.stdout.write(run(work) + "\n")


@app.command("list")
def list_tokens(as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False) -> None:
    """The tokens: name, scope, administrator, expiry and last use (never the token itself)."""
    now = datetime.now(UTC)
    for token in run(lambda c: c.administrators.list_tokens()):
        if as_json:
            # The API's own schema: one shape for a token wherever it is printed.
            sys.stdout.write(json.dumps(TokenPublic.of(token, now).model_dump(mode="json")) + "\n")
            continue
        expiry = "expired" if token.expired(now) else f"expires {_when(token.expires_at, 'never')}"
        console.print(
            f"{token.name}\t{token.scope}\t{token.administrator}\t{expiry}\t"
            f"last used {_when(token.last_used_at, 'never')}",
            markup=False,
        )


@app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The token's name (see token list).")]) -> None:
    """Revoke a token: it stops working at once."""
    run(lambda c: c.administrators.revoke_token(name))
    console.print(f"API token {name} revoked", markup=False)


async def _only_admin(container: Container) -> str:
    admins = await container.administrators.list()
    if len(admins) != 1:
        fail("name the administrator with --admin USERNAME")
    return admins[0].username


def _when(moment: datetime | None, otherwise: str) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else otherwise
