"""Who a node is, and whom a fence may end: real `alertmail serve` processes on a real PostgreSQL.

- A second node started under a name a live node holds refuses to start, naming
  ALERTMAIL_NODE_NAME; once the holder is gone (killed: its heartbeat goes stale) the name is free.
- A fence ends only the session the hung primary recorded as its lock's: a backup acting on a view
  a moment old (another backup fenced that primary and took over since) ends nobody.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.primary_lock import PostgresPrimaryLock
from tests.support.cluster import Cluster, free_port, sink, start_cluster

__all__ = ["sink", "start_cluster"]  # fixtures, imported to be found

pytestmark = pytest.mark.postgres


async def start_twin(cluster: Cluster, name: str, tmp_path: Path) -> asyncio.subprocess.Process:
    """Another `serve` under `name`: its own data directory and port, as on a second host."""
    port = free_port()
    env = cluster.env(name, port, ALERTMAIL_DATA_DIR=str(tmp_path / f"{name}-twin"))
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "alertmail", "serve", "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )  # fmt: skip


async def test_a_second_node_under_a_live_nodes_name_refuses_to_start(
    start_cluster: Callable[..., Any], tmp_path: Path
) -> None:
    cluster: Cluster = await start_cluster()
    await cluster.start("node-a")

    twin = await start_twin(cluster, "node-a", tmp_path)
    out, _ = await asyncio.wait_for(twin.communicate(), timeout=60)
    assert twin.returncode != 0
    assert "ALERTMAIL_NODE_NAME" in out.decode() and "node-a" in out.decode()
    assert (await cluster.states("node-a")) == {"node-a": "primary"}  # the live one is untouched

    await cluster.kill("node-a")  # gone without a word: the name frees itself once it is stale
    await cluster.start("node-a")
    assert (await cluster.wait_for_states(lambda s: s.get("node-a") == "primary", "node-a"))["node-a"]


async def test_a_fence_ends_only_the_hung_primarys_own_session(postgres_url: str) -> None:
    async with Database.from_url(postgres_url) as database:
        hung, quick, late = (PostgresPrimaryLock(postgres_url, database.engine) for _ in range(3))
        try:
            assert await hung.try_acquire()
            recorded = hung.session()  # what the primary wrote in its node row
            assert recorded is not None

            assert await quick.fence(recorded) == 1  # the first backup fences it and takes over
            for _ in range(50):
                if await quick.try_acquire():
                    break
                await asyncio.sleep(0.1)
            assert await quick.still_held()

            # The second backup read the node list before all that: it fences the same session.
            assert await late.fence(recorded) == 0
            assert await quick.still_held() and not await late.try_acquire()
        finally:
            for lock in (hung, quick, late):
                await lock.release()
