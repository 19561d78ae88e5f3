"""One process asking for an access token, as `serve`, `worker` or the CLI does before sending.

`python -m tests.support.token_process START` (ALERTMAIL_* from the environment) opens the
services, sleeps until the wall-clock time START (a POSIX timestamp, so that several processes
ask at the same moment), asks for an access token and prints its SHA-256: the token itself is a
secret and is never printed.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time

from alertmail.composition import open_container
from alertmail.config import AppConfig


async def main(start_at: float) -> None:
    async with open_container(AppConfig()) as container:
        settings = (await container.settings.current()).settings
        await asyncio.sleep(max(0.0, start_at - time.time()))
        token = await container.oauth_tokens.access_token(settings)
        print(hashlib.sha256(token.encode()).hexdigest(), container.oauth_tokens.refreshes)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1])))
