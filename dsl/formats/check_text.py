"""`kmap check`'s verdicts and its text and JSON formats, herd7-style.

Text layout (golden format; deterministic without --stats):

    Test NAME (PATH)
    Outcomes N
      COUNT  OUTCOME            (sorted by outcome text)
    Expectations
      expect QUANT COND: holds | FAILS | unproven (BOUND)
        witness: SCHEDULE       (failing ones, and sometimes that hold)
        trace lines of the witness
    Warnings                    (only when there are: runtime/search/vacuity.py)
      FILE:LINE[-LINE]: task T: no execution reaches `STATEMENT`
      FILE:LINE: expect sometimes C: no execution interleaves two tasks or irqs ...: WHY
    Bounded by: ...             (only when a bound cut the search)
    States S, transitions T, executions E, max depth D
    Result: ...

Warnings are sorted by line. An unreached warning names the statements no
explored step executes, consecutive ones of a context in one line (one
statement: its text; two: both; more: the first and the last, and how
many); a bounded search says they are "not reached yet". The
no-interleaving warning is given for each `sometimes` expectation that
does not hold when no execution interleaves two tasks or irqs, with what
forbids it (docs/language.md, "Warnings"). `--random` gives none.

JSON (--format json) is documented in docs/check-json.md; its
``format_version`` changes with any incompatible change.

The command itself (options, limits, --random) is dsl/cli/check.py.
"""

from __future__ import annotations

from kmap_scenarios.dsl.formats import run_text as report
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.search import vacuity
from kmap_scenarios.runtime.search.limits import Limits
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.search.schedule import encode, replay

JSON_VERSION = 2   # 2: counts may be null (a limit cut the counting)


def exit_status(verdicts: list[Verdict]) -> int:
    """0 every expectation holds, 1 one fails, 3 none fails but one is
    unproven (docs/language.md "Commands")."""
    if any(v.holds is False for v in verdicts):
        return 1
    return 3 if any(v.holds is None for v in verdicts) else 0


class Verdict:
    """One expectation's verdict under check, with its witness if any."""

    def __init__(self, label: str, holds: bool | None, witness: list[tuple[int, int]] | None,
                 wants: bool, note: str = "", positive: int | None = 0,
                 negative: int | None = 0) -> None:
        self.label = label
        self.holds = holds          # None: unproven (a bound cut the search)
        self.witness = witness
        self.wants = wants          # the condition value the witness shows
        self.note = note            # why it fails when that is not the value
        self.positive = positive    # executions where the condition holds (herd7's Positive)
        self.negative = negative    # and where it does not (Negative); None: not counted
        self.ends: str | None = None   # how the witness ends, when not one of the result's
        self.shrunk = ""            # how --random shrank the counterexample
        self.unwitnessed = False    # it needs a witness that a limit left unfound


def verdicts_of(program: Program, r: ex.Result) -> list[Verdict]:
    """Each expectation judged over every end the search found: terminal
    states and executions that never end (a condition observed at every
    state of the component: an execution can count as both positive and
    negative), and the reports met where a bound cut the search, which
    decide a condition when they alone make it true or false."""
    out = []
    quants = [(e.quant, f"expect {e.quant} {e.text}") for e in program.expectations] or \
        [("never", "expect no reports (no expect line)")]
    cut = list(r.unfinished)
    for k, (quant, label) in enumerate(quants):
        true = [o for o in r.outcomes if o.satisfies(k)] + [o for o in cut if o.conds[k] is True]
        false = [o for o in r.outcomes if o.violates(k)] + [o for o in cut if o.conds[k] is False]
        broken = [o for o in r.outcomes if o.conds[k] is None]
        pos: int | None = sum(r.outcomes[o] for o in r.outcomes if o.satisfies(k))
        neg: int | None = sum(r.outcomes[o] for o in r.outcomes if o.violates(k))
        if not r.counted:   # a limit cut the counting: the outcomes are known, not their counts
            pos = neg = None
        if broken:  # cannot be evaluated in some execution: fails, as under run
            witness = _shortest(r, broken)
            v = Verdict(label, False, witness, True, _why_broken(program, k, witness), pos, neg)
            v.unwitnessed = witness is None
            out.append(v)
            continue
        if quant == "sometimes":
            holds: bool | None = bool(true)
            wanted, pool = True, true
        elif quant == "always":
            holds, wanted, pool = not false, False, false
        else:
            holds, wanted, pool = not true, True, true
        if r.bounded:
            # a cut search may have missed executions: only a witness it
            # found (sometimes) or a counterexample (always/never) proves
            proven = holds if quant == "sometimes" else not holds
            if not proven:
                holds = None
        needs = (quant == "sometimes" and bool(pool)) or holds is False
        witness = _shortest(r, pool, k, wanted) if needs else None
        v = Verdict(label, holds, witness, wanted, "", pos, neg)
        v.unwitnessed = needs and witness is None
        out.append(v)
    return out


def _why_broken(program: Program, k: int, witness: list[tuple[int, int]] | None) -> str:
    """'cannot evaluate: ...' for expectation k at the end of its
    counterexample, in kmap run's words."""
    if witness is None or not program.expectations:
        return ""
    final = replay(program, witness).final
    assert final is not None
    return report.verdicts_for(program, final)[k][2]


def _shortest(r: ex.Result, pool: list[ex.Outcome], k: int = -1,
              wanted: bool = True) -> list[tuple[int, int]] | None:
    """The shortest path to an outcome of ``pool``; into a loop where
    condition k is MIXED, the path to a state of it where k is ``wanted``;
    None when a limit cut the search for every one of them
    (Result.witnessed)."""
    paths = [r.observed.get((o, k, wanted), r.witnesses[o]) for o in pool if o in r.witnesses] + \
        [p for o in pool if (p := r.unfinished.get(o)) is not None]
    # ties broken by the path itself: never by set or hash order
    return min(paths, key=lambda path: (len(path), path)) if paths else None


def text(program: Program, r: ex.Result, verdicts: list[Verdict], stats: bool, traces: bool,
         limits: Limits | None = None) -> str:
    """The text report. With ``limits``, a witness's trace (a replay) is
    printed only while the command's time lasts."""
    why = ", ".join(r.report_cut or r.bounded)   # the limits that cut the report
    out = [f"Test {program.name} ({program.path})",
           f"Outcomes {len(r.outcomes)}" + ("" if r.counted else f" (not counted: cut by {why})")]
    for o in sorted(r.outcomes, key=lambda o: o.text()):
        n = count_text(r.outcomes[o]) if r.counted else "?"
        out.append(f"  {n:>6}  {o.text()}{NEVER_ENDS if o.ends == 'never' else ''}")
    if r.unfinished:
        out.append("Unfinished (cut by a bound: the reports reached so far)")
        out += [f"     cut  {o.text()}" for o in r.unfinished]
    out.append("Expectations")
    for v in verdicts:
        word = "unproven" if v.holds is None else ("holds" if v.holds else "FAILS")
        note = f" (search bounded by {', '.join(r.bounded)})" if v.holds is None else \
            f" ({v.note})" if v.note else ""
        out.append(f"  {v.label}: {word}{note}")
        out.append(f"    Positive: {_known(v.positive)} Negative: {_known(v.negative)}")
        kind = "witness" if v.holds else "counterexample"
        if v.unwitnessed:
            out.append(f"    {kind}: not found (its search was cut by {why})")
        if v.witness is not None:
            out.append(f"    {kind}: {encode(program, v.witness)}")
            if len(v.witness) >= RUN_MAX_STEPS:
                out.append(f"    ({len(v.witness)} steps: replay it with kmap run --max-steps "
                           f"{len(v.witness) + 1})")
            if v.shrunk:
                out.append(f"    {v.shrunk}")
            if traces and limits is not None and (limits.left() or 0.0) < 0:
                out.append("    (trace left out: the time was up)")
            elif traces:
                run = replay(program, v.witness, trace=True)
                out += ["    " + line for t in report.trace_lines(program, run.trace)
                        for line in t.split("\n")]
            end = v.ends or _end_of(r, v.witness)
            if end == "never":
                out.append("    from here the execution never ends: it stays among states it "
                           "cannot leave")
            elif end == "decided":
                out.append("    the reports here already decide it, whatever the execution "
                           "does next")
            elif end == "cut":
                out.append("    the reports here already decide it; the execution goes on "
                           "where a bound cut the search")
    out += warning_lines(program, warnings_of(program, r, verdicts))
    if r.bounded:
        out.append(f"Bounded by: {', '.join(r.bounded)} (always/never cannot be proven)")
    if r.report_cut:
        missing = [what for what, ok in (("counts", r.counted), ("witnesses", r.witnessed))
                   if not ok] or ["paths"]
        whole = "" if r.bounded else "; the search was whole: the verdicts stand"
        out.append(f"Report cut by: {', '.join(r.report_cut)} ({' and '.join(missing)} "
                   f"left out{whole})")
    executions, depth = _known(r.executions if r.counted else None), \
        _known(r.max_depth if r.counted else None)
    if r.states or not r.bounded:
        out.append(f"States {r.states}, transitions {_known(r.transitions if r.counted else None)}, "
                   f"executions {executions}, max depth {depth}")
    else:
        out.append(f"Executions {executions}, max depth {depth}")
    if stats:
        rate = r.states / r.seconds if r.seconds > 0 else 0.0
        steps = r.memo_hits + r.memo_misses
        memo = f", {r.memo_hits / steps:.0%} of {steps:,} steps memoized" if steps else ""
        sym = (f", {r.symmetric_states:,} states stepped (symmetry)"
               if r.symmetric_states else "")
        out.append(f"Time {r.seconds:.3f} s, {rate:,.0f} states/s{memo}{sym}")
    out.append(result_line(verdicts))
    return "\n".join(out) + "\n"


def warnings_of(program: Program, r: ex.Result, verdicts: list[Verdict]) -> list[vacuity.CheckWarning]:
    """The search's warnings (runtime/search/vacuity.py): statements no explored
    execution reaches, and no interleaving where a `sometimes` does not hold."""
    unmet = [k for k, (e, v) in enumerate(zip(program.expectations, verdicts))
             if e.quant == "sometimes" and v.holds is not True]
    return vacuity.warnings(program, r.coverage, r.bounded, unmet)


def warning_lines(program: Program, warnings: list[vacuity.CheckWarning]) -> list[str]:
    """The text report's Warnings section (nothing when there are none)."""
    if not warnings:
        return []
    out = ["Warnings"]
    for w in warnings:
        lines = str(w.line) if w.end_line == w.line else f"{w.line}-{w.end_line}"
        out.append(f"  {program.path}:{lines}: {w.message}")
    return out


def _known(n: int | None) -> str:
    """A count, or ? when a limit left it unknown."""
    return "?" if n is None else count_text(n)


NEVER_ENDS = "  [never ends]"


def count_text(n: int) -> str:
    """An execution count as text: exact up to 15 digits, then in
    scientific notation (counts of interleavings grow past a hundred
    digits; JSON keeps them exact)."""
    return str(n) if n < 10 ** 15 else f"~{n:.3e}"
RUN_MAX_STEPS = 100_000   # kmap run's default --max-steps


def _end_of(r: ex.Result, path: list[tuple[int, int]]) -> str:
    """How the execution a witness leads to ends: "final", "never" (it
    enters a bottom component) or "cut" (a bound stopped the search)."""
    for o, p in r.witnesses.items():
        if p == path:
            return o.ends
    if any(p == path for p in r.observed.values()):
        return "never"
    return "cut" if any(p == path for p in r.unfinished.values()) else "final"


def result_line(verdicts: list[Verdict]) -> str:
    """'Result: ...': every expectation holds, or how many fail / are unproven."""
    return report.summary([v.holds for v in verdicts], "Result")


def to_json(program: Program, r: ex.Result, verdicts: list[Verdict]) -> dict[str, object]:
    """The JSON report (docs/check-json.md). Counts a limit left unknown
    (Result.counted) are null, as are witnesses it left unfound."""
    def count(n: int) -> int | None:
        return n if r.counted else None

    from kmap_scenarios.dsl.formats.machine import extend_check
    return extend_check(program, r, {
        "format_version": JSON_VERSION,
        "scenario": program.name,
        "path": program.path,
        "outcomes": [{"values": dict(o.values), "reports": list(o.reports),
                      "executions": count(r.outcomes[o]), "ends": o.ends,
                      "witness": encode(program, r.witnesses[o]) if o in r.witnesses else None}
                     for o in sorted(r.outcomes, key=lambda o: o.text())],
        "unfinished": [{"reports": list(o.reports),
                        "witness": None if path is None else encode(program, path)}
                       for o, path in r.unfinished.items()],
        "expectations": [{"expect": v.label.removeprefix("expect "),
                          "verdict": "unproven" if v.holds is None else ("holds" if v.holds else "fails"),
                          "positive": v.positive, "negative": v.negative,
                          "witness": None if v.witness is None else encode(program, v.witness)}
                         for v in verdicts],
        "warnings": [{"kind": w.kind, "message": w.message, "file": program.path,
                      "line": w.line, "end_line": w.end_line}
                     for w in warnings_of(program, r, verdicts)],
        "bounded_by": list(r.bounded),
        "report_cut_by": list(r.report_cut),
        "statistics": {"states": r.states, "transitions": count(r.transitions),
                       "executions": count(r.executions), "max_depth": count(r.max_depth)},
    })
