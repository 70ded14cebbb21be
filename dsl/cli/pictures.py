"""The pictures of `kmap run` and `kmap check` (docs/pictures.md): their
options, the checks of their files before anything runs, and the writing.

- `run --trace-out FILE`: the execution as a Chrome trace (dsl/formats/chrome_trace.py);
- `check --witness-trace FILE`: one trace file, a process for each
  distinct witness or counterexample the Expectations section prints;
- `check --dot FILE [--dot-witness]`: the explored state graph, or only
  the witness paths, as Graphviz DOT (dsl/formats/dot.py).

A picture is of one scenario: with several FILEs these options are usage
errors, as are a FILE that cannot be written (checked before the run or
search, and again when it is written), one that is the scenario itself,
`--dot` with `--random` (which explores no graph) or with `--jobs` (whose
workers keep the graph), and `--dot-witness` without `--dot`.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from kmap_scenarios.dsl.cli.usage import Usage
from kmap_scenarios.dsl.formats import chrome_trace, dot
from kmap_scenarios.dsl.formats import check_text as cc
from kmap_scenarios.dsl.formats.witness_text import end_of
from kmap_scenarios.runtime.kernel.machine import Action, final_state, step
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.state import State, initial_state
from kmap_scenarios.runtime.kernel.watchdog import stuck_reports
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.search.closure import WITNESS_CLOSURE_LIMIT, closure
from kmap_scenarios.runtime.search.outcome import Observer

ENDS = {"never": "from here the execution never ends: it stays among states it cannot leave",
        "decided": "the reports here already decide it, whatever the execution does next",
        "cut": "the reports here already decide it; the execution goes on where a bound "
               "cut the search"}


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trace-out", metavar="FILE", default=None,
                   help="also write the execution as a Chrome trace (JSON) to FILE, for "
                        "https://ui.perfetto.dev or chrome://tracing (docs/pictures.md)")


def add_check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--witness-trace", metavar="FILE", default=None,
                   help="also write each witness and counterexample as a Chrome trace "
                        "(JSON) to FILE, a process each (docs/pictures.md)")
    p.add_argument("--dot", metavar="FILE", default=None,
                   help=f"also write the explored state graph as Graphviz DOT to FILE "
                        f"(at most {dot.MAX_STATES} states; docs/pictures.md)")
    p.add_argument("--dot-witness", action="store_true",
                   help="with --dot: only the witness and counterexample paths")


def _flags(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(flag, FILE) of each picture asked for."""
    return [(flag, v) for name, flag in (("trace_out", "--trace-out"),
                                         ("witness_trace", "--witness-trace"), ("dot", "--dot"))
            if (v := getattr(args, name, None)) is not None]


def check_options(args: argparse.Namespace) -> None:
    """Before any file is read: the usage errors of the picture options."""
    asked = _flags(args)
    if getattr(args, "dot_witness", False) and getattr(args, "dot", None) is None:
        raise Usage("--dot-witness only applies to --dot FILE")
    if not asked:
        return
    files = list(args.file)
    if len(files) > 1:
        raise Usage(f"{asked[0][0]} draws one scenario: give one FILE, not {len(files)}")
    if getattr(args, "dot", None) is not None:
        if getattr(args, "random", None) is not None:
            raise Usage("--dot draws the explored state graph, and --random explores none "
                        "(--witness-trace FILE shows its counterexample)")
        if getattr(args, "jobs", 1) != 1 and not args.dot_witness:
            raise Usage("--dot needs the state graph, which the --jobs workers keep to "
                        "themselves: drop --jobs (a graph small enough to draw is searched "
                        "quickly by one process), or add --dot-witness for the witness paths")
    seen: dict[str, str] = {}
    for flag, path in asked:
        key = os.path.abspath(path)
        if key in seen:
            raise Usage(f"{seen[key]} and {flag} name the same file: {path}")
        seen[key] = flag
        writable(flag, path, files[0])


def writable(flag: str, path: str, scenario: str) -> None:
    """A usage error when FILE cannot be written (before anything runs)."""
    p = Path(path)
    if p.is_dir():
        raise Usage(f"{flag} {path}: is a directory")
    parent = p.parent
    if not parent.is_dir():
        raise Usage(f"{flag} {path}: no such directory: {parent}")
    try:
        if p.exists() and os.path.samefile(p, scenario):
            raise Usage(f"{flag} {path}: is the scenario itself (it would be overwritten)")
    except OSError:
        pass   # the scenario does not exist: kmap says so when it reads it
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise Usage(f"{flag} {path}: permission denied")


def write(flag: str, path: str, text: str) -> None:
    """Write a picture; an OSError is a usage error naming the option."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as e:
        raise Usage(f"{flag} {path}: cannot write: {e.strerror or e}") from None


def after_run(args: argparse.Namespace, program: Program, actions: list[Action], final: State,
              schedule: str, notes: list[str]) -> None:
    """`run --trace-out`."""
    if args.trace_out is not None:
        doc = chrome_trace.run_trace(program, actions, final, schedule, notes)
        write("--trace-out", args.trace_out, chrome_trace.dumps(doc))


@dataclass
class Shown:
    """A witness or counterexample path as the pictures show it."""

    label: str            # "counterexample of expect ...", "; "-joined when shared
    path: list[Action]
    end: str              # how its execution ends: final, never, decided, cut
    fails: bool           # a counterexample: an expectation fails at its end


def witnesses(program: Program, r: ex.Result, verdicts: list[cc.Verdict]) -> list[Shown]:
    """The witnesses and counterexamples the Expectations section prints,
    in its order, each path once (labelled by every expectation it is for)."""
    out: list[Shown] = []
    for v in verdicts:
        if v.witness is None:
            continue
        label = f"{'witness' if v.holds else 'counterexample'} of {v.label}"
        same = next((w for w in out if w.path == v.witness), None)
        if same is not None:
            same.label += f"; {label}"
            same.fails = same.fails or not v.holds
            continue
        out.append(Shown(label, list(v.witness), v.ends or end_of(r, v.witness),
                         not v.holds))
    return out


def final_of(program: Program, w: Shown) -> State:
    """The state a witness's execution ends in, as `kmap run` reports it:
    into a loop it never leaves, with the reports of the contexts stuck
    there (DEADLOCK: as the outcome has them)."""
    state = initial_state(program)
    for a in w.path:
        state = step(program, state, a)[0]
    stuck = None
    if w.end == "never":
        found = closure(program, state, WITNESS_CLOSURE_LIMIT)
        if found is not None:
            stuck = stuck_reports(program, *found)
    return final_state(program, state, stuck)


def after_check(args: argparse.Namespace, program: Program, r: ex.Result,
                verdicts: list[cc.Verdict], graph: ex.StateGraph | None) -> None:
    """`check --witness-trace` and `--dot`: written before the report is
    printed, so that a picture refused is refused before it."""
    shown = witnesses(program, r, verdicts) if _flags(args) else []
    finals = [final_of(program, w) for w in shown]
    if getattr(args, "dot", None) is not None:
        title = f"{program.name} ({program.path})"
        try:
            if args.dot_witness:
                observer = Observer(program)
                # the outcome at the end of a path that reaches one (not
                # one a bound cut, nor one its reports alone decide)
                drawn = [(w.label, w.path, replace(observer.outcome(f), ends=w.end)
                          if w.end in ("final", "never") else None, w.fails)
                         for w, f in zip(shown, finals)]
                text = dot.witness_dot(program, drawn, title if shown else
                                       f"{title}\nno witness or counterexample to draw")
            else:
                if graph is None:
                    raise Usage("--dot: the search did not keep its state graph")
                text = dot.graph_dot(program, graph, title)
        except dot.TooLarge as e:
            raise Usage(f"--dot: {e.states} states or more, too many to draw (at most "
                        f"{dot.MAX_STATES}); --dot FILE --dot-witness draws only the witness "
                        f"paths, --max-states N (N <= {dot.MAX_STATES}) a part of the "
                        f"graph") from None
        write("--dot", args.dot, text)
    if getattr(args, "witness_trace", None) is not None:
        items = [(w.label, w.path, f, [ENDS[w.end]] if w.end in ENDS else [])
                 for w, f in zip(shown, finals)]
        write("--witness-trace", args.witness_trace,
              chrome_trace.dumps(chrome_trace.witness_trace(program, items)))
        if not shown:
            print(f"kmap: --witness-trace {args.witness_trace}: no expectation has a witness "
                  "or counterexample to show: the file holds no execution", file=sys.stderr)


def search_bound(args: argparse.Namespace, max_states: int | None) -> int | None:
    """--max-states for the search: with --dot (the whole graph), one past
    what can be drawn, so that a search too large is refused soon."""
    if getattr(args, "dot", None) is None or args.dot_witness:
        return max_states
    cap = dot.MAX_STATES + 1
    return cap if max_states is None or max_states > cap else max_states
