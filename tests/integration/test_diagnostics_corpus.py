"""Diagnostics on real failure texts (issue #14): >= 95 % right category and right "retryable".

Each case of `tests/data/diagnostics_corpus.json` is reproduced through alertmail's own SMTP
transport (a scripted relay on loopback replying with the text at its stage), real TLS handshakes,
the SMTP adapter's socket translation and the OAuth client (see tests/support/diagnostics_corpus.py).
`python -m bench.diagnostics` prints the same figures per category, with every miss.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.support.diagnostics_corpus import CorpusCase, classify_case, load_corpus

CASES = load_corpus()
ARCHITECTURE_CATEGORIES = {
    "dns", "connect_timeout", "connect_refused", "tls_handshake", "tls_unavailable", "smtp_auth",
    "smtp_recipient", "smtp_throttled", "smtp_policy", "smtp_other", "oauth", "oauth_reauth", "native",
}  # fmt: skip


def test_the_corpus_is_large_sourced_and_labelled_with_known_categories() -> None:
    assert len(CASES) >= 200
    assert len({case.id for case in CASES}) == len(CASES)
    for case in CASES:
        assert urlsplit(case.source).scheme == "https", case.id
        assert case.stage and case.text, case.id
        assert case.category in ARCHITECTURE_CATEGORIES, case.id


async def test_at_least_95_percent_right_category_and_retryability() -> None:
    misses: list[str] = []
    right_category = right_retry = 0
    for case in CASES:
        found = await classify_case(case)
        right_category += found.category == case.category
        right_retry += found.retryable == case.retryable
        if (found.category, found.retryable) != (case.category, case.retryable):
            misses.append(f"{case.id}: {found.category}/{found.retryable} by {found.rule}")
    assert right_category / len(CASES) >= 0.95, misses
    assert right_retry / len(CASES) >= 0.95, misses


@pytest.mark.parametrize("case", [c for c in CASES if c.via in ("tls", "dns", "refused")][:3], ids=str)
async def test_real_failures_reach_the_classifier_with_their_codes(case: CorpusCase) -> None:
    found = await classify_case(case)
    assert found.category == case.category and found.hint
