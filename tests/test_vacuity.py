"""kmap check's warnings: statements no execution reaches, no interleaving.

Issue 11, "Vacuity is visible": a verdict can hold because the code that
breaks things never runs, or because the race asked about cannot happen.
runtime/search/vacuity.py reads both off the whole explored state graph, so they
must not depend on --jobs, --no-memo or --no-reduce.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections import deque
from pathlib import Path

import pytest

from kmap_scenarios.dsl.cli.main import main
from kmap_scenarios.dsl.formats.check_text import text, to_json, verdicts_of, warnings_of
from kmap_scenarios.dsl.lower.load import load
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.kernel.machine import enabled, step
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.state import Status, initial_state
from kmap_scenarios.runtime.search.vacuity import GAVE_UP, IN_FLIGHT, INTERLEAVED, CheckWarning, statement_text
from kmaptest import program

ROOT = Path(__file__).resolve().parent.parent

# The three ways of exploring that must agree (phase 1 is the same graph).
SEARCHES = [{}, {"jobs": 2}, {"memo": False}, {"reduce": False},
            {"jobs": 2, "memo": False, "reduce": False}]
SEARCH_IDS = ["default", "jobs2", "no-memo", "no-reduce", "all"]

DEAD_BRANCH = """\
int a = 0; int ack = 0;
task p on cpu0 { a = 1; a = 0; }
task q on cpu1 {
    if (a == 2) {
        ack = 1;          // a is only ever 0 or 1
        a = 3;
    }
    ack = 4;
}
expect never BUG;
"""

AFTER_BUG = """\
int x = 0;
task t {
    x = 1;
    BUG_ON(x == 1);       // always true: the BUG kills the task
    x = 2;
    x = 3;
    x = 4;
}
expect sometimes BUG;
"""

# The irq fires whenever interrupts are on, but they are off for as long as
# busy is 1: the body of its `if` never runs.
IRQ_WHILE_OFF = """\
int busy = 0; int seen = 0;
task t on cpu0 { local_irq_disable(); busy = 1; busy = 0; local_irq_enable(); }
irq h on cpu0 { if (busy) seen = 1; }
expect never seen == 1;
"""

# The shape: a lost update on one CPU without preemption.
LOST_UPDATE = """\
config { NR_CPUS = 1; CONFIG_PREEMPTION = n; }
int counter = 0;
task a { int t = counter; counter = t + 1; }
task b { int t = counter; counter = t + 1; }
expect sometimes counter == 1;
"""

# docs/language.md's DATA_LOSS race (dma_map_page discards the writer's dirty
# line), on one CPU without preemption and with no kmap() that sleeps.
DATA_LOSS = """\
config {
    ARCH = arm; NR_CPUS = 1; CONFIG_HIGHMEM = y; CONFIG_PREEMPTION = n;
    LAST_PKMAP = 2; ARCH_NEEDS_KMAP_HIGH_GET = n; PAGE_SIZE = 128; L1_CACHE_BYTES = 32;
}
page P = alloc_page(GFP_HIGHUSER);
page Q = alloc_page(GFP_HIGHUSER);
page R = alloc_page(GFP_HIGHUSER);
task dma on cpu0 {
    void *p = kmap(P);
    kunmap(P);
    dma_map_page(P, DMA_FROM_DEVICE);
}
task writer on cpu0 {
    void *r = kmap(R);
    kunmap(R);
    void *q = kmap(Q);
    memset(q, 0x55, PAGE_SIZE);
    kunmap(Q);
}
expect sometimes DATA_LOSS;
expect never BUG;
"""

NO_POINT = ("NR_CPUS = 1; CONFIG_PREEMPTION=n with no preemption point reached "
            "(preempt_point(), cond_resched(), schedule(), msleep(), a sleeping kmap(), "
            "a fault)")


def warned(src: str, **opts: object) -> list[CheckWarning]:
    p = program(src)
    r = ex.explore(p, ex.Options(**opts))  # type: ignore[arg-type]
    return warnings_of(p, r, verdicts_of(p, r))


def preempting(src: str) -> str:
    return src.replace("CONFIG_PREEMPTION = n", "CONFIG_PREEMPTION = y")


# ------------------------------------------------------- unreached statements
@pytest.mark.parametrize("opts", SEARCHES, ids=SEARCH_IDS)
def test_a_branch_whose_condition_is_never_true(opts: dict[str, object]) -> None:
    assert warned(DEAD_BRANCH, **opts) == [
        CheckWarning("unreached", "task q: no execution reaches `ack = 1;` `a = 3;`", 5, 6)]


@pytest.mark.parametrize("opts", SEARCHES, ids=SEARCH_IDS)
def test_code_after_a_bug_that_always_kills_the_task(opts: dict[str, object]) -> None:
    assert warned(AFTER_BUG, **opts) == [
        CheckWarning("unreached",
                     "task t: no execution reaches `x = 2;` ... `x = 4;` (3 statements)",
                5, 7)]


@pytest.mark.parametrize("opts", SEARCHES, ids=SEARCH_IDS)
def test_an_irq_that_never_fires_while_interrupts_are_off(opts: dict[str, object]) -> None:
    # the `if (busy)` on the same line is reached: only the statement is named
    assert warned(IRQ_WHILE_OFF, **opts) == [
        CheckWarning("unreached", "irq h: no execution reaches `seen = 1;`", 3, 3)]


def test_an_irq_can_always_fire_first_on_the_idle_cpu() -> None:
    # Every CPU starts idle with interrupts on, so an irq's first statement
    # is reached even when its task keeps interrupts off all its life.
    src = """\
int x = 0; int y = 0;
task t on cpu0 { local_irq_disable(); x = 1; x = 2; }
irq h on cpu0 { y = 1; }
"""
    assert warned(src) == []


def test_a_wait_that_never_ends_leaves_what_follows_unreached() -> None:
    src = """\
int flag = 0; int done = 0;
task p on cpu0 { while (flag == 0) cond_resched(); done = 1; }
task q on cpu1 { done = 2; }
expect sometimes DEADLOCK;
"""
    assert warned(src) == [
        CheckWarning("unreached", "task p: no execution reaches `done = 1;`", 2, 2)]


def test_a_bounded_search_says_not_reached_yet() -> None:
    got = warned(AFTER_BUG, max_depth=1)
    assert got == [CheckWarning(
        "unreached", "task t: no execution explored reaches `BUG_ON(x == 1);` ... `x = 4;` "
        "(4 statements) (not reached yet: the search was bounded by depth)", 4, 7)]


def test_every_statement_reached_no_warning() -> None:
    assert warned(preempting(LOST_UPDATE)) == []


# ------------------------------------------------------------ no interleaving
@pytest.mark.parametrize("opts", SEARCHES, ids=SEARCH_IDS)
def test_lost_update_on_one_cpu_without_preemption(opts: dict[str, object]) -> None:
    assert warned(LOST_UPDATE, **opts) == [CheckWarning(
        "no-interleaving", "expect sometimes counter == 1: no execution interleaves two tasks "
        f"or irqs: {NO_POINT}", 5, 5)]


@pytest.mark.parametrize("opts", SEARCHES, ids=SEARCH_IDS)
def test_with_preemption_the_lost_update_happens_and_nothing_is_said(
        opts: dict[str, object]) -> None:
    p = program(preempting(LOST_UPDATE))
    r = ex.explore(p, ex.Options(**opts))  # type: ignore[arg-type]
    verdicts = verdicts_of(p, r)
    assert verdicts[0].holds is True
    assert warnings_of(p, r, verdicts) == []


def test_data_loss_race_without_preemption_names_the_setting() -> None:
    got = warned(DATA_LOSS)
    assert got == [CheckWarning(
        "no-interleaving", "expect sometimes DATA_LOSS: no execution interleaves two tasks or "
        f"irqs: {NO_POINT}", 20, 20)]
    assert warned(preempting(DATA_LOSS)) == []


def test_a_preemption_point_is_enough_without_preemption() -> None:
    src = LOST_UPDATE.replace("task a { int t = counter;",
                              "task a { int t = counter; preempt_point();")
    assert warned(src) == []


def test_a_point_reached_only_when_nobody_waits() -> None:
    # each task reaches cond_resched() as its last statement: it returns in
    # that step, so the other never runs in its middle
    src = LOST_UPDATE.replace("counter = t + 1; }", "counter = t + 1; cond_resched(); }")
    (w,) = warned(src)
    assert w.message.endswith(
        "NR_CPUS = 1; CONFIG_PREEMPTION=n, and no task gives up the CPU at a preemption point "
        "(preempt_point(), cond_resched(), schedule(), msleep(), a sleeping kmap(), a fault) "
        "while another waits to run")


def test_preemption_disabled_across_every_task() -> None:
    src = preempting(LOST_UPDATE) \
        .replace("{ int t = counter;", "{ preempt_disable(); int t = counter;") \
        .replace("counter = t + 1; }", "counter = t + 1; preempt_enable(); }")
    (w,) = warned(src)
    assert w.message.endswith("NR_CPUS = 1; preemption or interrupts are off whenever a task "
                              "runs while another waits to run")


def test_an_irq_after_local_irq_enable_interleaves_on_the_way_back_to_user() -> None:
    src = """\
config { NR_CPUS = 2; }
int x = 0; int seen = 0;
task t on cpu0 { local_irq_disable(); x = 1; x = 0; local_irq_enable(); }
irq h on cpu0 { seen = x; }
expect sometimes seen == 1;
"""
    # The irq can still come after local_irq_enable(), on the task's way
    # back to user space (syscall_exit_to_user_mode() runs with interrupts
    # on before exit_to_user_mode_prepare(); runtime/kernel/machine.py's
    # _return_window): the irq and the task interleave there, so there is
    # nothing to warn about, though `seen == 1` stays out of reach.
    assert warned(src) == []
    assert warned(src.replace("local_irq_disable(); ", "").replace(" local_irq_enable();", "")) \
        == []


def test_tasks_of_one_step_never_interleave() -> None:
    src = """\
config { NR_CPUS = 2; }
int x = 0;
task a { x = 1; }
task b { x = 2; }
expect sometimes x == 3;
"""
    (w,) = warned(src)
    assert w.message.endswith("every task and irq runs from its first step to its end in one "
                              "step (a step is atomic)")


def test_only_sometimes_that_does_not_hold_is_warned() -> None:
    assert warned(LOST_UPDATE.replace("sometimes counter == 1", "never counter == 1")) == []
    assert warned(LOST_UPDATE.replace("sometimes counter == 1", "sometimes counter == 2")) == []
    one = ("config { NR_CPUS = 1; }\nint c = 0;\ntask a { c = 1; c = 2; }\n"
           "expect sometimes c == 3;\n")
    assert warned(one) == []   # a single context has nothing to interleave with


def test_a_bounded_search_names_no_reason() -> None:
    (w,) = warned(LOST_UPDATE, max_depth=2)
    assert w.message.endswith("no execution interleaves two tasks or irqs: the search was "
                              "bounded by depth: they may interleave beyond it")


# ---------------------------------------------------------------- the formats
def test_text_has_a_warnings_section_before_the_statistics() -> None:
    p = program(DEAD_BRANCH, "dead.kmap")
    r = ex.explore(p)
    lines = text(p, r, verdicts_of(p, r), False, False).splitlines()
    at = lines.index("Warnings")
    assert lines[at + 1] == "  dead.kmap:5-6: task q: no execution reaches `ack = 1;` `a = 3;`"
    assert lines[at + 2].startswith("States ")


def test_text_without_warnings_has_no_section() -> None:
    p = program(preempting(LOST_UPDATE))
    r = ex.explore(p)
    assert "Warnings" not in text(p, r, verdicts_of(p, r), False, False)


def test_json_warnings() -> None:
    p = program(LOST_UPDATE, "race.kmap")
    r = ex.explore(p)
    doc = json.loads(json.dumps(to_json(p, r, verdicts_of(p, r))))
    assert doc["warnings"] == [{
        "kind": "no-interleaving", "file": "race.kmap", "line": 5, "end_line": 5,
        "message": f"expect sometimes counter == 1: no execution interleaves two tasks or irqs: "
                   f"{NO_POINT}"}]


# ------------------------------------------------------------ statement text
@pytest.mark.parametrize("line, col, want", [
    ("    x = 1;   // a comment", 5, "x = 1;"),
    ("    if (a == 1) ack = 1;", 5, "if (a == 1)"),
    ("    if (a == 1) ack = 1;", 17, "ack = 1;"),
    ("    while (f(a) == 0) {", 5, "while (f(a) == 0)"),
    ("    for (int i = 0; i < 3; i++) {", 5, "for (int i = 0; i < 3; i++)"),
    ("    for (int i = 0; i < 3; i++) {", 10, "int i = 0;"),
    ("    for (int i = 0; i < 3; i++) {", 28, "i++"),
    ("    } else if (b) {", 12, "if (b)"),
    ("    memcpy(p, q,", 5, "memcpy(p, q, ..."),
    ("x = 1; /* c */", 1, "x = 1;"),
])
def test_statement_text(line: str, col: int, want: str) -> None:
    assert statement_text([line], 1, col) == want


# -------------------------------------------------- exact over every example
EXAMPLES = sorted(ROOT.glob("examples/*/*.kmap"))


def naive(p: Program) -> tuple[set[tuple[int, int]], int]:
    """Breadth-first over step() on whole states, no memo, no flat form:
    the (context, pc) of every instruction a step taken runs, and the flags: some state has a
    context that has started and not finished (IN_FLIGHT), and another
    that can step then (INTERLEAVED), a task asleep or stopped at a
    preemption point (GAVE_UP)."""
    s0 = initial_state(p)
    seen = {s0}
    queue = deque([s0])
    executed: set[tuple[int, int]] = set()
    flags = 0
    while queue:
        s = queue.popleft()
        acts = enabled(p, s)
        for i, info in enumerate(p.contexts):
            c = s.ctxs[i]
            started = c.status == Status.READY and (info.is_irq or c.cpu >= 0) or \
                c.status == Status.WAIT_PKMAP
            if started:
                flags |= IN_FLIGHT
                if any(a[0] != i and a[0] >= 0 for a in acts):   # a TLB eviction is no context
                    flags |= INTERLEAVED
            if not info.is_irq and (c.resched or c.status == Status.WAIT_PKMAP):
                flags |= GAVE_UP
        for a in acts:
            # the step's first instruction, and those it runs after it in
            # the same step (a call and its callee's first statement)
            ran: list[int] = []
            if a[0] >= 0:   # a TLB eviction runs no code
                executed.add((a[0], s.ctxs[a[0]].pc))
            t = step(p, s, a, ran=ran)[0]
            executed.update((a[0], pc) for pc in ran)
            if t not in seen:
                seen.add(t)
                queue.append(t)
    return executed, flags


INLINE = {"dead_branch": DEAD_BRANCH, "after_bug": AFTER_BUG, "irq_while_off": IRQ_WHILE_OFF,
          "lost_update": LOST_UPDATE, "lost_update_preempt": preempting(LOST_UPDATE),
          "data_loss": DATA_LOSS, "data_loss_preempt": preempting(DATA_LOSS)}


@pytest.mark.parametrize("name", [f"{p.parent.name}/{p.name}" for p in EXAMPLES] + sorted(INLINE))
def test_coverage_is_that_of_a_naive_search_whatever_the_options(name: str) -> None:
    p = program(INLINE[name]) if name in INLINE else load(str(ROOT / "examples" / name))
    executed, flags = naive(p)
    for opts in SEARCHES:
        c = ex.explore(p, ex.Options(**opts)).coverage  # type: ignore[arg-type]
        assert c is not None
        assert (c.executed, c.flags) == (executed, flags), opts


# ------------------------------------------------------------------ the CLI
def kmap(*argv: str) -> tuple[str, int]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return out.getvalue(), code


def test_kmap_check_prints_the_warnings_and_they_change_no_status(tmp_path: Path) -> None:
    f = tmp_path / "race.kmap"
    f.write_text(LOST_UPDATE)
    out, code = kmap("check", str(f), "--no-trace")
    assert code == 1   # the expectation fails; the warning says why it may
    assert f"Warnings\n  {f}:5: expect sometimes counter == 1: no execution interleaves" in out
    doc, code = kmap("check", str(f), "--format", "json")
    assert code == 1 and [w["kind"] for w in json.loads(doc)["warnings"]] == ["no-interleaving"]
    f.write_text(DEAD_BRANCH)
    out, code = kmap("check", str(f), "--no-trace", "--jobs", "2")
    assert code == 0 and f"  {f}:5-6: task q: no execution reaches" in out


def test_random_runs_give_no_warnings(tmp_path: Path) -> None:
    f = tmp_path / "dead.kmap"
    f.write_text(DEAD_BRANCH)
    out, _ = kmap("check", str(f), "--random", "5", "--no-trace")
    assert "Warnings" not in out
    doc, _ = kmap("check", str(f), "--random", "5", "--format", "json")
    assert json.loads(doc)["warnings"] == []
