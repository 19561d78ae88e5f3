"""A warm process that forks one child per mutant: `python -m bench.mutation.forkserver MODULE...`.

It imports the given third-party modules once (pytest, Hypothesis, pydantic...: most of a test run's
start-up), never alertmail itself, then reads one JSON request a line, `{"argv": [...], "timeout": s}`,
forks, and runs `bench.mutation.child` with those arguments in the child, which imports alertmail
afresh with the mutant in place. It answers one JSON line: pytest's exit status, or "timeout".
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import sys
import time

from bench.mutation import child


def _run(argv: list[str], timeout: float) -> int | str:
    pid = os.fork()
    if pid == 0:  # the child: its own process group, so that a timeout ends all it started
        code = 99  # the runner's own failure: counted as an error, not a kill
        try:
            os.setpgid(0, 0)
            quiet = os.open(os.devnull, os.O_RDWR)
            for stream in (0, 1, 2):
                os.dup2(quiet, stream)
            code = child.main(argv)
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.01)


def main(preload: list[str]) -> None:
    for name in preload:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    leaked = [name for name in sys.modules if name.split(".")[0] == "alertmail"]
    if leaked:
        raise SystemExit(f"preloading imported alertmail ({leaked[0]}): a mutant could not replace it")
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(_run(request["argv"], request["timeout"])), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
