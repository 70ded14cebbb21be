"""The text of run and check as a reviewer reads it (issue 15): numbers
printed alike, counts that keep their column, witnesses as detailed as a
run, a shared counterexample printed once."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from kmap_scenarios.dsl.cli.main import main
from kmap_scenarios.dsl.formats import check_text
from kmap_scenarios.dsl.lower.load import load
from kmap_scenarios.runtime.kernel.ctext import value_text
from kmap_scenarios.runtime.search import explore as ex

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.kmap"))


def kmap(*argv: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return out.getvalue(), err.getvalue(), code


def write(tmp_path: Path, text: str, name: str = "s.kmap") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


# ------------------------------------------------------------------ numbers

def test_counts_sizes_and_errnos_are_decimal_addresses_hexadecimal() -> None:
    assert [value_text(v, 32) for v in (0, 16, -14, 4096, 0xFFFF, -0xFFFF)] == \
        ["0", "16", "-14", "4096", "65535", "-65535"]
    # arm's first user page, 0x10000, is the lowest address of the model
    assert value_text(0x10000, 32) == "0x10000"
    assert value_text(0xFFFFFF80, 32) == "0xffffff80"
    # an address kept in a signed int: the unsigned word it holds
    assert value_text(-0x80, 32) == "-128" and value_text(-0x80000000, 32) == "0x80000000"
    assert value_text(-0x10000, 64) == "0xffffffffffff0000"


ERRNO = """scenario "errno";
page P = alloc_page(GFP_HIGHUSER);
task t on cpu0 { void *a = kmap_local_page(P); int ret = -EFAULT; int len = 16; kunmap_local(a); }
expect always t.ret == -EFAULT && t.len == 16;
expect always t.a != NULL;
"""


def test_run_and_check_print_a_value_alike(tmp_path: Path) -> None:
    f = write(tmp_path, ERRNO)
    run, _, _ = kmap("run", f)
    check, _, _ = kmap("check", f)
    assert "  t: done, a=0xffffe000 ret=-14 len=16\n" in run
    assert "       1  t.a=0xffffe000; t.len=16; t.ret=-14; no reports\n" in check


def test_counts_keep_their_column_and_go_scientific_from_10_to_the_12(tmp_path: Path) -> None:
    f = write(tmp_path, "int x = 0;\ntask a on cpu0 { x = 1; }\nexpect sometimes x == 1;\n"
                        "expect sometimes x == 0;\n")
    program = load(f)
    r = ex.explore(program)
    [o] = r.outcomes
    assert check_text.outcome_rows(program, r) == (["       1  x=1; no reports"], [])
    for n, row in ((999_999_999_999, "  999999999999  x=1; no reports"),
                   (10 ** 12, "  ~1.000e+12  x=1; no reports"),
                   (12345 * 10 ** 112, "  ~1.234e+116  x=1; no reports")):
        r.outcomes[o] = n
        assert check_text.outcome_rows(program, r) == ([row], [])


def test_counts_of_several_outcomes_share_one_column(tmp_path: Path) -> None:
    f = write(tmp_path, "config { NR_CPUS = 2; }\nint x = 0;\ntask a on cpu0 { x = 1; }\n"
                        "task b on cpu1 { x = 2; }\nexpect sometimes x == 1;\n")
    program = load(f)
    r = ex.explore(program)
    first, second = sorted(r.outcomes, key=lambda o: o.text())
    r.outcomes[first], r.outcomes[second] = 12_345_678, 7
    assert check_text.outcome_rows(program, r)[0] == ["  12345678  x=1; no reports",
                                                     "         7  x=2; no reports"]


# ---------------------------------------------------------------- witnesses

def _witness_blocks(check: str) -> list[tuple[str, list[str]]]:
    """(schedule, lines below it, dedented) of every printed witness."""
    out: list[tuple[str, list[str]]] = []
    inside = False
    for line in check.splitlines():
        m = re.match(r"    (?:witness|counterexample): (.*)$", line)
        if m and not m.group(1).startswith("the same execution"):
            out.append((m.group(1), []))
            inside = True
        elif inside and line.startswith("    "):
            out[-1][1].append(line[4:])
        else:
            inside = False
    return out


def _run_sections(run: str) -> list[str]:
    """A run's trace, reports and final state, as a witness prints them."""
    lines = run.splitlines()
    body = lines[lines.index("trace:") + 1:lines.index("expectations:")]
    return [line for line in body if line and not line.startswith("the execution never ends")]


WITNESSED = [p for p in EXAMPLES
             if re.search(r"^    (witness|counterexample): ", p.with_suffix(".check.out").read_text(),
                          re.M)]


@pytest.mark.parametrize("path", WITNESSED, ids=lambda p: p.stem)
def test_a_witness_says_what_kmap_run_of_its_schedule_says(path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The trace, the reports with all their lines and the final state."""
    monkeypatch.chdir(ROOT)
    rel = str(path.relative_to(ROOT))
    blocks = _witness_blocks(kmap("check", rel)[0])
    assert blocks
    for schedule, lines in blocks:
        shown = [x for x in lines if not x.startswith("from here the execution never ends")]
        assert shown == _run_sections(kmap("run", rel, "--schedule", schedule)[0])


def test_a_deadlock_witness_ends_with_the_deadlock_lines_and_final_state(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    out = kmap("check", "examples/spin/handshake.kmap")[0]
    assert """\
         6  waiter                  26  while (ack == 0)
    from here the execution never ends: it stays among states it cannot leave
    reports: 1
      DEADLOCK: waiter:1 never returns to user space
      waiter:1 runs on in a loop no execution leaves
        in waiter on cpu0 at examples/spin/handshake.kmap:26: while (ack == 0)
    final state:
      pkmap: last_pkmap_nr 0; no slot in use
      waiter: ready, buf=0xffffff80
      responder: done
      request = 1
      ack = 0
      P: [0]=0x55
  expect never BUG || WARN: holds
""" in out


FLICKER = """scenario "flicker";
config { NR_CPUS = 2; }
int x = 0;
int stop = 0;
task p on cpu0 { while (stop == 0) { x = 1; x = 0; } }
task q on cpu1 { int seen = x; }
expect always x == 0;
expect sometimes x == 1;
expect never q.seen == 1;
"""


def test_a_counterexample_shared_by_expectations_is_printed_once(tmp_path: Path) -> None:
    out, _, code = kmap("check", write(tmp_path, FLICKER))
    assert code == 1
    assert out.count("    counterexample: p:2, q\n") == 1
    assert out.count("reports: 1\n") == 1
    assert """\
  expect sometimes x == 1: holds
    Positive: 3 Negative: 3
    witness: the same execution as the counterexample of always x == 0, above
  expect never q.seen == 1: FAILS
    Positive: 1 Negative: 2
    counterexample: the same execution as the counterexample of always x == 0, above
States""" in out
    # without traces too: the schedule is printed once
    out = kmap("check", write(tmp_path, FLICKER), "--no-trace")[0]
    assert out.count("p:2, q") == 1 and "reports:" not in out


# ----------------------------------------------------------- per-CPU columns

SMP = """scenario "smp";
config { NR_CPUS = 4; }
int x = 0;
task writer on cpu0 { x = 1; }
task reader_task on cpu2 { int seen = x; }
expect sometimes reader_task.seen == 1;
"""


def test_an_smp_trace_has_a_column_per_cpu_it_steps_on(tmp_path: Path) -> None:
    out = kmap("run", write(tmp_path, SMP), "--schedule", "reader_task, writer")[0]
    trace = out[out.index("trace:\n"):out.index("\nreports:")]
    assert trace == """\
trace:
  step  cpu0         cpu2         line  statement
     1               reader_task     5  task reader_task on cpu2 { int seen = x; }
                                        cpu2 runs reader_task
                                        reader_task returns to user space
     2  writer                       4  task writer on cpu0 { x = 1; }
                                        cpu0 runs writer
                                        writer returns to user space
"""


def test_an_smp_witness_has_the_columns_of_its_run(tmp_path: Path) -> None:
    f = write(tmp_path, SMP)
    out = kmap("check", f)[0]
    assert """\
    witness: writer, reader_task
      step  cpu0         cpu2         line  statement
         1  writer                       4  task writer on cpu0 { x = 1; }
                                            cpu0 runs writer
                                            writer returns to user space
         2               reader_task     5  task reader_task on cpu2 { int seen = x; }
""" in out


def test_a_one_cpu_trace_keeps_its_cpu_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    out = kmap("run", "examples/conversion/pagefault.kmap")[0]
    assert "trace:\n     1  cpu0  atomic_copy   12  void *a = kmap_atomic(P);\n" in out
    assert "step" not in out


# ------------------------------------------------------------------- colour

SGR = re.compile(r"\033\[[0-9;]*m")


class Tty(io.StringIO):
    """A standard output that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def kmap_on(stream: type[io.StringIO], *argv: str) -> tuple[str, str, int]:
    out, err = stream(), stream()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return out.getvalue(), err.getvalue(), code


@pytest.mark.parametrize("mode", ["run", "check"])
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_colour_adds_nothing_but_escapes(path: Path, mode: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    out, _, code = kmap(mode, str(path.relative_to(ROOT)), "--color", "always")
    assert SGR.search(out)
    assert SGR.sub("", out) + f"exit status {code}\n" == \
        path.with_suffix(f".{mode}.out").read_text()


def test_run_colours_verdicts_reports_and_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    out = kmap("run", "examples/kmap_local/irq_leaks_atomic.kmap", "--color", "always")[0]
    assert "\n                              \033[31mreport BUG: scheduling while atomic: " \
           "t/1/0x00000002\033[0m\n" in out
    assert "\n                              \033[33mreport WARN: WARNING: CPU: 0 PID: 1 at " in out
    assert """
reports: 2
  \033[31mBUG: scheduling while atomic: t/1/0x00000002\033[0m
  schedule_debug(): in_atomic_preempt_off()
""" in out
    assert """
  \033[33m------------[ cut here ]------------\033[0m
  \033[33mWARNING: CPU: 0 PID: 1 at kmap_assert_nomap (include/linux/highmem-internal.h)\033[0m
  DEBUG_LOCKS_WARN_ON(current->kmap_ctrl.idx)
""" in out
    assert "  expect never OOPS: \033[32mholds\033[0m\n" in out
    assert out.endswith("\n\033[32mresult: all 3 expectations hold\033[0m\n")


def test_check_colours_failures_red(tmp_path: Path) -> None:
    # (--no-por: the counts of the whole graph's executions, as printed here)
    out = kmap("check", write(tmp_path, FLICKER), "--color", "always", "--no-trace", "--no-por")[0]
    assert out == """\
Test flicker (%s)
Outcomes 2
       2  q.seen=0; x=0|1; \033[31mDEADLOCK: watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [p:1]\033[0m  [never ends]
       1  q.seen=1; x=0|1; \033[31mDEADLOCK: watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [p:1]\033[0m  [never ends]
Expectations
  expect always x == 0: \033[31mFAILS\033[0m
    Positive: 3 Negative: 3
    counterexample: p:2, q
    from here the execution never ends: it stays among states it cannot leave
  expect sometimes x == 1: \033[32mholds\033[0m
    Positive: 3 Negative: 3
    witness: the same execution as the counterexample of always x == 0, above
  expect never q.seen == 1: \033[31mFAILS\033[0m
    Positive: 1 Negative: 2
    counterexample: the same execution as the counterexample of always x == 0, above
States 11, transitions 14, executions 3, max depth 4
\033[1;31mResult: of 3 expectations, 2 fail\033[0m
""" % (tmp_path / "s.kmap")


def test_unproven_and_bounds_are_yellow(tmp_path: Path) -> None:
    out = kmap("check", write(tmp_path, FLICKER), "--color", "always", "--max-states", "3")[0]
    assert "  expect never q.seen == 1: \033[33munproven\033[0m (search bounded by" in out
    assert "\n\033[33mBounded by: states (always/never cannot be proven)\033[0m\n" in out


@pytest.mark.parametrize("env, argv, coloured", [
    ({}, (), True),                                   # a terminal: on
    ({"NO_COLOR": "1"}, (), False),                   # no-color.org: any value
    ({"NO_COLOR": "anything"}, (), False),
    ({"NO_COLOR": ""}, (), True),                     # ... but the empty string
    ({"TERM": "dumb"}, (), False),
    ({}, ("--color", "never"), False),
    ({"NO_COLOR": "1"}, ("--color", "always"), True),  # the option overrides NO_COLOR
])
def test_colour_on_a_terminal_unless_told_not_to(env: dict[str, str], argv: tuple[str, ...],
                                                  coloured: bool,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for mode in ("run", "check"):
        out = kmap_on(Tty, mode, "examples/pkmap/first_slot.kmap", *argv)[0]
        assert bool(SGR.search(out)) is coloured, (mode, out)


def test_no_colour_into_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("NO_COLOR", raising=False)
    for mode in ("run", "check", "lint"):
        out, err, _ = kmap(mode, "examples/pkmap/first_slot.kmap")
        assert "\033" not in out + err


def test_json_and_sarif_are_never_coloured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for mode in ("run", "check"):
        for fmt in ("json", "sarif"):
            plain = kmap(mode, "examples/dma/slot_reuse.kmap", "--format", fmt)[0]
            assert kmap_on(Tty, mode, "examples/dma/slot_reuse.kmap", "--format", fmt,
                           "--color", "always")[0] == plain
            assert "\033" not in plain


def test_lint_colours_ok_and_the_diagnostics(tmp_path: Path) -> None:
    good = write(tmp_path, "task t on cpu0 { }\n", "good.kmap")
    bad = write(tmp_path, "page P = alloc_page(GFP_KERNEL);\ntask t on cpu0 {\n"
                          "    void *p = kmap_local(P);\n}\n", "bad.kmap")
    out, err, code = kmap("lint", good, bad, "--color", "always")
    assert code == 65
    assert out == f"{good}: \033[32mok\033[0m\n"
    assert err == f"""\
{bad}:3:15: \033[1;31merror[E202]\033[0m: unknown function `kmap_local`
  |
3 |     void *p = kmap_local(P);
  |               \033[1;31m^^^^^^^^^^\033[0m
  = \033[36mhelp\033[0m: did you mean `kmap_local_page`?

1 error in {bad}
"""
    plain = kmap("lint", good, bad)
    assert (SGR.sub("", out), SGR.sub("", err)) == plain[:2]


def test_kmap_test_colours_its_status_words_and_diff(tmp_path: Path) -> None:
    f = write(tmp_path, "int x = 0;\ntask a on cpu0 { x = 1; }\nexpect sometimes x == 1;\n\n"
                        "// Result: check\n// Result: Outcomes 1\n"
                        "// Result:        2  x=1; no reports\n")
    write(tmp_path, "task t on cpu0 { }\n", "z.kmap")
    out, _, code = kmap("test", str(tmp_path), "--jobs", "1", "--color", "always")
    assert code == 1
    assert out.startswith("\033[31mFAIL\033[0m    s.kmap\n    --- recorded\n    +++ now\n"
                          "    \033[36m@@ -1,2 +1,5 @@\033[0m\n     Outcomes 1\n")
    assert "\n    \033[31m-       2  x=1; no reports\033[0m\n" in out
    assert "\n    \033[32m+       1  x=1; no reports\033[0m\n" in out
    assert "\n\033[31mMISSING\033[0m z.kmap\n" in out
    assert out.endswith("\n\033[1;31m0 passed, 2 failed (1 without a record)\033[0m\n")
    assert SGR.sub("", out) == kmap("test", str(tmp_path), "--jobs", "1")[0]


def test_colour_in_a_real_terminal(tmp_path: Path) -> None:
    """The installed command, its standard output a pseudo-terminal."""
    pty = pytest.importorskip("pty")
    import os
    import subprocess
    import sys
    f = write(tmp_path, FLICKER)

    def on_a_terminal(env: dict[str, str]) -> str:
        leader, follower = pty.openpty()
        try:
            subprocess.run([sys.executable, "-m", "kmap_scenarios", "check", f, "--no-trace"],
                           stdout=follower, stderr=subprocess.DEVNULL, env=env, timeout=120,
                           check=False)
            os.close(follower)
            chunks = []
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:   # EIO: the terminal's other side is closed
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks).decode()
        finally:
            os.close(leader)

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm"
    assert "\033[31mFAILS\033[0m" in on_a_terminal(env)
    assert "\033" not in on_a_terminal({**env, "NO_COLOR": "1"})


def test_a_failed_sometimes_names_no_missing_witness(tmp_path: Path) -> None:
    """A `sometimes` that no execution satisfies fails with nothing to
    show: it has no witness, and none was cut short (the text said
    "counterexample: not found (its search was cut by )" with no limit)."""
    src = tmp_path / "s.kmap"
    src.write_text("task t on cpu0 { preempt_disable(); preempt_enable(); }\n"
                   "expect sometimes DEADLOCK;\n")
    out, err, code = kmap("check", str(src))
    assert code == 1 and "  expect sometimes DEADLOCK: FAILS\n    Positive: 0 Negative: 1\n" in out
    assert "not found" not in out
