"""Whether control can reach the end of a statement list: gcc's
-Wreturn-type question, which the kernel makes an error (-Werror=return-type)
for a function that returns a value; and which functions a body calls.

A statement completes when control can leave it at its end. `return` and
`goto` never do; a loop whose condition is a non-zero constant (or absent)
completes only through a `break` of its own; a label some `goto` names
makes what follows it reachable again. The answer errs on the side of
"completes" where it cannot tell (a label inside a statement that is
otherwise unreachable), as gcc's warning does on paths it cannot rule out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from kmap_scenarios.dsl.check.symbols import walk
from kmap_scenarios.dsl.syntax import nodes

Fold = Callable[[nodes.Expr], "int | None"]


def completes(stmts: tuple[nodes.Stmt, ...], fold: Fold) -> bool:
    """Whether control can reach the end of ``stmts`` (a function body)."""
    targets = {s.label for s in _all(stmts) if isinstance(s, nodes.Goto)}
    return _Flow(targets, fold).seq(stmts)


class _Flow:
    def __init__(self, targets: set[str], fold: Fold) -> None:
        self.targets = targets
        self.fold = fold

    def seq(self, stmts: tuple[nodes.Stmt, ...]) -> bool:
        reachable = True
        for s in stmts:
            if isinstance(s, nodes.Label):
                reachable = reachable or s.name in self.targets
            elif isinstance(s, (nodes.Case, nodes.Default)):
                reachable = True
            elif reachable or self._labelled(s):
                reachable = self.stmt(s)
        return reachable

    def _labelled(self, s: nodes.Stmt) -> bool:
        """Whether a goto can enter s from outside (a named label inside)."""
        return any(isinstance(x, nodes.Label) and x.name in self.targets for x in _all((s,)))

    def stmt(self, s: nodes.Stmt) -> bool:
        if isinstance(s, (nodes.Return, nodes.Goto, nodes.Break, nodes.Continue)):
            return False
        if isinstance(s, nodes.Block):
            return self.seq(s.stmts)
        if isinstance(s, nodes.If):
            value = self.fold(s.cond)
            then = self.seq(s.then.stmts)
            orelse = True if s.orelse is None else self.stmt(s.orelse)
            if value is not None and not self._labelled(s):
                return then if value else orelse
            return then or orelse
        if isinstance(s, (nodes.While, nodes.For)):
            forever = s.cond is None or self.fold(s.cond) not in (None, 0)
            return not forever or _breaks(s.body.stmts)
        if isinstance(s, nodes.DoWhile):
            body = self.seq(s.body.stmts) or _continues(s.body.stmts)
            forever = self.fold(s.cond) not in (None, 0)
            return _breaks(s.body.stmts) or (body and not forever)
        if isinstance(s, nodes.Switch):
            has_default = any(isinstance(x, nodes.Default) for x in s.body)
            return not has_default or _breaks(s.body) or self.seq(s.body)
        return True


def _all(stmts: tuple[nodes.Stmt, ...]) -> Iterator[nodes.Stmt]:
    """Every statement, nested ones included, without recursion."""
    stack = list(reversed(stmts))
    while stack:
        s = stack.pop()
        yield s
        stack.extend(reversed(_children(s)))


def _children(s: nodes.Stmt) -> tuple[nodes.Stmt, ...]:
    if isinstance(s, nodes.Block):
        return s.stmts
    if isinstance(s, nodes.If):
        return (s.then,) + ((s.orelse,) if s.orelse is not None else ())
    if isinstance(s, (nodes.While, nodes.DoWhile, nodes.For)):
        return (s.body,)
    if isinstance(s, nodes.Switch):
        return s.body
    return ()


def _breaks(stmts: tuple[nodes.Stmt, ...]) -> bool:
    """A `break` that leaves the loop or switch these statements belong to
    (not one of an inner loop or switch)."""
    return _own(stmts, nodes.Break, stop_at_switch=True)


def _continues(stmts: tuple[nodes.Stmt, ...]) -> bool:
    return _own(stmts, nodes.Continue, stop_at_switch=False)


def _own(stmts: tuple[nodes.Stmt, ...], kind: type, stop_at_switch: bool) -> bool:
    stack = list(stmts)
    while stack:
        s = stack.pop()
        if isinstance(s, kind):
            return True
        if isinstance(s, (nodes.While, nodes.DoWhile, nodes.For)):
            continue
        if isinstance(s, nodes.Switch) and stop_at_switch:
            continue
        stack.extend(_children(s))
    return False


def called(stmts: tuple[nodes.Stmt, ...]) -> set[str]:
    """The names of every function or built-in the statements call."""
    out: set[str] = set()
    for s in _all(stmts):
        for e in _exprs(s):
            out.update(x.func for x in walk(e) if isinstance(x, nodes.Call))
    return out


def _exprs(s: nodes.Stmt) -> list[nodes.Expr]:
    """The expressions of one statement (not of the statements in it)."""
    if isinstance(s, nodes.VarDecl):
        return [s.init] if s.init is not None else []
    if isinstance(s, nodes.DeclList):
        return [d.init for d in s.decls if d.init is not None]
    if isinstance(s, nodes.Assign):
        return [s.target, s.value]
    if isinstance(s, nodes.IncDec):
        return [s.target]
    if isinstance(s, nodes.ExprStmt):
        return [s.expr]
    if isinstance(s, (nodes.If, nodes.While, nodes.DoWhile, nodes.Switch)):
        return [s.cond]
    if isinstance(s, nodes.For):
        parts: list[nodes.Expr] = [s.cond] if s.cond is not None else []
        for part in (s.init, s.update):
            if part is not None:
                parts += _exprs(part)
        return parts
    if isinstance(s, nodes.Case):
        return [s.value]
    if isinstance(s, nodes.Return):
        return [s.value] if s.value is not None else []
    return []
