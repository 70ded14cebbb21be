"""The names a parsed file declares, where, and where each is visible.

Read off the AST (dsl/syntax/nodes.py), for completion and go-to-definition:
pages, globals (`int`, `percpu int`), locks and mutexes, tasks, irqs and
softirqs, functions with their parameters, the locals of every body with
the stretch of text where C's block scope makes each visible (from its
declaration to the end of its block; a `for` declaration to the end of
the loop), and goto labels (the whole body). The checker's rules
(dsl/check/symbols.py) decide what a name *is*; this index only finds
where it was written, so a file with check errors still has one.
"""

from __future__ import annotations

from dataclasses import dataclass

from kmap_scenarios.dsl.lsp.analysis import Pos, Range, span_range
from kmap_scenarios.dsl.syntax import nodes


@dataclass(frozen=True)
class Symbol:
    """A declared name: ``kind`` is page, int, percpu, spinlock_t, mutex,
    task, irq, softirq, function, param, local or label."""

    name: str
    kind: str
    at: Range          # the name in its declaration
    decl: Range        # the whole declaration
    detail: str        # a one-line description, e.g. `struct page *` for a local
    owner: str | None  # the task or function a param, local or label belongs to
    scope: Range       # where the name is visible (the whole file for a global)
    outer: bool = False  # a local of a task's outermost block (`task.var` in expect)


def _rng(span: nodes.Span) -> Range:
    return span_range(span)


WHOLE_FILE = Range(Pos(0, 0), Pos(1 << 30, 0))


@dataclass(frozen=True)
class Index:
    symbols: tuple[Symbol, ...]
    bodies: tuple[tuple[str, Range], ...]   # (task or function name, its span)
    expects: tuple[Range, ...]
    schedules: tuple[Range, ...]

    def globals(self) -> list[Symbol]:
        return [s for s in self.symbols if s.owner is None]

    def body_at(self, pos: Pos) -> str | None:
        """The task, irq, softirq or function whose text holds ``pos``."""
        return next((name for name, rng in self.bodies if rng.contains(pos)), None)

    def in_expect(self, pos: Pos) -> bool:
        return any(r.contains(pos) for r in self.expects)

    def in_schedule(self, pos: Pos) -> bool:
        return any(r.contains(pos) for r in self.schedules)

    def visible(self, pos: Pos) -> list[Symbol]:
        """The names usable at ``pos``: the body's locals declared before it
        whose block holds it (innermost first), its parameters and labels,
        then every global."""
        owner = self.body_at(pos)
        mine = [s for s in self.symbols if owner is not None and s.owner == owner
                and s.scope.contains(pos) and (s.kind in ("param", "label") or s.at.start < pos)]
        mine.sort(key=lambda s: s.at.start, reverse=True)
        return mine + self.globals()

    def resolve(self, name: str, pos: Pos) -> Symbol | None:
        """The declaration ``name`` at ``pos`` refers to (C's shadowing:
        the innermost local first)."""
        return next((s for s in self.visible(pos) if s.name == name), None)

    def member(self, task: str, name: str) -> Symbol | None:
        """``task.name`` in an expectation: a local of the task's outermost block."""
        return next((s for s in self.symbols if s.owner == task and s.outer
                     and s.name == name), None)


def index(file: nodes.File) -> Index:
    symbols: list[Symbol] = []
    bodies: list[tuple[str, Range]] = []
    for decl in file.decls:
        if isinstance(decl, nodes.PageDecl):
            count = f"[{decl.count}]" if decl.count is not None else ""
            symbols.append(_global(decl.name, "page", decl.name_span, decl.span,
                                   f"page {decl.name}{count} = {decl.alloc.func}(...)"))
        elif isinstance(decl, nodes.IntDecl):
            kind = "percpu" if decl.percpu else "int"
            text = f"{'percpu ' if decl.percpu else ''}int {decl.name}"
            symbols.append(_global(decl.name, kind, decl.name_span, decl.span, text))
        elif isinstance(decl, nodes.LockDecl):
            text = "struct mutex" if decl.kind == "mutex" else "spinlock_t"
            symbols.append(_global(decl.name, decl.kind, decl.name_span, decl.span,
                                   f"{text} {decl.name}"))
        elif isinstance(decl, nodes.TaskDecl):
            on = f" on cpu{decl.cpu}" if decl.cpu is not None else ""
            symbols.append(_global(decl.name, decl.kind, decl.name_span, decl.span,
                                   f"{decl.kind} {decl.name}{on}"))
            bodies.append((decl.name, _rng(decl.span)))
            _body(decl.name, decl.body, symbols, outer=True)
        elif isinstance(decl, nodes.FuncDef):
            params = ", ".join(_typed(p.ctype, p.name, p.const, p.user)
                               for p in decl.params or ())
            ret = decl.ret + (" __user" if decl.ret_user else "")
            symbols.append(_global(decl.name, "function", decl.name_span, decl.span,
                                   f"{_typed(ret, decl.name)}({params or 'void'})"))
            bodies.append((decl.name, _rng(decl.span)))
            for p in decl.params or ():
                symbols.append(Symbol(p.name, "param", _rng(p.name_span), _rng(p.span),
                                      _typed(p.ctype, p.name, p.const, p.user), decl.name,
                                      _rng(decl.span)))
            _body(decl.name, decl.body, symbols, outer=False)
    return Index(tuple(symbols), tuple(bodies),
                 tuple(_rng(e.span) for e in file.expects),
                 tuple(_rng(s.span) for s in file.schedules))


def _typed(ctype: str, name: str, const: bool = False, user: bool = False) -> str:
    """C's spelling of a declaration: `struct page *p`, `const int n`."""
    head = ("const " if const else "") + ctype.replace(" *", "") + (" __user" if user else "")
    star = " *" if ctype.endswith("*") else " "
    return f"{head}{star}{name}".replace("* ", "*")


def _global(name: str, kind: str, at: nodes.Span, decl: nodes.Span, detail: str) -> Symbol:
    return Symbol(name, kind, _rng(at), _rng(decl), detail, None, WHOLE_FILE)


def _body(owner: str, block: nodes.Block, out: list[Symbol], outer: bool) -> None:
    """The locals and labels of a task's or function's body."""
    whole = _rng(block.span)
    todo: list[tuple[nodes.Stmt, Range, bool]] = [(s, whole, outer) for s in block.stmts]
    while todo:
        stmt, scope, top = todo.pop()
        if isinstance(stmt, nodes.VarDecl):
            out.append(_local(owner, stmt, scope, top))
        elif isinstance(stmt, nodes.DeclList):
            out.extend(_local(owner, d, scope, top) for d in stmt.decls)
        elif isinstance(stmt, nodes.Label):
            out.append(Symbol(stmt.name, "label", _rng(stmt.span), _rng(stmt.span),
                              f"{stmt.name}:", owner, whole))
        elif isinstance(stmt, nodes.Block):
            todo += [(s, _rng(stmt.span), False) for s in stmt.stmts]
        elif isinstance(stmt, nodes.If):
            todo.append((stmt.then, scope, False))
            if stmt.orelse is not None:
                todo.append((stmt.orelse, scope, False))
        elif isinstance(stmt, (nodes.While, nodes.DoWhile)):
            todo.append((stmt.body, scope, False))
        elif isinstance(stmt, nodes.For):
            loop = _rng(stmt.span)
            if stmt.init is not None:
                todo.append((stmt.init, loop, False))
            todo.append((stmt.body, loop, False))
        elif isinstance(stmt, nodes.Switch):
            todo += [(s, _rng(stmt.span), False) for s in stmt.body]


def _local(owner: str, d: nodes.VarDecl, scope: Range, outer: bool) -> Symbol:
    return Symbol(d.name, "local", _rng(d.name_span), _rng(d.span),
                  _typed(d.ctype, d.name, d.const, d.user), owner, scope, outer)
