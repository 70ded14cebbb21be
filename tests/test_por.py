"""State-level partial-order reduction (runtime/search/por.py): a task's
local step alone where that set is persistent. Outcomes, verdicts,
unfinished ends and the states of loops that never end are those of the
whole graph; witnesses replay; fewer states where tasks on several CPUs
have local steps."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kmap_scenarios.dsl.formats.check_text import verdicts_of
from kmap_scenarios.dsl.lower.load import load
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.search.por import Reducer, local_pcs
from kmaptest import program as load_src, replays

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.kmap"))
sys.path.insert(0, str(ROOT / "bench"))


def _id(p: Path) -> str:
    return str(p.relative_to(ROOT / "examples"))


def _same_ends(p: Program, full: ex.Result, red: ex.Result) -> None:
    """What the verdicts are made of is the same with and without it."""
    assert set(red.outcomes) == set(full.outcomes)
    assert [v.holds for v in verdicts_of(p, red)] == [v.holds for v in verdicts_of(p, full)]
    assert set(red.unfinished) == set(full.unfinished)
    assert set(red.observed) == set(full.observed)
    assert red.bounded == full.bounded
    assert red.states <= full.states
    # a local step is in every execution that ends: a shortest one keeps
    # its length (not always one into a loop that never ends)
    for o, w in full.witnesses.items():
        if o.ends == "final":
            assert len(red.witnesses[o]) == len(w), o.text()
        else:
            assert len(red.witnesses[o]) >= len(w), o.text()
    replays(p, red)


@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_every_example_has_the_same_ends_with_state_reduction(path: Path) -> None:
    p = load(str(path))
    full = ex.explore(p, ex.Options(por=False))
    red = ex.explore(p, ex.Options(por=True))
    _same_ends(p, full, red)


LOOPS = """config { NR_CPUS = 2; }
int g = 0;
task a on cpu0 { int s = 0; for (int i = 0; i < 3; i++) { s = s + i; } g = g + s; }
task b on cpu1 { int t = 0; for (int j = 0; j < 2; j++) { t = t + 2; } g = g + t; }
expect always g == 7;
expect sometimes a.s == 3;
"""

# a task spinning on a local loop forever while the other CPU works: the
# reduced states on that cycle are expanded fully (the cycle proviso)
SPIN_LOCALLY = """config { NR_CPUS = 2; }
int g = 0;
task a on cpu0 { int x = 0; while (g == 0) { x = 1 - x; x = 1 - x; } }
task b on cpu1 { int y = 1; y = y + 1; g = y; }
expect sometimes DEADLOCK;
expect always g == 2;
"""

ENDLESS = """config { NR_CPUS = 2; }
int g = 0;
task a on cpu0 { int x = 0; while (1) { x = 1 - x; } }
task b on cpu1 { int y = 0; y = y + 1; g = 1; }
expect sometimes g == 1;
expect sometimes a.x == 1;
expect never DEADLOCK;
"""

# an irq still to fire may panic the machine: no reduction while it may
IRQ = """config { ARCH = x86; NR_CPUS = 2; PAGE_SIZE = 64; }
int g = 0;
task a on cpu0 { int x = 0; x = x + 1; x = x + 1; g = x; }
irq tick on cpu1 { g = 5; }
expect sometimes g == 5;
"""

# two tasks that share cpu0 under preemption: the other may be switched
# in, so neither's local step is alone (c on cpu1 has none)
SHARED_CPU = """config { NR_CPUS = 2; CONFIG_PREEMPTION = y; }
int g = 0;
task a on cpu0 { int x = 0; x = x + 1; g = g + x; }
task b on cpu0 { int y = 0; y = y + 2; g = g + y; }
task c on cpu1 { g = g + 3; g = g + 3; }
expect sometimes g == 9;
"""

SCENARIOS = {"loops": LOOPS, "spin-locally": SPIN_LOCALLY, "endless": ENDLESS,
             "irq": IRQ, "shared-cpu": SHARED_CPU}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios_have_the_same_ends_with_state_reduction(name: str) -> None:
    p = load_src(SCENARIOS[name])
    full = ex.explore(p, ex.Options(por=False))
    red = ex.explore(p, ex.Options(por=True))
    _same_ends(p, full, red)
    # and the whole graph without any reduction agrees too
    assert set(ex.explore(p, ex.Options(reduce=False)).outcomes) == set(red.outcomes)


def test_local_loops_take_fewer_states() -> None:
    p = load_src(LOOPS)
    full = ex.explore(p, ex.Options(por=False))
    red = ex.explore(p, ex.Options(por=True))
    assert (full.states, red.states) == (154, 66)
    assert red.reduced == 38 and red.reexpanded == 0
    # on by default, off with --no-reduce
    assert ex.explore(p).states == 66
    assert ex.explore(p, ex.Options(reduce=False)).states == 154


def test_a_local_loop_on_a_cycle_is_expanded_fully() -> None:
    """a's loop spins on g: its local steps inside the loop lie on a
    cycle of the first reduced graph and are expanded fully; here that
    gives back every state."""
    p = load_src(SPIN_LOCALLY)
    red = ex.explore(p, ex.Options(por=True))
    assert red.reexpanded == 4
    full = ex.explore(p, ex.Options(por=False))
    assert red.states == full.states == 17


def test_no_reduction_while_an_irq_may_fire() -> None:
    p = load_src(IRQ)
    red = ex.explore(p, ex.Options(por=True))
    assert red.reduced == 0
    assert red.states == ex.explore(p, ex.Options(por=False)).states


def test_no_local_step_alone_where_another_task_may_take_the_cpu() -> None:
    """a runs on cpu0 at `x = x + 1`: b may preempt it (CONFIG_PREEMPTION,
    preempt_count 0), so a's step is not alone; once b is done it is, and
    under preempt_disable() too."""
    from kmap_scenarios.runtime.kernel.machine import step
    from kmap_scenarios.runtime.kernel.state import initial_state
    from kmap_scenarios.runtime.search.stepper import Stepper

    def alone(src: str, done_b: bool, steps: int = 1) -> object:
        p = load_src(src)
        s = initial_state(p)
        for _ in range(steps):
            s = step(p, s, (0, 0))[0]      # a: int x = 0 (after preempt_disable())
        if done_b:
            s = s._replace(ctxs=s.ctxs[:1] + (s.ctxs[1]._replace(status=3),) + s.ctxs[2:])
        st = Stepper(p, True, {})
        flat = st.codec.encode(s)
        return Reducer(p, st.codec, st.step).persistent(flat, st.enabled(flat))

    assert alone(SHARED_CPU, False) is None
    assert alone(SHARED_CPU, True) == (0, 0)
    atomic = SHARED_CPU.replace("int x = 0; x = x + 1; g = g + x;",
                                "preempt_disable(); int x = 0; x = x + 1; g = g + x; "
                                "preempt_enable();")
    assert atomic != SHARED_CPU
    assert alone(atomic, False, steps=2) == (0, 0)


def test_bounds_jobs_and_one_cpu_turn_it_off() -> None:
    p = load_src(LOOPS)
    whole = ex.explore(p, ex.Options(por=False)).states
    for kw in ({"max_depth": 100}, {"preemption_bound": 5}, {"jobs": 2}):
        assert ex.explore(p, ex.Options(por=True, **kw)).states == whole, kw   # type: ignore[arg-type]
    one = load_src(LOOPS.replace("NR_CPUS = 2", "NR_CPUS = 1").replace("cpu1", "cpu0"))
    assert ex.explore(one, ex.Options(por=True)).reduced == 0


def test_local_pcs_of_a_task() -> None:
    p = load_src(LOOPS)
    a = p.contexts[0]
    local = local_pcs(a.code, a.free_at)
    kinds = [(type(i).__name__, bool(local[k])) for k, i in enumerate(a.code)]
    # int s = 0; int i = 0; i < 3; s = s + i; i++; (jump); g = g + s; end
    assert kinds == [("Set", True), ("Set", True), ("Branch", True), ("Set", True),
                     ("Set", True), ("Jump", False), ("Set", False), ("End", False)]


def test_the_reducer_never_takes_a_step_that_touches_more() -> None:
    """A division by zero oopses: the statement reads only locals, but its
    step kills the task, so it is not taken alone; with a divisor of one
    it is."""
    from kmap_scenarios.runtime.kernel.machine import step
    from kmap_scenarios.runtime.kernel.state import initial_state
    from kmap_scenarios.runtime.search.stepper import Stepper
    src = """config { NR_CPUS = 2; }
task a on cpu0 { int z = 0; int x = 1 / z; x = x + 1; }
task b on cpu1 { int y = 0; y = y + 1; }
expect sometimes OOPS;
"""
    got = []
    for text in (src, src.replace("int z = 0", "int z = 1")):
        p = load_src(text)
        s = step(p, initial_state(p), (0, 0))[0]     # a: int z = ...
        st = Stepper(p, True, {})
        flat = st.codec.encode(s)
        got.append(Reducer(p, st.codec, st.step).persistent(flat, st.enabled(flat)))
        _same_ends(p, ex.explore(p, ex.Options(por=False)), ex.explore(p, ex.Options(por=True)))
    # b is still switched in on cpu1: its first step is no local step either
    assert got == [None, (0, 0)]


def test_reducer_asks_only_about_its_program() -> None:
    from kmap_scenarios.runtime.search.stepper import Stepper
    p = load_src(LOOPS)
    st = Stepper(p, True, {})
    r = Reducer(p, st.codec, st.step)
    assert r.local[0] is not None and r.local[1] is not None


SPIN_ROWS = [((1, 1, True), 679, 500), ((1, 1, False), 1279, 1057)]


@pytest.mark.parametrize("row", SPIN_ROWS, ids=["fixed", "racy"])
def test_spin_rows_reduce(row: tuple[tuple[int, int, bool], int, int]) -> None:
    """SPIN's kmap_dma rows (bench/ladder.py): the loops' counters and
    tests are local steps, so fewer states, the same verdict."""
    import ladder
    from kmap_scenarios.dsl.lower.load import load_text
    (nk, it, pin), whole, reduced = row
    p = load_text(ladder.spin_equivalent(nk, it, pin), "spin.kmap")
    full = ex.explore(p, ex.Options(por=False))
    red = ex.explore(p, ex.Options(por=True))
    assert (full.states, red.states) == (whole, reduced)
    _same_ends(p, full, red)


def test_a_cut_before_the_proviso_invents_no_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A limit (time, Ctrl-C, memory) that stops phase 1 before the
    reduced states on a cycle are expanded again: those states get their
    other actions back as cut edges, so a loop of a's local steps is not
    taken for a loop no execution leaves. Whatever the cut, every outcome
    found is one of the whole search's."""
    from kmap_scenarios.runtime.search import explore as explore_mod
    from kmap_scenarios.runtime.search.limits import Cut, Limits
    p = load_src(ENDLESS)
    whole = set(ex.explore(p, ex.Options(por=False)).outcomes)
    monkeypatch.setattr(explore_mod, "CHECK_WORK", 1)
    seen_cut = 0
    for k in range(1, 40):
        calls = [0]

        def check(self: Limits, k: int = k) -> None:
            calls[0] += 1
            if calls[0] == k:
                raise Cut("time")

        monkeypatch.setattr(Limits, "check", check)
        r = ex.explore(p, ex.Options(por=True))
        monkeypatch.undo()
        monkeypatch.setattr(explore_mod, "CHECK_WORK", 1)
        if r.bounded:
            seen_cut += 1
            assert set(r.outcomes) <= whole, (k, r.outcomes)
    assert seen_cut >= 5
