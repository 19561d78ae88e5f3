"""The failover checks' pure rules at their edges: ports, thresholds, windows, confirmations, details."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alertmail.domain.cluster_checks import (
    BACKUP_CHECKS,
    CHECK_NAMES,
    CONFIRMING_PROBES,
    DATA_SYNC_FAILED,
    PRIMARY_CHECKS,
    CheckResult,
    NodeCheck,
    ProbeOutcome,
    ProbeTarget,
    WriteOutage,
    backup_operations_result,
    data_sync_result,
    parse_test_addresses,
    reachability_results,
    self_probe_result,
    shared_ip_results,
)
from alertmail.domain.events import EventCatalog

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TINY = timedelta(microseconds=1)
NOR_TEST_IPS = "failover.backup_cannot_reach_primary_nor_test_ips"
TEST_IPS = "failover.backup_cannot_reach_test_ips"
BY_HOSTNAME = "failover.backup_cannot_reach_primary_by_hostname"


def test_every_check_is_an_event_type_of_the_catalog_and_belongs_to_one_role() -> None:
    catalog = EventCatalog.default()
    assert all(name in catalog for name in CHECK_NAMES)
    assert len(set(CHECK_NAMES)) == len(BACKUP_CHECKS) + len(PRIMARY_CHECKS) + 1 == 8
    assert DATA_SYNC_FAILED in CHECK_NAMES
    assert PRIMARY_CHECKS == ("failover.shared_ip_not_assigned", "failover.shared_ip_interface_disabled")


def test_ports_1_and_65535_are_accepted_and_0_and_65536_are_not() -> None:
    assert parse_test_addresses("a:1,b:65535") == (ProbeTarget("a", 1), ProbeTarget("b", 65535))
    for bad in ("a:0", "a:65536", "a:-1"):
        with pytest.raises(ValueError, match="the port must be a whole number from 1 to 65535"):
            parse_test_addresses(bad)


@pytest.mark.parametrize("bad", [":443", "[]:443", "443"])
def test_an_address_without_a_host_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="is not host:port"):
        parse_test_addresses(bad)


def test_empty_entries_are_skipped() -> None:
    assert parse_test_addresses("") == ()
    assert parse_test_addresses(" , ,") == ()
    assert parse_test_addresses("a:1, ,b:2") == (ProbeTarget("a", 1), ProbeTarget("b", 2))
    assert str(ProbeTarget("gw.example.com", 22)) == "gw.example.com:22"


def test_reachability_details_name_what_was_tried_and_why_it_failed() -> None:
    url, host = ProbeOutcome("u", False, "timed out"), ProbeOutcome("h", False, "")
    tests = [ProbeOutcome("t1", False, "refused"), ProbeOutcome("t2", False, "unreachable")]
    nor, only_tests, by_hostname = reachability_results("p", url, host, tests)
    assert (nor.check, nor.failing) == (NOR_TEST_IPS, True)
    assert nor.details == {"primary": "p", "test_addresses": "t1, t2", "error": "u: timed out"}
    assert (only_tests.check, only_tests.failing) == (TEST_IPS, False)
    assert only_tests.details == {"test_addresses": "t1, t2", "error": "t1: refused; t2: unreachable"}
    assert (by_hostname.check, by_hostname.failing) == (BY_HOSTNAME, True)
    assert by_hostname.details == {"primary": "p", "url": "h", "error": ""}


def test_an_answering_probe_lends_no_error_and_no_hostname_probe_no_details() -> None:
    tests = [ProbeOutcome("t1", True, "stale"), ProbeOutcome("t2", False, "refused")]
    nor, only_tests, by_hostname = reachability_results("p", ProbeOutcome("u", True), None, tests)
    assert not any(r.failing for r in (nor, only_tests, by_hostname))
    assert only_tests.details["error"] == "t2: refused"
    assert by_hostname.details == {}


def test_the_self_probe() -> None:
    assert self_probe_result(None) == CheckResult("failover.backup_self_probe_failed", False)
    passing = self_probe_result(ProbeOutcome("https://b/healthz", True))
    assert (passing.failing, passing.details) == (False, {"url": "https://b/healthz", "error": ""})
    failing = self_probe_result(ProbeOutcome("https://b/healthz", False, "500"))
    assert (failing.failing, failing.details) == (True, {"url": "https://b/healthz", "error": "500"})


def test_backup_operations_disabled_says_since_when() -> None:
    assert backup_operations_result(None) == CheckResult("failover.backup_operations_disabled", False)
    found = backup_operations_result(NOW)
    assert (found.failing, found.details) == (True, {"disabled_since": "2026-12-01 12:00 UTC"})


@pytest.mark.parametrize(
    ("state", "not_assigned", "disabled"),
    [("absent", True, False), ("down", False, True), ("up", False, False)],
)
def test_the_shared_ip_states(state: str, not_assigned: bool, disabled: bool) -> None:
    assigned, enabled = shared_ip_results("192.0.2.10", state, "eth1")  # type: ignore[arg-type]
    assert (assigned.failing, enabled.failing) == (not_assigned, disabled)
    assert assigned.details == {"shared_ip": "192.0.2.10", "interface": "eth1"}
    assert shared_ip_results("192.0.2.10", state, "")[0].details == {"shared_ip": "192.0.2.10"}  # type: ignore[arg-type]


def test_an_outage_of_exactly_the_threshold_is_not_a_failed_sync() -> None:
    threshold = timedelta(seconds=60)
    exact = WriteOutage(NOW - timedelta(seconds=60), NOW)
    assert exact.duration == threshold
    assert not data_sync_result([exact], NOW, threshold=threshold).failing
    longer = WriteOutage(NOW - timedelta(seconds=60) - TINY, NOW)
    assert data_sync_result([longer], NOW, threshold=threshold).failing


def test_an_outage_counts_until_exactly_the_window_after_its_end() -> None:
    outage = WriteOutage(NOW - timedelta(minutes=5), NOW)
    threshold, window = timedelta(seconds=60), timedelta(hours=1)
    assert data_sync_result([outage], NOW + window, threshold=threshold, window=window).failing
    assert not data_sync_result([outage], NOW + window + TINY, threshold=threshold, window=window).failing
    assert data_sync_result([outage], NOW + timedelta(hours=24), threshold=threshold).failing
    assert not data_sync_result([outage], NOW + timedelta(hours=24) + TINY, threshold=threshold).failing


def test_the_longest_recent_outage_is_reported() -> None:
    outages = [
        WriteOutage(NOW - timedelta(seconds=500), NOW - timedelta(seconds=400)),  # 100 s
        WriteOutage(NOW - timedelta(seconds=300), NOW - timedelta(seconds=5)),  # 295 s
        WriteOutage(NOW - timedelta(seconds=100), NOW - timedelta(seconds=30)),  # 70 s
    ]
    found = data_sync_result(outages, NOW, threshold=timedelta(seconds=60))
    assert found == CheckResult(
        DATA_SYNC_FAILED,
        True,
        {
            "longest_outage": "295 s",
            "outage_started": f"{NOW - timedelta(seconds=300):%Y-%m-%d %H:%M:%S} UTC",
        },
    )


def test_a_problem_is_confirmed_by_the_second_probe_in_a_row() -> None:
    assert CONFIRMING_PROBES == 2
    bad = CheckResult(TEST_IPS, True, {"error": "1"})
    first = NodeCheck.first("b", bad, NOW)
    assert (first.failing, first.failures, first.confirmed, first.since, first.mailed) == (
        True,
        1,
        False,
        NOW,
        False,
    )
    second = first.folded(CheckResult(TEST_IPS, True, {"error": "2"}), NOW + timedelta(seconds=1))
    assert (second.failures, second.confirmed, second.details, second.since) == (2, True, {"error": "2"}, NOW)
    assert not replace(second, failing=False).confirmed


def test_a_check_that_passes_first_opens_no_incident() -> None:
    check = NodeCheck.first("b", CheckResult(TEST_IPS, False), NOW)
    assert (check.failing, check.since, check.failures, check.checked_at, check.details) == (
        False,
        None,
        0,
        NOW,
        {},
    )
    assert check.mailed is False  # nothing to clear later


def test_clearing_keeps_the_incident_count_and_mailed_flag() -> None:
    mailed = replace(
        NodeCheck.first("b", CheckResult(TEST_IPS, True, {"e": "x"}), NOW), mailed=True, failures=3
    )
    cleared = mailed.folded(CheckResult(TEST_IPS, False), NOW + timedelta(seconds=5))
    assert (cleared.failing, cleared.failures, cleared.mailed, cleared.since) == (False, 3, True, NOW)
    assert (cleared.checked_at, cleared.details) == (NOW + timedelta(seconds=5), {"e": "x"})
