"""`--format json` of run, check, lint and test against the published JSON
Schema (package data), on every example; `--format sarif` against the
official SARIF 2.1.0 schema (vendored in tests/schemas from npm's
@microsoft/jest-sarif, MIT); `--junit-xml` parsed back."""

from __future__ import annotations

import contextlib
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

jsonschema = pytest.importorskip("jsonschema")

from kmap_scenarios.dsl.cli.main import main  # noqa: E402
from kmap_scenarios.dsl.formats.machine import schema  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.kmap"))
SARIF = json.loads((ROOT / "tests" / "schemas" / "sarif-2.1.0-rtm.5.json").read_text())


def kmap(*argv: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return out.getvalue(), err.getvalue(), code


def valid(doc: Any) -> None:
    jsonschema.Draft202012Validator(schema()).validate(doc)


def test_the_schema_is_a_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_validates(path: Path) -> None:
    for command in ("run", "check"):
        out, err, code = kmap(command, str(path), "--format", "json")
        assert err == "" and code == 0
        doc = json.loads(out)
        valid(doc)
        assert doc["command"] == command and doc["format_version"] == 2
        sarif = json.loads(kmap(command, str(path), "--format", "sarif")[0])
        jsonschema.Draft4Validator(SARIF).validate(sarif)


def test_values_are_numbers_and_reports_have_places() -> None:
    doc = json.loads(kmap("run", str(ROOT / "examples/pkmap/first_slot.kmap"), "--format", "json")[0])
    assert doc["values"]["t.v"] == 0xff800040 and doc["values"]["P[0]"] == 0x2a
    chk = json.loads(kmap("check", str(ROOT / "examples/dma/slot_reuse.kmap"), "--format", "json")[0])
    (detail,) = chk["outcomes"][0]["report_details"]
    assert (detail["kind"], detail["line"], detail["function"], detail["context"], detail["cpu"]) == \
        ("DATA_LOSS", 24, "dma", "dma", 0)
    assert chk["expectations"][0]["line"] == 38
    pct = json.loads(kmap("check", str(ROOT / "examples/conversion/percpu.kmap"), "--format", "json")[0])
    assert [o["value_numbers"] for o in pct["outcomes"]] == \
        [{"per_cpu(hits, 0)": 1}, {"per_cpu(hits, 0)": 2}]


def test_several_files_give_an_array_and_the_worst_status(tmp_path: Path) -> None:
    bad = tmp_path / "bad.kmap"
    bad.write_text("task t { x = ; }\n")
    files = [str(EXAMPLES[0]), str(EXAMPLES[1])]
    out, err, code = kmap("check", *files, "--format", "json")
    docs = json.loads(out)
    valid(docs)
    assert [d["path"] for d in docs] == files and code == 0
    out, err, code = kmap("run", *files, str(bad), "--format", "json")
    assert code == 65 and "error[" in err and len(json.loads(out)) == 2


def test_lint_json_and_sarif(tmp_path: Path) -> None:
    bad = tmp_path / "bad.kmap"
    bad.write_text("task t {\n    int x = 1\n}\n")
    out, _, code = kmap("lint", str(EXAMPLES[0]), str(bad), "--format", "json")
    doc = json.loads(out)
    valid(doc)
    assert code == 65 and doc["exit_status"] == 65
    assert doc["files"][0]["ok"] and not doc["files"][1]["ok"]
    d = doc["files"][1]["diagnostics"][0]
    assert d["code"].startswith("E") and d["line"] == 2 and isinstance(d["column"], int)
    sarif = json.loads(kmap("lint", str(bad), "--format", "sarif")[0])
    jsonschema.Draft4Validator(SARIF).validate(sarif)
    (r,) = sarif["runs"][0]["results"]
    assert r["ruleId"] == d["code"] and r["level"] == "error"
    assert r["locations"][0]["physicalLocation"]["region"]["startLine"] == 2


FAILING = """\
scenario "fails";
int x = 0;
task t { x = 1; }
expect always x == 0;
"""


def test_a_failing_expectation_in_sarif_and_junit(tmp_path: Path) -> None:
    f = tmp_path / "f.kmap"
    f.write_text(FAILING)
    junit = tmp_path / "out.xml"
    out, _, code = kmap("check", str(f), "--format", "sarif", "--junit-xml", str(junit))
    assert code == 1
    sarif = json.loads(out)
    jsonschema.Draft4Validator(SARIF).validate(sarif)
    (r,) = sarif["runs"][0]["results"]
    assert (r["ruleId"], r["level"]) == ("expectation-fails", "error")
    assert r["locations"][0]["physicalLocation"]["region"]["startLine"] == 4
    suites = ET.parse(junit).getroot()
    assert (suites.get("tests"), suites.get("failures")) == ("1", "1")
    case = suites.find("testsuite/testcase")
    assert case is not None and case.get("name") == "expect always x == 0"
    failure = case.find("failure")
    assert failure is not None and failure.text == "counterexample: t"


def test_kmap_test_json_sarif_junit(tmp_path: Path) -> None:
    (tmp_path / "f.kmap").write_text(FAILING)
    junit = tmp_path / "t.xml"
    out, _, code = kmap("test", str(tmp_path), "--format", "json", "--jobs", "1",
                        "--junit-xml", str(junit))
    doc = json.loads(out)
    valid(doc)
    assert code == 1 and doc["files"][0]["status"] == "missing" and doc["files"][0]["file"] == "f.kmap"
    assert doc["summary"] == {"files": 1, "passed": 0, "failed": 1, "missing": 1, "invalid": 0,
                              "updated": 0}
    sarif = json.loads(kmap("test", str(tmp_path), "--format", "sarif", "-j", "1")[0])
    jsonschema.Draft4Validator(SARIF).validate(sarif)
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["result-missing"]
    assert ET.parse(junit).getroot().get("failures") == "1"


def test_kmap_test_over_the_examples_validates() -> None:
    out, err, code = kmap("test", str(ROOT / "examples"), "--format", "json", "-j", "1")
    doc = json.loads(out)
    valid(doc)
    assert code == 0 and {f["status"] for f in doc["files"]} == {"ok"}
    assert len(doc["files"]) == len(EXAMPLES)


def test_junit_xml_into_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    """Refused before anything runs, as the pictures' FILEs are (it was an
    internal error with a traceback after the search)."""
    f = tmp_path / "a.kmap"
    f.write_text("task t on cpu0 { int x = 1; }\n")
    target = tmp_path / "no" / "out.xml"
    for command in ("check", "run", "lint"):
        out, err, code = kmap(command, str(f), "--junit-xml", str(target))
        assert (code, out) == (2, ""), err
        assert f"--junit-xml {target}: no such directory: {target.parent}" in err
        assert "Traceback" not in err
    out, err, code = kmap("test", str(tmp_path), "--junit-xml", str(target))
    assert code == 2 and "no such directory" in err and "Traceback" not in err
