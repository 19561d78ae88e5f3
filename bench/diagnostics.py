"""Diagnostics accuracy on the corpus of real failure texts (issue #14).

Feeds every case of `tests/data/diagnostics_corpus.json` through alertmail's own SMTP transport,
socket translation and OAuth client (see `tests/support/diagnostics_corpus.py`), then prints the
accuracy of the category and of "retryable", per expected category, and every miss.

    .venv/bin/python -m bench.diagnostics [--corpus PATH]
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from pathlib import Path

from tests.support.diagnostics_corpus import CORPUS_PATH, CorpusCase, classify_case, load_corpus


async def _run(cases: list[CorpusCase]) -> list[tuple[CorpusCase, str, bool, str]]:
    results = []
    for case in cases:
        found = await classify_case(case)
        results.append((case, found.category, found.retryable, found.rule))
    return results


def _report(results: list[tuple[CorpusCase, str, bool, str]]) -> None:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for case, category, retryable, _ in results:
        counts = per[case.category]
        counts[0] += 1
        counts[1] += category == case.category
        counts[2] += retryable == case.retryable
    print(f"{'category':<16} {'cases':>5} {'category':>9} {'retryable':>10}")
    for name in sorted(per):
        total, right, retry = per[name]
        print(f"{name:<16} {total:>5} {right / total:>9.1%} {retry / total:>10.1%}")
    total = len(results)
    right = sum(case.category == category for case, category, _, _ in results)
    retry = sum(case.retryable == retryable for case, _, retryable, _ in results)
    print(f"{'all':<16} {total:>5} {right / total:>9.1%} {retry / total:>10.1%}")
    misses = [r for r in results if r[1] != r[0].category or r[2] != r[0].retryable]
    print(f"\n{len(misses)} miss(es):")
    for case, category, retryable, rule in misses:
        print(
            f"- {case.id} [{case.stage}] expected {case.category}/{case.retryable}, "
            f"got {category}/{retryable} (rule {rule})\n    {case.text[:160]!r}\n    {case.source}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS_PATH)
    args = parser.parse_args()
    _report(asyncio.run(_run(load_corpus(args.corpus))))


if __name__ == "__main__":
    main()
