"""The mail log file: one line per entry, private file mode, rotation at max_bytes."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from alertmail.adapters.mail_log_file import RotatingMailLogFile
from tests.support.records import mail_log_entry as entry


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "mail.log"


@pytest.fixture
def log_file(log_path: Path) -> Iterator[RotatingMailLogFile]:
    log_file = RotatingMailLogFile(log_path, max_bytes=1_000_000, backups=2)
    yield log_file
    log_file.close()


def test_one_line_per_entry_with_everything_to_troubleshoot(
    log_file: RotatingMailLogFile, log_path: Path
) -> None:
    log_file.write(entry())
    log_file.write(entry(category="oauth", smtp_code=None, provider_code="AADSTS50011"))

    first, second = log_path.read_text(encoding="utf-8").splitlines()
    assert first.startswith("2024-05-01T10:00:00+00:00 category=smtp_auth auth=basic")
    for part in ("smtp=535", "enhanced=5.7.3", "provider=-", '"535 5.7.3 Authentication unsuccessful"'):
        assert part in first
    snapshot = first.split("snapshot=", 1)[1]
    assert json.loads(snapshot) == {"hostname": "smtp.example.com", "port": 587}
    assert " " not in snapshot  # compact JSON
    assert "category=oauth" in second and "smtp=-" in second and "provider=AADSTS50011" in second


def test_line_breaks_in_server_text_cannot_forge_lines(log_file: RotatingMailLogFile, log_path: Path) -> None:
    log_file.write(entry(detail="550 bad\r\n2024-01-01 category=forged"))
    assert len(log_path.read_text(encoding="utf-8").splitlines()) == 1


def test_file_is_private_and_does_not_touch_global_logging(
    log_file: RotatingMailLogFile, log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handlers_before = list(logging.getLogger().handlers)
    with caplog.at_level(logging.DEBUG):
        log_file.write(entry())
    assert stat.S_IMODE(log_path.stat().st_mode) & 0o007 == 0
    assert caplog.records == []
    assert logging.getLogger().handlers == handlers_before


def test_rotates_at_max_bytes(log_path: Path) -> None:
    log_file = RotatingMailLogFile(log_path, max_bytes=600, backups=2)
    try:
        for _ in range(12):
            log_file.write(entry())
    finally:
        log_file.close()

    rotated = sorted(p.name for p in log_path.parent.iterdir())
    assert rotated == ["mail.log", "mail.log.1", "mail.log.2"]
    for path in log_path.parent.iterdir():
        assert path.stat().st_size <= 600
        assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0


def test_two_files_do_not_share_lines(tmp_path: Path) -> None:
    one = RotatingMailLogFile(tmp_path / "one.log", max_bytes=10_000, backups=1)
    two = RotatingMailLogFile(tmp_path / "two.log", max_bytes=10_000, backups=1)
    try:
        one.write(entry(category="dns"))
        two.write(entry(category="native"))
    finally:
        one.close()
        two.close()
    assert "category=dns" in (tmp_path / "one.log").read_text()
    assert "category=native" not in (tmp_path / "one.log").read_text()
    assert "category=native" in (tmp_path / "two.log").read_text()
