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

The memo is a trie. Its root key is the action with the executing context,
its CPU record and the two flags every step may consult (debug_locks,
panicked);
below it, each node names the next location the step read and branches on
its value. The order of reads is a function of the values read before (the
step is deterministic), so a node's location is the same for every path
through it. A recording that disagrees with the trie means a read the Tx did
not see: that would make the memo unsound, and it raises instead.

The changes are per element for ``ctxs``, ``cpus`` and the fixed-length
fields the Tx notes element by element (the pkmap arrays, locks, globals,
pages), and per whole field for the rest. Every element the step may have
written was noted as read (a Tx copies a field before writing it, and a
write of an element reads it first), so equal values under the key give
equal results.
Only used without tracing: `kmap run` still steps every handler.
"""

from __future__ import annotations

from typing import Any

from runtime.machine import Action, step
from runtime.program import Program
from runtime.state import State
from runtime.tx import CPUS, CTXS, ELEMENTWISE, FIELD, Loc

_SCALARS = tuple(State._fields.index(f) for f in ("debug_locks", "panicked"))
# Fields changed element by element (their elements are noted one by one).
_BY_ELEMENT = frozenset({CTXS, CPUS} | {FIELD[f] for f in ELEMENTWISE})

# A delta: per changed field, (field, new value, True) for a whole field or
# (field, ((element, new value), ...), False).
Delta = tuple[tuple[int, Any, bool], ...]


class MemoConflict(AssertionError):
    """Two recordings of one step disagree: a read the Tx did not note."""


class _Node:
    __slots__ = ("loc", "kids")

    def __init__(self, loc: Loc) -> None:
        self.loc = loc
        self.kids: dict[Any, _Node | Delta] = {}


class StepMemo:
    """``step(state, action)`` for one program, memoized by footprint."""

    def __init__(self, program: Program, max_entries: int = 2_000_000) -> None:
        self.p = program
        self.root: dict[Any, _Node | Delta] = {}
        self.entries = 0
        self.max_entries = max_entries   # past it the memo starts afresh
        self.hits = 0
        self.misses = 0

    def step(self, state: State, a: Action) -> State:
        s: Any = state   # indexed by field number
        ci, cpu = a
        key = (ci, cpu, s[CTXS][ci], s[CPUS][cpu], s[_SCALARS[0]], s[_SCALARS[1]])
        node = self.root.get(key)
        while type(node) is _Node:
            f, i = node.loc
            node = node.kids.get(s[f] if i < 0 else s[f][i])
        if node is None:
            self.misses += 1
            return self._record(s, a, key)
        self.hits += 1
        return _apply(s, node)   # type: ignore[arg-type]  # a leaf

    def _record(self, s: State, a: Action, key: Any) -> State:
        reads: list[Loc] = []
        t = step(self.p, s, a, reads=reads)[0]
        if self.entries >= self.max_entries:
            self.root.clear()
            self.entries = 0
        self._insert(key, s, reads, _delta(s, t))
        self.entries += 1
        return t

    def _insert(self, key: Any, s: Any, reads: list[Loc], delta: Delta) -> None:
        holder: dict[Any, _Node | Delta] = self.root
        at: Any = key
        for loc in reads:
            node = holder.get(at)
            if node is None:
                node = holder[at] = _Node(loc)
            elif type(node) is not _Node or node.loc != loc:
                raise MemoConflict(f"step {key[:2]} read {loc} where an earlier recording did not")
            f, i = loc
            holder, at = node.kids, (s[f] if i < 0 else s[f][i])
        old = holder.get(at)
        if old is not None and old != delta:
            raise MemoConflict(f"step {key[:2]} gave two results for the same reads")
        holder[at] = delta


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


def _apply(s: Any, d: Delta) -> State:
    vals = list(s)
    for f, new, whole in d:
        if whole:
            vals[f] = new
        else:
            old = vals[f]
            items = list(old)
            for j, c in new:
                items[j] = c
            vals[f] = tuple(items) if type(old) is tuple else type(old)(items)
    return tuple.__new__(State, vals)
