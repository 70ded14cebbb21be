"""Expression evaluation with C semantics, in a step or on a final state.

Integers are Python ints; a destination narrows them to its C type
(runtime/kernel/machine.py). `/` truncates toward zero and `%` takes the dividend's
sign, as in C; comparisons and `!`, `&&`, `||` give 1 or 0. A division by
zero is the kernel's divide-error oops.
"""

from __future__ import annotations

from typing import Callable

from kmap_scenarios.runtime.kernel import program as ir
from kmap_scenarios.runtime.kernel.memory import load_byte, page_of_pointer, page_pointer
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.tx import Tx

# A built-in inside an expression: runtime/kernel/builtins.py evaluates its
# arguments here, so this module cannot import it back; builtins hands its
# dispatcher over when it is imported (runtime/kernel/machine.py imports it), as
# a kernel subsystem registers its ops.
_call_value: Callable[[Tx, str, tuple[ir.Expr, ...]], int] | None = None


def use_builtins(call_value: Callable[[Tx, str, tuple[ir.Expr, ...]], int]) -> None:
    """Where eval_expr finds the built-ins (runtime/kernel/builtins.py)."""
    global _call_value
    _call_value = call_value


def word(bits: int, value: int) -> int:
    """Globals and percpu ints are signed machine words, so that a pointer
    stored in one by a task survives for another (docs/language.md)."""
    v = value & ((1 << bits) - 1)
    return v - (1 << bits) if v >= 1 << (bits - 1) else v


def convert(value: int, width: int, signed: bool) -> int:
    """A value converted to a C type of ``width`` bits, as a store or a cast
    does: truncated, then sign-extended if signed; width 1 is bool (C's
    _Bool: any non-zero value is 1)."""
    if width == 1:
        return int(value != 0)
    v = value & ((1 << width) - 1)
    if signed and v >= 1 << (width - 1):
        v -= 1 << width
    return v


def c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def c_mod(a: int, b: int) -> int:
    return a - b * c_div(a, b)


def binary(op: str, a: int, b: int) -> int | None:
    """Apply a C binary operator; None for a division by zero."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op in ("/", "%"):
        if b == 0:
            return None
        return c_div(a, b) if op == "/" else c_mod(a, b)
    if op == "<<":
        return a << (b & 63)
    if op == ">>":
        return a >> (b & 63)
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    return int({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b,
                "==": a == b, "!=": a != b}[op])


def unary(op: str, a: int) -> int:
    if op == "-":
        return -a
    if op == "!":
        return int(not a)
    return ~a


def eval_expr(tx: Tx, e: ir.Expr) -> int:
    """Evaluate in the executing context (loads go through the access path)."""
    t = type(e)
    if t is ir.Const:
        return e.value  # type: ignore[union-attr]
    if t is ir.Local:
        return tx.ctxs[tx.ci].locals[e.slot]  # type: ignore[union-attr]
    if t is ir.Global:
        return tx.globals[e.index]  # type: ignore[union-attr, index]
    if t is ir.Binary:
        return _binary(tx, e)  # type: ignore[arg-type]
    if t is ir.LoadByte:
        return load_byte(tx, eval_expr(tx, e.addr))  # type: ignore[union-attr]
    if t is ir.Unary:
        return unary(e.op, eval_expr(tx, e.operand))  # type: ignore[union-attr]
    if t is ir.PageRef:
        return page_pointer(tx.program, e.page)  # type: ignore[union-attr, arg-type]
    if t is ir.PageElem:
        i = eval_expr(tx, e.index)  # type: ignore[union-attr, arg-type]
        if not 0 <= i < e.count:  # type: ignore[union-attr]
            tx.bug(R.BAD_PAGE, i)
        return page_pointer(tx.program, e.first + i)  # type: ignore[union-attr]
    if t is ir.CallExpr:
        if _call_value is None:
            raise RuntimeError("a built-in in an expression, but kmap_scenarios.runtime.kernel.builtins is not loaded")
        return _call_value(tx, e.name, e.args)  # type: ignore[union-attr]
    if t is ir.PercpuVar:
        return e.index  # type: ignore[union-attr, return-value]
    if t is ir.LockArg:
        return e.index  # type: ignore[union-attr, return-value]
    if isinstance(e, ir.Cond):
        return eval_expr(tx, e.then if eval_expr(tx, e.cond) else e.orelse)
    if isinstance(e, ir.Conv):
        return convert(eval_expr(tx, e.operand), e.width, e.signed)
    raise TypeError(f"cannot evaluate {t.__name__} in a task")


def _binary(tx: Tx, e: ir.Binary) -> int:
    if type(e.left) is not ir.Binary:
        return _apply(tx, e, eval_expr(tx, e.left))
    # a chain, however long: its operators in turn, without recursion
    first, ops = ir.chain(e)
    value = eval_expr(tx, first)
    for op in ops:
        value = _apply(tx, op, value)
    return value


def _apply(tx: Tx, e: ir.Binary, a: int) -> int:
    """One binary operator, its left operand's value ``a``; the right one
    is evaluated only where C evaluates it."""
    if e.op == "&&":
        return int(bool(a) and bool(eval_expr(tx, e.right)))
    if e.op == "||":
        return int(bool(a) or bool(eval_expr(tx, e.right)))
    r = binary(e.op, a, eval_expr(tx, e.right))
    if r is None:
        tx.bug(R.DIVIDE)
        raise AssertionError("unreachable")
    return r


def page_arg(tx: Tx, value: int) -> int:
    """Decode a struct page pointer argument; a bad one oopses."""
    page = page_of_pointer(tx.program, value)
    if page is None:
        tx.bug(R.BAD_PAGE, value)
        raise AssertionError("unreachable")
    return page
