"""runtime/search/shrink.py: random counterexamples made small, replayed exactly.

The oracle for "smallest" is a brute-force walk over every execution of
the scenario (no memo, no reduction): the fewest steps of any execution
that breaks the expectation, then the fewest context switches among those.
"""

from __future__ import annotations

from kmaptest import program
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.kernel.machine import Action, enabled, final_state, step
from kmap_scenarios.runtime.search.outcome import Observer
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.search.schedule import encode, execute, parse_items, random_choice
from kmap_scenarios.runtime.search.shrink import breach, breaks, outcome_of, shrink, switches
from kmap_scenarios.runtime.kernel.state import State, initial_state

# A lost update on one CPU: without CONFIG_PREEMPTION a task gives the CPU
# up only at preempt_point(), between its read and its write of g. A third
# task waits for both with cond_resched() (a voluntary preemption point,
# kernel/sched/core.c __cond_resched), so that random executions wander
# through its loop between the steps that matter.
LOST_UPDATE = """config { ARCH = x86; NR_CPUS = 1; CONFIG_PREEMPTION = n; }
int g = 0;
int done = 0;
task w on cpu0 { while (done < 2) cond_resched(); }
task a on cpu0 { int v = g; preempt_point(); g = v + 1; done = done + 1; }
task b on cpu0 { int x = g; preempt_point(); g = x + 1; done = done + 1; }
expect always g == 2;
"""


def smallest(p: Program, k: int, limit: int = 40) -> tuple[int, int]:
    """(steps, switches) of the smallest execution breaking expectation
    k: breadth-first over every path, layer by layer, keeping the fewest
    switches per (state, last context); the first layer with a terminal
    state that breaks it (this scenario has no execution that never
    ends)."""
    obs = Observer(p)
    layer: dict[tuple[State, int], int] = {(initial_state(p), -1): 0}
    for depth in range(limit):
        found = [n for (s, _), n in layer.items() if not enabled(p, s)
                 and breaks(p, k, obs.outcome(final_state(p, s)))]
        if found:
            return depth, min(found)
        nxt: dict[tuple[State, int], int] = {}
        for (s, last), n in layer.items():
            for a in enabled(p, s):
                key = (step(p, s, a)[0], a[0])
                m = n + (last >= 0 and last != a[0])
                if nxt.get(key, m + 1) > m:
                    nxt[key] = m
        layer = nxt
    raise AssertionError("no counterexample within the limit")


def random_counterexamples(p: Program, k: int, seeds: range) -> list[list[Action]]:
    obs = Observer(p)
    out = []
    for seed in seeds:
        run = execute(p, None, random_choice(seed), trace=False)
        if breaks(p, k, outcome_of(obs, run)):
            out.append(run.actions)
    return out


def replays_exactly(p: Program, schedule: str, actions: list[Action], k: int) -> None:
    """The printed schedule, replayed as `kmap run --schedule` does, walks
    the shrunk path and breaks the expectation."""
    run = execute(p, parse_items(p, schedule), trace=False)
    assert run.actions[:len(actions)] == actions
    assert run.final is not None
    assert breaks(p, k, outcome_of(Observer(p), run))


def test_a_long_random_lost_update_shrinks_to_the_smallest_one() -> None:
    p = program(LOST_UPDATE)
    assert smallest(p, 0) == (9, 3)     # a reads, b runs through, a writes, w sees done
    longest = max(random_counterexamples(p, 0, range(40)), key=lambda a: (len(a), switches(a)))
    assert (len(longest), switches(longest)) == (17, 7)
    assert encode(p, longest) == "w:4, a:2, w:2, b:2, w:2, a, b, w"
    got = shrink(p, longest, 0)
    assert got is not None
    assert (len(got.actions), switches(got.actions)) == (9, 3)
    assert got.schedule == encode(p, got.actions) == "b:2, a, b, w"
    assert (got.steps_before, got.switches_before) == (17, 7)
    replays_exactly(p, got.schedule, got.actions, 0)


def test_every_random_lost_update_shrinks_to_a_smallest_one() -> None:
    p = program(LOST_UPDATE)
    found = random_counterexamples(p, 0, range(30))
    assert len(found) >= 10
    for actions in found:
        got = shrink(p, actions, 0)
        assert got is not None
        assert (len(got.actions), switches(got.actions)) == (9, 3), encode(p, actions)
        assert got.schedule in ("a:2, b, a, w", "b:2, a, b, w")
        replays_exactly(p, got.schedule, got.actions, 0)


def test_shrinking_is_deterministic_and_bounded() -> None:
    p = program(LOST_UPDATE)
    start = random_counterexamples(p, 0, range(40))[0]
    one, two = shrink(p, start, 0), shrink(p, start, 0)
    assert one is not None and two is not None
    assert (one.schedule, one.replays) == (two.schedule, two.replays)
    # no replay beyond the first (the start itself, which must reproduce)
    # and the final one: nothing is shrunk
    none = shrink(p, start, 0, max_replays=1)
    assert none is not None and none.actions == start and none.replays == 1


def test_a_path_that_breaks_nothing_is_not_shrunk() -> None:
    p = program(LOST_UPDATE)
    good = execute(p, parse_items(p, "a, b, w"), trace=False)
    assert good.final is not None and good.final.globals[0] == 2
    assert shrink(p, good.actions, 0) is None


# kunmap() once too often: kunmap_high() BUG()s (mm/highmem.c) while another
# CPU counts for long. The report decides `never BUG` where it is made.
BUG_THEN_LOOP = """config { ARCH = x86; NR_CPUS = 2; LAST_PKMAP = 4; PAGE_SIZE = 64; }
page P = alloc_page(GFP_HIGHUSER);
int g = 0;
task t on cpu0 { void *v = kmap(P); kunmap(P); kunmap(P); }
task u on cpu1 { for (int i = 0; i < 200; i++) { g = i; } g = 0; }
expect never BUG;
"""


def test_a_report_shrinks_to_the_steps_that_make_it() -> None:
    p = program(BUG_THEN_LOOP)
    start = random_counterexamples(p, 0, range(3))[0]
    assert len(start) > 400
    got = shrink(p, start, 0)
    assert got is not None
    assert got.schedule == "t" and len(got.actions) == got.decided == 3
    # the execution it stands for goes on under the default policy to its end
    assert len(got.execution.actions) > 400 and got.outcome.ends == "final"
    replays_exactly(p, got.schedule, got.actions, 0)


def test_a_cut_execution_shrinks_on_its_reports() -> None:
    """Cut at the step cap, an execution breaks `never BUG` only because
    its reports already do; so does its shrunk replay."""
    p = program(BUG_THEN_LOOP)
    run = execute(p, parse_items(p, "u:50, t:1, u:20, t"), trace=False, max_steps=100)
    assert run.truncated
    o = outcome_of(Observer(p), run)
    assert o.ends == "cut" and breaks(p, 0, o)
    got = shrink(p, run.actions, 0, max_steps=100)
    assert got is not None and got.schedule == "t"


# Two ways to break one expectation: a BUG (kunmap_high) or a WARN (a task
# that returns to user space with a kmap_local mapping: the kernel's
# DEBUG_LOCKS_WARN_ON(current->kmap_ctrl.idx)). A shrunk BUG stays a BUG.
BUG_OR_WARN = """config { ARCH = x86; NR_CPUS = 1; LAST_PKMAP = 4; PAGE_SIZE = 64; }
page P = alloc_page(GFP_HIGHUSER);
int g = 0;
task t on cpu0 { int seen = g; if (seen == 0) { void *v = kmap(P); kunmap(P); kunmap(P); } }
task w on cpu0 { g = 1; void *m = kmap_local_page(P); }
expect never BUG || WARN;
"""


def test_a_violation_keeps_its_report_kinds() -> None:
    p = program(BUG_OR_WARN)
    obs = Observer(p)
    both = execute(p, parse_items(p, "t, w"), trace=False)
    warn = execute(p, parse_items(p, "w, t"), trace=False)
    assert both.final is not None and warn.final is not None
    b1 = breach(p, 0, outcome_of(obs, both), both.final)
    b2 = breach(p, 0, outcome_of(obs, warn), warn.final)
    assert b1 is not None and b2 is not None and b1 != b2
    assert b1.reports == (True, True) and b2.reports == (False, True)
    got = shrink(p, both.actions, 0)
    assert got is not None
    assert got.execution.final is not None
    assert breach(p, 0, got.outcome, got.execution.final) == b1


# The handshake: q may run before p sets a, and p spins forever.
HANDSHAKE = """int a = 0;  int ack = 0;
task p on cpu0 { a = 1; while (ack == 0) cond_resched(); }
task q on cpu1 { if (a == 1) ack = 1; }
expect never DEADLOCK;
"""


def test_an_execution_that_never_ends_shrinks_to_where_it_enters_its_component() -> None:
    p = program(HANDSHAKE)
    starts = random_counterexamples(p, 0, range(20))
    assert starts
    full = ex.explore(p)
    shortest = min(len(w) for o, w in full.witnesses.items() if o.ends == "never")
    for start in starts:
        got = shrink(p, start, 0)
        assert got is not None and got.outcome.ends == "never"
        assert got.outcome in full.outcomes
        assert len(got.actions) == shortest == 3 and got.schedule == "q, p:2"
        replays_exactly(p, got.schedule, got.actions, 0)


def test_a_deadline_stops_shrinking() -> None:
    p = program(LOST_UPDATE)
    start = random_counterexamples(p, 0, range(40))[0]
    assert shrink(p, start, 0, deadline=0.0) is None   # not even the start replays
