"""What no explored execution does: statements never run, tasks never interleaved.

`kmap check` can say "holds" for a reason the user did not intend: the
code that breaks things is never reached, or the race asked about cannot
happen because nothing ever runs in the middle of anything else. Both are
read off what phase 1 of the search (runtime/search/explore.py) already holds,
so they cost it nothing measurable:

- every step it took is a memo recording (runtime/search/memo.py) or, without
  the memo, a call of ``Stepper.step``; both note the context and the pc
  of the instruction executed (``Coverage.executed``). Phase 1 steps
  every enabled action of every reachable state once, so this set is the
  same with ``--jobs N`` (the union of the workers'), ``--no-memo`` and
  ``--no-reduce`` (reduction comes after phase 1);
- every state's enabled actions are computed once, memoized by the
  contexts' scheduling views (``EnabledMemo``: status, CPU, resched flag,
  ...); the table's keys are every combination of views the search met,
  each with its actions, which is all ``interleaving`` needs. Without the
  memo the same is noted state by state (``note``).

A statement is *reached* when some explored step executes it (a step of a
multi-step built-in, a condition's evaluation: any instruction lowered
from it). Every context can take its first step in the initial state (all
CPUs are idle with interrupts on), so an exhaustive search reaches every
context's first statement: what stays unreached is code behind a
condition never true, after a BUG or a failed assert that always kills the
context, or after a wait that never ends.

Two contexts *interleave* when one steps while the other has started and
not finished: a task has started once it has taken a step (it has a CPU)
and is not DONE or DEAD; an irq once it fired and until it returns.
docs/language.md, "Warnings", states the rule of the warning and each
reason it names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kmap_scenarios.runtime.kernel import program as ir
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.state import Status

_READY = int(Status.READY)
_WAITS = (int(Status.WAIT_PKMAP), int(Status.WAIT_MUTEX))     # asleep mid-statement

# The fields of an EnabledMemo view (memo.EnabledMemo._views_of) this reads:
# (status, spinning_on, cpu, migration_disabled, kmap_idx, preempt_count, resched)
_V_STATUS, _V_CPU, _V_RESCHED = 0, 2, 6

IN_FLIGHT, INTERLEAVED, GAVE_UP = 1, 2, 4   # flags of a state (_flags)


@dataclass
class Coverage:
    """What the explored states did, for the warnings.

    ``executed``: (context, pc) of every instruction some explored step
    executed. ``flags``: IN_FLIGHT (some state has a context that has
    started and not finished), INTERLEAVED (some state has such a context
    and an enabled action of another), GAVE_UP (some state has a task
    asleep or stopped at a preemption point: its resched flag)."""

    executed: set[tuple[int, int]] = field(default_factory=set)
    flags: int = 0

    def merge(self, other: Coverage) -> None:
        """Add another worker's coverage (runtime/search/parallel.py)."""
        self.executed |= other.executed
        self.flags |= other.flags


def _flags(program: Program, views: Sequence[tuple[int, int, int]],
           acts: Sequence[tuple[int, int]]) -> int:
    """The flags of one state from each context's (status, cpu, resched)
    and its enabled actions."""
    flying = -1       # a context in flight; -2 when two or more are
    out = 0
    for i, info in enumerate(program.contexts):
        status, cpu, resched = views[i]
        if info.is_irq:
            on = status == _READY
        else:
            on = status in _WAITS or (status == _READY and cpu >= 0)
            if status in _WAITS or resched:
                out |= GAVE_UP
        if on:
            out |= IN_FLIGHT
            flying = i if flying == -1 else -2
    # with two in flight, any action is of a context other than one of them
    # (a TLB eviction, a negative context, is no context's: runtime/kernel/tlb.py)
    if (flying == -2 and any(a[0] >= 0 for a in acts)) or \
            (flying >= 0 and any(a[0] != flying and a[0] >= 0 for a in acts)):
        out |= INTERLEAVED
    return out


def note(program: Program, cover: Coverage, ctxs: Sequence[Any],
         acts: Sequence[tuple[int, int]]) -> None:
    """Note one state (its contexts, runtime/state.Ctx, and its enabled
    actions): the search without the memo, state by state."""
    cover.flags |= _flags(program, [(c.status, c.cpu, int(c.resched)) for c in ctxs], acts)


def from_enabled_memo(program: Program, table: dict[Any, tuple[tuple[int, int], ...]],
                      views: dict[tuple[Any, ...], int]) -> int:
    """The flags of every state the search met, from EnabledMemo's table
    (keys: one view number per context, then the CPUs and other parts)
    and its numbering of views."""
    by_number: dict[int, tuple[int, int, int]] = {
        n: (v[_V_STATUS], v[_V_CPU], v[_V_RESCHED]) for v, n in views.items()}
    n = len(program.contexts)
    out = 0
    for key, acts in table.items():
        out |= _flags(program, [by_number[k] for k in key[:n]], acts)
    return out


# ------------------------------------------------------------------ warnings
@dataclass(frozen=True)
class CheckWarning:
    """One warning of `kmap check`: its kind ("unreached" or
    "no-interleaving"), the message, the first and last line it is about."""

    kind: str
    message: str
    line: int
    end_line: int


PREEMPTION_POINTS = ("preempt_point(), cond_resched(), schedule(), msleep(), "
                     "a sleeping kmap(), a fault")


def warnings(program: Program, cover: Coverage | None, bounded: Sequence[str],
             unmet: Sequence[int]) -> list[CheckWarning]:
    """The warnings of a search (None: no coverage, as under --random:
    none), sorted by line. ``unmet``: the indexes of the `sometimes`
    expectations that do not hold (they fail or are unproven)."""
    if cover is None:
        return []
    out = unreached(program, cover.executed, bounded)
    out += no_interleaving(program, cover.flags, bounded, unmet)
    return sorted(out, key=lambda w: (w.line, w.kind, w.message))


def unreached(program: Program, executed: set[tuple[int, int]],
              bounded: Sequence[str]) -> list[CheckWarning]:
    """One warning per run of statements of a context (its body) or of a
    function (in whichever context calls it) that no explored step
    executes, consecutive in source order (no reached statement of that
    body between them)."""
    out = []
    in_function: list[set[tuple[int, int]]] = [set() for _ in program.functions]
    for ci, info in enumerate(program.contexts):
        body = [ins for pc, ins in enumerate(info.code) if info.function_at(pc) < 0]
        reached: set[tuple[int, int]] = set()
        for pc, ins in enumerate(info.code):
            if (ci, pc) in executed:
                f = info.function_at(pc)
                (reached if f < 0 else in_function[f]).add((ins.loc.line, ins.loc.col))
        who = f"{'irq' if info.is_irq else 'task'} {info.name}"
        out += _runs(program, who, statement_sites(tuple(body)), reached, bounded)
    for f, func in enumerate(program.functions):
        out += _runs(program, f"function {func.name}()", statement_sites(func.code),
                     in_function[f], bounded)
    return out


def _runs(program: Program, who: str, sites: list[tuple[int, int]],
          reached: set[tuple[int, int]], bounded: Sequence[str]) -> list[CheckWarning]:
    out = []
    run: list[tuple[int, int]] = []
    for site in sites + [(-1, -1)]:
        if site != (-1, -1) and site not in reached:
            run.append(site)
            continue
        if run:
            out.append(_unreached(program, who, run, bounded))
            run = []
    return out


def statement_sites(code: tuple[ir.Instr, ...]) -> list[tuple[int, int]]:
    """The (line, col) of each statement a step can execute, in source
    order: every instruction but End (the closing brace, part of the last
    step), Jump (free) and a return without a value (a jump out)."""
    return sorted({(ins.loc.line, ins.loc.col) for ins in code
                   if not isinstance(ins, (ir.End, ir.Jump))
                   and not (isinstance(ins, ir.Ret) and ins.value is None)})


def _unreached(program: Program, who: str, run: list[tuple[int, int]],
               bounded: Sequence[str]) -> CheckWarning:
    texts = [f"`{statement_text(program.source_lines, line, col)}`" for line, col in run]
    shown = texts[0] if len(texts) == 1 else f"{texts[0]} {texts[1]}" if len(texts) == 2 \
        else f"{texts[0]} ... {texts[-1]} ({len(texts)} statements)"
    if bounded:
        msg = (f"{who}: no execution explored reaches {shown} (not reached yet: the search "
               f"was bounded by {', '.join(bounded)})")
    else:
        msg = f"{who}: no execution reaches {shown}"
    return CheckWarning("unreached", msg, run[0][0], run[-1][0])


def statement_text(lines: Sequence[str], line: int, col: int) -> str:
    """A statement's source text from its first character: through its
    `;`, or an if/while/for header through its `)`, stopping before a
    `{`, an unmatched `)` (a for loop's update) or a comment; the rest of
    the line (with "...") when the statement goes on below."""
    if not 0 < line <= len(lines):
        return "?"
    text = lines[line - 1][col - 1:]
    header = text.split("(", 1)[0].strip() in ("if", "while", "for")
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if text.startswith("//", i) or text.startswith("/*", i) or (ch == "{" and depth == 0):
            return text[:i].strip()
        if ch == '"':
            close = text.find('"', i + 1)
            i = len(text) if close < 0 else close + 1
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            if depth == 0:
                return text[:i].strip()
            depth -= 1
            if depth == 0 and header and ch == ")":
                return text[:i + 1].strip()
        elif ch == ";" and depth == 0:
            return text[:i + 1].strip()
        i += 1
    return text.strip() + " ..."


def no_interleaving(program: Program, flags: int, bounded: Sequence[str],
                    unmet: Sequence[int]) -> list[CheckWarning]:
    """One warning per `sometimes` expectation that does not hold, when
    the scenario has two or more contexts and no explored state has one
    that has started and not finished while another can step."""
    if len(program.contexts) < 2 or flags & INTERLEAVED or not unmet:
        return []
    if bounded:
        why = (f"the search was bounded by {', '.join(bounded)}: they may interleave beyond "
               "it")
    else:
        why = "; ".join(reasons(program, flags))
    out = []
    for k in unmet:
        e = program.expectations[k]
        msg = f"expect {e.quant} {e.text}: no execution interleaves two tasks or irqs: {why}"
        out.append(CheckWarning("no-interleaving", msg, e.line, e.line))
    return out


def reasons(program: Program, flags: int) -> list[str]:
    """What forbids every interleaving in an exhaustive search that found
    none (docs/language.md, "Warnings"): each reason named is true of the
    scenario and of every explored state.

    Every context can step in the initial state, so if one can take two
    steps, it can do so first, and then every other one is confined to
    its CPU: NR_CPUS = 1 or every context bound to that CPU. There,
    another task takes the CPU from a running one only when
    sched.can_switch allows it (kernel/sched/core.c: __schedule() is
    entered from preempt_schedule(), cond_resched(), schedule() and a
    sleep; include/linux/preempt.h: without CONFIG_PREEMPTION,
    preempt_enable() never calls __preempt_schedule(); kernel/entry/
    common.c: irqentry_exit() preempts only under CONFIG_PREEMPTION;
    __cond_resched() schedules only with interrupts on), and an irq fires
    only with interrupts on."""
    if not flags & IN_FLIGHT:
        return ["every task and irq runs from its first step to its end in one step "
                "(a step is atomic)"]
    cfg = program.config
    cpus = {c.cpu for c in program.contexts}
    if cfg.NR_CPUS == 1:
        one = "NR_CPUS = 1"
    elif len(cpus) == 1 and None not in cpus:
        one = f"every task and irq is bound to cpu{next(iter(cpus))}"
    else:
        return ["whenever one of them has started and not finished, no other can step"]
    out = [one]
    tasks = sum(not c.is_irq for c in program.contexts)
    irqs = len(program.contexts) - tasks
    if tasks >= 2:
        if cfg.CONFIG_PREEMPTION:
            out.append("preemption or interrupts are off whenever a task runs while another "
                       "waits to run")
        elif not flags & GAVE_UP:
            out.append("CONFIG_PREEMPTION=n with no preemption point reached "
                       f"({PREEMPTION_POINTS})")
        else:
            out.append(f"CONFIG_PREEMPTION=n, and no task gives up the CPU at a preemption point "
                       f"({PREEMPTION_POINTS}) while another waits to run")
    if tasks and irqs:
        out.append("interrupts are off whenever a task runs while an irq has not fired yet")
    return out
