"""One mutant's test run, in a fresh process:

    python -m bench.mutation.child SOURCE PATH MODULE INDEX SELECTION -- PYTEST_ARGS

The module MODULE (file PATH) is compiled from SOURCE, the copy of its text that the runner listed
the mutants of, with mutant INDEX applied, and served to every import of it before pytest starts:
code that runs at import is mutated like the rest, and the working tree is never written to
(mutants run side by side, and an interrupted run leaves no trace).
SELECTION is a file of test ids, one a line: only those run, in that order (then `--` and every
test id of the unmutated run: a test that only the mutant brings is run too). (Given as arguments, a
test id in a module the mutant broke would be a usage error rather than a failure.)
Exit status: pytest's (0: the mutant survived).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import CodeType, ModuleType

import pytest

from bench.mutation.mutants import mutated_code


class _MutantLoader(importlib.abc.Loader):
    def __init__(self, code: CodeType) -> None:
        self.code = code

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        exec(self.code, module.__dict__)  # the point of the tool


class _Selection:
    """Keeps only the chosen tests, in the chosen order (the likeliest killers first)."""

    def __init__(self, wanted: list[str], known: set[str]) -> None:
        self.order = {nodeid: position for position, nodeid in enumerate(wanted)}
        self.known = known  # every test of the unmutated run: one only the mutant brings runs too

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        new = [i for i in items if i.nodeid not in self.known]
        chosen = new + sorted(
            (i for i in items if i.nodeid in self.order), key=lambda i: self.order[i.nodeid]
        )
        left_out = [i for i in items if i.nodeid not in self.order and i not in new]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
        items[:] = chosen


class _MutantFinder(importlib.abc.MetaPathFinder):
    def __init__(self, name: str, path: str, code: CodeType) -> None:
        self.name, self.path, self.loader = name, path, _MutantLoader(code)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path, loader=self.loader)


def main(argv: list[str]) -> int:
    source, path, module, index, selection, separator, *pytest_args = argv
    if separator != "--":
        raise SystemExit(
            "usage: python -m bench.mutation.child SOURCE PATH MODULE INDEX SELECTION -- PYTEST_ARGS"
        )
    absolute = str(Path(path).resolve())
    code = mutated_code(Path(source).read_text(), absolute, int(index))
    sys.meta_path.insert(0, _MutantFinder(module, absolute, code))
    # Property tests: the same examples on every run (a score must not depend on luck), and fewer.
    from hypothesis import settings

    settings.register_profile("mutation", max_examples=25, derandomize=True, database=None)
    settings.load_profile("mutation")
    wanted, _, known = Path(selection).read_text().partition("\n--\n")
    return int(pytest.main(pytest_args, plugins=[_Selection(wanted.splitlines(), set(known.splitlines()))]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
