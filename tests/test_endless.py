"""Executions that never end: bottom components, who is stuck, which detector.

Kernel facts (v6.1): watchdog_timer_fn() prints "BUG: soft lockup - CPU#%d
stuck for %us! [%s:%d]" when the CPU has not scheduled its stopper work
for 2 * watchdog_thresh (kernel/watchdog.c); with interrupts off that
hrtimer cannot fire, and on x86 the perf NMI's watchdog_overflow_callback()
prints "Watchdog detected hard LOCKUP on cpu %d" (kernel/watchdog_hld.c,
pr_fmt "NMI watchdog: "; arch/arm/Kconfig selects no hard-lockup
detector); check_hung_task() reports a task in TASK_UNINTERRUPTIBLE, as
kmap_high() sleeps on pkmap_map_wait (kernel/hung_task.c, mm/highmem.c);
__cond_resched() lets the watchdog thread run, so a loop with
cond_resched() is no soft lockup.
"""

from __future__ import annotations

from array import array

import pytest

from kmaptest import check, program, replays, run
from kmap_scenarios.runtime.search.graph import acyclic, bottom_components


def _graph(edges: dict[int, list[int]], n: int) -> tuple[list[tuple[int, ...]], array[int], array[int]]:
    """acts/off/dst for a graph given as successor lists (-1: a cut edge;
    a state missing from ``edges`` is a dead end)."""
    acts: list[tuple[int, ...]] = []
    off = array("q")
    dst = array("q")
    for s in range(n):
        succ = edges.get(s)
        if succ is None:
            acts.append(())
            off.append(-1)
            continue
        acts.append(tuple(range(len(succ))))
        off.append(len(dst))
        dst.extend(succ)
    return acts, off, dst


@pytest.mark.parametrize("edges, n, want", [
    ({0: [1], 1: [2]}, 3, []),                           # a path to a dead end
    ({0: [1], 1: [1]}, 2, [[1]]),                        # a self-loop
    ({0: [1], 1: [2], 2: [1]}, 3, [[1, 2]]),             # a two-state loop
    ({0: [1], 1: [2, 3], 2: [1]}, 4, []),                # a loop with a way out
    ({0: [1, 3], 1: [2], 2: [1], 3: [4], 4: [3]}, 5, [[1, 2], [3, 4]]),
    ({0: [1], 1: [2], 2: [1, -1]}, 3, []),               # cut by a bound: not proven bottom
    ({0: [1], 1: [2], 2: [1, 3]}, 4, []),                # 3 unexpanded (a dead end)
    ({0: [1], 1: [2], 2: [3, 1], 3: [4], 4: [3]}, 5, [[3, 4]]),  # a loop into a loop
    ({0: [0]}, 1, [[0]]),                                 # the initial state loops
    ({0: [1, 2], 1: [2], 2: [1, 3], 3: [3]}, 4, [[3]]),  # nested exits
])
def test_bottom_components(edges: dict[int, list[int]], n: int, want: list[list[int]]) -> None:
    assert bottom_components(*_graph(edges, n)) == want


def test_bottom_components_of_a_long_chain_need_no_recursion() -> None:
    n = 200_000
    edges = {s: [s + 1] for s in range(n - 1)}
    edges[n - 1] = [n - 2]
    assert bottom_components(*_graph(edges, n)) == [[n - 2, n - 1]]


@pytest.mark.parametrize("edges, n, want", [
    ({0: [1], 1: [2]}, 3, True),                         # a path to a dead end
    ({0: [1, 2], 1: [3], 2: [3]}, 4, True),              # a diamond
    ({0: [1, 2], 1: [3], 2: [1]}, 4, True),              # a cross edge to a shallower state
    ({0: [1], 1: [1]}, 2, False),                        # a self-loop
    ({0: [1], 1: [2, 3], 2: [1]}, 4, False),             # a loop with a way out
    ({0: [1], 1: [2], 2: [1, -1]}, 3, False),            # a loop cut by a bound elsewhere
    ({0: [1, -1], 1: [-1]}, 2, True),                    # cut edges are no edges
    ({0: [2], 1: [0], 2: []}, 3, True),                  # a state no path reaches
    ({0: [2], 1: [1], 2: []}, 3, False),                 # and its own loop
])
def test_acyclic(edges: dict[int, list[int]], n: int, want: bool) -> None:
    assert acyclic(*_graph(edges, n)) is want


def test_acyclic_agrees_with_components_and_self_loops_on_random_graphs() -> None:
    # a graph has a cycle iff some strongly connected component has two
    # states or a self-loop; checked by brute force (reachability)
    import random
    rng = random.Random(16)
    for _ in range(400):
        n = rng.randint(1, 9)
        edges = {s: [rng.randrange(-1, n) for _ in range(rng.randint(0, 3))]
                 for s in range(n) if rng.random() < 0.85}
        reach = [{t for t in edges.get(s, []) if t >= 0} for s in range(n)]
        for _ in range(n):
            reach = [r.union(*(reach[t] for t in r)) for r in reach]
        cyclic = any(s in reach[s] for s in range(n))
        assert acyclic(*_graph(edges, n)) is (not cyclic), edges


def test_acyclic_long_chain_needs_no_recursion() -> None:
    n = 200_000
    assert acyclic(*_graph({s: [s + 1] for s in range(n - 1)}, n)) is True
    assert acyclic(*_graph({**{s: [s + 1] for s in range(n - 1)}, n - 1: [0]}, n)) is False


def _reports(src: str) -> list[tuple[str, ...]]:
    _, r = check(src)
    return sorted(o.reports for o in r.outcomes)


def test_a_spin_without_preemption_point_is_a_soft_lockup_on_a_non_preemptible_kernel() -> None:
    assert _reports("""config { ARCH = x86; CONFIG_PREEMPTION = n; }
int flag = 0;
task t on cpu0 { while (flag == 0) { } }""") == [
        ("DEADLOCK: watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [t:1]",)]


def test_cond_resched_in_the_loop_lets_the_watchdog_run() -> None:
    assert _reports("""config { ARCH = x86; CONFIG_PREEMPTION = n; }
int flag = 0;
task t on cpu0 { while (flag == 0) cond_resched(); }""") == [
        ("DEADLOCK: t:1 never returns to user space",)]


def test_a_preemptible_spin_has_no_detector() -> None:
    assert _reports("""config { ARCH = x86; CONFIG_PREEMPTION = y; }
int flag = 0;
task t on cpu0 { while (flag == 0) { } }""") == [("DEADLOCK: t:1 never returns to user space",)]


def test_preempt_disable_around_the_spin_is_a_soft_lockup_even_when_preemptible() -> None:
    assert _reports("""config { ARCH = x86; CONFIG_PREEMPTION = y; }
int flag = 0;
task t on cpu0 { preempt_disable(); while (flag == 0) { } preempt_enable(); }""") == [
        ("DEADLOCK: watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [t:1]",)]


def test_interrupts_off_is_a_hard_lockup_on_x86_and_silent_on_arm() -> None:
    body = """int flag = 0;
task t on cpu0 { local_irq_disable(); while (flag == 0) { } local_irq_enable(); }"""
    assert _reports("config { ARCH = x86; }\n" + body) == [
        ("DEADLOCK: NMI watchdog: Watchdog detected hard LOCKUP on cpu 0",)]
    assert _reports("config { ARCH = arm; }\n" + body) == [
        ("DEADLOCK: t:1 never returns to user space",)]


def test_a_task_starved_by_a_spinner_on_its_cpu_is_named_too() -> None:
    out = _reports("""config { ARCH = x86; CONFIG_PREEMPTION = n; }
int flag = 0;
task spinner on cpu0 { while (flag == 0) { } }
task setter on cpu0 { flag = 1; }""")
    # setter first: both end; spinner first: it never lets setter run
    assert out == [(),
                   ("DEADLOCK: watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [spinner:1]",
                    "DEADLOCK: setter:2 never runs")]


def test_a_report_before_an_endless_loop_is_part_of_its_outcome() -> None:
    """The issue's second scenario: q's kunmap() BUGs before it sets the
    flag, so p spins for ever; check must say BUG and name p, not q."""
    from kmap_scenarios.dsl.formats.check_text import verdicts_of
    p, r = check("""config { NR_CPUS = 2; LAST_PKMAP = 4; }
page P = alloc_page(GFP_HIGHUSER);
int flag = 0;
task p on cpu0 { while (flag == 0) cond_resched(); }
task q on cpu1 { kunmap(P); flag = 1; }
expect never BUG;""")
    (o,) = r.outcomes
    assert o.ends == "never"
    assert o.reports == ("BUG: kernel BUG at mm/highmem.c:kunmap_high!",
                         "DEADLOCK: p:1 never returns to user space")
    assert [v.holds for v in verdicts_of(p, r)] == [False]


def test_the_issue_handshake_can_hang() -> None:
    """q runs first and sees a == 0: p spins for ever on a preemptible
    loop (no detector); check no longer says never DEADLOCK holds."""
    from kmap_scenarios.dsl.formats.check_text import verdicts_of
    p, r = check("""int a = 0;  int ack = 0;
task p on cpu0 { a = 1; while (ack == 0) cond_resched(); }
task q on cpu1 { if (a == 1) ack = 1; }
expect never DEADLOCK;""")
    assert sorted(o.text() for o in r.outcomes) == ["DEADLOCK: p:1 never returns to user space",
                                                     "no reports"]
    assert [v.holds for v in verdicts_of(p, r)] == [False]
    never = next(o for o in r.outcomes if o.ends == "never")
    assert r.witnesses[never] == [(1, 1), (0, 0), (0, 0)]


def test_a_sleeper_on_the_pool_is_a_hung_task_in_a_terminal_state() -> None:
    assert _reports("""config { ARCH = x86; LAST_PKMAP = 1; PAGE_SIZE = 64; }
page A = alloc_page(GFP_HIGHUSER);
page B = alloc_page(GFP_HIGHUSER);
task t on cpu0 { void *a = kmap(A); void *b = kmap(B); }""") == [
        ("DEADLOCK: INFO: task t:1 blocked for more than 120 seconds.",)]


def test_values_that_change_inside_a_loop_are_all_shown_and_judged_at_every_state() -> None:
    from kmap_scenarios.dsl.formats.check_text import verdicts_of
    p, r = check("""config { CONFIG_PREEMPTION = y; }
int x = 0;
task t on cpu0 { while (1) { x = 1; x = 0; } }
expect always x == 0;
expect never x == 1;
expect sometimes x == 1;""")
    (o,) = r.outcomes
    assert o.values == (("x", "0|1"),) and o.ends == "never"
    assert [v.holds for v in verdicts_of(p, r)] == [False, False, True]
    assert [(v.positive, v.negative) for v in verdicts_of(p, r)] == [(1, 1), (1, 1), (1, 1)]


def test_run_stops_where_it_enters_a_loop_it_cannot_leave() -> None:
    p, e = run("""config { NR_CPUS = 2; }
int flag = 0;
task p on cpu0 { while (flag == 0) cond_resched(); }
task q on cpu1 { int x = 1; }""")
    assert e.endless is not None and not e.truncated
    assert len(e.actions) < 20


def test_run_leaves_a_loop_that_can_be_left() -> None:
    """The default policy keeps running the last task while it can; at a
    state it reaches again it takes the next action instead (fairness)."""
    p, e = run("""config { NR_CPUS = 2; }
int a = 0; int ack = 0;
task p on cpu0 { a = 1; while (ack == 0) cond_resched(); }
task q on cpu1 { if (a == 1) ack = 1; }""")
    assert e.endless is None and not e.truncated
    assert e.final is not None and e.final.globals == (1, 1)


def test_every_never_ending_witness_replays_exactly() -> None:
    from kmap_scenarios.runtime.search import explore as ex
    p = program("""config { NR_CPUS = 2; LAST_PKMAP = 4; }
page P = alloc_page(GFP_HIGHUSER);
int flag = 0;
task p on cpu0 { while (flag == 0) cond_resched(); }
task q on cpu1 { kunmap(P); flag = 1; }
task r on cpu1 { if (flag == 0) flag = 2; }""")
    replays(p, ex.explore(p))


def test_a_stuck_report_does_not_depend_on_the_order_of_the_component() -> None:
    """An unbound task waiting for ever moves between CPUs at each
    cond_resched(): its report names the lowest CPU it runs on there
    (found by the oracle of tests/oracle.py: the CPU of the first state
    the search happened to meet decided `DEADLOCK("on cpu1")`)."""
    from kmap_scenarios.runtime.kernel.watchdog import stuck_reports
    from kmap_scenarios.runtime.kernel.machine import enabled
    from kmap_scenarios.runtime.search import explore as ex
    p = program("""config { NR_CPUS = 2; }
int f = 0;
task u { }
task t { while (f == 0) cond_resched(); }
expect sometimes DEADLOCK("on cpu1");""")
    e = ex.Explorer(p, ex.Options())
    e._build()
    from kmap_scenarios.runtime.search.graph import acyclic, bottom_components
    comps = bottom_components(e.acts, e.off, e.dst)
    for comp, sts in e._states_of(comps):
        steps = [enabled(p, s) for s in sts]
        forward = stuck_reports(p, sts, steps)
        assert forward == stuck_reports(p, sts[::-1], steps[::-1])
        assert [r.cpu for r in forward] == [0]


def _texts(src: str) -> list[str]:
    """The stuck contexts' reports of every outcome, in full (kmap run's
    text), from replaying each outcome's witness."""
    from kmap_scenarios.runtime.search import explore as ex
    from kmap_scenarios.runtime.kernel.reports import Kind, kind_of, render
    from kmap_scenarios.runtime.search.schedule import encode, execute, parse_items
    p = program(src)
    out = []
    for path in ex.explore(p).witnesses.values():
        e = execute(p, parse_items(p, encode(p, path)) if path else None, trace=False)
        assert e.final is not None
        out += [render(p, e.final, r) for r in e.final.reports if kind_of(r.code) == Kind.DEADLOCK]
    return sorted(out)


def test_never_bug_fails_on_a_soft_lockup() -> None:
    """watchdog_timer_fn() prints "BUG: soft lockup" (kernel/watchdog.c):
    docs/language.md's BUG covers a kernel "BUG:" splat, so `BUG` matches the
    soft lockup as well as `DEADLOCK` does (QA pass of issue 11, D0)."""
    from kmap_scenarios.dsl.formats.check_text import verdicts_of
    p, r = check("""int flag = 0;
task p on cpu0 { while (flag == 0) { } }
expect never BUG;
expect never DEADLOCK("soft lockup");""")
    assert [v.holds for v in verdicts_of(p, r)] == [False, False]


def test_a_lock_spin_with_interrupts_off_on_arm_prints_no_watchdog_line() -> None:
    """spin_lock_irqsave() spins with interrupts masked: the soft-lockup
    hrtimer cannot fire on that CPU and arch/arm/Kconfig selects no
    hard-lockup detector in v6.1 (QA D2)."""
    texts = _texts("""config { ARCH = arm; NR_CPUS = 2; }
spinlock_t L;
task p on cpu0 { spin_lock(&L); BUG_ON(1); }
task q on cpu1 { spin_lock_irqsave(&L); spin_unlock_irqrestore(&L); }""")
    assert texts == ["DEADLOCK: q:2 never returns to user space\n"
                     "q:2 spins on L with interrupts disabled (arm has no hard-lockup detector in "
                     "v6.1)\n  in q on cpu1 at t.kmap:4: task q on cpu1 { spin_lock_irqsave(&L); "
                     "spin_unlock_irqrestore(&L); }"]


def test_an_rt_spinlock_waiter_sleeps_unseen() -> None:
    """PREEMPT_RT: the waiter sleeps in TASK_RTLOCK_WAIT
    (kernel/locking/rtmutex.c rtlock_slowlock_locked), its CPU schedules,
    and check_hung_tasks() watches only TASK_UNINTERRUPTIBLE (QA D3)."""
    texts = _texts("""config { CONFIG_PREEMPT_RT = y; NR_CPUS = 2; }
spinlock_t L;
task p on cpu0 { spin_lock(&L); BUG_ON(1); }
task q on cpu1 { spin_lock(&L); spin_unlock(&L); }""")
    assert len(texts) == 1 and "soft lockup" not in texts[0]
    assert "q:2 sleeps on L for ever (PREEMPT_RT: an rtmutex" in texts[0]


@pytest.mark.parametrize("body, why", [
    # preempt_enable() does not schedule without CONFIG_PREEMPTION
    # (include/linux/preempt.h): the loop has no preemption point
    ("preempt_disable(); preempt_enable();",
     "CONFIG_PREEMPTION=n and the loop has no preemption point"),
    ("local_irq_disable(); local_irq_enable();",
     "CONFIG_PREEMPTION=n and the loop has no preemption point"),
])
def test_a_soft_lockup_gives_the_reason_that_holds_throughout(body: str, why: str) -> None:
    (text,) = _texts(f"""int flag = 0;
task p on cpu0 {{ while (flag == 0) {{ {body} }} }}""")
    assert text.split("\n")[1] == f"p:1 keeps cpu0 without scheduling: {why}"


def test_the_hung_task_detector_needs_a_cpu_that_schedules() -> None:
    """khungtaskd is a SCHED_OTHER kthread (kernel/hung_task.c): with the
    only CPU hogged by a spinner it never runs, so the pkmap sleeper gets
    no 'blocked for more than 120 seconds' (QA D8)."""
    texts = _texts("""config { ARCH = x86; LAST_PKMAP = 1; PAGE_SIZE = 64; }
page A = alloc_page(GFP_HIGHUSER);
page B = alloc_page(GFP_HIGHUSER);
int stop = 0;
task holder on cpu0 { void *a = kmap(A); }
task t on cpu0 { void *b = kmap(B); kunmap(B); }
task p on cpu0 { while (stop == 0) { } }""")
    assert not any("blocked for more than" in t for t in texts)
    assert any("t:2 sleeps on pkmap_map_wait in kmap_high() for ever; khungtaskd never runs" in t
               for t in texts)


def test_a_counterexample_in_a_loop_stops_where_the_condition_fails() -> None:
    """x is 1 or 2 in the loop: `always x == 1` fails at the states where
    x == 2, and the counterexample goes to one of them (QA usability 2),
    so that the replay shows the failing value."""
    from kmap_scenarios.dsl.formats.check_text import verdicts_of
    from kmap_scenarios.runtime.search.schedule import execute, replay
    p, r = check("""int x = 0;
task t on cpu0 { while (1) { x = 1; x = 2; } }
expect always x == 1;
expect sometimes x == 2;""")
    v = verdicts_of(p, r)
    assert [x.holds for x in v] == [False, True]
    assert v[0].witness is not None and v[1].witness is not None
    for w in (v[0].witness, v[1].witness):
        end = replay(p, w)
        assert end.final is not None and end.final.globals == (2,)


def test_huge_counts_are_printed_short() -> None:
    from kmap_scenarios.dsl.formats.check_text import count_text
    assert count_text(123) == "123" and count_text(10 ** 12 - 1) == "999999999999"
    # from 10^12 on: scientific, so a column of counts stays 12 wide
    assert count_text(10 ** 12) == "~1.000e+12" and count_text(10 ** 15 - 1) == "~1.000e+15"
    assert count_text(12345 * 10 ** 112) == "~1.234e+116"


WARN_LOOP = """config { NR_CPUS = 1; }
int stop;
task t on cpu0 {
    while (!stop) {
        WARN_ON(1);
        preempt_point();
    }
}
task u on cpu0 {
    stop = 1;
}
"""


def test_a_warn_in_a_loop_prints_each_pass_and_is_kept_once() -> None:
    """WARN_ON() (include/asm-generic/bug.h) prints on every pass; the
    state keeps the report once, so the loop's states repeat and the search
    ends without a bound (it grew a report a pass before, and never ended)."""
    from kmaptest import events
    p, e = run(WARN_LOOP, "t:6, u, t")
    printed = [ev for ev in events(e) if ev.startswith("report WARN")]
    assert len(printed) == 2
    assert len(e.final.reports) == 1
    p, r = check(WARN_LOOP)
    assert not r.bounded
    assert r.states == 9 and len(r.outcomes) == 2
