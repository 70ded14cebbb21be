"""Symbol tables, block scopes, C types and constant folding.

Shared by dsl/check/checker.py (which builds the tables and reports problems) and
dsl/lower/lower.py (which turns names into slots and indices). Nothing here
reports diagnostics: the checker turns ``NotConstant`` into E412 and friends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kmap_scenarios.dsl.syntax import names, nodes
from kmap_scenarios.dsl.syntax.source import Source
from kmap_scenarios.runtime.kernel import ctext

MAX_EXPR_DEPTH = 200   # the runtime evaluator recurses on expression trees
MAX_BLOCK_DEPTH = 50   # keeps the checker's and the lowering's recursion small
MAX_PAGES = 4096       # every page is part of every explored state

# Functions whose value is a struct page * (or struct folio *), not a kernel
# virtual address.
PAGE_RETURNING = frozenset({"kmap_to_page", "page_folio", "folio_page"})
FOLIO_RETURNING = frozenset({"page_folio"})

# Built-ins lowered to a Check instruction when they are a whole statement.
CHECK_KINDS = ("assert", "BUG_ON", "WARN_ON", "WARN_ON_ONCE")

PAGE_TYPE = "struct page *"
FOLIO_TYPE = "struct folio *"     # an order-0 folio: its page's own pointer
PAGE_TYPES = frozenset({PAGE_TYPE, FOLIO_TYPE})
# Pointer types that hold addresses (struct page * and struct folio * hold pages).
POINTER_TYPES = frozenset(t for t in nodes.POINTER_TYPES if t not in PAGE_TYPES)



# ------------------------------------------------------------------ tables


@dataclass(frozen=True)
class PageSym:
    """A page or page array: program pages ``first`` .. ``first+size-1``."""

    name: str
    first: int
    count: int | None      # None: a single page, not an array
    alloc: str             # one of names.ALLOCATORS
    gfp: int               # alloc_page's GFP value; 0 otherwise
    present: bool          # alloc_user_page(present); True otherwise
    decl: nodes.PageDecl

    @property
    def size(self) -> int:
        return 1 if self.count is None else self.count


@dataclass(frozen=True)
class VarSym:
    """A top-level ``int`` or ``percpu int`` with its folded initial value."""

    name: str
    index: int
    value: int
    decl: nodes.IntDecl


@dataclass(frozen=True)
class ContextSym:
    """A task or irq; ``outer`` are its outermost block's locals in order."""

    name: str
    index: int
    decl: nodes.TaskDecl
    outer: tuple[str, ...]

    def ctype(self, name: str) -> str | None:
        """The C type of an outermost-block local (its first declaration)."""
        return next((d.ctype for d in outer_decls(self.decl.body) if d.name == name), None)


@dataclass(frozen=True)
class FuncSym:
    """A function definition: its index in Program.functions."""

    name: str
    index: int
    decl: nodes.FuncDef

    @property
    def ret(self) -> str:
        return self.decl.ret

    @property
    def params(self) -> tuple[nodes.Param, ...]:
        return self.decl.params or ()

    def signature(self, source: Source) -> str:
        """'(const void __user *from, size_t n)' as written."""
        if not self.params:
            return "(void)"
        return "(" + ", ".join(source_text(source, p.span) or p.name
                               for p in self.params) + ")"


@dataclass
class Symbols:
    """Every top-level name, by kind, with the indices the Program uses."""

    pages: dict[str, PageSym] = field(default_factory=dict)
    globals: dict[str, VarSym] = field(default_factory=dict)
    percpus: dict[str, VarSym] = field(default_factory=dict)
    locks: dict[str, int] = field(default_factory=dict)
    mutexes: set[str] = field(default_factory=set)     # the locks that are struct mutex
    contexts: dict[str, ContextSym] = field(default_factory=dict)
    functions: dict[str, FuncSym] = field(default_factory=dict)
    page_total: int = 0

    def kind(self, name: str) -> str | None:
        """What a top-level name is, in words, or None if undeclared."""
        if name in self.pages:
            return "page array" if self.pages[name].count is not None else "page"
        if name in self.globals:
            return "global int"
        if name in self.percpus:
            return "per-CPU variable"
        if name in self.locks:
            return "mutex" if name in self.mutexes else "spinlock"
        if name in self.contexts:
            return self.contexts[name].decl.kind
        if name in self.functions:
            return "function"
        return None

    def all_names(self) -> list[str]:
        return [*self.pages, *self.globals, *self.percpus, *self.locks, *self.contexts,
                *self.functions]


def outer_locals(body: nodes.Block) -> tuple[str, ...]:
    """Names declared directly in a body's outermost block (task.var)."""
    return tuple(d.name for d in outer_decls(body))


def outer_decls(body: nodes.Block) -> list[nodes.VarDecl]:
    """The declarations directly in a body's outermost block, in order."""
    out: list[nodes.VarDecl] = []
    for s in body.stmts:
        if isinstance(s, nodes.VarDecl):
            out.append(s)
        elif isinstance(s, nodes.DeclList):
            out.extend(s.decls)
    return out


# ------------------------------------------------------------------ scopes


@dataclass(frozen=True)
class LocalSym:
    name: str
    slot: int
    ctype: str
    span: nodes.Span
    const: bool = False
    user: bool = False      # a `__user` pointer: it holds a user-space address
    init: nodes.Expr | None = None   # the declaration's initialiser, for hints

    @property
    def is_page(self) -> bool:
        return self.ctype in PAGE_TYPES


class Scope:
    """C block scopes of one body; every declaration gets a fresh slot.

    Fresh slots (never reused by a later sibling block) keep the slot of a
    name stable for traces and ``task.var``."""

    def __init__(self) -> None:
        self._frames: list[dict[str, LocalSym]] = []
        self.slot_names: list[str] = []

    @property
    def depth(self) -> int:
        return len(self._frames)

    def push(self) -> None:
        self._frames.append({})

    def pop(self) -> None:
        self._frames.pop()

    def in_block(self, name: str) -> LocalSym | None:
        """A declaration of ``name`` in the innermost block, if any."""
        return self._frames[-1].get(name) if self._frames else None

    def declare(self, name: str, ctype: str, span: nodes.Span, const: bool = False,
                user: bool = False, init: nodes.Expr | None = None) -> LocalSym:
        sym = LocalSym(name, len(self.slot_names), ctype, span, const, user, init)
        self.slot_names.append(name)
        self._frames[-1][name] = sym
        return sym

    def temporary(self, what: str) -> int:
        """A hidden slot for a call's value inside an expression (lowering);
        its name, which no identifier can have, shows what it holds."""
        self.slot_names.append(f"({what})")
        return len(self.slot_names) - 1

    def lookup(self, name: str) -> LocalSym | None:
        for frame in reversed(self._frames):
            if name in frame:
                return frame[name]
        return None

    def visible(self) -> list[str]:
        return sorted({n for frame in self._frames for n in frame})

    def copy(self) -> Scope:
        """An independent copy: the REPL checks and lowers each statement
        against the scope its task had after the ones before
        (dsl/lower/append.py)."""
        new = Scope()
        new._frames = [dict(frame) for frame in self._frames]
        new.slot_names = list(self.slot_names)
        return new


# (bits, signed) of the types whose width does not depend on the arch.
_FIXED = {"int": (32, True), "short": (16, True), "bool": (1, False),
          "u8": (8, False), "u16": (16, False), "u32": (32, False), "u64": (64, False),
          "s8": (8, True), "s16": (16, True), "s32": (32, True), "s64": (64, True),
          "unsigned int": (32, False), "unsigned short": (16, False),
          "unsigned char": (8, False), "gfp_t": (32, False), "loff_t": (64, True),
          "long long": (64, True), "unsigned long long": (64, False)}
# Machine-word types that are signed; the other word types (unsigned long,
# size_t, dma_addr_t, pgoff_t and every pointer) are unsigned.
_SIGNED_WORDS = frozenset({"long", "ssize_t"})


def ctype_width(ctype: str, bits: int, arch: str = "x86") -> tuple[int, bool]:
    """(width in bits, signed) of a value of C type ``ctype``; width 1 is
    bool (C's _Bool: any non-zero value converts to 1).

    int is 32-bit and long the arch's word, both signed; `char` is signed on
    x86 and unsigned on arm (v6.1 builds arm with the ABI's unsigned char;
    -funsigned-char everywhere came in v6.2). dma_addr_t is the word:
    CONFIG_ARCH_DMA_ADDR_T_64BIT is only set for 64BIT or a 64-bit
    phys_addr_t (PAE, LPAE), which the modelled configurations do not have."""
    if ctype in _FIXED:
        return _FIXED[ctype]
    if ctype == "char":
        return 8, not arch.startswith("arm")
    return bits, ctype in _SIGNED_WORDS


def sizeof(ctype: str, bits: int) -> int:
    """sizeof(ctype) in bytes (bool is 1, as in the kernel's ABIs)."""
    width, _ = ctype_width(ctype, bits)
    return max(width, 8) // 8


# --------------------------------------------------------- constant folding


class NotConstant(Exception):
    """An initialiser that cannot be folded; ``node`` is the culprit."""

    def __init__(self, node: nodes.Expr, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


def c_unary(op: str, a: int) -> int:
    if op == "-":
        return -a
    if op == "!":
        return int(a == 0)
    return ~a


def c_binary(op: str, a: int, b: int) -> int:
    """A C binary operator on mathematical integers.

    ``/`` truncates toward zero and ``%`` takes the dividend's sign (C99
    6.5.5); comparisons and logic give 1 or 0. Raises ZeroDivisionError and
    ValueError (negative shift) as C leaves those undefined."""
    if op in ("/", "%"):
        if b == 0:
            raise ZeroDivisionError(op)
        q = abs(a) // abs(b)
        q = q if (a < 0) == (b < 0) else -q
        return q if op == "/" else a - b * q
    if op in ("<<", ">>"):
        if b < 0:
            raise ValueError("negative shift count")
        return a << b if op == "<<" else a >> b
    simple: dict[str, Callable[[int, int], int]] = {
        "*": lambda x, y: x * y, "+": lambda x, y: x + y, "-": lambda x, y: x - y,
        "&": lambda x, y: x & y, "^": lambda x, y: x ^ y, "|": lambda x, y: x | y,
        "<": lambda x, y: int(x < y), "<=": lambda x, y: int(x <= y),
        ">": lambda x, y: int(x > y), ">=": lambda x, y: int(x >= y),
        "==": lambda x, y: int(x == y), "!=": lambda x, y: int(x != y),
        "&&": lambda x, y: int(bool(x) and bool(y)),
        "||": lambda x, y: int(bool(x) or bool(y)),
    }
    return simple[op](a, b)


@dataclass(frozen=True)
class Word:
    """What folding needs of the arch: its word size and name (casts,
    sizeof)."""

    bits: int = 32
    arch: str = "x86"


def fold(expr: nodes.Expr, lookup: Callable[[nodes.Name], int], word: Word = Word()) -> int:
    """The value of a constant expression; ``lookup`` resolves names.

    Raises NotConstant for anything but integers, names, unary and binary
    operators, `?:`, casts to integer types and sizeof of a type, a
    division by zero or a negative shift."""
    if isinstance(expr, nodes.IntLit):
        return expr.value
    if isinstance(expr, nodes.Name):
        return lookup(expr)
    if isinstance(expr, nodes.Unary):
        return c_unary(expr.op, fold(expr.operand, lookup, word))
    if isinstance(expr, nodes.Ternary):
        chosen = expr.then if fold(expr.cond, lookup, word) else expr.orelse
        return fold(chosen, lookup, word)
    if isinstance(expr, nodes.SizeofType):
        return sizeof(expr.ctype, word.bits)
    if isinstance(expr, nodes.Cast) and expr.ctype != "void" and expr.ctype not in PAGE_TYPES:
        return wrap(fold(expr.operand, lookup, word), *conv(expr.ctype, word))
    if isinstance(expr, nodes.Binary):
        first, ops = chain(expr)
        a = fold(first, lookup, word)
        for op in ops:
            a = _fold_binary(op, a, lookup, word)
        return a
    raise NotConstant(expr, "not a constant expression")


def _fold_binary(expr: nodes.Binary, a: int, lookup: Callable[[nodes.Name], int],
                 word: Word) -> int:
    """One operator of a constant chain, its left operand's value ``a``."""
    # && and || do not evaluate their right operand when C would not.
    if expr.op == "&&" and not a or expr.op == "||" and a:
        return int(expr.op == "||")
    b = fold(expr.right, lookup, word)
    try:
        return c_binary(expr.op, a, b)
    except ZeroDivisionError:
        raise NotConstant(expr, "division by zero in a constant expression") from None
    except ValueError:
        raise NotConstant(expr, "negative shift count in a constant expression") from None


def conv(ctype: str, word: Word) -> tuple[int, bool]:
    """ctype_width() for folding."""
    return ctype_width(ctype, word.bits, word.arch)


def wrap(value: int, width: int, signed: bool) -> int:
    """Truncate to ``width`` bits as a C conversion does (width 1: bool)."""
    if width == 1:
        return int(value != 0)
    value &= (1 << width) - 1
    if signed and value >> (width - 1):
        value -= 1 << width
    return value


def constant_lookup(int_value: Callable[[str], int]) -> Callable[[nodes.Name], int]:
    """A fold() lookup for kernel constants and integer config values."""
    def lookup(name: nodes.Name) -> int:
        if name.id in names.CONSTANTS:
            return names.CONSTANTS[name.id]
        if name.id in names.CONFIG_NAMES:
            return int_value(name.id)
        raise NotConstant(name, f"`{name.id}` is not a constant")
    return lookup


def try_fold(expr: nodes.Expr, int_value: Callable[[str], int], word: Word = Word()) -> int | None:
    """fold() over constants and config values, or None if not constant."""
    try:
        return fold(expr, constant_lookup(int_value), word)
    except NotConstant:
        return None


def expr_depth(expr: nodes.Expr) -> int:
    """Nesting depth of an expression tree, computed without recursion.

    The left operand of a binary operator is at the operator's level (a
    chain `a + b + c` is one level): every stage walks such a chain with a
    loop (``chain``), so only the other nesting costs recursion."""
    deepest = 0
    stack: list[tuple[nodes.Expr, int]] = [(expr, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if isinstance(node, nodes.Binary):
            stack += ((node.left, d), (node.right, d + 1))
        else:
            stack.extend((child, d + 1) for child in children(node))
    return deepest


def chain(expr: nodes.Binary) -> tuple[nodes.Expr, list[nodes.Binary]]:
    """A chain of binary operators as its first operand and its operators
    in the order they apply: `a - b + c` is (a, [a - b, (a - b) + c]). The
    stages walk a chain with this instead of recursing down its left
    operands, however long it is."""
    ops: list[nodes.Binary] = []
    node: nodes.Expr = expr
    while isinstance(node, nodes.Binary):
        ops.append(node)
        node = node.left
    ops.reverse()
    return node, ops


def walk(expr: nodes.Expr, into_calls: bool = True) -> list[nodes.Expr]:
    """Every node of an expression tree, parents first, without recursion."""
    out: list[nodes.Expr] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        out.append(node)
        if into_calls or not isinstance(node, nodes.Call):
            stack.extend(reversed(children(node)))
    return out


def children(expr: nodes.Expr) -> tuple[nodes.Expr, ...]:
    """The operands of an expression (sizeof's too, which is never evaluated)."""
    if isinstance(expr, nodes.Index):
        return (expr.base, expr.index)
    if isinstance(expr, nodes.Call):
        return expr.args
    if isinstance(expr, (nodes.AddrOf, nodes.Deref, nodes.Unary)):
        return (expr.operand,)
    if isinstance(expr, nodes.Binary):
        return (expr.left, expr.right)
    if isinstance(expr, nodes.Ternary):
        return (expr.cond, expr.then, expr.orelse)
    if isinstance(expr, (nodes.Cast, nodes.SizeofExpr)):
        return (expr.operand,)
    return ()


# ------------------------------------------------------------------- text


def source_text(source: Source, span: nodes.Span) -> str | None:
    """The exact text under a span; lines joined by one space; None if unknown."""
    if span.line <= 0 or span.end_line < span.line:
        return None
    if span.line == span.end_line:
        text = source.line(span.line)[span.col - 1:span.end_col - 1]
    else:
        parts = [source.line(span.line)[span.col - 1:]]
        parts += [source.line(n) for n in range(span.line + 1, span.end_line)]
        parts.append(source.line(span.end_line)[:span.end_col - 1])
        text = " ".join(p.strip() for p in parts)
    return text.strip() or None


def unparse(expr: nodes.Expr) -> str:
    """C text of an expression (for nodes built without source positions),
    by the one printer of runtime/kernel/ctext.py."""
    return ctext.c_text(expr, _shape)


def _shape(node: object) -> ctext.Shape:
    """What a source expression node is, for the printer."""
    if isinstance(node, nodes.IntLit):
        return ctext.Leaf(str(node.value))
    if isinstance(node, nodes.StrLit):
        return ctext.Leaf('"' + node.value.replace("\\", "\\\\").replace('"', '\\"') + '"')
    if isinstance(node, nodes.Name):
        return ctext.Leaf(node.id)
    if isinstance(node, nodes.Member):
        return ctext.Leaf(f"{node.obj}.{node.field}")
    if isinstance(node, nodes.Index):
        return ctext.Subscript(node.base, node.index)
    if isinstance(node, nodes.Call):
        return ctext.Call(node.func, node.args)
    if isinstance(node, nodes.Binary):
        return ctext.Infix(node.op, node.left, node.right)
    if isinstance(node, nodes.AddrOf):
        return ctext.Prefix("&", node.operand)
    if isinstance(node, nodes.Deref):
        return ctext.Prefix("*", node.operand)
    if isinstance(node, nodes.Ternary):
        return ctext.Conditional(node.cond, node.then, node.orelse)
    if isinstance(node, nodes.Cast):
        ty = node.ctype.replace(" *", " __user *") if node.user else node.ctype
        return ctext.Prefix(f"({ty})", node.operand)
    if isinstance(node, nodes.SizeofType):
        return ctext.Leaf(f"sizeof({node.ctype})")
    if isinstance(node, nodes.SizeofExpr):
        return ctext.Call("sizeof", (node.operand,))
    assert isinstance(node, nodes.Unary)
    return ctext.Prefix(node.op, node.operand)


def text_of(source: Source, expr: nodes.Expr) -> str:
    """An expression's source text, or its unparsed form without positions."""
    return source_text(source, expr.span) or unparse(expr)
