"""The failover checks: what the probes mean (domain), and each problem mailed once per incident by
the primary, with its clearing, across failovers and hung primaries (services, on `cluster_fakes`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alertmail.domain.cluster_checks import (
    CheckResult,
    NodeCheck,
    ProbeOutcome,
    ProbeTarget,
    WriteOutage,
    data_sync_result,
    parse_test_addresses,
    reachability_results,
)
from alertmail.services.cluster import ClusterService
from alertmail.services.cluster_checks import CheckOptions, WriteOutageTracker, health_url
from tests.support.cluster_fakes import START, Observer, Server, crash, node, started, tick_for

TEST_IP = ProbeTarget("192.0.2.1", 443)
CANNOT_REACH_TEST_IPS = "failover.backup_cannot_reach_test_ips"
NOR_TEST_IPS = "failover.backup_cannot_reach_primary_nor_test_ips"
BY_HOSTNAME = "failover.backup_cannot_reach_primary_by_hostname"
CLEARED = "failover.check_cleared"


async def rounds(server: Server, count: int, *services: ClusterService) -> None:
    """`count` heartbeats and check rounds on every service, a second apart."""
    for _ in range(count):
        server.advance(1)
        for service in services:
            await service.tick()
        for service in services:
            await service.check_round()


# --- domain ---------------------------------------------------------------------------------------


def failing(results: list[CheckResult]) -> set[str]:
    return {r.check for r in results if r.failing}


def ok(target: str) -> ProbeOutcome:
    return ProbeOutcome(target, True)


def down(target: str) -> ProbeOutcome:
    return ProbeOutcome(target, False, "Connection refused")


@pytest.mark.parametrize(
    ("by_url", "by_hostname", "tests", "expected"),
    [
        (ok("u"), None, [ok("t1")], set()),
        (ok("u"), ok("h"), [down("t1"), ok("t2")], set()),  # one test address is enough
        (ok("u"), None, [down("t1"), down("t2")], {CANNOT_REACH_TEST_IPS}),
        (down("u"), down("h"), [down("t1")], {NOR_TEST_IPS, BY_HOSTNAME}),
        (down("u"), ok("h"), [down("t1")], {CANNOT_REACH_TEST_IPS}),  # reached by its hostname
        (ok("u"), down("h"), [ok("t1")], {BY_HOSTNAME}),
        (down("u"), None, [], set()),  # no test address configured: the lock-based probe says it
        (None, None, [down("t1")], {CANNOT_REACH_TEST_IPS}),  # no primary to probe
    ],
)
def test_the_probes_name_the_seeds_problems(
    by_url: ProbeOutcome | None,
    by_hostname: ProbeOutcome | None,
    tests: list[ProbeOutcome],
    expected: set[str],
) -> None:
    assert failing(reachability_results("a", by_url, by_hostname, tests)) == expected


def test_test_addresses_parse_and_a_bad_one_is_named() -> None:
    assert parse_test_addresses(" 192.0.2.1:443, [2001:db8::1]:80 ,gw.example.com:22,") == (
        ProbeTarget("192.0.2.1", 443),
        ProbeTarget("2001:db8::1", 80),
        ProbeTarget("gw.example.com", 22),
    )
    assert str(ProbeTarget("2001:db8::1", 80)) == "[2001:db8::1]:80"
    for bad, says in (("192.0.2.1", "is not host:port"), ("h:0", "1 to 65535"), ("h:x", "1 to 65535")):
        with pytest.raises(ValueError, match=says) as raised:
            parse_test_addresses(f"192.0.2.9:1, {bad}")
        assert repr(bad) in str(raised.value)


def test_health_urls_keep_scheme_and_port_and_take_the_hostname() -> None:
    assert health_url("https://10.0.0.5:8443/") == "https://10.0.0.5:8443/healthz"
    assert health_url("https://10.0.0.5:8443", host="node-a.lan") == "https://node-a.lan:8443/healthz"
    assert health_url("http://10.0.0.5/mail", host="node-a") == "http://node-a/mail/healthz"


def test_a_data_sync_outage_counts_above_the_threshold_for_24_hours() -> None:
    short = WriteOutage(START, START + timedelta(seconds=30))
    long = WriteOutage(START, START + timedelta(seconds=95))
    threshold = timedelta(seconds=60)
    assert not data_sync_result([short], START + timedelta(minutes=2), threshold=threshold).failing
    found = data_sync_result([short, long], START + timedelta(hours=23), threshold=threshold)
    assert found.failing and found.details["longest_outage"] == "95 s"
    assert not data_sync_result([long], START + timedelta(hours=24, minutes=2), threshold=threshold).failing


def test_an_outage_is_counted_only_when_it_began_while_the_node_was_primary() -> None:
    tracker = WriteOutageTracker()
    tracker.succeeded(START, primary=False)
    tracker.failed(START + timedelta(seconds=5))
    tracker.succeeded(START + timedelta(seconds=100), primary=True)
    assert tracker.outages() == []  # it was a backup when its writes stopped
    tracker.failed(START + timedelta(seconds=105))
    tracker.failed(START + timedelta(seconds=110))
    tracker.succeeded(START + timedelta(seconds=200), primary=False)  # it lost the lock meanwhile
    assert tracker.outages() == [WriteOutage(START + timedelta(seconds=100), START + timedelta(seconds=200))]


def test_a_check_keeps_its_incident_while_failing_and_opens_a_new_one_after_clearing() -> None:
    bad, good = (
        CheckResult(CANNOT_REACH_TEST_IPS, True, {"e": "1"}),
        CheckResult(CANNOT_REACH_TEST_IPS, False),
    )
    check = NodeCheck.first("b", bad, START)
    later = check.folded(bad, START + timedelta(seconds=30))
    assert (later.since, later.failures, later.confirmed) == (START, 2, True)
    cleared = later.folded(good, START + timedelta(seconds=60))
    assert (cleared.failing, cleared.since) == (False, START)  # kept: the cleared note names it
    again = cleared.folded(bad, START + timedelta(seconds=90))
    assert (again.since, again.failures, again.mailed) == (START + timedelta(seconds=90), 1, False)


# --- the service ----------------------------------------------------------------------------------


async def test_unreachable_test_addresses_are_mailed_once_and_their_clearing_once() -> None:
    server = Server()
    options = CheckOptions(test_addresses=(TEST_IP,))
    observer = Observer()
    a, b = node(server, "a", checks=options), node(server, "b", checks=options, observer=observer)
    await started(a, b)
    server.unreachable.add(str(TEST_IP))

    await rounds(server, 1, a, b)
    assert server.types() == []  # one probe is not an incident
    await rounds(server, 10, a, b)
    assert server.types() == [CANNOT_REACH_TEST_IPS]
    assert server.raised[0][1] == {
        "node": "b",
        "test_addresses": "192.0.2.1:443",
        "error": "192.0.2.1:443: Connection refused",
    }
    assert observer.checks[CANNOT_REACH_TEST_IPS] is True

    server.unreachable.clear()
    await rounds(server, 10, a, b)
    assert server.types() == [CANNOT_REACH_TEST_IPS, CLEARED]
    assert server.raised[1][1] == {"node": "b", "check": CANNOT_REACH_TEST_IPS}
    assert observer.checks[CANNOT_REACH_TEST_IPS] is False


async def test_a_primary_unreachable_too_is_the_other_problem_and_the_hostname_is_probed_apart() -> None:
    server = Server()
    options = CheckOptions(test_addresses=(TEST_IP,))
    a = node(server, "a", checks=options, url="http://10.0.0.5:8025")
    b = node(server, "b", checks=options)
    await started(a, b)
    server.unreachable |= {str(TEST_IP), "http://10.0.0.5:8025/healthz", "http://a.example.com:8025/healthz"}
    await rounds(server, 3, a, b)
    assert sorted(server.types()) == [BY_HOSTNAME, NOR_TEST_IPS]

    server.unreachable = {"http://a.example.com:8025/healthz"}  # the URL answers, the name does not
    await rounds(server, 3, a, b)
    assert sorted(server.types()) == [BY_HOSTNAME, NOR_TEST_IPS, CLEARED]
    assert server.raised[-1][1]["check"] == NOR_TEST_IPS


async def test_a_new_primary_does_not_mail_an_incident_the_old_one_mailed() -> None:
    server = Server()
    options = CheckOptions(test_addresses=(TEST_IP,))
    a, b, c = (node(server, name, checks=options) for name in "abc")
    await started(a, b, c)
    server.unreachable.add(str(TEST_IP))
    await rounds(server, 3, a, b, c)
    assert server.types() == [CANNOT_REACH_TEST_IPS] * 2  # b and c: one incident each

    crash(server, a)
    await rounds(server, 20, b, c)
    assert server.types().count(CANNOT_REACH_TEST_IPS) == 2
    assert "failover.backup_becoming_primary" in server.types()


async def test_a_backup_whose_own_healthz_fails_is_mailed() -> None:
    server = Server()
    a, b = node(server, "a"), node(server, "b")
    await started(a, b)
    server.unreachable.add("http://b.example.com:8025/healthz")
    await rounds(server, 3, a, b)
    assert server.types() == ["failover.backup_self_probe_failed"]
    assert server.raised[0][1]["url"] == "http://b.example.com:8025/healthz"


async def test_a_node_with_backup_operations_disabled_never_takes_over_and_the_admins_are_told() -> None:
    server = Server()
    a, b, c = node(server, "a"), node(server, "b"), node(server, "c")
    await started(a, b, c)
    await b.set_backup_operations("b", enabled=False)
    await rounds(server, 3, a, b, c)
    assert server.types() == ["failover.backup_operations_disabled"]
    with pytest.raises(Exception, match="backup operations are disabled"):
        await b.promote("b", wait=0)

    crash(server, a)
    await rounds(server, 20, b, c)
    assert c.is_primary and not b.is_primary

    await c.set_backup_operations("b", enabled=True)
    await rounds(server, 3, b, c)
    assert server.types().count(CLEARED) == 1
    assert server.raised[-1][1] == {"node": "b", "check": "failover.backup_operations_disabled"}


async def test_the_shared_ip_is_checked_on_the_primary_only() -> None:
    server = Server()
    options = CheckOptions(shared_ip="192.0.2.10")
    a, b = node(server, "a", checks=options), node(server, "b", checks=options)
    await started(a, b)
    await rounds(server, 3, a, b)
    assert server.types() == ["failover.shared_ip_not_assigned"]  # once, and only for the primary
    assert server.raised[0][1] == {"node": "a", "shared_ip": "192.0.2.10"}

    server.interfaces["192.0.2.10"] = ("down", "eth1")
    await rounds(server, 3, a, b)
    raised = dict(server.raised[1:])
    assert raised.keys() == {CLEARED, "failover.shared_ip_interface_disabled"} and len(server.raised) == 3
    assert raised[CLEARED] == {"node": "a", "check": "failover.shared_ip_not_assigned"}
    assert raised["failover.shared_ip_interface_disabled"] == {
        "node": "a",
        "shared_ip": "192.0.2.10",
        "interface": "eth1",
    }


async def test_a_long_database_outage_on_the_primary_is_mailed_as_data_sync_failed() -> None:
    server = Server()
    a = node(server, "a", checks=CheckOptions(data_sync_threshold=timedelta(seconds=60)))
    await started(a)
    tracker = a._checks.outages
    tracker.succeeded(server.now, primary=True)
    tracker.failed(server.now + timedelta(seconds=10))
    server.advance(95)
    tracker.succeeded(server.now, primary=True)

    await rounds(server, 3, a)
    assert server.types() == ["failover.data_sync_failed"]
    assert server.raised[0][1]["longest_outage"] == "95 s"
    server.advance(24 * 3600)
    await rounds(server, 2, a)
    assert server.types() == ["failover.data_sync_failed", CLEARED]


async def test_a_hung_primary_that_keeps_the_lock_is_fenced_and_replaced_once() -> None:
    server = Server()
    a, b, c = node(server, "a"), node(server, "b"), node(server, "c")
    await started(a, b, c)
    # a hangs: its connection, and so the lock, stay; its heartbeat stops.
    await tick_for(server, 3, b, c)
    assert server.holder == "a" and server.types() == []
    await tick_for(server, 2, b, c)  # silent for longer than three heartbeats: an outage
    assert server.types() == ["failover.primary_probe_failed_failover_enabled"]
    await tick_for(server, 11, b, c)  # the grace period

    new = b if b.is_primary else c
    assert server.holder == new.options.node_id and [b.is_primary, c.is_primary].count(True) == 1
    assert server.types() == [
        "failover.primary_probe_failed_failover_enabled",
        "failover.backup_becoming_primary",
    ]
    await a.tick()  # a wakes up: its lock was taken from it, so it steps down
    assert not a.is_primary
    await tick_for(server, 5, a, b, c)
    assert [s.state for s in await a.status()].count("primary") == 1
