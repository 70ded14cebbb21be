"""The REPL's execution model: frames, the interactive task, replay.

A ``Frame`` is one point of a session: a version of the scenario (its
source model and Program) and a state on a path of actions from the
initial state. Frames are immutable values; the session keeps a list of
them as its undo stack, and going back is dropping the newest ones.

The interactive task ``repl`` (dsl/repl/source.py) parks its program
counter on a sentinel ``preempt_point()`` it never executes: while parked it
is *waiting for input*, and the actions offered to the user (``step``,
``run``, ``enabled``) leave it out. A typed statement makes a new scenario
version; the path is replayed on it, every recorded action checked to be
enabled, and the repl task stepped until it is parked again.

Every step goes through kmap_scenarios.runtime.kernel.machine.step: there is no second engine.

A typed statement takes the time it takes, not the session's length so
far: it is compiled alone (dsl/lower/append.py) and spliced in where the
repl task is parked, and the state carries over (the task's new locals
zero) instead of the path being replayed. A declaration, task or
expectation, and a statement with any problem, go the whole way above.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kmap_scenarios.dsl.lower.append import TaskScope, append, load_with_scope
from kmap_scenarios.dsl.lower.load import load_text, read_scenario
from kmap_scenarios.dsl.repl.source import (DEFAULT_PATH, DEFAULT_TEXT, Kind, Region, Rendered, ReplSource,
                             map_error, new_source)
from kmap_scenarios.dsl.syntax.source import InputError, KmapError
from kmap_scenarios.runtime.kernel import builtins
from kmap_scenarios.runtime.kernel.machine import Action, actions_of, enabled, step
from kmap_scenarios.runtime.kernel.program import Program, follow_jumps
from kmap_scenarios.runtime.search.schedule import TraceStep, context_name, preferred
from kmap_scenarios.runtime.kernel.state import State, Status, initial_state

# A typed statement that runs longer than this is left running (a loop that
# waits for another task, or never ends): `step` and `run` continue it.
STATEMENT_STEPS = 10_000


class ReplError(KmapError):
    """A command that cannot be carried out; the session is unchanged."""


class TypedError(KmapError):
    """A typed statement or declaration is not valid input (exit status 65
    in a script); the errors point at the text the user typed."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        super().__init__(self.render())

    def render(self) -> str:
        """Every diagnostic with its caret, as `kmap lint` prints them."""
        return "\n\n".join(e.render() for e in self.errors)

    @property
    def codes(self) -> list[str]:
        """The diagnostic codes, in order."""
        return [c for e in self.errors for c in e.codes]


@dataclass(frozen=True, slots=True)
class Trail:
    """The actions of a path, newest first, as a shared linked list."""

    action: Action
    prev: Trail | None


@dataclass(frozen=True)
class Frame:
    """One point of the session: scenario version, state, path to it."""

    source: ReplSource
    rendered: Rendered
    program: Program
    state: State
    trail: Trail | None
    steps: int            # the length of the path
    last: int             # the context that stepped last, or -1
    what: str             # what made this frame, for `undo`
    # what the next typed statement is compiled against (dsl/lower/append.py)
    compiled: TaskScope | None = None

    @property
    def actions(self) -> list[Action]:
        """The path from the initial state, oldest first."""
        out: list[Action] = []
        t = self.trail
        while t is not None:
            out.append(t.action)
            t = t.prev
        out.reverse()
        return out

    @property
    def repl(self) -> int:
        """The context index of the interactive task."""
        ci = self.program.context_index(self.source.task)
        assert ci is not None
        return ci

    @property
    def sentinel(self) -> int:
        """The pc of the interactive task's sentinel instruction."""
        return sentinel_pc(self.program, self.repl, self.rendered.sentinel_line)


def sentinel_pc(program: Program, repl: int, line: int) -> int:
    """The index of the instruction on the sentinel's line: the task's
    last statement, before its End (found without a walk of the code, a
    long one after many statements)."""
    info = program.contexts[repl]
    code = info.code
    pc = info.body_len - 2
    if pc < 0 or code[pc].loc.line != line:
        raise AssertionError("the repl task has no sentinel")
    return pc


# ------------------------------------------------------------------- opening


def open_scenario(path: str | None) -> Frame:
    """The first frame of a session on FILE, or on the default scenario.

    The file alone is loaded first, so that its errors read exactly as
    `kmap lint` prints them (FileError, InputError)."""
    if path is None:
        text, where, taken = DEFAULT_TEXT, DEFAULT_PATH, set()
    else:
        data = read_scenario(path)   # read once: what is checked is what is run
        program = load_text(data, path)
        text = data.decode("utf-8")
        where, taken = path, top_level_names(program)
    source = new_source(where, text, taken, preemption=True)
    rendered = source.render()
    program, compiled = load_with_scope(rendered.text, where, source.task)
    source = replace(source, points=not program.config.CONFIG_PREEMPTION)
    return Frame(source, rendered, program, initial_state(program), None, 0, -1,
                 f"load {where}", compiled)


def top_level_names(program: Program) -> set[str]:
    """Every top-level name of a program (page arrays by their base name)."""
    out = {p.name.split("[")[0] for p in program.pages}
    out |= {n for n, _ in program.globals} | {n for n, _ in program.percpus}
    return out | set(program.locks) | {c.name for c in program.contexts}


# ---------------------------------------------------------------- the repl task


def waiting(frame: Frame, state: State | None = None) -> bool:
    """Whether the interactive task is parked, waiting for input."""
    ctx = (state or frame.state).ctxs[frame.repl]
    return ctx.status == Status.READY and ctx.pc == frame.sentinel


def user_actions(frame: Frame, state: State | None = None) -> list[Action]:
    """The enabled actions, without the interactive task while it waits."""
    s = frame.state if state is None else state
    acts = enabled(frame.program, s)
    if waiting(frame, s):
        acts = [a for a in acts if a[0] != frame.repl]
    return acts


def advance(frame: Frame, action: Action, what: str) -> tuple[Frame, TraceStep]:
    """One step of the machine: the new frame and its trace line."""
    pc = frame.state.ctxs[action[0]].pc if action[0] >= 0 else -1   # -1: a TLB eviction
    state, events = step(frame.program, frame.state, action, trace=True)
    n = frame.steps + 1
    new = replace(frame, state=state, trail=Trail(action, frame.trail), steps=n,
                  last=action[0] if action[0] >= 0 else frame.last, what=what)
    return new, TraceStep(n, action, pc, events)


# -------------------------------------------------------------- typed input


def extend(frame: Frame, kind: Kind, text: str,
           added_semicolon: bool = False) -> tuple[Frame, list[TraceStep]]:
    """A new scenario version with one typed item, the path replayed on it,
    and for a statement the repl task run until it waits again
    (``added_semicolon``: the REPL put text's final `;`, for the errors)."""
    what = f"{kind.value} `{first_line(text)}`"
    new: Frame | None = None
    if kind is Kind.STATEMENT:
        ready_for_statement(frame)
        new = add_statement(frame, text, what)
    if new is None:
        source = frame.source.add(kind, text)
        rendered = source.render()
        region = rendered.region(kind, len(source.typed(kind)) - 1)
        program, compiled = _load(rendered, region, text, source, added_semicolon)
        state = replay_path(program, frame.actions)
        new = Frame(source, rendered, program, state, frame.trail, frame.steps, frame.last,
                    what, compiled)
    if kind is not Kind.STATEMENT:
        return new, []
    if new.state.ctxs[new.repl].pc != frame.sentinel:
        raise AssertionError("the repl task's code changed before its new statement")
    if not actions_of(new.program, new.state, new.repl):
        raise ReplError(f"task {new.source.task} cannot run now: {blocked_on(new, new.repl)}; "
                        "step the other tasks first (nothing was changed)")
    return run_statement(new)


def add_statement(frame: Frame, text: str, what: str) -> Frame | None:
    """The frame with one more statement, compiled alone and spliced in
    where the repl task is parked, the state carried over; None to go
    the whole way (the statement has a problem, which that way reports)."""
    ts = frame.compiled
    if ts is None or "\r" in text:
        return None
    source, rendered, region = frame.source.add_statement(frame.rendered, text)
    keep = frame.sentinel
    # the statement, what the REPL puts after it, the sentinel and the `}`
    body = "\n".join(rendered.lines[region.line - 1:rendered.sentinel_line + 1]) + "\n"
    shift = rendered.sentinel_line - frame.rendered.sentinel_line
    got = append(frame.program, ts, body, region.line, keep, rendered.lines, shift)
    if got is None:
        return None
    program, compiled = got
    # what replaying the path on the new program gives: the same state,
    # the task's new locals zero, its pc where the statement starts
    old = frame.state
    ci = ts.task
    ctx = old.ctxs[ci]
    grown = len(program.contexts[ci].local_names) - len(ctx.locals)
    ctx = ctx._replace(locals=ctx.locals + (0,) * grown,
                       pc=follow_jumps(program.contexts[ci].code, ctx.pc))
    state = old._replace(ctxs=old.ctxs[:ci] + (ctx,) + old.ctxs[ci + 1:])
    return Frame(source, rendered, program, state, frame.trail, frame.steps, frame.last, what,
                 compiled)


def ready_for_statement(frame: Frame) -> None:
    """ReplError unless the interactive task can take a new statement."""
    ctx = frame.state.ctxs[frame.repl]
    name = frame.source.task
    if ctx.status == Status.DEAD:
        raise ReplError(f"task {name} was killed; `undo` goes back to before the statement "
                        "that killed it")
    if frame.state.panicked:
        raise ReplError("the kernel has panicked; `undo` goes back before the panic")
    if not waiting(frame):
        raise ReplError(f"task {name} is still executing line {line_of(frame, frame.repl)}"
                        f" ({blocked_on(frame, frame.repl)}); `step {name}` continues it, or "
                        "step the other tasks first")


def _load(rendered: Rendered, region: Region, typed: str, source: ReplSource,
          added_semicolon: bool = False) -> tuple[Program, TaskScope]:
    try:
        return load_with_scope(rendered.text, source.path, source.task)
    except InputError as e:
        raise TypedError(map_error(e, rendered, region, typed, added_semicolon)) from None


def replay_path(program: Program, actions: list[Action]) -> State:
    """The state after ``actions`` on a new scenario version; ReplError if
    one of them is not possible there."""
    state = initial_state(program)
    for k, a in enumerate(actions):
        if a not in enabled(program, state):
            raise ReplError(f"the session's path cannot be replayed on the changed scenario: "
                            f"step {k + 1} ({context_name(program, a[0])}@cpu{a[1]}) is no "
                            "longer possible; nothing was changed")
        state, _ = step(program, state, a)
    return state


def run_statement(frame: Frame) -> tuple[Frame, list[TraceStep]]:
    """Step the interactive task until it waits again, blocks or stops."""
    trace: list[TraceStep] = []
    repl = frame.repl
    for _ in range(STATEMENT_STEPS):
        if waiting(frame):
            break
        acts = actions_of(frame.program, frame.state, repl)
        if not acts:
            break
        frame, t = advance(frame, preferred(frame.program, frame.state, acts), frame.what)
        trace.append(t)
    return frame, trace


def first_line(text: str) -> str:
    """The first line of a typed item, shortened for messages."""
    line = text.strip().split("\n")[0]
    return line if len(line) <= 60 else line[:57] + "..."


# ----------------------------------------------------------- explanations


def line_of(frame: Frame, ci: int, state: State | None = None) -> int:
    """The source line of a context's next step."""
    s = frame.state if state is None else state
    code = frame.program.contexts[ci].code
    pc = s.ctxs[ci].pc
    return code[pc].loc.line if 0 <= pc < len(code) else 0


def in_function(frame: Frame, ci: int, state: State | None = None) -> str:
    """'in f() (called from line 30): ' when a context's next step is in a
    function of the scenario: where, and from where it was called."""
    s = frame.state if state is None else state
    info = frame.program.contexts[ci]
    ctx = s.ctxs[ci]
    f = info.function_at(ctx.pc)
    if f < 0:
        return ""
    lines = ", ".join(str(info.code[pc].loc.line) for pc, _ in reversed(ctx.frames))
    word = "line" if len(ctx.frames) == 1 else "lines"
    return f"in {frame.program.functions[f].name}() (called from {word} {lines}): "


def source_line(frame: Frame, line: int) -> str:
    """A line of the scenario text, stripped."""
    lines = frame.program.source_lines
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def blocked_on(frame: Frame, ci: int) -> str:
    """Why a context that is not finished cannot step now, in kernel terms."""
    p, s = frame.program, frame.state
    ctx = s.ctxs[ci]
    info = p.contexts[ci]
    lock = builtins.spinning_on(ctx.pending)
    if ctx.status == Status.WAIT_PKMAP:
        return "it sleeps on pkmap_map_wait in kmap_high()"
    if ctx.status == Status.WAIT_MUTEX:
        return "it sleeps in mutex_lock()"
    if ctx.status == Status.QUIET:
        return "it runs only when raised (at an irq exit, local_bh_enable, or in ksoftirqd)"
    if ctx.status == Status.DONE:
        return "it has finished"
    if ctx.status == Status.DEAD:
        return "it was killed"
    if s.panicked:
        return "the kernel has panicked"
    if lock >= 0 and s.locks[lock] != -1:
        return f"it spins on {p.locks[lock]}, held by {p.contexts[s.locks[lock]].name}"
    cpu = info.cpu if info.cpu is not None else max(ctx.cpu, 0)
    c = s.cpus[cpu]
    if info.is_irq and ctx.status == Status.PENDING:
        return f"cpu{cpu} has interrupts disabled" if c.irqs_off else "it can fire"
    if c.irqs and c.irqs[-1] != ci:
        top = p.contexts[c.irqs[-1]]
        return f"{'softirq' if top.is_softirq else 'irq'} {top.name} is running on cpu{cpu}"
    if c.curr >= 0 and c.curr != ci:
        cur = s.ctxs[c.curr]
        why = (f"preempt_count is {cur.preempt_count}" if cur.preempt_count else
               "interrupts are disabled" if c.irqs_off else
               "CONFIG_PREEMPTION=n and it is not at a preemption point")
        return f"cpu{cpu} runs {p.contexts[c.curr].name}, which cannot be preempted now ({why})"
    return "it can step" if ctx.pending is None else "it is in the middle of a built-in"


__all__ = ["Frame", "ReplError", "TypedError", "open_scenario", "extend",
           "advance", "user_actions", "waiting"]
