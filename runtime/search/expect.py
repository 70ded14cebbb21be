"""Expectations: conditions over a final state, and their verdicts.

A condition sees page memory (``P[off]``), globals, ``per_cpu``, task
locals, ``pkmap_count``/``page_address``/``PageHighMem``/``page_to_pfn``,
and report kinds as booleans, optionally with a message substring
(docs/language.md "Expectations"). ``always``/``sometimes``/``never`` quantify
over executions: over one under ``kmap run``, over all under ``kmap check``.
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import program as ir
from kmap_scenarios.runtime.kernel.evaluate import binary, convert, unary
from kmap_scenarios.runtime.kernel.memory import page_address, page_of_pointer, page_pointer
from kmap_scenarios.runtime.kernel.program import PageKind, Program
from kmap_scenarios.runtime.kernel.reports import Kind, R, kind_of, render
from kmap_scenarios.runtime.kernel.state import State, body_locals


class ExpectError(Exception):
    """An expectation cannot be evaluated (e.g. a division by zero)."""


def evaluate(program: Program, state: State, e: ir.Expr) -> int:
    """Evaluate a condition on a final state."""
    t = type(e)
    if t is ir.Const:
        return e.value  # type: ignore[union-attr]
    if t is ir.Global:
        return state.globals[e.index]  # type: ignore[union-attr, index]
    if t is ir.TaskLocal:
        return body_locals(state.ctxs[e.ctx])[e.slot]  # type: ignore[union-attr]
    if t is ir.PageRef:
        return page_pointer(program, e.page)  # type: ignore[union-attr, arg-type]
    if t is ir.PageElem:
        i = evaluate(program, state, e.index)  # type: ignore[union-attr, arg-type]
        if not 0 <= i < e.count:  # type: ignore[union-attr]
            raise ExpectError(f"page array index {i} out of range")
        return page_pointer(program, e.first + i)  # type: ignore[union-attr]
    if t is ir.PageMem:
        page = _page(program, evaluate(program, state, e.page))  # type: ignore[union-attr, arg-type]
        off = evaluate(program, state, e.offset)  # type: ignore[union-attr]
        if not 0 <= off < program.config.PAGE_SIZE:
            raise ExpectError(f"offset {off} is outside the page")
        return state.ram[page][off]
    if t is ir.ReportTest:
        return int(_has_report(program, state, e))  # type: ignore[arg-type]
    if t is ir.Unary:
        return unary(e.op, evaluate(program, state, e.operand))  # type: ignore[union-attr]
    if t is ir.Binary:
        return _binary(program, state, e)  # type: ignore[arg-type]
    if t is ir.CallExpr:
        return _call(program, state, e)  # type: ignore[arg-type]
    if t is ir.PercpuVar:
        return e.index  # type: ignore[union-attr, return-value]
    if isinstance(e, ir.Cond):
        return evaluate(program, state, e.then if evaluate(program, state, e.cond) else e.orelse)
    if isinstance(e, ir.Conv):
        return convert(evaluate(program, state, e.operand), e.width, e.signed)
    raise ExpectError(f"{t.__name__} cannot be used in an expectation")


def _binary(program: Program, state: State, e: ir.Binary) -> int:
    first, ops = ir.chain(e)   # however long, without recursion
    a = evaluate(program, state, first)
    for op in ops:
        a = _apply(program, state, op, a)
    return a


def _apply(program: Program, state: State, e: ir.Binary, a: int) -> int:
    """One binary operator, its left operand's value ``a``."""
    if e.op == "&&":
        return int(bool(a) and bool(evaluate(program, state, e.right)))
    if e.op == "||":
        return int(bool(a) or bool(evaluate(program, state, e.right)))
    r = binary(e.op, a, evaluate(program, state, e.right))
    if r is None:
        raise ExpectError("division by zero")
    return r


def _page(program: Program, ptr: int) -> int:
    page = page_of_pointer(program, ptr)
    if page is None:
        raise ExpectError(f"{ptr:#x} is not a page")
    return page


# Introspection on a final state: what the tasks left behind. Every task has
# returned, so there is no `current`; the value is the largest any task (or
# CPU, for interrupts) ended with, so that a leak in any of them shows.
LEFT_BEHIND = {
    "preempt_count": lambda p, s: max(_task_values(p, s, "preempt_count"), default=0),
    "in_atomic": lambda p, s: int(any(_task_values(p, s, "preempt_count"))),
    # include/linux/uaccess.h: current->pagefault_disabled != 0 (a
    # pagefault_enable() too many leaves -1: faults still disabled)
    "pagefault_disabled": lambda p, s: int(any(v != 0 for v in _task_values(p, s, "pagefault_disabled"))),
    "kmap_local_idx": lambda p, s: max(_task_values(p, s, "kmap_idx"), default=0) // p.config.km_incr,
    "irqs_disabled": lambda p, s: int(any(c.irqs_off for c in s.cpus)),
}


def _task_values(program: Program, state: State, field: str) -> list[int]:
    return [getattr(state.ctxs[i], field) for i, c in enumerate(program.contexts) if not c.is_irq]


def _call(program: Program, state: State, e: ir.CallExpr) -> int:
    if e.name in LEFT_BEHIND:
        return int(LEFT_BEHIND[e.name](program, state))  # type: ignore[no-untyped-call]
    args = [evaluate(program, state, a) for a in e.args]
    if e.name == "per_cpu":
        if not 0 <= args[1] < program.config.NR_CPUS:
            raise ExpectError(f"per_cpu: no cpu{args[1]}")
        return state.percpu[args[0]][args[1]]
    page = _page(program, args[0])
    info = program.pages[page]
    if e.name == "page_address":
        return page_address(program, state.pkmap_pte, page)
    if e.name == "pkmap_count":
        try:
            return state.pkmap_count[state.pkmap_pte.index(info.pfn + 1)]
        except ValueError:
            return 0
    if e.name == "PageHighMem":
        return int(info.kind == PageKind.HIGHMEM)
    if e.name == "page_to_pfn":
        return info.pfn
    raise ExpectError(f"{e.name} cannot be used in an expectation")


# The kernel prints a soft lockup as "BUG: soft lockup": a DEADLOCK report
# that `BUG` matches too (docs/language.md: BUG covers "a BUG: splat").
ALSO_BUG = frozenset({int(R.SOFT_LOCKUP), int(R.DEADLOCK_SPIN)})


def _has_report(program: Program, state: State, e: ir.ReportTest) -> bool:
    kind = Kind[e.kind]
    for rep in state.reports:
        if kind_of(rep.code) != kind and not (kind == Kind.BUG and rep.code in ALSO_BUG):
            continue
        if e.substring is None or e.substring in render(program, state, rep):
            return True
    return False



def partial(program: Program, state: State, e: ir.Expr) -> bool | None:
    """A condition judged on an execution that has not ended, whose
    reports so far are ``state.reports``: True or False when those alone
    decide it whatever the execution does next (a report never goes away),
    None when the rest of the execution could still change it. Kleene's
    three-valued logic: a report test is True if the report is there and
    unknown if not yet; every value (memory, variables, counters) is
    unknown; ``!``, ``&&`` and ``||`` combine as far as they can."""
    v = _partial(program, state, e)
    return None if v is None else bool(v)


def _partial(program: Program, state: State, e: ir.Expr) -> int | None:
    t = type(e)
    if t is ir.Const:
        return e.value  # type: ignore[union-attr]
    if t is ir.ReportTest:
        return 1 if _has_report(program, state, e) else None  # type: ignore[arg-type]
    if t is ir.Unary:
        v = _partial(program, state, e.operand)  # type: ignore[union-attr]
        return None if v is None else unary(e.op, v)  # type: ignore[union-attr]
    if t is ir.Binary:
        first, ops = ir.chain(e)  # type: ignore[arg-type]
        a = _partial(program, state, first)
        for node in ops:
            a = _partial_binary(node.op, a, _partial(program, state, node.right))
        return a
    if isinstance(e, ir.Cond):
        c = _partial(program, state, e.cond)
        return None if c is None else _partial(program, state, e.then if c else e.orelse)
    if isinstance(e, ir.Conv):
        v = _partial(program, state, e.operand)
        return None if v is None else convert(v, e.width, e.signed)
    return None


def _partial_binary(op: str, a: int | None, b: int | None) -> int | None:
    """One operator in Kleene's logic (None: unknown)."""
    if op == "&&":
        if a == 0 or b == 0:
            return 0
        return 1 if a is not None and b is not None else None
    if op == "||":
        if (a is not None and a != 0) or (b is not None and b != 0):
            return 1
        return 0 if a is not None and b is not None else None
    if a is None or b is None:
        return None
    return binary(op, a, b)
