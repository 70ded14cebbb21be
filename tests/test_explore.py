"""kmap check: reduction loses nothing, witnesses replay, bounds are honest."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsl.load import load
from kmaptest import check
from runtime import explore as ex
from runtime.schedule import encode, execute, parse_items

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.kmap"))


def _id(p: Path) -> str:
    return str(p.relative_to(ROOT / "examples"))


@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_reduction_never_loses_an_outcome(path: Path) -> None:
    """Sleep sets prune transitions, never states or outcomes."""
    p = load(str(path))
    full = ex.explore(p, ex.Options(reduce=False))
    red = ex.explore(p, ex.Options(reduce=True))
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
        assert explorer.outcome(run.final) == outcome, text


# Pinned state-space sizes: a change of semantics or step granularity is a
# visible edit of these numbers (states, reduced executions, unreduced).
PINNED = {
    "dma/slot_reuse.kmap": (311, 599, 599),
    "dma/slot_reuse_fixed.kmap": (202, 599, 599),
    "pkmap/exhaustion.kmap": (48, 21, 21),
    "kmap_local/preempt_restore.kmap": (31, 35, 35),
    "kmap_local/irq_nesting.kmap": (39, 7, 7),
    "conversion/percpu.kmap": (16, 5, 5),
    "conversion/thread_local.kmap": (25, 3, 19),
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
    from dsl.check_cli import verdicts_of
    p, r = check(PERCPU, preemption_bound=0)
    assert all(o.conds[0] for o in r.outcomes)      # no preemption: no lost update
    assert r.bounded == ["preemptions"]
    assert verdicts_of(p, r)[0].holds is None        # unproven, not "holds"
    p, r = check(PERCPU, preemption_bound=1)
    assert verdicts_of(p, r)[0].holds is False       # a violation is a proof


def test_depth_and_state_bounds_are_reported():
    from dsl.check_cli import verdicts_of
    for kw in ({"max_depth": 3}, {"max_states": 5}):
        p, r = check(PERCPU, **kw)
        assert r.bounded and verdicts_of(p, r)[0].holds in (None, False)


def test_sometimes_can_hold_under_a_bound():
    from dsl.check_cli import verdicts_of
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


def test_when_no_execution_ends_check_says_so_instead_of_vacuous_truth():
    from dsl.check_cli import verdicts_of
    src = """int ready = 0;
task t on cpu0 { while (ready == 0) { } }
expect always ready == 1;
expect never DEADLOCK;"""
    p, r = check(src)
    assert [o.reports for o in r.outcomes] == [("DEADLOCK: t:1 never finishes (an endless loop)",)]
    assert [v.holds for v in verdicts_of(p, r)] == [False, False]


def test_a_fairly_terminating_busy_wait_is_fine():
    src = """config { NR_CPUS = 2; }
int flag = 0;
task waiter on cpu0 { while (flag == 0) { } int done = 1; }
task setter on cpu1 { flag = 1; }
expect always waiter.done == 1;"""
    from dsl.check_cli import verdicts_of
    p, r = check(src)
    assert [v.holds for v in verdicts_of(p, r)] == [True]


@pytest.mark.parametrize("path", EXAMPLES[:8], ids=_id)
def test_jobs_give_identical_results(path: Path) -> None:
    """--jobs builds the graph in several processes; phase 2 is the same."""
    p = load(str(path))
    one = ex.explore(p, ex.Options(jobs=1))
    two = ex.explore(p, ex.Options(jobs=2))
    assert one.outcomes == two.outcomes and one.witnesses == two.witnesses
    assert (one.states, one.transitions, one.executions, one.max_depth) == \
        (two.states, two.transitions, two.executions, two.max_depth)


def test_endless_loop_outcome_sits_where_the_loop_closes_under_a_preemption_bound():
    """With a preemption bound the state keys carry a count; the endless-loop
    outcome must still attach to the looping state, not the initial one."""
    p, r = check("""int ready = 0;
task t on cpu0 { while (ready == 0) { } }
expect never DEADLOCK;""", preemption_bound=2)
    (outcome,) = r.outcomes
    assert outcome.reports == ("DEADLOCK: t:1 never finishes (an endless loop)",)
    assert r.witnesses[outcome] == [(0, 0)]
