"""Word classes for highlighting, derived from kmap_scenarios.dsl.syntax.names and runtime.config.

The Pygments lexer (dsl/editors/lexer.py) and the editor grammars (dsl/editors/generate.py)
colour exactly these words; this module only sorts the names of dsl/syntax/names.py
(and, for the ``config { }`` block, of runtime/kernel/config.py) into classes.
tests/test_names.py proves the lexer, the TextMate grammar and the Vim
syntax agree with it, and that it covers ``kmap_scenarios.dsl.syntax.names.ALL_NAMES`` exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from kmap_scenarios.dsl.syntax import names
from kmap_scenarios.runtime.kernel import config


class WordClass(Enum):
    """How a word is highlighted."""

    KEYWORD = "keyword"
    QUANTIFIER = "quantifier"
    TYPE = "type"
    BUILTIN = "builtin"
    CONSTANT = "constant"
    REPORT = "report"
    CONFIG_KEY = "config_key"      # only inside ``config { }``
    CONFIG_VALUE = "config_value"  # only inside ``config { }``


# The values of boolean config keys (kmap_scenarios.runtime.kernel.config._check_value).
BOOL_VALUES = ("y", "n")


def _sorted(*groups: Iterable[str]) -> tuple[str, ...]:
    """The sorted union of some collections of words."""
    out: set[str] = set()
    for group in groups:
        out.update(group)
    return tuple(sorted(out))


WORDS: dict[WordClass, tuple[str, ...]] = {
    WordClass.KEYWORD: tuple(sorted(set(names.KEYWORDS) - set(names.QUANTIFIERS))),
    WordClass.QUANTIFIER: _sorted(names.QUANTIFIERS),
    WordClass.TYPE: _sorted(names.TYPE_WORDS),
    WordClass.BUILTIN: _sorted(names.BUILTINS, names.ALLOCATORS),
    WordClass.CONSTANT: _sorted(names.CONSTANTS, names.CONFIG_NAMES,
                                names.USER_PAGE_STATES),
    WordClass.REPORT: _sorted(names.REPORT_KINDS),
    WordClass.CONFIG_KEY: _sorted(config.KEYS),
    WordClass.CONFIG_VALUE: _sorted(BOOL_VALUES, *config.NAME_KEYS.values()),
}

# Classes coloured everywhere; the other two only inside ``config { }``.
ROOT_CLASSES = (WordClass.KEYWORD, WordClass.QUANTIFIER, WordClass.TYPE,
                WordClass.BUILTIN, WordClass.CONSTANT, WordClass.REPORT)
CONFIG_CLASSES = (WordClass.CONFIG_KEY, WordClass.CONFIG_VALUE)

# Keywords that are also built-in functions (``schedule a, b;`` against
# ``schedule();``): a built-in when a '(' follows, a keyword otherwise.
CALL_KEYWORDS = tuple(sorted(set(names.KEYWORDS) & set(names.BUILTINS)))

# ``task NAME`` / ``irq NAME``: the word after these names a body.
BODY_KEYWORDS = ("irq", "task")

# Lexical patterns the lexer and the editor grammars share (docs/language.md,
# "Lexical rules"): plain regular expressions that Python and Oniguruma
# (VS Code) read alike; dsl/editors/generate.py rewrites the few Vim needs.
IDENTIFIER_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"
# Integer literals with the suffixes of kernel code (`1UL << n`): grammar/kmap.lark's
# NUMBER, one pattern for hex and one for decimal (tests/test_names.py compares them).
INT_SUFFIX_PATTERN = r"(?:[uU](?:ll|LL|l|L)?|(?:ll|LL|l|L)[uU]?)?"
HEX_PATTERN = r"0[xX][0-9a-fA-F]+" + INT_SUFFIX_PATTERN
DECIMAL_PATTERN = r"[0-9]+" + INT_SUFFIX_PATTERN
CPU_LABEL_PATTERN = r"cpu[0-9]+"  # ``cpuN`` in ``task NAME on cpuN``
# Longest first, so that '<<' is one token and not two '<'.
OPERATOR_PATTERN = (r"\+\+|--|\+=|-=|<<|>>|<=|>=|==|!=|&&|\|\|"
                    r"|[-+*/%&|^~!<>=]")


def root_class_of(word: str) -> WordClass | None:
    """The class of a word outside ``config { }``, ignoring CALL_KEYWORDS."""
    for cls in ROOT_CLASSES:
        if word in WORDS[cls]:
            return cls
    return None
