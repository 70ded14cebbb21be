"""`kmap repl`: the Session command interpreter, and both front ends.

The scenario is written here: two tasks on one CPU without preemption
(x86's default), so that who may run when is easy to predict.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from kmap_scenarios.dsl.syntax import names
from kmap_scenarios.dsl.repl import execute as repl_exec
from kmap_scenarios.dsl.repl.shell import interactive, run_lines
from kmap_scenarios.dsl.repl.commands import Command, Item, Unknown, classify
from kmap_scenarios.dsl.repl.session import Session
from kmap_scenarios.dsl.repl.source import Kind
from kmap_scenarios.runtime.kernel.state import Status

ROOT = Path(__file__).resolve().parent.parent

SMALL = """\
scenario "small";

config {
    ARCH = x86;
    CONFIG_HIGHMEM = y;
    LAST_PKMAP = 2;
    PAGE_SIZE = 64;
}

page P = alloc_page(GFP_HIGHUSER);
page Q = alloc_page(GFP_HIGHUSER);

task a on cpu0 {
    void *p = kmap(P);
    p[0] = 1;
    kunmap(P);
}

task b on cpu0 {
    void *q = kmap_local_page(Q);
    q[1] = 2;
    kunmap_local(q);
}

expect always P[0] == 1;
"""


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.kmap"
    path.write_text(SMALL)
    return path


@pytest.fixture
def session(small: Path) -> Session:
    return Session(str(small))


def ok(session: Session, line: str) -> str:
    reply = session.handle(line)
    assert reply.ok, reply.text
    return reply.text


def kmap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kmap_scenarios", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


# ------------------------------------------------------------------ stepping


def test_step_prints_the_trace_line_of_the_default_choice(session: Session) -> None:
    text = ok(session, "step")
    assert text.splitlines()[0].split() == ["1", "cpu0", "a", "14", "void", "*p", "=", "kmap(P);"]
    assert "kmap_high: pkmap_count[1] 1 -> 2" in text
    assert session.actions == [(0, 0)]


def test_undo_restores_exactly_the_previous_state_object(session: Session) -> None:
    before = session.state
    ok(session, "step")
    after = session.state
    ok(session, "step")
    ok(session, "undo")
    assert session.state is after
    ok(session, "undo")
    assert session.state is before
    assert not session.handle("undo").ok  # nothing left to undo


def test_step_counts_are_plain_decimal_numbers(session: Session) -> None:
    """A count of thousands of digits, or a superscript, is an error, not a crash."""
    for count in ("9" * 5000, "\u00b2", "0"):
        reply = session.handle(f"step a {count}")
        assert not reply.ok and "N must be a positive integer of at most 18 digits" in reply.text
    assert session.actions == []


def test_step_a_named_context_explains_why_it_cannot(session: Session) -> None:
    ok(session, "step")
    reply = session.handle("step b")
    assert not reply.ok
    assert reply.text == ("b cannot step: cpu0 runs a, which cannot be preempted now "
                          "(CONFIG_PREEMPTION=n and it is not at a preemption point)")
    assert len(session.actions) == 1


def test_run_follows_a_schedule_then_finishes(session: Session) -> None:
    text = ok(session, "run a:2")
    assert "every task and irq has finished" in text
    assert [session.program.contexts[c].name for c, _ in session.actions] == ["a"] * 3 + ["b"] * 3
    assert "expect always P[0] == 1: holds" in ok(session, "expect")


def test_run_with_an_impossible_schedule_runs_nothing(session: Session) -> None:
    ok(session, "step")
    frames = list(session.frames)
    reply = session.handle("run b")
    assert not reply.ok and "cannot be followed" in reply.text
    assert session.frames == frames


def test_enabled_lists_actions_with_their_lines(session: Session) -> None:
    lines = ok(session, "enabled").splitlines()
    assert lines[0].split()[:3] == ["a@cpu0", "line", "14"] and lines[0].endswith("<- default")
    assert lines[1].split()[:3] == ["b@cpu0", "line", "20"]
    assert "repl waits for input" in lines[2]


def test_expect_waits_for_the_end(session: Session) -> None:
    assert "has not finished" in ok(session, "expect")


def test_show_gives_the_current_state_not_the_final_one(session: Session) -> None:
    ok(session, "step")
    tasks = ok(session, "show tasks")
    assert "a: running on cpu0, p=0xff800040" in tasks
    assert "next: line 15  p[0] = 1;" in tasks
    assert "slot 1: P pkmap_count 2" in ok(session, "show pkmap")
    assert ok(session, "state").startswith("after 1 step of small")


# ------------------------------------------------------------- typed input


def test_a_typed_statement_runs_in_the_repl_task(tmp_path: Path) -> None:
    s = Session(None)
    before = s.state
    text = ok(s, "void *x = kmap_local_page(P);")
    assert "kmap_local: idx 0 -> 1" in text
    ok(s, "x[3] = 7")  # the missing ';' is added
    repl = s.program.context_index("repl")
    assert repl is not None
    page = [p.name for p in s.program.pages].index("P")
    assert s.state.newest[page][3] == 7
    assert s.state.ctxs[repl].kmap_idx == 1
    assert repl_exec.waiting(s.frame)
    assert s.state is not before
    ok(s, "undo 2")
    assert s.state == before


def test_a_bad_statement_is_a_caret_error_on_what_was_typed(session: Session) -> None:
    ok(session, "step")
    frame = session.frame
    reply = session.handle("q = Pp;")
    assert not reply.ok
    assert reply.text.splitlines()[:4] == [
        "<input>:1:1: error[E201]: unknown name `q`",
        "  |",
        "1 | q = Pp;",
        "  | ^",
    ]
    assert "<input>:1:5: error[E201]: unknown name `Pp`" in reply.text
    assert "did you mean `P`?" in reply.text
    assert session.frame is frame


def test_typed_errors_carry_their_codes(session: Session) -> None:
    with pytest.raises(repl_exec.TypedError) as err:
        repl_exec.extend(session.frame, Kind.STATEMENT, "int y = ;")
    assert err.value.codes == ["E101"]
    assert "<input>:1:9: error[E101]" in err.value.render()


def test_a_statement_waits_for_a_busy_cpu(session: Session) -> None:
    ok(session, "step")  # a runs on cpu0 and CONFIG_PREEMPTION=n
    frame = session.frame
    reply = session.handle("void *x = kmap_local_page(P);")
    assert not reply.ok and "cannot run now" in reply.text
    assert session.frame is frame


def test_declarations_and_expectations_extend_the_scenario(session: Session) -> None:
    ok(session, "page R = alloc_page(GFP_HIGHUSER);")
    ok(session, "global int g = 3;")
    ok(session, "g = g + PageHighMem(R);")
    assert session.state.globals == (4,)
    ok(session, "expect never WARN;")
    assert [e.text for e in session.program.expectations][-1] == "WARN"
    ok(session, "undo 4")
    assert [p.name for p in session.program.pages] == ["P", "Q"]


def test_a_statement_that_blocks_stays_in_progress(tmp_path: Path) -> None:
    s = Session(None)
    for page in ("P", "Q", "L"):
        ok(s, f"kmap({page});")
    ok(s, "page R[2] = alloc_page(GFP_HIGHUSER);")
    ok(s, "kmap(R[0]);")
    ok(s, "kmap(R[1]);")  # LAST_PKMAP 4: P, Q, R[0], R[1]; L is lowmem
    ok(s, "page S = alloc_page(GFP_HIGHUSER);")
    text = ok(s, "kmap(S);")
    assert text.endswith("repl has not finished the statement: it sleeps on pkmap_map_wait in "
                         "kmap_high(); `step repl` continues it once it can")
    repl = s.program.context_index("repl")
    assert repl is not None and s.state.ctxs[repl].status == Status.WAIT_PKMAP
    assert "still executing" in s.handle("kunmap(P);").text
    verdict = ok(s, "expect")
    assert "INFO: task repl:1 blocked for more than 120 seconds." in verdict
    assert "expect no reports (no expect line): FAILS" in verdict


def test_the_repl_task_avoids_the_scenarios_names(tmp_path: Path) -> None:
    path = tmp_path / "clash.kmap"
    path.write_text(SMALL.replace("task b", "task repl"))
    s = Session(str(path))
    assert s.frame.source.task == "repl1"
    assert "repl1" in ok(s, "help")


def test_input_lines_are_commands_or_source() -> None:
    assert classify("schedule") == Command("schedule", "")
    assert classify(":step 3") == Command("step", "3")
    assert classify("run a:2, b") == Command("run", "a:2, b")
    assert classify("schedule();") == Item(Kind.STATEMENT, "schedule();")
    assert classify("expect never BUG;") == Item(Kind.EXPECTATION, "expect never BUG;")
    assert classify("x++") == Item(Kind.STATEMENT, "x++;", added_semicolon=True)
    assert classify("global int g = 1") == Item(Kind.DECLARATION, "int g = 1;", added_semicolon=True)
    assert classify("int g = 1;") == Item(Kind.STATEMENT, "int g = 1;")
    assert classify("stat") == Unknown("stat")
    assert classify("   ") is None


def test_unknown_commands_get_a_did_you_mean(session: Session) -> None:
    reply = session.handle("stat")
    assert not reply.ok and "did you mean `state`?" in reply.text


# ------------------------------------------------------------------ replay


def _trace_section(stdout: str) -> list[str]:
    lines = stdout.split("\ntrace:\n")[1].split("\n\n")[0]
    return lines.splitlines()


def test_the_schedule_replays_with_kmap_run(session: Session, small: Path) -> None:
    ok(session, "step")
    ok(session, "step 2")
    ok(session, "run b")
    sched = ok(session, "schedule").splitlines()[0]
    assert sched == "a, b"
    done = kmap("run", str(small), "--schedule", sched)
    assert done.returncode == 0, done.stderr
    assert _trace_section(done.stdout) == ok(session, "trace").splitlines()


def test_save_never_replaces_a_file_unless_told(session: Session, small: Path,
                                                 tmp_path: Path) -> None:
    """Nothing the user wrote is changed: save refuses an existing file,
    the scenario it started from included, unless --force says so."""
    before = small.read_text()
    ok(session, "void *z = kmap(P);")
    reply = session.handle(f"save {small}")
    assert not reply.ok and "already exists" in reply.text and "--force" in reply.text
    assert small.read_text() == before
    other = tmp_path / "other.kmap"
    other.write_text("// mine\n")
    assert not session.handle(f"save {other}").ok and other.read_text() == "// mine\n"
    assert "wrote" in ok(session, f"save {other} --force")
    assert "kmap(P)" in other.read_text()
    assert "wrote" in ok(session, f"save --force {other}")   # either place
    for bad in (f"save {other} --forc", f"save {other} --force extra", "save --force"):
        reply = session.handle(bad)
        assert not reply.ok and "usage: save FILE [--force]" in reply.text, bad
    reply = session.handle(f"save {tmp_path}")
    assert not reply.ok and "is a directory" in reply.text and "--force" not in reply.text
    assert sorted(x.name for x in tmp_path.iterdir()) == ["other.kmap", "small.kmap"]


def test_typed_statements_replay_from_the_saved_scenario(session: Session,
                                                         tmp_path: Path) -> None:
    ok(session, "void *x = kmap_local_page(Q);")
    ok(session, "step a 3")
    ok(session, "x[5] = 9;")
    sched = ok(session, "schedule").splitlines()[0]
    assert sched == "repl:2, a, repl:2"
    saved = tmp_path / "saved.kmap"
    ok(session, f"save {saved}")
    done = kmap("run", str(saved), "--schedule", sched)
    assert done.returncode == 0, done.stderr  # the WARN breaks no expect line
    assert "DEBUG_LOCKS_WARN_ON(current->kmap_ctrl.idx)" in done.stdout
    trace = _trace_section(done.stdout)
    mine = ok(session, "trace").splitlines()
    assert trace[:len(mine)] == mine
    ok(session, "run")
    assert "DEBUG_LOCKS_WARN_ON(current->kmap_ctrl.idx)" in ok(session, "expect")


# ------------------------------------------------------------ internal errors


def test_an_internal_error_prints_the_replay_schedule(session: Session,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    ok(session, "step")
    frames = list(session.frames)

    def broken(*args: object) -> object:
        raise KeyError("boom")
    monkeypatch.setattr("kmap_scenarios.dsl.repl.run.advance", broken)
    reply = session.handle("step")
    assert reply.internal and not reply.ok
    assert "internal error" in reply.text and "Traceback" not in reply.text
    assert f'replay with: kmap run {session.program.path} --schedule "a:1"' in reply.text
    assert session.frames == frames


# -------------------------------------------------------------- front ends


def test_completion_words_cover_the_language_and_the_scenario(session: Session) -> None:
    words = set(session.completions())
    assert set(names.ALL_NAMES) <= words
    assert {"P", "Q", "a", "b", "repl", "step", "pkmap", "p", "q"} <= words


def test_script_lines_continue_while_a_bracket_is_open(session: Session) -> None:
    out = io.StringIO()
    status = run_lines(session, ["global int g = 1;\n", "if (g) {\n", "  g = 5;\n", "}\n",
                                 "show globals\n"], out)
    assert status == 0
    text = out.getvalue()
    assert "kmap> if (g) {\n....>   g = 5;\n....> }\n" in text
    assert "  g = 5" in text.split("kmap> show globals")[1]


def test_script_status_says_an_input_was_wrong(session: Session) -> None:
    assert run_lines(session, ["p = ;\n"], io.StringIO()) == 65


def test_piped_commands(small: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "kmap_scenarios", "repl", str(small)],
                          input="step\nenabled\nshow pkmap\nundo\nquit\n", capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    assert out.startswith("kmap repl: scenario small")
    assert "kmap> step\n     1  cpu0  a            14  void *p = kmap(P);" in out
    assert "slot 1: P pkmap_count 2" in out
    assert "undid 1 step; now after 0 steps" in out


def test_a_file_with_errors_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.kmap"
    bad.write_text(SMALL.replace("kunmap(P);", "kunmap(Pp);"))
    done = kmap("repl", str(bad))
    assert done.returncode == 65
    assert "error[E201]" in done.stderr and "Traceback" not in done.stderr


def test_the_prompt_toolkit_front_end(session: Session, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    with create_pipe_input() as pipe:
        pipe.send_text("step\rif (1) {\rkmap(Q);\r}\rquit\r")
        assert interactive(session, pipe, DummyOutput()) == 0
    out = capsys.readouterr().out
    assert "void *p = kmap(P);" in out
    assert (tmp_path / "kmap" / "repl_history").read_text().count("+step") == 1


def test_input_that_ends_inside_an_open_bracket_is_not_run(session: Session) -> None:
    """At the end of input (or Ctrl-D) with a `{` still open, the REPL
    says so about what was typed, not about the scenario it built."""
    reply = session.handle("{\nquit")
    assert not reply.ok
    assert reply.text.startswith("the input ends inside an open `{`")
    assert "task `repl`" not in reply.text and session.actions == []


def test_an_unfinished_statement_is_shown_as_typed(session: Session) -> None:
    """The REPL adds a forgotten `;`; an error there is shown on the line
    as typed, just after it, as the end of the statement."""
    reply = session.handle("x[0] = 1 +")
    assert not reply.ok
    assert "1 | x[0] = 1 +\n" in reply.text and "+;" not in reply.text
    assert "unexpected end of the statement" in reply.text
    caret = reply.text.splitlines()[reply.text.splitlines().index("1 | x[0] = 1 +") + 1]
    assert caret.index("^") == len("1 | x[0] = 1 +")
