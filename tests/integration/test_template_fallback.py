"""Templates never lose an event (#13 item 3): a custom template that fails falls back to the
built-in one for that part, Mail Server Logs name the template and the error, and the check, the
preview and the start of the server report it without a 500."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from tests.support.app import Api, Cli
from tests.support.delivery import relay_changes
from tests.support.smtp import SmtpSink
from tests.support.smtp_sink import ReceivedMessage

TYPE = "failover.backup_becoming_primary"
BROKEN = "Custom text for {{ details.missing }}\n"


def override(data_dir: Path, name: str, text: str) -> str:
    path = data_dir / "templates" / "events" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return f"events/{name}"


async def delivered(sink: SmtpSink) -> list[ReceivedMessage]:
    for _ in range(100):
        if sink.messages:
            return list(sink.messages)
        await asyncio.sleep(0.05)
    return []


async def template_entries(container: Container) -> list[object]:
    return [e for e in await container.mail_logs.list(limit=50) if e.category == "template"]


@pytest.fixture
def broken(app_config: AppConfig) -> str:
    """A broken override in place before the server starts (templates are cached once loaded)."""
    return override(app_config.data_dir, "event.txt.j2", BROKEN)


async def test_a_broken_override_still_mails_the_event_with_the_built_in_text(
    broken: str, api: Api, smtp_server: SmtpSink
) -> None:
    template = broken
    await api.container.settings.save(relay_changes(smtp_server), actor="test")

    answer = await api.client.post("/api/v1/events", json={"type": TYPE, "details": {"primary": "p1"}})

    assert answer.status_code == 202, answer.text
    assert answer.json()["disposition"] == "mailed"
    await api.container.delivery_worker.run_once()  # the server's own worker may be first
    got = await delivered(smtp_server)
    assert got, [(m.status, m.last_error) for m in await api.container.outbox.list()]
    assert len(got) == 1, [m.message["Subject"] for m in got]
    (received,) = got
    text = received.message.get_body(("plain",)).get_content()
    assert "Custom text" not in text and "primary: p1" in text and "Raised at:" in text
    (entry,) = [e for e in await template_entries(api.container) if e.context.startswith("event ")]
    assert template in entry.message and "missing" in entry.message and not entry.retryable


async def test_a_template_that_does_not_parse_falls_back_too(
    container: Container, app_config: AppConfig, smtp_server: SmtpSink
) -> None:
    template = override(app_config.data_dir, f"{TYPE}.event.html.j2", "<p>{% if %}</p>")
    await container.settings.save(relay_changes(smtp_server), actor="test")
    recorded = await container.notifications.raise_event(TYPE, {"primary": "p1"})
    assert recorded.outbox_id is not None
    stored = await container.outbox.get(recorded.outbox_id)
    assert "primary" in stored.html and "{% if %}" not in stored.html
    (entry,) = await template_entries(container)
    assert template in entry.message and "TemplateSyntaxError" in entry.message


async def test_preview_reports_the_failure_without_a_500(broken: str, api: Api) -> None:
    template = broken
    answer = await api.client.post(f"/api/v1/event-types/{TYPE}/preview", json={})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [f["template"] for f in body["template_failures"]] == [template]
    assert "missing" in body["template_failures"][0]["error"] and "Raised at:" in body["text"]


async def test_templates_check_and_preview_on_the_command_line(cli: Cli) -> None:
    assert (await cli.run("events", "templates", "check")).returncode == 0
    template = override(cli.data_dir, "digest.txt.j2", "{{ 1 / 0 }}")
    checked = await cli.run("events", "templates", "check")
    assert checked.returncode == 1
    assert template in checked.stderr and "ZeroDivisionError" in checked.stderr
    assert "Traceback" not in checked.stderr
    override(cli.data_dir, "event.txt.j2", BROKEN)
    previewed = await cli.run("events", "preview", TYPE)
    assert previewed.returncode == 0 and "Raised at:" in previewed.stdout
    assert "events/event.txt.j2" in previewed.stderr and "Traceback" not in previewed.stderr


async def test_templates_are_checked_at_start(broken: str, api: Api) -> None:
    # The `api` fixture started the server with the broken template in place.
    entries = await template_entries(api.container)
    assert entries and all(e.context == "templates checked at start" for e in entries)
    assert all(broken in e.message for e in entries)


class CountingRenderer:
    """The container's renderer, counting what it is asked to render."""

    def __init__(self, renderer: Any) -> None:
        self.renderer, self.rendered = renderer, 0

    def render_event(self, *args: Any) -> Any:
        self.rendered += 1
        return self.renderer.render_event(*args)

    def render_digest(self, *args: Any) -> Any:
        self.rendered += 1
        return self.renderer.render_digest(*args)

    def custom_templates(self) -> list[str]:
        return list(self.renderer.custom_templates())


async def test_without_custom_templates_the_check_renders_nothing(app_config: AppConfig) -> None:
    """The package's templates are tested with it: at each start only an administrator's can fail."""
    async with open_container(app_config) as container:
        counting = CountingRenderer(container.notifications._renderer)
        container.notifications._renderer = counting
        assert counting.custom_templates() == []
        assert container.notifications.check_templates() == [] and counting.rendered == 0
        name = override(app_config.data_dir, "digest.txt.j2", "{{ 1 / 0 }}")
        assert counting.custom_templates() == [name]
        failures = container.notifications.check_templates()
        assert [f.template for f in failures] == [name] and counting.rendered > 0
