"""kmap check: reduction loses nothing, witnesses replay, bounds are honest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kmap_scenarios.dsl.lower.load import load
from kmaptest import check
from kmaptest import program as load_src
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.search.schedule import encode, execute, parse_items

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.kmap"))


def _id(p: Path) -> str:
    return str(p.relative_to(ROOT / "examples"))


@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_reduction_never_loses_an_outcome(path: Path) -> None:
    """Sleep sets prune transitions, never states or outcomes (the
    state-level reduction, which does prune states, is off here:
    tests/test_por.py compares it)."""
    p = load(str(path))
    full = ex.explore(p, ex.Options(reduce=False))
    red = ex.explore(p, ex.Options(reduce=True, por=False))
    assert set(red.outcomes) == set(full.outcomes)
    assert red.states == full.states
    assert red.transitions <= full.transitions
    assert red.executions <= full.executions
    # equivalent interleavings have equal length: shortest witnesses agree
    assert {o: len(w) for o, w in red.witnesses.items()} == \
        {o: len(w) for o, w in full.witnesses.items()}


@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_every_witness_replays_exactly(path: Path) -> None:
    """`kmap run --schedule "<witness>"` reproduces the execution."""
    p = load(str(path))
    r = ex.explore(p)
    explorer = ex.Explorer(p, ex.Options())
    for outcome, path_actions in r.witnesses.items():
        text = encode(p, path_actions)
        run = execute(p, parse_items(p, text), trace=False)
        assert run.actions == path_actions, text
        assert run.final is not None
        got = explorer.observer.endless(run.endless) if run.endless else explorer.outcome(run.final)
        assert got == outcome, text


# Pinned state-space sizes: a change of semantics or step granularity is a
# visible edit of these numbers (states, reduced executions, unreduced).
PINNED = {
    "dma/slot_reuse.kmap": (311, 599, 599),
    "dma/slot_reuse_fixed.kmap": (202, 599, 599),
    "pkmap/exhaustion.kmap": (48, 21, 21),
    "kmap_local/preempt_restore.kmap": (31, 35, 35),
    "kmap_local/irq_nesting.kmap": (93, 16, 16),   # the irq may come inside kmap_local calls, and on the task's way back to user space
    "conversion/percpu.kmap": (16, 5, 5),
    "conversion/thread_local.kmap": (18, 4, 19),   # cpu0 first where cpu1 cannot touch it (CPU sets)
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned_state_counts(name: str) -> None:
    p = load(str(ROOT / "examples" / name))
    red = ex.explore(p)
    full = ex.explore(p, ex.Options(reduce=False))
    assert (red.states, red.executions, full.executions) == PINNED[name]


PERCPU = """
config { ARCH = x86; PAGE_SIZE = 64; CONFIG_PREEMPTION = y; }
percpu int hits = 0;
task a on cpu0 { int n = this_cpu_read(hits); this_cpu_write(hits, n + 1); }
task b on cpu0 { int n = this_cpu_read(hits); this_cpu_write(hits, n + 1); }
expect always per_cpu(hits, 0) == 2;
"""


def test_preemption_bound_zero_hides_the_race_and_says_so():
    from kmap_scenarios.dsl.formats.check_text import verdicts_of
    p, r = check(PERCPU, preemption_bound=0)
    assert all(o.conds[0] for o in r.outcomes)      # no preemption: no lost update
    assert r.bounded == ["preemptions"]
    assert verdicts_of(p, r)[0].holds is None        # unproven, not "holds"
    p, r = check(PERCPU, preemption_bound=1)
    assert verdicts_of(p, r)[0].holds is False       # a violation is a proof


def test_depth_and_state_bounds_are_reported():
    from kmap_scenarios.dsl.formats.check_text import verdicts_of
    for kw in ({"max_depth": 3}, {"max_states": 5}):
        p, r = check(PERCPU, **kw)
        assert r.bounded and verdicts_of(p, r)[0].holds in (None, False)


def test_sometimes_can_hold_under_a_bound():
    from kmap_scenarios.dsl.formats.check_text import verdicts_of
    src = PERCPU.replace("expect always per_cpu(hits, 0) == 2;", "expect sometimes per_cpu(hits, 0) == 2;")
    p, r = check(src, max_depth=4)
    assert verdicts_of(p, r)[0].holds is True


def test_outcome_counts_sum_to_executions():
    p, r = check(PERCPU)
    assert sum(r.outcomes.values()) == r.executions
    assert len(r.outcomes) == 2


MIGRATING = """
config { ARCH = x86; NR_CPUS = 2; PAGE_SIZE = 64; CONFIG_PREEMPTION = y; }
page L = alloc_page(GFP_KERNEL);
task t {
    void *a = kmap_local_page(L);
    int c0 = raw_smp_processor_id();
    preempt_point();
    int c1 = raw_smp_processor_id();
    kunmap_local(a);
}
task other { int x = 1; }
expect sometimes t.c0 != t.c1;
"""


def test_witnesses_with_migrations_replay_exactly():
    """A step on another CPU than replay would pick is printed as NAME@cpuN."""
    from kmaptest import program
    p = program(MIGRATING)
    r = ex.explore(p)
    explorer = ex.Explorer(p, ex.Options())
    texts = []
    for outcome, path_actions in r.witnesses.items():
        text = encode(p, path_actions)
        texts.append(text)
        run = execute(p, parse_items(p, text), trace=False)
        assert run.actions == path_actions, text
        assert explorer.outcome(run.final) == outcome, text  # type: ignore[arg-type]
    assert any("@cpu1" in t for t in texts)


SOFT_LOCKUP_T = "DEADLOCK: watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [t:1]"


def test_when_no_execution_ends_check_says_so_instead_of_vacuous_truth():
    """CONFIG_PREEMPTION=n (x86's default here) and a busy loop without a
    preemption point: the CPU never schedules the watchdog's stopper work,
    so watchdog_timer_fn() reports a soft lockup (kernel/watchdog.c)."""
    from kmap_scenarios.dsl.formats.check_text import verdicts_of
    src = """int ready = 0;
task t on cpu0 { while (ready == 0) { } }
expect always ready == 1;
expect never DEADLOCK;"""
    p, r = check(src)
    assert [o.reports for o in r.outcomes] == [(SOFT_LOCKUP_T,)]
    assert [o.ends for o in r.outcomes] == ["never"]
    assert [v.holds for v in verdicts_of(p, r)] == [False, False]


def test_a_fairly_terminating_busy_wait_is_fine():
    src = """config { NR_CPUS = 2; }
int flag = 0;
task waiter on cpu0 { while (flag == 0) { } int done = 1; }
task setter on cpu1 { flag = 1; }
expect always waiter.done == 1;"""
    from kmap_scenarios.dsl.formats.check_text import verdicts_of
    p, r = check(src)
    assert [v.holds for v in verdicts_of(p, r)] == [True]


def _same(one: ex.Result, two: ex.Result) -> None:
    assert one.outcomes == two.outcomes and one.witnesses == two.witnesses
    assert (one.states, one.transitions, one.executions, one.max_depth, one.bounded) == \
        (two.states, two.transitions, two.executions, two.max_depth, two.bounded)


@pytest.mark.parametrize("reduce", [True, False], ids=["por", "no-por"])
@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_jobs_give_identical_results(path: Path, reduce: bool) -> None:
    """--jobs spreads the search over processes (counting in the workers
    where every transition is taken, phase 2 in the parent with sleep
    sets): the same states, counts, depth and witnesses as one process
    building the whole graph (--no-por: the workers do not reduce states)."""
    p = load(str(path))
    _same(ex.explore(p, ex.Options(jobs=1, reduce=reduce, por=False)),
          ex.explore(p, ex.Options(jobs=2, reduce=reduce)))


@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_jobs_give_the_outcomes_and_verdicts_of_state_reduction(path: Path) -> None:
    """One process reduces states (runtime/search/por.py), --jobs does not:
    the same outcomes and verdicts."""
    from kmap_scenarios.dsl.formats.check_text import verdicts_of
    p = load(str(path))
    one, two = ex.explore(p), ex.explore(p, ex.Options(jobs=2))
    assert set(one.outcomes) == set(two.outcomes) and one.states <= two.states
    assert [v.holds for v in verdicts_of(p, one)] == [v.holds for v in verdicts_of(p, two)]


@pytest.mark.parametrize("reduce", [True, False], ids=["por", "no-por"])
@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_witness_by_distance_is_the_breadth_first_one(path: Path, reduce: bool) -> None:
    """With one outcome the witness follows the counting pass's distances;
    the breadth-first search over the same graph finds the same path."""
    e = ex.Explorer(load(str(path)), ex.Options(reduce=reduce))
    r = e.run()
    bfs = ex.Explorer(load(str(path)), ex.Options(reduce=reduce))
    bfs._build()
    bfs._ends()
    bfs._search()
    bfs._count()
    bfs._shortest_bfs()
    assert r.witnesses == bfs.result.witnesses
    if len(r.outcomes) == 1 and e._near is not None:
        assert e._near[0] == len(next(iter(r.witnesses.values())))


JOBS_SCENARIOS = {
    # one CPU, several outcomes: the workers count per outcome
    "lost-update": """int counter = 0;
task a on cpu0 { int v = counter; preempt_point(); counter = v + 1; }
task b on cpu0 { int v = counter; preempt_point(); counter = v + 1; }
expect sometimes counter == 1;""",
    # a busy wait: a cycle, so the parent counts
    "busy-wait": """config { NR_CPUS = 2; }
int flag = 0;
task waiter on cpu0 { while (flag == 0) { } int done = 1; }
task setter on cpu1 { flag = 1; }
expect always waiter.done == 1;""",
    # no execution ends
    "endless": """int ready = 0;
task t on cpu0 { while (ready == 0) { } }
expect never DEADLOCK;""",
    # an irq declared first: the owner hashes the tasks' parts, not the irq's
    "irq-first": """config { ARCH = x86; PAGE_SIZE = 64; CONFIG_PREEMPTION = y; }
page P = alloc_page(GFP_HIGHUSER);
page I = alloc_page(GFP_HIGHUSER);
int g = 0;
irq timer on cpu0 { void *c = kmap_local_page(I); c[0] = 3; kunmap_local(c); }
task a on cpu0 { void *m = kmap_local_page(P); g = g + 1; kunmap_local(m); }
task b on cpu0 { int v = g; preempt_point(); g = v + 2; }
expect sometimes g == 2;
expect never WARN || BUG || OOPS;""",
}


def test_the_owner_of_a_state_hashes_the_first_half_of_the_tasks() -> None:
    from kmap_scenarios.runtime.search.parallel import owner_of
    p = load_src(JOBS_SCENARIOS["irq-first"])
    assert [c.is_irq for c in p.contexts] == [True, False, False]
    owner = owner_of(p, 2)
    # task a's part is at position 1; the irq's (0) and task b's (2) do not count
    assert [owner((9, x, 9, 9)) for x in range(16)] == [hash((x,)) % 2 for x in range(16)]
    assert len({owner((x, 5, y, 9)) for x in range(16) for y in range(16)}) == 1


@pytest.mark.parametrize("jobs", [2, 3])
@pytest.mark.parametrize("name", sorted(JOBS_SCENARIOS))
def test_jobs_identical_on_outcomes_cycles_and_endless_loops(name: str, jobs: int) -> None:
    p = load_src(JOBS_SCENARIOS[name])
    for reduce in (True, False):
        _same(ex.explore(p, ex.Options(reduce=reduce, por=False)),
              ex.explore(p, ex.Options(jobs=jobs, reduce=reduce)))


def test_jobs_identical_under_a_preemption_bound() -> None:
    p = load(str(ROOT / "examples" / "conversion" / "percpu.kmap"))
    for bound in (0, 1):
        _same(ex.explore(p, ex.Options(preemption_bound=bound)),
              ex.explore(p, ex.Options(jobs=2, preemption_bound=bound)))
    p = load_src(JOBS_SCENARIOS["endless"])
    _same(ex.explore(p, ex.Options(preemption_bound=2)),
          ex.explore(p, ex.Options(jobs=2, preemption_bound=2)))


def test_jobs_fall_back_to_one_process_on_a_numbering_clash(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two part values with one content number would merge distinct states:
    a shared codec refuses, and the search runs in one process."""
    from kmap_scenarios.runtime.search import flat
    monkeypatch.setattr(flat, "content_number", lambda kind, value: 7)
    p = load(str(ROOT / "examples" / "conversion" / "percpu.kmap"))
    two = ex.explore(p, ex.Options(jobs=2))
    monkeypatch.undo()
    _same(ex.explore(p, ex.Options(por=False)), two)


def test_a_shared_codec_rejects_two_values_with_one_number() -> None:
    from kmap_scenarios.runtime.search.flat import Codec, NumberingClash
    from kmap_scenarios.runtime.kernel.state import initial_state
    c = Codec(initial_state(load(str(EXAMPLES[0]))), shared=True)
    pos = c.ram_at
    n = c.number(pos, (1, 2))
    with pytest.raises(NumberingClash):
        c.learn(c.kind[pos], n, (3, 4))
    with pytest.raises(NumberingClash):
        c.learn(c.kind[pos], n + 1, (1, 2))
    assert c.number(pos, (1, 2)) == n and c.values[c.kind[pos]][n] == (1, 2)


def test_content_numbers_are_one_digit_ints() -> None:
    """CPython keeps an int below 2**30 in one digit: hashing, comparing,
    pickling and storing it take the short paths (63-bit numbers made a
    worker's search 7% longer in instructions)."""
    from kmap_scenarios.runtime.search.flat import content_number
    values = [(-1,), (1, 2), "x" * 40, (("a", 3), None), 2**70]
    assert all(0 <= content_number(k, v) < 2**30 for k in range(20) for v in values)


def test_a_shared_codec_uses_one_int_object_per_number() -> None:
    """A number unpickled from another worker is a new object; the codec
    hands back its own, so flats share a few hot ints (not thousands of
    scattered copies) and compare by identity."""
    import pickle
    from kmap_scenarios.runtime.search.flat import Codec
    from kmap_scenarios.runtime.kernel.state import initial_state
    c = Codec(initial_state(load(str(EXAMPLES[0]))), shared=True)
    pos = c.ram_at
    k = c.kind[pos]
    mine = c.number(pos, (1, 2))
    theirs = pickle.loads(pickle.dumps(mine + 0))     # what a message brings
    assert theirs == mine and (theirs is not mine or mine < 257)
    assert c.learn(k, theirs, (1, 2)) is False
    other = pickle.loads(pickle.dumps(mine ^ 1))      # a part met elsewhere
    assert c.learn(k, other, (5, 6)) is True
    again = pickle.loads(pickle.dumps(other))
    assert c.learn(k, again, (5, 6)) is False
    assert c.number(pos, (5, 6)) is other and c.canon[again] is other
    flat = pickle.loads(pickle.dumps(tuple([mine] * c.size)))
    assert all(n is c.canon[mine] for n in c.canonical(flat))


def test_python_hashes_minus_one_and_minus_two_alike_but_content_numbers_differ() -> None:
    from kmap_scenarios.runtime.search.flat import content_number
    assert hash((-1,)) == hash((-2,))
    assert content_number(3, (-1,)) != content_number(3, (-2,))


def test_phase_1_ends_only_when_every_channel_is_drained() -> None:
    """A reported idle having sent B one message and received none; B then
    answered, A woke up and sent B a second message, and B reported idle
    again: totals agree (2 sent, 2 received) while A is still busy with
    B's answer. Counting per channel does not end phase 1 there."""
    from kmap_scenarios.runtime.search.parallel import quiet
    a_stale = ([0, 1], [0, 0])      # sent to (A, B), received from (A, B)
    b_latest = ([1, 0], [2, 0])
    assert not quiet({0: a_stale, 1: b_latest}, 2)
    assert quiet({0: ([0, 2], [0, 1]), 1: b_latest}, 2)
    assert not quiet({0: ([0, 2], [0, 1])}, 2)    # B never reported


def test_a_worker_failure_is_raised_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    from kmap_scenarios.runtime.search import memo
    def broken(*args: object, **kw: object) -> None:
        raise memo.MemoConflict("step (0, 0) gave two results for the same reads")
    monkeypatch.setattr(memo.StepMemo, "_record", broken)
    p = load(str(EXAMPLES[0]))
    with pytest.raises(memo.MemoConflict, match="two results"):
        ex.explore(p, ex.Options(jobs=2))


def test_endless_loop_outcome_sits_where_the_loop_closes_under_a_preemption_bound():
    """With a preemption bound the state keys carry a count; the endless-loop
    outcome must still attach to the looping state, not the initial one."""
    p, r = check("""int ready = 0;
task t on cpu0 { while (ready == 0) { } }
expect never DEADLOCK;""", preemption_bound=2)
    (outcome,) = r.outcomes
    assert outcome.reports == (SOFT_LOCKUP_T,)
    assert r.witnesses[outcome] == [(0, 0)]


def test_the_progress_line_shows_states_and_rate_once_a_second(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Asked for (on a terminal), a search rewrites one stderr line with
    its states and rate, at most once a second; --jobs says its count is
    an estimate."""
    e = ex.Explorer(load(str(EXAMPLES[0])), ex.Options(progress=True))
    e.acts.extend([()] * 1234)
    e._check()
    assert capsys.readouterr().err == ""          # not a second yet
    e._last_progress -= 1.0
    e._check()
    assert re.fullmatch(r"\rkmap check: 1234 states, [\d,]+ states/s ", capsys.readouterr().err)
    ex.show_progress(80, e._start, about=True)
    assert capsys.readouterr().err.startswith("\rkmap check: about 80 states, ")


GROWING = """
config { ARCH = x86; PAGE_SIZE = 64; }
int n = 0;
task t on cpu0 { while (1) { n = n + 1; } }
expect always n >= 0;
"""


def test_ctrl_c_ends_the_search_as_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A search that never ends (n grows without bound) and has no bound:
    the first SIGINT cuts it where it is, and the result says so (always
    is unproven), as --timeout does; the handler is put back after."""
    import os
    import signal
    import threading
    p = load_src(GROWING)
    before = signal.getsignal(signal.SIGINT)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        r = ex.explore(p, ex.Options(interruptible=True))
    finally:
        timer.cancel()
    assert r.bounded == ["interrupt"] and r.states > 100
    assert signal.getsignal(signal.SIGINT) is before
