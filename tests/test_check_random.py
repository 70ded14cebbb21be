"""`kmap check --random N`: no verdict from an execution that did not
finish, executions that never end judged as the exhaustive check judges
them, --max-steps and --timeout, and shrunk counterexamples that replay."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from kmap_scenarios.dsl.cli.random_runs import SEARCH
from kmaptest import program
from test_cli import kmap, write
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.search.outcome import Observer
from kmap_scenarios.runtime.search.schedule import Search, execute, random_choice
from kmap_scenarios.runtime.search.shrink import outcome_of

# The scenario: 120,001 steps, more than the default cap of 100,000.
LONG_LOOP = """int g = 0;
task t { for (int i = 0; i < 60000; i++) { g = i; } g = 0; }
expect always g == 0;
"""


def test_an_execution_cut_by_the_step_cap_is_no_counterexample(tmp_path: Path) -> None:
    f = write(tmp_path, LONG_LOOP)
    out, _, code = kmap("check", f, "--random", "1", "--no-trace")
    assert code == 3, out
    assert "counterexample" not in out and "FAILS" not in out
    assert "expect always g == 0: unproven (search bounded by 1 random execution, " \
           "1 cut at 100000 steps)" in out
    assert "Outcomes 0" in out and "Executions 0, max depth 100000" in out


def test_max_steps_sets_the_cap(tmp_path: Path) -> None:
    """The loop takes 303 steps: 1 + 100 x (test, body, i++) + the last test + g = 0."""
    f = write(tmp_path, LONG_LOOP.replace("60000", "100"))
    out, _, code = kmap("check", f, "--random", "3", "--max-steps", "302", "--no-trace")
    assert code == 3 and "3 cut at 302 steps" in out and "max depth 302" in out
    # as kmap run says of the same cut execution
    run, _, rc = kmap("run", f, "--schedule", "t:302", "--max-steps", "302", "--no-trace")
    assert rc == 3 and "expect always g == 0: unproven" in run
    out, _, code = kmap("check", f, "--random", "3", "--max-steps", "303", "--no-trace")
    assert code == 3 and " cut" not in out and "Outcomes 1\n       3  g=0; no reports" in out
    # kmap run too: an execution that ends at the cap has ended
    out, _, code = kmap("run", f, "--schedule", "t:303", "--max-steps", "303", "--no-trace")
    assert code == 0 and "did not finish" not in out


BUG_THEN_LOOP = """config { ARCH = x86; NR_CPUS = 2; LAST_PKMAP = 4; PAGE_SIZE = 64; }
page P = alloc_page(GFP_HIGHUSER);
int g = 0;
task t on cpu0 { void *v = kmap(P); kunmap(P); kunmap(P); }
task u on cpu1 { for (int i = 0; i < 600; i++) { g = i; } g = 0; }
expect never BUG;
expect always g == 0;
"""


def test_reports_reached_before_the_cut_still_decide(tmp_path: Path) -> None:
    """kunmap_high() BUG()s on the second kunmap() (mm/highmem.c): a report
    never goes away, so `never BUG` fails though no execution finished,
    while `always g == 0` stays unproven."""
    f = write(tmp_path, BUG_THEN_LOOP)
    out, _, code = kmap("check", f, "--random", "4", "--max-steps", "300")
    assert code == 1, out
    assert "Unfinished (cut by a bound: the reports reached so far)\n" \
           "     cut  BUG: kernel BUG at mm/highmem.c:kunmap_high!" in out
    assert "expect never BUG: FAILS\n    Positive: 0 Negative: 0\n    counterexample: t\n" in out
    assert "the reports here already decide it, whatever the execution does next" in out
    assert "expect always g == 0: unproven (search bounded by 4 random executions, " \
           "4 cut at 300 steps)" in out
    run, _, rc = kmap("run", f, "--schedule", "t", "--no-trace", "--max-steps", "300")
    assert rc == 1 and "expect never BUG: FAILS" in run


HANDSHAKE = """int a = 0;  int ack = 0;
task p on cpu0 { a = 1; while (ack == 0) cond_resched(); }
task q on cpu1 { if (a == 1) ack = 1; }
expect never DEADLOCK;
"""

# p loops forever between x = 1 and x = 0; q reads x once, on another CPU.
FLICKER = """int x = 0;
int stop = 0;
task p on cpu0 { while (stop == 0) { x = 1; x = 0; } }
task q on cpu1 { int seen = x; }
expect always x == 0;
expect sometimes x == 1;
expect never q.seen == 1;
"""

# Both tasks spin on a flag only the second sets after its own spin: every
# execution ends spinning on two CPUs, whatever the third task does first.
TWO_SPINNERS = """config { ARCH = x86; NR_CPUS = 2; LAST_PKMAP = 4; PAGE_SIZE = 64; CONFIG_PREEMPTION = y; }
int g1 = 0;
page P1 = alloc_page(GFP_HIGHUSER);
task t0 on cpu1 { while (g1 == 0) cond_resched(); void *p2 = kmap(P1); p2[0] = 1; kunmap(P1); }
task t1 on cpu0 { while (g1 == 0) cond_resched(); g1 = 1; }
task t2 on cpu1 { void *m6 = kmap_local_page(P1); m6[0] = 1; kunmap_local(m6); }
"""


@pytest.mark.parametrize("search", [SEARCH, Search()], ids=["check-random", "run"])
def test_random_executions_that_never_end_are_the_exhaustive_outcomes(search: Search) -> None:
    """The same Outcome as the exhaustive search builds for a bottom
    component (judged at every one of its states), none cut, every
    outcome found: with the small first searches of check --random and
    with kmap run's (TWO_SPINNERS used to spend a run's whole budget on
    cycles it could leave, then spin to the step cap in a quarter of the
    runs)."""
    for src in (HANDSHAKE, FLICKER, TWO_SPINNERS):
        p = program(src)
        full = ex.explore(p).outcomes
        obs = Observer(p)
        got = set()
        for seed in range(60):
            run = execute(p, None, random_choice(seed), trace=False, max_steps=5000,
                          search=search)
            assert not run.truncated
            got.add(outcome_of(obs, run))
        assert got == set(full), src
        assert any(o.ends == "never" for o in got)


def test_check_random_judges_a_never_ending_execution_at_every_state(tmp_path: Path) -> None:
    f = write(tmp_path, FLICKER)
    out, _, code = kmap("check", f, "--random", "30", "--no-trace")
    assert code == 1, out
    assert "q.seen=0; x=0|1; DEADLOCK: watchdog: BUG: soft lockup" in out
    assert "[never ends]" in out
    assert "expect always x == 0: FAILS" in out          # x is 1 at some states
    assert "expect sometimes x == 1: holds" in out
    verdicts = re.findall(r"expect \w+ [^:]+: (\w+)", kmap("check", f, "--no-trace")[0])
    assert verdicts == re.findall(r"expect \w+ [^:]+: (\w+)", out)


def test_a_shrunk_never_ending_counterexample_replays(tmp_path: Path) -> None:
    f = write(tmp_path, HANDSHAKE)
    out, _, code = kmap("check", f, "--random", "20", "--no-trace")
    assert code == 1
    assert "counterexample: q, p:2\n" in out
    assert "from here the execution never ends" in out
    run, _, rc = kmap("run", f, "--schedule", "q, p:2", "--no-trace")
    assert rc == 1 and "the execution never ends" in run


LOST_UPDATE = """config { ARCH = x86; NR_CPUS = 1; CONFIG_PREEMPTION = n; }
int g = 0;
int done = 0;
task w on cpu0 { while (done < 2) cond_resched(); }
task a on cpu0 { int v = g; preempt_point(); g = v + 1; done = done + 1; }
task b on cpu0 { int x = g; preempt_point(); g = x + 1; done = done + 1; }
expect always g == 2;
"""


def test_random_counterexamples_are_shrunk_and_replay(tmp_path: Path) -> None:
    f = write(tmp_path, LOST_UPDATE)
    out, _, code = kmap("check", f, "--random", "4", "--seed", "4", "--no-trace")
    assert code == 1
    line = next(x for x in out.splitlines() if "counterexample:" in x)
    schedule = line.split("counterexample: ")[1]
    assert schedule == "b:2, a, b, w"      # as small as any (tests/test_shrink.py)
    assert "\n    shrunk from 15 steps and 6 context switches to 9 and 3 in 28 replays\n" in out
    run, _, rc = kmap("run", f, "--schedule", schedule, "--no-trace")
    assert rc == 1 and "g = 1" in run and f"schedule: {schedule} (--schedule)" in run
    again = kmap("check", f, "--random", "4", "--seed", "4", "--no-trace")
    assert again == (out, "", code)      # deterministic
    doc = json.loads(kmap("check", f, "--random", "4", "--seed", "4", "--format", "json")[0])
    assert doc["expectations"][0]["witness"] == schedule


def test_max_steps_and_seed_need_random() -> None:
    from test_cli import FIRST
    _, err, code = kmap("check", FIRST, "--max-steps", "10")
    assert code == 2 and "--max-steps only applies to --random N" in err
    _, err, code = kmap("check", FIRST, "--random", "2", "--max-steps", "0")
    assert code == 2 and "--max-steps must be at least 1" in err
    out, _, code = kmap("check", "--help")
    flat = " ".join(out.split())
    assert "--max-steps N with --random: cut an execution after N steps (default 100000)" in flat


def test_timeout_bounds_random_executions_by_time(tmp_path: Path) -> None:
    """No execution starts after the timeout; the running one is cut."""
    f = write(tmp_path, LONG_LOOP.replace("60000", "10000000"))
    start = time.monotonic()
    out, _, code = kmap("check", f, "--random", "5", "--max-steps", "100000000",
                        "--timeout", "0.5", "--no-trace")
    took = time.monotonic() - start
    assert took < 0.5 * 1.1 + 1, took
    assert code == 3 and "counterexample" not in out
    assert "Bounded by: 1 of 5 random executions, time (always/never cannot be proven)" in out
    quick = write(tmp_path, "int g = 0;\ntask t { g = 1; }\nexpect always g == 1;\n", "q.kmap")
    out, _, code = kmap("check", quick, "--random", "10", "--timeout", "30", "--no-trace")
    assert code == 3 and "Bounded by: 10 random executions (always" in out
    # sampling took the time: the counterexample is printed as found
    race = write(tmp_path, LOST_UPDATE, "r.kmap")
    out, _, code = kmap("check", race, "--random", "1000000", "--timeout", "0.3", "--no-trace")
    assert code == 1 and "\n    not shrunk: --timeout ran out\n" in out


def test_a_condition_that_cannot_be_evaluated_shrinks_as_such(tmp_path: Path) -> None:
    """10 / g with g = 0 at the end: FAILS (cannot evaluate), as under kmap
    run, and the shrunk counterexample still cannot."""
    f = write(tmp_path, "int g = 0;\nint h = 0;\ntask a on cpu0 { h = 1; h = 2; g = 1; }\n"
                        "task b on cpu1 { h = 3; g = 0; }\nexpect always 10 / g == 10;\n")
    out, _, code = kmap("check", f, "--random", "10", "--no-trace")
    assert code == 1
    assert "expect always 10 / g == 10: FAILS (cannot evaluate: division by zero)\n" \
           "    Positive: 5 Negative: 0\n    counterexample: a, b\n" \
           "    shrunk from 5 steps and 2 context switches to 5 and 1 in 8 replays\n" in out
    run, _, rc = kmap("run", f, "--schedule", "a, b", "--no-trace")
    assert rc == 1 and "FAILS (cannot evaluate: division by zero)" in run
