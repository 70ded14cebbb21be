"""What the REPL shows of the current (not finalised) state.

The pieces that `kmap run` prints for a final state come from dsl/formats/run_text.py
(pkmap_lines, context_line, fixmap_lines, variable_lines, lock_lines,
reports_text, trace_line); this module adds what only a live state has: who
runs where, each context's next statement, sleepers on pkmap_map_wait,
interrupts, and RAM against the newest data still in a dirty cache line.
"""

from __future__ import annotations

from kmap_scenarios.dsl.formats import run_text as report
from kmap_scenarios.dsl.repl.execute import (Frame, blocked_on, in_function, line_of, source_line,
                                             user_actions, waiting)
from kmap_scenarios.runtime.kernel.machine import Action
from kmap_scenarios.runtime.kernel.memory import page_address
from kmap_scenarios.runtime.kernel.program import PageKind
from kmap_scenarios.runtime.kernel.state import Status
from kmap_scenarios.runtime.search.schedule import context_name

SUBJECTS = ("pkmap", "tasks", "cpus", "pages", "globals", "reports", "all")


def show(frame: Frame, subject: str) -> list[str]:
    """The lines of one ``show`` subject (``all``: every one, headed)."""
    if subject == "all":
        out = [f"after {frame.steps} step{'s' if frame.steps != 1 else ''}"
               f" of {frame.program.name}"]
        for s in SUBJECTS[:-2]:
            out += [f"{s}:", *VIEWS[s](frame)]
        return out + VIEWS["reports"](frame)
    return VIEWS[subject](frame)


def pkmap_view(frame: Frame) -> list[str]:
    """The pkmap pool and its wait queue."""
    p, s = frame.program, frame.state
    if not p.config.CONFIG_HIGHMEM:
        return ["  no pkmap pool: CONFIG_HIGHMEM=n"]
    out = report.pkmap_lines(p, s)
    if s.pkmap_waiters:
        names = ", ".join(p.contexts[i].name for i in s.pkmap_waiters)
        out.append(f"  pkmap_map_wait: {names}")
    return out


def tasks_view(frame: Frame) -> list[str]:
    """One line per task and irq, with its next statement."""
    out = []
    for i in range(len(frame.program.contexts)):
        out.append(report.context_line(frame.program, frame.state, i, status_text(frame, i)))
        nxt = next_text(frame, i)
        if nxt:
            out.append(f"      next: {nxt}")
    return out


def status_text(frame: Frame, ci: int) -> str:
    """A context's status in the live state: running where, or why not."""
    s = frame.state
    ctx = s.ctxs[ci]
    info = frame.program.contexts[ci]
    st = Status(ctx.status)
    if ci == frame.repl and waiting(frame):
        where = f" on cpu{ctx.cpu}" if ctx.cpu >= 0 and s.cpus[ctx.cpu].curr == ci else ""
        return f"waiting for input{where}"
    if st == Status.PENDING:
        return f"pending (fires on cpu{info.cpu})"
    if st == Status.WAIT_PKMAP:
        return "asleep on pkmap_map_wait"
    if st == Status.WAIT_MUTEX:
        return "asleep in mutex_lock"
    if st == Status.QUIET:
        return f"softirq, not running (cpu{info.cpu})"
    if st != Status.READY:
        return st.name.lower()
    if ctx.cpu < 0:
        return "ready, not started"
    cpu = s.cpus[ctx.cpu]
    running = cpu.curr == ci or ci in cpu.irqs
    word = "running" if running else "ready, preempted"
    return f"{word} on cpu{ctx.cpu}"


def next_text(frame: Frame, ci: int) -> str:
    """``line N  statement`` for a context that has not finished."""
    ctx = frame.state.ctxs[ci]
    if ctx.status in (Status.DONE, Status.DEAD) or (ci == frame.repl and waiting(frame)):
        return ""
    line = line_of(frame, ci)
    text = f"line {line}  {in_function(frame, ci)}{source_line(frame, line)}"
    if ctx.status == Status.READY and not any(a[0] == ci for a in user_actions(frame)):
        text += f"  (blocked: {blocked_on(frame, ci)})"
    return text


def cpus_view(frame: Frame) -> list[str]:
    """Per CPU: the running task, irqs, interrupt state, fixmap PTEs."""
    p, s = frame.program, frame.state
    out = []
    for c, cpu in enumerate(s.cpus):
        who = p.contexts[cpu.curr].name if cpu.curr >= 0 else "idle"
        parts = [f"  cpu{c}: {who}"]
        if cpu.irqs:
            parts.append("in irq " + " > ".join(p.contexts[i].name for i in cpu.irqs))
        parts.append("irqs off" if cpu.irqs_off else "irqs on")
        if cpu.curr >= 0 and s.ctxs[cpu.curr].preempt_count:
            parts.append(f"preempt_count {s.ctxs[cpu.curr].preempt_count}")
        out.append(", ".join(parts))
    out += report.fixmap_lines(p, s)
    return out


_KIND = {PageKind.LOWMEM: "lowmem", PageKind.HIGHMEM: "highmem", PageKind.DEVMAP: "devmap",
         PageKind.USER: "user"}


def pages_view(frame: Frame) -> list[str]:
    """Per page: zone, pfn, page_address, RAM, newest data, cache lines."""
    p, s = frame.program, frame.state
    out = []
    for i, page in enumerate(p.pages):
        addr = page_address(p, s.pkmap_pte, i)
        where = f"page_address {addr:#x}" if addr else "page_address NULL"
        out.append(f"  {page.name}: {_KIND[page.kind]}, pfn {page.pfn:#x}, {where}")
        ram = report.byte_runs(s.ram[i])
        out.append("      RAM: " + (", ".join(ram) if ram else "zero"))
        if s.newest[i] != s.ram[i]:
            newest = report.byte_runs(s.newest[i])
            out.append("      newest stores: " + (", ".join(newest) if newest else "zero"))
        lines = [ln for ln in s.cache if ln.page == i]
        if lines:
            dirty = sum(1 for ln in lines if ln.dirty)
            out.append(f"      cache: {len(lines)} line{'s' if len(lines) != 1 else ''} "
                       f"({dirty} dirty): "
                       + ", ".join(f"{ln.index}{'*' if ln.dirty else ''}" for ln in lines))
    return out


def globals_view(frame: Frame) -> list[str]:
    """Globals, percpu variables and held spinlocks."""
    out = report.variable_lines(frame.program, frame.state)
    out += report.lock_lines(frame.program, frame.state)
    return out or ["  no globals, percpu variables or held locks"]


def reports_view(frame: Frame) -> list[str]:
    """The reports so far, in kernel style."""
    return report.reports_text(frame.program, frame.state)


VIEWS = {"pkmap": pkmap_view, "tasks": tasks_view, "cpus": cpus_view, "pages": pages_view,
         "globals": globals_view, "reports": reports_view}


def action_text(frame: Frame, a: Action) -> str:
    """``NAME@cpuN`` as the schedule notation writes a placed step."""
    return f"{context_name(frame.program, a[0])}@cpu{a[1]}"


def enabled_view(frame: Frame, default: Action | None) -> list[str]:
    """The actions the user may take, with the line each would execute."""
    acts = user_actions(frame)
    width = max((len(action_text(frame, a)) for a in acts), default=0)
    out = []
    for a in acts:
        line = line_of(frame, a[0])
        mark = "  <- default" if a == default else ""
        out.append(f"  {action_text(frame, a):<{width}}  line {line:<4d} "
                   f"{in_function(frame, a[0])}{source_line(frame, line)}{mark}")
    if waiting(frame):
        out.append(f"  ({frame.source.task} waits for input: type a statement)")
    if not acts:
        out.insert(0, "  nothing can run: " + ended_text(frame))
    return out


def ended_text(frame: Frame) -> str:
    """Why no action is possible: finished, or who is stuck."""
    s = frame.state
    if s.panicked:
        return "the kernel has panicked"
    stuck = [i for i in range(len(frame.program.contexts))
             if s.ctxs[i].status not in (Status.DONE, Status.DEAD)
             and not (i == frame.repl and waiting(frame))]
    if not stuck:
        return "every task and irq has finished"
    return "; ".join(f"{frame.program.contexts[i].name}: {blocked_on(frame, i)}" for i in stuck)
