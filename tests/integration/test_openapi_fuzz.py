"""The OpenAPI schema is the truth (#13 item 11): Schemathesis against a live `alertmail serve`.

All operations, a fixed number of examples from a fixed seed, every check: no server error, every
answer documented (status, content type, headers, body), schema-invalid requests refused and
schema-valid ones accepted, with the few exceptions `schemathesis.toml` names and explains.
Whatever the fuzzer saves as mail settings, `schemathesis_hooks.py` points every host and
endpoint at a closed port on 127.0.0.1, so alertmail never connects off this machine.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest

from tests.support.delivery import HOST
from tests.support.served import served_alertmail

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES_PER_OPERATION = 25
SEED = 20261204
RUN_LIMIT_SECONDS = 420


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@pytest.mark.timeout(RUN_LIMIT_SECONDS + 60)
async def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path: Path) -> None:
    async with served_alertmail(tmp_path, sendmail_path="/bin/false") as served:
        run = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file", str(CONFIG),
            "run", f"{served.base_url}/openapi.json",
            "--header", f"Authorization: Bearer {served.admin_token}",
            "--max-examples", str(EXAMPLES_PER_OPERATION),
            "--seed", str(SEED),
            "--phases", "examples,coverage,fuzzing",
            "--workers", "1",
            "--request-timeout", "30",
            "--generation-database", "none",
            "--no-color",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=_fuzz_env(),
            cwd=tmp_path,  # its report and cache directories stay out of the work tree
        )  # fmt: skip
        output, _ = await asyncio.wait_for(run.communicate(), timeout=RUN_LIMIT_SECONDS)
        server_log = served.process.output()
    report = output.decode(errors="replace")
    assert run.returncode == 0, report[-12000:]
    assert "Tested: " in report and "Selected: " in report
    assert "Traceback" not in server_log, server_log


def _fuzz_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ALERTMAIL_")}
    env["PYTHONPATH"] = str(ROOT)
    env["SCHEMATHESIS_HOOKS"] = "tests.integration.schemathesis_hooks"
    env["ALERTMAIL_FUZZ_CLOSED_PORT"] = str(closed_port())
    return env
