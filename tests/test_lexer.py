"""The Pygments lexer: golden token files and the round-trip property.

tests/lexer/NAME.kmap is paired with NAME.tokens in the Pygments test-file
layout: one ``'value'  TokenType`` line per token (the type without its
``Token.`` prefix) and an empty line after every token that ends a line.
``pytest --update-goldens`` rewrites the .tokens files, after checking that
the tokens rebuild the input.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pygments.token import Error, Token, _TokenType

from kmap_scenarios.dsl.editors.lexer import KmapLexer

LEXER_DIR = Path(__file__).parent / "lexer"
SAMPLES = sorted(LEXER_DIR.glob("*.kmap"))

# Pieces of .kmap text that reach every lexer state, and its edges
# (unterminated strings and comments, a config block left open).
FRAGMENTS = (
    "config", "{", "}", " ", "\n", "\t", "\r\n", "//", "/*", "*/", '"', "\\",
    '\\"', "\\\\", "ARCH", "=", "arm", "y", ";", "schedule", "(", ")", "task",
    "irq", "t1", "on", "cpu0", "cpu", "0x", "0x1f", "42", "kmap", "BUG",
    "always", "int", "PAGE_SIZE", "NULL", "++", "<<=", "&&", "|", ".", ":",
    "é", "\x00", "@", "#", "`",
)


def _lexer() -> KmapLexer:
    """A lexer that leaves the input exactly as it is (no newline fixes)."""
    return KmapLexer(stripnl=False, ensurenl=False)


def _tokens(text: str) -> list[tuple[_TokenType, str]]:
    return list(_lexer().get_tokens(text))


def format_tokens(tokens: list[tuple[_TokenType, str]]) -> str:
    """The golden text of a token stream (Pygments' own layout)."""
    lines = []
    for ttype, value in tokens:
        lines.append(f"{value!r:<13} {str(ttype)[len('Token.'):]}")
        if value.endswith("\n"):
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def parse_tokens(golden: str) -> list[tuple[_TokenType, str]]:
    """The token stream written in a golden text."""
    tokens = []
    for line in golden.splitlines():
        if not line:
            continue
        literal, _, type_name = line.rpartition(" ")
        ttype = Token
        for part in type_name.split("."):
            ttype = getattr(ttype, part)
        tokens.append((ttype, ast.literal_eval(literal.rstrip())))
    return tokens


def _rebuilt(tokens: list[tuple[_TokenType, str]]) -> str:
    return "".join(value for _, value in tokens)


# ------------------------------------------------------------------ goldens


def test_there_are_samples() -> None:
    assert SAMPLES, f"no .kmap samples in {LEXER_DIR}"


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_golden_tokens(sample: Path, update_goldens: bool) -> None:
    text = sample.read_text(encoding="utf-8")
    tokens = _tokens(text)
    assert _rebuilt(tokens) == text, "the tokens do not rebuild the input"
    errors = [value for ttype, value in tokens if ttype is Error]
    assert not errors, f"Error tokens in a sample: {errors!r}"
    actual = format_tokens(tokens)
    golden = sample.with_suffix(".tokens")
    if update_goldens:
        golden.write_text(actual, encoding="utf-8")
        return
    assert golden.is_file(), f"{golden.name} is missing: run pytest --update-goldens"
    expected = golden.read_text(encoding="utf-8")
    assert _rebuilt(parse_tokens(expected)) == text, f"{golden.name} does not rebuild {sample.name}"
    assert actual == expected, f"tokens differ from {golden.name}: run pytest --update-goldens"


def test_golden_format_round_trips() -> None:
    tokens = _tokens('scenario "a\\"b";\n\n/* x\ny */ q')
    assert parse_tokens(format_tokens(tokens)) == tokens


# --------------------------------------------------------------- round trip


@given(st.text())
def test_any_text_round_trips(text: str) -> None:
    offset = 0
    for index, _, value in _lexer().get_tokens_unprocessed(text):
        assert index == offset
        offset += len(value)
    assert offset == len(text)


@given(st.lists(st.sampled_from(FRAGMENTS)).map("".join))
def test_kmap_like_text_round_trips(text: str) -> None:
    values = [value for _, _, value in _lexer().get_tokens_unprocessed(text)]
    assert "".join(values) == text
    assert all(values), "an empty token"


@given(st.text().filter(lambda t: "\r" not in t and not t.startswith("\ufeff")))
def test_get_tokens_round_trips(text: str) -> None:
    # get_tokens() rewrites \r and drops a leading BOM; nothing else.
    assert _rebuilt(_tokens(text)) == text


# --------------------------------------------------------------- behaviour


@pytest.mark.parametrize(("text", "expected"), [
    ("schedule a, b;", ("Keyword", "schedule")),
    ("schedule ();", ("Name.Builtin", "schedule")),
    ("task t1 on cpu3 {", ("Name.Function", "t1")),
    ("task t1 on cpu3 {", ("Name.Label", "cpu3")),
    ("x = cpu;", ("Name", "cpu")),
    ("config { PAGE_SIZE = 64; }", ("Name.Variable.Magic", "PAGE_SIZE")),
    ("x = PAGE_SIZE;", ("Name.Constant", "PAGE_SIZE")),
    ("config { CACHE = vivt; }", ("Name.Constant", "vivt")),
    ("x = vivt;", ("Name", "vivt")),
    ("x = 0x1F;", ("Literal.Number.Hex", "0x1F")),
    ('"a\\"b"', ("Literal.String.Escape", '\\"')),
    ("a <<= b", ("Operator", "<<")),
    ("// c\n", ("Comment.Single", "// c")),
    ("/* a\n b */", ("Comment.Multiline", "/* a\n b */")),
    ("/* open", ("Comment.Multiline", "/* open")),
])
def test_token_types(text: str, expected: tuple[str, str]) -> None:
    seen = [(str(ttype)[len("Token."):], value) for ttype, value in _tokens(text)]
    assert expected in seen


def test_unterminated_string_ends_at_the_line() -> None:
    tokens = _tokens('"open\nkmap')
    assert tokens[-1] == (Token.Name.Builtin, "kmap")


def test_config_block_ends_at_its_brace() -> None:
    tokens = _tokens("config { ARCH = arm; } ARCH")
    assert tokens[-1] == (Token.Name, "ARCH")


# ------------------------------------------------------------ registration


def _installed() -> bool:
    """Whether the pygments.lexers entry point is installed."""
    return any(ep.name == "kmap" for ep in
               importlib.metadata.entry_points(group="pygments.lexers"))


@pytest.mark.skipif(not _installed(), reason="kmap-scenarios is not installed")
def test_entry_point_finds_the_lexer() -> None:
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
    assert type(get_lexer_by_name("kmap")).__name__ == "KmapLexer"
    assert type(get_lexer_for_filename("x.kmap")).__name__ == "KmapLexer"


@pytest.mark.skipif(not _installed(), reason="kmap-scenarios is not installed")
def test_pygmentize_highlights_a_sample() -> None:
    sample = SAMPLES[0]
    done = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", "kmap", "-f", "html", str(sample)],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert re.search(r'<span class="nb">kmap</span>', done.stdout)
