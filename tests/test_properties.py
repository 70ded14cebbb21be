"""Properties of the model, checked on random walks through every example."""

from __future__ import annotations

import pickle
import random
from functools import lru_cache
from pathlib import Path

from hypothesis import given, settings, strategies as st

from kmap_scenarios.dsl.lower.load import load
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.kernel.machine import enabled, final_state, step
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.state import State, Status, initial_state

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(str(p) for p in (ROOT / "examples").rglob("*.kmap"))


@lru_cache(maxsize=None)
def program(path: str) -> Program:
    return load(path)


@lru_cache(maxsize=None)
def outcomes(path: str) -> frozenset[ex.Outcome]:
    return frozenset(ex.explore(program(path)).outcomes)


def invariants(p: Program, s: State) -> None:
    """Facts of mm/highmem.c and the scheduler that hold in every state
    until the kernel BUG()s (a double kunmap leaves count 0 with a PTE)."""
    from kmap_scenarios.runtime.kernel.reports import Kind, kind_of
    if any(kind_of(r.code) == Kind.BUG for r in s.reports):
        return
    for count, pte in zip(s.pkmap_count, s.pkmap_pte):
        assert count >= 0
        assert (count == 0) == (pte == 0), "a slot has a PTE iff its count is >= 1"
    live = [pte for pte in s.pkmap_pte if pte]
    assert len(live) == len(set(live)), "a page owns at most one pkmap slot"
    for c, cpu in enumerate(s.cpus):
        if cpu.curr >= 0:
            t = s.ctxs[cpu.curr]
            assert t.status == Status.READY and t.cpu == c
        for i in cpu.irqs:
            assert s.ctxs[i].status == Status.READY
        for pte, owner in zip(cpu.fixmap, cpu.fix_owner):
            assert (pte == 0) == (owner == -1)
    for i, info in enumerate(p.contexts):
        ctx = s.ctxs[i]
        if ctx.status == Status.READY and not info.is_irq:
            assert ctx.kmap_idx >= 0 and ctx.migration_disabled >= 0
        if ctx.status == Status.WAIT_PKMAP:
            assert i in s.pkmap_waiters
    for owner in s.locks:
        assert owner == -1 or owner < len(s.ctxs)


def walk(p: Program, seed: int, limit: int = 400) -> State:
    rng = random.Random(seed)
    s = initial_state(p)
    for _ in range(limit):
        acts = enabled(p, s)
        assert acts == enabled(p, s)                 # same state, same actions
        if not acts:
            break
        a = acts[rng.randrange(len(acts))]
        before = pickle.dumps(s)
        s2, _ = step(p, s, a)
        assert pickle.dumps(s) == before             # step never mutates its input
        assert step(p, s, a)[0] == s2                # and is deterministic
        s = s2
        invariants(p, s)
    return s


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(EXAMPLES), st.integers(0, 2**32))
def test_random_walks_keep_invariants_and_end_in_a_checked_outcome(path: str, seed: int) -> None:
    p = program(path)
    s = walk(p, seed)
    if not enabled(p, s):
        explorer = ex.Explorer(p, ex.Options())
        assert explorer.outcome(final_state(p, s)) in outcomes(path)
