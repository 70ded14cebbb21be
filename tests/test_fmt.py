"""`kmap fmt`: the layout of docs/formatting.md, every comment kept.

The properties, on every .kmap file of the repository, on generated
scenarios and on generated task bodies with comments sprinkled between
their tokens: formatting twice gives the same text, the formatted text
parses to the same AST (positions aside) with the same comments, and a
file that is not valid is refused and left alone.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.extra.lark import from_lark

from kmap_scenarios.dsl.cli.main import main
from kmap_scenarios.dsl.fmt import same
from kmap_scenarios.dsl.fmt.format import comments, format_text
from kmap_scenarios.dsl.fmt.tokens import flatten
from kmap_scenarios.dsl.syntax.parser import build_parser, concrete_parser, parse_text
from kmap_scenarios.dsl.syntax.source import InputError
from scenario_gen import scenario
from test_parser_fuzz import _terminal_strategies

ROOT = Path(__file__).resolve().parent.parent
ALL = sorted(p for p in ROOT.rglob("*.kmap") if ".venv" not in p.parts and ".git" not in p.parts)
assert len(ALL) > 40


def kmap(*argv: str, stdin: str | None = None) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return out.getvalue(), err.getvalue(), code


def _valid(text: str) -> bool:
    try:
        parse_text(text, "x.kmap")
    except InputError:
        return False
    return True


def assert_formats_well(text: str) -> str:
    """The properties of one text; its formatted form."""
    out = format_text(text, "x.kmap")
    assert format_text(out, "x.kmap") == out, "not idempotent"
    assert same.shape(parse_text(out, "x.kmap")) == same.shape(parse_text(text, "x.kmap"))
    assert comments(out) == comments(text)
    body = re.sub(r"(?:^// Result:.*\n)+\Z", "", out, flags=re.M)   # kept byte for byte
    assert not re.search(r"[ \t]$", body, re.M), "trailing whitespace"
    return out


# ------------------------------------------------------------ the corpus


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_kmap_file_of_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if not _valid(text):
        # tests/lexer's samples need not be scenarios: refused, as kmap check would
        with pytest.raises(InputError):
            format_text(text, path.name)
        return
    out = assert_formats_well(text)
    # the `// Result:` block that ends the file, byte for byte
    block = re.search(r"(?:^// Result:.*\n)+\s*\Z", text, re.M)
    if block:
        assert out.endswith(block.group().rstrip("\n") + "\n")


def test_most_examples_are_already_in_the_layout() -> None:
    # The layout is the one the examples were written in: formatting
    # changes nothing in all but a few of them (docs/formatting.md).
    examples = [p for p in ALL if p.relative_to(ROOT).parts[0] == "examples"]
    changed = [p.name for p in examples
               if format_text(p.read_bytes(), p.name) != p.read_text(encoding="utf-8")]
    assert len(changed) <= 3, changed


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenario())
def test_generated_scenarios(text: str) -> None:
    assert_formats_well(text)
    assert_formats_well(_sprinkle(text, len(text)))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
# build_parser(): a parser loaded from the grammar cache has no .grammar to draw from
@given(from_lark(build_parser(), start="block", explicit=_terminal_strategies("block")))
def test_generated_task_bodies(block: str) -> None:
    text = f"task t {block}\n"
    if _valid(text):
        assert_formats_well(text)
        assert_formats_well(_sprinkle(text, len(text)))


def _sprinkle(text: str, seed: int) -> str:
    """``text`` with comments put between random pairs of its tokens."""
    rng = random.Random(seed)
    toks = flatten(concrete_parser().parse(text))
    out, pos = [], 0
    for n, t in enumerate(toks):
        out.append(text[pos:t.start])
        if rng.random() < 0.3:
            out.append(rng.choice([f" /* c{n} */ ", f" // c{n}\n", f"\n// c{n}\n",
                                   f"\n\n/* c{n}\n   more */\n", f"/*c{n}*/"]))
        out.append(t.text)
        pos = t.end
    return "".join(out) + text[pos:] + rng.choice(["", "// end\n", "/* end */"])


@pytest.mark.parametrize("path", [p for p in ALL if p.parent.name in ("conversion_real", "lexer",
                                                                       "kmod")],
                         ids=lambda p: p.name)
@pytest.mark.parametrize("seed", range(3))
def test_comments_anywhere(path: Path, seed: int) -> None:
    text = path.read_text(encoding="utf-8")
    if _valid(text):
        assert_formats_well(_sprinkle(text, seed))


# --------------------------------------------------------------- layout


def test_the_layout() -> None:
    src = """\
scenario "x" ;
config {ARCH=arm;NR_CPUS=2;}
int g=0;percpu int c = 1 ;
spinlock_t L;
page P[2]=alloc_page(GFP_HIGHUSER);
static inline int f(int a,
    const char __user *s) {
  int x=-a, y = ~ a; void *p = (void *) kmap(P[0]);
  if(a){x++;}else if (a>1) y--; else {x+=sizeof(int);}
  do a++; while (a < 3);
  for(;;) break;
  switch(a){case 1: x = 1; default: x = *p & 0xff;}
  if (x) goto out;
  spin_lock(&L);
out:
  return a ? x : y;
}
task t on cpu0 {int r = f(1,
                2);   r = r +
     1;}
irq i on cpu1 {}
schedule t:2 , i @ cpu1 : 3 , t;
expect sometimes t.r == 1 && !WARN;
"""
    assert format_text(src, "x.kmap") == """\
scenario "x";
config { ARCH = arm; NR_CPUS = 2; }
int g = 0;
percpu int c = 1;
spinlock_t L;
page P[2] = alloc_page(GFP_HIGHUSER);
static inline int f(int a,
                    const char __user *s)
{
    int x = -a, y = ~a;
    void *p = (void *)kmap(P[0]);
    if (a) {
        x++;
    } else if (a > 1)
        y--;
    else {
        x += sizeof(int);
    }
    do
        a++;
    while (a < 3);
    for (;;)
        break;
    switch (a) {
    case 1:
        x = 1;
    default:
        x = *p & 0xff;
    }
    if (x)
        goto out;
    spin_lock(&L);
out:
    return a ? x : y;
}
task t on cpu0 {
    int r = f(1,
              2);
    r = r +
        1;
}
irq i on cpu1 { }
schedule t:2, i@cpu1:3, t;
expect sometimes t.r == 1 && !WARN;
"""


def test_a_config_block_stays_on_one_line_only_if_it_was_and_fits() -> None:
    one = "config { ARCH = x86; PAGE_SIZE = 64; }\ntask t { }\n"
    assert format_text(one, "x") == one
    broken = "config {\n    ARCH = x86; PAGE_SIZE = 64; }\ntask t { }\n"
    assert format_text(broken, "x") == "config {\n    ARCH = x86;\n    PAGE_SIZE = 64;\n}\ntask t { }\n"
    keys = " ".join(f"LAST_PKMAP = {n};" for n in range(8))
    assert format_text(f"config {{ {keys} }}\ntask t {{ }}\n", "x").count("\n") == 11


def test_blank_lines_kept_one_at_most_and_none_at_the_ends() -> None:
    src = "\n\n// a\n\n\n\nint g;\n\n\ntask t {\n\n    g = 1;\n\n\n    g = 2;\n\n}\n\n\n"
    assert format_text(src, "x") == "// a\n\nint g;\n\ntask t {\n    g = 1;\n\n    g = 2;\n}\n"


def test_line_ends_tabs_and_byte_order_mark() -> None:
    src = "\ufefftask t {\r\n\tint x = 1;\t// one\r\n}\r\n"
    assert format_text(src.encode(), "x") == "task t {\n    int x = 1; // one\n}\n"


# ------------------------------------------------------------- comments


def test_trailing_comments_are_aligned_and_their_continuations_follow() -> None:
    src = """\
task dma on cpu0 {
    void *p = kmap(P); // first use of the pool
  kunmap(P);      // slot stays mapped
    dma_map_page(P, DMA_FROM_DEVICE); // invalidates
                                      // through page_address(P)
    // an own-line comment
    x = 1;
}
"""
    assert format_text(src, "x") == """\
task dma on cpu0 {
    void *p = kmap(P);                // first use of the pool
    kunmap(P);                        // slot stays mapped
    dma_map_page(P, DMA_FROM_DEVICE); // invalidates
                                      // through page_address(P)
    // an own-line comment
    x = 1;
}
"""


def test_an_authors_wider_comment_column_is_kept() -> None:
    src = "task t {\n    x = 1;                  // one\n    y = 22;  // two\n}\n"
    assert format_text(src, "x") == ("task t {\n    x = 1;                  // one\n"
                                     "    y = 22;                 // two\n}\n")


def test_comments_in_odd_places_stay_in_their_gaps() -> None:
    src = """\
/* a header
 * of two lines */
task t on cpu0 { // opens
    if (x) // why
        y = 1;
    else
        // otherwise
        y = 2;
    if (x) {
        y = 1;
    } // closed
    else {
        y = f(a, /* len */ 4);
    }
    z = a
        // between operands
        + b;
    switch (x) {
    // before a case
    case 1:
        break;
    }
    /* a
       b */ q = 1;
    // last in the body
} // after the task
// at the end
/* the very end */"""
    out = assert_formats_well(src)
    assert out == src + "\n"


def test_block_comments_move_with_their_first_line() -> None:
    src = "task t {\n        /* one\n         * two\n         */\n        x = 1;\n}\n"
    assert format_text(src, "x") == "task t {\n    /* one\n     * two\n     */\n    x = 1;\n}\n"


def test_the_result_block_is_kept_byte_for_byte() -> None:
    block = "// Result: check\n// Result:   odd   spacing \t\n// Result: all 1 expectations hold\n"
    src = "task t {x=1;}\nexpect always t.x == 1;\n\n" + block
    out = format_text(src, "x")
    assert out == "task t {\n    x = 1;\n}\nexpect always t.x == 1;\n\n" + block


# -------------------------------------------------------------- kmap fmt


UGLY = "task t on cpu0 {x=1;}\n"
PRETTY = "task t on cpu0 {\n    x = 1;\n}\n"


def test_fmt_rewrites_in_place_only_what_changes(tmp_path: Path) -> None:
    ugly, pretty = tmp_path / "ugly.kmap", tmp_path / "pretty.kmap"
    ugly.write_text(UGLY)
    pretty.write_text(PRETTY)
    ugly.chmod(0o640)
    before = os.stat(pretty)
    assert kmap("fmt", str(ugly), str(pretty)) == ("", "", 0)
    assert ugly.read_text() == PRETTY
    assert os.stat(ugly).st_mode & 0o777 == 0o640
    after = os.stat(pretty)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pretty.kmap", "ugly.kmap"]


def test_fmt_rewrites_the_target_of_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.kmap"
    real.write_text(UGLY)
    link = tmp_path / "link.kmap"
    link.symlink_to(real)
    assert kmap("fmt", str(link))[2] == 0
    assert link.is_symlink() and real.read_text() == PRETTY


def test_fmt_check_lists_what_would_change_and_writes_nothing(tmp_path: Path) -> None:
    ugly, pretty = tmp_path / "ugly.kmap", tmp_path / "pretty.kmap"
    ugly.write_text(UGLY)
    pretty.write_text(PRETTY)
    assert kmap("fmt", "--check", str(ugly), str(pretty)) == (f"{ugly}\n", "", 1)
    assert ugly.read_text() == UGLY
    assert kmap("fmt", "--check", str(pretty)) == ("", "", 0)


def test_fmt_diff(tmp_path: Path) -> None:
    ugly = tmp_path / "ugly.kmap"
    ugly.write_text(UGLY)
    out, err, code = kmap("fmt", "--diff", str(ugly))
    assert (err, code) == ("", 0)
    assert out == (f"--- {ugly}\n+++ {ugly} (formatted)\n@@ -1 +1,3 @@\n"
                   "-task t on cpu0 {x=1;}\n+task t on cpu0 {\n+    x = 1;\n+}\n")
    assert ugly.read_text() == UGLY
    assert kmap("fmt", "--diff", "--check", str(ugly))[2] == 1


def test_fmt_never_touches_a_file_with_a_syntax_error(tmp_path: Path) -> None:
    bad, ugly = tmp_path / "bad.kmap", tmp_path / "ugly.kmap"
    bad.write_bytes(b"task t on cpu0 { x = ; }\r\n")
    ugly.write_text(UGLY)
    before = os.stat(bad)
    out, err, code = kmap("fmt", str(bad), str(ugly))
    assert code == 65 and out == ""
    assert f"{bad}:1:22: error[E101]: unexpected `;`: expected an expression" in err
    assert bad.read_bytes() == b"task t on cpu0 { x = ; }\r\n"
    assert os.stat(bad).st_mtime_ns == before.st_mtime_ns
    assert ugly.read_text() == PRETTY          # the others are still formatted
    assert kmap("fmt", "--check", str(bad))[2] == 65


def test_fmt_of_a_directory_and_of_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.kmap").write_text(UGLY)
    (tmp_path / "b.kmap").write_text(PRETTY)
    assert kmap("fmt", "--check", str(tmp_path)) == (f"{tmp_path / 'sub' / 'a.kmap'}\n", "", 1)
    out, err, code = kmap("fmt", str(tmp_path / "nope.kmap"))
    assert code == 2 and "nope.kmap: No such file or directory" in err


def test_fmt_of_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(UGLY.encode())))
    assert kmap("fmt", "-") == (PRETTY, "", 0)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(UGLY.encode())))
    assert kmap("fmt", "--check", "-") == ("<stdin>\n", "", 1)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"task t {")))
    out, err, code = kmap("fmt", "-")
    assert code == 65 and out == "" and "<stdin>:1:8: error[E101]: unexpected end of file" in err


def test_a_continuation_stays_one_and_an_own_line_comment_stays_own() -> None:
    # found by test_generated_task_bodies: a label's trailing comment is
    # left of where an own-line comment below it is indented, so that
    # comment is no continuation, printed or read again
    src = "task t {\n    {\nx: // a\n// b\n        y = 1;\n    }\n}\n"
    out = assert_formats_well(src)
    assert out == "task t {\n    {\nx: // a\n        // b\n        y = 1;\n    }\n}\n"


def test_tokens_never_run_together() -> None:
    # found by test_generated_task_bodies: `- -0` printed as `--0` lexes
    # as a decrement; the formatter's own check refused it (FormatBug)
    src = "task t { while (- -0) { } x = - -y; p = & &q; z = a - - b; w = !!x; }"
    assert format_text(src, "x") == ("task t {\n    while (- -0) { }\n    x = - -y;\n"
                                     "    p = & &q;\n    z = a - -b;\n    w = !!x;\n}\n")


def test_a_formatter_bug_leaves_the_file_alone(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # the formatter's own check: output that would parse to another AST
    # is never written (exit 70, a bug of ours)
    from kmap_scenarios.dsl.fmt import format as fmt
    ugly = tmp_path / "ugly.kmap"
    ugly.write_text(UGLY)
    real = fmt.Printer.run
    monkeypatch.setattr(fmt.Printer, "run", lambda self: real(self).replace("1", "2"))
    out, err, code = kmap("fmt", str(ugly))
    assert code == 70 and "parses to another AST" in err and "left as it was" in err
    assert ugly.read_text() == UGLY
