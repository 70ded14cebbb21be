"""An execution as a Chrome trace (`kmap run --trace-out FILE`, `kmap check
--witness-trace FILE`): the JSON Object Format of the Trace Event Format
that https://ui.perfetto.dev and chrome://tracing open (docs/pictures.md).

The data is the trace `kmap run` prints: the execution's path replayed
through ``machine.step(..., trace=True)``, step by step, with the events
each step logged and the states before and after it. One execution is a
process (named after the scenario) with one thread per CPU (``cpu0``,
...), and:

- a complete ("X") slice, category ``task``, ``irq``, ``softirq``,
  ``idle`` or ``ksoftirqd``, for each stretch of steps a context occupies
  a CPU: the one stepping there, else the innermost irq running there,
  else its current task, else its idle task (named ``idle``); the slices
  of one CPU never overlap;
- inside it, a slice (category ``step``) for each step the context took,
  named by its source statement, with the kernel's lines as arguments;
- instant ("i") events for each report as the kernel prints it (its
  kernel-style text as an argument; a WARN_ON in a loop on every pass), each kmap_local fixmap PTE installed or cleared, and each
  change of a pkmap slot (its PTE or pkmap_count);
- counter ("C") events ``CTX preempt_count`` and ``CTX kmap_ctrl.idx``
  for every context whose value changes (from 0 at time 0), the same
  per CPU (``cpuN preempt_count``: that of the context occupying it, as
  preempt_count() reads there; ``cpuN kmap_ctrl.idx``: that of its
  `current`), and ``pkmap slots in use`` with CONFIG_HIGHMEM.

Time: one step is STEP_US microseconds (a millisecond): step n runs from
n ms to n + 1 ms; what it changed (instants, counters) is stamped in its
middle, n.5 ms. What the end of the execution adds (the reports of
contexts stuck there, as `kmap run`'s final state has them) is stamped at
the end. Everything is deterministic: no clocks or ids.
"""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from typing import Any

from kmap_scenarios.runtime.kernel import reports as rr
from kmap_scenarios.runtime.kernel.machine import Action, step
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.state import State, initial_state
from kmap_scenarios.runtime.search.schedule import TraceStep, context_name

STEP_US = 1000   # one step, in microseconds (the trace's unit)
HALF = STEP_US // 2

Event = dict[str, Any]


def schema() -> dict[str, Any]:
    """The JSON Schema of what this module writes (a subset of the Trace
    Event Format), shipped in the package."""
    text = resources.files("kmap_scenarios.dsl.formats").joinpath(
        "schemas/chrome-trace.schema.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def document(processes: list[list[Event]], other: dict[str, Any]) -> dict[str, Any]:
    """The JSON Object Format around the events of one or more processes;
    ``other``: what the trace is of (``otherData``)."""
    events = [e for p in processes for e in p]
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {**other, "microseconds_per_step": STEP_US}}


def dumps(doc: dict[str, Any]) -> str:
    """One event a line: readable, diffable, and still small."""
    events = doc["traceEvents"]
    head = {k: v for k, v in doc.items() if k != "traceEvents"}
    lines = [json.dumps(e, ensure_ascii=False, sort_keys=True) for e in events]
    body = ",\n".join(lines)
    rest = json.dumps(head, ensure_ascii=False, sort_keys=True)[1:-1]
    return "{\"traceEvents\": [\n" + body + "\n],\n" + rest + "}\n"


def replay_steps(program: Program, actions: list[Action]
                 ) -> list[tuple[TraceStep, State, State]]:
    """Each step of ``actions`` as `kmap run`'s trace has it, with the
    states before and after it."""
    out = []
    state = initial_state(program)
    for n, a in enumerate(actions, 1):
        pc = state.ctxs[a[0]].pc if a[0] >= 0 else -1   # -1: a TLB eviction
        after, events = step(program, state, a, True)
        out.append((TraceStep(n, a, pc, tuple(events)), state, after))
        state = after
    return out


class Names:
    """Each context's slice name (the scenario's, ``idle``, ``ksoftirqd/N``),
    kind (task, irq, softirq, idle, ksoftirqd) and name in counters (idle
    as ``swapper/N``, as the kernel calls it)."""

    def __init__(self, program: Program) -> None:
        n, ncpu = len(program.contexts), program.config.NR_CPUS
        first = initial_state(program)
        self.slice: list[str] = []
        self.kind: list[str] = []
        self.counter: list[str] = []
        for ci in range(len(first.ctxs)):
            if ci < n:
                info = program.contexts[ci]
                self.slice.append(info.name)
                self.counter.append(info.name)
                self.kind.append("softirq" if info.is_softirq else "irq" if info.is_irq
                                 else "task")
                continue
            comm = rr.comm(program, first, ci)[0]
            idle = ci < n + ncpu
            self.slice.append("idle" if idle else comm)
            self.counter.append(comm)
            self.kind.append("idle" if idle else "ksoftirqd")


def on_cpu(program: Program, state: State, cpu: int) -> int:
    """The context occupying a CPU in a state: the innermost irq running
    there, else its current task, else its idle task."""
    c = state.cpus[cpu]
    if c.irqs:
        return c.irqs[-1]
    return c.curr if c.curr >= 0 else len(program.contexts) + cpu


def execution_events(program: Program, actions: list[Action], final: State, pid: int,
                     name: str, notes: list[str] | None = None) -> list[Event]:
    """The events of one execution: ``actions`` from the initial state,
    ending in ``final`` (the state `kmap run` reports: reports of stuck
    contexts added); ``notes``: how it ended, as instants at its end."""
    ncpu = program.config.NR_CPUS
    steps = replay_steps(program, actions)
    events: list[Event] = [
        {"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": name}},
        {"name": "process_sort_index", "ph": "M", "pid": pid, "tid": 0,
         "args": {"sort_index": pid}}]
    for c in range(ncpu):
        events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": c + 1,
                       "args": {"name": f"cpu{c}"}})
        events.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": c + 1,
                       "args": {"sort_index": c}})
    names = Names(program)
    events += _slices(program, steps, pid, names)
    events += _instants(program, steps, final, pid)
    events += _counters(program, steps, pid, names)
    end = (len(steps) + 1) * STEP_US
    for note in notes or []:
        events.append({"name": note, "cat": "end", "ph": "i", "s": "p", "ts": end, "pid": pid,
                       "tid": 1, "args": {}})
    return events


def _slices(program: Program, steps: list[tuple[TraceStep, State, State]], pid: int,
            names: Names) -> list[Event]:
    """Per CPU, a slice for each stretch of one context, and one inside
    it for each step that context took there."""
    out: list[Event] = []
    ncpu = program.config.NR_CPUS
    for c in range(ncpu):
        who = [t.action[0] if t.action[1] == c and t.action[0] >= 0 else on_cpu(program, before, c)
               for t, before, _ in steps]
        k = 0
        while k < len(who):
            j = k
            while j + 1 < len(who) and who[j + 1] == who[k]:
                j += 1
            first, last = steps[k][0].number, steps[j][0].number
            out.append({"name": names.slice[who[k]], "cat": names.kind[who[k]],
                        "ph": "X", "ts": first * STEP_US, "dur": (last - first + 1) * STEP_US,
                        "pid": pid, "tid": c + 1,
                        "args": {"first step": first, "last step": last}})
            k = j + 1
        for t, _, _ in steps:
            if t.action[1] == c:
                out.append(_step_slice(program, t, pid))
    return out


def _step_slice(program: Program, t: TraceStep, pid: int) -> Event:
    """One step: named by its statement, the kernel's lines as arguments."""
    ci, cpu = t.action
    if ci < 0:   # a TLB eviction (runtime/kernel/tlb.py): no code runs
        src, line, f = "TLB eviction", 0, -1
    else:
        code = program.contexts[ci].code
        line = code[t.pc].loc.line if 0 <= t.pc < len(code) else 0
        f = program.contexts[ci].function_at(t.pc)
        src = rr.source_line(program, line)
    args: dict[str, Any] = {"step": t.number, "context": context_name(program, ci),
                            "line": line}
    if f >= 0:
        args["function"] = program.functions[f].name
    args["kernel"] = list(t.events)
    return {"name": src or f"line {line}", "cat": "step", "ph": "X", "ts": t.number * STEP_US,
            "dur": STEP_US, "pid": pid, "tid": cpu + 1, "args": args}


def _page(program: Program, pte: int) -> str:
    """The page a PTE value (pfn + 1) maps."""
    pfn = pte - 1
    page = program.pfn_to_page.get(pfn)
    return program.pages[page].name if page is not None else f"pfn {pfn:#x}"


def _instants(program: Program, steps: list[tuple[TraceStep, State, State]], final: State,
              pid: int) -> list[Event]:
    """Reports, kmap_local fixmap PTEs and pkmap slots, where they change."""
    out: list[Event] = []
    ncpu = program.config.NR_CPUS

    def instant(name: str, cat: str, ts: int, cpu: int, args: dict[str, Any]) -> None:
        tid = cpu + 1 if 0 <= cpu < ncpu else 1
        out.append({"name": name, "cat": cat, "ph": "i", "s": "t", "ts": ts, "pid": pid,
                    "tid": tid, "args": args})

    def reports(new: list[Any], ts: int, cpu: int) -> None:
        for rep in new:
            instant(rr.label(program, final, rep), "report", ts, rep.cpu if rep.cpu >= 0 else cpu,
                    {"text": rr.render(program, final, rep), "kind": rr.kind_of(rep.code).name})

    last = initial_state(program)
    for t, before, after in steps:
        ts = t.number * STEP_US + HALF
        cpu = t.action[1]
        kernel = list(t.events)
        printed = [e[len("report "):] for e in t.events if e.startswith("report ")]
        if printed:
            # each print of the step (a WARN_ON in a loop prints on every
            # pass; the state keeps the report once), with its report
            fresh = [r for r in after.reports if r not in before.reports]
            kept = {rr.label(program, before, r): r for r in (*after.reports, *fresh)}
            for label in printed:
                rep = kept.get(label)
                if rep is not None:
                    reports([rep], ts, cpu)
                else:   # not kept (never so far): the line as printed
                    instant(label, "report", ts, cpu, {"text": label,
                                                       "kind": label.split(":", 1)[0]})
        idx_moved = any(a.kmap_idx != b.kmap_idx for a, b in zip(after.ctxs, before.ctxs))
        for c in range(ncpu):
            old, new = before.cpus[c].fixmap, after.cpus[c].fixmap
            if old == new:
                continue
            for s, (o, n) in enumerate(zip(old, new)):
                if o == n:
                    continue
                # a PTE changes at a push or pop of kmap_ctrl.idx, else at
                # a context switch (__kmap_local_sched_out/in)
                if n:
                    verb = "kmap_local" if idx_moved else "__kmap_local_sched_in"
                    name = f"{verb} {_page(program, n)} (cpu{c} slot {s})"
                else:
                    verb = "kunmap_local" if idx_moved else "__kmap_local_sched_out"
                    name = f"{verb} {_page(program, o)} (cpu{c} slot {s})"
                instant(name, "kmap_local", ts, c,
                        {"cpu": c, "slot": s, "page": _page(program, n or o),
                         "mapped": bool(n), "kernel": kernel})
        if after.pkmap_pte is not before.pkmap_pte or after.pkmap_count is not before.pkmap_count:
            for i, (op, np_, oc, nc) in enumerate(zip(before.pkmap_pte, after.pkmap_pte,
                                                      before.pkmap_count, after.pkmap_count)):
                if op == np_ and oc == nc:
                    continue
                page = _page(program, np_ or op) if (np_ or op) else "none"
                what = (f"pkmap slot {i}: {page} mapped" if np_ and not op else
                        f"pkmap slot {i}: {page} freed" if op and not np_ else
                        f"pkmap slot {i}: {page}")
                instant(f"{what}, pkmap_count {oc} -> {nc}", "pkmap", ts, cpu,
                        {"slot": i, "page": page, "mapped": bool(np_), "pkmap_count": nc,
                         "kernel": kernel})
        last = after
    # what the end adds: the reports of contexts stuck there
    added = list((Counter(final.reports) - Counter(last.reports)).elements())
    reports(added, (len(steps) + 1) * STEP_US, 0)
    return out


def _counters(program: Program, steps: list[tuple[TraceStep, State, State]], pid: int,
              names: Names) -> list[Event]:
    """preempt_count and kmap_ctrl.idx of each context whose value ever
    changes (from its initial value at time 0), and the pkmap slots in
    use."""
    series: dict[str, list[tuple[int, int]]] = {}

    def moved(key: str, old: int, new: int, ts: int) -> None:
        if old != new:
            series.setdefault(key, [(0, old)]).append((ts, new))

    highmem = program.config.CONFIG_HIGHMEM
    ncpu = program.config.NR_CPUS
    for t, before, after in steps:
        ts = t.number * STEP_US + HALF
        for ci, (b, a) in enumerate(zip(before.ctxs, after.ctxs)):
            if a is b:
                continue
            moved(f"{names.counter[ci]} preempt_count", b.preempt_count, a.preempt_count, ts)
            moved(f"{names.counter[ci]} kmap_ctrl.idx", b.kmap_idx, a.kmap_idx, ts)
        for c in range(ncpu):
            old, new = cpu_counters(program, before, c), cpu_counters(program, after, c)
            moved(f"cpu{c} preempt_count", old[0], new[0], ts)
            moved(f"cpu{c} kmap_ctrl.idx", old[1], new[1], ts)
        if highmem and after.pkmap_pte is not before.pkmap_pte:
            moved("pkmap slots in use", sum(1 for p in before.pkmap_pte if p),
                  sum(1 for p in after.pkmap_pte if p), ts)
    return [{"name": key, "cat": "counter", "ph": "C", "ts": ts, "pid": pid, "tid": 0,
             "args": {"value": v}}
            for key in sorted(series) for ts, v in series[key]]


def cpu_counters(program: Program, state: State, cpu: int) -> tuple[int, int]:
    """A CPU's view: preempt_count() there (the count of the context
    occupying it: an irq's includes HARDIRQ_OFFSET), and the kmap_ctrl.idx
    of its `current` (the task an irq interrupted, or the idle task)."""
    c = state.cpus[cpu]
    current = c.curr if c.curr >= 0 else len(program.contexts) + cpu
    return (state.ctxs[on_cpu(program, state, cpu)].preempt_count,
            state.ctxs[current].kmap_idx)


def run_trace(program: Program, actions: list[Action], final: State,
              schedule: str, notes: list[str]) -> dict[str, Any]:
    """`kmap run --trace-out`: one execution, one process."""
    events = execution_events(program, actions, final, 1, program.name, notes)
    return document([events], {"scenario": program.name, "path": program.path,
                               "schedule": schedule, "steps": len(actions)})


def witness_trace(program: Program, witnesses: list[tuple[str, list[Action], State, list[str]]]
                  ) -> dict[str, Any]:
    """`kmap check --witness-trace`: a process for each distinct witness
    or counterexample, named by the expectations it is for, in the
    order the Expectations section prints them."""
    processes = []
    for k, (label, path, final, notes) in enumerate(witnesses, 1):
        processes.append(execution_events(program, path, final, k,
                                          f"{program.name}: {label}", notes))
    return document(processes, {"scenario": program.name, "path": program.path,
                                "witnesses": [w[0] for w in witnesses]})
