"""`kmap check`'s verdicts and its text and JSON formats, herd7-style.

Text layout (golden format; deterministic without --stats):

    Test NAME (PATH)
    Outcomes N
      COUNT  OUTCOME            (sorted by outcome text; outcome_rows)
    Expectations
      expect QUANT COND: holds | FAILS | unproven (BOUND)
        witness: SCHEDULE       (failing ones, and sometimes that hold)
        its trace, reports and final state (dsl/formats/witness_text.py)
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

from kmap_scenarios.dsl.formats import colour as paint
from kmap_scenarios.dsl.formats import run_text as report
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.search import vacuity
from kmap_scenarios.runtime.kernel import ctext
from kmap_scenarios.runtime.search.limits import Limits
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.dsl.formats.witness_text import Shown, witness_lines
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
        # a failed `sometimes` has nothing to show: no execution satisfies it
        needs = bool(pool) and (quant == "sometimes" or holds is False)
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
         limits: Limits | None = None, colour: bool = False) -> str:
    """The text report. With ``limits``, a witness's trace (a replay) is
    printed only while the command's time lasts; ``colour``: with
    dsl/formats/colour.py's colours."""
    why = ", ".join(r.report_cut or r.bounded)   # the limits that cut the report
    out = [f"Test {program.name} ({program.path})",
           f"Outcomes {len(r.outcomes)}" + ("" if r.counted else f" (not counted: cut by {why})")]
    rows, cut = outcome_rows(program, r, colour)
    out += rows
    if cut:
        out.append("Unfinished (cut by a bound: the reports reached so far)")
        out += cut
    out.append("Expectations")
    shown: Shown = {}
    for v in verdicts:
        note = f" (search bounded by {', '.join(r.bounded)})" if v.holds is None else \
            f" ({v.note})" if v.note else ""
        out.append(f"  {v.label}: {paint.verdict(v.holds, colour)}{note}")
        out.append(f"    Positive: {_known(v.positive)} Negative: {_known(v.negative)}")
        if v.unwitnessed:
            kind = "witness" if v.holds else "counterexample"
            out.append(f"    {kind}: not found (its search was cut by {why})")
        out += witness_lines(program, r, v, traces, limits, shown, colour)
    out += warning_lines(program, warnings_of(program, r, verdicts), colour)
    if r.bounded:
        out.append(paint.warning(f"Bounded by: {', '.join(r.bounded)} (always/never cannot be "
                                 "proven)", colour))
    if r.report_cut:
        missing = [what for what, ok in (("counts", r.counted), ("witnesses", r.witnessed))
                   if not ok] or ["paths"]
        whole = "" if r.bounded else "; the search was whole: the verdicts stand"
        out.append(paint.warning(f"Report cut by: {', '.join(r.report_cut)} "
                                 f"({' and '.join(missing)} left out{whole})", colour))
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
        # runtime/search/por.py: a local step alone, or one CPU's actions
        por = f", {r.reduced:,} states expanded by a persistent set" if r.reduced else ""
        sym = (f", {r.symmetric_states:,} states stepped (symmetry)"
               if r.symmetric_states else "")
        out.append(f"Time {r.seconds:.3f} s, {rate:,.0f} states/s{memo}{por}{sym}")
    out.append(result_line(verdicts, colour))
    return "\n".join(out) + "\n"


def warnings_of(program: Program, r: ex.Result, verdicts: list[Verdict]) -> list[vacuity.CheckWarning]:
    """The search's warnings (runtime/search/vacuity.py): statements no explored
    execution reaches, and no interleaving where a `sometimes` does not hold."""
    unmet = [k for k, (e, v) in enumerate(zip(program.expectations, verdicts))
             if e.quant == "sometimes" and v.holds is not True]
    return vacuity.warnings(program, r.coverage, r.bounded, unmet)


def warning_lines(program: Program, warnings: list[vacuity.CheckWarning],
                  colour: bool = False) -> list[str]:
    """The text report's Warnings section (nothing when there are none)."""
    if not warnings:
        return []
    out = [paint.warning("Warnings", colour)]
    for w in warnings:
        lines = str(w.line) if w.end_line == w.line else f"{w.line}-{w.end_line}"
        out.append(f"  {program.path}:{lines}: {w.message}")
    return out


def outcome_rows(program: Program, r: ex.Result,
                 colour: bool = False) -> tuple[list[str], list[str]]:
    """The Outcomes section's rows, '  COUNT  OUTCOME' sorted by outcome
    text, and the unfinished ones' '    cut  REPORTS' (also the rows of
    kmap test's records): the counts right-aligned in one column as wide
    as the widest (count_text keeps it within 12 characters)."""
    shown = sorted(r.outcomes, key=lambda o: outcome_text(program, o))
    counts = [count_text(r.outcomes[o]) if r.counted else "?" for o in shown]
    width = max([COUNT_WIDTH, *map(len, counts)])
    rows = [f"  {n:>{width}}  {outcome_text(program, o, colour)}"
            f"{NEVER_ENDS if o.ends == 'never' else ''}" for n, o in zip(counts, shown)]
    cut = [f"  {'cut':>{width}}  {outcome_text(program, o, colour)}" for o in r.unfinished]
    return rows, cut


COUNT_WIDTH = 6   # the count column's least width


def outcome_text(program: Program, o: ex.Outcome, colour: bool = False) -> str:
    """An outcome as the text shows it: each value as `kmap run` prints
    one (runtime/kernel/ctext.py), page bytes as 0x55; the JSON keeps the
    outcome's own strings (docs/check-json.md)."""
    bits = program.config.preset.bits
    vals = "; ".join(f"{k}={_value_text(k, v, bits)}" for k, v in o.values)
    reps = "; ".join(paint.report(x, colour) for x in o.reports) if o.reports else "no reports"
    return f"{vals}; {reps}" if vals else reps


def _value_text(name: str, text: str, bits: int) -> str:
    """An outcome's value text ('0x10', '0|1', '?') printed anew."""
    if name.endswith("]"):
        return text   # a page byte: 0x55, as run's page lines
    return "|".join(part if part == "?" else ctext.value_text(int(part, 0), bits)
                    for part in text.split("|"))


def _known(n: int | None) -> str:
    """A count, or ? when a limit left it unknown."""
    return "?" if n is None else count_text(n)


NEVER_ENDS = "  [never ends]"


def count_text(n: int) -> str:
    """An execution count as text: exact up to 12 digits, from 10^12 on
    in scientific notation, ~1.235e+15 (counts of interleavings grow past
    a hundred digits; JSON keeps them exact), so a column of counts stays
    within 12 characters."""
    return str(n) if n < 10 ** 12 else f"~{n:.3e}"


def result_line(verdicts: list[Verdict], colour: bool = False) -> str:
    """'Result: ...': every expectation holds, or how many fail / are unproven."""
    holds = [v.holds for v in verdicts]
    return paint.closing(report.summary(holds, "Result"), holds, colour)


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
