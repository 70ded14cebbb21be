"""dsl/syntax/parser.py on bad input: codes, key phrases, recovery, robustness.

Tests assert codes and key phrases; one golden pins the full caret rendering.
"""

from __future__ import annotations

import sys

import pytest

from kmap_scenarios.dsl.syntax.source import Diagnostic, InputError, Source
from kmap_scenarios.dsl.syntax.parser import MAX_EXPR_DEPTH, MAX_STMT_DEPTH, parse_text, parser
from kmap_scenarios.dsl.syntax.driver import MAX_ERRORS, Driver
from kmap_scenarios.dsl.syntax.messages import KNOWN_ERRORS

T = "task t on cpu0 { }\n"  # makes a file valid apart from what is tested


def errors(text: str | bytes) -> list[Diagnostic]:
    with pytest.raises(InputError) as info:
        parse_text(text, "bad.kmap")
    return info.value.diagnostics


def one(text: str | bytes) -> Diagnostic:
    diags = errors(text)
    assert len(diags) == 1, [d.message for d in diags]
    return diags[0]


# (source, code, phrase in the message, phrase in the hint)
BAD = [
    # E101 unexpected token
    ("task t on cpu0 {\n    void *p = kmap(P)\n    kunmap(P);\n}\n", "E101",
     "expected `;` after the statement", "end with `;`"),
    (T + "expect always Q[0] = 0x55;\n", "E101", "use `==` to compare", ""),
    ("task t { if (x = 1) { } }\n", "E101", "use `==` to compare", ""),
    ("task t on cpu0 kmap(P);\n", "E101", "must be a block in braces", "between `{` and `}`"),
    ("page P = alloc_page(GFP_KERNEL);\nkmap(P);\n" + T, "E101",
     "statements and calls belong inside a task, irq or function body", "task NAME"),
    ("void *p = kmap(P);\n" + T, "E101", "`void` at top level: globals are `int`", "int NAME"),
    ("if (x) { }\n" + T, "E101", "`if` at top level: statements", ""),
    (T + "task u on cpu1", "E101", "unexpected end of file: expected `{`", ""),
    ("taks t on cpu0 { }\n", "E101", "unknown top-level item `taks`", "did you mean `task`?"),
    ("task t { }\nexpect nevr BUG;\n", "E101", "expected `always`, `never` or `sometimes`",
     "did you mean `never`?"),
    ("task t on 0 { }\n", "E101", "expected a CPU such as `cpu0` after `on`", "write `cpu0`"),
    ("task t on cpux { }\n", "E101", "found name `cpux`", "below NR_CPUS"),
    (T + "schedule t@1;\n", "E101", "after `@`", "write `cpu1`"),
    ("scenario demo;\n" + T, "E101", "must be a string", 'scenario "name";'),
    ("task a { }\ntask b { }\nschedule a b;\n", "E101", "separated by `,`", ""),
    ("task t { y = x++; }\n", "E101", "`++` inside an expression", "x++;"),
    ("task t { x = y = 1; }\n", "E101", "assignment is a statement of its own", ""),
    ("task t { foo(); else { } }\n", "E101", "`else` without a matching `if`", ""),
    ("task t { return 0 }\n", "E101", "expected `;` after the statement", ""),
    ("task t { do { x = 1; } (x); }\n", "E101", "unexpected `(`: expected `while`", ""),
    ("task t { switch g { } }\n", "E101", "unexpected name `g`: expected `(`", ""),
    ("task t { case 1: x = 1; }\n", "E101", "`case` outside a switch", "switch (x) {"),
    ("static int g;\n" + T, "E101", "`static` at top level: globals are `int`", "int NAME"),
    ("task t { if (g) { } else else { } }\n", "E101", "unexpected `{`", ""),
    ("task t { g = (long *)p; }\n", "E101", "`long *` is not a supported declaration type",
     "`void *`"),
    ("spinlock_t L = 0;\n" + T, "E101", "a `spinlock_t` takes no initialiser",
     "starts unlocked"),
    ("task t { widget b = 1; }\n", "E101", "unknown type `widget`", "declaration types are"),
    ("task t { int *p = kmap(P); }\n", "E101", "`int *` is not a supported declaration type",
     "`void *`"),
    ("task t { x = 1.5; }\n", "E101", "floating-point numbers are not supported", ""),
    ("task t { };\n", "E101", "unexpected `;` after `}`", "remove it"),
    (T + "}\n", "E101", "unmatched `}`", ""),
    ("task t { foo(1]; }\n", "E101", "`]` does not close the `(` of the call to `foo`",
     "expected `)`"),
    ("task t on cpu0 {\n    kmap(P);\n", "E101",
     "the `{` of the body of task `t` at line 1 is never closed", "add `}`"),
    ("task a on cpu0 {\n    foo();\ntask b on cpu0 {\n}\n", "E101", "is a `}` missing?",
     "still open"),
    ("config {\n  ARCH = arm;\npage P = alloc_page(GFP_KERNEL);\n" + T, "E101",
     "inside `config`: is a `}` missing?", ""),
    ("task t { x = = 1; }\n", "E101", "unexpected `=`: expected an expression", ""),
    ("task t { foo(1 2); }\n", "E101", "unexpected integer `2`: expected `)`, `,` or an operator",
     ""),
    ("task t { x = 1 }\n", "E101", "expected `;` after the statement", ""),
    (T + "expect never BUG", "E101", "expected `;` after the expectation", ""),
    ("config {\n  NR_CPUS = 2\n  ARCH = arm;\n}\n" + T, "E101", "after the config item", ""),
    ("page P = alloc_page(GFP_KERNEL)\n" + T, "E101", "after the declaration of page `P`", ""),
    ("page P[N] = alloc_page(GFP_KERNEL);\n" + T, "E101", "expected an integer", ""),
    ("task t { for (i = 0, j = 0; i < 2; i++) { } }\n", "E101", "unexpected `,`", ""),
    # E102 unexpected character
    ("task t { x = $1; }\n", "E102", "unexpected character `$`", ""),
    ("#include <linux/highmem.h>\n" + T, "E102", "unexpected character `#`", "no preprocessor"),
    ("task t { x = 'a'; }\n", "E102", "unexpected character `'`", "character literals"),
    ("task t { x = `a`; }\n", "E102", "unexpected character U+0060 (GRAVE ACCENT, a backtick)",
     "quote strings"),
    ("task t { x = \u201cs\u201d; }\n", "E102", "U+201C (LEFT DOUBLE QUOTATION MARK)",
     "plain ASCII quotes"),
    ("task t { x = 09; }\n", "E102", "invalid digit in octal constant `09`", "octal"),
    ("task t { x = " + "9" * 5000 + "; }\n", "E102",
     "integer constant is too large for its type", "64 bits"),
    ("task t { x = 18446744073709551616; }\n", "E102", "too large for its type", ""),
    ("task t { x = 0x1" + "0" * 16 + "; }\n", "E102", "too large for its type", ""),
    ("config { NR_CPUS = " + "9" * 5000 + "; }\n" + T, "E102", "too large for its type", ""),
    (T + "schedule t:" + "9" * 5000 + ";\n", "E102", "too large for its type", ""),
    # E103 unterminated
    ("task t { x = \"abc;\n}\n", "E103", "unterminated string", "ends on the line"),
    (T + "/* never closed\n", "E103", "unterminated comment", "`*/`"),
    # E104 nesting
    ("task t { x = " + "(" * 300 + "1" + ")" * 300 + "; }\n", "E104",
     f"expression nested too deeply: 300 levels, the limit is {MAX_EXPR_DEPTH}", "local variables"),
    ("task t " + "{" * 80 + "}" * 80 + "\n", "E104",
     f"statements nested too deeply: 80 levels, the limit is {MAX_STMT_DEPTH}", ""),
    # E105 nothing to run
    ("", "E105", "the file is empty", "task t on cpu0"),
    ("// only\n/* comments */\n", "E105", "the file has only comments", ""),
    ('scenario "x";\npage P = alloc_page(GFP_KERNEL);\n', "E105", "no task or irq", ""),
    # E106 order, E107 duplicates
    ("task t { }\nexpect never BUG;\ntask u { }\n", "E106",
     "task `u` comes after the `expect` line at line 2", "the order is an optional scenario"),
    ("config { }\nscenario \"x\";\n" + T, "E106",
     "the `scenario` line comes after the `config` block at line 1", ""),
    (T + "config { }\n", "E106", "the `config` block comes after task `t` at line 1", ""),
    ('scenario "a";\nscenario "b";\n' + T, "E107", "a second `scenario`", "line 1"),
    ("config { }\nconfig { }\n" + T, "E107", "a second `config`", "merge them"),
    # E108 not text
    (b"task t { }\n\xff\xfe garbage", "E108", "invalid byte 0xff at line 2, column 1",
     "binary file"),
    ("task t { }\0\n", "E108", "NUL byte at line 1, column 11", ""),
]


@pytest.mark.parametrize("text, code, phrase, hint", BAD)
def test_bad_input(text: str | bytes, code: str, phrase: str, hint: str) -> None:
    d = one(text)
    assert d.code == code
    assert phrase in d.message
    assert hint in d.hint


@pytest.mark.parametrize("entry, example", [(e, x) for e in KNOWN_ERRORS for x in e.examples],
                         ids=lambda v: getattr(v, "name", None) or repr(v)[:30])
def test_known_errors_table(entry: object, example: str) -> None:
    # Every example of the known-bad table lands on its own entry, first.
    driver = Driver(parser(), example)
    assert driver.run() is None
    assert driver.rules[:1] == [entry.name]  # type: ignore[attr-defined]


def test_caret_rendering_golden() -> None:
    src = "task t on cpu0 {\n    void *p = kmap(P)\n    kunmap(P);\n}\n"
    with pytest.raises(InputError) as info:
        parse_text(src, "race.kmap")
    assert str(info.value) == (
        "race.kmap:2:22: error[E101]: expected `;` after the statement\n"
        "  |\n"
        "2 |     void *p = kmap(P)\n"
        "  |                      ^\n"
        "  = help: statements and declarations end with `;`\n"
        "\n"
        "1 error in race.kmap")


def test_several_errors_in_one_run_without_cascades() -> None:
    src = """\
scenario "demo";

config {
    ARCH = arm;
    NR_CPUS = 2
    CONFIG_HIGHMEM = y;
}

page P = alloc_page(GFP_HIGHUSER);

task a on cpu0 {
    void *p = kmap(P)
    memset(p, 0x55, PAGE_SIZE);
    if (p[0] = 1) {
        kunmap(P);
    }
    x = ;
    kunmap(P);
}

task b on cpu1 {
    int v = p[0] +;
    while (v) { v--; }
}

irq h {
    foo();
}

expect never BUG
expect sometimes a.v == 1;
"""
    diags = errors(src)
    # `irq h` without a CPU is the checker's E418, which a file with syntax
    # errors never reaches
    assert [(d.span.line, d.code) for d in diags] == [
        (5, "E101"), (12, "E101"), (14, "E101"), (17, "E101"), (22, "E101"), (30, "E101")]


def test_recovery_after_an_unmatched_brace() -> None:
    src = "task a on cpu0 {\n    kunmap(P);\n}\n}\ntask b on cpu1 { x = 1 + ; }\n"
    assert [(d.span.line, d.message) for d in errors(src)] == [
        (4, "unmatched `}`"), (5, "unexpected `;`: expected an expression")]


def test_one_error_per_line() -> None:
    assert len(errors("task t { x = = 1; y = 2 z = 3; foo(; }\n")) == 1


def test_errors_are_capped() -> None:
    src = "task t {\n" + "  x = = 1;\n" * 30 + "}\n"
    assert len(errors(src)) == MAX_ERRORS


def test_a_missing_brace_does_not_also_report_the_end_of_file() -> None:
    src = "task a on cpu0 {\n    foo();\nexpect never BUG;\n"
    assert [d.span.line for d in errors(src)] == [3]


def test_unterminated_comment_after_a_complete_one() -> None:
    d = one(T + "/* fine */ x /* not closed\n")
    assert (d.code, d.span.line, d.span.col) == ("E103", 2, 14)


def test_comment_markers_inside_strings_are_not_comments() -> None:
    f = parse_text(T + 'expect never BUG("/* not a comment");\n', "ok.kmap")
    assert len(f.expects) == 1


# ------------------------------------------------------------- robustness


def test_3000_deep_parentheses() -> None:
    src = "task t { x = " + "(" * 3000 + "1" + ")" * 3000 + "; }\n"
    d = one(src)
    assert d.code == "E104"
    assert d.message == "expression nested too deeply: 3000 levels, the limit is 256"


@pytest.mark.parametrize("src", [
    "task t { x = " + "- " * 3000 + "1; }\n",
    "task t { x = " + "a[" * 3000 + "0" + "]" * 3000 + "; }\n",
    "task t { x = " + "f(" * 3000 + ")" * 3000 + "; }\n",
    "task t " + "{" * 3000 + "}" * 3000 + "\n",
    "task t { " + "if (x) " * 3000 + "y = 1; }\n",
    "task t { if (x) { } " + "else if (x) { } " * 3000 + "}\n",
])
def test_deep_input_gives_e104_not_a_traceback(src: str) -> None:
    assert [d.code for d in errors(src)] == ["E104"]


def test_a_long_chain_is_not_deep() -> None:
    # nesting, not length: a chain of binary operators is one level
    parse_text("task t { x = " + "+".join(["1"] * 3000) + "; }\n", "long.kmap")


def test_deep_unclosed_input() -> None:
    d = one("task t { x = " + "(" * 3000 + "\n")
    assert d.code == "E101" and "never closed" in d.message


def test_a_low_recursion_limit_is_enough() -> None:
    # The front end never recurses with the input's depth.
    src = "task t { x = " + "(" * 250 + "1" + ")" * 250 + "; }\n"
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        f = parse_text(src, "deep.kmap")
    finally:
        sys.setrecursionlimit(limit)
    (stmt,) = f.decls[0].body.stmts  # type: ignore[union-attr]
    assert stmt.value.value == 1     # type: ignore[union-attr]  # the parentheses are gone


@pytest.mark.parametrize("data", [
    bytes(range(256)),
    b"\x00\x01\x02",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"\x7fELF\x02\x01\x01\x00",
])
def test_binary_garbage(data: bytes) -> None:
    d = one(data)
    assert d.code == "E108"
    assert "binary file" in d.hint


def test_diagnostics_render_with_the_source() -> None:
    with pytest.raises(InputError) as info:
        parse_text("task t {\n\tx = $;\n}\n", "tab.kmap")
    err = info.value
    assert err.codes == ["E102"]
    assert isinstance(err.source, Source)
    assert "2 |  x = $;" in str(err)


def test_caret_sits_under_the_character_after_wide_ones() -> None:
    """Columns count characters; the caret line counts terminal cells, so
    it stays under the error after CJK text or emoji (two cells each)."""
    with pytest.raises(InputError) as info:
        parse_text("task t { /* \u65e5\u672c\u8a9e */ x = $1; }\n", "w.kmap")
    text = info.value.render()
    lines = text.splitlines()
    src = next(x for x in lines if x.startswith("1 | "))
    caret = lines[lines.index(src) + 1]
    assert caret.index("^") == src.index("$") + 3   # three wide characters before it


def test_every_stray_character_of_a_line_is_reported() -> None:
    """Strays are not cascades: each one is named, while the syntax errors
    they cause on that line are still left out."""
    diags = errors("task t on cpu0 { int y = $; int z = `; int w = 1 # 2; }\n")
    assert [(d.code, d.span.col) for d in diags] == [("E102", 26), ("E102", 37), ("E102", 50)]
    assert len(errors("task t on cpu0 { int y = 'a' + \u201cb\u201d; }\n")) == 1   # quotes: one
