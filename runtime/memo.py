"""Memoized steps for the explorer: a step is a function of what it reads.

A step reads a small part of the state: the executing context and its CPU,
and whatever its instruction touches (another task it switches from, the
pkmap pool, a page). Most transitions of a state graph repeat a step already
taken from another state that agrees on that part (task B's kmap() does the
same thing whatever task C's locals are). The first time, the step runs with
its reads noted (``Tx`` with ``reads``: first-touch order, every ctx and CPU
element and every other state field it copies); the memo keeps the
locations and values it read and the parts it changed. A later state that
holds the same values at the same locations gets the same changes applied
without running the handlers.

The memo's key is the action with the executing context, its CPU record
and the two flags every step may consult (debug_locks, panicked); under it,
one entry per sequence of locations a recording read (usually one: the
instruction is fixed by the context's pc), each a table from the values
found there to the changes. A state that matches any entry gets its
changes: it agrees with a recorded state wherever that step looked, so the
step, deterministic, does the same. Two results for one entry and one set
of values mean a read the Tx did not see: that would make the memo
unsound, and it raises instead.

The changes are per element for ``ctxs``, ``cpus`` and the fixed-length
fields the Tx notes element by element (the pkmap arrays, locks, globals,
pages), and per whole field for the rest. Every element the step may have
written was noted as read (a Tx copies a field before writing it, and a
write of an element reads it first), so equal values under the key give
equal results.
Only used without tracing: `kmap run` still steps every handler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.machine import Action, step
from runtime.program import Program
from runtime.state import State
from runtime.tx import CPUS, CTXS, ELEMENTWISE, FIELD, Loc

_DEBUG_LOCKS, _PANICKED = State._fields.index("debug_locks"), State._fields.index("panicked")
# Fields changed element by element (their elements are noted one by one).
_BY_ELEMENT = frozenset({CTXS, CPUS} | {FIELD[f] for f in ELEMENTWISE})

# A delta: per changed field, (field, new value, True) for a whole field or
# (field, ((element, new value), ...), False).
Delta = tuple[tuple[int, Any, bool], ...]


class MemoConflict(AssertionError):
    """Two recordings of one step disagree: a read the Tx did not note."""


class _Spec:
    """The locations one kind of step reads, and what it did for each set of
    values found there."""

    __slots__ = ("locs", "get", "table")

    def __init__(self, locs: tuple[Loc, ...]) -> None:
        self.locs = locs
        self.get = _getter(locs)
        self.table: dict[tuple[Any, ...], Delta] = {}


_GETTERS: dict[tuple[Loc, ...], Callable[[Any], tuple[Any, ...]]] = {}


def _getter(locs: tuple[Loc, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function returning the values at ``locs`` of a state, as one tuple
    expression (several times faster than a loop over the locations)."""
    got = _GETTERS.get(locs)
    if got is None:
        items = "".join(f"s[{f}]," if i < 0 else f"s[{f}][{i}]," for f, i in locs)
        got = _GETTERS[locs] = eval(f"lambda s: ({items})")  # noqa: S307 - ints only
    return got


class StepMemo:
    """``step(state, action)`` for one program, memoized by footprint."""

    def __init__(self, program: Program, max_entries: int = 1_000_000) -> None:
        self.p = program
        self.root: dict[Any, list[_Spec]] = {}
        self.entries = 0
        self.max_entries = max_entries   # past it the memo starts afresh
        self.hits = 0
        self.misses = 0

    def step(self, state: State, a: Action) -> State:
        """The successor of ``state`` by ``a``, as step() computes it."""
        s: Any = state   # indexed by field number
        ci, cpu = a
        key = (ci, cpu, s[CTXS][ci], s[CPUS][cpu], s[_DEBUG_LOCKS], s[_PANICKED])
        specs = self.root.get(key)
        if specs is not None:
            for spec in specs:
                d = spec.table.get(spec.get(s))
                if d is not None:
                    self.hits += 1
                    # apply the changes (inlined: this is the hot path)
                    vals = list(s)
                    for f, new, whole in d:
                        if whole:
                            vals[f] = new
                            continue
                        old = vals[f]
                        if len(new) == 1:            # the common case: one element
                            j, c = new[0]
                            t = old[:j] + (c,) + old[j + 1:]
                        else:
                            items = list(old)
                            for j, c in new:
                                items[j] = c
                            t = tuple(items)
                        vals[f] = t if type(old) is tuple else type(old)(t)
                    return tuple.__new__(State, vals)
        self.misses += 1
        return self._record(s, a, key)

    def _record(self, s: State, a: Action, key: Any) -> State:
        reads: list[Loc] = []
        t = step(self.p, s, a, reads=reads)[0]
        if self.entries >= self.max_entries:
            self.root.clear()
            self.entries = 0
        self._insert(key, s, tuple(reads), _delta(s, t))
        self.entries += 1
        return t

    def _insert(self, key: Any, s: Any, locs: tuple[Loc, ...], delta: Delta) -> None:
        specs = self.root.setdefault(key, [])
        for spec in specs:
            if spec.locs == locs:
                break
        else:
            spec = _Spec(locs)
            specs.append(spec)
        values = spec.get(s)
        old = spec.table.get(values)
        if old is not None and old != delta:
            raise MemoConflict(f"step {key[:2]} gave two results for the same reads")
        spec.table[values] = delta


def _delta(s: Any, t: Any) -> Delta:
    out: list[tuple[int, Any, bool]] = []
    for f, (old, new) in enumerate(zip(s, t)):
        if new is old or new == old:
            continue
        if f in _BY_ELEMENT:
            out.append((f, tuple((j, c) for j, (b, c) in enumerate(zip(old, new))
                                 if c is not b and c != b), False))
        else:
            out.append((f, new, True))
    return tuple(out)
