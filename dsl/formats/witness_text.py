"""The witnesses and counterexamples in `kmap check`'s text (golden format).

Under an expectation (dsl/formats/check_text.py), four spaces in:

    KIND: SCHEDULE              KIND: witness | counterexample
    (N steps: replay it with kmap run --max-steps N+1)    when that long
    how --random shrank it      (check --random)
    the trace                   kmap run's (run_text.trace_lines)
    how it ends                 when not in a terminal state
    reports: N                  kmap run's: each report with all its lines
    final state:                kmap run's; "state here:" where the
      ...                       reports decide it before the end

so that a witness says as much as `kmap run --schedule SCHEDULE` does:
the bytes a DATA_LOSS lost, the line a context is stuck at, and for an
execution that never ends the DEADLOCK lines of the loop it enters.
``--no-trace`` keeps the first three lines. A path that an earlier
expectation already showed is not printed again:

    KIND: the same execution as the counterexample of always C, above
"""

from __future__ import annotations

from typing import Protocol

from kmap_scenarios.dsl.formats import run_text as report
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.search.limits import Limits
from kmap_scenarios.runtime.kernel.machine import Action
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.search.schedule import encode, replay


class Verdict(Protocol):
    """What a witness is printed from (check_text.Verdict)."""

    label: str
    holds: bool | None
    witness: list[Action] | None
    ends: str | None
    shrunk: str

RUN_MAX_STEPS = 100_000   # kmap run's default --max-steps

# what each end of a witness adds after its trace
ENDS = {
    "never": "from here the execution never ends: it stays among states it cannot leave",
    "decided": "the reports here already decide it, whatever the execution does next",
    "cut": "the reports here already decide it; the execution goes on where a bound cut "
           "the search",
}

Shown = dict[tuple[Action, ...], tuple[str, str]]   # path -> (kind, label) that printed it


def witness_lines(program: Program, r: ex.Result, v: Verdict, traces: bool,
                  limits: Limits | None, shown: Shown, colour: bool = False) -> list[str]:
    """The lines of ``v``'s witness or counterexample (none without one);
    ``shown``: the paths printed so far, added to."""
    if v.witness is None:
        return []
    kind = "witness" if v.holds else "counterexample"
    key = tuple(v.witness)
    if key in shown:
        first_kind, first_label = shown[key]
        of = first_label.removeprefix("expect ")
        return [f"    {kind}: the same execution as the {first_kind} of {of}, above"]
    shown[key] = (kind, v.label)
    out = [f"    {kind}: {encode(program, v.witness)}"]
    if len(v.witness) >= RUN_MAX_STEPS:
        out.append(f"    ({len(v.witness)} steps: replay it with kmap run --max-steps "
                   f"{len(v.witness) + 1})")
    if v.shrunk:
        out.append(f"    {v.shrunk}")
    end = v.ends or end_of(r, v.witness)
    if traces and limits is not None and (limits.left() or 0.0) < 0:
        out.append("    (trace left out: the time was up)")
    elif traces:
        run = replay(program, v.witness, trace=True, endless=end == "never")
        out += ["    " + line for t in report.trace_lines(program, run.trace, colour)
                for line in t.split("\n")]
        if end in ENDS:
            out.append(f"    {ENDS[end]}")
        assert run.final is not None
        state = "final state:" if end in ("final", "never") else "state here:"
        out += ["    " + line for line in report.reports_text(program, run.final, colour)]
        out += [f"    {state}", *("    " + line for line in report.final_text(program, run.final))]
        return out
    if end in ENDS:
        out.append(f"    {ENDS[end]}")
    return out


def end_of(r: ex.Result, path: list[Action]) -> str:
    """How the execution a witness leads to ends: "final", "never" (it
    enters a bottom component) or "cut" (a bound stopped the search)."""
    for o, p in r.witnesses.items():
        if p == path:
            return o.ends
    if any(p == path for p in r.observed.values()):
        return "never"
    return "cut" if any(p == path for p in r.unfinished.values()) else "final"
