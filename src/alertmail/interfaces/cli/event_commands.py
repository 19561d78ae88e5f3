"""`alertmail notify`, `alertmail events ...`, `alertmail outbox ...` and `alertmail worker`."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from contextlib import suppress
from typing import TYPE_CHECKING, Annotated, Any, get_args

import typer

from alertmail.config import AppConfig
from alertmail.domain.delivery_report import PageCursor
from alertmail.domain.fallback import TransportState
from alertmail.domain.outbox import OutboxMessage, OutboxStatus
from alertmail.errors import FieldError
from alertmail.interfaces.cli.runtime import console, errors, fail_fields, run
from alertmail.interfaces.cli.terminal import terminal_safe

if TYPE_CHECKING:
    from alertmail.composition import Container

events_app = typer.Typer(help="The event catalog: list the types, preview their e-mails, recent events.")
outbox_app = typer.Typer(
    help=(
        "The outbox: messages queued, sent, waiting or given up. "
        "`outbox retry ID` sends one again, `outbox cancel ID` gives one up."
    ),
    invoke_without_command=True,
)
_STATUSES = get_args(OutboxStatus)


def notify(
    event_type: Annotated[
        str, typer.Argument(metavar="EVENT_TYPE", help="A type from `alertmail events types`.")
    ],
    detail: Annotated[
        list[str] | None, typer.Option("--detail", "-d", help="KEY=VALUE, printed in the e-mail; repeat it.")
    ] = None,
    dedupe_key: Annotated[
        str | None, typer.Option(help="Repeats with the same type and key fold into one digest.")
    ] = None,
) -> None:
    """Raise an event: it is recorded and mailed to the admin contacts (or folded into a digest)."""
    details = _details(detail or [])
    recorded = run(
        lambda c: c.notifications.raise_event(event_type, details, dedupe_key=dedupe_key, source="cli")
    )
    console.print(
        f"event {recorded.event_id} recorded: {_disposition(recorded.disposition, recorded.outbox_id)}"
    )


def worker() -> None:
    """Deliver queued mail (the primary also runs the schedule) without the web UI and API; Ctrl-C stops."""

    async def main() -> None:
        from alertmail.composition import open_container

        async with open_container(AppConfig()) as container:
            console.print(f"delivery worker {container.delivery_worker.owner} started")
            await _run_until_signalled(container)

    with suppress(KeyboardInterrupt):
        asyncio.run(main())


async def _run_until_signalled(container: Container) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    cluster = container.cluster
    await cluster.register(serves_http=False)  # refuses a node name another live node holds
    tasks = [
        asyncio.create_task(container.delivery_worker.run_forever(), name="delivery"),
        asyncio.create_task(container.fallback.run_probes_forever(), name="fallback-probe"),
        asyncio.create_task(cluster.run_forever(serves_http=False), name="cluster"),
        # Every node delivers; only the primary runs the schedule.
        asyncio.create_task(cluster.run_while_primary(container.scheduler.run_forever), name="scheduler"),
    ]
    await stop.wait()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with suppress(asyncio.CancelledError):
            await task


@events_app.command("types")
def types(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every event type alertmail knows, with its severity and what it means."""
    kinds = run(_types)
    if as_json:
        sys.stdout.write(json.dumps([_type_json(k) for k in kinds], indent=2) + "\n")
        return
    for kind in kinds:
        console.print(f"{kind.name:<48} {kind.severity:<8} {kind.title}")


async def _types(container: Container) -> list[Any]:
    return container.notifications.event_types()


@events_app.command("preview")
def preview(
    event_type: Annotated[str, typer.Argument(metavar="EVENT_TYPE")],
    html: Annotated[bool, typer.Option("--html", help="Print the HTML part instead of the text.")] = False,
    detail: Annotated[
        list[str] | None, typer.Option("--detail", "-d", help="KEY=VALUE; default: examples.")
    ] = None,
) -> None:
    """Print the e-mail an event of this type makes, from its (possibly customised) templates."""
    details = _details(detail) if detail else None

    async def render(container: Container) -> Any:
        return container.notifications.preview(event_type, details)

    mail = run(render)
    console.print(f"Subject: {mail.subject}\n")
    sys.stdout.write(terminal_safe(mail.html if html else mail.text))
    _print_template_failures(mail.template_failures)


templates_app = typer.Typer(help="The administrator's own e-mail templates (data directory, templates/).")
events_app.add_typer(templates_app, name="templates")


@templates_app.command("check")
def check_templates() -> None:
    """Render every event type's e-mails with the custom templates; exit 1 when one fails."""

    async def check(container: Container) -> Any:
        return container.notifications.check_templates()

    failures = run(check)
    _print_template_failures(failures)
    if failures:
        raise typer.Exit(1)
    console.print("Every template renders.")


def _print_template_failures(failures: Any) -> None:
    for failure in failures:
        sys.stderr.write(
            terminal_safe(f"The custom template {failure.template} failed: {failure.error}.")
            + " The built-in template is used.\n"
        )


@events_app.command("list")
def list_events(
    event_type: Annotated[str | None, typer.Option("--type", help="Only this type.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    before: Annotated[
        str | None,
        typer.Option(metavar="CURSOR", help="The next page: the cursor the previous page printed."),
    ] = None,
) -> None:
    """Recent events and what became of each (mailed, coalesced into a digest, no recipients).

    When older events are left, the command says on standard error how to list them (--before)."""
    cursor = _cursor(before)
    page = run(lambda c: c.notifications.page(event_type=event_type, before=cursor, limit=limit))
    found = page.items
    for stored in found:
        event = stored.event
        if as_json:
            line = {
                "id": event.id,
                "type": event.event_type,
                "details": dict(event.details),
                "dedupe_key": event.dedupe_key,
                "received_at": event.received_at.isoformat(),
                "disposition": stored.disposition,
                "outbox_id": stored.outbox_id,
            }
            sys.stdout.write(json.dumps(line) + "\n")
        else:
            console.print(
                f"{event.received_at:%Y-%m-%d %H:%M:%S} {event.event_type:<40} {stored.disposition:<13} "
                f"{event.dedupe_key}"
            )
    if not found and not as_json:
        console.print("No events recorded." if cursor is None else "No older events.")
    if page.next is not None:
        errors.print(f"Older events: --before {page.next.token()}")


def _cursor(token: str | None) -> PageCursor | None:
    try:
        return None if token is None else PageCursor.parse(token)
    except ValueError:
        fail_fields([FieldError("--before", "is not a page cursor: copy the one a page printed")])


@outbox_app.callback()
def outbox(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help=f"Only this status: {', '.join(_STATUSES)}.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
) -> None:
    """List the outbox, newest first, with the count in each status."""
    if ctx.invoked_subcommand is not None:
        return
    if status is not None and status not in _STATUSES:
        fail_fields([FieldError("status", f"must be one of {', '.join(_STATUSES)}")])
    chosen: Any = status

    async def look(container: Container) -> tuple[list[OutboxMessage], dict[str, int], bool, TransportState]:
        counts = await container.outbox.counts()
        nobody = (await container.notifications.recipients()).source == "none"
        transport = await container.fallback.state()
        listed = await container.outbox.list(chosen, limit)
        return listed, {str(k): v for k, v in counts.items()}, nobody, transport

    messages, counts, nobody, transport = run(look)
    if nobody:
        from alertmail.services.event_recipients import NO_RECIPIENTS_WARNING

        errors.print(f"warning: {NO_RECIPIENTS_WARNING}")
    if transport.active == "fallback":
        errors.print(f"warning: {fallback_warning(transport)}")
    if as_json:
        for message in messages:
            sys.stdout.write(json.dumps(_message_json(message)) + "\n")
        return
    console.print("  ".join(f"{name}: {count}" for name, count in counts.items()))
    for m in messages:
        when = f"{m.created_at:%Y-%m-%d %H:%M:%S}"
        via = f"via {m.transport}" if m.transport else ""
        console.print(f"{m.id}  {when}  {m.status:<14} tries {m.attempts:<3} {via:<12}  {m.subject}")
        if m.last_error:
            console.print(f"    last error [{m.last_category}]: {m.last_error}")
        for outcome in m.recipient_outcomes:
            if outcome.reply is not None and outcome.state != "sent":
                console.print(f"    {outcome.address} ({outcome.state}): {outcome.reply}")


@outbox_app.command("retry")
def retry(message_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Queue a dead or held message again, now."""
    message = run(lambda c: c.outbox.retry(message_id))
    console.print(f"{message.id} queued again (attempts so far: {message.attempts})")


@outbox_app.command("cancel")
def cancel(message_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Give up a queued or retrying message: it is not sent (it becomes dead; `retry` sends it after all)."""
    message = run(lambda c: c.outbox.cancel(message_id))
    console.print(f"{message.id} cancelled: it will not be sent")


def _details(pairs: list[str]) -> dict[str, str]:
    details: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail_fields([FieldError("--detail", f"{pair!r} must be KEY=VALUE")])
        details[key] = value
    return details


def _disposition(disposition: str, outbox_id: str | None) -> str:
    if disposition == "mailed":
        return f"e-mail {outbox_id} queued for the admin contacts"
    if disposition == "coalesced":
        return "a repeat inside the coalescing window: it goes out in the window's digest"
    return "not mailed: no Admin Contact is configured (Mail Settings)"


def _type_json(kind: Any) -> dict[str, Any]:
    return {
        "name": kind.name,
        "title": kind.title,
        "severity": kind.severity,
        "summary": kind.summary,
        "action": kind.action,
        "fields": dict(kind.fields),
    }


def _message_json(m: OutboxMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "event_type": m.event_type,
        "source": m.source,
        "status": m.status,
        "recipients": list(m.recipients),
        "subject": m.subject,
        "message_id": m.message_id,
        "attempts": m.attempts,
        "next_attempt_at": m.next_attempt_at.isoformat() if m.next_attempt_at else None,
        "last_error": m.last_error,
        "last_category": m.last_category,
        "created_at": m.created_at.isoformat(),
        "sent_at": m.sent_at.isoformat() if m.sent_at else None,
        "dead_at": m.dead_at.isoformat() if m.dead_at else None,
        "recipient_outcomes": [
            {
                "address": outcome.address,
                "state": outcome.state,
                "reply": None
                if outcome.reply is None
                else {"code": outcome.reply.code, "text": outcome.reply.text},
            }
            for outcome in m.recipient_outcomes
        ],
        "transport": m.transport,
    }


def fallback_warning(state: TransportState) -> str:
    """What an administrator reads while mail goes through the fallback: since when, and why."""
    since = f"{state.active_since:%Y-%m-%d %H:%M:%S} UTC" if state.active_since else "a moment ago"
    text = f"mail goes through the fallback transport since {since}"
    failure = state.failure
    if failure is None:
        return text
    return f"{text}; the primary fails ({failure.category}): {failure.message}. Fix: {failure.hint}"


__all__ = ["events_app", "notify", "outbox_app", "worker"]
