"""Property tests of the front end: it never fails with anything but
InputError, its diagnostics point inside the text, and every program the
grammar generates parses (hypothesis.extra.lark)."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark.lexer import PatternStr

from kmap_scenarios.dsl.syntax import nodes as n
from kmap_scenarios.dsl.syntax.names import KEYWORDS, TYPE_WORDS
from kmap_scenarios.dsl.syntax.source import InputError
from kmap_scenarios.dsl.syntax.parser import build_parser, parse_text, parser
from test_parser import EXAMPLE

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# Lexemes to build token soups from: every keyword and operator, names,
# numbers, strings, comments and the odd stray character.
_OPERATORS = ("( ) [ ] { } ; , . : @ = == != < <= > >= << >> <<= >>= + - * / % & | ^ ! ~ "
              "++ -- && || += -= *= /= %= &= |= ^=").split()
_WORDS = (list(KEYWORDS) + list(TYPE_WORDS)
          + ["kmap", "P", "x", "t", "cpu0", "cpu1", "alloc_page", "GFP_KERNEL", "BUG", "else"])
_LEXEMES = st.sampled_from(_OPERATORS + _WORDS + [
    "0", "42", "0x55", "09", '"s"', '"', "// c\n", "/* c */", "/*", "\n", "$", "'", "#", "\t"])


def _parse_or_input_error(text: str | bytes) -> None:
    """The property: a File, or an InputError whose diagnostics point inside
    the text; nothing else."""
    try:
        f = parse_text(text, "fuzz.kmap")
    except InputError as e:
        assert e.diagnostics
        lines = e.source.text.count("\n") + 1
        for d in e.diagnostics:
            assert d.code.startswith("E1")
            assert 1 <= d.span.line <= lines, d
            assert d.span.col >= 1, d
        str(e)  # renders
    else:
        assert isinstance(f, n.File)


@FAST
@given(st.text())
def test_random_text(text: str) -> None:
    _parse_or_input_error(text)


@FAST
@given(st.binary())
def test_random_bytes(data: bytes) -> None:
    _parse_or_input_error(data)


@FAST
@given(st.lists(_LEXEMES, max_size=60), st.sampled_from([" ", "\n", ""]))
def test_token_soup(lexemes: list[str], sep: str) -> None:
    _parse_or_input_error(sep.join(lexemes))


_EXAMPLE_LEXEMES = [m for m in re.finditer(r"//[^\n]*|\"[^\"]*\"|\w+|\S", EXAMPLE)]


@FAST
@given(st.lists(st.tuples(st.integers(0, len(_EXAMPLE_LEXEMES) - 1),
                          st.sampled_from(["delete", "duplicate", "replace"]), _LEXEMES),
                min_size=1, max_size=4))
def test_mutated_example(edits: list[tuple[int, str, str]]) -> None:
    # Near-valid input exercises the error recovery hardest.
    text = EXAMPLE
    for index, action, lexeme in sorted(edits, key=lambda e: -e[0]):
        m = _EXAMPLE_LEXEMES[index]
        new = {"delete": "", "duplicate": m.group() + " " + m.group(), "replace": lexeme}[action]
        text = text[:m.start()] + new + text[m.end():]
    _parse_or_input_error(text)


def _spaced(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Tokens separated by spaces, so that generated tokens never merge."""
    return strategy.map(lambda s: f" {s} ")


def _terminal_strategies(start: str = "start") -> dict[str, st.SearchStrategy[str]]:
    """Strategies for the terminals reachable from a start rule.

    Names avoid the words that are keywords somewhere (the contextual lexer
    may read them as keywords where both fit), and integers avoid octal
    typos (rejected on purpose). Fixed samples keep generation fast.
    """
    out: dict[str, st.SearchStrategy[str]] = {}
    for term in parser().terminals:
        if isinstance(term.pattern, PatternStr):
            out[term.name] = _spaced(st.just(term.pattern.value))
    out["NAME"] = _spaced(st.sampled_from(["x", "P", "kmap", "cpu0", "_t2", "elsewhere"]))
    out["NUMBER"] = _spaced(st.sampled_from(["0", "7", "42", "0x55", "1UL", "0755"]))
    out["STRING"] = _spaced(st.sampled_from(['""', '"s"', '"a \\" b"', '"\\\\"']))
    out["CPU"] = _spaced(st.integers(0, 12).map(lambda i: f"cpu{i}"))
    out["LINE_COMMENT"] = st.just(" // c\n")
    out["BLOCK_COMMENT"] = st.just(" /* c */ ")
    out["WS"] = st.sampled_from([" ", "\n", "\t"])
    _, rules, ignored = build_parser().grammar.compile([start], ())
    used = {s.name for r in rules for s in r.expansion if s.is_term} | set(ignored)
    return {name: strategy for name, strategy in out.items() if name in used}


# Generation is slow: most draws of the 11-level expression grammar exceed
# hypothesis's depth limit and are discarded, so these run fewer examples.
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(from_lark(build_parser(), explicit=_terminal_strategies()))
def test_generated_programs_parse(text: str) -> None:
    # Whatever the grammar generates is syntactically valid: only the
    # checks after parsing (nesting, something to run, item order) may
    # object to it.
    try:
        parse_text(text, "generated.kmap")
    except InputError as e:
        assert set(e.codes) <= {"E104", "E105", "E106", "E107"}, str(e)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(from_lark(build_parser(), start="block", explicit=_terminal_strategies("block")))
def test_generated_task_bodies_parse(block: str) -> None:
    # Statements are where the grammar is richest: any generated body makes
    # a valid task unless it nests too deeply.
    try:
        f = parse_text(f"task t {block}\n", "generated.kmap")
    except InputError as e:
        assert e.codes == ["E104"], str(e)
    else:
        assert isinstance(f.decls[0], n.TaskDecl)
