"""Terse builders of AST nodes for the checker and lowering tests.

Each node gets its own line (a counter), so diagnostics sort in the order
the test built them and spans tell nodes apart.
"""

from __future__ import annotations

import itertools

from kmap_scenarios.dsl.syntax import nodes as n
from kmap_scenarios.dsl.syntax.source import Source

_lines = itertools.count(1)


def sp() -> n.Span:
    line = next(_lines)
    return n.Span(line, 1, line, 2)


def name(id: str) -> n.Name:
    return n.Name(id, sp())


def lit(v: int) -> n.IntLit:
    return n.IntLit(v, sp())


def text(s: str) -> n.StrLit:
    return n.StrLit(s, sp())


def call(func: str, *args: n.Expr) -> n.Call:
    s = sp()
    return n.Call(func, tuple(args), s, s)


def index(base: n.Expr, i: n.Expr | int) -> n.Index:
    return n.Index(base, lit(i) if isinstance(i, int) else i, sp())


def addr(x: str) -> n.AddrOf:
    return n.AddrOf(name(x), sp())


def deref(x: n.Expr) -> n.Deref:
    return n.Deref(x, sp())


def unary(op: str, x: n.Expr) -> n.Unary:
    return n.Unary(op, x, sp())


def binary(op: str, a: n.Expr, b: n.Expr) -> n.Binary:
    return n.Binary(op, a, b, sp())


def member(obj: str, field: str) -> n.Member:
    s = sp()
    return n.Member(obj, field, s, s, s)


def var(ctype: str, id: str, init: n.Expr | None = None) -> n.VarDecl:
    s = sp()
    return n.VarDecl(ctype, id, init, s, s)


def assign(target: n.Expr, value: n.Expr, op: str = "=") -> n.Assign:
    return n.Assign(target, op, value, sp())


def incdec(target: n.Expr, op: str = "++") -> n.IncDec:
    return n.IncDec(target, op, sp())


def stmt(e: n.Expr) -> n.ExprStmt:
    return n.ExprStmt(e, sp())


def block(*stmts: n.Stmt) -> n.Block:
    return n.Block(tuple(stmts), sp())


def if_(cond: n.Expr, then: n.Block, orelse: n.Block | n.If | None = None) -> n.If:
    return n.If(cond, then, orelse, sp())


def while_(cond: n.Expr, *body: n.Stmt) -> n.While:
    return n.While(cond, block(*body), sp())


def for_(init: n.VarDecl | n.Assign | n.IncDec | None, cond: n.Expr | None,
         update: n.Assign | n.IncDec | None, *body: n.Stmt) -> n.For:
    return n.For(init, cond, update, block(*body), sp())


def task(id: str, *stmts: n.Stmt, cpu: int | None = 0, irq: bool = False) -> n.TaskDecl:
    s = sp()
    return n.TaskDecl(id, cpu, block(*stmts), irq, s, s, s if cpu is not None else None)


def page(id: str, alloc: n.Call | None = None, count: int | None = None) -> n.PageDecl:
    s = sp()
    return n.PageDecl(id, count, alloc or call("alloc_page", name("GFP_KERNEL")), s, s)


def gint(id: str, init: n.Expr | int = 0, percpu: bool = False) -> n.IntDecl:
    s = sp()
    return n.IntDecl(id, lit(init) if isinstance(init, int) else init, percpu, s, s)


def lock(id: str) -> n.LockDecl:
    s = sp()
    return n.LockDecl(id, s, s)


def config(**items: int | str) -> n.Config:
    out = []
    for key, value in items.items():
        s = sp()
        out.append(n.ConfigItem(key, value, s, s, s))
    return n.Config(tuple(out), sp())


def sched(*items: tuple[str, int | None, int | None] | str) -> n.Schedule:
    out = []
    for it in items:
        nm, steps, cpu = (it, None, None) if isinstance(it, str) else it
        out.append(n.ScheduleItem(nm, steps, cpu, sp()))
    return n.Schedule(tuple(out), sp())


def expect(quant: str, cond: n.Expr) -> n.Expect:
    return n.Expect(quant, cond, sp())


def file(*decls: n.Decl, cfg: n.Config | None = None, expects: tuple[n.Expect, ...] = (),
         schedules: tuple[n.Schedule, ...] = (), scenario: str | None = None,
         path: str = "tests/t.kmap") -> n.File:
    sc = n.Scenario(scenario, sp()) if scenario is not None else None
    return n.File(path, sc, cfg, tuple(decls), schedules, expects)


def source_of(f: n.File) -> Source:
    return Source(f.path, "")
