"""uvicorn serving an application whose services were opened in the same event loop.

`uvicorn.run` makes its own event loop, and the application opens its services again inside it
(an engine, a pool, every service: a second time for `alertmail serve`, which opens them first to
see whether an administrator exists). Here the loop is made first, the way uvicorn makes it (uvloop
when installed), and the server runs in it beside the services already open.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from contextlib import suppress
from typing import Any, TypeVar

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.loops.auto import auto_loop_factory

__all__ = ["in_server_loop", "serve"]

T = TypeVar("T")


def in_server_loop(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `main()` in the event loop uvicorn would have made (loop="auto")."""
    with asyncio.Runner(loop_factory=auto_loop_factory(use_subprocess=False)) as runner:
        return runner.run(main())


async def serve(app: Any, **options: Any) -> None:
    """What `uvicorn.run(app, **options)` does for one process without reloading, in this loop."""
    server = uvicorn.Server(uvicorn.Config(app, **options))
    with suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn stopped gracefully, then raised it again
        await server.serve()
    if not server.started:
        sys.exit(STARTUP_FAILURE)  # as uvicorn.run: the start-up failed, and uvicorn logged why
