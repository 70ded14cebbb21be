"""Pygments lexer for .kmap scenarios (``pygmentize -l kmap FILE``).

Registered through the ``pygments.lexers`` entry point in pyproject.toml.
Every word it colours comes from dsl/editors/vocab.py, which sorts the names of
dsl/syntax/names.py; tests/test_names.py proves they agree, and tests/test_lexer.py
proves that the tokens always rebuild the input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, include, words
from pygments.token import (Comment, Keyword, Name, Number, Operator,
                            Punctuation, String, Whitespace, _TokenType)

from kmap_scenarios.dsl.editors.vocab import (BODY_KEYWORDS, CALL_KEYWORDS, CONFIG_CLASSES,
                       CPU_LABEL_PATTERN, DECIMAL_PATTERN, HEX_PATTERN,
                       IDENTIFIER_PATTERN, OPERATOR_PATTERN, ROOT_CLASSES, WORDS, WordClass)

# The token type of each word class.
TOKEN_OF: dict[WordClass, _TokenType] = {
    WordClass.KEYWORD: Keyword,
    WordClass.QUANTIFIER: Keyword.Pseudo,
    WordClass.TYPE: Keyword.Type,
    WordClass.BUILTIN: Name.Builtin,
    WordClass.CONSTANT: Name.Constant,
    WordClass.REPORT: Name.Exception,
    WordClass.CONFIG_KEY: Name.Variable.Magic,
    WordClass.CONFIG_VALUE: Name.Constant,
}

PUNCTUATION = r"[{}()\[\];,.:]"

# What a RegexLexer callback for a whole match looks like.
_Callback = Callable[[RegexLexer, "re.Match[str]"], Iterator[tuple[int, _TokenType, str]]]
_Rule = tuple[object, ...] | include


def _groups(*types: _TokenType) -> _Callback:
    """pygments.lexer.bygroups with a type: one token type per group."""
    callback: _Callback = bygroups(*types)  # type: ignore[no-untyped-call]
    return callback


def _word_rules(classes: tuple[WordClass, ...]) -> list[_Rule]:
    """One rule per word class: whole words only."""
    return [(words(WORDS[cls], prefix=r"\b", suffix=r"\b"), TOKEN_OF[cls])
            for cls in classes]


def _body_name_rule() -> _Rule:
    """``task NAME`` and ``irq NAME``: the keyword, blanks, the body's name."""
    keywords = "|".join(re.escape(word) for word in BODY_KEYWORDS)
    return (rf"\b({keywords})\b(\s+)({IDENTIFIER_PATTERN})",
            _groups(Keyword, Whitespace, Name.Function))


def _call_keyword_rule() -> _Rule:
    """``schedule(`` is the built-in; ``schedule a, b;`` the keyword."""
    return (words(CALL_KEYWORDS, prefix=r"\b", suffix=r"\b(?=\s*\()"),
            Name.Builtin)


class KmapLexer(RegexLexer):
    """Lexer for the kmap scenario language (.kmap files)."""

    name = "kmap"
    aliases = ["kmap"]
    filenames = ["*.kmap"]
    mimetypes = ["text/x-kmap"]

    tokens: ClassVar[dict[str, list[_Rule]]] = {
        "root": [
            (r"\b(config)(\s*)(\{)", _groups(Keyword, Whitespace, Punctuation),
             "config"),
            include("base"),
        ],
        # Inside ``config { }`` the keys and their named values are coloured.
        "config": [
            (r"\}", Punctuation, "#pop"),
            *_word_rules(CONFIG_CLASSES),
            include("base"),
        ],
        "base": [
            # A line break ends its own token, so goldens read line by line.
            (r"[^\S\n]*\n", Whitespace),
            (r"[^\S\n]+", Whitespace),
            (r"//.*?$", Comment.Single),
            (r"/\*[\s\S]*?(?:\*/|\Z)", Comment.Multiline),
            (r'"', String.Double, "string"),
            (HEX_PATTERN, Number.Hex),
            (DECIMAL_PATTERN, Number.Integer),
            _body_name_rule(),
            _call_keyword_rule(),
            *_word_rules(ROOT_CLASSES),
            (rf"\b{CPU_LABEL_PATTERN}\b", Name.Label),
            (IDENTIFIER_PATTERN, Name),
            (OPERATOR_PATTERN, Operator),
            (PUNCTUATION, Punctuation),
        ],
        # Only \" and \\ are escapes; a newline ends an unterminated string
        # (RegexLexer then returns to "root").
        "string": [
            (r'"', String.Double, "#pop"),
            (r'\\[\\"]', String.Escape),
            (r'[^"\\\n]+', String.Double),
            (r"\\", String.Double),
        ],
    }
