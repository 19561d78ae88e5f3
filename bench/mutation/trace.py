"""A pytest plugin for the mutation runner's one traced run: which lines of the mutated package each
test executes, and how long each test takes. `-p bench.mutation.trace`, with MUTATION_TRACE_ROOT (the
package's folder) and MUTATION_TRACE_OUT (the JSON file to write).

Lines run while no test is running (collection, which imports the modules) are recorded under
`IMPORT`: they are the code that runs at import, which no per-test selection can see.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Generator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

IMPORT = "<import>"

_root = str(Path(os.environ.get("MUTATION_TRACE_ROOT", "src")).resolve())
_context = IMPORT
_lines: dict[str, dict[str, set[int]]] = {}
_durations: dict[str, float] = {}


def _local(frame: FrameType, event: str, arg: Any) -> Any:
    if event == "line":
        by_file = _lines.setdefault(_context, {})
        by_file.setdefault(frame.f_code.co_filename, set()).add(frame.f_lineno)
    return _local


def _global(frame: FrameType, event: str, arg: Any) -> Any:
    if frame.f_code.co_filename.startswith(_root):
        return _local(frame, event, arg)
    return None


def pytest_configure(config: pytest.Config) -> None:
    threading.settrace(_global)
    sys.settrace(_global)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    global _context
    _context = item.nodeid
    yield
    _context = IMPORT


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    sys.settrace(None)
    threading.settrace(None)  # type: ignore[arg-type]
    lines = {ctx: {f: sorted(n) for f, n in files.items()} for ctx, files in _lines.items()}
    out = Path(os.environ.get("MUTATION_TRACE_OUT", "mutation-trace.json"))
    own = {"alertmail", "tests", "bench", "conftest", "__main__"}
    preload = sorted({name.split(".")[0] for name in list(sys.modules)} - own)
    out.write_text(json.dumps({"lines": lines, "durations": _durations, "preload": preload}))
