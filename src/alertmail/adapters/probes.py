"""The failover checks' probes: HTTP GET of a node's /healthz, and a TCP connect to a test address."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from typing import TYPE_CHECKING

from alertmail.domain.cluster_checks import ProbeOutcome, ProbeTarget

if TYPE_CHECKING:
    import httpx

__all__ = ["NetworkProber"]


class NetworkProber:
    """Each probe has `timeout` seconds; a failure is an outcome with the reason, never an exception.

    `verify`: the CA file the nodes' HTTPS certificates chain to, or True for the system's.
    """

    def __init__(self, *, timeout: float = 5.0, verify: str | bool = True) -> None:
        self._timeout = timeout
        # The CA file is read once, here: a missing file stops the node at start, not every probe.
        self._verify = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify

    async def http(self, url: str) -> ProbeOutcome:
        import httpx  # here: only nodes that probe other nodes over HTTP load it

        verify = self._verify
        try:
            # trust_env=False: a proxy between the nodes would answer for a node that is gone.
            async with httpx.AsyncClient(timeout=self._timeout, verify=verify, trust_env=False) as client:
                reply = await client.get(url)
        except httpx.HTTPError as exc:
            return ProbeOutcome(url, False, _reason(exc))
        if reply.status_code != 200:
            return ProbeOutcome(url, False, f"HTTP {reply.status_code}")
        return ProbeOutcome(url, True)

    async def tcp(self, host: str, port: int) -> ProbeOutcome:
        target = str(ProbeTarget(host, port))
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), self._timeout)
        except TimeoutError:
            return ProbeOutcome(target, False, f"no answer within {self._timeout:g} s")
        except OSError as exc:
            # asyncio's strerror repeats the address ("Connect call failed (...)"); the errno says why
            return ProbeOutcome(target, False, os.strerror(exc.errno) if exc.errno else str(exc))
        writer.close()
        with contextlib.suppress(OSError):  # it answered; how it hangs up does not matter
            await writer.wait_closed()
        return ProbeOutcome(target, True)


def _reason(exc: httpx.HTTPError) -> str:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    cause = exc.__cause__ or exc.__context__
    return str(exc) or (str(cause) if cause else type(exc).__name__)
