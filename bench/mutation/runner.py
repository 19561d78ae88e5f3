"""Running the mutants of a package against a test folder: trace once, then one fresh pytest per mutant.

Each mutant runs only the tests that can see it: the tests that executed one of its lines in the
traced run, plus, for code that runs at import, every test file that imports its module. A mutant
whose lines no test reaches is counted as surviving without a run ("not covered").
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.mutation.mutants import Mutant, find_mutants
from bench.mutation.trace import IMPORT

__all__ = ["Outcome", "Servers", "Trace", "run_module", "trace_tests"]

_PYTEST_OPTIONS = ["-x", "-q", "-p", "no:cacheprovider", "--no-header", "-o", "addopts=--strict-markers"]


@dataclass
class Trace:
    """What the traced run saw: lines per test (or IMPORT), durations, and which test files import what."""

    lines: dict[str, dict[str, set[int]]]
    durations: dict[str, float]
    importers: dict[str, list[str]] = field(default_factory=dict)  # module name -> test files
    options: list[str] = field(default_factory=list)  # pytest's, as in the traced run
    naming: dict[str, set[str]] = field(default_factory=dict)  # module name -> test files naming it
    preload: list[str] = field(default_factory=list)  # the modules a run imports, alertmail's aside

    def tests_for(self, path: str, module: str, mutant: Mutant) -> tuple[list[str], list[str]]:
        """The test ids to run: first those of the files that name the module, the likeliest to kill
        it and the cheapest to load; then, only if it survived them, the others."""
        span = set(range(mutant.line, mutant.end_line + 1))
        chosen = [ctx for ctx, files in self.lines.items() if ctx != IMPORT and span & files.get(path, set())]
        if mutant.import_time or span & self.lines.get(IMPORT, {}).get(path, set()):
            # Code run at import is seen by any test of a file that imports the module.
            importers = set(self.importers.get(module, []))
            chosen += [t for t in self.durations if t.split("::")[0] in importers and t not in chosen]
        naming = self.naming.get(module, set())
        chosen.sort(key=lambda t: self.durations.get(t, 0.0))  # the quick ones first: -x stops early
        first = [t for t in chosen if t.split("::")[0] in naming]
        return first, [t for t in chosen if t not in first]

    def seconds_for(self, tests: Iterable[str]) -> float:
        return sum(self.durations.get(t, 0.0) for t in tests)


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    status: str  # killed | timeout | survived | not covered | error
    tests: int
    seconds: float

    @property
    def killed(self) -> bool:
        return self.status in ("killed", "timeout")


def trace_tests(package: Path, tests: Path, modules: dict[str, str]) -> Trace:
    """Run the tests once under the tracer; fail loudly when they do not pass unmutated.

    Without the conftest files first: the shared fixtures load the whole application, which would
    cost every mutant a second or two. When the tests need them, they are loaded after all.
    """
    for options in ([*_PYTEST_OPTIONS, "--noconftest"], _PYTEST_OPTIONS):
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "trace.json"
            root = str(package.resolve())
            env = {**os.environ, "MUTATION_TRACE_ROOT": root, "MUTATION_TRACE_OUT": str(out)}
            command = [sys.executable, "-m", "pytest", *options, "-p", "bench.mutation.trace", str(tests)]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if done.returncode == 0:
                data = json.loads(out.read_text())
                break
    else:
        raise SystemExit(f"the tests fail without any mutant:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    lines = {ctx: {f: set(n) for f, n in files.items()} for ctx, files in data["lines"].items()}
    importers = _importers(tests, set(modules.values()))
    naming = {name: {f for f in files if name in Path(f).read_text()} for name, files in importers.items()}
    return Trace(lines, data["durations"], importers, options, naming, data["preload"])


def _importers(tests: Path, modules: set[str]) -> dict[str, list[str]]:
    """Test file by test file, in a fresh interpreter each: which of `modules` importing it loads."""
    probe = (
        "import importlib, json, sys; importlib.import_module(sys.argv[1]); "
        "print(json.dumps(sorted(m for m in sys.modules if m in set(sys.argv[2:]))))"
    )
    found: dict[str, list[str]] = {}

    def imported(test_file: Path) -> tuple[str, list[str]]:
        name = ".".join(test_file.with_suffix("").parts)
        done = subprocess.run(
            [sys.executable, "-c", probe, name, *modules], capture_output=True, text=True, check=True
        )
        return str(test_file), json.loads(done.stdout)

    with ThreadPoolExecutor(2) as pool:
        for test_file, names in pool.map(imported, sorted(tests.rglob("test_*.py"))):
            for name in names:
                found.setdefault(name, []).append(test_file)
    return found


class Servers:
    """One fork server per job (`bench/mutation/forkserver.py`): start-up imports are paid once."""

    def __init__(self, jobs: int, preload: list[str]) -> None:
        command = [sys.executable, "-m", "bench.mutation.forkserver", *preload]
        self.idle: queue.Queue[subprocess.Popen[str]] = queue.Queue()
        self.all = [
            subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in range(jobs)
        ]
        for server in self.all:
            self.idle.put(server)

    def run(self, argv: list[str], timeout: float) -> int | str:
        server = self.idle.get()
        try:
            assert server.stdin is not None and server.stdout is not None
            server.stdin.write(json.dumps({"argv": argv, "timeout": timeout}) + "\n")
            server.stdin.flush()
            answer = server.stdout.readline()
            if not answer:
                raise SystemExit(f"a fork server ended (exit status {server.wait()})")
            result: int | str = json.loads(answer)
            return result
        finally:
            self.idle.put(server)

    def close(self) -> None:
        for server in self.all:
            if server.stdin is not None:
                server.stdin.close()
            server.wait()


def run_module(
    path: str, module: str, trace: Trace, servers: Servers, progress: Callable[[Outcome], None]
) -> list[Outcome]:
    """Every mutant of one module. The source is read once: an edit during the run changes nothing."""
    source = Path(path).read_text()
    mutants = find_mutants(source)
    absolute = str(Path(path).resolve())
    with tempfile.NamedTemporaryFile("w", suffix=".py") as snapshot:
        snapshot.write(source)
        snapshot.flush()

        def run(mutant: Mutant) -> Outcome:
            started = time.monotonic()
            stages = [s for s in trace.tests_for(absolute, module, mutant) if s]
            status = "not covered" if not stages else "survived"
            for tests in stages:
                which = [snapshot.name, path, module, str(mutant.index)]
                timeout = 15 + 5 * trace.seconds_for(tests)
                status = _run_one(servers, which, trace.options, tests, trace.durations, timeout)
                if status != "survived":
                    break
            outcome = Outcome(mutant, status, sum(map(len, stages)), time.monotonic() - started)
            progress(outcome)
            return outcome

        with ThreadPoolExecutor(len(servers.all)) as pool:
            return list(pool.map(run, mutants))


def _run_one(
    servers: Servers,
    which: list[str],
    options: list[str],
    tests: list[str],
    known: Iterable[str],
    timeout: float,
) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as selection:
        selection.write("\n".join(tests) + "\n--\n" + "\n".join(known))
        selection.flush()
        files = list(dict.fromkeys(t.split("::")[0] for t in tests))
        # Preloaded pytest plugins (Hypothesis) cannot have their asserts rewritten: that is fine.
        quiet = ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
        code = servers.run([*which, selection.name, "--", *options, *quiet, *files], timeout)
    # pytest: 1 tests failed, 2 interrupted (a collection error: the mutant broke an import), 3
    # internal error; 4 (usage) and 5 (no tests) would be this runner's fault.
    return {0: "survived", 1: "killed", 2: "killed", 3: "killed", "timeout": "timeout"}.get(code, "error")
