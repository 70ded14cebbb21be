"""Syntax errors in human words: readable token names and the known-bad table.

The parser driver (dsl/syntax/driver.py) describes each failure as an
``ErrorContext``: the unexpected token, the tokens before it, what the parser
could have accepted and which brackets are open. ``explain`` turns that into
one ``Diagnostic``: the first entry of ``KNOWN_ERRORS`` that recognises the
situation gives a targeted message and hint; otherwise a generic
"unexpected X: expected Y" is built from the accepted terminals. Every entry
carries the bad inputs it is meant for, and tests/test_syntax_errors.py walks
the table to prove each example still lands on its entry.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from lark import Token

from kmap_scenarios.dsl.syntax.build import token_span
from kmap_scenarios.dsl.syntax.names import TYPE_WORDS
from kmap_scenarios.dsl.syntax.nodes import TYPES, Span
from kmap_scenarios.dsl.syntax.source import Diagnostic, did_you_mean

# Words that start a top-level item (the `int` of `int G = 0;` included, and
# the words a function definition starts with).
ITEM_KEYWORDS = ("scenario", "config", "page", "int", "percpu", "spinlock_t", "struct",
                 "DEFINE_MUTEX", "task", "irq", "softirq", "schedule", "expect")
TOPLEVEL_WORDS = ITEM_KEYWORDS + ("static", "inline", "__always_inline", "noinline") + tuple(
    w for w in TYPE_WORDS if w not in ITEM_KEYWORDS)
# The words a function definition starts with, but not a global's `int`.
_NOT_INT_STARTS = frozenset(TOPLEVEL_WORDS[len(ITEM_KEYWORDS):]) | {"struct"}

# Named regexp terminals of grammar/kmap.lark, as prose.
_TERMINAL_PROSE = {
    "NAME": "a name",
    "NUMBER": "an integer",
    "STRING": "a string",
    "CPU": "a CPU such as `cpu0`",
    "$END": "the end of the file",
}

_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}

_EXPR_START = frozenset({"NAME", "NUMBER", "STRING", "(", "-", "!", "~", "*", "&", "sizeof"})
_STMT_WORDS = frozenset({"if", "while", "for", "do", "switch", "return", "goto", "break",
                        "continue", "{"} | set(TYPE_WORDS))
_OPERATORS = frozenset({"||", "&&", "|", "^", "&", "==", "!=", "<", "<=", ">", ">=", "<<", ">>",
                        "+", "-", "*", "/", "%", "[", "(", ".", "++", "--", "?",
                        "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="})
ASSIGN_OPS = frozenset({"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="})

# Order of the items in an "expected ..." list: closers first, prose last.
_RANK = {";": 0, ")": 1, "]": 2, "}": 3, ",": 4, "{": 5, "=": 6}


@dataclass(frozen=True)
class Opener:
    """An open bracket and the token just before it (``if``, a call's name...)."""

    token: Token
    owner: Token | None


@dataclass(frozen=True)
class ErrorContext:
    """Everything the driver knows about one syntax error.

    Terminal names are translated to their text (``";"``, ``"task"``) or kept
    for the named regexp terminals (NAME, NUMBER, STRING, CPU, $END), so that
    the rules below read like the grammar.
    """

    token: Token                # the unexpected token ($END at the end of the file)
    kind: str                   # its text or named-terminal name
    history: tuple[Token, ...]  # the last tokens accepted, oldest first
    accepts: frozenset[str]     # what the parser could have accepted instead
    open: tuple[Opener, ...]    # unclosed brackets, outermost first
    item: tuple[Token, ...]     # the first tokens of the current top-level item
    stmt_first: Token | None    # the first token of the current statement in a body

    @property
    def prev(self) -> Token | None:
        """The last token accepted."""
        return self.history[-1] if self.history else None

    @property
    def item_word(self) -> str:
        """The keyword that started the current top-level item, or ''."""
        return str(self.item[0]) if self.item else ""

    @property
    def in_config(self) -> bool:
        """Inside the braces of `config { ... }`."""
        return self.item_word == "config" and bool(self.open)


@dataclass(frozen=True)
class Explanation:
    """What ``explain`` found: the diagnostic and the rule that matched."""

    rule: str
    diagnostic: Diagnostic


Rule = Callable[[ErrorContext], "tuple[str, str, Span] | None"]


@dataclass(frozen=True)
class KnownError:
    """One entry of the known-bad table: a recogniser and the inputs it targets."""

    name: str
    recognise: Rule
    examples: tuple[str, ...]


# ------------------------------------------------------------------- prose


def describe_expected(kind: str) -> str:
    """A terminal in an "expected ..." list: "`;`" or "a name"."""
    return _TERMINAL_PROSE.get(kind, f"`{kind}`")


def describe_token(tok: Token, kind: str) -> str:
    """The unexpected token in prose: "name `foo`", "`;`", "end of file"."""
    if kind == "$END":
        return "end of file"
    if kind == "NAME":
        return f"name `{tok}`"
    if kind == "NUMBER":
        return f"integer `{tok}`"
    if kind == "STRING":
        text = str(tok)
        return f"string {text if len(text) <= 24 else text[:20] + '...' + chr(34)}"
    if kind.isidentifier():
        return f"keyword `{tok}`"
    return f"`{tok}`"


def _join(items: list[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def expected_prose(accepts: frozenset[str]) -> str:
    """The accepted terminals, grouped into "an expression", "a statement"...

    Long sets of alternatives read badly; the groups are what a C programmer
    would say instead.
    """
    rest = set(accepts)
    groups: list[str] = []
    if {"task", "expect"} <= rest:
        rest -= set(TOPLEVEL_WORDS)
        groups.append("a top-level item (`task`, `irq`, `page`, `int`, `expect`...)")
    if {"NAME", "NUMBER", "("} <= rest:
        if "if" in rest:
            rest -= _EXPR_START | _STMT_WORDS
            groups.append("a statement")
        else:
            rest -= _EXPR_START
            groups.append("an expression")
    if {"+", "=="} <= rest:
        rest -= _OPERATORS
        groups.append("an operator")
    listed = sorted(rest, key=lambda k: (k not in _RANK, _RANK.get(k, 0), k in _TERMINAL_PROSE, k))
    return _join([describe_expected(k) for k in listed] + groups)


def opener_prose(ctx: ErrorContext, index: int) -> str:
    """What the open bracket ``ctx.open[index]`` belongs to, in prose."""
    op = ctx.open[index]
    owner = str(op.owner) if op.owner is not None else ""
    if str(op.token) == "{" and index == 0:
        if ctx.item_word in ("task", "irq") and len(ctx.item) > 1:
            return f"the body of {ctx.item_word} `{ctx.item[1]}`"
        if ctx.item_word == "config":
            return "`config`"
    if str(op.token) == "(":
        if owner in ("if", "while", "for"):
            return f"the `{owner}` condition" if owner != "for" else "the `for` header"
        if op.owner is not None and op.owner.type == "NAME":
            return f"the call to `{owner}`"
    if str(op.token) == "{" and owner == "else":
        return "the `else` block"
    return "the block" if str(op.token) == "{" else f"the `{op.token}`"


def _after(tok: Token) -> Span:
    """A one-character span just after a token (where a missing `;` goes)."""
    line, col = tok.end_line or 0, tok.end_column or 0
    return Span(line, col, line, col + 1)


def _statement_what(ctx: ErrorContext) -> str:
    """What a missing `;` would end, in prose."""
    if ctx.in_config:
        return "the config item"
    if ctx.open:
        return "the statement"
    word = ctx.item_word
    name = f" `{ctx.item[1]}`" if len(ctx.item) > 1 and ctx.item[1].type == "NAME" else ""
    return {
        "scenario": "the scenario name",
        "page": f"the declaration of page{name}",
        "int": f"the declaration of{name or ' the integer'}",
        "percpu": "the percpu declaration",
        "spinlock_t": f"the declaration of spinlock{name}",
        "schedule": "the schedule",
        "expect": "the expectation",
    }.get(word, "the item")


# ------------------------------------------------------------ the recognisers


def _unclosed_at_eof(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """End of file inside brackets: point at the bracket that is never closed."""
    if ctx.kind != "$END" or not ctx.open:
        return None
    op = ctx.open[-1].token
    what = opener_prose(ctx, len(ctx.open) - 1)
    return (f"unexpected end of file: the `{op}` of {what} at line {op.line} is never closed",
            f"add `{_OPENERS[str(op)]}` to close {what}", token_span(op))


def _toplevel_word_in_body(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """`task b ...` at column 1 while a body is still open: a missing `}`."""
    if not ctx.open:
        return None
    candidates = [ctx.token] + ([ctx.prev] if ctx.prev is not None and ctx.prev is ctx.stmt_first
                                else [])
    for tok in candidates:
        keyword_or_name = tok.type in ("NAME", str(tok).upper())
        if str(tok) in TOPLEVEL_WORDS and tok.column == 1 and keyword_or_name:
            outer = opener_prose(ctx, 0)
            return (f"`{tok}` at the start of a line inside {outer}: is a `}}` missing?",
                    f"the `{ctx.open[0].token}` of {outer} at line {ctx.open[0].token.line} "
                    "is still open here", token_span(tok))
    return None


def _unmatched_closer(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """A `)`, `]` or `}` that closes nothing, or the wrong bracket."""
    if ctx.kind not in _CLOSERS or ctx.kind in ctx.accepts:
        return None
    if not ctx.open:
        return (f"unmatched `{ctx.kind}`", "remove it, or add the opening bracket it was meant "
                "to close", token_span(ctx.token))
    inner = ctx.open[-1].token
    if _OPENERS[str(inner)] == ctx.kind:
        return None
    return (f"`{ctx.kind}` does not close the `{inner}` of {opener_prose(ctx, len(ctx.open) - 1)} "
            f"at line {inner.line}", f"expected `{_OPENERS[str(inner)]}` first",
            token_span(ctx.token))


def _statement_at_top_level(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """A statement or call where a top-level item should start."""
    if ctx.open or "task" not in ctx.accepts:
        return None
    word = str(ctx.token)
    if ctx.kind == "NAME":
        hint = did_you_mean(word, TOPLEVEL_WORDS)
        if hint:
            return f"unknown top-level item `{word}`", hint, token_span(ctx.token)
    elif ctx.kind not in _STMT_WORDS or ctx.kind in TYPE_WORDS:
        return None
    return (f"`{word}` at top level: statements and calls belong inside a task, irq or "
            "function body",
            "put it in `task NAME on cpu0 { ... }`; at top level come `scenario`, `config`, "
            "`page`, `int`, `percpu`, `spinlock_t`, functions, `task`, `irq`, `schedule` and "
            "`expect`", token_span(ctx.token))


def _type_at_top_level(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """`u8 G = 1;`, `void *p = kmap(P);` or `static int g;` at top level: a
    type and a name that turn out not to start a function (no `(`)."""
    if ctx.open or ctx.kind not in ("=", ";", "[") or "(" not in ctx.accepts:
        return None
    first = ctx.item[0] if ctx.item else None
    if first is None or str(first) not in _NOT_INT_STARTS:
        return None
    return (f"`{first}` at top level: globals are `int` or `percpu int`",
            "write `int NAME = EXPR;` here, or declare the variable inside a task body",
            token_span(first))


def _assign_in_condition(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """`=` in an expect or if/while condition, where `==` was meant."""
    if ctx.kind != "=" or "=" in ctx.accepts:
        return None
    in_cond = ctx.item_word == "expect" or any(
        str(op.token) == "(" and str(op.owner) in ("if", "while") for op in ctx.open)
    if not in_cond:
        return None
    return ("`=` in a condition: use `==` to compare", "`=` assigns, and only as a statement",
            token_span(ctx.token))


def _assign_in_expression(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """An assignment operator inside an expression."""
    prev = ctx.prev
    if ctx.kind not in ASSIGN_OPS or ctx.kind in ctx.accepts or prev is None:
        return None
    if not (prev.type in ("NAME", "NUMBER", "STRING") or str(prev) in (")", "]")):
        return None  # `x = = 1`: the generic "expected an expression" says it best
    return (f"`{ctx.kind}` inside an expression: assignment is a statement of its own",
            "split it into two statements, e.g. `x = 1; y = x;`", token_span(ctx.token))


def _incdec_in_expression(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """`y = x++;`: increments are statements only."""
    if ctx.kind not in ("++", "--") or ctx.kind in ctx.accepts:
        return None
    return (f"`{ctx.kind}` inside an expression: `x{ctx.kind}` is a statement of its own",
            f"write `x{ctx.kind};` as its own statement, or use `x {ctx.kind[0]} 1`",
            token_span(ctx.token))


def _cpu_expected(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """`on 0`, `on cpu`, `@x`: a CPU must be written cpuN."""
    if ctx.accepts != frozenset({"CPU"}):
        return None
    after = f" after `{ctx.prev}`" if ctx.prev is not None else ""
    hint = (f"write `cpu{ctx.token}`" if ctx.kind == "NUMBER"
            else "CPUs are named `cpu0`, `cpu1`, ... below NR_CPUS")
    return (f"expected a CPU such as `cpu0`{after}, found {describe_token(ctx.token, ctx.kind)}",
            hint, token_span(ctx.token))


def _body_needs_braces(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """A task or irq body without braces."""
    if "{" not in ctx.accepts or ctx.kind in ("{", "$END") or ctx.open:
        return None
    if ctx.item_word not in ("task", "irq") or len(ctx.item) < 2:
        return None
    word, name = ctx.item_word, ctx.item[1]
    return (f"the body of {word} `{name}` must be a block in braces",
            f"put the statements of {word} `{name}` between `{{` and `}}`",
            token_span(ctx.token))


def _scenario_needs_string(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """`scenario foo;`: the name is a string literal."""
    if ctx.accepts != frozenset({"STRING"}) or str(ctx.prev) != "scenario":
        return None
    return ("the scenario name must be a string", 'write `scenario "name";`',
            token_span(ctx.token))


def _schedule_comma(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """`schedule a b;`: items are separated by commas."""
    if ctx.item_word != "schedule" or ctx.kind != "NAME" or "," not in ctx.accepts:
        return None
    return ("schedule items are separated by `,`", "write `schedule a:2, b, a;`",
            token_span(ctx.token))


def _else_without_if(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """`else` where no `if` block just ended (it then lexes as a name)."""
    prev = ctx.prev
    if ctx.kind == "else" and "else" not in ctx.accepts:
        tok = ctx.token
    elif prev is not None and prev is ctx.stmt_first and str(prev) == "else":
        tok = prev
    else:
        return None
    return ("`else` without a matching `if`", "an `else` must directly follow the `}` of an `if`",
            token_span(tok))


def _unsupported_statement(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """`foo_t x;`, `struct inode *i;`: a name followed by a name."""
    prev = ctx.prev
    if prev is None or prev is not ctx.stmt_first or prev.type != "NAME" or ctx.in_config:
        return None
    word = str(prev)
    if word == "case":
        return ("`case` outside a switch", "case labels go directly in a switch body: "
                "switch (x) { case 1: ... }", token_span(prev))
    if not (ctx.kind in ("NAME",) or ctx.kind in TYPE_WORDS):
        return None
    hint = did_you_mean(word, [t.rstrip(" *") for t in TYPES]) or (
        "declaration types are " + ", ".join(f"`{t}`" for t in TYPES))
    return f"unknown type `{word}`", hint, token_span(prev)


def _spinlock_initialiser(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """`spinlock_t L = 0;` (or `= __SPIN_LOCK_UNLOCKED(L)`)."""
    if ctx.kind != "=" or ctx.item_word != "spinlock_t" or ctx.open:
        return None
    return ("a `spinlock_t` takes no initialiser", "write `spinlock_t L;`: it starts unlocked",
            token_span(ctx.token))


def _unsupported_pointer_type(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """`int *p`, `(long *)x`: only the pointer types of nodes.TYPES exist."""
    prev = ctx.prev
    if ctx.kind != "*" or prev is None or str(prev) not in TYPE_WORDS \
            or not {"NAME", ")"} & ctx.accepts:
        return None
    pointers = ", ".join(f"`{t}`" for t in TYPES if t.endswith("*"))
    return (f"`{prev} *` is not a supported declaration type", f"pointer types are {pointers}",
            token_span(ctx.token))


def _float_literal(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """`1.5`: the kernel has no floating point, and neither does the model."""
    prev = ctx.prev
    if ctx.kind != "." or prev is None or prev.type != "NUMBER" or "." in ctx.accepts:
        return None
    return ("floating-point numbers are not supported", "values are integers, as in the kernel",
            token_span(ctx.token))


def _semicolon_after_brace(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """`task t { ... };`: no `;` after a closing brace."""
    if ctx.kind != ";" or str(ctx.prev) != "}" or ";" in ctx.accepts:
        return None
    return ("unexpected `;` after `}`", "remove it: a block is not followed by `;`",
            token_span(ctx.token))


def _missing_semicolon(ctx: ErrorContext) -> tuple[str, str, Span] | None:
    """A `;` would end what is there and the next token is on a later line,
    or is `}`. (Where a statement could start instead, as after `if (x)`, a
    `;` would be an empty statement, not the thing that is missing.)"""
    prev = ctx.prev
    if ";" not in ctx.accepts or prev is None or {"NAME", "{"} & ctx.accepts:
        return None
    if not (ctx.kind in ("$END", "}") or (ctx.token.line or 0) > (prev.end_line or 0)):
        return None
    return (f"expected `;` after {_statement_what(ctx)}",
            "statements and declarations end with `;`", _after(prev))


MISSING_SEMICOLON = "missing semicolon"
TOPLEVEL_IN_BODY = "top-level word in a body"

KNOWN_ERRORS: tuple[KnownError, ...] = (
    KnownError("unclosed at end of file", _unclosed_at_eof, (
        "task t on cpu0 {\n    kmap(P);\n",
        "task t on cpu0 { if (x) { foo();\n}\n",
        "config {\n  ARCH = arm;\n",
    )),
    KnownError(TOPLEVEL_IN_BODY, _toplevel_word_in_body, (
        "task a on cpu0 {\n    foo();\ntask b on cpu0 {\n}\n",
        "task a on cpu0 {\n    foo();\nexpect never BUG;\n",
        "config {\n  ARCH = arm;\npage P = alloc_page(GFP_KERNEL);\n",
    )),
    KnownError("unmatched closer", _unmatched_closer, (
        "task t on cpu0 { foo(); }\n}\n",
        "task t on cpu0 { foo(1]; }\n",
    )),
    KnownError("statement at top level", _statement_at_top_level, (
        "page P = alloc_page(GFP_KERNEL);\nkmap(P);\n",
        "if (x) { }\n",
        "taks t on cpu0 { }\n",
    )),
    KnownError("non-int global", _type_at_top_level, (
        "void *p = kmap(P);\n",
        "u8 G = 1;\n",
        "static int g;\n",
    )),
    KnownError(MISSING_SEMICOLON, _missing_semicolon, (
        "task t on cpu0 {\n    void *p = kmap(P)\n    kunmap(P);\n}\n",
        "task t on cpu0 { x = 1 }\n",
        "page P = alloc_page(GFP_KERNEL)\ntask t { }\n",
        "task t { }\nexpect never BUG",
    )),
    KnownError("= in a condition", _assign_in_condition, (
        "task t { }\nexpect always Q[0] = 0x55;\n",
        "task t { if (x = 1) { } }\n",
    )),
    KnownError("spinlock initialiser", _spinlock_initialiser, (
        "spinlock_t L = 0;\ntask t { }\n",
    )),
    KnownError("assignment in an expression", _assign_in_expression, (
        "task t { x = y = 1; }\n",
        "task t { foo(x += 1); }\n",
    )),
    KnownError("++ in an expression", _incdec_in_expression, (
        "task t { y = x++; }\n",
    )),
    KnownError("cpu expected", _cpu_expected, (
        "task t on 0 { }\n",
        "task t { }\nschedule t@1;\n",
    )),
    KnownError("body without braces", _body_needs_braces, (
        "task t on cpu0 kmap(P);\n",
        "irq h on cpu1 this_cpu_inc(C);\n",
    )),
    KnownError("scenario name not a string", _scenario_needs_string, (
        "scenario my_test;\n",
    )),
    KnownError("schedule without commas", _schedule_comma, (
        "task a { }\ntask b { }\nschedule a b;\n",
    )),
    KnownError("else without if", _else_without_if, (
        "task t { foo(); else { } }\n",
    )),
    KnownError("unsupported statement", _unsupported_statement, (
        "task t { foo_t x = 1; }\n",
        "task t { inode i; }\n",
        "task t { case 1: x = 2; }\n",
    )),
    KnownError("unsupported pointer type", _unsupported_pointer_type, (
        "task t { int *p = kmap(P); }\n",
        "task t { g = (long *)p; }\n",
    )),
    KnownError("float literal", _float_literal, (
        "task t { x = 1.5; }\n",
    )),
    KnownError("semicolon after brace", _semicolon_after_brace, (
        "task t { };\n",
    )),
)


def explain(ctx: ErrorContext) -> Explanation:
    """The diagnostic for one syntax error (code E101)."""
    for entry in KNOWN_ERRORS:
        found = entry.recognise(ctx)
        if found is not None:
            message, hint, span = found
            return Explanation(entry.name, Diagnostic("E101", message, span, hint))
    return Explanation("generic", _generic(ctx))


def _generic(ctx: ErrorContext) -> Diagnostic:
    """"unexpected X: expected Y", with a did-you-mean for misspelt keywords."""
    message = f"unexpected {describe_token(ctx.token, ctx.kind)}"
    if ctx.accepts:
        message += f": expected {expected_prose(ctx.accepts)}"
    hint = ""
    if ctx.kind == "NAME":
        words = [k for k in ctx.accepts if k.isidentifier() and k not in _TERMINAL_PROSE]
        hint = did_you_mean(str(ctx.token), words)
    # At the end of the file, point just after the last token rather than
    # at an empty line below it.
    span = _after(ctx.prev) if ctx.kind == "$END" and ctx.prev else token_span(ctx.token)
    return Diagnostic("E101", message, span, hint)


def stray_character(ch: str, span: Span) -> Diagnostic:
    """E102 for a character no token can start with."""
    hints = {
        "'": "character literals are not supported: write the byte as an integer, e.g. 0x41",
        "#": "there is no preprocessor: configure the kernel with `config { ... }`",
        "`": "quote strings with `\"`",
    }
    if ch == "`":   # inside the message's own backticks it would read as ```
        shown = "U+0060 (GRAVE ACCENT, a backtick)"
    elif ch.isprintable() and ch.isascii():
        shown = f"`{ch}`"
    else:
        shown = f"U+{ord(ch):04X} ({unicodedata.name(ch, 'unnamed')})"
    hint = hints.get(ch, "")
    if not hint and ch in "\u201c\u201d\u2018\u2019":
        hint = "use plain ASCII quotes `\"`"
    return Diagnostic("E102", f"unexpected character {shown}", span, hint)
