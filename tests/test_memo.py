"""Memoized steps (runtime/search/memo.py) are the steps themselves.

A memo hit applies the changes an earlier step made from a state that held
the same values wherever that step read. These tests hold it to the
definition: on every transition of every example, the memoized successor
equals the one step() computes, and the whole search gives the same
states, transitions, executions, outcomes and witnesses with and without it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kmap_scenarios.dsl.lower.load import load
from kmaptest import program
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.search import memo as memo_mod
from kmap_scenarios.runtime.search.explore import Stepper
from kmap_scenarios.runtime.search.flat import Codec
from kmap_scenarios.runtime.kernel.machine import enabled, step
from kmap_scenarios.runtime.search.memo import MemoConflict, StepMemo
from kmap_scenarios.runtime.kernel.state import initial_state

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.kmap"))


def _id(p: Path) -> str:
    return str(p.relative_to(ROOT / "examples"))


def _states(p):
    """Every reachable state, by step() alone."""
    seen = set()
    stack = [initial_state(p)]
    while stack:
        s = stack.pop()
        if s in seen:
            continue
        seen.add(s)
        yield s
        stack.extend(step(p, s, a)[0] for a in enabled(p, s))


@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_every_memoized_successor_equals_the_step(path: Path) -> None:
    p = load(str(path))
    st = Stepper(p, True, {})
    transitions = 0
    for s in _states(p):
        flat = st.codec.encode(s)
        assert st.enabled(flat) == tuple(enabled(p, s))
        for a in enabled(p, s):
            got = st.codec.decode(st.step(flat, a))
            want = step(p, s, a)[0]
            assert got == want, (a, s)
            transitions += 1
    assert st.memo is not None
    assert st.memo.hits + st.memo.misses == transitions


@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_flat_states_name_states(path: Path) -> None:
    """decode(encode(s)) is s, and two states have one flat form exactly
    when they are equal (the flat hash is a fingerprint of the state)."""
    p = load(str(path))
    codec = Codec(initial_state(p))
    flats = {}
    for s in _states(p):
        flat = codec.encode(s)
        back = codec.decode(flat)
        assert back == s and type(back.pkmap_count) is type(s.pkmap_count)
        assert [type(v) for v in back.user_present] == [type(v) for v in s.user_present]
        assert flat not in flats
        flats[flat] = s
    assert len(set(flats)) == len(flats)


@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_search_with_and_without_the_memo_agree(path: Path) -> None:
    p = load(str(path))
    plain = ex.explore(p, ex.Options(memo=False))
    memo = ex.explore(p, ex.Options(memo=True))
    assert plain.outcomes == memo.outcomes and plain.witnesses == memo.witnesses
    assert (plain.states, plain.transitions, plain.executions, plain.max_depth) == \
        (memo.states, memo.transitions, memo.executions, memo.max_depth)


TWO_TASKS = """
config { ARCH = x86; NR_CPUS = 2; PAGE_SIZE = 64; LAST_PKMAP = 4; }
int g = 0;
page P = alloc_page(GFP_HIGHUSER);
task a on cpu0 { int x = 1; g = 2; }
task b on cpu1 { void *v = kmap(P); v[0] = 7; kunmap(P); }
expect never BUG;
"""


def test_a_local_step_is_reused_whatever_the_other_task_did():
    """a's `int x = 1` reads only a's context and CPU: after b has mapped
    its page and written it, the same step is a hit, and it leaves b's part
    alone."""
    p = program(TWO_TASKS)
    codec = Codec(initial_state(p))
    memo = StepMemo(p, codec)
    s0 = initial_state(p)
    first = codec.decode(memo.step(codec.encode(s0), (0, 0)))
    s1 = s0
    for _ in range(2):   # b runs twice: its kmap, then its store
        s1 = step(p, s1, (1, 1))[0]
    assert s1.pkmap_count != s0.pkmap_count and s1.ram != s0.ram
    second = codec.decode(memo.step(codec.encode(s1), (0, 0)))
    assert (memo.hits, memo.misses) == (1, 1)
    assert second == step(p, s1, (0, 0))[0]
    assert second.pkmap_count == s1.pkmap_count and second.ram == s1.ram
    assert first.ctxs[0] == second.ctxs[0]


PREEMPTED = """
config { ARCH = x86; PAGE_SIZE = 64; CONFIG_PREEMPTION = y; }
page P = alloc_page(GFP_HIGHUSER);
task a on cpu0 { void *v = kmap_local_page(P); int x = 1; int y = 2; kunmap_local(v); }
task b on cpu0 { int w = 4; }
expect never BUG;
"""


def test_a_switch_is_learnt_once_for_any_pc_of_the_previous_task(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """b preempting a: __kmap_local_sched_out reads a's kmap_local slots,
    not its pc or locals, so the switch recorded when a was at `int x`
    serves a at `int y` too, and b's own step is the one already known:
    the second transition runs no handler (each is composed into an
    ordinary recording, and equals step())."""
    p = program(PREEMPTED)
    ran: list[str] = []

    def counted(name, f):
        def g(*args, **kw):
            ran.append(name)
            return f(*args, **kw)
        return g

    monkeypatch.setattr(memo_mod, "step", counted("step", memo_mod.step))
    monkeypatch.setattr(memo_mod, "switch_step", counted("switch", memo_mod.switch_step))
    codec = Codec(initial_state(p))
    memo = StepMemo(p, codec)
    a, b = (0, 0), (1, 0)
    s1 = step(p, initial_state(p), a)[0]      # a mapped P: slot 0 live
    s2 = step(p, s1, a)[0]                     # a ran `int x = 1`
    assert s1.ctxs[0] != s2.ctxs[0] and s1.ctxs[0].kmap_idx == s2.ctxs[0].kmap_idx == 1
    for s in (s1, s2):
        got = codec.decode(memo.step(codec.encode(s), b))
        assert got == step(p, s, b)[0]
        assert got.cpus[0].fixmap[0] == 0 and got.ctxs[0].pteval[0] != 0   # a's slot saved
    assert ran == ["switch", "step"]
    assert memo.composed == 2 and (memo.hits, memo.misses) == (0, 2)
    # composed into ordinary recordings: the same transition again is a hit
    memo.step(codec.encode(s2), b)
    assert memo.hits == 1 and ran == ["switch", "step"]


PINGPONG = """
config { ARCH = x86; PAGE_SIZE = 64; CONFIG_PREEMPTION = y; }
page P = alloc_page(GFP_HIGHUSER);
task a on cpu0 { void *v = kmap_local_page(P); int x = 1; int y = 2; int z = 3; kunmap_local(v); }
task b on cpu0 { int u = 4; int w = 5; int q = 6; }
expect never BUG;
"""


def test_a_switch_is_learnt_once_for_any_pc_of_the_incoming_task(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """switch_to reads of the task switching in only its CPU, resched flag
    and kmap_ctrl, and sets the first two: b switching in at `int w` and
    at `int q` (a holding its slot both times) is one switch recording."""
    p = program(PINGPONG)
    switches: list[int] = []
    real = memo_mod.switch_step

    def counted(*args, **kw):
        switches.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(memo_mod, "switch_step", counted)
    codec = Codec(initial_state(p))
    memo = StepMemo(p, codec)
    a, b = (0, 0), (1, 0)
    s = initial_state(p)
    ran = []
    for act in (a, b, a, b, a, b):
        before = len(switches)
        nxt = codec.decode(memo.step(codec.encode(s), act))
        assert nxt == step(p, s, act)[0]
        ran.append(len(switches) - before)
        s = nxt
    assert s.ctxs[1].pc == 3 and s.ctxs[0].kmap_idx == 1
    assert ran == [1, 1, 1, 1, 0, 0]   # a from idle, b, a back, b, then known


def test_one_recording_in_two_orders_is_no_conflict() -> None:
    """A composed recording lists its changes by position, a direct one in
    the order they were met: the same changes, not a conflict."""
    p = program(TWO_TASKS)
    memo = StepMemo(p, Codec(initial_state(p)))
    memo.learn((0, 0), (1,), 5, ((3, 1), (1, 2)))
    memo.learn((0, 0), (1,), 5, ((1, 2), (3, 1)))
    with pytest.raises(MemoConflict):
        memo.learn((0, 0), (1,), 5, ((1, 2), (3, 4)))


def test_a_read_the_tx_did_not_note_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """If a handler read the state behind the Tx's back, two recordings of
    one step would disagree; the memo refuses instead of guessing."""
    p = program(TWO_TASKS)
    s0 = initial_state(p)
    s1 = s0._replace(globals=(5,))

    def sneaky(program, state, action, trace=False, reads=None, ran=None):
        # the result depends on a global, but nothing is noted
        t = step(program, state, action, trace, reads, ran)[0]
        return t._replace(ctxs=(t.ctxs[0]._replace(pgmap_prot_count=state.globals[0]),
                                *t.ctxs[1:])), ()

    monkeypatch.setattr(memo_mod, "step", sneaky)
    codec = Codec(s0)
    memo = StepMemo(p, codec)
    memo.step(codec.encode(s0), (0, 0))
    with pytest.raises(MemoConflict):
        f1 = codec.encode(s1)
        memo._record(f1, (0, 0), (0, 0, f1[0], f1[codec.nctx], 0, 0))


def test_a_write_the_tx_did_not_note_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    p = program(TWO_TASKS)

    def sneaky(program, state, action, trace=False, reads=None, ran=None):
        t = step(program, state, action, trace, reads)[0]
        return t._replace(globals=(9,)), ()   # a write nothing noted

    monkeypatch.setattr(memo_mod, "step", sneaky)
    codec = Codec(initial_state(p))
    memo = StepMemo(p, codec)
    with pytest.raises(MemoConflict):
        memo.step(codec.encode(initial_state(p)), (0, 0))


def test_the_memo_starts_afresh_past_its_size():
    p = program(TWO_TASKS)
    codec = Codec(initial_state(p))
    memo = StepMemo(p, codec, max_entries=3)
    for s in _states(p):
        for a in enabled(p, s):
            assert codec.decode(memo.step(codec.encode(s), a)) == step(p, s, a)[0]
    assert memo.entries <= 3 and memo.misses > 3


# Scenarios beyond the examples, for the paths they do not take: irqs on a
# kmap_local stack and in a spinlock, migration of running tasks, the pkmap
# wait queue with several sleepers, per-CPU read-modify-write after a
# kmap_atomic conversion, user faults, a VIVT cache with DMA.
TRICKY = {
    "irq-on-kmap-local-stack": """
config { ARCH = x86; NR_CPUS = 2; PAGE_SIZE = 64; CONFIG_PREEMPTION = y; }
page P = alloc_page(GFP_HIGHUSER);
page I = alloc_page(GFP_HIGHUSER);
spinlock_t lock;
int g = 0;
task t on cpu0 {
    void *a = kmap_local_page(P);
    spin_lock_irqsave(&lock);
    g = g + 1;
    spin_unlock_irqrestore(&lock);
    a[0] = 1;
    kunmap_local(a);
}
task u on cpu1 { spin_lock(&lock); g = g + 10; spin_unlock(&lock); }
irq timer on cpu0 { void *c = kmap_local_page(I); c[0] = 3; kunmap_local(c); }
expect always g == 11;
expect never WARN || BUG || OOPS;
""",
    "migration": """
config { ARCH = x86; NR_CPUS = 2; PAGE_SIZE = 64; CONFIG_PREEMPTION = y; }
page L = alloc_page(GFP_HIGHUSER);
percpu int hits = 0;
task t {
    int c0 = raw_smp_processor_id();
    preempt_point();
    void *a = kmap_local_page(L);
    int n = this_cpu_read(hits);
    this_cpu_write(hits, n + 1);
    kunmap_local(a);
    int c1 = raw_smp_processor_id();
}
task other {
    migrate_disable();
    int n = this_cpu_read(hits);
    this_cpu_write(hits, n + 1);
    migrate_enable();
}
expect sometimes t.c0 != t.c1;
expect always per_cpu(hits, 0) + per_cpu(hits, 1) == 2;
""",
    "pkmap-wait-queue": """
config { ARCH = x86; LAST_PKMAP = 2; PAGE_SIZE = 64; CONFIG_PREEMPTION = y; NR_CPUS = 2; }
page A = alloc_page(GFP_HIGHUSER);
page B = alloc_page(GFP_HIGHUSER);
page C = alloc_page(GFP_HIGHUSER);
task ta on cpu0 { void *v = kmap(A); v[0] = 1; kunmap(A); }
task tb on cpu1 { void *v = kmap(B); v[0] = 2; kunmap(B); }
task tc { void *v = kmap(C); v[0] = 3; kunmap(C); }
expect always A[0] == 1 && B[0] == 2 && C[0] == 3;
expect never DEADLOCK;
""",
    "percpu-after-conversion": """
config { ARCH = x86; PAGE_SIZE = 64; CONFIG_PREEMPTION = y; }
page P = alloc_page(GFP_HIGHUSER);
page U = alloc_user_page(not_present);
percpu int hits = 0;
task converted on cpu0 {
    void *a = kmap_local_page(P);
    int n = this_cpu_read(hits);
    int left = copy_from_user(a, U, 8);
    this_cpu_write(hits, n + 1);
    kunmap_local(a);
}
task other on cpu0 { int n = this_cpu_read(hits); this_cpu_write(hits, n + 1); }
expect sometimes per_cpu(hits, 0) == 1;
""",
    "vivt-dma": """
config { ARCH = arm; CACHE = vivt; NR_CPUS = 2; LAST_PKMAP = 2; PAGE_SIZE = 64;
         L1_CACHE_BYTES = 32; CONFIG_PREEMPTION = y; }
page P = alloc_page(GFP_HIGHUSER);
page Q = alloc_page(GFP_HIGHUSER);
task writer on cpu0 { void *v = kmap(P); v[0] = 5; v[32] = 6; kunmap(P); }
task other on cpu1 { void *w = kmap(Q); w[0] = 7; kunmap(Q); dma_map_page(P, DMA_TO_DEVICE); }
expect never DATA_LOSS;
""",
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_memo_on_paths_the_examples_do_not_take(name: str) -> None:
    p = program(TRICKY[name])
    st = Stepper(p, True, {})
    for s in _states(p):
        flat = st.codec.encode(s)
        assert st.enabled(flat) == tuple(enabled(p, s))
        for a in enabled(p, s):
            assert st.codec.decode(st.step(flat, a)) == step(p, s, a)[0], (name, a)
    plain = ex.explore(p, ex.Options(memo=False))
    memo = ex.explore(p, ex.Options())
    assert plain.outcomes == memo.outcomes and plain.witnesses == memo.witnesses
    assert (plain.states, plain.transitions, plain.executions) == \
        (memo.states, memo.transitions, memo.executions)


def test_a_step_that_reads_every_context_is_memoized_soundly(monkeypatch: pytest.MonkeyPatch) -> None:
    """A step may read every context (a scan of their pending, as kmap()
    once did to find the IPI waiter). A switch and such a step composed
    for one context read the same positions as for another; the union of
    what they read, less the key, was cached by those positions alone, so
    it was reused for another context without that one's position: a hit
    then changed a context its key did not hold (4,590 states on this
    rung instead of the 3,898 of every successor computed by step())."""
    from kmap_scenarios.runtime.kernel import pkmap
    from kmap_scenarios.runtime.search import explore as ex

    def scan(tx):  # type: ignore[no-untyped-def]
        for i, c in enumerate(tx.ctxs):
            if i != tx.ci and c.pending is not None and c.pending[0] == 9:
                return i
        return -1
    monkeypatch.setattr(pkmap, "kmap_lock_waiter", scan)
    body = "void *a = kmap(P%d); a[0] = %d; kunmap(P%d); void *b = kmap(P%d); kunmap(P%d);"
    src = "config { ARCH = x86; LAST_PKMAP = 2; PAGE_SIZE = 64; CONFIG_PREEMPTION = y; }\n" + \
        "".join(f"page P{i} = alloc_page(GFP_HIGHUSER);\n" for i in range(3)) + \
        "".join(f"task t{i} on cpu0 {{ {body % (i, i + 1, i, i, i)} }}\n" for i in range(3))
    p = program(src)
    assert ex.explore(p).states == ex.explore(p, ex.Options(memo=False)).states == 3898
