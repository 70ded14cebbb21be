"""The kmap command: exit statuses, messages, no tracebacks."""

from __future__ import annotations

import contextlib
import re
import io
import subprocess
import sys
from pathlib import Path

import pytest

from kmap_scenarios.dsl.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
FIRST = str(ROOT / "examples" / "pkmap" / "first_slot.kmap")


def kmap(*argv: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return out.getvalue(), err.getvalue(), code


def write(tmp_path: Path, text: str | bytes, name: str = "s.kmap") -> str:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(p)


def test_exit_0_when_expectations_hold():
    assert kmap("run", FIRST)[2] == 0
    assert kmap("check", FIRST)[2] == 0


def test_exit_1_when_an_expectation_fails(tmp_path: Path):
    f = write(tmp_path, "page P = alloc_page(GFP_KERNEL); task t on cpu0 { } expect always P[0] == 1;")
    out, _, code = kmap("run", f)
    assert code == 1 and "FAILS" in out
    assert kmap("check", f)[2] == 1


def test_no_expect_line_means_no_reports(tmp_path: Path):
    f = write(tmp_path, "page P = alloc_page(GFP_HIGHUSER); task t on cpu0 { kunmap(P); }")
    out, _, code = kmap("run", f)
    assert code == 1 and "expect no reports (no expect line): FAILS" in out


@pytest.mark.parametrize("argv", [(), ("run",), ("frobnicate", "x"), ("run", "--random", "x", "f"),
                                  ("check", "f", "--max-states", "-1")])
def test_exit_2_on_usage_errors(argv: tuple[str, ...], tmp_path: Path):
    if argv and argv[-1] == "f":
        argv = argv[:-1] + (FIRST,) if argv[0] == "check" else argv
    _, err, code = kmap(*argv)
    assert code == 2


def test_missing_file_and_directory_are_usage_errors(tmp_path: Path):
    _, err, code = kmap("run", str(tmp_path / "nope.kmap"))
    assert code == 2 and err == f"kmap: {tmp_path / 'nope.kmap'}: No such file or directory\n"
    _, err, code = kmap("run", str(tmp_path))
    assert code == 2 and err == f"kmap: {tmp_path}: Is a directory\n"


@pytest.mark.parametrize("text", [
    b"", b"\x00\x01\xfe\xff garbage", b"task t on cpu0 { x = ; }",
    b"task t on cpu0 { kmap_lcoal_page(P); }", b"config { CONFIG_HIGHMEN = y; } task t { }",
    b"config { ARCH = x86_64; CONFIG_HIGHMEM = y; } task t { }",
    b"task t on cpu0 { int x = " + b"(" * 3000 + b"1" + b")" * 3000 + b"; }",
])
def test_exit_65_on_invalid_input_with_location(text: bytes, tmp_path: Path):
    f = write(tmp_path, text)
    out, err, code = kmap("run", f)
    assert code == 65
    assert "Traceback" not in err and err.startswith(f)


def test_bad_schedule_option_and_infeasible_schedule(tmp_path: Path):
    src = """config { ARCH = x86; PAGE_SIZE = 64; }
page P = alloc_page(GFP_HIGHUSER);
task a on cpu0 { preempt_disable(); int x = 1; preempt_enable(); }
task b on cpu0 { int y = 2; }
"""
    f = write(tmp_path, src)
    _, err, code = kmap("run", f, "--schedule", "nobody:2")
    assert code == 2 and "no task or irq named `nobody`" in err
    _, err, code = kmap("run", f, "--schedule", "a:1, b")
    assert code == 2 and "preempt_count is 1" in err
    _, err, code = kmap("run", f, "--schedule", "a:" + "0" * 30 + "3, b")   # as a file may write it
    assert code == 0, err
    g = write(tmp_path, src + "schedule a:1, b;\n", "g.kmap")
    _, err, code = kmap("run", g)
    # the caret is under the item that cannot be followed, the hint fits the reason
    assert code == 65 and "E503" in err and "g.kmap:5:15" in err
    assert "5 | schedule a:1, b;\n  |               ^\n" in err
    assert "can be preempted" in err
    h = write(tmp_path, src + "schedule b:5;\n", "h.kmap")
    _, err, code = kmap("run", h)
    assert code == 65 and "h.kmap:5:10" in err and "^^^" in err
    assert "has already finished after 1 step" in err and "preempted" not in err
    assert "without `:N`" in err
    # over two lines, or with a comment, the caret falls back to the line
    i = write(tmp_path, src + "schedule b,\n  b:5;\n", "i.kmap")
    _, err, code = kmap("run", i)
    assert code == 65 and "i.kmap:5:1" in err and "^^^^^^^^^^^" in err
    j = write(tmp_path, src + "schedule b, /* a, b */ b:5;\n", "j.kmap")
    _, err, code = kmap("run", j)
    assert code == 65 and "j.kmap:5:1" in err


def test_the_files_schedule_is_shown_without_its_comments(tmp_path: Path):
    f = write(tmp_path, "task a on cpu0 { int x = 1; }\ntask b on cpu0 { int y = 2; }\n"
              "schedule a, /* then */ b;   // both\n")
    out, _, code = kmap("run", f, "--no-trace")
    assert code == 0 and "schedule: a, b (the file's schedule)\n" in out, out


@pytest.mark.parametrize("items, message", [
    ("a:", "`a:`: a step count is expected after `:`"),
    ("a: , b", "`a:`: a step count is expected after `:`"),
    ("a@", "`a@`: expected @cpuN"),
    ("a@:2", "`a@:2`: expected @cpuN"),
    ("a:x", "`a:x`: the step count must be a positive integer"),
    ("a:" + "9" * 5000, "the step count must be a positive integer of at most 18 digits"),
    ("a:\uff12", "the step count must be a positive integer"),   # a full-width 2
    ("a@cpu\u00b2", "expected @cpuN"),                            # a superscript 2
    (":3", "`:3`: a task or irq name is expected before `:`"),
])
def test_bad_schedule_items_are_named(items: str, message: str, tmp_path: Path):
    f = write(tmp_path, "task a on cpu0 { int x = 1; int y = 2; }\ntask b on cpu0 { int z = 3; }\n")
    _, err, code = kmap("run", f, "--schedule", items)
    assert code == 2 and message in err, err


@pytest.mark.parametrize("args, message", [
    (["--jobs", "5000"], "--jobs must be at most 256"),
    (["--seed", "3"], "--seed only applies to --random"),
    (["--random", "10", "--max-states", "3"], "--random runs whole random executions: "
     "--max-states does not apply to it"),
    (["--random", "10", "--jobs", "2"], "--jobs does not apply to it"),
    (["--random", "10", "--no-reduce"], "--no-reduce does not apply to it"),
])
def test_check_options_that_cannot_work_are_usage_errors(args: list[str], message: str):
    _, err, code = kmap("check", FIRST, *args)
    assert code == 2 and message in err, err


def test_check_says_why_an_expectation_that_cannot_be_evaluated_fails(tmp_path: Path):
    """As under kmap run, whatever the quantifier (docs/language.md 10)."""
    f = write(tmp_path, "int z = 0;\ntask t on cpu0 { int a = 1; }\n"
              "expect never t.a % z == 1;\nexpect always t.a == 1;\n")
    out, _, code = kmap("check", f, "--no-trace")
    assert code == 1
    assert "expect never t.a % z == 1: FAILS (cannot evaluate: division by zero)" in out
    assert "expect always t.a == 1: holds" in out


@pytest.mark.parametrize("value", ["-5", "0"])
def test_run_max_steps_must_be_positive(value: str):
    _, err, code = kmap("run", FIRST, "--max-steps", value)
    assert code == 2 and "--max-steps must be at least 1" in err, err


def test_a_device_is_not_read_as_a_scenario():
    _, err, code = kmap("lint", "/dev/zero")
    assert code == 2 and "/dev/zero: not a regular file (a device)" in err, err
    _, err, code = kmap("run", "")
    assert code == 2 and "no file given (the path is empty)" in err, err


@pytest.mark.parametrize("value", ["-1", "0", "nan"])
def test_timeout_must_be_positive(value: str):
    _, err, code = kmap("check", FIRST, "--timeout", value)
    assert code == 2 and "--timeout must be a positive number of seconds" in err


def test_unknown_option_suggests_the_closest():
    _, err, code = kmap("check", "--max-stats", "10", FIRST)
    assert code == 2 and "unrecognized arguments: --max-stats" in err
    assert "did you mean `--max-states`?" in err
    _, err, code = kmap("run", FIRST, "--shedule", "t")
    assert code == 2 and "did you mean `--schedule`?" in err
    _, err, code = kmap("check", FIRST, "--bogus")   # close to --jobs only by the dashes
    assert code == 2 and "did you mean" not in err


def test_internal_error_exit_70_prints_replay(monkeypatch: pytest.MonkeyPatch):
    import kmap_scenarios.runtime.kernel.machine as m
    real = m.step
    calls = {"n": 0}

    def broken(program, state, action, trace=False):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("boom")
        return real(program, state, action, trace)

    monkeypatch.setattr("kmap_scenarios.runtime.search.schedule.step", broken)
    _, err, code = kmap("run", FIRST)
    assert code == 70
    assert "internal error" in err
    assert f'kmap run {FIRST} --schedule "t:2"' in err    # the two steps before the crash


def test_python_dash_m_dsl_and_no_traceback_in_a_real_process(tmp_path: Path):
    f = write(tmp_path, b"\xff\xfe task")
    r = subprocess.run([sys.executable, "-m", "kmap_scenarios", "run", f], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 65 and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "kmap_scenarios", "run", FIRST], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "result: all 4 expectations hold" in r.stdout


PERCPU = str(ROOT / "examples" / "conversion" / "percpu.kmap")
SLOT = str(ROOT / "examples" / "dma" / "slot_reuse.kmap")


def test_check_random_is_seeded_and_never_proves_always():
    a = kmap("check", SLOT, "--random", "30", "--seed", "7", "--no-trace")
    b = kmap("check", SLOT, "--random", "30", "--seed", "7", "--no-trace")
    assert a == b
    out, _, code = a
    assert "expect never BUG: unproven (search bounded by 30 random executions)" in out
    assert code == 3 and "Result: of 2 expectations, 1 unproven" in out
    one, _, _ = kmap("check", SLOT, "--random", "1", "--no-trace")
    assert "(search bounded by 1 random execution)" in one


def test_check_help_says_what_each_bound_cuts():
    out, _, code = kmap("check", "--help")
    assert code == 0
    flat = " ".join(out.split())
    assert "stop expanding a state first reached N steps from the start" in flat
    assert "--preemption-bound K" in flat and "at most K preemptions" in flat


def test_check_random_prints_replayable_witnesses():
    out, _, code = kmap("check", PERCPU, "--random", "40", "--seed", "1", "--no-trace")
    line = next(x for x in out.splitlines() if "witness:" in x)
    schedule = line.split("witness: ")[1]
    out2, _, code2 = kmap("run", PERCPU, "--schedule", schedule, "--no-trace")
    assert "percpu hits = {cpu0: 1}" in out2


def test_check_json_is_versioned_and_complete():
    import json
    out, _, code = kmap("check", SLOT, "--format", "json")
    doc = json.loads(out)
    assert doc["format_version"] == 2 and code == 0
    assert {e["verdict"] for e in doc["expectations"]} == {"holds"}
    assert doc["statistics"]["states"] == 311
    assert any("DATA_LOSS" in r for o in doc["outcomes"] for r in o["reports"])
    assert all(o["witness"] for o in doc["outcomes"])


def test_a_schedule_that_panics_the_kernel_stops_there(tmp_path: Path):
    f = write(tmp_path, """config { ARCH = x86; PAGE_SIZE = 64; }
page P = alloc_page(GFP_HIGHUSER);
task t on cpu0 { int a = 1; int b = 2; int c = 3; }
irq h on cpu0 { BUG_ON(1); }
schedule t:1, h, t;
""")
    out, err, code = kmap("run", f)
    assert err == "" and "Kernel panic - not syncing: Fatal exception in interrupt" in out


def test_no_memo_gives_the_same_report_and_stats_show_the_memo(tmp_path: Path):
    """--no-memo runs every step through the handlers: the same text; --stats
    says how many steps the memo answered (none without it)."""
    slot = str(ROOT / "examples" / "dma" / "slot_reuse.kmap")
    memo, _, code = kmap("check", slot)
    plain, _, code2 = kmap("check", slot, "--no-memo")
    assert memo == plain and code == code2 == 0
    stats, _, _ = kmap("check", slot, "--stats", "--no-trace")
    assert re.search(r"states/s, \d+% of 475 steps memoized\n", stats)
    stats, _, _ = kmap("check", slot, "--stats", "--no-trace", "--no-memo")
    assert "memoized" not in stats


def test_jobs_print_the_same_report_text_and_json() -> None:
    """`kmap check --jobs 2` spreads the search over two workers: the report
    (outcomes, counts, verdicts, witnesses and their traces, statistics) is
    the one a single process prints, as text and as JSON."""
    slot = str(ROOT / "examples" / "dma" / "slot_reuse.kmap")
    for extra in ((), ("--format", "json")):
        one, err1, code1 = kmap("check", slot, *extra)
        two, err2, code2 = kmap("check", slot, "--jobs", "2", *extra)
        assert (one, err1, code1) == (two, err2, code2)
    assert "max depth 12" in one or '"max_depth": 12' in one


def test_ctrl_c_prints_what_was_explored(tmp_path: Path):
    """kmap check on a search that never ends: the first Ctrl-C reports
    the search so far, bounded, with always unproven (exit 1)."""
    import os
    import signal
    import threading
    f = write(tmp_path, "int n = 0;\ntask t on cpu0 { while (1) { n = n + 1; } }\n"
                        "expect always n >= 0;\n")
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        out, err, code = kmap("check", f, "--no-trace")
    finally:
        timer.cancel()
    assert code == 3 and "kmap: interrupted: reporting what was explored" in err
    assert "expect always n >= 0: unproven (search bounded by interrupt)" in out
    assert "Bounded by: interrupt (always/never cannot be proven)" in out


def test_an_address_in_an_int_prints_as_the_same_word_in_run_and_check(tmp_path: Path):
    """A 32-bit int holding a direct-map address (0xc0...) is negative as
    a signed word; both commands print it as the unsigned 32-bit address."""
    f = write(tmp_path, "config { ARCH = x86; PAGE_SIZE = 64; }\npage L = alloc_page(GFP_KERNEL);\n"
                        "task t on cpu0 { int a = page_address(L); }\nexpect always t.a != 0;\n")
    out, _, code = kmap("run", f, "--no-trace")
    assert code == 0 and re.search(r"\ba=0xc0[0-9a-f]{6}\b", out), out
    out, _, code = kmap("check", f)
    assert code == 0 and re.search(r"\bt\.a=0xc0[0-9a-f]{6};", out), out


def test_lsp_without_pygls_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # as if the `lsp` extra were not installed (tests/test_lsp.py drives the server)
    monkeypatch.delitem(sys.modules, "kmap_scenarios.dsl.lsp.server", raising=False)
    for name in ("pygls", "pygls.lsp", "pygls.lsp.server", "pygls.workspace"):
        monkeypatch.setitem(sys.modules, name, None)
    assert main(["lsp"]) == 2
    assert capsys.readouterr().err == \
        "kmap: the language server needs pygls: pip install 'kmap-scenarios[lsp]'\n"


def test_kmod_iterations_default_is_the_generators() -> None:
    # kmap test's and kmap kmod's options are defined apart from their code
    # (dsl/cli/arguments.py), so that parsing the command line imports neither
    from kmap_scenarios.dsl.cli.arguments import KMOD_ITERATIONS
    from kmap_scenarios.dsl.kmod.generate import DEFAULT_ITERATIONS
    assert KMOD_ITERATIONS == DEFAULT_ITERATIONS


def test_check_imports_no_other_command() -> None:
    # `kmap check` loads what it needs, not the kernel-module generator,
    # `kmap test`'s runner, the REPL or the SARIF and JUnit writers
    example = Path(__file__).resolve().parent.parent / "examples" / "pkmap" / "first_slot.kmap"
    code = ("import sys; from kmap_scenarios.dsl.cli.main import main; "
            f"main(['check', {str(example)!r}]); print(sorted(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()[-1]
    loaded = set(eval(out))
    for name in ("kmap_scenarios.dsl.kmod.generate", "kmap_scenarios.dsl.cli.kmaptest",
                 "kmap_scenarios.dsl.repl", "kmap_scenarios.dsl.formats.sarif",
                 "kmap_scenarios.dsl.formats.junit", "importlib.metadata"):
        assert name not in loaded, name
    assert "kmap_scenarios.runtime.search.explore" in loaded
