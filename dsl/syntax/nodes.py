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


@dataclass(frozen=True, slots=True)
class Ternary:
    """``cond ? then : orelse``: only the chosen operand is evaluated."""

    cond: Expr
    then: Expr
    orelse: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Cast:
    """``(TYPE)operand``: the value converted to TYPE (``void``: discarded)."""

    ctype: str          # a TYPES entry or "void"
    operand: Expr
    span: Span
    user: bool = False  # `(void __user *)x`


@dataclass(frozen=True, slots=True)
class SizeofType:
    """``sizeof(TYPE)``."""

    ctype: str
    span: Span


@dataclass(frozen=True, slots=True)
class SizeofExpr:
    """``sizeof x`` / ``sizeof(x)``: the size of a variable's type (not evaluated)."""

    operand: Expr
    span: Span


Expr = (IntLit | StrLit | Name | Index | Member | Call | AddrOf | Deref | Unary | Binary
        | Ternary | Cast | SizeofType | SizeofExpr)


# ----------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class VarDecl:
    """``[const] CTYPE NAME [= init];`` with CTYPE one of TYPES below; a
    pointer may be ``__user`` (a user-space address)."""

    ctype: str
    name: str
    init: Expr | None
    span: Span
    name_span: Span
    const: bool = False
    user: bool = False


@dataclass(frozen=True, slots=True)
class DeclList:
    """``CTYPE a = 1, b;``: several declarations in one statement (two or
    more; one is a plain VarDecl)."""

    decls: tuple[VarDecl, ...]
    span: Span


# Declaration types, spelled canonically (one space, ' *' for a pointer;
# `unsigned` alone is `unsigned int`, `long int` is `long`, ...). The
# qualifiers `const` and `__user` are kept apart (VarDecl.const, .user).
SCALAR_TYPES = ("int", "long", "short", "char", "bool", "u8", "u16", "u32", "u64",
                "s8", "s16", "s32", "s64", "size_t", "ssize_t", "dma_addr_t", "gfp_t",
                "pgoff_t", "loff_t", "unsigned int", "unsigned long", "unsigned char",
                "unsigned short", "long long", "unsigned long long")
POINTER_TYPES = ("void *", "char *", "u8 *", "unsigned char *", "unsigned long *",
                 "struct page *", "struct folio *")
TYPES = SCALAR_TYPES + POINTER_TYPES


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
    init: VarDecl | DeclList | Assign | IncDec | None
    cond: Expr | None
    update: Assign | IncDec | None
    body: Block
    span: Span


@dataclass(frozen=True, slots=True)
class DoWhile:
    body: Block
    cond: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Case:
    """``case VALUE:`` directly in a switch body."""

    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Default:
    """``default:`` directly in a switch body."""

    span: Span


@dataclass(frozen=True, slots=True)
class Switch:
    """``switch (cond) { ... }``: its body's statements with the case and
    default labels among them, in source order (C's fallthrough)."""

    cond: Expr
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Return:
    value: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class Goto:
    label: str
    span: Span
    label_span: Span


@dataclass(frozen=True, slots=True)
class Break:
    span: Span


@dataclass(frozen=True, slots=True)
class Continue:
    span: Span


@dataclass(frozen=True, slots=True)
class Label:
    """``NAME:``: a goto target, before the statement it labels."""

    name: str
    span: Span


Stmt = (VarDecl | DeclList | Assign | IncDec | ExprStmt | Block | If | While | For | DoWhile
        | Switch | Case | Default | Return | Goto | Break | Continue | Label)


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
class Param:
    """``[const] CTYPE NAME`` in a function's parameter list."""

    ctype: str
    name: str
    span: Span
    name_span: Span
    const: bool = False
    user: bool = False


@dataclass(frozen=True, slots=True)
class FuncDef:
    """``[static] TYPE NAME(PARAMS) { ... }``. ``ret`` is a TYPES entry or
    "void"; ``params`` is None for an empty ``()`` (no prototype)."""

    name: str
    ret: str
    params: tuple[Param, ...] | None
    body: Block
    static: bool
    span: Span
    name_span: Span
    ret_user: bool = False


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


Decl = PageDecl | IntDecl | LockDecl | TaskDecl | FuncDef


@dataclass(frozen=True, slots=True)
class File:
    path: str
    scenario: Scenario | None
    config: Config | None
    decls: tuple[Decl, ...]  # in source order
    schedules: tuple[Schedule, ...]
    expects: tuple[Expect, ...]
