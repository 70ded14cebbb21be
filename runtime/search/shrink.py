"""Shrinking a counterexample found by `kmap check --random`.

A random execution that breaks an expectation is usually long: it
wanders through steps and context switches that have nothing to do with
the bug. As QuickCheck and Shuttle do, the counterexample is made
smaller before it is printed: fewest steps first, then fewest context
switches. Every candidate is a schedule text, replayed exactly as
``kmap run --schedule TEXT`` replays it (``parse_items`` on the text,
then ``execute``: the items, then the default policy to the end), and is
kept only when that execution still breaks the same expectation in the
same way (``Breach``: the same condition value, and the same truth of
each report test the condition names) and is smaller. Where its reports
decide the expectation before it ends (a report never goes away), the
counterexample is its path up to there (``decided_at``). The schedule
printed is ``encode`` of that path, and what is kept is the replay of
that very schedule, so it reproduces the counterexample step for step.

Candidates, from the items of the current smallest schedule (``runs``):
drop a chunk of items (halves, then quarters, ... then single items;
what is left to the end runs under the default policy), move an item's
steps into the next or previous item of the same context (one context
switch fewer), shorten an item's step count (1, half, one less), and
drop an item's ``@cpuN``. The first candidate kept restarts the round;
shrinking ends when a round keeps none, after ``MAX_REPLAYS`` replays
or ``MAX_WORK`` replayed steps and searched states, or at the deadline.
A candidate is replayed for at most one step more than the smallest so
far needs. The order is fixed, so the result is deterministic (except
where a deadline cut it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kmap_scenarios.runtime.kernel import program as ir
from kmap_scenarios.runtime.search.expect import ExpectError, evaluate
from kmap_scenarios.runtime.kernel.machine import Action
from kmap_scenarios.runtime.search.outcome import MIXED, Observer, Outcome
from kmap_scenarios.runtime.kernel.program import Program, ScheduleStep
from kmap_scenarios.runtime.kernel.reports import kind_of
from kmap_scenarios.runtime.search.schedule import (Execution, Run, ScheduleError, context_name, default_choice, execute, parse_items,
                              runs)
from kmap_scenarios.runtime.kernel.state import State, initial_state

MAX_REPLAYS = 500       # candidates replayed for one counterexample
MAX_WORK = 200_000      # steps and searched states those replays may take (about 3 s)


def outcome_of(observer: Observer, ex: Execution) -> Outcome:
    """The outcome of one execution, as `kmap check` counts it: its final
    state, the bottom component it entered (judged at every state of it),
    or, when it was cut, only what its reports already decide."""
    assert ex.final is not None
    if ex.truncated:
        return observer.unfinished(ex.final.reports)
    if ex.component is not None:
        return observer.component(*ex.component)
    return observer.outcome(ex.final)


def quantifier(program: Program, k: int) -> str:
    """The quantifier of expectation k ("never" for the implicit "no
    reports" expectation of a scenario without expect lines)."""
    return program.expectations[k].quant if program.expectations else "never"


def breaks(program: Program, k: int, o: Outcome) -> bool:
    """Whether the execution ending in ``o`` is a counterexample of
    expectation k: the condition cannot be evaluated, or an always /
    never condition is false / true at some observation of it. A cut
    execution is one only when its reports alone decide it."""
    c = o.conds[k]
    quant = quantifier(program, k)
    if o.ends == "cut":
        return (quant == "always" and c is False) or (quant == "never" and c is True)
    if c is None:
        return True
    if quant == "always":
        return c is False or c == MIXED
    return quant == "never" and (c is True or c == MIXED)


@dataclass(frozen=True)
class Breach:
    """How an execution breaks an expectation: the condition's value
    (False, True, MIXED over a component, None when it cannot be
    evaluated) and the truth of each report test the condition names
    (for the implicit expectation: the kinds of the reports)."""

    cond: bool | int | None
    reports: tuple[object, ...]


def breach(program: Program, k: int, o: Outcome, final: State) -> Breach | None:
    """How the execution ending in ``o`` (``final``: its final state, or
    the first state of its component; every state of a component has the
    same reports) breaks expectation k, or None when it does not."""
    if not breaks(program, k, o):
        return None
    if not program.expectations:
        return Breach(o.conds[k], tuple(sorted({kind_of(r.code).name for r in final.reports})))
    tests: list[bool | None] = []
    for t in report_tests(program.expectations[k].cond):
        try:
            tests.append(bool(evaluate(program, final, t)))
        except ExpectError:
            tests.append(None)
    return Breach(o.conds[k], tuple(tests))


def report_tests(e: ir.Expr) -> list[ir.Expr]:
    """The report tests (``BUG``, ``WARN("text")``, ...) in a condition,
    left to right (without recursion: a chain may be long)."""
    out: list[ir.Expr] = []
    stack = [e]
    while stack:
        node = stack.pop()
        if isinstance(node, ir.ReportTest):
            out.append(node)
        elif isinstance(node, ir.Unary):
            stack.append(node.operand)
        elif isinstance(node, ir.Binary):
            stack += (node.right, node.left)
        elif isinstance(node, ir.Cond):
            stack += (node.orelse, node.then, node.cond)
        elif isinstance(node, ir.Conv):
            stack.append(node.operand)
    return out


def switches(actions: list[Action]) -> int:
    """Context switches along a path: steps taken by another context than
    the step before."""
    return sum(1 for a, b in zip(actions, actions[1:]) if a[0] != b[0])


def decided_at(program: Program, k: int, ex: Execution, want: Breach, observer: Observer) -> int:
    """The steps after which ``ex`` breaks expectation k as ``want`` says
    by its reports alone (a report never goes away: whatever the
    execution does next cannot change it); all its steps when only its
    end does."""
    for n, reports in ex.reported:
        o = observer.unfinished(reports)
        if breaks(program, k, o) and \
                breach(program, k, o, initial_state(program)._replace(reports=reports)) == want:
            return n
    return len(ex.actions)


@dataclass
class Shrunk:
    """The smallest counterexample found, and what it took.

    ``execution`` is the replay of ``schedule`` (as `kmap run --schedule`
    replays it); the counterexample is its first ``decided`` steps: all of
    them, or fewer when the reports reached there already decide the
    expectation (the execution then goes on under the default policy)."""

    execution: Execution
    outcome: Outcome
    decided: int
    schedule: str
    steps_before: int
    switches_before: int
    replays: int
    stopped: str = ""     # "time" or "budget" when that ended shrinking early

    @property
    def actions(self) -> list[Action]:
        return self.execution.actions[:self.decided]


# a candidate item: (context, cpu or None, steps or None for "until it stops")
_Item = tuple[int, int | None, int | None]
_Size = tuple[int, int, int, int]
_HUGE: _Size = (1 << 62, 0, 0, 0)


class _Shrinker:
    def __init__(self, program: Program, k: int, observer: Observer, max_steps: int,
                 deadline: float | None, max_replays: int, max_work: int) -> None:
        self.p, self.k, self.observer = program, k, observer
        self.max_steps, self.deadline = max_steps, deadline
        self.replays_left, self.work_left = max_replays, max_work
        self.replays = 0
        self.stopped = False
        self.why = ""                     # what stopped it: "time", "budget"
        self.want: Breach | None = None
        self.best: Shrunk | None = None
        self.best_cap = 0                 # the step cap its replay had
        self.size: _Size = _HUGE
        self.items: list[_Item] = []
        self.counts: list[int] = []       # the steps each item of self.items took

    def text(self, items: list[_Item]) -> str:
        # a TLB eviction item is one step whatever its count (schedule.follow)
        return ", ".join(context_name(self.p, c) + ("" if u is None else f"@cpu{u}")
                         + ("" if n is None or c < 0 else f":{n}") for c, u, n in items)

    def replay(self, items: list[_Item], cap: int) -> tuple[Execution, Outcome] | None:
        """Replay a candidate as `kmap run --schedule` would, cut after
        ``cap`` steps; None when it cannot be followed or the budget is
        spent."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.stopped, self.why = True, "time"
            return None
        if self.replays_left <= 0 or self.work_left <= 0:
            self.stopped, self.why = True, "budget"
            return None
        self.replays_left -= 1
        self.replays += 1
        try:
            steps: tuple[ScheduleStep, ...] = parse_items(self.p, self.text(items)) if items else ()
            ex = execute(self.p, steps, default_choice, trace=False, max_steps=cap,
                         deadline=self.deadline)
        except (ValueError, ScheduleError):
            return None
        self.work_left -= len(ex.actions) + ex.searched
        if ex.timed_out:
            self.stopped, self.why = True, "time"
            return None
        return ex, outcome_of(self.observer, ex)

    def judge(self, items: list[_Item], cap: int) -> tuple[Execution, Outcome, int] | None:
        """Replay a candidate: the execution, its outcome and where it
        breaks the expectation as wanted; None if it does not."""
        got = self.replay(items, cap)
        if got is None:
            return None
        ex, o = got
        assert ex.final is not None
        b = breach(self.p, self.k, o, ex.final)
        if b is None or (self.want is not None and b != self.want):
            return None
        self.want = b
        return ex, o, decided_at(self.p, self.k, ex, b, self.observer)

    def attempt(self, items: list[_Item]) -> bool:
        """Replay a candidate; keep it when it breaks the expectation the
        same way and is smaller. What is kept is the replay of the
        schedule that is printed for it (``runs`` of its path up to where
        it is decided), so that schedule reproduces it exactly.

        A candidate is replayed for one step more than the smallest so far
        takes to break the expectation: one that needs more is no smaller,
        and one that breaks it by its reports alone does so within them
        (cut there, it is judged on those reports, as an unfinished
        execution). The first replay has the whole step cap."""
        cap = self.max_steps if self.best is None else min(self.max_steps, self.size[0] + 1)
        got = self.judge(items, cap)
        if got is None:
            return False
        ex, o, d = got
        size, rs = measure(self.p, ex.actions[:d])
        if size >= self.size:
            return False
        canonical = [(r.ctx, r.cpu, r.steps if r.more else None) for r in rs]
        if canonical != items:
            again = self.judge(canonical, cap)
            if again is None or again[0].actions[:again[2]] != ex.actions[:d]:
                return False
            ex, o, d = again
        self.best = Shrunk(ex, o, d, self.text(canonical), 0, 0, 0)
        self.best_cap = cap
        self.size, self.items, self.counts = size, canonical, [r.steps for r in rs]
        return True

    # ------------------------------------------------------------ rounds
    def round(self) -> bool:
        return self.drop() or self.merge() or self.shorten() or self.uncpu()

    def drop(self) -> bool:
        n = len(self.items)
        size = max(1, n // 2) if n > 1 else n
        while size >= 1:
            for start in range(0, n, size):
                if self.stopped:
                    return False
                if self.attempt(self.items[:start] + self.items[start + size:]):
                    return True
            size = 0 if size == 1 else max(1, size // 2)
        return False

    def merge(self) -> bool:
        items = self.items
        for i, (ci, _, ni) in enumerate(items):
            j = next((j for j in range(i + 1, len(items)) if items[j][0] == ci), None)
            if j is None:
                continue
            nj = items[j][2]
            total = None if ni is None or nj is None else ni + nj
            into_first = items[:i] + [(ci, items[i][1], total)] + items[i + 1:j] + items[j + 1:]
            into_last = items[:i] + items[i + 1:j] + [(ci, items[j][1], total)] + items[j + 1:]
            for cand in (into_first, into_last):
                if self.stopped:
                    return False
                if self.attempt(cand):
                    return True
        return False

    def shorten(self) -> bool:
        for i, (ci, cpu, _) in enumerate(self.items):
            c = self.counts[i]
            for n in sorted({1, c // 2, c - 1}):
                if not 1 <= n < c:
                    continue
                if self.stopped:
                    return False
                if self.attempt(self.items[:i] + [(ci, cpu, n)] + self.items[i + 1:]):
                    return True
        return False

    def uncpu(self) -> bool:
        for i, (ci, cpu, n) in enumerate(self.items):
            if cpu is None:
                continue
            if self.stopped:
                return False
            if self.attempt(self.items[:i] + [(ci, None, n)] + self.items[i + 1:]):
                return True
        return False


def measure(program: Program, actions: list[Action]) -> tuple[_Size, list[Run]]:
    """How small a counterexample is: steps, context switches, then the
    items and characters of its schedule; with those items."""
    rs = runs(program, actions)
    text = ", ".join(r.text(program) for r in rs)
    return (len(actions), switches(actions), len(rs), len(text)), rs


def shrink(program: Program, actions: list[Action], k: int, observer: Observer | None = None,
           max_steps: int = 100_000, deadline: float | None = None,
           max_replays: int = MAX_REPLAYS, max_work: int = MAX_WORK) -> Shrunk | None:
    """The smallest counterexample of expectation k found from the path
    ``actions``: fewest steps, then fewest context switches. None when
    the replay of ``actions`` (the schedule ``encode`` prints for them,
    then the default policy) does not break expectation k."""
    s = _Shrinker(program, k, observer or Observer(program), max_steps, deadline,
                  max_replays, max_work)
    if not s.attempt([(r.ctx, r.cpu, r.steps if r.more else None) for r in runs(program, actions)]):
        return None
    assert s.best is not None
    before = (s.size[0], s.size[1])
    while not s.stopped and s.round():
        pass
    best, why = s.best, s.why
    # the schedule printed, replayed as kmap run replays it (its whole step
    # cap): the counterexample it shows, and how that execution goes on
    if s.best_cap < max_steps:
        s.replays_left, s.work_left, s.stopped = 1, max_steps, False
        full = s.judge(s.items, max_steps)
        if full is not None and full[0].actions[:full[2]] == best.actions:
            best = Shrunk(full[0], full[1], full[2], best.schedule, 0, 0, 0)
    best.steps_before, best.switches_before, best.replays = before[0], before[1], s.replays
    best.stopped = why
    return best
