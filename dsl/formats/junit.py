"""JUnit XML (the Ant/Surefire layout CI services read) from the JSON
documents of `run`, `check`, `lint` and `test`.

`test`: one test case a file (failure: the difference from its record;
error: an invalid file). `run` and `check`: one test case an expectation
(failure: it fails; skipped: unproven). `lint`: one a file. No times
(the report is deterministic; time="0").
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")


def _suite(root: ET.Element, doc: dict[str, Any]) -> None:
    command = doc.get("command", "check")
    suite = ET.SubElement(root, "testsuite", name=f"kmap {command}" +
                          (f" {doc['path']}" if "path" in doc else ""))
    if command == "test":
        for f in doc["files"]:
            case = _case(suite, "kmap.test", f["file"])
            if f["status"] in ("fail", "missing"):
                body = "\n".join(["recorded:", *f["expected"], "now:", *f["actual"]])
                ET.SubElement(case, "failure", message=f"result {f['status']}",
                              type=f["status"]).text = body
            elif f["status"] == "invalid":
                ET.SubElement(case, "error", message="invalid scenario", type="invalid").text = \
                    "\n".join(f"{d['file']}:{d['line']}: {d['code']}: {d['message']}"
                              for d in f["diagnostics"])
    elif command == "lint":
        for f in doc["files"]:
            case = _case(suite, "kmap.lint", f["path"])
            if not f["ok"]:
                ET.SubElement(case, "failure", message="invalid scenario", type="invalid").text = \
                    "\n".join(f"{d['line']}:{d['column']}: {d['code']}: {d['message']}"
                              for d in f["diagnostics"])
    else:
        for e in doc["expectations"]:
            case = _case(suite, f"kmap.{command}.{doc['scenario']}", f"expect {e['expect']}")
            if e["verdict"] == "fails":
                ET.SubElement(case, "failure", message="expectation fails", type="fails").text = \
                    f"counterexample: {e.get('witness')}" if e.get("witness") else e.get("note", "")
            elif e["verdict"] == "unproven":
                ET.SubElement(case, "skipped", message="unproven (bounded search)")
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(attr, str(sum(1 for c in cases if c.find(tag) is not None)))


def to_junit(docs: list[dict[str, Any]]) -> str:
    """The XML text, one <testsuite> a document."""
    root = ET.Element("testsuites", name="kmap")
    for d in docs:
        _suite(root, d)
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in root)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
