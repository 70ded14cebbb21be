"""AST of a .kmap file: one frozen dataclass per grammar alternative.

Every node carries a ``Span`` (1-based line and column of its first and last
character, end exclusive) so that every later stage can point at the source.
The tree builder (dsl/syntax/build.py) only builds these nodes; it never validates.
Validation lives in dsl/check/checker.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """A source range: 1-based line/column, end exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int


NO_SPAN = Span(0, 0, 0, 0)


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class IntLit:
    value: int
    span: Span


@dataclass(frozen=True, slots=True)
class StrLit:
    value: str  # escapes already resolved
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True, slots=True)
class Index:
    """``base[index]``: a byte load through a pointer, a page-array element,
    or (in expectations) a page's memory."""

    base: Expr
    index: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Member:
    """``task.var`` (expectations only)."""

    obj: str
    field: str
    span: Span
    obj_span: Span
    field_span: Span


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Expr, ...]
    span: Span
    func_span: Span


@dataclass(frozen=True, slots=True)
class AddrOf:
    """``&NAME`` (spinlock arguments)."""

    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Deref:
    """``*expr``: the same as ``expr[0]``."""

    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # '-', '!', '~'
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # '*','/','%','+','-','<<','>>','&','^','|','<','<=','>','>=','==','!=','&&','||'
    left: Expr
    right: Expr
    span: Span


Expr = IntLit | StrLit | Name | Index | Member | Call | AddrOf | Deref | Unary | Binary


# ----------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class VarDecl:
    """``CTYPE NAME [= init];`` with CTYPE one of TYPES below."""

    ctype: str
    name: str
    init: Expr | None
    span: Span
    name_span: Span


# Declaration type prefixes, spelled canonically (one space, '*' attached).
TYPES = ("void *", "int", "u8", "u16", "u32", "unsigned long", "unsigned int",
         "long", "size_t", "struct page *", "char *", "u8 *", "unsigned long *",
         "struct folio *")


@dataclass(frozen=True, slots=True)
class Assign:
    """``target OP value;`` with OP one of '=', '+=', '-=', '*=', '/=', '%=',
    '&=', '|=', '^=', '<<=', '>>='. target is a Name, Index or Deref."""

    target: Expr
    op: str
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class IncDec:
    """``target++`` / ``target--`` (statement or for-update)."""

    target: Expr
    op: str  # '++' or '--'
    span: Span


@dataclass(frozen=True, slots=True)
class ExprStmt:
    expr: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Block:
    stmts: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class If:
    cond: Expr
    then: Block
    orelse: Block | If | None
    span: Span


@dataclass(frozen=True, slots=True)
class While:
    cond: Expr
    body: Block
    span: Span


@dataclass(frozen=True, slots=True)
class For:
    init: VarDecl | Assign | IncDec | None
    cond: Expr | None
    update: Assign | IncDec | None
    body: Block
    span: Span


Stmt = VarDecl | Assign | IncDec | ExprStmt | Block | If | While | For


# ------------------------------------------------------------------ top level


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class ConfigItem:
    """``KEY = VALUE;`` VALUE is an int or an identifier (y, n, arm, vivt...)."""

    key: str
    value: int | str
    span: Span
    key_span: Span
    value_span: Span


@dataclass(frozen=True, slots=True)
class Config:
    items: tuple[ConfigItem, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class PageDecl:
    """``page NAME[COUNT] = ALLOC(ARGS);``; count None for a single page.

    alloc is the allocator call: alloc_page(GFP), alloc_devmap_page(),
    alloc_user_page(present|not_present)."""

    name: str
    count: int | None
    alloc: Call
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class IntDecl:
    """``int NAME = EXPR;`` or ``percpu int NAME = EXPR;`` at top level."""

    name: str
    init: Expr
    percpu: bool
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class LockDecl:
    """``spinlock_t NAME;``, or a mutex: ``struct mutex NAME;`` /
    ``DEFINE_MUTEX(NAME);`` (kind "mutex")."""

    name: str
    span: Span
    name_span: Span
    kind: str = "spinlock_t"


@dataclass(frozen=True, slots=True)
class TaskDecl:
    """``task NAME [on cpuN] { ... }``, ``irq NAME on cpuN { ... }`` or
    ``softirq NAME on cpuN { ... }`` (a handler too: is_irq and is_softirq)."""

    name: str
    cpu: int | None
    body: Block
    is_irq: bool
    span: Span
    name_span: Span
    cpu_span: Span | None
    is_softirq: bool = False

    @property
    def kind(self) -> str:
        """'task', 'irq' or 'softirq', for messages."""
        return "softirq" if self.is_softirq else "irq" if self.is_irq else "task"


@dataclass(frozen=True, slots=True)
class ScheduleItem:
    """``NAME``, ``NAME:N``, ``NAME@cpuC`` or ``NAME@cpuC:N``."""

    name: str
    steps: int | None
    cpu: int | None
    span: Span


@dataclass(frozen=True, slots=True)
class Schedule:
    items: tuple[ScheduleItem, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Expect:
    quant: str  # 'always' | 'sometimes' | 'never'
    cond: Expr
    span: Span


Decl = PageDecl | IntDecl | LockDecl | TaskDecl


@dataclass(frozen=True, slots=True)
class File:
    path: str
    scenario: Scenario | None
    config: Config | None
    decls: tuple[Decl, ...]  # in source order
    schedules: tuple[Schedule, ...]
    expects: tuple[Expect, ...]
