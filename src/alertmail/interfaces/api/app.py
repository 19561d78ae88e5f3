"""The ASGI application: built from a configuration, never at import time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI

import alertmail
from alertmail.composition import open_container
from alertmail.config import AppConfig
from alertmail.interfaces.api.errors import install_error_handlers
from alertmail.interfaces.api.routes import health, mail_server_logs, mail_settings, oauth, oauth_callback


def create_app(config: AppConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_container(config) as container:
            app.state.container = container
            keepalive = asyncio.create_task(container.oauth_keepalive.run_forever(), name="oauth-keepalive")
            try:
                yield
            finally:
                keepalive.cancel()
                with suppress(asyncio.CancelledError):
                    await keepalive

    app = FastAPI(
        title="alertmail",
        version=alertmail.__version__,
        description="Outbound mail for appliances: relay settings, test e-mail, Mail Server Logs.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for module in (mail_settings, mail_server_logs, oauth, oauth_callback, health):
        app.include_router(module.router)
    return app
