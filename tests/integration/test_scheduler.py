"""The scheduler's claims commit with what they queue, on SQLite and PostgreSQL.

The failure between claim and e-mail is raised by the renderer: an administrator's override
template can no longer cause one, since a template that fails falls back to the built-in one (#13
item 3). Once the failure is gone, the next tick sends the notice: the failed attempt claimed nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from alertmail.domain.settings import MailSettings
from tests.support.delivery import relay_changes

EIGHT = datetime(2026, 11, 21, 8, 0, 30, tzinfo=UTC)


def override(config: AppConfig, text: str) -> None:
    folder = config.data_dir / "templates" / "events"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "daily_notice.event.txt.j2").write_text(text)


async def notice_settings(container: Container) -> MailSettings:
    changes = relay_changes(2525, daily_notice=True, daily_notice_time="08:00")
    await container.settings.save(changes, actor="test")
    container.scheduler._clock = lambda: EIGHT  # type: ignore[method-assign]
    container.scheduler._timezone = UTC
    return (await container.settings.current()).settings


async def test_a_notice_that_failed_to_queue_is_not_claimed(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = AppConfig(data_dir=tmp_path / "data", database_url=database_url, node_name="n1")
    override(config, "Today's notice: {{ details.date }}\n")
    async with open_container(config) as container:
        settings = await notice_settings(container)
        renderer = container.notifications._renderer

        def failing(*_: object) -> None:
            raise OSError("the renderer failed")

        with monkeypatch.context() as patched:
            patched.setattr(renderer, "render_event", failing)
            with pytest.raises(OSError, match="renderer failed"):
                await container.scheduler.daily_notice(settings)
        assert await container.notifications.recent() == []  # nothing half-written either
        assert await container.scheduler.daily_notice(settings) is True
        assert await container.scheduler.daily_notice(settings) is False
        (queued,) = await container.outbox.list()
    assert "Today's notice: 2026-11-21" in queued.text


async def test_a_broken_notice_template_no_longer_stops_the_notice(database_url: str, tmp_path: Path) -> None:
    config = AppConfig(data_dir=tmp_path / "data", database_url=database_url, node_name="n1")
    override(config, "{{ details.no_such_detail }}\n")
    async with open_container(config) as container:
        settings = await notice_settings(container)
        assert await container.scheduler.daily_notice(settings) is True  # the built-in text instead
        (queued,) = await container.outbox.list()
    assert "no_such_detail" not in queued.text and queued.text.strip()


async def test_two_nodes_racing_for_the_notice_queue_it_once(database_url: str, tmp_path: Path) -> None:
    config = AppConfig(data_dir=tmp_path / "data", database_url=database_url, node_name="n1")
    async with open_container(config) as first, open_container(config) as second:
        settings = await notice_settings(first)
        await notice_settings(second)
        sent = [await node.scheduler.daily_notice(settings) for node in (second, first)]
        assert sent == [True, False]
        assert len(await first.outbox.list()) == 1
        assert len(await first.notifications.recent()) == 1
