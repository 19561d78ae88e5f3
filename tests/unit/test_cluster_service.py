"""The cluster service's election, on in-memory fakes of its ports and a fake clock (`cluster_fakes`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from alertmail.domain.ports import ClusterNode
from alertmail.services.cluster import node_state
from tests.support.cluster_fakes import (
    START,
    Nodes,
    Observer,
    Server,
    crash,
    node,
    started,
    tick_for,
)


async def test_the_first_primary_capable_node_takes_the_lock_at_once_without_an_e_mail() -> None:
    server = Server()
    observer = Observer()
    a, b = node(server, "a", observer=observer), node(server, "b")
    await started(a, b)

    assert (a.is_primary, b.is_primary, server.holder) == (True, False, "a")
    assert [s.state for s in await b.status()] == ["primary", "backup"]
    assert server.raised == [] and observer.states[-1] == ("primary-capable", True)


async def test_a_traffic_node_never_takes_the_lock_even_when_it_is_free() -> None:
    server = Server()
    traffic = node(server, "t", role="traffic")
    await started(traffic)
    await tick_for(server, 30, traffic)

    assert server.holder is None and not traffic.is_primary
    assert [s.state for s in await traffic.status()] == ["traffic"]


async def test_a_backup_takes_over_after_the_grace_period_and_each_e_mail_goes_once() -> None:
    server = Server()
    a, b, c = node(server, "a"), node(server, "b"), node(server, "c")
    await started(a, b, c)
    crash(server, a)

    await tick_for(server, 9, b, c)
    assert server.holder is None and server.types() == ["failover.primary_probe_failed_failover_enabled"]
    await tick_for(server, 5, b, c)

    assert [b.is_primary, c.is_primary].count(True) == 1
    assert server.types() == [
        "failover.primary_probe_failed_failover_enabled",
        "failover.backup_becoming_primary",
    ]
    assert server.raised[1][1]["primary"] == "a (http://a.example.com:8025)"
    assert {s.node.node_id: s.state for s in await b.status()}["a"] == "down"


async def test_a_primary_back_within_the_grace_period_keeps_its_place_and_the_problem_clears() -> None:
    server = Server()
    a, b = node(server, "a"), node(server, "b")
    await started(a, b)
    crash(server, a)
    await tick_for(server, 3, b)
    restarted = node(server, "a")  # the same node, started again
    await started(restarted)
    await tick_for(server, 15, restarted, b)

    assert restarted.is_primary and not b.is_primary
    assert server.types() == ["failover.primary_probe_failed_failover_enabled", "failover.check_cleared"]


async def test_without_automatic_failover_a_backup_mails_once_and_waits_for_a_promotion() -> None:
    server = Server()
    a, b = node(server, "a", automatic=False), node(server, "b", automatic=False)
    await started(a, b)
    crash(server, a)
    await tick_for(server, 60, b)

    assert not b.is_primary and server.holder is None
    assert server.types() == ["failover.primary_probe_failed_failover_disabled"]

    async def keep_ticking() -> None:
        await tick_for(server, 2, b)

    promoted, _ = await asyncio.gather(b.promote("b", wait=5, poll=0), keep_ticking())
    assert promoted.is_primary and b.is_primary and server.holder == "b"
    assert server.types() == ["failover.primary_probe_failed_failover_disabled"]


async def test_a_promotion_is_refused_while_the_primary_holds_the_lock_and_for_traffic_nodes() -> None:
    server = Server()
    a, b, t = node(server, "a"), node(server, "b"), node(server, "t", role="traffic")
    await started(a, b, t)

    for target, reason in (("b", "still holds the lock"), ("t", "traffic nodes never become primary")):
        try:
            await b.promote(target, wait=0)
        except Exception as exc:
            assert reason in str(exc)
        else:
            raise AssertionError(f"promoting {target} was not refused")
    assert (await b.promote("a", wait=0)).node_id == "a"  # already the primary


async def test_the_primary_that_loses_its_lock_stops_its_primary_only_jobs() -> None:
    server = Server()
    a = node(server, "a")
    runs: list[str] = []

    async def job() -> None:
        runs.append("started")
        try:
            await asyncio.Event().wait()
        finally:
            runs.append("stopped")

    gate = asyncio.create_task(a.run_while_primary(job))
    try:
        await started(a)
        await until(lambda: runs == ["started"])
        server.holder = "someone-else"  # our connection ended and another session took the lock
        await a.tick()
        await until(lambda: runs == ["started", "stopped"])
        assert not a.is_primary
    finally:
        gate.cancel()
        with suppress(asyncio.CancelledError):
            await gate


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def test_a_version_mismatch_is_mailed_once_by_the_primary_and_cleared_when_the_node_goes() -> None:
    server = Server()
    a, old = node(server, "a", version="1.0"), node(server, "old", version="0.9")
    await started(a, old)
    await tick_for(server, 5, a, old)
    successor = node(server, "a2", version="1.0")  # a new primary finds the same mismatch
    await started(successor)
    crash(server, a)
    await tick_for(server, 15, successor, old)

    assert successor.is_primary
    assert server.types().count("failover.version_mismatch") == 1
    mismatch = dict(server.raised)["failover.version_mismatch"]
    assert mismatch == {"node": "old", "primary": "a", "primary_version": "1.0", "backup_version": "0.9"}

    await tick_for(server, 5, successor)  # "old" stops heartbeating
    assert server.types()[-1] == "failover.check_cleared"
    assert server.raised[-1][1] == {"node": "old", "check": "failover.version_mismatch"}


@dataclass
class UnreachableAtFirst(Nodes):
    failures: int = 2

    async def register(self, node: ClusterNode, **identity: Any) -> ClusterNode | None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the database is not up yet")
        return await super().register(node, **identity)


async def test_a_node_started_before_its_database_registers_once_it_answers_and_leaves_cleanly() -> None:
    server = Server()
    a = node(server, "a", nodes=UnreachableAtFirst(server), heartbeat=0.001)
    running = asyncio.create_task(a.run_forever())
    try:
        for _ in range(500):
            if a.is_primary:
                break
            await asyncio.sleep(0.001)
        assert a.is_primary and server.nodes["a"].is_primary
    finally:
        running.cancel()
        with suppress(asyncio.CancelledError):
            await running
    assert server.holder is None and not server.nodes["a"].is_primary  # stepped down, then let go


def test_a_node_is_down_after_three_missed_heartbeats() -> None:
    row = ClusterNode("a", "a", "", "1.0", "traffic", START, START, is_primary=False)
    assert node_state(row, START + timedelta(seconds=3), timedelta(seconds=3)) == "traffic"
    assert node_state(row, START + timedelta(seconds=3.1), timedelta(seconds=3)) == "down"
    assert node_state(replace(row, is_primary=True), START, timedelta(seconds=3)) == "primary"
