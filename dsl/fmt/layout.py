"""What goes between two tokens: the house layout (docs/formatting.md).

A gap is a line break (with or without a kept blank line), one space or
nothing. A *soft* gap (after a comma, around a binary or assignment
operator, `?` and `:`) keeps a line break the source had there, so that a
long condition or argument list stays broken where its author broke it;
a *hard* one never breaks unless a comment forces it.
"""

from __future__ import annotations

import enum

from kmap_scenarios.dsl.fmt.tokens import Tok


class Gap(enum.Enum):
    BLANK = "break, a blank line kept"   # between statements and items
    BREAK = "break"                      # after `{`, before `}`
    SPACE = "space"
    NONE = "nothing"


INDENT = "    "
CONTINUATION = 1    # extra level of a continued line outside parentheses
LABEL_RULES = frozenset({"label_stmt", "case_label", "default_label"})
UNARY_RULES = frozenset({"unary", "deref", "addr_of"})
OPERATOR_RULES = frozenset({"binary", "ternary", "assign", "declarator", "int_decl",
                            "percpu_decl", "config_item", "page_decl"})
OPENERS = frozenset({"(", "["})
CLOSERS = frozenset({")", "]", ";", ","})
CALL_RULES = frozenset({"call", "typed_call", "func_def", "func_def_int", "sizeof_type",
                        "define_mutex"})
WORDS = frozenset({"NAME", "NUMBER", "STRING", "CPU"})


def gap(p: Tok, t: Tok, flat: bool = False) -> tuple[Gap, bool]:
    """The gap between ``p`` and ``t``, and whether it is soft; ``flat``:
    both are in a config block kept on one line."""
    if flat:
        return inline(p, t)
    if t.item:
        return Gap.BLANK, False
    if t.text == "{" and t.rule == "block" and t.grand is not None and str(t.grand.data) in (
            "func_def", "func_def_int"):
        return Gap.BREAK, False   # a function's body brace on its own line, as the kernel
    if t.text == "}" and p.text == "{" and p.parent is t.parent:
        return Gap.SPACE, False   # `{ }`
    if t.stmt:
        return (Gap.BREAK if p.text == "{" else Gap.BLANK), False
    if t.text == "}" or (p.text == "{" and p.rule in ("block", "switch_stmt", "config")):
        return Gap.BREAK, False
    if p.rule in LABEL_RULES and p.text == ":":
        return Gap.BREAK, False
    if t.text in ("else", "while") and t.rule in ("if_stmt", "do_stmt"):
        # `} else`, `} while (x);` after a block body; a braceless body
        # ends its line
        closes_body = p.text == "}" and p.grand is t.parent
        return (Gap.SPACE if closes_body else Gap.BREAK), False
    return inline(p, t)


# Character pairs that would lex as one token (C's maximal munch) or
# open a comment if nothing stood between them: `- -x` is not `--x`.
_MERGING = frozenset({"++", "--", "&&", "||", "<<", ">>", "==", "!=", "<=", ">=", "+=", "-=",
                      "*=", "/=", "%=", "&=", "|=", "^=", "//", "/*", "*/"})


def inline(p: Tok, t: Tok) -> tuple[Gap, bool]:
    """Space or nothing between two tokens of one line; nothing only where
    the two cannot run together."""
    kind, soft = _inline_gap(p, t)
    if kind is Gap.NONE and (p.text[-1] + t.text[0] in _MERGING
                            or (_word(p) and (_word(t) or t.text[0].isdigit()))):
        return Gap.SPACE, soft
    return kind, soft


def _inline_gap(p: Tok, t: Tok) -> tuple[Gap, bool]:
    soft = (p.text == "," or (p.rule in OPERATOR_RULES and not _word(p) and p.text not in "()")
            or (t.rule in OPERATOR_RULES and not _word(t) and t.text not in "(),;"))
    if t.text in CLOSERS or p.text in OPENERS:
        if p.rule == "for_stmt" and p.text == ";" and t.text not in (";", ")"):
            return Gap.SPACE, False   # `for (i = 0; i < n; i++)`
        return Gap.NONE, False
    if t.text == "(" and (t.rule in CALL_RULES or p.text == "sizeof"):
        return Gap.NONE, False
    if t.text == "[":
        return Gap.NONE, False
    if p.rule in UNARY_RULES:
        return Gap.NONE, False    # the operator: the operand is a tree of its own
    if p.rule == "cast" and p.text == ")":
        return Gap.NONE, False    # `(void *)p`
    if t.rule == "inc_dec" and t.text in ("++", "--"):
        return Gap.NONE, False
    if "." in (p.text, t.text) and "member" in (p.rule, t.rule):
        return Gap.NONE, False
    if (p.rule == "sched_item" and p.text in "@:") or (t.rule == "sched_item" and t.text in "@:"):
        return Gap.NONE, False    # `dma@cpu1:2`
    if t.text == ":" and t.rule in LABEL_RULES:
        return Gap.NONE, False
    if p.text == "*" and p.rule in ("ctype", "rtype"):
        return Gap.NONE, False    # `void *p`, `char *const s`
    return Gap.SPACE, soft


def _word(tok: Tok) -> bool:
    return tok.kind in WORDS or tok.text[:1].isalpha() or tok.text[:1] == "_"

