"""SARIF 2.1.0 from the JSON documents of `run`, `check`, `lint` and `test`.

One run of one tool (`kmap`); a result for each expectation that fails
(error) or is unproven (warning), each warning of `check` (warning), each
kernel report a scenario's executions raise (note: a scenario may show a
BUG on purpose; its expectations say whether that is wrong), each
diagnostic of an invalid file (error, its code as the rule), and each
file `kmap test` finds different from its record (error). Locations are
the documents' file and line; a report's task or irq (its function, once
scenarios have C functions) is a logical location. The output validates
against the official schema (tests/schemas/sarif-2.1.0-rtm.5.json).
"""

from __future__ import annotations

from typing import Any

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"

RULES = {
    "expectation-fails": "An expect line of the scenario does not hold",
    "expectation-unproven": "A bounded search could not prove an expect line",
    "unreached": "Statements no explored execution reaches",
    "no-interleaving": "A sometimes expectation fails and no execution interleaves contexts",
    "result-differs": "The scenario's result differs from its // Result: block",
    "result-missing": "The scenario has no // Result: block",
}


def _location(file: str, line: object, end_line: object = None, column: object = None,
              end_column: object = None, function: object = None) -> dict[str, Any]:
    region: dict[str, Any] = {}
    if isinstance(line, int) and line > 0:
        region["startLine"] = line
        if isinstance(end_line, int) and end_line >= line:
            region["endLine"] = end_line
        if isinstance(column, int) and column > 0:
            region["startColumn"] = column
            if isinstance(end_column, int) and end_column > column:
                region["endColumn"] = end_column
    phys: dict[str, Any] = {"artifactLocation": {"uri": file}}
    if region:
        phys["region"] = region
    loc: dict[str, Any] = {"physicalLocation": phys}
    if isinstance(function, str) and function:
        loc["logicalLocations"] = [{"name": function, "kind": "function"}]
    return loc


def _result(rule: str, level: str, text: str, loc: dict[str, Any]) -> dict[str, Any]:
    return {"ruleId": rule, "level": level, "message": {"text": text}, "locations": [loc]}


def _expectations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for e in doc["expectations"]:
        if e["verdict"] == "holds":
            continue
        rule = "expectation-fails" if e["verdict"] == "fails" else "expectation-unproven"
        why = e.get("note") or (f"counterexample: {e['witness']}" if e.get("witness") else "")
        text = f"expect {e['expect']}: {e['verdict']}" + (f" ({why})" if why else "")
        out.append(_result(rule, "error" if e["verdict"] == "fails" else "warning", text,
                           _location(e.get("file", doc["path"]), e.get("line"))))
    return out


def _reports(doc: dict[str, Any], details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out, seen = [], set()
    for d in details:
        key = (d["message"], d["line"])
        if key in seen:
            continue
        seen.add(key)
        rule = f"report/{d['kind']}"
        out.append(_result(rule, "note", d["message"],
                           _location(d["file"], d["line"], function=d["function"])))
    return out


def _diagnostics(diags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_result(d["code"], "error", d["message"] + (f" ({d['hint']})" if d["hint"] else ""),
                    _location(d["file"], d["line"], d["end_line"], d["column"], d["end_column"]))
            for d in diags]


def results_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The SARIF results of one document."""
    command = doc.get("command", "check")
    if command == "lint":
        return [r for f in doc["files"] for r in _diagnostics(f["diagnostics"])]
    if command == "test":
        out = []
        for f in doc["files"]:
            if f["status"] in ("fail", "missing"):
                rule = "result-differs" if f["status"] == "fail" else "result-missing"
                out.append(_result(rule, "error", f"{f['mode']}: {RULES[rule].lower()}",
                                   _location(f["file"], f["line"])))
            out += _diagnostics(f["diagnostics"])
        return out
    details = doc["reports"] if command == "run" else \
        [d for o in doc["outcomes"] for d in o.get("report_details", [])]
    out = _expectations(doc) + _reports(doc, details)
    for w in doc.get("warnings", []):
        out.append(_result(w["kind"], "warning", w["message"],
                           _location(w["file"], w["line"], w["end_line"])))
    return out


def to_sarif(docs: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """A SARIF log of one run holding every document's results."""
    results = [r for d in docs for r in results_of(d)]
    ids = sorted({r["ruleId"] for r in results})
    rules = [{"id": i, "shortDescription": {"text": RULES.get(i) or _rule_text(i)}} for i in ids]
    for r in results:
        r["ruleIndex"] = ids.index(r["ruleId"])
    driver = {"name": "kmap", "version": version, "rules": rules,
              "informationUri": "https://pypi.org/project/kmap-scenarios/"}
    return {"$schema": SCHEMA_URI, "version": "2.1.0",
            "runs": [{"tool": {"driver": driver}, "results": results}]}


def _rule_text(rule: str) -> str:
    if rule.startswith("report/"):
        return f"The modelled kernel reports {rule.split('/', 1)[1]}"
    return f"Invalid scenario (error {rule}, docs/language.md)"
