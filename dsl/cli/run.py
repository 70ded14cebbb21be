"""`kmap run FILE`: one execution, printed by dsl/formats/run_text.py."""

from __future__ import annotations

import argparse
import sys

from kmap_scenarios.dsl.cli import colour, machine_out, pictures
from kmap_scenarios.dsl.formats import run_text as report
from kmap_scenarios.dsl.formats.machine import run_json
from kmap_scenarios.dsl.cli.usage import EX_DATAERR, EX_USAGE, Usage
from kmap_scenarios.dsl.lower.load import load
from kmap_scenarios.dsl.syntax.source import Diagnostic, InputError, Source
from kmap_scenarios.dsl.syntax.nodes import Span
from kmap_scenarios.runtime.search import schedule as sch
from kmap_scenarios.runtime.kernel.program import Program, ScheduleStep

def run(args: argparse.Namespace) -> int:
    if args.max_steps < 1:
        raise Usage("--max-steps must be at least 1")
    program = load(args.file)
    items, source_label, label = _items(program, args)
    choose = sch.default_choice if args.random is None else sch.random_choice(args.random)
    try:
        ex = sch.execute(program, items, choose, trace=not args.no_trace, max_steps=args.max_steps,
                         schedule=True)
    except sch.ScheduleError as e:
        return _schedule_error(program, args, e)
    assert ex.schedule is not None
    text = sch.runs_text(program, ex.schedule)
    assert ex.final is not None
    if ex.truncated:  # not a final state: only what its reports decide
        verdicts = report.verdicts_unfinished(program, ex.final, len(ex.actions))
    else:
        verdicts = report.verdicts_over(program, ex.endless or [ex.final])
    shown = f"{label} -> {text}" if label and label != text else text
    status = 1 if any(h is False for _, h, _ in verdicts) else \
        3 if any(h is None for _, h, _ in verdicts) else 0
    if args.trace_out is not None:
        pictures.after_run(args, program, ex.actions, ex.final, shown, _notes(ex))
    if machine_out.wanted(args):
        machine_out.collect(args, run_json(program, ex, shown, source_label, verdicts, status))
    if args.format == "text":
        sys.stdout.write(report.run_text(program, ex, shown, source_label, verdicts,
                                         show_trace=not args.no_trace,
                                         colour=colour.wanted(args, sys.stdout)))
    return status


def _notes(ex: sch.Execution) -> list[str]:
    """How the execution ended, when it did not just finish (as the text
    report says it)."""
    if ex.truncated:
        return [f"stopped after {len(ex.actions)} steps (--max-steps): the execution did "
                "not finish"]
    if ex.endless is not None:
        n = len(ex.endless)
        return [f"the execution never ends: after step {len(ex.actions)} it stays among {n} "
                f"state{'s' if n != 1 else ''} it cannot leave"]
    return []


def _items(program: Program, args: argparse.Namespace) -> tuple[
        tuple[ScheduleStep, ...] | None, str, str]:
    if args.schedule is not None:
        try:
            return sch.parse_items(program, args.schedule), "--schedule", args.schedule.strip()
        except ValueError as e:
            raise Usage(f"--schedule: {e}") from None
    if args.random is not None:
        return None, f"--random {args.random}", ""
    if program.schedule is not None:
        # as parsed: the line may hold comments, or the items go on over lines
        return program.schedule, "the file's schedule", sch.items_text(program, program.schedule)
    return None, "default policy", ""


def _schedule_error(program: Program, args: argparse.Namespace, e: sch.ScheduleError) -> int:
    if args.schedule is not None:
        print(f"kmap: --schedule item {e.item + 1}: {e}", file=sys.stderr)
        return EX_USAGE
    line = program.schedule_line
    text = program.source_lines[line - 1] if line else ""
    found = _item_columns(text, e.item)
    if found is None:
        col = text.find("schedule") + 1 if "schedule" in text else 1
        found = (col, len(text) + 1)
    diag = Diagnostic("E503", f"schedule item {e.item + 1} cannot be followed: {e}",
                      Span(line, found[0], line, found[1]), e.hint)
    print(InputError(Source(program.path, "\n".join(program.source_lines)), [diag]).render(),
          file=sys.stderr)
    return EX_DATAERR


def _item_columns(text: str, k: int) -> tuple[int, int] | None:
    """The columns (1-based, end exclusive) of item k of the schedule line
    ``text``, or None when it is not on that line."""
    at = text.find("schedule")
    end = text.find(";", at)
    if at < 0 or end < 0 or "/*" in text or "//" in text[:end]:
        return None   # the schedule goes on past this line, or has a comment
    start = at + len("schedule")
    parts = text[start:end].split(",")
    if k >= len(parts) or not parts[k].strip():
        return None
    pos = start + sum(len(x) + 1 for x in parts[:k])
    lead = len(parts[k]) - len(parts[k].lstrip())
    return pos + lead + 1, pos + len(parts[k].rstrip()) + 1
