"""The pure decision behind the fallback transport, and the settings the fallback sends with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertmail.domain.fallback import (
    failure_run_start,
    fallback_configured,
    fallback_view,
    run_is_broken,
    should_use_fallback,
)
from alertmail.domain.settings import validate_settings
from alertmail.errors import SettingsValidationError

instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
thresholds = st.integers(min_value=1, max_value=1440).map(lambda minutes: timedelta(minutes=minutes))
spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))


@given(now=instants, threshold=thresholds)
def test_a_primary_that_is_not_failing_never_needs_the_fallback(now: datetime, threshold: timedelta) -> None:
    assert not should_use_fallback(None, threshold, now, last_failed_at=None)


@given(since=instants, threshold=thresholds, span=spans)
def test_the_fallback_is_used_exactly_once_the_failures_have_lasted_the_threshold(
    since: datetime, threshold: timedelta, span: timedelta
) -> None:
    assert should_use_fallback(since, threshold, since + span, last_failed_at=since + span) == (
        span >= threshold
    )


@given(since=instants, threshold=thresholds, earlier=spans, later=spans)
def test_once_due_the_fallback_stays_due_while_the_failures_go_on(
    since: datetime, threshold: timedelta, earlier: timedelta, later: timedelta
) -> None:
    if should_use_fallback(since, threshold, since + earlier, last_failed_at=since + earlier):
        assert should_use_fallback(
            since, threshold, since + earlier + later, last_failed_at=since + earlier + later
        )


@given(since=instants, threshold=thresholds, span=spans, more=st.integers(min_value=1, max_value=1440))
def test_a_longer_threshold_is_never_due_sooner(
    since: datetime, threshold: timedelta, span: timedelta, more: int
) -> None:
    if should_use_fallback(
        since, threshold + timedelta(minutes=more), since + span, last_failed_at=since + span
    ):
        assert should_use_fallback(since, threshold, since + span, last_failed_at=since + span)


def test_the_boundary_is_inclusive_and_a_moment_short_is_not_enough() -> None:
    since = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    ten = timedelta(minutes=10)
    assert should_use_fallback(since, ten, since + ten, last_failed_at=since + ten)
    short = since + ten - timedelta(microseconds=1)
    assert not should_use_fallback(since, ten, short, last_failed_at=short)


# --- a run of failures broken by a quiet period (issue #16: a failure hours ago is not an outage now)

gaps = st.lists(st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30)), min_size=1, max_size=12)


def _run_start(
    first: datetime, gaps_between: list[timedelta], threshold: timedelta
) -> tuple[datetime, datetime]:
    """Fold failures at `first` and then after each gap: (the run's start, the last failure)."""
    since, last = failure_run_start(None, None, threshold, first), first
    for gap in gaps_between:
        at = last + gap
        since, last = failure_run_start(since, last, threshold, at), at
    return since, last


@given(first=instants, gaps_between=gaps, threshold=thresholds)
def test_a_run_of_failures_starts_after_the_last_quiet_period_longer_than_the_threshold(
    first: datetime, gaps_between: list[timedelta], threshold: timedelta
) -> None:
    since, _ = _run_start(first, gaps_between, threshold)
    times = [first]
    for gap in gaps_between:
        times.append(times[-1] + gap)
    broken_after = [i for i in range(1, len(times)) if times[i] - times[i - 1] > threshold]
    assert since == (times[broken_after[-1]] if broken_after else first)


@given(first=instants, gaps_between=gaps, threshold=thresholds, quiet=spans)
def test_after_a_quiet_period_longer_than_the_threshold_the_next_message_tries_the_primary(
    first: datetime, gaps_between: list[timedelta], threshold: timedelta, quiet: timedelta
) -> None:
    since, last = _run_start(first, gaps_between, threshold)
    now = last + quiet
    due = should_use_fallback(since, threshold, now, last_failed_at=last)
    if quiet > threshold:
        assert not due
        assert run_is_broken(last, threshold, now)
        assert failure_run_start(since, last, threshold, now) == now  # the next failure starts anew
    else:
        assert due == (now - since >= threshold)


@given(since=instants, threshold=thresholds, span=spans, quiet=spans)
def test_mail_held_back_for_the_primary_is_not_a_quiet_period(
    since: datetime, threshold: timedelta, span: timedelta, quiet: timedelta
) -> None:
    last = since + span
    now = last + quiet
    assert should_use_fallback(since, threshold, now, last_failed_at=last, primary_held=True) == (
        now - since >= threshold
    )


def test_a_failure_hours_ago_with_nothing_tried_since_does_not_send_the_next_message_to_the_fallback() -> (
    None
):
    ten = timedelta(minutes=10)
    hours_ago = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
    now = hours_ago + timedelta(hours=3)
    assert not should_use_fallback(hours_ago, ten, now, last_failed_at=hours_ago)
    assert not should_use_fallback(hours_ago, ten, now, last_failed_at=None)  # a row from before
    assert should_use_fallback(hours_ago, ten, hours_ago + ten, last_failed_at=hours_ago)  # the boundary


PRIMARY = {
    "from_address": "alerts@example.com",
    "hostname": "smtp.office365.com",
    "auth_type": "oauth2",
    "oauth_provider": "microsoft",
    "tenant_id": "contoso.onmicrosoft.com",
    "client_id": "client",
    "client_secret": "client secret",
    "scopes": "https://outlook.office.com/SMTP.Send offline_access",
    "authorization_endpoint": "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
    "token_endpoint": "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
    "username": "alerts@example.com",
    "admin_contacts": "ops@example.com",
    "connect_timeout": 12,
}


def test_the_fallback_sends_with_its_own_relay_and_the_primary_s_from_address_and_contacts() -> None:
    settings = validate_settings(
        PRIMARY
        | {
            "fallback_email_type": "smtp",
            "fallback_hostname": "relay.example.net",
            "fallback_port": 465,
            "fallback_encryption": "tls",
            "fallback_auth_type": "basic",
            "fallback_username": "relay-user",
            "fallback_password": "relay password",
        }
    )
    view = fallback_view(settings)
    assert fallback_configured(settings)
    assert (view.email_type, view.hostname, view.port, view.encryption) == (
        "smtp",
        "relay.example.net",
        465,
        "tls",
    )
    assert (view.auth_type, view.username) == ("basic", "relay-user")
    assert view.password is not None and view.password.get_secret_value() == "relay password"
    assert (view.from_address, view.admin_contacts, view.connect_timeout) == (
        "alerts@example.com",
        ["ops@example.com"],
        12,
    )
    assert view.client_secret is None and view.oauth_provider is None  # no OAuth2 on the fallback


def test_no_fallback_by_default_and_an_empty_type_means_none() -> None:
    assert not fallback_configured(validate_settings(PRIMARY))
    assert not fallback_configured(validate_settings(PRIMARY | {"fallback_email_type": ""}))


def test_a_native_fallback_needs_no_relay_fields() -> None:
    settings = validate_settings(PRIMARY | {"fallback_email_type": "native"})
    assert fallback_view(settings).email_type == "native"


# --- Graph as the fallback: app-only, its own app, endpoint and mailbox ------------------------

GRAPH_FALLBACK = {
    "fallback_email_type": "graph",
    "fallback_graph_endpoint": "https://graph.microsoft.us",
    "fallback_tenant_id": "fabrikam.onmicrosoft.com",
    "fallback_client_id": "fallback-app",
    "fallback_client_secret": "fallback app secret",
    "fallback_username": "alerts-fallback@fabrikam.com",
}


def test_a_graph_fallback_sends_app_only_with_its_own_app_tenant_endpoint_and_mailbox() -> None:
    view = fallback_view(validate_settings(PRIMARY | GRAPH_FALLBACK))
    assert (view.email_type, view.auth_type, view.oauth_provider, view.oauth_grant) == (
        "graph",
        "oauth2",
        "microsoft",
        "client_credentials",
    )
    assert (view.graph_endpoint, view.tenant_id, view.client_id, view.username) == (
        "https://graph.microsoft.us",
        "fabrikam.onmicrosoft.com",
        "fallback-app",
        "alerts-fallback@fabrikam.com",
    )
    assert view.client_secret is not None and view.client_secret.get_secret_value() == "fallback app secret"
    # The US Government cloud signs in on its own login host.
    assert (
        view.token_endpoint == "https://login.microsoftonline.us/fabrikam.onmicrosoft.com/oauth2/v2.0/token"
    )
    assert view.scopes == "https://graph.microsoft.us/.default"
    assert (view.from_address, view.admin_contacts) == ("alerts@example.com", ["ops@example.com"])


def test_an_smtp_fallback_never_carries_the_primary_s_client_secret() -> None:
    view = fallback_view(
        validate_settings(PRIMARY | {"fallback_email_type": "smtp", "fallback_hostname": "r.example"})
    )
    assert view.client_secret is None and view.oauth_provider is None


@pytest.mark.parametrize(
    ("missing", "field"),
    [
        ("fallback_tenant_id", "fallback_tenant_id"),
        ("fallback_client_id", "fallback_client_id"),
        ("fallback_client_secret", "fallback_client_secret"),
        ("fallback_username", "fallback_username"),
    ],
)
def test_a_graph_fallback_needs_its_app_and_mailbox(missing: str, field: str) -> None:
    with pytest.raises(SettingsValidationError) as error:
        validate_settings(PRIMARY | GRAPH_FALLBACK | {missing: ""})
    assert [e.field for e in error.value.errors] == [field]
    assert "Graph" in error.value.errors[0].message


@pytest.mark.parametrize(
    "asked", [{"fallback_auth_type": "oauth2"}, {"fallback_auth_type": "basic", "fallback_password": "pw"}]
)
def test_a_graph_fallback_signs_in_app_only_and_says_so(asked: dict[str, str]) -> None:
    with pytest.raises(SettingsValidationError) as error:
        validate_settings(PRIMARY | GRAPH_FALLBACK | asked)
    [problem] = error.value.errors
    assert problem.field == "fallback_auth_type"
    assert "app-only (client credentials)" in problem.message
