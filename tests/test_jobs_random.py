"""--jobs against one process on generated scenarios: pkmap and kmap_local
mappings, lost updates, spin locks, busy waits (cycles), one or two CPUs,
with and without preemption. Every figure of the result must agree,
witnesses included (they are the lexicographically first shortest paths in
both searches)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmaptest import program
from kmap_scenarios.runtime.search import explore as ex

STATEMENTS = [
    "g{a} = g{b} + 1;",
    "int v{k} = g{a}; preempt_point(); g{a} = v{k} + 1;",
    "void *p{k} = kmap(P{a}); p{k}[0] = {n}; kunmap(P{a});",
    "void *m{k} = kmap_local_page(P{a}); m{k}[0] = {n}; kunmap_local(m{k});",
    "spin_lock(&lock); g{a} = g{a} + {n}; spin_unlock(&lock);",
    "while (g1 == 0) {{ }}",
    "g1 = 1;",
]


@st.composite
def scenarios(draw: st.DrawFn) -> str:
    cpus = draw(st.integers(1, 2))
    preempt = draw(st.sampled_from("yn"))
    pool = draw(st.sampled_from([2, 4]))
    tasks = []
    k = 0
    for t in range(draw(st.integers(2, 3))):
        body = []
        for _ in range(draw(st.integers(1, 3))):
            k += 1
            s = draw(st.sampled_from(STATEMENTS))
            body.append(s.format(a=draw(st.integers(0, 1)), b=draw(st.integers(0, 1)),
                                 k=k, n=draw(st.integers(1, 3))))
        cpu = draw(st.integers(0, cpus - 1))
        tasks.append(f"task t{t} on cpu{cpu} {{ {' '.join(body)} }}")
    return f"""config {{ ARCH = x86; NR_CPUS = {cpus}; LAST_PKMAP = {pool}; PAGE_SIZE = 64;
         CONFIG_PREEMPTION = {preempt}; }}
int g0 = 0;
int g1 = 0;
spinlock_t lock;
page P0 = alloc_page(GFP_HIGHUSER);
page P1 = alloc_page(GFP_HIGHUSER);
{chr(10).join(tasks)}
expect sometimes g0 == 1;
expect never BUG;
"""


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.booleans())
def test_jobs_agree_with_one_process_on_generated_scenarios(src: str, reduce: bool) -> None:
    p = program(src)
    one = ex.explore(p, ex.Options(reduce=reduce, por=False))   # --jobs reduces no states
    two = ex.explore(p, ex.Options(reduce=reduce, jobs=2))
    assert one.outcomes == two.outcomes
    assert one.witnesses == two.witnesses
    assert (one.states, one.transitions, one.executions, one.max_depth, one.bounded) == \
        (two.states, two.transitions, two.executions, two.max_depth, two.bounded)
