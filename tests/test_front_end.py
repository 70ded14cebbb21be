"""The front end at the size real code reaches, and the bugs a fuzzing
campaign found on the way (issue 13): exact messages and outputs.

The scaling tests assert what the work is bounded by (operation counts,
a low recursion limit), never a time: bench/frontend.py measures time.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kmap_scenarios.dsl.cli.main import main
from kmap_scenarios.dsl.lower.load import load_text
from kmap_scenarios.dsl.repl.session import Session
from kmap_scenarios.dsl.syntax.parser import parse_text
from kmap_scenarios.dsl.syntax.source import InputError
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.search.schedule import execute

from kmaptest import events, final, local


def kmap(*argv: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return out.getvalue(), err.getvalue(), code


@contextlib.contextmanager
def recursion_limit(n: int) -> Iterator[None]:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(n)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


T = "task t on cpu0 { }\n"


# ------------------------------------------------------------ kmap lint FILE...


def test_lint_reports_a_missing_file_and_goes_on(tmp_path: Path) -> None:
    a, b = tmp_path / "a.kmap", tmp_path / "b.kmap"
    a.write_text(T)
    b.write_text(T)
    missing = str(tmp_path / "missing.kmap")
    out, err, code = kmap("lint", str(a), missing, str(b))
    assert out == f"{a}: ok\n{b}: ok\n"
    assert err == f"kmap: {missing}: No such file or directory\n"
    assert code == 2


def test_lint_status_with_an_invalid_and_an_unreadable_file(tmp_path: Path) -> None:
    # A file that cannot be read is a usage error (2), as for one file; it
    # outranks an invalid one (65): what was asked for was not linted.
    bad = tmp_path / "bad.kmap"
    bad.write_text("task t on cpu0 { x = ; }\n")
    out, err, code = kmap("lint", str(bad), str(tmp_path))
    assert out == ""
    assert err.startswith(f"{bad}:1:22: error[E101]")
    assert err.endswith(f"kmap: {tmp_path}: Is a directory\n")
    assert code == 2
    assert kmap("lint", str(bad))[2] == 65


def test_run_names_a_missing_file_as_the_kernel_tools_do(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.kmap")
    assert kmap("run", missing) == ("", f"kmap: {missing}: No such file or directory\n", 2)


# ------------------------------------------------------- expressions as text


PARENS = """\
page P = alloc_page(GFP_KERNEL);
int g = 5;
task t on cpu0 {
    int x = 3;
    int y = 2;
}
expect sometimes P[(t.x + 1) * 2] == 0;
expect sometimes P[t.x + 1 * 2] == 0;
expect sometimes P[t.x - (t.y - 1)] == 0;
expect sometimes P[t.x - t.y - 1] == 0;
expect sometimes P[-(t.x - 5) << (t.y & 1)] == 0;
expect sometimes P[!(t.x == 1 || t.y == 2)] == 0;
"""


def test_outcome_labels_keep_the_parentheses_precedence_needs() -> None:
    result = ex.explore(load_text(PARENS, "p.kmap"))
    (outcome,) = result.outcomes
    assert [name for name, _ in outcome.values] == [
        "P[!(t.x == 1 || t.y == 2)]", "P[(t.x + 1) * 2]", "P[-(t.x - 5) << (t.y & 1)]",
        "P[t.x + 1 * 2]", "P[t.x - (t.y - 1)]", "P[t.x - t.y - 1]"]


def test_one_printer_for_source_and_lowered_expressions() -> None:
    from kmap_scenarios.dsl.syntax import nodes as n
    from kmap_scenarios.dsl.check.symbols import unparse
    S = n.NO_SPAN
    one, two = n.IntLit(1, S), n.IntLit(2, S)
    x = n.Name("x", S)
    assert unparse(n.Binary("*", n.Binary("+", x, one, S), two, S)) == "(x + 1) * 2"
    assert unparse(n.Binary("-", x, n.Binary("-", one, two, S), S)) == "x - (1 - 2)"
    assert unparse(n.Unary("-", n.Unary("-", x, S), S)) == "- -x"
    assert unparse(n.Index(n.Binary("+", x, one, S), two, S)) == "(x + 1)[2]"


# ------------------------------------------------------------------- irqs


def test_an_irq_without_a_cpu_is_E418_from_the_checker() -> None:
    src = "irq h { }\ntask t on cpu0 { kmap_lcoal_page(P); }\n"
    with pytest.raises(InputError) as info:
        load_text(src, "i.kmap")
    assert info.value.codes == ["E418", "E202"]   # the checker: every problem at once
    d = info.value.diagnostics[0]
    assert d.message == "irq `h` needs a CPU: `irq h on cpuN { ... }`"
    assert d.hint == "an interrupt handler fires on one CPU, so name it, e.g. `on cpu0`"
    assert (d.span.line, d.span.col) == (1, 5)


# ------------------------------------------------------ nesting, not length


def _sum(n: int, term: str = "1", op: str = "+") -> str:
    return f" {op} ".join([term] * n)


def test_a_257_term_flat_sum_is_not_nested_too_deeply() -> None:
    src = f"int g = {_sum(257)};\ntask t on cpu0 {{ int x = {_sum(257)}; }}\n"
    p, s = final(src)
    assert local(p, s, "t", "x") == 257 and s.globals == (257,)


def test_nesting_is_still_counted() -> None:
    deep = "task t { x = " + "(" * 300 + "1" + ")" * 300 + "; }\n"
    with pytest.raises(InputError) as info:
        parse_text(deep, "d.kmap")
    assert info.value.diagnostics[0].message == \
        "expression nested too deeply: 300 levels, the limit is 256"
    # a chain is one level, wherever it sits
    chained = "task t { x = " + "(" * 250 + _sum(3000) + ")" * 250 + "; }\n"
    parse_text(chained, "c.kmap")


LONG = 10_000


def test_a_long_flat_expression_never_recurses_through_its_length() -> None:
    """Parse, check, lower, run, explore, outcome labels and expectations
    of 10,000-term chains under a recursion limit far below their length."""
    sum_ = _sum(LONG)
    mixed = " - ".join(["1"] * LONG)             # left to right: 1 - 1 - ... = 2 - LONG
    ands = _sum(LONG, "1", "&&") + " && 0 && 1 / 0"   # short-circuits before 1 / 0
    ors = _sum(LONG, "0", "||") + " || 1 || 1 / 0"
    src = f"""\
page P = alloc_page(GFP_KERNEL);
int g = {sum_};
task t on cpu0 {{
    int x = {sum_};
    int m = {mixed};
    int a = {ands};
    int o = {ors};
    BUG_ON(x != {sum_});
}}
expect always t.x == {_sum(LONG, 't.a + 1')} && g == {LONG};
expect always P[{_sum(LONG, '0')}] == 0;
"""
    with recursion_limit(400):
        p = load_text(src, "long.kmap")
        run = execute(p)
        result = ex.explore(p)
    assert run.final is not None and not run.final.reports
    assert [local(p, run.final, "t", v) for v in "xmao"] == [LONG, 2 - LONG, 0, 1]
    (outcome,) = result.outcomes
    label = dict(outcome.values)
    assert f"P[{_sum(LONG, '0')}]" in label
    assert outcome.conds == (True, True)


# ----------------------------------------------------------------- the REPL


def test_the_banner_offers_the_schedule_as_a_command_that_works(tmp_path: Path) -> None:
    f = tmp_path / "s.kmap"
    f.write_text("page P = alloc_page(GFP_HIGHUSER);\n"
                 "task a on cpu0 { void *p = kmap(P); kunmap(P); }\n"
                 "task b on cpu0 { int x = 1; }\n"
                 "schedule a, /* first */ b:1; // the race\n")
    session = Session(str(f))
    line = session.banner().splitlines()[2]
    assert line == "the file's schedule: `run a, b:1` follows it"
    reply = session.handle("run a, b:1")
    assert reply.ok, reply.text


# ------------------------------------------------------------ kunmap_local


DOUBLE_UNMAP = """\
config {{ NR_CPUS = 2; }}
page P = alloc_page(GFP_HIGHUSER);
task t on cpu{cpu} {{
    void *p = kmap_local_page(P);
    kunmap_local(p);
    kunmap_local(p);
}}
"""


def test_a_double_kunmap_local_on_cpu0_clears_the_fixmap_entry_below_the_slots() -> None:
    p, e = final_run(DOUBLE_UNMAP.format(cpu=0))
    assert "kunmap_local: idx 0 -> -1, pte_clear() of fixmap index FIX_KMAP_BEGIN - 1 " \
        "(kmap_local_calc_idx(-1) on cpu0: the entry below the kmap_local slots, not a " \
        "slot of any CPU)" in events(e)


def test_a_double_kunmap_local_on_cpu1_clears_cpu0s_last_slot() -> None:
    p, e = final_run(DOUBLE_UNMAP.format(cpu=1))
    assert "kunmap_local: idx 0 -> -1, cleared slot 15 of cpu0 (no PTE there; " \
        "kmap_local_calc_idx(-1) on cpu1 is cpu0's last slot)" in events(e)


def final_run(src: str):  # type: ignore[no-untyped-def]
    p = load_text(src, "d.kmap")
    e = execute(p)
    assert e.final is not None
    return p, e


# ------------------------------------------------------------ deep braces


def test_braces_past_the_limit_stop_the_parse_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """100,000 levels of `{` (a 400 KB file): E104 at the 65th, after a
    bounded amount of parser state copied (each statement start inside
    braces saves the state, a copy as long as the nesting)."""
    from lark.parsers.lalr_parser_state import ParserState
    copied: list[int] = []
    real = ParserState.copy

    def counting(self: ParserState, deepcopy_values: bool = True) -> ParserState:  # type: ignore[type-arg]
        copied.append(len(self.state_stack))
        return real(self, deepcopy_values)
    monkeypatch.setattr(ParserState, "copy", counting)
    n = 100_000
    src = "task t on cpu0 " + "{" * n + "}" * n + "\n"
    with pytest.raises(InputError) as info:
        parse_text(src, "deep.kmap")
    (d,) = info.value.diagnostics
    assert (d.code, d.message) == ("E104", "statements nested too deeply: 100000 levels, "
                                           "the limit is 64")
    assert (d.span.line, d.span.col) == (1, 16 + 64)
    assert len(copied) < 100 and sum(copied) < 100 * 70


# ------------------------------------------------------------ kmap run


EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*/*.kmap"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_default_policy_without_listing_every_action(path: Path) -> None:
    """The run's shortcut to default_choice (one context's actions, or the
    first context's that has some) takes the action default_choice takes
    from the full list, at every state of random runs of every example."""
    from kmap_scenarios.runtime.kernel.machine import enabled
    from kmap_scenarios.runtime.search import schedule as sch
    p = load_text(path.read_bytes(), str(path))
    for seed in range(3):
        run = execute(p, None, sch.random_choice(seed), trace=False, max_steps=300, schedule=True)
        # the schedule told as the run goes is the one a replay computes
        assert run.schedule is not None
        assert sch.runs_text(p, run.schedule) == sch.encode(p, run.actions)
        r = sch._Runner(p, False, 10)
        for a in run.actions:
            acts = enabled(p, r.state)
            want = sch.default_choice(p, r.state, acts, r.last) if acts else None
            assert r._default_action() == want
            r.do(a)


def test_loop_ranks_never_decrease_along_the_code() -> None:
    from kmap_scenarios.runtime.search.revisits import loop_ranks
    p = load_text("task t on cpu0 {\n int x = 0;\n while (x < 3) { if (x) { x++; } else { x += 2; } }"
                  "\n for (int i = 0; i < 2; i++) { x--; }\n x = 9;\n}\n", "r.kmap")
    code = p.contexts[0].code
    ranks = loop_ranks(code)
    loops = sorted(set(r for pc, r in enumerate(ranks) if r != pc))
    assert len(loops) == 2      # the while and the for, each one rank
    assert ranks[0] == 0 and ranks[-1] == len(code) - 1


def test_a_run_of_thousands_of_tasks_does_per_step_work_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 one-statement tasks under the default policy: no step lists
    every context's actions, a context is asked for its actions a bounded
    number of times per step, and no state is kept for the fairness
    around cycles (straight-line code cannot come back to a state)."""
    from kmap_scenarios.runtime.search import schedule as sch
    from kmap_scenarios.runtime.search.revisits import Visits
    n = 2000
    p = load_text("\n".join(f"task t{i} on cpu0 {{ int x = {i}; }}" for i in range(n)), "many.kmap")
    calls = {"enabled": 0, "actions_of": 0, "kept": 0}
    real_enabled, real_of, real_stepped = sch.enabled, sch.actions_of, Visits.stepped

    def enabled(*a: object) -> object:
        calls["enabled"] += 1
        return real_enabled(*a)  # type: ignore[arg-type]

    def actions_of(*a: object) -> object:
        calls["actions_of"] += 1
        return real_of(*a)  # type: ignore[arg-type]

    def stepped(self: Visits, *a: object) -> None:
        real_stepped(self, *a)  # type: ignore[arg-type]
        calls["kept"] = max(calls["kept"], len(self))
    monkeypatch.setattr(sch, "enabled", enabled)
    monkeypatch.setattr(sch, "actions_of", actions_of)
    monkeypatch.setattr(Visits, "stepped", stepped)
    run = execute(p, None, trace=False)
    assert len(run.actions) == n and run.final is not None
    assert calls["enabled"] <= 1
    assert calls["actions_of"] <= 3 * n
    assert calls["kept"] == 0
    assert [p.contexts[c].name for c, _ in run.actions[:3]] == ["t0", "t1", "t2"]


# ------------------------------------------------------------ the REPL's pace


SESSION = [
    "int a = 1;", "void *p = kmap(P);", "p[0] = a + 2;", "{ int b = 3; p[1] = b; }",
    "for (int i = 0; i < 2; i++) { a += i; }", "if (a > 1) { a = 0; } else a = 5;",
    "BUG_ON(a == 7);", "task other on cpu0 { int z = 1; }", "kunmap(P);",
    "expect always P[0] == 3;", "int a = 2;", "undo", "while (a < 3) a++;", "x = ;",
    "a = 1 +", "step", "int c = a; int d = c;", "undo 2", "u8 e = 300;", "reset", "int f = 1;",
]

PREEMPTIBLE = """\
config { CONFIG_PREEMPTION = y; LAST_PKMAP = 4; PAGE_SIZE = 64; }
page P = alloc_page(GFP_HIGHUSER);
task t on cpu0 { void *q = kmap(P); q[2] = 1; kunmap(P); }
schedule t:1;
expect sometimes P[2] == 1;
"""


@pytest.mark.parametrize("file", [None, "preemptible"])
def test_a_statement_compiled_alone_is_what_the_whole_load_makes(
        file: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each typed statement is compiled alone and spliced in (the time it
    takes is its own); a session that loads the whole text for every
    statement and replays its path gets the same replies, programs,
    texts and states, input for input."""
    from kmap_scenarios.dsl.repl import execute as repl_exec
    path = None
    if file:
        (tmp_path / "f.kmap").write_text(PREEMPTIBLE)
        path = str(tmp_path / "f.kmap")
    real = repl_exec.add_statement
    spliced: list[bool] = []

    def add_statement(frame, text, what):  # type: ignore[no-untyped-def]
        if not whole_way:
            new = real(frame, text, what)
            spliced.append(new is not None)
            return new
        return None
    monkeypatch.setattr(repl_exec, "add_statement", add_statement)
    fast, whole = Session(path), Session(path)
    for line in SESSION:
        whole_way = False
        got = fast.handle(line)
        whole_way = True
        want = whole.handle(line)
        assert (got.text, got.ok) == (want.text, want.ok), line
        f, w = fast.frame, whole.frame
        assert f.rendered == w.rendered and f.rendered.text == w.rendered.text, line
        assert f.program == w.program and f.program.source_lines == w.program.source_lines, line
        assert f.state == w.state, line
    assert spliced.count(True) == 12 and spliced.count(False) == 3   # the 3 with errors


def test_a_typed_statement_parses_only_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """After 300 statements, the 301st is parsed alone: the whole text is
    loaded once, when the session starts."""
    from kmap_scenarios.dsl.lower import append as app
    parsed: list[int] = []
    real = app.parse

    def parse(source):  # type: ignore[no-untyped-def]
        parsed.append(len(source.text.lstrip("\n")))
        return real(source)
    monkeypatch.setattr(app, "parse", parse)
    session = Session(None)
    for i in range(300):
        assert session.handle(f"int x{i} = {i};").ok
    assert parsed[0] > 200                       # the whole scenario, once
    assert len(parsed) == 301 and max(parsed[1:]) < 200
    assert session.frame.state.ctxs[session.frame.repl].locals[-1] == 299


def test_stray_characters_are_placed_by_a_search_of_the_line_starts() -> None:
    """Each stray character is reported at its line and column, found by
    a binary search of line starts taken once (not by counting the
    newlines before it, which made a file of many strays quadratic)."""
    from kmap_scenarios.dsl.syntax.driver import Driver
    from kmap_scenarios.dsl.syntax.parser import parser
    text = "task t on cpu0 {\n" + "  $ x = 1;\n" * 5000 + "}\n"
    d = Driver(parser(), text)
    assert d.run() is None
    assert [(x.code, x.span.line, x.span.col) for x in d.diagnostics[:3]] == [
        ("E102", 2, 3), ("E102", 3, 3), ("E102", 4, 3)]
    assert d.line_starts is not None and len(d.line_starts) == text.count("\n") + 1
    for offset in (0, 16, 17, 20, len(text) - 1):
        line = text.count("\n", 0, offset) + 1
        assert d._line_col(offset) == (line, offset - (text.rfind("\n", 0, offset) + 1) + 1)
