"""Machine-readable reports of `run` and `lint`, and the pieces `check`'s
JSON shares with them: one JSON object per file, described by the JSON
Schema shipped beside this module (schemas/kmap-report.schema.json) and
by docs/check-json.md.

Numbers are JSON numbers (addresses and values too: a reader formats
them); every kernel report carries its file, line, function and context.
``function`` is the task or irq the report was raised in today; when
scenarios gain C functions it names the function, and ``context`` keeps
the task or irq.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from kmap_scenarios.dsl.formats import run_text as report
from kmap_scenarios.dsl.syntax.source import InputError
from kmap_scenarios.runtime.kernel import reports as rr
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.state import Report, State
from kmap_scenarios.runtime.search.expect import ExpectError, evaluate
from kmap_scenarios.runtime.search.outcome import collect_atoms, rank
from kmap_scenarios.runtime.search.schedule import Execution

JSON_VERSION = 2   # shared by every command's JSON (docs/check-json.md, Versioning)
SCHEMA_FILE = "kmap-report.schema.json"


def schema() -> dict[str, Any]:
    """The published JSON Schema of every `--format json` document."""
    text = resources.files("kmap_scenarios.dsl.formats").joinpath("schemas", SCHEMA_FILE)
    loaded: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return loaded


def dumps(doc: object) -> str:
    """The one JSON layout: sorted keys, two spaces, a final newline."""
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def report_json(program: Program, state: State, rep: Report) -> dict[str, object]:
    """One kernel report: kind, the kernel's headline, and where it was raised."""
    n = len(program.contexts)
    if rep.ctx < n:
        info = program.contexts[rep.ctx]
        context, kind = info.name, "irq" if info.is_irq else "task"
        line = info.code[rep.pc].loc.line if 0 <= rep.pc < len(info.code) else 0
    else:   # a CPU's idle task (a deadlocked CPU): no line of the scenario
        context, kind, line = f"swapper/{rep.ctx - n}", "idle", 0
    return {"kind": rr.kind_of(rep.code).name, "message": rr.label(program, state, rep),
            "file": program.path, "line": line or None, "function": context,
            "context": context, "context_kind": kind, "cpu": rep.cpu}


def reports_json(program: Program, state: State) -> list[dict[str, object]]:
    """The reports of a state in the order the text prints them, each once."""
    out: list[dict[str, object]] = []
    seen: set[str] = set()
    for rep in sorted(state.reports, key=lambda r: rank(r.code)):
        j = report_json(program, state, rep)
        if j["message"] not in seen:
            seen.add(str(j["message"]))
            out.append(j)
    return out


def number_of(text: str) -> int | None | list[int | None]:
    """A value of `check`'s outcome as a number: "0x2a" -> 42, "?" -> None,
    "0|1" (an execution that never ends) -> [0, 1]."""
    if "|" in text:
        return [_one(t) for t in text.split("|")]
    return _one(text)


def _one(text: str) -> int | None:
    try:
        return int(text, 0)
    except ValueError:
        return None


def run_json(program: Program, ex: Execution, schedule: str, source: str,
             verdicts: list[tuple[str, bool | None, str]], status: int) -> dict[str, object]:
    """`kmap run --format json`: the execution's end, reports, values, verdicts."""
    assert ex.final is not None
    finals = ex.endless or [ex.final]
    values: dict[str, int | None] = {}
    for name, atom in collect_atoms(program):
        try:
            values[name] = evaluate(program, ex.final, atom)
        except ExpectError:
            values[name] = None
    ends = "cut" if ex.truncated else "never" if ex.endless is not None else "final"
    lines = [e.line for e in program.expectations] or [0]
    return {
        "command": "run", "format_version": JSON_VERSION,
        "scenario": program.name, "path": program.path,
        "schedule": schedule, "schedule_source": source,
        "steps": len(ex.actions), "ends": ends,
        "reports": reports_json(program, finals[-1] if ex.endless else ex.final),
        "values": values,
        "expectations": [{"expect": label.removeprefix("expect "), "verdict": _verdict(h),
                          "note": note, "file": program.path, "line": line or None}
                         for (label, h, note), line in zip(verdicts, lines)],
        "result": report.result_line(verdicts).removeprefix("result: "),
        "exit_status": status,
    }


def _verdict(holds: bool | None) -> str:
    return "unproven" if holds is None else ("holds" if holds else "fails")


def diagnostics_json(e: InputError) -> list[dict[str, object]]:
    """An input error's diagnostics, each with its code and span."""
    return [{"code": d.code, "message": d.message, "hint": d.hint, "file": e.source.path,
             "line": d.span.line or None, "column": d.span.col or None,
             "end_line": d.span.end_line or None, "end_column": d.span.end_col or None}
            for d in e.diagnostics]


def lint_json(results: list[tuple[str, InputError | None]]) -> dict[str, object]:
    """`kmap lint --format json`: each file, ok or its diagnostics."""
    files = [{"path": path, "ok": err is None,
              "diagnostics": [] if err is None else diagnostics_json(err)}
             for path, err in results]
    return {"command": "lint", "format_version": JSON_VERSION, "files": files,
            "exit_status": 0 if all(f["ok"] for f in files) else 65}


def extend_check(program: Program, r: Any, doc: dict[str, Any]) -> dict[str, Any]:
    """What `check`'s JSON adds to format version 2 (compatible additions,
    docs/check-json.md): the command, each outcome's values as numbers
    and its reports with their places (read off a replay of its witness),
    each expectation's line."""
    from kmap_scenarios.runtime.search.schedule import replay
    doc["command"] = "check"
    ordered = sorted(r.outcomes, key=lambda o: o.text())
    for o, j in zip(ordered, doc["outcomes"]):
        j["value_numbers"] = {k: number_of(v) for k, v in o.values}
        path = r.witnesses.get(o)
        details: dict[str, dict[str, object]] = {}
        if path is not None:
            final = replay(program, path).final
            assert final is not None
            states = [final] if o.ends == "final" else _component_finals(program, path)
            for s in states:
                for d in reports_json(program, s):
                    details.setdefault(str(d["message"]), d)
        j["report_details"] = [details.get(m) or _unplaced(program, m) for m in o.reports]
    lines = [e.line for e in program.expectations] or [0]
    for j, line in zip(doc["expectations"], lines):
        j["file"], j["line"] = program.path, line or None
    return doc


def _component_finals(program: Program, path: list[tuple[int, int]]) -> list[State]:
    """The states, made final, of the loop an execution that never ends
    enters after ``path`` (its DEADLOCK reports are made there)."""
    from kmap_scenarios.runtime.search import schedule as sch
    items = sch.parse_items(program, sch.encode(program, path)) if path else None
    ex = sch.execute(program, items, sch.default_choice, trace=False)
    assert ex.final is not None
    return list(ex.endless or [ex.final])


def _unplaced(program: Program, message: str) -> dict[str, object]:
    """A report whose place a limit left unknown (no witness to replay)."""
    kind = message.split(":", 1)[0]
    return {"kind": kind, "message": message, "file": program.path, "line": None,
            "function": None, "context": None, "context_kind": None, "cpu": None}
