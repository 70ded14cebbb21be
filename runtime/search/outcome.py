"""What an execution ends with, as `kmap check` counts and judges it.

Three kinds of end (docs/model.md, "Executions that never end"):

- a terminal state: nothing can step. The outcome is read off its final
  state (machine.final_state: stuck contexts reported, caches written
  back).
- a bottom component: a set of states the execution can never leave.
  Under the fairness assumption it visits each of them again and again,
  so a condition is observed at every one: the outcome shows every value
  an atom takes there (``x=0|1``), the reports of the component (the
  same in all its states: reports only accumulate) and the stuck
  contexts' reports, and each expectation's condition is True when it
  holds at every state, False when at none, and MIXED when at some.
- an unfinished state: a bound cut the search (or a random run) there.
  Only its reports are known for sure, as they only accumulate: a
  condition is judged three-valued, True or False when the reports
  already decide it whatever happens next, else unknown (None).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kmap_scenarios.runtime.kernel import ctext, program as ir
from kmap_scenarios.runtime.kernel.watchdog import stuck_reports
from kmap_scenarios.runtime.search.expect import ExpectError, evaluate, partial
from kmap_scenarios.runtime.kernel.machine import Action, final_state
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.reports import Kind, R, kind_of, label
from kmap_scenarios.runtime.kernel.state import Report, State, initial_state

MIXED = 2   # a condition that holds at some states of a component and not at others


@dataclass(frozen=True)
class Outcome:
    """What an execution ends with: named values, reports, verdict inputs.

    ``conds[k]``: expectation k's condition (True, False, MIXED at a
    component that has both, None when it cannot be evaluated; for an
    unfinished outcome None means unknown). ``ends``: "final" (a terminal
    state), "never" (a bottom component), "cut" (unfinished)."""

    values: tuple[tuple[str, str], ...]
    reports: tuple[str, ...]
    conds: tuple[bool | int | None, ...]
    ends: str = "final"

    def text(self) -> str:
        vals = "; ".join(f"{k}={v}" for k, v in self.values)
        reps = "; ".join(self.reports) if self.reports else "no reports"
        return f"{vals}; {reps}" if vals else reps

    def satisfies(self, k: int) -> bool:
        """Some observation of this end satisfies condition k."""
        c = self.conds[k]
        return c is True or c == MIXED

    def violates(self, k: int) -> bool:
        """Some observation of this end violates condition k."""
        c = self.conds[k]
        return c is False or c == MIXED


class Observer:
    """Builds the outcomes of one program's executions."""

    def __init__(self, program: Program) -> None:
        self.p = program
        self.atoms = collect_atoms(program)

    def outcome(self, final: State) -> Outcome:
        """The outcome of an execution that ended in ``final`` (a state
        made by machine.final_state)."""
        values = [(name, _shown(name, v, self.p.config.preset.bits))
                  for (name, _), v in zip(self.atoms, self._values(final))]
        return Outcome(tuple(values), self._labels(final), tuple(self._conds(final)))

    def component(self, states: Sequence[State], steps: Sequence[Sequence[Action]],
                  check: Callable[[], None] | None = None) -> Outcome:
        """The outcome of the executions that enter the bottom component
        ``states`` (``steps[k]``: the actions enabled in ``states[k]``);
        ``check`` is called every 64 states (runtime/search/limits.py)."""
        return self.component_at(states, steps, check)[0]

    def component_at(self, states: Sequence[State], steps: Sequence[Sequence[Action]],
                     check: Callable[[], None] | None = None
                     ) -> tuple[Outcome, list[tuple[bool | None, ...]]]:
        """``component``, and each state's own condition values (where a
        condition is MIXED, the states that show each value)."""
        stuck = stuck_reports(self.p, states, steps)
        finals = []
        for k, s in enumerate(states):
            if check is not None and not (k + 1) & 63:
                check()
            finals.append(final_state(self.p, s, stuck))
        return self.endless(finals, check), [tuple(self._conds(f)) for f in finals]

    def endless(self, finals: Sequence[State], check: Callable[[], None] | None = None
                ) -> Outcome:
        """The outcome of an execution that never ends, from the states of
        its bottom component made final (stuck contexts reported, caches
        written back), as `kmap run` keeps them (Execution.endless)."""
        bits = self.p.config.preset.bits
        seen: list[set[int | None]] = [set() for _ in self.atoms]
        labels: set[tuple[int, str]] = set()
        conds: list[set[bool | None]] = []
        for n, f in enumerate(finals):
            if check is not None and not (n + 1) & 63:
                check()
            for k, v in enumerate(self._values(f)):
                seen[k].add(v)
            labels.update((rank(r.code), label(self.p, f, r)) for r in f.reports)
            for k, c in enumerate(self._conds(f)):
                if len(conds) <= k:
                    conds.append(set())
                conds[k].add(c)
        values = []
        for (name, _), vs in zip(self.atoms, seen):
            known = sorted(v for v in vs if v is not None)
            shown = [_shown(name, v, bits) for v in known] + (["?"] if None in vs else [])
            values.append((name, "|".join(shown)))
        return Outcome(tuple(values), ordered(labels), tuple(_merge(c) for c in conds), "never")

    def unfinished(self, reports: tuple[Report, ...]) -> Outcome:
        """What is known of an execution cut at a state with ``reports``."""
        s = initial_state(self.p)._replace(reports=reports)
        labels = ordered({(rank(r.code), label(self.p, s, r)) for r in reports})
        if self.p.expectations:
            conds = tuple(partial(self.p, s, e.cond) for e in self.p.expectations)
        else:
            conds = (True,) if reports else (None,)
        return Outcome((), labels, conds, "cut")

    # ------------------------------------------------------------ pieces
    def _values(self, final: State) -> list[int | None]:
        out: list[int | None] = []
        for _, atom in self.atoms:
            try:
                out.append(evaluate(self.p, final, atom))
            except ExpectError:
                out.append(None)
        return out

    def _labels(self, final: State) -> tuple[str, ...]:
        return ordered({(rank(r.code), label(self.p, final, r)) for r in final.reports})

    def _conds(self, final: State) -> list[bool | None]:
        conds: list[bool | None] = []
        for e in self.p.expectations:
            try:
                conds.append(bool(evaluate(self.p, final, e.cond)))
            except ExpectError:
                conds.append(None)
        if not self.p.expectations:
            conds.append(bool(final.reports))
        return conds


_QUIET = frozenset({int(R.LIVELOCK), int(R.STARVED), int(R.DEADLOCK_IRQ)})


def rank(code: int) -> int:
    """Where a report goes in an outcome's list: the kernel's reports
    first, then the stuck contexts a detector names, then those it does
    not (what happened before what it caused)."""
    if kind_of(code) != Kind.DEADLOCK:
        return 0
    return 2 if code in _QUIET else 1


def ordered(labels: set[tuple[int, str]]) -> tuple[str, ...]:
    """Report labels by rank, then alphabetically, each once."""
    out: list[str] = []
    for _, text in sorted(labels):
        if text not in out:
            out.append(text)
    return tuple(out)


def _merge(values: set[bool | None]) -> bool | int | None:
    if None in values:
        return None
    if values == {True}:
        return True
    if values == {False}:
        return False
    return MIXED


def _shown(name: str, v: int | None, bits: int) -> str:
    """Page bytes as 0x55, big numbers (addresses) in hex, small ones
    decimal; a large negative word (an address in a signed int) as the
    unsigned address it holds, as `kmap run` shows it; '?' when the atom
    cannot be evaluated."""
    if v is None:
        return "?"
    if name.endswith("]"):
        return f"{v:#04x}"
    if v <= -0x10000:
        v &= (1 << bits) - 1
    return f"{v:#x}" if abs(v) > 9 else str(v)


# ------------------------------------------------------------------ atoms
def collect_atoms(program: Program) -> list[tuple[str, ir.Expr]]:
    """The final-state values the expectations name, with printable labels."""
    seen: dict[str, ir.Expr] = {}
    for e in program.expectations:
        _atoms(program, e.cond, seen)
    return sorted(seen.items())


def _atoms(program: Program, e: ir.Expr, out: dict[str, ir.Expr]) -> None:
    """The atoms of a condition, without recursion (a chain of 10,000
    operands is one level of nesting, docs/language.md)."""
    stack = [e]
    while stack:
        node = stack.pop()
        t = type(node)
        if t in (ir.PageMem, ir.Global, ir.TaskLocal, ir.CallExpr):
            out[describe(program, node)] = node
        elif t is ir.Unary:
            stack.append(node.operand)  # type: ignore[union-attr]
        elif t is ir.Binary:
            stack += (node.right, node.left)  # type: ignore[union-attr]
        elif isinstance(node, ir.Cond):
            stack += (node.orelse, node.then, node.cond)
        elif isinstance(node, ir.Conv):
            stack.append(node.operand)


def describe(program: Program, e: ir.Expr) -> str:
    """Source-like text of an IR expression (for outcome labels), with the
    parentheses C's precedence needs (runtime/kernel/ctext.py)."""
    return ctext.c_text(e, lambda node: _shape(program, node))


def _shape(program: Program, e: object) -> ctext.Shape:
    """What a lowered expression node is, for the printer."""
    if isinstance(e, ir.Const):
        return ctext.Leaf(str(e.value))
    if isinstance(e, ir.Global):
        return ctext.Leaf(program.globals[e.index][0])
    if isinstance(e, ir.TaskLocal):
        info = program.contexts[e.ctx]
        name = next((n for n, s in info.outer_locals if s == e.slot), "?")
        return ctext.Leaf(f"{info.name}.{name}")
    if isinstance(e, ir.PageRef):
        return ctext.Leaf(program.pages[e.page].name)
    if isinstance(e, ir.PageElem):
        return ctext.Subscript(ctext.Leaf(program.pages[e.first].name.split("[")[0]), e.index)
    if isinstance(e, ir.PageMem):
        return ctext.Subscript(e.page, e.offset)
    if isinstance(e, ir.PercpuVar):
        return ctext.Leaf(program.percpus[e.index][0])
    if isinstance(e, ir.CallExpr):
        return ctext.Call(e.name, e.args)
    if isinstance(e, ir.Unary):
        return ctext.Prefix(e.op, e.operand)
    if isinstance(e, ir.Binary):
        return ctext.Infix(e.op, e.left, e.right)
    if isinstance(e, ir.Cond):
        return ctext.Conditional(e.cond, e.then, e.orelse)
    if isinstance(e, ir.Conv):
        return _shape(program, e.operand)
    if isinstance(e, ctext.Leaf):
        return e
    return ctext.Leaf("?")
