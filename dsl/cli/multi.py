"""`kmap run|check|lint FILE...`: a command over several files.

Each file's text result is headed by `==> FILE <==` (as head(1) heads
its files) when there are several; the JSON, SARIF and JUnit reports
gather every file's document (dsl/cli/machine_out.py). A file that
cannot be read or is not a valid scenario is reported on standard error
and the others go on. The exit status is the worst of the files', in the
order 0 (holds), 3 (unproven), 1 (fails), 65 (invalid), 2 (no such file).
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from kmap_scenarios.dsl.cli import colour, machine_out
from kmap_scenarios.dsl.formats import colour as paint
from kmap_scenarios.dsl.cli.usage import EX_DATAERR, EX_OK, EX_USAGE
from kmap_scenarios.dsl.formats import machine
from kmap_scenarios.dsl.lower.load import FileError, load
from kmap_scenarios.dsl.syntax.source import InputError

# a file not read at all is worse than an invalid one (what was asked
# for was not all done), as `kmap lint` has it
ORDER = (EX_OK, 3, 1, EX_DATAERR, EX_USAGE)


def worst(statuses: list[int]) -> int:
    """The worst exit status (ORDER; anything else is worse still)."""
    return max(statuses, key=lambda s: ORDER.index(s) if s in ORDER else len(ORDER) + s,
               default=EX_OK)


def each(args: argparse.Namespace, command: Callable[[argparse.Namespace], int]) -> int:
    """Run ``command`` (dsl/cli/run.py's or check.py's) on every file."""
    files: list[str] = list(args.file)
    args.docs = []
    statuses = []
    for n, f in enumerate(files):
        args.file = f   # what the command and an internal error's replay line read
        if len(files) > 1 and args.format == "text":
            sys.stdout.write(("\n" if n else "") + f"==> {f} <==\n")
            sys.stdout.flush()
        try:
            statuses.append(command(args))
        except FileError as e:
            print(f"kmap: {e}", file=sys.stderr)
            statuses.append(EX_USAGE)
        except InputError as e:
            print(paint.diagnostics(e.render(), colour.wanted(args, sys.stderr)), file=sys.stderr)
            statuses.append(EX_DATAERR)
    status = worst(statuses)
    machine_out.emit(args.docs, args, status)
    return status


def lint(args: argparse.Namespace) -> int:
    """`kmap lint FILE...`: parse and check each file, run nothing."""
    results: list[tuple[str, InputError | None]] = []
    statuses = []
    for f in args.file:
        try:
            load(f)
            results.append((f, None))
            statuses.append(EX_OK)
            if args.format == "text":
                print(f"{f}: {paint.paint('ok', paint.GREEN, colour.wanted(args, sys.stdout))}")
        except FileError as e:
            print(f"kmap: {e}", file=sys.stderr)
            statuses.append(EX_USAGE)
        except InputError as e:
            results.append((f, e))
            statuses.append(EX_DATAERR)
            if args.format == "text":
                print(paint.diagnostics(e.render(), colour.wanted(args, sys.stderr)),
                      file=sys.stderr)
    status = worst(statuses)
    doc = machine.lint_json(results)
    doc["exit_status"] = status
    machine_out.emit([doc], args, status)
    return status
