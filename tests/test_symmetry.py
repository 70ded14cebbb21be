"""Symmetry reduction (runtime/search/symmetry.py, issue 16).

What makes it sound is one property of the model: renaming interchangeable
tasks maps every transition onto a transition (``step(g s, g a) ==
g step(s, a)``, ``enabled(g s) == g enabled(s)`` in the model's order).
It is checked here on every transition of every state of every example
and of the symmetric scenarios below, for every permutation of the
group. Then the search with symmetry must give exactly what the search
without it gives (outcomes with their counts, verdicts, witnesses, states,
transitions, executions, depth, warnings) while stepping fewer states,
and every witness must replay with `kmap run --schedule`.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from kmap_scenarios.dsl.formats.check_text import verdicts_of
from kmap_scenarios.dsl.lower.load import load, load_text
from kmap_scenarios.runtime.kernel.machine import enabled, step
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.state import initial_state
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.search import symmetry
from kmap_scenarios.runtime.search.flat import Codec

import oracle
from kmaptest import cut_searches, replays
from scenario_gen import page_twins, scenario

import sys
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import ladder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.kmap"))

_CFG = "config {{ ARCH = {arch}; NR_CPUS = {cpus}; LAST_PKMAP = {pk}; PAGE_SIZE = 64; " \
       "CONFIG_PREEMPTION = y; }}\n"

# Scenarios with interchangeable tasks: name -> (source, tasks per class)
SYMMETRIC = {
    # two unpinned tasks on two CPUs share the pkmap pool and a lock
    "pkmap_lock_2cpu": (_CFG.format(arch="x86", cpus=2, pk=4) + """
page A = alloc_page(GFP_HIGHUSER);
int n = 0;
spinlock_t L;
task w1 { void *a = kmap(A); spin_lock(&L); n = n + 1; spin_unlock(&L); kunmap(A); }
task w2 { void *a = kmap(A); spin_lock(&L); n = n + 1; spin_unlock(&L); kunmap(A); }
expect always n == 2;
""", [2]),
    # three on one CPU: kmap_local slots (their owners), preemption points,
    # a WARN_ON_ONCE in the body (a site per task), a report naming the task
    "local_warn_once_1cpu": (_CFG.format(arch="x86", cpus=1, pk=4) + """
page A = alloc_page(GFP_HIGHUSER);
int n = 0;
task a on cpu0 { u8 *p = kmap_local_page(A); p[0] = 1; preempt_point(); n = n + 1;
                 WARN_ON_ONCE(n == 2); kunmap_local(p); }
task b on cpu0 { u8 *p = kmap_local_page(A); p[0] = 1; preempt_point(); n = n + 1;
                 WARN_ON_ONCE(n == 2); kunmap_local(p); }
task c on cpu0 { u8 *p = kmap_local_page(A); p[0] = 1; preempt_point(); n = n + 1;
                 WARN_ON_ONCE(n == 2); kunmap_local(p); }
expect never WARN;
expect always a.p != 0;
""", [3]),
    # four on one CPU, a tiny pool: sleepers on pkmap_map_wait, woken together
    "pkmap_wait_4": (_CFG.format(arch="x86", cpus=1, pk=2) + """
page A = alloc_page(GFP_HIGHUSER);
page B = alloc_page(GFP_HIGHUSER);
page C = alloc_page(GFP_HIGHUSER);
task holder on cpu0 { void *b = kmap(B); void *c = kmap(C); kunmap(B); kunmap(C); }
task t1 { void *a = kmap(A); kunmap(A); }
task t2 { void *a = kmap(A); kunmap(A); }
task t3 { void *a = kmap(A); kunmap(A); }
task t4 { void *a = kmap(A); kunmap(A); }
expect never DEADLOCK;
""", [4]),
    # a mutex's FIFO wait list and handoff, and an irq interrupting the tasks
    "mutex_irq": (_CFG.format(arch="x86", cpus=2, pk=4) + """
DEFINE_MUTEX(M);
int n = 0;
task m1 { mutex_lock(&M); int seen = n; n = n + 1; msleep(1); mutex_unlock(&M); }
task m2 { mutex_lock(&M); int seen = n; n = n + 1; msleep(1); mutex_unlock(&M); }
task m3 { mutex_lock(&M); int seen = n; n = n + 1; msleep(1); mutex_unlock(&M); }
irq i on cpu1 { n = n + 10; }
expect always n == 13;
expect sometimes m2.seen == 0;
""", [3]),
    # two classes (pinned to cpu0, pinned to cpu1), an expectation that
    # names one task, a spin-wait that never ends when a flag is missed
    "two_classes_endless": (_CFG.format(arch="arm", cpus=2, pk=4) + """
int f = 0; int g = 0;
task p0 on cpu0 { int r = f; g = g + 1; }
task p1 on cpu0 { int r = f; g = g + 1; }
task q0 on cpu1 { f = 1; while (g < 2) cond_resched(); }
task q1 on cpu1 { f = 1; while (g < 2) cond_resched(); }
expect always p0.r == 1;
expect never DEADLOCK;
""", [2, 2]),
    # a use after kunmap by one twin of a page the other mapped
    "use_after_unmap": (_CFG.format(arch="x86", cpus=2, pk=4) + """
page A = alloc_page(GFP_HIGHUSER);
int v = 0;
task u1 { u8 *p = kmap(A); kunmap(A); v = p[0]; }
task u2 { u8 *p = kmap(A); kunmap(A); v = p[0]; }
expect never USE_AFTER_UNMAP;
""", [2]),
    # twins with pages of their own on one CPU, a pool of two slots that
    # one of them may not find free (pkmap_map_wait), a shared lock
    "own_pages_one_cpu": (_CFG.format(arch="x86", cpus=1, pk=2) + """
page S = alloc_page(GFP_HIGHUSER);
page Q1 = alloc_page(GFP_HIGHUSER);
page Q2 = alloc_page(GFP_HIGHUSER);
page Q3 = alloc_page(GFP_HIGHUSER);
spinlock_t L;
int n = 0;
task d on cpu0 { u8 *s = kmap(S); s[0] = 1; preempt_point(); kunmap(S); }
task k1 on cpu0 { u8 *v = kmap(Q1); v[0] = 1; spin_lock(&L); n = n + v[0]; spin_unlock(&L); kunmap(Q1); }
task k2 on cpu0 { u8 *v = kmap(Q2); v[0] = 1; spin_lock(&L); n = n + v[0]; spin_unlock(&L); kunmap(Q2); }
task k3 on cpu0 { u8 *v = kmap(Q3); v[0] = 1; spin_lock(&L); n = n + v[0]; spin_unlock(&L); kunmap(Q3); }
expect always n == 3;
expect sometimes k2.v == 0;
""", [3]),
    # each twin alone on its CPU with a page of its own, on x86: a pool
    # wrap waits for the TLB flush's IPI (its pending holds a CPU mask)
    "own_pages_own_cpus": (_CFG.format(arch="x86", cpus=3, pk=2) + """
page Q1 = alloc_page(GFP_HIGHUSER);
page Q2 = alloc_page(GFP_HIGHUSER);
page S = alloc_page(GFP_HIGHUSER);
task d on cpu0 { local_irq_disable(); u8 *s = kmap(S); kunmap(S); local_irq_enable(); }
task k1 on cpu1 { u8 *v = kmap(Q1); v[3] = 7; kunmap(Q1); u8 *w = kmap(Q1); int r = w[3]; kunmap(Q1); }
task k2 on cpu2 { u8 *v = kmap(Q2); v[3] = 7; kunmap(Q2); u8 *w = kmap(Q2); int r = w[3]; kunmap(Q2); }
expect always k1.r == 7;
expect never BUG;
""", [2]),
    # twins that only differ by their CPU, each alone on it
    "own_cpus": (_CFG.format(arch="x86", cpus=2, pk=4) + """
int n = 0;
task a on cpu0 { n = n + 1; preempt_point(); n = n + 1; }
task b on cpu1 { n = n + 1; preempt_point(); n = n + 1; }
expect always n == 4;
""", [2]),
    # SPIN's rows (bench/ladder.py), small: the DMA task on cpu0 and two
    # kmappers, each on its CPU with its page; racy (a DATA_LOSS naming a
    # kmapper's page) and pinned
    "spin_racy_small": (ladder.spin_equivalent(2, 1, False, 2, 2), [2]),
    "spin_pinned_small": (ladder.spin_equivalent(2, 1, True, 2, 2), [2]),
}

# Twins that must not merge: a different CPU (another context on it), a
# different first value, an irq; pages allocated differently, a page named
# in an expectation, kmap_local (its address depends on the CPU), a page
# whose pointer is stored, the CPU's number read
_TWO = _CFG.format(arch="x86", cpus=3, pk=4).replace("{", "{{").replace("}", "}}") + """
page Q1 = alloc_page(GFP_HIGHUSER);
page Q2 = alloc_page({gfp});
task k1 on cpu1 {{ {body1} }}
task k2 on cpu2 {{ {body2} }}
{extra}
"""
_KMAP = "u8 *v = kmap({q}); v[0] = 1; kunmap({q});"
ASYMMETRIC = {
    "other_cpu": _CFG.format(arch="x86", cpus=2, pk=4) + """
int n = 0;
task a on cpu0 { n = n + 1; preempt_point(); n = n + 1; }
task b on cpu1 { n = n + 1; preempt_point(); n = n + 1; }
irq i on cpu1 { n = n + 0; }
expect always n == 4;
""",
    "pages_allocated_differently": _TWO.format(
        gfp="GFP_KERNEL", body1=_KMAP.format(q="Q1"), body2=_KMAP.format(q="Q2"),
        extra="expect never BUG;"),
    "page_named_in_expect": _TWO.format(
        gfp="GFP_HIGHUSER", body1=_KMAP.format(q="Q1"), body2=_KMAP.format(q="Q2"),
        extra="expect always Q1[0] == 1;"),
    "kmap_local_own_cpus": _TWO.format(
        gfp="GFP_HIGHUSER", body1="u8 *v = kmap_local_page(Q1); v[0] = 1; kunmap_local(v);",
        body2="u8 *v = kmap_local_page(Q2); v[0] = 1; kunmap_local(v);",
        extra="expect never BUG;"),
    "page_pointer_stored": _TWO.format(
        gfp="GFP_HIGHUSER", body1="struct page *pg = Q1; u8 *v = kmap(pg); kunmap(pg);",
        body2="struct page *pg = Q2; u8 *v = kmap(pg); kunmap(pg);",
        extra="expect never BUG;"),
    "cpu_number_read": _TWO.format(
        gfp="GFP_HIGHUSER", body1=_KMAP.format(q="Q1") + " int c = raw_smp_processor_id();",
        body2=_KMAP.format(q="Q2") + " int c = raw_smp_processor_id();",
        extra="expect always k1.c == 1;"),
    "page_shared_with_another_task": _TWO.format(
        gfp="GFP_HIGHUSER", body1=_KMAP.format(q="Q1"), body2=_KMAP.format(q="Q2"),
        extra="task d on cpu0 { u8 *x = kmap(Q2); kunmap(Q2); }"),
    "other_local": _CFG.format(arch="x86", cpus=2, pk=4) + """
int n = 0;
task a { int k = 1; n = n + k; preempt_point(); n = n + 1; }
task b { int k = 2; n = n + k; preempt_point(); n = n + 1; }
expect always n == 5;
""",
    "task_and_irq": _CFG.format(arch="x86", cpus=1, pk=4) + """
int n = 0;
task a on cpu0 { n = n + 1; }
irq b on cpu0 { n = n + 1; }
expect always n == 2;
""",
}


# Symmetry without the state-level reduction: twins renamed with their
# pages or CPUs are merged only then (symmetry.applies), the others also
# by default
NO_POR = ex.Options(por=False)


def _program(name: str) -> Program:
    return load_text(SYMMETRIC[name][0], f"{name}.kmap")


def test_report_codes_are_below_the_body_warn_once_sites() -> None:
    """symmetry._once renames the WARN_ON_ONCE sites of task bodies, which
    builtins._once_site numbers from 1000 up; the other sites are report
    codes (one shared site each)."""
    assert max(R) < symmetry._BODY_SITE


@pytest.mark.parametrize("name", sorted(SYMMETRIC))
def test_classes_of_the_symmetric_scenarios(name: str) -> None:
    src, sizes = SYMMETRIC[name]
    assert sorted(len(c) for c in symmetry.classes(_program(name))) == sizes


@pytest.mark.parametrize("name", sorted(ASYMMETRIC))
def test_asymmetric_twins_are_not_merged(name: str) -> None:
    p = load_text(ASYMMETRIC[name], f"{name}.kmap")
    assert symmetry.classes(p) == []
    r = ex.explore(p)
    assert r.symmetric_states == 0
    same(p, r, ex.explore(p, ex.Options(symmetry=False)))


def equivariant(p: Program, cap: int = 40_000) -> int:
    """Every reachable state s, action a and permutation g of the group:
    enabled(g s) is g enabled(s) in context order, step(g s, g a) is
    g step(s, a). The number of states checked."""
    s0 = initial_state(p)
    codec = Codec(s0)
    grp = symmetry.Group(p, codec)
    seen = {s0}
    todo = deque([s0])
    while todo:
        s = todo.popleft()
        acts = enabled(p, s)
        flat = codec.encode(s)
        for k in range(1, len(grp)):
            gs = codec.decode(grp.image(k, flat))
            mapped = sorted((grp.action(k, a) for a in acts), key=lambda a: a[0])
            assert enabled(p, gs) == mapped
            for a in acts:
                t = step(p, s, a)[0]
                gt = step(p, gs, grp.action(k, a))[0]
                assert codec.encode(gt) == grp.image(k, codec.encode(t)), (k, a)
        for a in acts:
            t = step(p, s, a)[0]
            if t not in seen:
                seen.add(t)
                todo.append(t)
        assert len(seen) <= cap
    return len(seen)


@pytest.mark.parametrize("name", sorted(SYMMETRIC))
def test_renaming_twins_maps_transitions_to_transitions(name: str) -> None:
    p = _program(name)
    assert len(symmetry.Group(p, Codec(initial_state(p)))) > 1
    assert equivariant(p) > 10


def same(p: Program, a: ex.Result, b: ex.Result) -> None:
    """Two results of one program report the same thing."""
    assert a.outcomes == b.outcomes                      # with their counts
    assert list(a.outcomes) == list(b.outcomes)
    assert a.witnesses == b.witnesses
    assert a.unfinished == b.unfinished and a.observed == b.observed
    assert (a.states, a.transitions, a.executions, a.max_depth) == \
        (b.states, b.transitions, b.executions, b.max_depth)
    assert a.bounded == b.bounded and a.counted == b.counted
    assert [v.holds for v in verdicts_of(p, a)] == [v.holds for v in verdicts_of(p, b)]
    assert a.coverage is not None and b.coverage is not None
    assert a.coverage.executed == b.coverage.executed and a.coverage.flags == b.coverage.flags


@pytest.mark.parametrize("name", sorted(SYMMETRIC))
def test_symmetry_drops_states_and_changes_nothing(name: str) -> None:
    p = _program(name)
    # without the state-level reduction, the unfolded graph is the real
    # one by construction: everything equal
    on = ex.explore(p, NO_POR)
    off = ex.explore(p, ex.Options(symmetry=False, por=False))
    assert off.symmetric_states == 0
    assert 0 < on.symmetric_states < on.states
    same(p, on, off)
    replays(p, on)
    for opts in (ex.Options(reduce=False), ex.Options(memo=False, por=False)):
        r = ex.explore(p, opts)
        assert r.symmetric_states == on.symmetric_states
        same(p, r, ex.explore(p, ex.Options(reduce=opts.reduce, memo=opts.memo,
                                            symmetry=False, por=False)))
    # with it (the default), the same outcomes and verdicts as either alone
    both = ex.explore(p)
    por = ex.explore(p, ex.Options(symmetry=False))
    same_verdicts(p, both, off)
    same_verdicts(p, por, off)
    assert 0 < both.symmetric_states <= on.symmetric_states and both.states <= off.states
    replays(p, both)


def the_oracles(p: Program, r: ex.Result) -> None:
    """The result finds the naive oracle's outcomes, and its witnesses
    replay, each a path of the oracle's graph to its outcome."""
    replays(p, r)
    j = oracle.judge(p)
    assert set(r.outcomes) == j.outcomes
    for o, path in r.witnesses.items():
        oracle.check_witness(p, j, o, path)


def same_verdicts(p: Program, a: ex.Result, b: ex.Result) -> None:
    """Two results of one program with different reductions: the same
    outcomes, loop conditions, stuck ends and verdicts (the counts of
    states and executions may differ: docs/performance.md)."""
    assert set(a.outcomes) == set(b.outcomes) and set(a.witnesses) == set(b.witnesses)
    assert set(a.unfinished) == set(b.unfinished) and a.observed == b.observed
    assert a.bounded == b.bounded
    assert [v.holds for v in verdicts_of(p, a)] == [v.holds for v in verdicts_of(p, b)]


@pytest.mark.parametrize("name", sorted(SYMMETRIC))
def test_symmetric_scenarios_match_the_oracle(name: str) -> None:
    p = _program(name)
    j = oracle.judge(p)
    for opts in (NO_POR, ex.Options()):
        r = ex.explore(p, opts)
        assert set(r.outcomes) == j.outcomes
        assert [v.holds for v in verdicts_of(p, r)] == j.verdicts
        for o, path in r.witnesses.items():
            oracle.check_witness(p, j, o, path)
    # the whole graph, stepped one state per orbit, is the oracle's
    r = ex.explore(p, NO_POR)
    assert r.symmetric_states and r.states == len(j.graph.states)


def test_the_orbits_of_the_largest_group() -> None:
    """Four interchangeable tasks: 24 permutations; the states stepped are
    far fewer than the states."""
    p = _program("pkmap_wait_4")
    assert len(symmetry.Group(p, Codec(initial_state(p)))) == 24
    r = ex.explore(p)
    assert r.states >= 6 * r.symmetric_states


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_examples_with_and_without_symmetry(path: Path) -> None:
    p = load(str(path))
    on, off = ex.explore(p), ex.explore(p, ex.Options(symmetry=False))
    same(p, on, off)
    replays(p, on)
    equivariant(p)


def test_bounds_and_jobs_search_without_symmetry() -> None:
    """A bound's cut depends on the order of the search, --jobs' workers
    own states by hash: they step every state (identical results)."""
    p = _program("pkmap_lock_2cpu")
    for opts in (ex.Options(max_states=10_000), ex.Options(max_depth=1000),
                 ex.Options(preemption_bound=50)):
        assert not symmetry.applies(p, opts)
    assert symmetry.applies(p, ex.Options())
    assert not symmetry.applies(p, ex.Options(symmetry=False))
    r = ex.explore(p, ex.Options(jobs=2))
    assert r.symmetric_states == 0
    same(p, r, ex.explore(p))


def test_cli_no_symmetry(tmp_path: Path) -> None:
    from kmap_scenarios.dsl.cli.main import main
    import contextlib
    import io
    f = tmp_path / "t.kmap"
    f.write_text(SYMMETRIC["pkmap_lock_2cpu"][0])
    outs = []
    for extra in ([], ["--no-symmetry"]):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            status = main(["check", str(f), *extra])
        assert status == 0
        outs.append(buf.getvalue())
    assert outs[0] == outs[1]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main(["check", str(f), "--stats", "--no-trace"])
    assert "states stepped (symmetry)" in buf.getvalue()


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(scenario(copies=3))
def test_generated_twins_are_equivariant_and_change_nothing(src: str) -> None:
    p = load_text(src, "gen.kmap")
    try:
        oracle.judge(p, 3_000)
    except oracle.TooBig:
        return
    assert symmetry.classes(p)
    equivariant(p)
    on = ex.explore(p, ex.Options(por=False))
    same(p, on, ex.explore(p, ex.Options(symmetry=False, por=False)))
    replays(p, on)
    both = ex.explore(p)
    same_verdicts(p, both, on)
    replays(p, both)


def test_a_fault_names_the_same_page_whichever_twin_released_it() -> None:
    """Two tasks released different pages at one pkmap address (a flush
    between): a fault there names the lowest page, not the page of the
    first context in order (which renaming the twins would change)."""
    from kmap_scenarios.runtime.kernel.memory import _released_somewhere
    from kmap_scenarios.runtime.kernel.tx import Tx
    p = _program("use_after_unmap")
    s0 = initial_state(p)
    cfg = p.config
    base = cfg.pkmap_addr(1)
    pfn = p.pages[0].pfn
    got = []
    for first, second in ((pfn, pfn + 99), (pfn + 99, pfn)):
        ctxs = list(s0.ctxs)
        ctxs[0] = ctxs[0]._replace(released=((base, first),))
        ctxs[1] = ctxs[1]._replace(released=((base, second),))
        tx = Tx(p, s0._replace(ctxs=tuple(ctxs)), 0, 0, False)
        _released_somewhere(tx, base + 3, False)
        got.append([(r.code, r.args) for r in tx.reports])
    assert got[0] == got[1] == [(int(R.USE_AFTER_UNMAP), (base + 3, 0, 0))]


@pytest.mark.parametrize("after", [1, 3, 10])
def test_a_limit_while_unfolding_leaves_a_bounded_true_report(
        after: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A limit that cuts the unfolding (runtime/search/symmetry.py) leaves
    a search bounded by it: the outcomes it found are outcomes of the
    whole search, the states it did not expand are unfinished with their
    real reports, and every witness replays."""
    from kmap_scenarios.runtime.search.limits import Cut
    p = _program("use_after_unmap")
    whole = ex.explore(p, ex.Options(symmetry=False))
    calls = [0]
    real_unfold = symmetry.unfold

    def cut_soon() -> None:
        calls[0] += 1
        if calls[0] >= after:
            raise Cut("time")

    def unfold(st, acts, off, dst, check):  # type: ignore[no-untyped-def]
        return real_unfold(st, acts, off, dst, cut_soon)

    monkeypatch.setattr(symmetry, "unfold", unfold)
    monkeypatch.setattr(symmetry, "CHECK_EVERY", 1)
    r = ex.explore(p)
    assert calls[0] == after
    assert r.bounded == ["time"]
    assert set(r.outcomes) <= set(whole.outcomes)
    assert r.states < whole.states
    uaf = [o for o in whole.outcomes if o.reports]
    for o, path in r.unfinished.items():
        assert o.ends == "cut" and path is not None
        assert not o.reports or any(set(o.reports) <= set(w.reports) for w in uaf)
    replays(p, r)


def test_twins_too_deep_to_compare_are_not_merged() -> None:
    """Two tasks with a 10,000-term chain under a recursion limit far
    below its length (docs/language.md allows it): comparing their code
    would recurse through the chain; they are searched without symmetry."""
    import sys
    chain = " + ".join(["1"] * 10_000)
    src = "\n".join(f"task t{k} on cpu0 {{ int x = {chain}; }}" for k in range(2))
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        p = load_text(src + "\nexpect always t0.x == 10000;\n", "long.kmap")
        assert symmetry.classes(p) == []
        r = ex.explore(p)
    finally:
        sys.setrecursionlimit(old)
    assert r.symmetric_states == 0 and [c for c in r.outcomes.values()] == [2]


TWINS_WITH_LOCAL_STEPS = """config { NR_CPUS = 2; }
page P = alloc_page(GFP_HIGHUSER);
int x;
task a on cpu0 { int r = x; r = r + 1; x = r; void *p = kmap_local_page(P); p[0] = r; kunmap_local(p); }
task b on cpu0 { int r = x; r = r + 1; x = r; void *p = kmap_local_page(P); p[0] = r; kunmap_local(p); }
task c on cpu1 { int r = x; r = r + 1; x = r; }
expect never x == 1;
"""


def test_symmetry_and_the_state_level_reduction_combine() -> None:
    """Twins on two CPUs with local steps, where both reductions apply:
    the persistent sets are chosen in the canonical states of the
    quotient, whose cycles the proviso reads, and the unfolding carries
    each set and its local-step mark to every real state of the orbit
    (explore._reducer, _unfold). Fewer states stepped than either alone,
    the same outcomes and verdicts as neither, and every witness replays."""
    p = load_text(TWINS_WITH_LOCAL_STEPS, "twins.kmap")
    both = ex.explore(p, ex.Options())
    plain = ex.explore(p, ex.Options(symmetry=False, por=False))
    por_only = ex.explore(p, ex.Options(symmetry=False))
    sym_only = ex.explore(p, ex.Options(por=False))
    assert both.symmetric_states and both.reduced > 0 and por_only.reduced > 0
    assert both.symmetric_states < sym_only.symmetric_states
    assert both.symmetric_states < por_only.states < plain.states
    # the real graph unfolded from the reduced quotient is no larger than
    # the one POR alone builds
    assert both.states <= por_only.states
    same_verdicts(p, both, plain)
    the_oracles(p, both)


TWINS_SPINNING = """config { NR_CPUS = 2; CONFIG_PREEMPTION = y; }
int f = 0;
task a on cpu0 { int k = 0; while (f == 0) { k = k + 1; k = k - 1; } }
task b on cpu0 { int k = 0; while (f == 0) { k = k + 1; k = k - 1; } }
task c on cpu1 { int x = 1; x = x + 1; f = x; }
expect never DEADLOCK;
"""


@pytest.mark.parametrize("src", [TWINS_WITH_LOCAL_STEPS, TWINS_SPINNING],
                         ids=["local_steps", "spinning"])
def test_a_cut_with_both_reductions_is_a_bounded_true_report(
        src: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A limit that stops phase 1 of the quotient while reduced states
    are pending gives them their whole enabled sets back as copies of
    the edges made and cut edges (explore._unreduce, Canonical.copy_edges
    keeps each edge's permutation by position): whatever the cut, the
    outcomes are the whole search's, the unfinished ends are cut, and
    every witness and path replays."""
    p = load_text(src, "twins.kmap")
    whole = ex.explore(p, ex.Options(symmetry=False, por=False))
    both = ex.explore(p)
    assert both.symmetric_states and both.reduced
    same_verdicts(p, both, whole)
    cuts = 0
    for k, r in cut_searches(monkeypatch, p, ex.Options(), range(1, 60, 3)):
        if r.bounded:
            cuts += 1
            assert set(r.outcomes) <= set(whole.outcomes), k
            assert all(o.ends == "cut" for o in r.unfinished), k
            replays(p, r)
    assert cuts >= 5


def test_the_kmappers_of_spins_big_row_are_one_class() -> None:
    """SPIN's big row (bench/ladder.py): kmapper1 on cpu1 maps Q1,
    kmapper2 on cpu2 maps Q2; renaming one into the other renames its
    page and its CPU (with the CPU's idle task)."""
    p = load_text(ladder.spin_equivalent(2, 2, True), "spin.kmap")
    names = {c.name: i for i, c in enumerate(p.contexts)}
    pages = {pg.name: i for i, pg in enumerate(p.pages)}
    assert symmetry.twin_classes(p) == [symmetry.twins.Twins(
        (names["kmapper1"], names["kmapper2"]), ((pages["Q1"],), (pages["Q2"],)), (1, 2))]
    nprog = len(p.contexts)
    swap = symmetry.full_group(p, nprog + 3)[1]
    assert swap[0][names["kmapper1"]] == names["kmapper2"] and swap[0][nprog + 1] == nprog + 2
    assert swap[1][pages["Q1"]] == pages["Q2"] and swap[1][pages["P"]] == pages["P"]
    assert swap[2] == (0, 2, 1)


USE_AFTER_FLUSH = _CFG.format(arch="x86", cpus=1, pk=2) + """
page Q2 = alloc_page(GFP_HIGHUSER);
page R = alloc_page(GFP_HIGHUSER);
page Q1 = alloc_page(GFP_HIGHUSER);
int gp = 0;
int v = 0;
task k1 on cpu0 { u8 *p = kmap(Q1); gp = p; kunmap(Q1); }
task k2 on cpu0 { u8 *p = kmap(Q2); gp = p; kunmap(Q2); }
task d on cpu0 { u8 *x = kmap(R); kunmap(R); u8 *y = kmap(R); kunmap(R);
                 u8 *z = gp; if (z != 0) v = z[0]; }
expect never USE_AFTER_UNMAP;
"""


def test_a_fault_where_twins_released_their_pages_gives_up_symmetry() -> None:
    """Twins with pages of their own released them at one pkmap address
    (the pool wrapped between) and another task faults there through a
    stale pointer: the report names the lowest of those pages
    (runtime/kernel/memory.py), so renaming Q1 and Q2 does not map that
    step onto a step; the search sees it and runs again without symmetry."""
    p = load_text(USE_AFTER_FLUSH, "flush.kmap")
    assert symmetry.classes(p) == [(0, 1)]
    with pytest.raises(AssertionError):
        equivariant(p)
    r = ex.explore(p)
    assert r.symmetric_states == 0
    same(p, r, ex.explore(p, ex.Options(symmetry=False, por=False)))
    replays(p, r)


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(page_twins())
def test_generated_page_twins_are_equivariant_and_change_nothing(src: str) -> None:
    """Twins with pages (and CPUs) of their own: every transition maps
    onto a transition unless the search gave symmetry up, the results
    are those of --no-symmetry --no-por and of the oracle, and with the
    state-level reduction too the same outcomes and verdicts."""
    p = load_text(src, "twins.kmap")
    try:
        j = oracle.judge(p, 3_000)
    except oracle.TooBig:
        return
    assert symmetry.classes(p)
    on = ex.explore(p, NO_POR)
    if on.symmetric_states:
        equivariant(p)
    plain = ex.explore(p, ex.Options(symmetry=False, por=False))
    same(p, on, plain)
    assert set(on.outcomes) == j.outcomes and on.states == len(j.graph.states)
    assert [v.holds for v in verdicts_of(p, on)] == j.verdicts
    replays(p, on)
    both = ex.explore(p)   # with the state-level reduction too
    same_verdicts(p, both, plain)
    replays(p, both)


def test_twins_with_own_pages_and_the_state_level_reduction_combine() -> None:
    """SPIN's small pinned row: by default both reductions apply (the
    persistent sets chosen in the canonical states, carried to their
    orbits by the renaming of tasks, pages and CPUs): fewer states
    stepped than with either alone, the same outcomes and verdicts as
    neither, the oracle's, and witnesses that replay."""
    p = _program("spin_pinned_small")
    both = ex.explore(p)
    sym_only = ex.explore(p, NO_POR)
    por_only = ex.explore(p, ex.Options(symmetry=False))
    plain = ex.explore(p, ex.Options(symmetry=False, por=False))
    assert both.symmetric_states and both.reduced > 0
    assert both.symmetric_states < sym_only.symmetric_states < plain.states
    assert both.symmetric_states < por_only.states <= plain.states
    same_verdicts(p, both, plain)
    the_oracles(p, both)


def test_cli_output_names_the_real_pages_with_and_without_symmetry(tmp_path: Path) -> None:
    """SPIN's small racy row: the DATA_LOSS witness maps Q1 and Q2 by
    name; `kmap check --no-por` prints it byte for byte as
    `--no-symmetry --no-por` does, though the search stepped one state
    per orbit of the kmappers (with their pages and CPUs)."""
    from kmap_scenarios.dsl.cli.main import main
    import contextlib
    import io
    f = tmp_path / "racy.kmap"
    f.write_text(SYMMETRIC["spin_racy_small"][0])
    outs = []
    for extra in (["--no-por"], ["--no-por", "--no-symmetry"]):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            status = main(["check", str(f), *extra])
        assert status == 1
        outs.append(buf.getvalue())
    assert outs[0] == outs[1]
    assert "kmap(Q1)" in outs[0] and "Q2 mapped at" in outs[0] and "DATA_LOSS" in outs[0]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main(["check", str(f), "--no-por", "--stats", "--no-trace"])
    assert "states stepped (symmetry)" in buf.getvalue()
