"""The ASGI application: built from a configuration, never at import time."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
    suppress,
)
from typing import NamedTuple

from fastapi import FastAPI

import alertmail
from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from alertmail.interfaces import web
from alertmail.interfaces.api.access_log import install_access_log_filters
from alertmail.interfaces.api.errors import install_error_handlers
from alertmail.interfaces.api.event_intake import EventIntake
from alertmail.interfaces.api.nul_guard import NulGuard
from alertmail.interfaces.api.openapi import list_event_types_in_schema
from alertmail.interfaces.api.responses import AUTHENTICATED_RESPONSES
from alertmail.interfaces.api.routes import (
    cluster,
    events,
    health,
    mail_server_logs,
    mail_settings,
    messages,
    metrics,
    oauth,
    oauth_callback,
    oauth_device,
    tokens,
)
from alertmail.services.web_sessions import FirstRunSetup


class OpenedServices(NamedTuple):
    """Services opened before the application, in the event loop that will serve it (`alertmail
    serve` opens them first to see whether an administrator exists), and how to close them: the
    application closes them at the end of its lifespan, before uvicorn re-raises a SIGTERM."""

    container: Container
    close: Callable[[], Awaitable[object]]


def create_app(
    config: AppConfig, *, setup_token: str | None = None, services: OpenedServices | None = None
) -> FastAPI:
    """`setup_token`: the one-time first-run setup link's token (`alertmail serve` prints the link).
    `services`: see OpenedServices; None: the application opens its own for its lifespan."""
    app = FastAPI(
        title="alertmail",
        version=alertmail.__version__,
        description="Outbound mail for appliances: relay settings, test e-mail, Mail Server Logs.",
        lifespan=_lifespan(config, services),
    )
    app.add_middleware(EventIntake)  # inside NulGuard: a body with a NUL never reaches it
    app.add_middleware(NulGuard)
    install_error_handlers(app)
    # Routes are matched in order, and FastAPI prepares an included router's routes for requests
    # (its dependency analysis, again) the first time a request is matched against it: the probes
    # first, so that /healthz answers a server just started without preparing ~60 other routes
    # (30 ms), and each scrape or probe is matched against one route; then the events', whose
    # `POST /api/v1/events` takes 1,000 a second (most answered before routing: event_intake.py).
    for module in (health, metrics):
        app.include_router(module.router)
    for module in (events, mail_settings, mail_server_logs, oauth, oauth_device, messages, cluster, tokens):
        app.include_router(module.router, responses=AUTHENTICATED_RESPONSES)
    app.include_router(oauth_callback.router)
    web.install(app, FirstRunSetup(setup_token))
    app.openapi = list_event_types_in_schema(app)  # type: ignore[method-assign]
    return app


def _lifespan(
    config: AppConfig, services: OpenedServices | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Here: uvicorn has configured its loggers by now.
        install_access_log_filters()
        async with _services(config, services) as container:
            app.state.container = container
            await container.cluster.register()  # refuses a node name another live node holds
            await container.notifications.check_templates_at_start()
            tasks = _background(config, container)
            try:
                # Legacy local senders over SMTP, when ALERTMAIL_SMTP_LISTENER_PORT turns it on.
                async with _listener(config, container):
                    with _startup_objects_frozen():
                        yield
            finally:
                await _stop(tasks)
                await container.oauth_device_sign_in.close()

    return lifespan


def _background(config: AppConfig, container: Container) -> list[asyncio.Task[None]]:
    """The rounds a server runs beside its requests."""
    tasks = [
        asyncio.create_task(container.cluster.run_forever(), name="cluster"),
        # Only the primary runs the schedule; on SQLite the one node always is.
        asyncio.create_task(
            container.cluster.run_while_primary(container.scheduler.run_forever), name="scheduler"
        ),
    ]
    if config.worker:
        tasks.append(asyncio.create_task(container.delivery_worker.run_forever(), name="delivery"))
        # While on the fallback, probe the primary (one node per interval, by the database).
        tasks.append(asyncio.create_task(container.fallback.run_probes_forever(), name="fallback-probe"))
    return tasks


@asynccontextmanager
async def _services(config: AppConfig, opened: OpenedServices | None) -> AsyncIterator[Container]:
    if opened is None:
        async with open_container(config) as container:
            yield container
        return
    try:
        yield opened.container
    finally:
        await opened.close()


@contextmanager
def _startup_objects_frozen() -> Iterator[None]:
    """Leave what start-up made (modules, classes, the services) out of garbage collection.

    A full collection otherwise walks all of it, some 90 MB of objects that live as long as the
    process: hundreds of milliseconds on a busy machine, every request waiting meanwhile (the
    ingestion p99 of issue #18). Frozen, a collection walks only what was made since.
    """
    gc.freeze()
    gc.enable()  # `alertmail serve` starts with collection off (see cli/entry.py): on from here
    try:
        yield
    finally:
        gc.unfreeze()


def _listener(config: AppConfig, container: Container) -> AbstractAsyncContextManager[object]:
    if not config.smtp_listener_port:
        return nullcontext()  # aiosmtpd is not even imported
    from alertmail.interfaces.smtp_listener import configured_listener

    return configured_listener(config, container.local_submission)


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with suppress(asyncio.CancelledError):
            await task
