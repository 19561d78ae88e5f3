"""The ASGI application: built from a configuration, never at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import alertmail
from alertmail.composition import open_container
from alertmail.config import AppConfig
from alertmail.interfaces.api.errors import install_error_handlers
from alertmail.interfaces.api.routes import health, mail_server_logs, mail_settings


def create_app(config: AppConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_container(config) as container:
            app.state.container = container
            yield

    app = FastAPI(
        title="alertmail",
        version=alertmail.__version__,
        description="Outbound mail for appliances: relay settings, test e-mail, Mail Server Logs.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for module in (mail_settings, mail_server_logs, health):
        app.include_router(module.router)
    return app
