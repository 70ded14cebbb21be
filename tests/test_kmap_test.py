"""`kmap test`: the // Result: block (dsl/cli/record.py), the runner, and
`run`/`check`/`lint` over several files."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import pytest

from kmap_scenarios.dsl.cli import record
from kmap_scenarios.dsl.cli.main import main

ROOT = Path(__file__).resolve().parent.parent

SCENARIO = """\
// two tasks race on a counter
scenario "race";
config { NR_CPUS = 2; }
int x = 0;
task a on cpu0 { int r = x; x = r + 1; }
task b on cpu1 { int r = x; x = r + 1; }
expect sometimes x == 1;
"""

RECORD = """\
// Result: check
// Result: Outcomes 2
// Result:        1  x=1; no reports
// Result:        2  x=2; no reports
// Result: expect sometimes x == 1: holds
// Result:   Positive: 1 Negative: 2
// Result: the expectation holds
"""


def kmap(*argv: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return out.getvalue(), err.getvalue(), code


# ------------------------------------------------------------ the block
def test_read_finds_the_block_at_the_end_only() -> None:
    text = "// Result: not this one\nint x;\n" + RECORD + "\n\n"
    rec = record.read(text)
    assert rec.present and rec.mode == "check" and rec.lines[0] == "Outcomes 2"
    assert rec.lines[-1] == "the expectation holds"
    assert not record.read("int x;\n// Result: check\nint y;\n").present


def test_write_appends_then_replaces_and_keeps_every_other_byte() -> None:
    text = "int x;   \n// a comment\n"
    once = record.write(text, "run", ["reports: none"])
    assert once == text + "\n// Result: run\n// Result: reports: none\n"
    twice = record.write(once + "\n", "run", ["a", "b"])
    assert twice == text + "\n// Result: run\n// Result: a\n// Result: b\n\n"
    assert record.write("int x;", "check", ["r"]) == "int x;\n\n// Result: check\n// Result: r\n"
    crlf = record.write("int x;\r\n", "check", ["r"])
    assert crlf == "int x;\r\n\r\n// Result: check\r\n// Result: r\r\n"


def test_a_block_without_a_mode_line_is_checked() -> None:
    rec = record.read("int x;\n// Result: Outcomes 1\n")
    assert rec.mode == "check" and rec.lines == ("Outcomes 1",)


# ------------------------------------------------------------ the command
def test_update_records_and_then_the_file_passes(tmp_path: Path) -> None:
    f = tmp_path / "race.kmap"
    f.write_text(SCENARIO)
    out, _, code = kmap("test", str(tmp_path), "-j", "1")
    assert (out, code) == ("MISSING race.kmap\n    no // Result: block at the end of the file: "
                           "kmap test --update records one\n0 passed, 1 failed (1 without a record)\n", 1)
    out, _, code = kmap("test", "--update", str(f), "-j", "1")
    assert (out, code) == ("updated race.kmap\n1 passed, 0 failed (1 updated)\n", 0)
    assert f.read_text() == SCENARIO + "\n" + RECORD
    assert kmap("test", str(f)) == ("ok      race.kmap\n1 passed, 0 failed\n", "", 0)


def test_a_difference_fails_with_a_diff(tmp_path: Path) -> None:
    f = tmp_path / "race.kmap"
    f.write_text(SCENARIO + "\n" + RECORD.replace("1  x=1", "3  x=1"))
    out, _, code = kmap("test", str(f))
    assert code == 1
    assert out.splitlines()[0] == "FAIL    race.kmap"
    assert "    -       3  x=1; no reports" in out and "    +       1  x=1; no reports" in out
    kmap("test", "--update", str(f))
    assert f.read_text() == SCENARIO + "\n" + RECORD


def test_run_mode(tmp_path: Path) -> None:
    f = tmp_path / "r.kmap"
    f.write_text(SCENARIO + "schedule a, b;\n\n// Result: run\n")
    assert kmap("test", "--update", str(f))[2] == 0
    assert f.read_text().endswith("// Result: run\n// Result: reports: none\n"
                                  "// Result: expect sometimes x == 1: FAILS\n"
                                  "// Result: of 1 expectation, 1 fails\n")
    assert kmap("test", str(f))[0] == "ok      r.kmap (run)\n1 passed, 0 failed\n"


def test_invalid_input_and_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "bad.kmap").write_text("task t { x = 1; }\n")
    out, _, code = kmap("test", str(tmp_path))
    assert code == 65
    assert out.startswith("INVALID bad.kmap\n    bad.kmap:1:10: error[E2")
    out, err, code = kmap("test", str(tmp_path / "nope"))
    assert code == 2 and "nope: no such file or directory" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert kmap("test", str(empty))[2] == 2


def test_output_depends_neither_on_the_directory_nor_the_path_typed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A WARN's headline names its file: loaded under its base name, the
    record is the same wherever the file is."""
    shutil.copytree(ROOT / "examples", tmp_path / "ex")
    outs = set()
    for cwd, arg in ((tmp_path, "ex"), (tmp_path, "./ex/"), (tmp_path / "ex", "."),
                     (ROOT, str(tmp_path / "ex"))):
        monkeypatch.chdir(cwd)
        out, err, code = kmap("test", arg, "-j", "1")
        assert code == 0, out
        outs.add(out)
    assert len(outs) == 1
    assert "ok      pkmap/first_slot.kmap\n" in outs.pop()


def test_in_parallel_the_same_output(tmp_path: Path) -> None:
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core")
    one = kmap("test", str(ROOT / "examples"), "-j", "1")
    two = kmap("test", str(ROOT / "examples"), "-j", "2")
    assert one == two and one[2] == 0


# ------------------------------------------------------------ several files
def test_check_several_files_heads_each_and_exits_with_the_worst(tmp_path: Path) -> None:
    f = tmp_path / "fails.kmap"
    f.write_text("int x = 0;\ntask t { x = 1; }\nexpect always x == 0;\n")
    first = str(ROOT / "examples/pkmap/first_slot.kmap")
    alone = kmap("check", first, "--no-trace")[0]
    out, _, code = kmap("check", first, str(f), "--no-trace")
    assert code == 1
    assert out.startswith(f"==> {first} <==\n{alone}\n==> {f} <==\nTest fails (")
    out, err, code = kmap("run", str(tmp_path / "nope.kmap"), first, "--no-trace")
    assert code == 2 and "No such file or directory" in err and "==> " in out
    out, err, code = kmap("lint", first, str(f))
    assert (out, code) == (f"{first}: ok\n{f}: ok\n", 0)
