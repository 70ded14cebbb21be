"""How often one run has been in each state, at a cost that does not grow
with the number of contexts.

A run's policy is fair around cycles (runtime/search/schedule.py): at a
state it reaches for the n-th time it takes the (n mod k)-th of its k
actions. It must therefore know, at every step, whether it was here
before. Keeping every state it passed and hashing each one would cost, per
step, the size of the state: thousands of contexts make that quadratic
in the length of the run, in time and in memory.

Two facts make it cheap:

- A state can only come back after steps that all stay inside loops.
  Each context's code is numbered so that a step never goes to a smaller
  rank (``loop_ranks``: every instruction of a loop, back edges merged,
  has the rank of the loop's first instruction; the others their own
  index; in a call, a context has the rank of the body's call, so calls,
  returns and recursion stay at one rank). Only a context's own step
  moves its pc, so the sum of the ranks of all contexts never decreases; a step that raises its context's rank
  raises the sum, and no state before it can come back. The states kept
  are those since the last such step: none, in straight-line code.
- States since then differ, in the contexts, only where a context
  stepped. They are filed under a hash of those contexts and of the small
  shared parts (CPUs, locks, globals, the pkmap pool); states that agree
  there are told apart by comparing them whole, which compares the
  thousands of untouched contexts by identity.
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import program as ir
from kmap_scenarios.runtime.kernel.machine import Action
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.state import Ctx, State


def loop_ranks(code: tuple[ir.Instr, ...]) -> tuple[int, ...]:
    """For each pc, a rank that no step of the context lowers, and that
    stays the same only within one loop: the first pc of the loop, after
    overlapping loops (a back edge u -> v <= u spans pcs v..u) are merged;
    elsewhere the pc itself."""
    spans = sorted((ins.target, u) for u, ins in enumerate(code)
                   if isinstance(ins, (ir.Branch, ir.Jump)) and ins.target <= u)
    merged: list[list[int]] = []
    for v, u in spans:
        if merged and v <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], u)
        else:
            merged.append([v, u])
    ranks = list(range(len(code)))
    for v, u in merged:
        ranks[v:u + 1] = [v] * (u + 1 - v)
    return tuple(ranks)


def _rank(ranks: tuple[int, ...], ctx: Ctx) -> int:
    """A context's rank: its pc's, or in a call, the rank of the body's call
    (its outermost frame). Calls and returns stay at that rank until the
    body goes on past the call, so a function's code, however it loops or
    recurses, counts as one loop of the body: its states are kept."""
    return ranks[ctx.frames[0][0]] if ctx.frames else ranks[ctx.pc]


class Visits:
    """The number of earlier visits of the states a run may still come
    back to (see the module docstring)."""

    def __init__(self, program: Program) -> None:
        # a softirq's pc goes back to its start each time it runs again, in
        # another context's step too (runtime/kernel/softirq.py): its whole
        # code is one loop, whose rank no step changes
        self.ranks = tuple((0,) * len(c.code) if c.is_softirq else loop_ranks(c.code)
                           for c in program.contexts)
        self.actors: list[int] = []          # contexts that stepped since the last progress
        self.table: dict[int, list[list[object]]] = {}   # key -> [[state, visits], ...]

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self.table.values())

    def count(self, state: State) -> int:
        """How many times the run was in ``state`` before (0 if never, or
        if it cannot have been: nothing is kept)."""
        if not self.table:
            return 0
        for entry in self.table.get(self._key(state), ()):
            if entry[0] == state:
                return entry[1]  # type: ignore[return-value]
        return 0

    def stepped(self, before: State, action: Action, after: State, n: int) -> None:
        """The run left ``before`` (visited ``n`` times earlier) by
        ``action``: forget everything if the step made progress, else
        count this visit."""
        ci = action[0]
        if ci < 0:   # a TLB eviction: it never comes back by itself (progress)
            self.table.clear()
            self.actors.clear()
            return
        ranks = self.ranks[ci]
        old, new = _rank(ranks, before.ctxs[ci]), _rank(ranks, after.ctxs[ci])
        if new > old:
            self.table.clear()
            self.actors.clear()
            return
        # only a context's own step moves its pc, along its code's edges:
        # were that ever not so, states dropped could come back unseen
        assert new == old, f"a step of context {ci} lowered its loop rank ({old} -> {new})"
        if ci not in self.actors:
            self.actors.append(ci)
            self._refile()
        bucket = self.table.setdefault(self._key(before), [])
        for entry in bucket:
            if entry[0] == before:
                entry[1] = n + 1
                return
        bucket.append([before, n + 1])

    def _key(self, state: State) -> int:
        ctxs = state.ctxs
        return hash((state.cpus, state.locks, state.globals, state.last_pkmap_nr,
                     state.pkmap_count, tuple(ctxs[i] for i in self.actors)))

    def _refile(self) -> None:
        """File the kept states under the key of the new set of actors."""
        entries = [entry for bucket in self.table.values() for entry in bucket]
        self.table = {}
        for entry in entries:
            self.table.setdefault(self._key(entry[0]), []).append(entry)  # type: ignore[arg-type]
