"""Text output of `kmap run`: the golden format lives here and only here.

Layout of a run (each section separated by a blank line):

    scenario NAME (PATH)
    config: KEY=VALUE ...
    schedule: ITEMS (SOURCE)
    trace:
      STEP  CPU   CONTEXT  LINE  source statement
                                 what the modelled kernel did
    (on NR_CPUS > 1: a header, and a column per CPU the trace steps on)
      step  cpu0      cpu1      line  statement
      STEP  CONTEXT             LINE  source statement
    reports: N
      the kernel-style text of each report
    final state:
      pkmap, kmap_local stacks, fixmap PTEs, pages that changed, globals...
    expectations:
      expect QUANT COND: holds | FAILS
    result: ...

Everything is deterministic: no clocks, ids or hash() in the output.
Values are printed by runtime/kernel/ctext.py ``value_text``, as check
prints them; ``colour`` adds dsl/formats/colour.py's escapes and nothing
else.
"""

from __future__ import annotations

from kmap_scenarios.dsl.formats import colour as paint
from kmap_scenarios.runtime.kernel import ctext, reports as rr
from kmap_scenarios.runtime.search.expect import ExpectError, evaluate, partial
from kmap_scenarios.runtime.kernel.machine import Action
from kmap_scenarios.runtime.search.outcome import rank
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.search.schedule import Execution, TraceStep, context_name
from kmap_scenarios.runtime.kernel.state import State, Status, body_locals


def run_text(program: Program, ex: Execution, schedule: str, source: str,
             verdicts: list[tuple[str, bool | None, str]], show_trace: bool = True,
             colour: bool = False) -> str:
    """The report; ``colour``: with dsl/formats/colour.py's colours."""
    out = [f"scenario {program.name} ({program.path})",
           f"config: {program.config.describe()}",
           f"schedule: {schedule} ({source})"]
    if show_trace:
        out += ["", "trace:"] + trace_lines(program, ex.trace, colour)
    assert ex.final is not None
    out += ["", *reports_text(program, ex.final, colour)]
    out += ["", "final state:", *final_text(program, ex.final)]
    if ex.truncated:
        out += ["", f"stopped after {len(ex.actions)} steps (--max-steps): "
                    "the execution did not finish"]
    if ex.endless is not None:
        n = len(ex.endless)
        out += ["", f"the execution never ends: after step {len(ex.actions)} it stays among "
                    f"{n} state{'s' if n != 1 else ''} it cannot leave (each expectation is "
                    "judged at every one)"]
    out += ["", "expectations:", *verdict_lines(verdicts, colour), "",
            result_line(verdicts, colour)]
    return "\n".join(out) + "\n"


TRACE_HEAD, TRACE_TAIL = 1000, 200


def trace_lines(program: Program, trace: list[TraceStep], colour: bool = False) -> list[str]:
    """The trace, with the middle of a very long one (a loop) left out; on
    more than one CPU, in per-CPU columns (``lanes``)."""
    cpus = lanes(program, trace)
    if cpus is None:
        def line(t: TraceStep) -> str:
            return trace_line(program, t, colour)
        head = []
    else:
        def line(t: TraceStep) -> str:
            return lane_line(program, t, cpus, colour)
        head = [lane_header(cpus)]
    if len(trace) <= TRACE_HEAD + TRACE_TAIL:
        return head + [line(t) for t in trace]
    cut = len(trace) - TRACE_HEAD - TRACE_TAIL
    return (head + [line(t) for t in trace[:TRACE_HEAD]]
            + [f"  ... {cut} steps left out ..."]
            + [line(t) for t in trace[-TRACE_TAIL:]])


def trace_line(program: Program, t: TraceStep, colour: bool = False) -> str:
    """'  STEP  cpuN  CONTEXT  LINE  statement' then what the kernel did."""
    ci, cpu = t.action
    line, src = _statement(program, t)
    head = f"  {t.number:4d}  cpu{cpu}  {context_name(program, ci):<10} {_line(line)}  {src}"
    pad = " " * 30
    return "\n".join([head] + [f"{pad}{paint.event(e, colour)}" for e in t.events])


class Lanes:
    """The columns of an SMP trace: the CPUs its steps ran on, each as
    wide as the longest context name that steps in it (or "cpuN")."""

    def __init__(self, cpus: list[int], width: int) -> None:
        self.cpus = cpus
        self.width = width


def lanes(program: Program, trace: list[TraceStep]) -> Lanes | None:
    """The columns of a trace on more than one CPU (NR_CPUS > 1), None for
    one CPU (one column would say nothing: the trace keeps its cpuN
    field). Only the CPUs the trace steps on get a column, so a witness on
    two of eight CPUs stays narrow; the same trace is laid out alike in
    run and in check's witnesses."""
    if program.config.NR_CPUS == 1 or not trace:
        return None
    cpus = sorted({t.action[1] for t in trace})
    names = {context_name(program, t.action[0]) for t in trace}
    width = max(len(n) for n in names | {f"cpu{c}" for c in cpus}) + 2
    return Lanes(cpus, width)


def lane_header(lanes: Lanes) -> str:
    """'  step  cpu0      cpu1      line  statement'"""
    cols = "".join(f"cpu{c}".ljust(lanes.width) for c in lanes.cpus)
    return f"  step  {cols}line  statement"


def lane_line(program: Program, t: TraceStep, lanes: Lanes, colour: bool = False) -> str:
    """A step in its CPU's column: '  STEP  [lanes]CONTEXT  LINE  statement',
    then what the kernel did, under the statement."""
    ci, cpu = t.action
    line, src = _statement(program, t)
    cols = "".join((context_name(program, ci) if c == cpu else "").ljust(lanes.width)
                   for c in lanes.cpus)
    pad = " " * (8 + len(cols) + 6)
    return "\n".join([f"  {t.number:4d}  {cols}{_line(line)}  {src}"]
                     + [f"{pad}{paint.event(e, colour)}" for e in t.events])


def _statement(program: Program, t: TraceStep) -> tuple[int, str]:
    """The line of a step's statement and its text, 'in f(): ' first
    inside a function."""
    ci = t.action[0]
    if ci < 0:
        return 0, "(a TLB eviction: no code runs)"
    code = program.contexts[ci].code
    line = code[t.pc].loc.line if 0 <= t.pc < len(code) else 0
    return line, in_function(program, ci, t.pc) + source_text(program, line)


def _line(line: int) -> str:
    """A step's line number column; blank for a step of no statement."""
    return f"{line:4d}" if line else "    "


def in_function(program: Program, ci: int, pc: int) -> str:
    """'in f(): ' when context ci's pc is in the code of function f."""
    f = program.contexts[ci].function_at(pc)
    return f"in {program.functions[f].name}(): " if f >= 0 else ""


def source_text(program: Program, line: int) -> str:
    """A source line without its trailing // comment, for traces."""
    return rr.source_line(program, line)


_trace_line = trace_line  # the name other modules first used


def reports_text(program: Program, state: State, colour: bool = False) -> list[str]:
    """'reports: N' and each report as the kernel prints it (``colour``:
    its headline, a WARN's with its cut-here line, coloured)."""
    if not state.reports:
        return ["reports: none"]
    out = [f"reports: {len(state.reports)}"]
    # what the kernel printed first, then the contexts stuck because of it
    for rep in sorted(state.reports, key=lambda r: rank(r.code)):
        lines = rr.render(program, state, rep).split("\n")
        warn = rr.kind_of(rep.code) == rr.Kind.WARN
        head = 2 if lines[0].startswith("------------[ cut here ]") else 1
        lines[:head] = [paint.report(line, colour, warn) for line in lines[:head]]
        out += ["  " + line for line in lines]
    return out




def final_text(program: Program, state: State) -> list[str]:
    """The parts of the final state that matter, in a fixed order."""
    return [*pkmap_lines(program, state), *context_lines(program, state),
            *fixmap_lines(program, state), *variable_lines(program, state),
            *page_lines(program, state), *lock_lines(program, state)]


def pkmap_lines(program: Program, state: State) -> list[str]:
    """The pkmap pool: last_pkmap_nr and the slots in use (highmem only)."""
    if not program.config.CONFIG_HIGHMEM:
        return []
    slots = [f"slot {i}: {pfn_name(program, pte - 1)} pkmap_count {state.pkmap_count[i]}"
             for i, pte in enumerate(state.pkmap_pte) if pte or state.pkmap_count[i]]
    return [f"  pkmap: last_pkmap_nr {state.last_pkmap_nr}; "
            + ("; ".join(slots) if slots else "no slot in use")]


def context_lines(program: Program, state: State) -> list[str]:
    """One line per task and irq: status, kmap_local stack, counters, locals."""
    return [context_line(program, state, i) for i in range(len(program.contexts))]


def context_line(program: Program, state: State, i: int, status: str | None = None) -> str:
    """One context's line; ``status`` replaces the status word if given."""
    info = program.contexts[i]
    ctx = state.ctxs[i]
    parts = [f"  {info.name}: {status or Status(ctx.status).name.lower()}"]
    if ctx.kmap_idx:
        live = [f"{s}={pfn_name(program, v - 1)}" for s, v in enumerate(ctx.pteval) if v]
        parts.append(f"kmap_ctrl.idx {ctx.kmap_idx} [{', '.join(live)}]")
    if ctx.preempt_count and not info.is_irq:
        parts.append(f"preempt_count {ctx.preempt_count}")
    if ctx.migration_disabled:
        parts.append(f"migration_disabled {ctx.migration_disabled}")
    if ctx.pagefault_disabled:
        parts.append(f"pagefault_disabled {ctx.pagefault_disabled}")
    bits = program.config.preset.bits
    body = body_locals(ctx)
    locs = [f"{n}={value_text(body[s], bits)}" for n, s in info.outer_locals]
    if locs:
        parts.append(" ".join(locs))
    return ", ".join(parts)


def fixmap_lines(program: Program, state: State) -> list[str]:
    """The kmap_local fixmap PTEs installed on each CPU."""
    out = []
    for c, cpu in enumerate(state.cpus):
        ptes = [f"slot {s}={pfn_name(program, v - 1)}" for s, v in enumerate(cpu.fixmap) if v]
        if ptes:
            out.append(f"  cpu{c} fixmap: " + ", ".join(ptes))
    return out


def variable_lines(program: Program, state: State) -> list[str]:
    """Globals and percpu variables."""
    bits = program.config.preset.bits
    out = [f"  {name} = {value_text(state.globals[i], bits)}"
           for i, (name, _) in enumerate(program.globals)]
    for i, (name, _) in enumerate(program.percpus):
        vals = ", ".join(f"cpu{c}: {value_text(v, bits)}" for c, v in enumerate(state.percpu[i]))
        out.append(f"  percpu {name} = {{{vals}}}")
    return out


def page_lines(program: Program, state: State) -> list[str]:
    """The non-zero bytes RAM holds, per page."""
    return [f"  {page.name}: " + ", ".join(runs) for i, page in enumerate(program.pages)
            if (runs := byte_runs(state.ram[i]))]


def lock_lines(program: Program, state: State) -> list[str]:
    """Spinlocks still held."""
    return [f"  {name} held by {program.contexts[state.locks[i]].name}"
            for i, name in enumerate(program.locks) if state.locks[i] >= 0]


def value_text(v: int, bits: int = 64) -> str:
    """A value as shown in states (runtime/kernel/ctext.py's rule, the same
    for check's outcomes and the trace): decimal for counts, sizes and
    errnos, hexadecimal for addresses."""
    return ctext.value_text(v, bits)


def pfn_name(program: Program, pfn: int) -> str:
    """The page name of a pfn, or the pfn in hexadecimal."""
    page = program.pfn_to_page.get(pfn)
    return program.pages[page].name if page is not None else f"pfn {pfn:#x}"


def byte_runs(data: bytes) -> list[str]:
    """Non-zero bytes as runs: [0..127]=0x55, [3]=0x01."""
    out = []
    i, n = 0, len(data)
    while i < n:
        if data[i] == 0:
            i += 1
            continue
        j = i
        while j + 1 < n and data[j + 1] == data[i]:
            j += 1
        rng = f"[{i}]" if i == j else f"[{i}..{j}]"
        out.append(f"{rng}={data[i]:#04x}")
        i = j + 1
    return out


def verdicts_for(program: Program, final: State) -> list[tuple[str, bool | None, str]]:
    """(label, holds, note) per expectation for one execution."""
    return verdicts_over(program, [final])


def verdicts_over(program: Program, finals: list[State]) -> list[tuple[str, bool | None, str]]:
    """(label, holds, note) per expectation for one execution observed at
    each of ``finals``: its final state, or every state of the bottom
    component of an execution that never ends (always: at every one;
    never: at none; sometimes: at one)."""
    out: list[tuple[str, bool | None, str]] = []
    if not program.expectations:
        holds = not any(f.reports for f in finals)
        out.append(("expect no reports (no expect line)", holds, ""))
        return out
    for e in program.expectations:
        label = f"expect {e.quant} {e.text}"
        try:
            vs = [bool(evaluate(program, f, e.cond)) for f in finals]
        except ExpectError as err:
            out.append((label, False, f"cannot evaluate: {err}"))
            continue
        holds = all(vs) if e.quant == "always" else any(vs) if e.quant == "sometimes" \
            else not any(vs)
        out.append((label, holds, ""))
    return out


def verdicts_unfinished(program: Program, last: State, steps: int
                        ) -> list[tuple[str, bool | None, str]]:
    """(label, holds, note) per expectation for an execution cut after
    ``steps`` steps at ``last``: only what its reports already decide
    (a report never goes away); the rest is unproven."""
    why = f"the execution did not finish in {steps} steps"
    out: list[tuple[str, bool | None, str]] = []
    if not program.expectations:
        return [("expect no reports (no expect line)", False if last.reports else None,
                 "" if last.reports else why)]
    for e in program.expectations:
        label = f"expect {e.quant} {e.text}"
        v = partial(program, last, e.cond)
        if v is None:
            out.append((label, None, why))
        elif e.quant == "sometimes":
            out.append((label, True if v else None, "" if v else why))
        elif e.quant == "always":
            out.append((label, None if v else False, why if v else ""))
        else:
            out.append((label, False if v else None, "" if v else why))
    return out


def verdict_lines(verdicts: list[tuple[str, bool | None, str]],
                  colour: bool = False) -> list[str]:
    out = []
    for label, holds, note in verdicts:
        out.append(f"  {label}: {paint.verdict(holds, colour)}" + (f" ({note})" if note else ""))
    return out


def result_line(verdicts: list[tuple[str, bool | None, str]], colour: bool = False) -> str:
    """'result: ...' with how many expectations fail or are unproven."""
    holds = [h for _, h, _ in verdicts]
    return paint.closing(summary(holds, "result"), holds, colour)


def summary(holds: list[bool | None], word: str) -> str:
    """The closing line of run and check (one wording for both)."""
    n = len(holds)
    failing = sum(1 for h in holds if h is False)
    unproven = sum(1 for h in holds if h is None)
    if not failing and not unproven:
        return f"{word}: the expectation holds" if n == 1 else f"{word}: all {n} expectations hold"
    parts = ([f"{failing} fail{'s' if failing == 1 else ''}"] if failing else []) + \
        ([f"{unproven} unproven"] if unproven else [])
    return f"{word}: of {n} expectation{'s' if n != 1 else ''}, {' and '.join(parts)}"

