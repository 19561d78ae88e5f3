"""`alertmail oauth sign-in --device`: show the code and the address, wait, and let Ctrl-C cancel."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from alertmail.domain.device_flow import DeviceSignIn
from alertmail.interfaces.cli.runtime import console
from alertmail.services.oauth_signin import SignInFailedError, SignInOutcome

if TYPE_CHECKING:
    from alertmail.composition import Container

__all__ = ["INTERRUPTED", "sign_in_with_code"]

INTERRUPTED = "Sign-in cancelled (Ctrl-C): alertmail stopped asking the provider, and nothing changed."


async def sign_in_with_code(container: Container, administrator: str) -> SignInOutcome:
    """Start a device sign-in, print its code, and poll until it ends. Ctrl-C (the main task
    cancelled by asyncio.run) cancels the sign-in in the database, so no other process polls or
    stores it either, and ends with a message instead of a traceback."""
    service = container.oauth_device_sign_in
    started: DeviceSignIn | None = None
    try:
        try:
            started = await service.start(administrator)
        except SignInFailedError as refused:
            return refused.outcome
        _print_code(started)
        return await service.wait(started, on_slow_down=_print_slow_down)
    except asyncio.CancelledError:
        if started is not None:
            await service.cancel(started.attempt)
        return SignInOutcome(False, INTERRUPTED)


def _print_slow_down(interval: float) -> None:
    # Once per slow_down, which lengthens every later wait: a pending poll prints nothing.
    console.print(
        f"The provider asked alertmail to poll less often (slow_down): now every {interval:g} seconds."
    )


def _print_code(sign_in: DeviceSignIn) -> None:
    minutes = max(1, round((sign_in.expires_at - sign_in.created_at).total_seconds() / 60))
    console.print(f"To sign in, open {sign_in.verification_uri} on any device and enter the code:")
    console.print(f"    {sign_in.user_code}")
    if sign_in.verification_uri_complete:
        console.print(f"(or open {sign_in.verification_uri_complete}, which has the code in it)")
    console.print("Sign in as the mailbox that sends, and approve alertmail.")
    console.print(
        f"The code expires at {sign_in.expires_at:%H:%M:%S} UTC (in {minutes} minutes). "
        f"Waiting for the provider; Ctrl-C cancels."
    )
