"""`python -m bench.mutation`: the mutation score of each module of a package against a test folder.

    .venv/bin/python -m bench.mutation                          # src/alertmail/domain vs tests/unit
    .venv/bin/python -m bench.mutation --modules settings outbox  # only these modules
    .venv/bin/python -m bench.mutation --package src/alertmail/services --threshold 0

Prints each surviving mutant (line, the code, the change) and a score per module; exits 1 when a
module scores under the threshold. See bench/README.md, "Mutation testing", for reading survivors.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from bench.mutation.runner import Outcome, Servers, run_module, trace_tests


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.mutation", description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="src/alertmail/domain", help="folder of the modules to mutate")
    parser.add_argument("--tests", default="tests/unit", help="folder of the tests to run")
    parser.add_argument("--modules", nargs="*", default=[], help="module names (default: all)")
    parser.add_argument("--jobs", "-j", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--threshold", type=float, default=85.0, help="lowest passing score, in %%")
    return parser.parse_args(argv)


def _modules(package: Path, only: list[str]) -> dict[str, str]:
    """Source path -> dotted module name (`src/` is the import root), in the order `only` names them."""
    paths = [package / f"{name}.py" for name in only] or sorted(package.glob("*.py"))
    found: dict[str, str] = {}
    for path in paths:
        if path.stem == "__init__":
            continue
        if not path.is_file():
            raise SystemExit(f"{path}: no such module")
        parts = path.with_suffix("").parts
        dotted = parts[parts.index("src") + 1 :] if "src" in parts else parts
        found[str(path)] = ".".join(dotted)
    return found


def _report(path: str, outcomes: list[Outcome], seconds: float) -> float | None:
    survivors = sorted((o for o in outcomes if not o.killed), key=lambda o: o.mutant.index)
    for outcome in survivors:
        m = outcome.mutant
        print(f"  {Path(path).name}:{m.line}  {outcome.status:<11}  {m.description}")
    if not outcomes:
        print(f"{path}: no mutants")
        return None
    score = 100.0 * sum(o.killed for o in outcomes) / len(outcomes)
    print(
        f"{path}: {score:.1f}% ({len(outcomes) - len(survivors)} of {len(outcomes)} killed, {seconds:.0f} s)"
    )
    return score


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    package, tests = Path(args.package), Path(args.tests)
    modules = _modules(package, args.modules)
    started = time.monotonic()
    print(f"tracing {tests} over {package} ...", flush=True)
    trace = trace_tests(package, tests, modules)
    print(f"traced in {time.monotonic() - started:.0f} s", flush=True)
    lock = threading.Lock()
    scores: dict[str, float | None] = {}
    servers = Servers(args.jobs, trace.preload)
    for path, module in modules.items():
        done = [0]

        def progress(outcome: Outcome, done: list[int] = done, module: str = module) -> None:
            with lock:
                done[0] += 1
                print(f"\r{module}: {done[0]} mutants run", end="", file=sys.stderr, flush=True)

        began = time.monotonic()
        outcomes = run_module(path, module, trace, servers, progress)
        print("\r", end="", file=sys.stderr)
        scores[path] = _report(path, outcomes, time.monotonic() - began)
    servers.close()
    return _summary(scores, args.threshold, time.monotonic() - started)


def _summary(scores: dict[str, float | None], threshold: float, seconds: float) -> int:
    print(f"\nmutation score per module (threshold {threshold:.0f}%, {seconds / 60:.1f} min):")
    failing = False
    for path, score in scores.items():
        if score is None:
            print(f"  {'-':>6}   {path} (nothing to mutate)")
            continue
        below = score < threshold
        failing |= below
        print(f"  {score:5.1f}%  {path}{'  BELOW THRESHOLD' if below else ''}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
