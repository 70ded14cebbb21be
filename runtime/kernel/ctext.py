"""C text of an expression: the one printer of every stage that shows one.

The checker's messages print source expressions (dsl/check/symbols.py
``unparse``, for nodes without source text), outcome labels and the REPL
print lowered ones (runtime/search/outcome.py ``describe``). Both go
through ``c_text`` with a *view* that says what each node is: an operator
with its operands, an index, a call, or a leaf's text. The printer puts in
the parentheses C's precedence and left associativity need, and no others:
``(t.x + 1) * 2``, ``a - (b - c)``, ``a - b - c``.

It works with an explicit stack, so a chain of 10,000 operands (which the
front end accepts: a chain is not nesting) prints without recursion.

``value_text`` is the one printer of a value (a trace's return value, the
final state of `kmap run`, the outcomes of `kmap check`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

# C's binary operators, loosest first (K&R's table; the assignment and
# comma operators are statements here).
PRECEDENCE = {"||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6,
              "<": 7, "<=": 7, ">": 7, ">=": 7, "<<": 8, ">>": 8,
              "+": 9, "-": 9, "*": 10, "/": 10, "%": 10}
CONDITIONAL = 0  # ?: binds looser than every binary operator (as loose as the root)
PREFIX = 11    # - ! ~ * & (and casts) bind tighter than every binary operator
POSTFIX = 12   # a[i] and f(x) tighter still


@dataclass(frozen=True, slots=True)
class Leaf:
    """A name, a constant, ``t.x``: printed as it is."""

    text: str


@dataclass(frozen=True, slots=True)
class Infix:
    op: str
    left: object
    right: object


@dataclass(frozen=True, slots=True)
class Prefix:
    op: str
    operand: object


@dataclass(frozen=True, slots=True)
class Subscript:
    base: object
    index: object


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Conditional:
    """``cond ? then : orelse``: looser than every binary operator, and
    right-associative (`a ? b : c ? d : e`)."""

    cond: object
    then: object
    orelse: object


Shape = Union[Leaf, Infix, Prefix, Subscript, Call, Conditional]
View = Callable[[object], Shape]


def c_text(root: object, view: View) -> str:
    """The C text of ``root``, whose nodes ``view`` describes."""
    out: list[str] = []
    # work items: a node with the least precedence it may have unparenthesised,
    # or a piece of text
    stack: list[tuple[object, int] | str] = [(root, 0)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _emit(out, item)
            continue
        node, least = item
        shape = view(node)
        if isinstance(shape, Leaf):
            _emit(out, shape.text)
            continue
        parts: list[tuple[object, int] | str]
        if isinstance(shape, Infix):
            own = PRECEDENCE[shape.op]
            # left associative: an operand of the same level on the left
            # needs no parentheses, on the right it does
            parts = [(shape.left, own), f" {shape.op} ", (shape.right, own + 1)]
        elif isinstance(shape, Prefix):
            own = PREFIX
            parts = [shape.op, (shape.operand, PREFIX)]
        elif isinstance(shape, Subscript):
            own = POSTFIX
            parts = [(shape.base, POSTFIX), "[", (shape.index, 0), "]"]
        elif isinstance(shape, Conditional):
            own = CONDITIONAL
            parts = [(shape.cond, CONDITIONAL + 1), " ? ", (shape.then, 0), " : ",
                     (shape.orelse, CONDITIONAL)]
        else:
            own = POSTFIX
            parts = [f"{shape.func}("]
            for k, arg in enumerate(shape.args):
                parts += [", "] if k else []
                parts.append((arg, 0))
            parts.append(")")
        if own < least:
            parts = ["(", *parts, ")"]
        stack.extend(reversed(parts))
    return "".join(out)


def _emit(out: list[str], text: str) -> None:
    """Append text; a space keeps `-` `-x` from reading as `--x`."""
    if out and out[-1] == "-" and text.startswith("-"):
        out.append(" ")
    out.append(text)


# Every address of the model is at least this (arm's first user page,
# 0x10000; kernel addresses and struct pages are higher), and the counts,
# sizes, indices and errnos of a scenario stay below it. (A pfn is a
# number, not an address: a lowmem one, from 0x100 on x86, prints in
# decimal; the trace names pfns in hexadecimal itself.)
ADDRESS_FLOOR = 0x10000


def value_text(v: int, bits: int = 64) -> str:
    """A value as every text output shows it: decimal below 0x10000 (a
    count, a size, ``-14`` for -EFAULT as the kernel's %d prints it);
    from there on hexadecimal, an address, with a large negative word
    (an address kept in a signed int) as the unsigned word it is."""
    if -ADDRESS_FLOOR < v < ADDRESS_FLOOR:
        return str(v)
    return f"{v & ((1 << bits) - 1):#x}"
