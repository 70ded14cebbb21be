"""`kmap test [PATH...]`: every .kmap file under the paths, checked
against the result recorded in the file (dsl/cli/record.py), in parallel
over the cores; one line a file, then a summary.

A file's result is computed as `kmap check` (or `kmap run`, when its
block says `run`) computes it, with the scenario loaded under its base
name: report headlines that name the file (a WARN's `at FILE:LINE`) are
the same wherever the file is. The names printed are path-free too: a
file given by itself is shown by its base name, a file found under a
directory D as D's own name followed by the path below it, so
`kmap test examples`, `kmap test ./examples/` and `kmap test
/abs/examples` print the same lines from any working directory.

Exit status: 0 every file matches its record (or was rewritten by
--update), 1 one differs or has no record, 65 one is not a valid
scenario, 2 a path that is not there or holds no .kmap file.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from kmap_scenarios.dsl.cli import colour, record
from kmap_scenarios.dsl.cli.usage import EX_DATAERR, EX_FAIL, EX_OK, EX_USAGE, Usage
from kmap_scenarios.dsl.formats import check_text, machine
from kmap_scenarios.dsl.formats import colour as paint
from kmap_scenarios.dsl.formats import run_text as report
from kmap_scenarios.dsl.lower.load import FileError, load_text, read_scenario
from kmap_scenarios.dsl.syntax.source import InputError, Source
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.search import schedule as sch
from kmap_scenarios.runtime.search.limits import DEFAULT_MEMORY, machine_memory

PASS, FAIL, MISSING, UPDATED, ERROR = "ok", "FAIL", "MISSING", "updated", "INVALID"


@dataclass
class FileResult:
    """One file's comparison, as printed and as JSON."""

    file: str                  # the path-free name (module docstring)
    path: str                  # where it was read (not printed)
    status: str
    mode: str = "check"
    expected: list[str] = field(default_factory=list)
    actual: list[str] = field(default_factory=list)
    exit_status: int = 0       # what `kmap check`/`kmap run` would exit with
    line: int = 0              # the block's first line (1-based), or the file's end
    error: str = ""            # an invalid file's rendered diagnostics
    diagnostics: list[dict[str, object]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "status": self.status.lower(), "mode": self.mode,
                "expected": self.expected, "actual": self.actual,
                "exit_status": self.exit_status, "line": self.line or None,
                "diagnostics": self.diagnostics}


def collect(paths: list[str]) -> list[tuple[str, str]]:
    """(path-free name, path) of every .kmap file under ``paths``, sorted
    by name, each file once."""
    found: dict[str, tuple[str, str]] = {}
    for given in paths:
        p = Path(given)
        if p.is_dir():
            base = p.resolve()
            for f in sorted(base.rglob("*.kmap")):
                if f.is_file():
                    found.setdefault(str(f), (f.relative_to(base).as_posix(), str(f)))
        elif p.exists():
            found.setdefault(str(p.resolve()), (p.name, given))
        else:
            raise Usage(f"{given}: no such file or directory")
    return sorted(found.values())


def run_file(name: str, path: str, update: bool = False,
             timeout: float | None = None, jobs: int = 1) -> FileResult:
    """Compute one file's result, compare it with its record, rewrite the
    record under ``update``."""
    try:
        data = read_scenario(path)
        text = data.decode("utf-8")
    except (FileError, UnicodeDecodeError) as e:
        return FileResult(name, path, ERROR, error=f"kmap: {name}: {e}")
    rec = record.read(text)
    line = rec.start + 1
    try:
        program = load_text(data, Path(path).name)
        actual, status = result_lines(program, rec.mode, timeout, jobs)
    except InputError as e:
        shown = InputError(Source(name, e.source.text), e.diagnostics)
        return FileResult(name, path, ERROR, rec.mode, line=line, error=shown.render(),
                          diagnostics=machine.diagnostics_json(shown), exit_status=EX_DATAERR)
    expected = list(rec.lines)
    res = FileResult(name, path, PASS, rec.mode, expected, actual, status, line)
    if rec.present and expected == actual:
        return res
    if update:
        Path(path).write_bytes(record.write(text, rec.mode, actual).encode("utf-8"))
        res.status = UPDATED
    else:
        res.status = FAIL if rec.present else MISSING
    return res


def result_lines(program: Program, mode: str, timeout: float | None = None,
                 jobs: int = 1) -> tuple[list[str], int]:
    """The path-free result of `kmap check` (or `kmap run`), and its exit status."""
    if mode == "run":
        return _run_lines(program)
    memory = int(machine_memory() * DEFAULT_MEMORY / max(1, jobs))
    r = ex.Explorer(program, ex.Options(timeout=timeout, max_memory=memory)).run()
    verdicts = check_text.verdicts_of(program, r)
    rows, cut = check_text.outcome_rows(program, r)
    out = [f"Outcomes {len(r.outcomes)}", *rows, *cut]
    for v in verdicts:
        word = "unproven" if v.holds is None else ("holds" if v.holds else "FAILS")
        note = f" ({v.note})" if v.note and v.holds is not None else ""
        out.append(f"{v.label}: {word}{note}")
        out.append(f"  Positive: {_known(v.positive)} Negative: {_known(v.negative)}")
    for w in check_text.warnings_of(program, r, verdicts):
        lines = str(w.line) if w.end_line == w.line else f"{w.line}-{w.end_line}"
        out.append(f"warning: line {lines}: {w.message}")
    if r.bounded:
        out.append(f"Bounded by: {', '.join(r.bounded)}")
    out.append(check_text.result_line(verdicts).removeprefix("Result: "))
    return out, check_text.exit_status(verdicts)


def _known(n: int | None) -> str:
    return "?" if n is None else check_text.count_text(n)


def _run_lines(program: Program) -> tuple[list[str], int]:
    """`kmap run`'s reports, end and verdicts (the file's schedule, or
    the default policy); an impossible schedule is invalid input."""
    try:
        e = sch.execute(program, program.schedule, sch.default_choice, trace=False)
    except sch.ScheduleError as err:
        raise _schedule_error(program, err) from None
    assert e.final is not None
    if e.truncated:
        verdicts = report.verdicts_unfinished(program, e.final, len(e.actions))
    else:
        verdicts = report.verdicts_over(program, e.endless or [e.final])
    finals = e.endless or [e.final]
    labels = [r["message"] for r in machine.reports_json(program, finals[-1])]
    out = [f"report: {m}" for m in labels] or ["reports: none"]
    if e.truncated:
        out.append(f"stopped after {len(e.actions)} steps: the execution did not finish")
    if e.endless is not None:
        out.append("the execution never ends")
    out += [line.strip() for line in report.verdict_lines(verdicts)]
    out.append(report.result_line(verdicts).removeprefix("result: "))
    status = 1 if any(h is False for _, h, _ in verdicts) else \
        3 if any(h is None for _, h, _ in verdicts) else 0
    return out, status


def _schedule_error(program: Program, err: sch.ScheduleError) -> InputError:
    from kmap_scenarios.dsl.syntax.nodes import Span
    from kmap_scenarios.dsl.syntax.source import Diagnostic
    line = program.schedule_line
    diag = Diagnostic("E503", f"schedule item {err.item + 1} cannot be followed: {err}",
                      Span(line, 1, line, 1), err.hint)
    return InputError(Source(program.path, "\n".join(program.source_lines)), [diag])


def _one(job: tuple[str, str, bool, float | None, int]) -> FileResult:
    """A worker's task (top level: it is pickled by name)."""
    return run_file(*job)


def run_all(files: list[tuple[str, str]], update: bool, timeout: float | None,
            jobs: int) -> Iterator[FileResult]:
    """Each file's result, in the order of ``files``; ``jobs`` at a time."""
    work = [(name, path, update, timeout, jobs) for name, path in files]
    if jobs <= 1 or len(work) <= 1:
        yield from map(_one, work)
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(work))) as pool:
        yield from pool.map(_one, work)


def status_of(results: list[FileResult]) -> int:
    """0, 1 (a file differs or has no record) or 65 (one is invalid)."""
    if any(r.status == ERROR for r in results):
        return EX_DATAERR
    return EX_FAIL if any(r.status in (FAIL, MISSING) for r in results) else EX_OK


def summary(results: list[FileResult]) -> str:
    """'N passed, N failed' (the plain closing line CI tools read), then the rest."""
    count = {s: sum(1 for r in results if r.status == s) for s in (PASS, FAIL, MISSING, UPDATED, ERROR)}
    extra = [f"{count[s]} {w}" for s, w in ((MISSING, "without a record"), (ERROR, "invalid"),
                                            (UPDATED, "updated")) if count[s]]
    tail = f" ({', '.join(extra)})" if extra else ""
    failed = count[FAIL] + count[MISSING] + count[ERROR]
    return f"{count[PASS] + count[UPDATED]} passed, {failed} failed{tail}"


STATUS_COLOURS = {PASS: paint.GREEN, FAIL: paint.RED, MISSING: paint.RED, ERROR: paint.RED,
                  UPDATED: paint.CYAN}


def line_of(r: FileResult, colour: bool = False) -> list[str]:
    """A file's line, then what differs (a diff of the records) or the error."""
    word = paint.paint(r.status, STATUS_COLOURS[r.status], colour) + " " * (8 - len(r.status))
    out = [f"{word}{r.file}" + (f" ({r.mode})" if r.mode != "check" else "")]
    if r.status == FAIL:
        diff = difflib.unified_diff(r.expected, r.actual, "recorded", "now", lineterm="", n=1)
        out += [f"    {_diff_line(d, colour)}" for d in diff]
    elif r.status == MISSING:
        out.append("    no // Result: block at the end of the file: kmap test --update records one")
    elif r.status == ERROR:
        out += [f"    {e}" for e in paint.diagnostics(r.error, colour).split("\n")]
    return out


def _diff_line(line: str, colour: bool) -> str:
    """A line of a record's diff: removed red, added green."""
    if line.startswith(("---", "+++")):
        return line
    sgr = {"-": paint.RED, "+": paint.GREEN, "@": paint.CYAN}.get(line[:1])
    return paint.paint(line, sgr, colour) if sgr else line


def test(args: argparse.Namespace) -> int:
    """The command: text, JSON or SARIF on standard output; JUnit XML to a file."""
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise Usage("--jobs must be at least 1")
    if args.timeout is not None and not args.timeout > 0:
        raise Usage("--timeout must be a positive number of seconds")
    files = collect(args.paths)
    if not files:
        raise Usage(f"no .kmap file under {', '.join(args.paths)}")
    results = []
    on = colour.wanted(args, sys.stdout)
    for r in run_all(files, args.update, args.timeout, jobs):
        results.append(r)
        if args.format == "text":
            sys.stdout.write("\n".join(line_of(r, on)) + "\n")
            sys.stdout.flush()
    status = status_of(results)
    if args.format == "text":
        sys.stdout.write(paint.closing(summary(results), [status == EX_OK], on) + "\n")
    doc = test_json(results, status)
    from kmap_scenarios.dsl.cli import machine_out
    machine_out.emit([doc], args, status)
    return status


def test_json(results: list[FileResult], status: int) -> dict[str, object]:
    """`kmap test --format json` (docs/check-json.md)."""
    count = {s.lower(): sum(1 for r in results if r.status == s)
             for s in (PASS, FAIL, MISSING, UPDATED, ERROR)}
    return {"command": "test", "format_version": machine.JSON_VERSION,
            "files": [r.to_json() for r in results],
            "summary": {"files": len(results), "passed": count["ok"] + count["updated"],
                        "failed": count["fail"] + count["missing"] + count["invalid"],
                        "missing": count["missing"], "invalid": count["invalid"],
                        "updated": count["updated"]},
            "exit_status": status}
