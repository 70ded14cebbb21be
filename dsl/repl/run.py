"""How the REPL's `step`, `run` and `expect` move through an execution.

A ``Run`` collects the frames of one command without touching the session:
the session commits them only when the command succeeds, so a refused
schedule or a Ctrl-C leaves it as it was. The choices are the runtime's own
(runtime/search/schedule.py: ``preferred`` where a context runs, ``default_choice``
for the default policy); the only difference is that the interactive task
is never chosen while it waits for input.
"""

from __future__ import annotations

from kmap_scenarios.dsl.formats import run_text as report
from kmap_scenarios.dsl.repl.execute import Frame, ReplError, advance, blocked_on, user_actions, waiting
from kmap_scenarios.dsl.repl.view import ended_text
from kmap_scenarios.runtime.kernel import tlb
from kmap_scenarios.runtime.kernel.machine import Action, enabled, step
from kmap_scenarios.runtime.kernel.program import ScheduleStep
from kmap_scenarios.runtime.search.schedule import TraceStep, default_choice, preferred
from kmap_scenarios.runtime.kernel.state import State

# `run` stops here, as `kmap run --max-steps` does by default.
RUN_STEPS = 100_000


class Run:
    """The steps one command takes, not yet committed to the session."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.frames: list[Frame] = []
        self.trace: list[TraceStep] = []

    def take(self, action: Action, what: str) -> None:
        """One step of the machine."""
        self.frame, t = advance(self.frame, action, what)
        self.frames.append(self.frame)
        self.trace.append(t)

    def steps(self, item: ScheduleStep | None, count: int) -> str:
        """Up to ``count`` steps of one context, or of the default policy;
        why it stopped early, or ''."""
        for _ in range(count):
            f = self.frame
            acts = user_actions(f)
            if item is not None:
                acts = acts_of(acts, item, f)
                if not acts:
                    return cannot(f, item, len(self.frames))
                self.take(preferred(f.program, f.state, acts), "step")
            elif not acts:
                return f"nothing can run: {ended_text(f)}"
            else:
                self.take(default_choice(f.program, f.state, acts, f.last), "step")
        return ""

    def follow(self, item: ScheduleStep, label: str) -> None:
        """One schedule item, as runtime/search/schedule.py follows it; ReplError
        if it cannot be followed."""
        n = 0
        while item.steps is None or n < item.steps:
            acts = acts_of(user_actions(self.frame), item, self.frame)
            if not acts:
                if item.steps is None and n > 0:
                    break
                raise ReplError(f"schedule item {label} cannot be followed: "
                                f"{cannot(self.frame, item, n)}; nothing was run")
            self.take(preferred(self.frame.program, self.frame.state, acts), "run")
            n += 1

    def finish(self) -> bool:
        """The default policy until nothing can run; False at RUN_STEPS."""
        while len(self.frames) < RUN_STEPS:
            f = self.frame
            acts = user_actions(f)
            if not acts:
                return True
            self.take(default_choice(f.program, f.state, acts, f.last), "run")
        return False


def acts_of(acts: list[Action], item: ScheduleStep, frame: Frame | None = None) -> list[Action]:
    """The actions of a schedule item's context (on its CPU, if given). A
    TLB eviction (``tlbS@cpuN``) is possible wherever that TLB holds the
    entry, as `kmap run --schedule` takes it (runtime/search/schedule.py)."""
    if item.ctx < 0 and frame is not None and item.cpu is not None:
        held = any(e[0] == tlb.evicted_slot(item.ctx) for e in frame.state.cpus[item.cpu].tlb)
        return [(item.ctx, item.cpu)] if held and acts else []
    return [a for a in acts if a[0] == item.ctx and (item.cpu is None or a[1] == item.cpu)]


def cannot(frame: Frame, item: ScheduleStep, done: int) -> str:
    """Why ``item`` cannot step (after ``done`` steps)."""
    if item.ctx < 0:
        return (f"cpu{item.cpu}'s TLB holds no stale entry for kmap_local index "
                f"{tlb.evicted_slot(item.ctx)}, or nothing can run")
    name = frame.program.contexts[item.ctx].name
    after = f" after {done} step{'s' if done != 1 else ''}" if done else ""
    if item.ctx == frame.repl and waiting(frame):
        return f"{name} waits for input{after}: type a statement"
    why = blocked_on(frame, item.ctx)
    if item.cpu is not None and any(a[0] == item.ctx for a in user_actions(frame)):
        why = f"it cannot run on cpu{item.cpu} now (bound elsewhere or migration disabled)"
    return f"{name} cannot step{after}: {why}"


def complete(frame: Frame) -> tuple[State, list[str]]:
    """The end of the execution `expect` judges, with its trace lines: the
    interactive task, if it ever ran, returns to user space, then the
    default policy runs what that frees. Nothing is recorded."""
    p, state = frame.program, frame.state
    lines: list[str] = []
    last, n = frame.last, frame.steps
    for _ in range(RUN_STEPS):
        acts = enabled(p, state)
        parked = waiting(frame, state)
        if parked and state.ctxs[frame.repl].cpu < 0:
            acts = [a for a in acts if a[0] != frame.repl]  # it never ran: leave it be
        if not acts:
            break
        mine = [a for a in acts if a[0] == frame.repl]
        a = preferred(p, state, mine) if mine and parked else default_choice(p, state, acts, last)
        pc = state.ctxs[a[0]].pc
        state, events = step(p, state, a, trace=True)
        n, last = n + 1, a[0]
        lines.append(report.trace_line(p, TraceStep(n, a, pc, events)))
    if lines:
        lines.insert(0, f"to end the execution, {frame.source.task} returns to user space"
                        " (not recorded):")
    return state, lines
