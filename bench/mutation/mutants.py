"""The mutants of one module: found and applied on its syntax tree, one at a time.

`find_mutants(source)` lists every mutant; `mutated_code(source, path, index)` compiles the module with
mutant `index` applied. Both walk the tree in the same order, so an index names the same mutant in the
runner and in the child process. Line numbers are kept, so a traceback of a mutant points at the source.

The operators (each one a plausible slip that a test should notice):
- comparison boundary or sense: `<` ↔ `<=`, `>` ↔ `>=`, `==` ↔ `!=`, `in` ↔ `not in`, `is` ↔ `is not`;
- a number ± 1, `True` ↔ `False`;
- a condition negated (`if`, `while`, `x if c else y`, a comprehension's `if`), a `not` removed;
- `and` ↔ `or`; arithmetic `+` ↔ `-`, `*` ↔ `/`, `//` → `/`, `%` → `//`, `**` → `*`, unary `-` dropped;
- a statement deleted (a call, an assignment that is not a variable's first binding, a `raise`, an
  `if` or `for` block, `del`, `assert`), `continue` ↔ `break`;
- a `return` of a value replaced by `return None`.

Left alone, because they are words rather than logic or would only test Python itself: strings,
annotations, decorators, docstrings, `__all__`, `typing.Protocol` classes, and string concatenation.
Code runs at import like any other here (the module is compiled from the mutated tree in a fresh
process), so table builders and catalogs are mutated too.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import CodeType

__all__ = ["Mutant", "find_mutants", "mutated_code"]

_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_ARITHMETIC_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
}
_SYMBOLS = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.And: "and",
    ast.Or: "or",
}


@dataclass(frozen=True)
class Mutant:
    index: int
    line: int
    end_line: int
    description: str  # e.g. "`1 <= value <= 65535`: `<=` → `<`"
    import_time: bool  # runs when the module is imported (outside any function body)


# A candidate change of one node: what it does, and how to make the changed node from a copy.
_Change = tuple[str, Callable[[ast.AST], ast.AST]]


class _Walker(ast.NodeTransformer):
    """Visits the tree in a fixed order; counts every candidate change and applies the `target`th."""

    def __init__(self, source: str, target: int | None) -> None:
        self.source = source
        self.target = target
        self.found: list[Mutant] = []
        self.depth = 0  # function bodies entered
        self.reassigned: list[set[str]] = []  # per function: names bound more than once, or arguments

    # --- what is skipped ------------------------------------------------------------------------

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        if any(_name_of(base) == "Protocol" for base in node.bases):
            return node
        node.body = self._visit_body(node.body)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._function(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        node.args.defaults = [self.visit(d) for d in node.args.defaults]
        node.args.kw_defaults = [self.visit(d) if d is not None else None for d in node.args.kw_defaults]
        self.depth += 1
        self.reassigned.append(_rebound_names(node))
        node.body = self._visit_body(node.body)
        self.reassigned.pop()
        self.depth -= 1
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.depth += 1
        node.body = self.visit(node.body)
        self.depth -= 1
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return node  # f-strings: wording

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if _name_of(node.value) in ("Literal", "Callable", "tuple", "dict", "Mapping", "type"):
            return node  # a type expression, e.g. an alias `Row = tuple[...]`
        return self.generic_visit(node)

    def visit_Module(self, node: ast.Module) -> ast.AST:
        node.body = self._visit_body(node.body)
        return node

    # --- bodies and statements ----------------------------------------------------------------

    def _visit_body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        for position, statement in enumerate(body):
            if _is_docstring(statement, position) or _is_dunder_all(statement):
                result.append(statement)
                continue
            kept = self._maybe(statement, self._statement_changes(statement))
            result.append(self.visit(kept) if kept is statement else kept)
        return result

    def generic_visit(self, node: ast.AST) -> ast.AST:
        # As NodeTransformer's, except that a block of statements goes through `_visit_body`.
        for name, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, name, self._visit_body(value))
            elif isinstance(value, list):
                setattr(node, name, [self.visit(v) if isinstance(v, ast.AST) else v for v in value])
            elif isinstance(value, ast.AST):
                setattr(node, name, self.visit(value))
        return node

    def _statement_changes(self, node: ast.stmt) -> list[_Change]:
        changes: list[_Change] = []
        if self._deletable(node):
            changes.append(("statement deleted", lambda n: ast.copy_location(ast.Pass(), n)))
        if isinstance(node, ast.Return) and node.value is not None and not _is_none(node.value):
            changes.append(("`return …` → `return None`", _return_none))
        if isinstance(node, ast.Continue):
            changes.append(("`continue` → `break`", lambda n: ast.copy_location(ast.Break(), n)))
        if isinstance(node, ast.Break):
            changes.append(("`break` → `continue`", lambda n: ast.copy_location(ast.Continue(), n)))
        return changes

    def _deletable(self, node: ast.stmt) -> bool:
        if isinstance(node, ast.Expr):
            return not isinstance(node.value, ast.Constant)  # `...` and stray strings
        if isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if self.depth == 0:
                return not names  # a module constant deleted only fails the import
            return not names or any(name in self.reassigned[-1] for name in names)
        return isinstance(node, ast.Raise | ast.If | ast.For | ast.Delete | ast.Assert | ast.AugAssign)

    # --- expressions -----------------------------------------------------------------------------

    def visit_If(self, node: ast.If) -> ast.AST:
        node.test = self._maybe(node.test, _negation(node.test))
        return self.generic_visit(node)

    def visit_While(self, node: ast.While) -> ast.AST:
        node.test = self._maybe(node.test, _negation(node.test))
        return self.generic_visit(node)

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        node.test = self._maybe(node.test, _negation(node.test))
        return self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        node.ifs = [self._maybe(test, _negation(test)) for test in node.ifs]
        return self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        changes: list[_Change] = []
        for position, op in enumerate(node.ops):
            swapped = _COMPARE_SWAPS.get(type(op))
            if swapped is not None:
                label = f"`{_SYMBOLS[type(op)]}` → `{_SYMBOLS[swapped]}`"
                changes.append((label, _compare_swap(position, swapped)))
        changed = self._maybe(node, changes)
        return changed if changed is not node else self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        label = f"`{_SYMBOLS[type(node.op)]}` → `{_SYMBOLS[other]}`"
        changed = self._maybe(node, [(label, lambda n: _with_op(n, other()))])
        return changed if changed is not node else self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        swapped = _ARITHMETIC_SWAPS.get(type(node.op))
        if swapped is None or _is_text(node.left) or _is_text(node.right):
            return self.generic_visit(node)
        label = f"`{_SYMBOLS[type(node.op)]}` → `{_SYMBOLS[swapped]}`"
        changed = self._maybe(node, [(label, lambda n: _with_op(n, swapped()))])
        return changed if changed is not node else self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        if isinstance(node.op, ast.Not):
            changed = self._maybe(node, [("`not` removed", lambda n: n.operand)])  # type: ignore[attr-defined]
        elif isinstance(node.op, ast.USub):
            changed = self._maybe(node, [("unary `-` removed", lambda n: n.operand)])  # type: ignore[attr-defined]
        else:
            changed = node
        return changed if changed is not node else self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            return self._maybe(node, [(f"`{value}` → `{not value}`", _constant(not value))])
        if isinstance(value, int | float):
            return self._maybe(
                node,
                [
                    (f"`{value!r}` → `{value + 1!r}`", _constant(value + 1)),
                    (f"`{value!r}` → `{value - 1!r}`", _constant(value - 1)),
                ],
            )
        return node

    # --- the counter -----------------------------------------------------------------------------

    def _maybe(self, node: ast.AST, changes: list[_Change]) -> ast.AST:
        """Count each change; apply the one whose turn is `target` (on a copy), else keep the node."""
        for label, change in changes:
            index = len(self.found)
            line = getattr(node, "lineno", 0)
            code = _excerpt(self.source, node)
            self.found.append(
                Mutant(
                    index,
                    line,
                    getattr(node, "end_lineno", line) or line,
                    f"`{code}`: {label}",
                    self.depth == 0,
                )
            )
            if index == self.target:
                return ast.copy_location(change(copy.deepcopy(node)), node)
        return node


def find_mutants(source: str) -> list[Mutant]:
    walker = _Walker(source, None)
    walker.visit(ast.parse(source))
    return walker.found


def mutated_code(source: str, path: str, index: int) -> CodeType:
    walker = _Walker(source, index)
    tree = walker.visit(ast.parse(source))
    if index >= len(walker.found):
        raise IndexError(f"{path} has {len(walker.found)} mutants, not {index + 1}")
    return compile(ast.fix_missing_locations(tree), path, "exec")


# --- helpers -------------------------------------------------------------------------------------


def _negation(test: ast.expr) -> list[_Change]:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return []  # the same mutant as the `not` removed
    return [("condition negated", lambda n: ast.UnaryOp(op=ast.Not(), operand=n))]


def _return_none(node: ast.AST) -> ast.AST:
    assert isinstance(node, ast.Return)
    node.value = ast.Constant(value=None)
    return node


def _compare_swap(position: int, swapped: type[ast.cmpop]) -> Callable[[ast.AST], ast.AST]:
    def change(node: ast.AST) -> ast.AST:
        assert isinstance(node, ast.Compare)
        node.ops[position] = swapped()
        return node

    return change


def _with_op(node: ast.AST, op: ast.AST) -> ast.AST:
    node.op = op  # type: ignore[attr-defined]
    return node


def _constant(value: object) -> Callable[[ast.AST], ast.AST]:
    return lambda node: ast.Constant(value=value)


def _name_of(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _is_docstring(node: ast.stmt, position: int) -> bool:
    return position == 0 and isinstance(node, ast.Expr) and _is_text(node.value)


def _is_dunder_all(node: ast.stmt) -> bool:
    return isinstance(node, ast.Assign) and any(_name_of(t) == "__all__" for t in node.targets)


def _rebound_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Names whose assignment can be deleted without a NameError: arguments and names bound twice."""
    args = function.args
    names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    counts: dict[str, int] = {}
    for node in _own_nodes(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            counts[node.id] = counts.get(node.id, 0) + 1
    return names | {name for name, count in counts.items() if count > 1}


def _own_nodes(function: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(function):
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            yield child
            yield from _own_nodes(child)


def _excerpt(source: str, node: ast.AST) -> str:
    text = ast.get_source_segment(source, node) or ast.unparse(node)
    first = " ".join(text.split())
    return first if len(first) <= 70 else first[:67] + "..."
