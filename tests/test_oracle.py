"""`kmap check` against an independent oracle (issue 11).

tests/oracle.py explores naively (breadth-first over step(), no
reduction, no memo, no flat states) and builds the outcomes and verdicts
the language contract asks for. The checker (kmap_scenarios.runtime.search.explore.explore and
kmap_scenarios.dsl.formats.check_text.verdicts_of) must find the same set of outcomes, the same
verdicts and the same number of states (no more, with the state-level
reduction of runtime/search/por.py), with and without reduction, with
and without the memo, and with worker processes: on every example and on
thousands of generated scenarios with spin-waits on shared flags, maps,
preemption points, sections and irqs (tests/scenario_gen.py).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kmap_scenarios.dsl.formats.check_text import verdicts_of
from kmap_scenarios.dsl.lower.load import load, load_text
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.kernel.watchdog import stuck_reports
from kmap_scenarios.runtime.search.outcome import MIXED
from kmap_scenarios.runtime.kernel.program import Program

import oracle
from scenario_gen import partitioned, scenario

ROOT = Path(__file__).resolve().parent.parent
# Every example is small (the largest, dma/slot_reuse, has 311 states):
# none is skipped for size.
EXAMPLES = sorted((ROOT / "examples").rglob("*.kmap"))

VARIANTS = {"default": ex.Options(), "no-reduce": ex.Options(reduce=False),
            "no-memo": ex.Options(memo=False), "no-por": ex.Options(por=False)}
JOBS = ex.Options(jobs=2)

CAP = 2_000          # states the oracle explores in a generated scenario
SCENARIOS = 2_000    # generated scenarios compared under every variant
JOB_SCENARIOS = 100  # and under --jobs 2 (forking two workers is slow)
# Measured (pytest -s): 2,258 drawn for 2,000 compared (89% accepted; 93%
# without the generator's functions, 97% before issue 13: its functions,
# switch and loops, softirqs, mutexes and kmalloc make more scenarios exceed
# the cap, so the rate asked is 85%); 455 never end, 549 reach a DEADLOCK,
# 1,185 fail an expectation; about 250 s on a busy 2-core machine, with the
# examples and the jobs test.


def compare(program: Program, j: oracle.Judgement, opts: ex.Options, src: str = "") -> None:
    """The checker under ``opts`` finds what the oracle found."""
    r = ex.explore(program, opts)
    assert not r.bounded and not r.unfinished, r.bounded
    holds = [v.holds for v in verdicts_of(program, r)]
    got = set(r.outcomes)
    # state-level reduction (runtime/search/por.py) explores fewer states
    reducing = opts.por and opts.reduce and program.config.NR_CPUS > 1
    states_ok = r.states <= len(j.graph.states) if reducing else \
        r.states == len(j.graph.states)
    if got != j.outcomes or holds != j.verdicts or not states_ok:
        lines = [f"checker ({opts}) and oracle disagree", src,
                 f"states: checker {r.states}, oracle {len(j.graph.states)}",
                 f"verdicts: checker {holds}, oracle {j.verdicts}"]
        lines += [f"  only the checker: {o}" for o in sorted(got - j.outcomes, key=str)]
        lines += [f"  only the oracle:  {o}" for o in sorted(j.outcomes - got, key=str)]
        pytest.fail("\n".join(lines))
    assert set(r.witnesses) == got
    for o, path in r.witnesses.items():
        # a reduced graph keeps a shortest path to each terminal state (a
        # local step is in every execution that ends there), not always
        # into a loop that never ends
        shortest = not reducing or o.ends != "never"
        oracle.check_witness(program, j, o, path, shortest=shortest)


def test_oracle_components_of_a_known_graph() -> None:
    """The oracle's own algorithm on a graph drawn by hand: 0 -> 1 <-> 2
    -> 3 (a self-loop), 0 -> 4 <-> 5, 0 -> 6 (a dead end)."""
    succ = [[1, 4, 6], [2], [1, 3], [3], [5], [4], []]
    assert sorted(oracle.strongly_connected(succ)) == [[0], [1, 2], [3], [4, 5], [6]]
    g = oracle.Graph([], [[]] * 7, succ, [])
    assert sorted(oracle.bottom_components(g)) == [[3], [4, 5]]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_examples_match_the_oracle(path: Path) -> None:
    p = load(str(path))
    j = oracle.judge(p)
    oracle.reports_are_reachability(p, j)
    for opts in [*VARIANTS.values(), JOBS]:
        compare(p, j, opts, str(path))


# Handshakes from issue 11, with the verdicts the kernel gives them.
HANDSHAKES = {
    # q may run first and see a == 0: p then waits for ack forever
    # (cond_resched() lets cpu0 schedule, so no detector fires)
    "ack": ("""config { NR_CPUS = 2; }
int a = 0;  int ack = 0;
task p on cpu0 { a = 1; while (ack == 0) cond_resched(); }
task q on cpu1 { if (a == 1) ack = 1; }
expect never DEADLOCK;
""", [False]),
    # kunmap() without kmap(): kunmap_high() BUG()s and kills bad before
    # it sets done, so spin waits forever in every execution
    "bug_then_spin": ("""config { ARCH = x86; NR_CPUS = 2; LAST_PKMAP = 4; PAGE_SIZE = 64; }
int done = 0;
page P = alloc_page(GFP_HIGHUSER);
task spin on cpu0 { while (done == 0) cond_resched(); }
task bad on cpu1 { kunmap(P); done = 1; }
expect never BUG;
expect sometimes DEADLOCK;
expect always DEADLOCK;
""", [False, True, True]),
    # the waiter disables interrupts before the tick fires: the tick never
    # fires and g keeps changing (ARM in v6.1 has no hard-lockup detector);
    # if the tick fires first the loop is never entered
    "irqs_off_wait": ("""config { ARCH = arm; NR_CPUS = 1; CONFIG_PREEMPTION = n; }
int flag = 0; int g = 0;
task waiter on cpu0 { local_irq_disable(); while (flag == 0) { g = 2 - g; } local_irq_enable(); }
irq tick on cpu0 { flag = 1; }
expect always flag == 1;
expect sometimes g == 2;
expect sometimes DEADLOCK("irq tick never fires");
""", [False, True, True]),
}


@pytest.mark.parametrize("name", sorted(HANDSHAKES))
def test_handshakes_match_the_oracle(name: str) -> None:
    src, expected = HANDSHAKES[name]
    p = load_text(src, f"{name}.kmap")
    j = oracle.judge(p)
    assert j.verdicts == expected
    assert j.bottoms
    oracle.reports_are_reachability(p, j)
    for opts in [*VARIANTS.values(), JOBS]:
        compare(p, j, opts, src)


# Finding 1 (/work/notes/oracle-findings.md), fixed: u ends on cpu0 or
# cpu1, then t waits forever, moving between the CPUs at cond_resched().
# The stuck report's "in t on cpuN" came from whichever state of the
# component the caller listed first; it is now the lowest CPU t is on there.
MIGRATING = """config { NR_CPUS = 2; }
int f = 0;
task u { }
task t { while (f == 0) cond_resched(); }
expect sometimes DEADLOCK("on cpu1");
"""


def test_migrating_waiter_matches_the_oracle() -> None:
    p = load_text(MIGRATING, "migrating.kmap")
    compare(p, oracle.judge(p), ex.Options(), MIGRATING)


def test_stuck_reports_do_not_depend_on_the_order_of_states() -> None:
    p = load_text(MIGRATING, "migrating.kmap")
    g = oracle.reachable(p)
    comps = oracle.bottom_components(g)
    assert comps
    for members in comps:
        states = [g.states[k] for k in members]
        steps = [g.actions[k] for k in members]
        assert stuck_reports(p, states, steps) == stuck_reports(p, states[::-1], steps[::-1])


# Finding 2, fixed: the generator's `schedule();` after a loop or an if
# block was rejected as a syntax error (docs/language.md: `schedule();` in
# a body is a call of the built-in): after a nested block's `}` the
# contextual lexer took `schedule` (and `page`, `config`) for a top-level
# keyword, as the task body and a nested block were one grammar rule.
def test_schedule_call_after_a_block_parses() -> None:
    p = load_text("int f = 0;\ntask t { if (f == 0) { f = 1; } schedule(); int page = 1; }\n",
                  "t.kmap")
    assert [c.name for c in p.contexts] == ["t"]


# Finding 3 (a model question; oracle and checker agreed), fixed: ARM in v6.1 has
# no hard-lockup detector, and the soft-lockup check runs in an hrtimer on
# the stuck CPU itself (kernel/watchdog.c, watchdog_timer_fn), so a CPU
# that spins on a held lock with interrupts off hangs in silence
# (kernel/locking/spinlock_debug.c relies on the NMI watchdog), as the same
# CPU spinning on a flag does in the model.
IRQS_OFF_SPIN = """config { ARCH = arm; NR_CPUS = 1; }
spinlock_t L;
task t on cpu0 { local_irq_disable(); spin_lock(&L); spin_lock(&L); }
expect never DEADLOCK("soft lockup");
expect sometimes DEADLOCK;
"""


def test_arm_lock_spin_with_irqs_off_is_silent() -> None:
    p = load_text(IRQS_OFF_SPIN, "spin.kmap")
    j = oracle.judge(p)
    compare(p, j, ex.Options(), IRQS_OFF_SPIN)
    assert j.verdicts == [True, True]


def _judged(src: str, seen: Counter[str]) -> tuple[Program, oracle.Judgement]:
    """Load a generated scenario and judge it; too big ones are rejected."""
    seen["drawn"] += 1
    p = load_text(src, "gen.kmap")
    try:
        j = oracle.judge(p, CAP)
    except oracle.TooBig:
        assume(False)
        raise   # unreachable: assume(False) raises
    seen["compared"] += 1
    seen["never ends"] += bool(j.bottoms)
    seen["mixed"] += any(c == MIXED for o in j.outcomes for c in o.conds)
    seen["deadlock"] += any("DEADLOCK" in r for o in j.outcomes for r in o.reports)
    seen["fails"] += not all(j.verdicts)
    return p, j


def test_generated_scenarios_match_the_oracle() -> None:
    """2,000 generated scenarios under every sequential variant; most are
    accepted (the oracle's cap rejects a few), and many never end."""
    seen: Counter[str] = Counter()

    @settings(max_examples=SCENARIOS, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(scenario())
    def one(src: str) -> None:
        p, j = _judged(src, seen)
        oracle.reports_are_reachability(p, j)
        for opts in VARIANTS.values():
            compare(p, j, opts, src)

    one()
    print(f"oracle: {dict(seen)}")   # pytest -s shows the acceptance rate
    assert seen["compared"] >= SCENARIOS, seen
    assert seen["compared"] >= 0.85 * seen["drawn"], seen   # acceptance rate
    # the scenarios exercise what issue 11 is about
    assert seen["never ends"] >= 0.2 * seen["compared"], seen
    assert seen["mixed"] >= 10, seen
    assert seen["fails"] >= 0.2 * seen["compared"], seen


def test_generated_scenarios_match_the_oracle_with_jobs() -> None:
    seen: Counter[str] = Counter()

    @settings(max_examples=JOB_SCENARIOS, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(scenario())
    def one(src: str) -> None:
        p, j = _judged(src, seen)
        compare(p, j, JOBS, src)

    one()
    assert seen["compared"] >= JOB_SCENARIOS, seen


TWIN_SCENARIOS = 120   # generated scenarios with interchangeable tasks


def test_generated_twins_match_the_oracle() -> None:
    """Scenarios whose first task has one or two twins (the same body and
    placement): the search steps one state per orbit of them
    (runtime/search/symmetry.py, on by default) and must still find the
    oracle's outcomes, verdicts, states and shortest witnesses, with and
    without sleep sets and the memo."""
    seen: Counter[str] = Counter()

    @settings(max_examples=TWIN_SCENARIOS, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(scenario(copies=3))
    def one(src: str) -> None:
        p, j = _judged(src, seen)
        for opts in VARIANTS.values():
            assert opts.symmetry
            compare(p, j, opts, src)
        seen["reduced"] += ex.explore(p).symmetric_states < len(j.graph.states)

    one()
    assert seen["compared"] >= TWIN_SCENARIOS, seen
    assert seen["reduced"] >= 0.9 * seen["compared"], seen


PARTITIONED = 300   # generated scenarios whose CPUs mostly share nothing
PARTITIONED_TWINS = 150   # and with a CPU's two tasks interchangeable
PARTITIONED_PKMAP = 300   # and with kmap() and kunmap() on a small pool


def _oracle_on(scenarios: st.SearchStrategy[str], count: int, label: str) -> Counter[str]:
    """``count`` generated scenarios, each judged by the oracle and
    compared under every variant; beside _judged's counts, how many the
    default search reduces (fewer states than the oracle's), give a CPU's
    actions as a persistent set, and reduce with symmetry and the
    state-level reduction both."""
    seen: Counter[str] = Counter()

    @settings(max_examples=count, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(scenarios)
    def one(src: str) -> None:
        p, j = _judged(src, seen)
        for opts in VARIANTS.values():
            compare(p, j, opts, src)
        r = ex.explore(p)
        seen["reduced"] += r.states < len(j.graph.states)
        seen["cpu sets"] += r.reduced > 0
        seen["both"] += r.symmetric_states > 0 and r.reduced > 0

    one()
    print(f"{label}: {dict(seen)}")
    assert seen["compared"] >= count, seen
    return seen


def test_generated_partitioned_scenarios_match_the_oracle() -> None:
    """Pinned tasks on two or three CPUs with their own pages, flags and
    locks (tests/scenario_gen.py ``partitioned``), where one CPU's actions
    are often a persistent set (runtime/search/por.py), and now and then
    a fragment another CPU sees: the oracle's outcomes, verdicts and
    witnesses under every variant, fewer states in most of them."""
    seen = _oracle_on(partitioned(), PARTITIONED, "partitioned")
    assert seen["reduced"] >= 0.6 * seen["compared"], seen
    assert seen["fails"] >= 0.1 * seen["compared"], seen


def test_generated_partitioned_twins_match_the_oracle() -> None:
    """Pinned tasks on two or three CPUs, a CPU's second task a copy of
    its first: symmetry steps one state per orbit while the state-level
    reduction picks persistent sets in the canonical states
    (runtime/search/explore.py ``_reducer``); the oracle's outcomes,
    verdicts and witnesses under every variant, and both reductions at
    work together in many of them."""
    seen = _oracle_on(partitioned(twins=True), PARTITIONED_TWINS, "partitioned twins")
    assert seen["both"] >= 0.3 * seen["compared"], seen


def test_generated_partitioned_pkmap_scenarios_match_the_oracle() -> None:
    """Pinned tasks on two or three CPUs that kmap() and kunmap() their own
    pages on a pool of 2 or 4 slots (wraps, flushes, sleepers), now and
    then another CPU's page, a use after kunmap, an unbalanced kunmap, a
    leaked kmap (tests/scenario_gen.py ``partitioned(pkmap=True)``): the
    pool's arguments of runtime/search/por.py ("The pkmap pool": slots no
    other CPU can write, no wrap to come) must lose nothing the oracle
    finds, under every variant, and reduce many of them."""
    seen = _oracle_on(partitioned(pkmap=True), PARTITIONED_PKMAP, "partitioned pkmap")
    assert seen["reduced"] >= 0.4 * seen["compared"], seen
    assert seen["fails"] >= 0.1 * seen["compared"], seen
