"""Event e-mails from sandboxed Jinja2 templates: the package's, or the administrator's own.

Templates are looked up as `events/<type>.txt.j2` / `.html.j2` first, then the shared
`events/event.*` (one event) or `events/digest.*` (a window's repeats). A directory given as
`override_dir` is searched before the package, so an administrator can reword any type without
touching the code. The environment is sandboxed: a template (which an administrator may edit) can
read the context it is given and nothing else, and HTML templates escape every value.

A custom template never costs an event its e-mail: when one fails to load or render, the built-in
template of the package renders that part instead, and the failure is reported with the mail
(`RenderedMail.template_failures`) for Mail Server Logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from alertmail.domain.events import Digest, Event, EventType, RenderedMail, TemplateFailure

__all__ = ["JinjaEventRenderer"]


class JinjaEventRenderer:
    def __init__(
        self, *, appliance: str, timezone: tzinfo, public_url: str = "", override_dir: Path | None = None
    ) -> None:
        package = PackageLoader("alertmail.adapters", "templates")
        self._builtin = _environment(package)
        self._env = self._builtin
        self._custom: FileSystemLoader | None = None
        if override_dir is not None:
            self._custom = FileSystemLoader(override_dir)
            self._env = _environment(ChoiceLoader([self._custom, package]))
        self._appliance = appliance
        self._timezone = timezone
        self._public_url = public_url

    def render_event(self, event_type: EventType, event: Event) -> RenderedMail:
        subject = f"[{self._appliance}] {event_type.title}"
        context = self._context(event_type, subject) | {
            "event_id": event.id,
            "received_at": self._when(event.received_at),
            "details": dict(event.details),
            "dedupe_key": event.dedupe_key,
        }
        return self._render(event_type, "event", subject, context)

    def render_digest(self, event_type: EventType, digest: Digest) -> RenderedMail:
        times = "time" if digest.total == 1 else "times"
        subject = f"[{self._appliance}] {event_type.title}: {digest.total} more {times}"
        windows = [
            {
                "dedupe_key": w.dedupe_key,
                "coalesced": w.coalesced,
                "first_at": self._when(w.first_at),
                "last_at": self._when(w.last_at),
                "details": dict(w.details),
            }
            for w in digest.windows
        ]
        context = self._context(event_type, subject) | {
            "windows": windows,
            "more_windows": digest.more_windows,
            "total": digest.total,
            "first_at": self._when(digest.first_at),
            "last_at": self._when(digest.last_at),
            "window_start": self._when(digest.window_start),
            "window_end": self._when(digest.window_end),
        }
        return self._render(event_type, "digest", subject, context)

    def custom_templates(self) -> list[str]:
        # Listed anew each time: the administrator adds and edits them while the server runs.
        if self._custom is None:
            return []
        return [name for name in self._custom.list_templates() if name.startswith("events/")]

    def _context(self, event_type: EventType, subject: str) -> dict[str, Any]:
        return {
            "event_type": event_type,
            "subject": subject,
            "appliance": self._appliance,
            "public_url": self._public_url,
        }

    def _render(
        self, event_type: EventType, kind: str, subject: str, context: Mapping[str, Any]
    ) -> RenderedMail:
        failures: list[TemplateFailure] = []
        parts = [
            self._part(
                [f"events/{event_type.name}.{kind}.{ext}.j2", f"events/{kind}.{ext}.j2"], context, failures
            )
            for ext in ("txt", "html")
        ]
        return RenderedMail(subject=subject, text=parts[0], html=parts[1], template_failures=tuple(failures))

    def _part(self, names: list[str], context: Mapping[str, Any], failures: list[TemplateFailure]) -> str:
        name = names[0]
        try:
            template = self._env.select_template(names)
            name = template.name or name
            return template.render(context)
        except Exception as exc:
            if self._env is self._builtin:
                raise  # the package's own templates failing is a bug, not a custom template's fault
            failures.append(TemplateFailure(template=name, error=_describe(exc)))
        return self._builtin.select_template(names).render(context)

    def _when(self, moment: datetime) -> str:
        return moment.astimezone(self._timezone).strftime("%Y-%m-%d %H:%M:%S %Z")


def _environment(loader: BaseLoader) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=loader,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )


def _describe(exc: Exception) -> str:
    where = f" (line {exc.lineno})" if isinstance(exc, TemplateSyntaxError) and exc.lineno else ""
    return f"{type(exc).__name__}: {exc}{where}"
