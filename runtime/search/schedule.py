"""Schedules: choosing actions for one execution, and printing paths back.

Notation (docs/language.md "Schedules"): ``NAME`` runs a context until it
finishes or blocks (no action of it is enabled any more), or comes back
to a state it was in during the item (it loops), ``NAME:N`` runs N
steps, ``NAME@cpuC`` / ``NAME@cpuC:N`` put it on CPU C (a start or a
migration). Without ``@`` a context steps where it is running, else where
it last ran, else on the first CPU it may use. After the last item the
default policy finishes the execution. ``tlbI@cpuC`` is no context: CPU
C's TLB evicts the entry it may still hold for kmap_local index I (slot +
KM_MAX_IDX * cpu: runtime/kernel/tlb.py), one step (a context named so is
the context).

Default policy: keep running the context that stepped last while it can;
otherwise take the first enabled action in the fixed order of
``enabled()`` (contexts in source order). ``--random SEED``: a uniformly
random enabled action at every step, from ``random.Random(SEED)``.

Either policy is made fair where it goes around a cycle: at a state it
reaches for the n-th time it takes the (n mod k)-th of its k enabled
actions instead, so that a loop that can be left is left (the fairness
assumption of docs/model.md). An execution that enters a set of states it
can never leave never ends (runtime/kernel/watchdog.py): the run stops there, at
the end of the schedule's items or where its policy comes back to a state
of that set (asked at the 2nd, 3rd, 5th, 9th... visit of a state, within a
budget of searched states that grows with the run), and is judged at every
state of it, as `kmap check` judges such an execution. A run is cut
(``truncated``) at its step cap or deadline: it has not ended.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from typing import Protocol

from kmap_scenarios.runtime.search.closure import CLOSURE_LIMIT, WITNESS_CLOSURE_LIMIT, closure_cost
from kmap_scenarios.runtime.kernel import tlb
from kmap_scenarios.runtime.kernel.watchdog import stuck_reports
from kmap_scenarios.runtime.kernel.machine import Action, actions_of, enabled, final_state, step
from kmap_scenarios.runtime.kernel.program import Program, ScheduleStep
from kmap_scenarios.runtime.kernel.state import Report, State, Status, initial_state
from kmap_scenarios.runtime.search.revisits import Visits


class ScheduleError(Exception):
    """A schedule item cannot be followed in this execution; ``hint``: what
    to change, for that reason ("" when there is nothing to add)."""

    def __init__(self, item: int, message: str, hint: str = "") -> None:
        self.item = item
        self.hint = hint
        super().__init__(message)


# What to change, by the reason an item could not be followed.
_PAST_THE_END = ("a count must not exceed the steps the context has left; without `:N` "
                 "an item runs the context until it stops")
_NOT_PREEMPTIBLE = "a context can take a CPU only where the running task can be preempted"
_IRQS_OFF = "an irq fires only while its CPU has interrupts on"
_NO_ENTRY = ("a TLB keeps a kmap_local slot's entry only after x86's kunmap_local() cleared "
             "that slot's PTE without flushing its address (an unmap out of order), or after "
             "its CPU used another CPU's kmap_local address")


def evict_name(ci: int) -> str:
    """The schedule name of TLB eviction action ``ci`` (runtime/kernel/tlb.py):
    ``tlbI``, I the kmap_local index of the entry."""
    return f"tlb{tlb.evicted_slot(ci)}"


def context_name(program: Program, ci: int) -> str:
    """A context's name, or a TLB eviction's (``tlbI``)."""
    return evict_name(ci) if ci < 0 else program.contexts[ci].name


@dataclass
class TraceStep:
    number: int
    action: Action
    pc: int
    events: tuple[str, ...]


@dataclass
class Execution:
    """One execution: its path, trace, and final state."""

    actions: list[Action] = field(default_factory=list)
    trace: list[TraceStep] = field(default_factory=list)
    final: State | None = None    # last, finalised (deadlocks, write-back)
    truncated: bool = False       # stopped before it ended: by max_steps, or the deadline
    timed_out: bool = False       # ... by the deadline
    # an execution that never ends: every state of the bottom component it
    # entered, finalised (stuck contexts reported, caches written back);
    # ``final`` is the first, the state where the run stopped
    endless: list[State] | None = None
    # the same component as found (states not finalised, and the actions
    # enabled in each), for kmap_scenarios.runtime.search.outcome.Observer.component
    component: tuple[list[State], list[list[Action]]] | None = None
    # (steps taken, reports then) after each step that added a report
    reported: list[tuple[int, tuple[Report, ...]]] = field(default_factory=list)
    searched: int = 0             # states the searches for a component visited
    schedule: list[Run] | None = None   # the schedule that replays it (execute(schedule=True))


class Chooser(Protocol):
    def __call__(self, program: Program, state: State, acts: list[Action],
                 last: int) -> Action: ...


def preferred(program: Program, state: State, acts: list[Action]) -> Action:
    """Among actions of one context: where it runs, else where it ran."""
    ci = acts[0][0]
    if ci < 0:   # TLB evictions (runtime/kernel/tlb.py): of no context
        return acts[0]
    cpu = state.ctxs[ci].cpu
    for a in acts:
        if a[1] == cpu:
            return a
    return acts[0]


def default_choice(program: Program, state: State, acts: list[Action], last: int) -> Action:
    mine = [a for a in acts if a[0] == last]
    return preferred(program, state, mine) if mine else preferred(
        program, state, [a for a in acts if a[0] == acts[0][0]])


def random_choice(seed: int) -> Chooser:
    rng = random.Random(seed)

    def choose(program: Program, state: State, acts: list[Action], last: int) -> Action:
        return acts[rng.randrange(len(acts))]
    return choose


_GONE = (Status.DONE, Status.DEAD)   # a context never steps again


# The path of the execution in progress, so that an internal error (a bug of
# ours raised out of step()) can still print the schedule that replays it.
IN_PROGRESS: dict[str, object] = {}


class _Runner:
    def __init__(self, program: Program, trace: bool, max_steps: int,
                 deadline: float | None = None, search: Search | None = None) -> None:
        IN_PROGRESS.clear()
        IN_PROGRESS.update(program=program, actions=[])
        self.program = program
        self.trace = trace
        self.max_steps = max_steps
        self.deadline = deadline   # time.monotonic() past which the run is cut
        self.ex = Execution()
        IN_PROGRESS["actions"] = self.ex.actions
        self.state = initial_state(program)
        self.last = -1
        self.live = 0   # contexts before this one have finished for good
        self.items: Items | None = None   # the path's schedule, told as it goes
        # states the closure searches of one run may visit: a start, and
        # one more per step the run takes (their cost stays within a
        # constant factor of the run's own); and how many one search may
        # visit, doubled (up to CLOSURE_LIMIT) each time that is too few
        search = search or Search()
        self.budget = search.budget
        self.limit = search.limit

    def do(self, action: Action) -> None:
        evict = action[0] < 0    # a TLB eviction: no context, no code
        pc = -1 if evict else self.state.ctxs[action[0]].pc
        old = self.state
        before = self.state.reports
        self.state, events = step(self.program, self.state, action, self.trace)
        if self.items is not None:
            self.items.add(old, action, self.state)
        self.ex.actions.append(action)
        if self.state.reports is not before and self.state.reports != before:
            self.ex.reported.append((len(self.ex.actions), self.state.reports))
        if self.trace:
            self.ex.trace.append(TraceStep(len(self.ex.actions), action, pc, events))
        if not evict:
            self.last = action[0]

    def follow(self, items: tuple[ScheduleStep, ...]) -> None:
        for k, item in enumerate(items):
            n = 0
            if self.state.panicked:
                return  # the kernel died: nothing more can run
            # a NAME item also ends where the context comes back to a state
            # it was in during the item: it loops, and would never stop
            seen = Visits(self.program) if item.steps is None else None
            if item.ctx < 0:
                self._evict(k, item)
                if self._cut():
                    return
                continue
            while item.steps is None or n < item.steps:
                if seen is not None and seen.count(self.state):
                    break
                acts = actions_of(self.program, self.state, item.ctx)
                if item.cpu is not None:
                    acts = [a for a in acts if a[1] == item.cpu]
                if not acts:
                    if self.state.panicked or (item.steps is None and (n > 0 or self._stopped(item.ctx))):
                        break
                    raise ScheduleError(k, *self._why_not(item, n))
                before, action = self.state, preferred(self.program, self.state, acts)
                self.do(action)
                if seen is not None:
                    seen.stepped(before, action, self.state, 0)
                n += 1
                if self._cut():
                    return

    def _evict(self, k: int, item: ScheduleStep) -> None:
        """A ``tlbI@cpuC`` item: that eviction, wherever the TLB holds the
        entry (a search offers it only just before a step that uses the
        entry, machine._evictions; a schedule may evict it at any moment,
        as the hardware may)."""
        cpu = item.cpu if item.cpu is not None else 0
        slot = tlb.evicted_slot(item.ctx)
        if self.state.panicked or not any(e[0] == slot for e in self.state.cpus[cpu].tlb):
            why = ("the kernel has panicked" if self.state.panicked else
                   f"cpu{cpu}'s TLB holds no stale entry for kmap_local index {slot}")
            raise ScheduleError(k, f"`{evict_name(item.ctx)}@cpu{cpu}` cannot evict: {why}",
                                _NO_ENTRY)
        self.do((item.ctx, cpu))

    def finish(self, choose: Chooser, check_here: bool = False) -> Execution:
        """Go on with ``choose`` until nothing can step, the step cap, or
        a bottom component; ``check_here``: first ask whether the state
        reached (the end of a schedule's items) is already in one."""
        if check_here and not self.ex.truncated and enabled(self.program, self.state) \
                and self._entered(WITNESS_CLOSURE_LIMIT):
            return self.ex
        visits = Visits(self.program)
        default = choose is default_choice
        while not self.ex.truncated:
            n = visits.count(self.state)
            if default and not n:
                # what default_choice would take, without listing the
                # actions of every context (thousands of tasks)
                action = self._default_action()
                if action is None or self._cut():
                    break
            else:
                acts = enabled(self.program, self.state)
                if not acts or self._cut():
                    break
                action = acts[n % len(acts)] if n else choose(self.program, self.state, acts,
                                                              self.last)
            # asked at the 2nd, 3rd, 5th, 9th... visit of a state: a run in a
            # component comes back again and again, so one whose budget was
            # short at first (it went round cycles it could leave) still
            # finds out
            if n and not n & (n - 1) and self._entered():
                return self.ex
            self.budget += 1
            before = self.state
            self.do(action)
            visits.stepped(before, action, self.state, n)
        self.ex.final = final_state(self.program, self.state)
        return self.ex

    def _default_action(self) -> Action | None:
        """default_choice's action, None when nothing can step: the last
        context's while it can step, else the first context in source
        order that can. Contexts that have finished for good are skipped
        for the rest of the run."""
        p, s = self.program, self.state
        switchable: list[bool | None] = [None] * len(s.cpus)
        if self.last >= 0:
            mine = actions_of(p, s, self.last, switchable)
            if mine:
                return preferred(p, s, mine)
        ctxs = s.ctxs
        while self.live < len(p.contexts) and ctxs[self.live].status in _GONE:
            self.live += 1
        for i in range(self.live, len(p.contexts)):
            acts = actions_of(p, s, i, switchable)
            if acts:
                return preferred(p, s, acts)
        return None

    def _cut(self) -> bool:
        """Whether the run stops here, unfinished: at the step cap, or
        past the deadline (looked at every 64 steps); not where nothing
        can step any more (the execution ended at the cap)."""
        n = len(self.ex.actions)
        if n >= self.max_steps:
            self.ex.truncated = bool(enabled(self.program, self.state))
        elif self.deadline is not None and n & 63 == 0 and time.monotonic() >= self.deadline:
            self.ex.truncated = self.ex.timed_out = True
        return self.ex.truncated

    def _entered(self, limit: int | None = None) -> bool:
        """Whether the run is in a bottom component (it never ends); if so,
        record it. The search from here is skipped while the run has spent
        its budget of such searches (a run that loops a lot). ``limit``:
        search that far, whatever the budget (where a schedule ends: the
        replay of a witness must find the loop the search found)."""
        if self.budget <= 0 and limit is None:
            return False
        found, cost = closure_cost(self.program, self.state, limit or self.limit)
        self.budget -= cost
        self.ex.searched += cost
        if found is None and cost >= self.limit and limit is None:
            self.limit = min(2 * self.limit, CLOSURE_LIMIT)
        if found is None:
            return False
        states, steps = found
        self.ex.component = found
        stuck = stuck_reports(self.program, states, steps)
        self.ex.endless = [final_state(self.program, s, stuck) for s in states]
        self.ex.final = self.ex.endless[0]
        return True

    def _stopped(self, ci: int) -> bool:
        return self.state.ctxs[ci].status in (Status.DONE, Status.DEAD, Status.WAIT_PKMAP,
                                              Status.WAIT_MUTEX, Status.QUIET)

    def _why_not(self, item: ScheduleStep, n: int) -> tuple[str, str]:
        """Explain, in kernel terms, why a context cannot step now, and
        what to change ("" when there is nothing to add)."""
        p, s = self.program, self.state
        info = p.contexts[item.ctx]
        ctx = s.ctxs[item.ctx]
        done = f" after {n} step{'s' if n != 1 else ''}" if n else ""
        who = f"{'softirq' if info.is_softirq else 'irq' if info.is_irq else 'task'} {info.name}"
        if ctx.status == Status.DONE:
            return f"{who} has already finished{done}", _PAST_THE_END
        if ctx.status == Status.DEAD:
            return f"{who} was killed{done}", _PAST_THE_END
        if ctx.status == Status.WAIT_PKMAP:
            return f"{who} sleeps on pkmap_map_wait{done}", ""
        if ctx.status == Status.WAIT_MUTEX:
            return f"{who} sleeps in mutex_lock(){done}", ""
        if ctx.status == Status.QUIET:
            return (f"{who} runs only when raised, at an irq exit or local_bh_enable() with "
                    f"in_interrupt() == 0, or in ksoftirqd{done}"), ""
        if s.panicked:
            return "the kernel has panicked", ""
        cpu = item.cpu if item.cpu is not None else (info.cpu if info.cpu is not None else max(ctx.cpu, 0))
        c = s.cpus[cpu]
        if info.is_irq and ctx.status == Status.PENDING:
            return f"{who} cannot fire{done}: cpu{cpu} has interrupts disabled", _IRQS_OFF
        if c.irqs and c.irqs[-1] != item.ctx:
            top = p.contexts[c.irqs[-1]]
            return (f"{who} cannot run{done}: {'softirq' if top.is_softirq else 'irq'} "
                    f"{top.name} is running "
                    f"on cpu{cpu}", "")
        if c.curr >= 0 and c.curr != item.ctx:
            cur = s.ctxs[c.curr]
            why = (f"preempt_count is {cur.preempt_count}" if cur.preempt_count else
                   "interrupts are disabled" if c.irqs_off else
                   "CONFIG_PREEMPTION=n and it is not at a preemption point")
            return (f"{who} cannot run{done}: cpu{cpu} is running {p.contexts[c.curr].name}, "
                    f"which cannot be preempted here ({why})", _NOT_PREEMPTIBLE)
        if item.cpu is not None and info.cpu is not None and item.cpu != info.cpu:
            return f"{who} is bound to cpu{info.cpu}", ""
        if item.cpu is not None and (ctx.migration_disabled or ctx.kmap_idx):
            return f"{who} cannot migrate to cpu{item.cpu}{done}: migration is disabled", ""
        return f"{who} cannot step{done}: it spins on a lock", ""


@dataclass(frozen=True)
class Search:
    """How much a run may search for the component it is in: ``budget``
    states to start with (one more per step), ``limit`` states for the
    first search (doubled while too few). `kmap run` searches at once as
    far as it ever will; `kmap check --random`, running many executions,
    starts small (what a run finds is the same, but maybe later on)."""

    budget: int = 5 * CLOSURE_LIMIT
    limit: int = CLOSURE_LIMIT


def execute(program: Program, items: tuple[ScheduleStep, ...] | None = None,
            choose: Chooser = default_choice, trace: bool = True,
            max_steps: int = 100_000, deadline: float | None = None,
            search: Search | None = None, schedule: bool = False) -> Execution:
    """One execution: follow ``items``, then ``choose`` until the end;
    cut (``truncated``) after ``max_steps`` steps or once
    ``time.monotonic()`` passes ``deadline``. ``schedule``: also note the
    schedule that replays it (``Execution.schedule``), as it runs."""
    r = _Runner(program, trace, max_steps, deadline, search)
    if schedule:
        r.items = Items(program)
    if items:
        r.follow(items)
    ex = r.finish(choose, check_here=bool(items))
    if r.items is not None:
        ex.schedule = r.items.done()
    return ex


def replay(program: Program, actions: list[Action], trace: bool = False,
           endless: bool = False) -> Execution:
    """Re-run an exact action path (used to print witnesses). ``endless``:
    the path leads into a loop the execution never leaves; ``final`` is
    then its first state with the stuck contexts reported (the DEADLOCK
    lines), as `kmap run` finds it."""
    r = _Runner(program, trace, len(actions) + 1)
    for a in actions:
        r.do(a)
    if not (endless and enabled(program, r.state) and r._entered(WITNESS_CLOSURE_LIMIT)):
        r.ex.final = final_state(program, r.state)
    return r.ex


def in_progress_schedule() -> str | None:
    """The replay schedule of the execution that was running, if any."""
    program, actions = IN_PROGRESS.get("program"), IN_PROGRESS.get("actions")
    if not isinstance(program, Program) or not isinstance(actions, list):
        return None
    try:
        return encode(program, list(actions)) or None
    except Exception:  # the replay itself hit the bug: give the raw path
        return ", ".join(f"{context_name(program, c)}@cpu{u}:1" for c, u in actions)


@dataclass
class Run:
    """One item of a schedule that replays a path (see ``runs``)."""

    ctx: int
    cpu: int | None        # None: where replay puts it by itself
    steps: int = 1
    more: bool = False     # the context could take another step after it

    def text(self, program: Program, count: bool | None = None) -> str:
        """``NAME[@cpuC][:N]``; the count is left out where ``NAME`` alone
        replays the same (``count``: None for that, else whether to print it)."""
        name = context_name(program, self.ctx) + ("" if self.cpu is None else f"@cpu{self.cpu}")
        return f"{name}:{self.steps}" if (self.more if count is None else count) else name


def runs(program: Program, actions: list[Action]) -> list[Run]:
    """The items of the schedule that replays ``actions`` exactly.

    Consecutive steps of one context form an item. A step on another CPU
    than the one replay would pick (a start elsewhere, a migration) begins
    a new ``NAME@cpuN`` item, whose steps all stay on that CPU. ``more``
    says whether the context could take a step after its item (else
    ``NAME`` alone replays to exactly there: it finished or blocks)."""
    items = Items(program)
    state = initial_state(program)
    for a in actions:
        after, _ = step(program, state, a)
        items.add(state, a, after)
        state = after
    return items.done()


class Items:
    """``runs`` told step by step, as a run goes (`kmap run` prints its
    path's schedule without replaying it)."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.items: list[Run] = []
        self.after: State | None = None   # the state the last step left

    def add(self, before: State, a: Action, after: State) -> None:
        """The step ``a`` from ``before`` to ``after``."""
        program = self.program
        ci, cpu = a
        natural = ci >= 0 and preferred(program, before, actions_of(program, before, ci)) == a
        last = self.items[-1] if self.items else None
        if last is not None and last.ctx == ci and (last.cpu == cpu if last.cpu is not None else natural):
            last.steps += 1
        else:
            if last is not None:
                self._ends(last, before)
            self.items.append(Run(ci, None if natural else cpu))
        self.after = after

    def done(self) -> list[Run]:
        """The items, each told whether its context could step on."""
        if self.items and self.after is not None:
            self._ends(self.items[-1], self.after)
        return self.items

    def _ends(self, item: Run, after: State) -> None:
        """Whether item's context could step on from ``after``, the state
        its last step left (told as the items go: keeping every item's
        state would keep a state per item, thousands of contexts each)."""
        item.more = item.ctx >= 0 and any(item.cpu is None or x[1] == item.cpu
                                          for x in actions_of(self.program, after, item.ctx))


def encode(program: Program, actions: list[Action]) -> str:
    """The schedule notation that replays ``actions`` exactly (``runs``)."""
    return runs_text(program, runs(program, actions))


def runs_text(program: Program, items: list[Run]) -> str:
    """Items of ``runs`` in the schedule notation."""
    return ", ".join(it.text(program) for it in items)


def items_text(program: Program, items: tuple[ScheduleStep, ...]) -> str:
    """Schedule items in the notation ``parse_items`` reads back:
    ``a, b@cpu1:2`` (a file's schedule line without its comments)."""
    return ", ".join(context_name(program, i.ctx) + ("" if i.cpu is None else f"@cpu{i.cpu}")
                     + ("" if i.steps is None else f":{i.steps}") for i in items)


MAX_DIGITS = 18   # a step count or CPU number, as typed (10**18 steps is "until done")
_EVICT = re.compile(r"tlb[0-9]{1,4}")


def _evict_item(program: Program, item: str, name: str, colon: str, count: str, cpu: str) -> int:
    """The action context of a ``tlbI@cpuC`` item (its CPU is checked with
    any item's); ValueError where it is not one."""
    slot = int(name[3:])
    cfg = program.config
    if slot >= cfg.KM_MAX_IDX * cfg.NR_CPUS:
        raise ValueError(f"`{item}`: kmap_local indexes are 0 to {cfg.KM_MAX_IDX * cfg.NR_CPUS - 1} "
                         f"(slot + {cfg.KM_MAX_IDX} * cpu)")
    if not cpu.strip():
        raise ValueError(f"`{item}`: a TLB eviction names its CPU: `{name}@cpuN`")
    if colon and count.strip() != "1":
        raise ValueError(f"`{item}`: a TLB eviction is one step (`{name}@cpuN` or `:1`)")
    return tlb.evict_action(slot)


def decimal(text: str) -> int | None:
    """The value of ASCII decimal digits of at most MAX_DIGITS, else None
    (str.isdigit() also takes superscripts and full-width digits, which a
    schedule in a file could not contain)."""
    t = text.strip()
    if not t or not t.isascii() or not t.isdigit() or len(t.lstrip("0")) > MAX_DIGITS:
        return None
    return int(t)


def parse_items(program: Program, text: str) -> tuple[ScheduleStep, ...]:
    """Parse ``--schedule`` text; ValueError with a message on bad input."""
    out = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise ValueError("empty schedule item")
        name, colon, count = item.partition(":")
        name, at, cpu = name.partition("@")
        name = name.strip()
        if not name:
            raise ValueError(f"`{item}`: a task or irq name is expected before `{(at or colon)}`")
        if colon and not count.strip():
            raise ValueError(f"`{item}`: a step count is expected after `:`")
        if at and not cpu.strip():
            raise ValueError(f"`{item}`: expected @cpuN")
        ci = program.context_index(name)
        if ci is None and _EVICT.fullmatch(name):
            ci = _evict_item(program, item, name, colon, count, cpu)
        if ci is None:
            names = ", ".join(c.name for c in program.contexts)
            raise ValueError(f"no task or irq named `{name}` (there are: {names})")
        steps = None
        if count:
            steps = decimal(count)
            if steps is None or steps < 1:
                shown = item if len(item) <= 40 else f"{item[:30]}..."
                raise ValueError(f"`{shown}`: the step count must be a positive integer "
                                 f"of at most {MAX_DIGITS} digits")
        c = None
        if cpu:
            cpu = cpu.strip()
            c = decimal(cpu[3:]) if cpu.startswith("cpu") else None
            if c is None:
                raise ValueError(f"`{item}`: expected @cpuN")
            if c >= program.config.NR_CPUS:
                raise ValueError(f"`{item}`: cpu{c} does not exist (NR_CPUS = {program.config.NR_CPUS})")
        out.append(ScheduleStep(ci, steps, c))
    return tuple(out)
