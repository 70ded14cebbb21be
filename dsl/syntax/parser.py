"""Text -> AST: decoding, lexical checks, the cached Lark parser, tree checks.

``parse`` runs the front end in stages and stops after the first stage that
finds a problem, raising ``InputError`` with every diagnostic of that stage:

1. bytes and characters: invalid UTF-8 or NUL bytes (E108);
2. unterminated comments and strings (E103), found by a scan of their own so
   that `/*` is never half-lexed as `/` and `*`;
3. the LALR parse with recovery (dsl/syntax/driver.py): unexpected tokens
   (E101) and characters (E102);
4. nesting depth (E104), measured on the parse tree without recursion so
   that the recursive later stages stay far from Python's stack limit;
5. the tree is built (dsl/syntax/build.py) and the top-level order checked: an
   optional scenario, an optional config, then declarations, tasks and irqs,
   then schedule and expect lines (E106); scenario or config twice (E107); an
   empty file, or one without any task or irq (E105).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib.resources
import re
from collections.abc import Iterator, Sequence
from typing import Any

from lark import Lark, Token, Tree
from lark.lark import PostLex

from kmap_scenarios.dsl.syntax import grammar_cache, nodes
from kmap_scenarios.dsl.syntax.build import Item, build_items, make_file, tree_span
from kmap_scenarios.dsl.syntax.nodes import Span
from kmap_scenarios.dsl.syntax.source import Diagnostic, InputError, Source
from kmap_scenarios.dsl.syntax.driver import Driver

# Nesting limits. Later stages walk the AST recursively; at a few frames per
# level these keep the deepest walk well inside Python's default limit of
# 1000 frames, and far beyond anything a scenario needs.
MAX_EXPR_DEPTH = 256
MAX_STMT_DEPTH = 64

# Expression nodes of the parse tree that nest (paren counts: the AST drops
# it, but the nesting is still what the user wrote).
_EXPR_NESTING = frozenset({"binary", "unary", "deref", "addr_of", "index", "call", "member",
                           "paren", "ternary", "cast", "sizeof_expr"})
# Statement nodes that nest; an `else if` nests its If in the AST too, which
# check_depth counts separately.
_STMT_NESTING = frozenset({"block", "braceless", "switch_stmt"})

# Comments and strings the way grammar/kmap.lark lexes them; an unterminated
# one is what remains when the complete forms do not match.
_LEXICAL = re.compile(r'//[^\n]*|/\*[\s\S]*?\*/|/\*|"(?:[^"\\\n]|\\.)*"|"|[^/"]+|/')


class _MaximalMunch(PostLex):
    """Makes every contextual-lexer state see the multi-character operators.

    C lexes by maximal munch whatever the context; without this, `x++` in an
    expression would be lexed `x + +` and fail somewhere confusing.
    """

    always_accept = ("INC", "DEC", "EQ", "NE", "LE", "GE", "SHL", "SHR", "ANDAND", "OROR",
                     "ADD_ASSIGN", "SUB_ASSIGN", "MUL_ASSIGN", "DIV_ASSIGN", "MOD_ASSIGN",
                     "AND_ASSIGN", "OR_ASSIGN", "XOR_ASSIGN", "SHL_ASSIGN", "SHR_ASSIGN")

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        """Tokens pass through unchanged."""
        return stream


def grammar_text() -> str:
    """The grammar, read from the package data file grammar/kmap.lark."""
    return importlib.resources.files("kmap_scenarios.grammar").joinpath("kmap.lark").read_text(encoding="utf-8")


# Lark's options for the .kmap grammar (the cache's key includes them).
def _options() -> dict[str, Any]:
    return dict(parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=True, postlex=_MaximalMunch())


def build_parser() -> Lark:
    """The LALR parser built from the grammar, its tables computed (with
    the grammar itself kept, ``.grammar``, which a loaded one lacks)."""
    return Lark(grammar_text(), **_options())


@functools.lru_cache(maxsize=1)
def parser() -> Lark:
    """The LALR parser for .kmap files, once per process: its tables from
    the cache of earlier runs (dsl/syntax/grammar_cache.py) or built."""
    return grammar_cache.cached(grammar_text(), _options(), build_parser)


@functools.lru_cache(maxsize=1)
def concrete_parser() -> Lark:
    """The same parser keeping every token in the tree (`;`, braces,
    parentheses, keywords): the concrete syntax that `kmap fmt`
    (dsl/fmt/) prints again. Only for text that ``parse`` accepted."""
    return Lark(grammar_text(), parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=True, keep_all_tokens=True, postlex=_MaximalMunch())


def read_source(text: str | bytes, path: str) -> Source:
    """The Source the front end parses: UTF-8 decoded (InputError E108
    otherwise), byte-order mark dropped, CRLF and CR line ends made LF.

    Later stages should render their diagnostics against this same Source,
    so that columns agree with the spans.
    """
    if isinstance(text, bytes):
        text = _decode(text, path)
    return Source(path, normalise(text))


def normalise(text: str) -> str:
    """Byte-order mark dropped; CRLF, and a lone CR (old Mac line ends),
    made LF. The file itself is never changed."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def parse_text(text: str | bytes, path: str) -> nodes.File:
    """Decode, normalise and parse (``read_source`` then ``parse``)."""
    return parse(read_source(text, path))


def parse(source: Source) -> nodes.File:
    """The AST of a source text; raises InputError listing what is wrong."""
    for stage in (_check_characters, _check_unterminated):
        _raise_if(source, stage(source.text))
    with _collector_paused():
        driver = Driver(parser(), source.text, max_braces=MAX_STMT_DEPTH)
        tree = driver.run()
        if driver.too_deep is not None:
            _raise_if(source, [*driver.diagnostics, _too_many_braces(driver)])
        _raise_if(source, driver.diagnostics)
        assert tree is not None
        _raise_if(source, check_depth(tree))
        items = build_items(tree)
    _raise_if(source, check_order(items) + _check_not_empty(source.text, items))
    return make_file(source.path, items)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while the parse makes its millions of
    objects, none of them in a cycle: each collection would walk them all
    again, which took 40% of the time of a 1 MB file (docs/performance.md)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _raise_if(source: Source, diagnostics: Sequence[Diagnostic]) -> None:
    """Stop the front end after a stage that found problems."""
    if diagnostics:
        raise InputError(source, list(diagnostics))


# ------------------------------------------------------- bytes and lexemes


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _point(text: str, offset: int, width: int = 1) -> Span:
    """A span of ``width`` characters at an offset."""
    line, col = _position(text, offset)
    return Span(line, col, line, col + width)


def _decode(data: bytes, path: str) -> str:
    """UTF-8 text, or InputError E108 at the first invalid byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        good = data[:e.start].decode("utf-8", errors="replace")
        line, col = _position(good, len(good))
        diag = Diagnostic("E108", f"the file is not UTF-8 text: invalid byte 0x{data[e.start]:02x} "
                          f"at line {line}, column {col}", Span(line, col, line, col + 1),
                          "kmap files are UTF-8 text; is this a binary file?")
        raise InputError(Source(path, good), [diag]) from None


def _check_characters(text: str) -> list[Diagnostic]:
    """E108 for a NUL character (a binary file, or a corrupted one)."""
    offset = text.find("\0")
    if offset < 0:
        return []
    line, col = _position(text, offset)
    return [Diagnostic("E108", f"the file contains a NUL byte at line {line}, column {col}",
                       _point(text, offset), "kmap files are UTF-8 text; is this a binary file?")]


def _check_unterminated(text: str) -> list[Diagnostic]:
    """E103 for a `/*` never closed and for strings that reach the line end."""
    found: list[Diagnostic] = []
    pos = 0
    while pos < len(text):
        m = _LEXICAL.match(text, pos)
        assert m is not None  # the last alternatives match any character
        pos = m.end()
        if m.group() == "/*":
            found.append(Diagnostic("E103", "unterminated comment: this `/*` is never closed",
                                    _point(text, m.start(), 2), "close it with `*/`"))
            break
        if m.group() == '"':
            end = text.find("\n", m.start())
            pos = len(text) if end < 0 else end
            found.append(Diagnostic("E103", "unterminated string: missing closing `\"`",
                                    _point(text, m.start(), max(1, pos - m.start())),
                                    "a string ends on the line it starts on"))
    return found


# ------------------------------------------------------------------ depth


def check_depth(tree: Tree[Token]) -> list[Diagnostic]:
    """E104 when expressions or statements nest deeper than the limits.

    Nesting, not length: a chain of binary operators (`a + b + c ...`, the
    left operand of each in the one before) is one level, and the later
    stages walk such a chain without recursion. Iterative on purpose: the
    input may be thousands of levels deep. The caret goes where the limit
    is first crossed; the count is the deepest.
    """
    deepest = {"expression": 0, "statements": 0}
    crossed: dict[str, Tree[Token]] = {}
    stack: list[tuple[Tree[Token], int, int]] = [(tree, 0, 0)]
    while stack:
        node, expr, stmt = stack.pop()
        data = str(node.data)
        expr += data in _EXPR_NESTING
        stmt += data in _STMT_NESTING
        for what, depth, limit in (("expression", expr, MAX_EXPR_DEPTH),
                                   ("statements", stmt, MAX_STMT_DEPTH)):
            deepest[what] = max(deepest[what], depth)
            if depth > limit:
                crossed.setdefault(what, node)
        for k in range(len(node.children) - 1, -1, -1):
            child = node.children[k]
            if isinstance(child, Tree):
                else_if = data == "if_stmt" and str(child.data) == "if_stmt"
                # the left operand of a binary operator is at its level:
                # a chain `a + b + c` is one level, whatever its length
                chain = k == 0 and data == "binary" and str(child.data) == "binary"
                stack.append((child, expr - chain, stmt + else_if))
    return [_too_deep(what, deepest[what], node) for what, node in crossed.items()]


def _too_many_braces(driver: Driver) -> Diagnostic:
    """E104 at the `{` that stopped the parse (dsl/syntax/driver.py)."""
    tok = driver.too_deep
    assert tok is not None
    line, col = tok.line or 0, tok.column or 0
    return Diagnostic("E104", f"statements nested too deeply: {driver.deepest_braces()} levels, "
                      f"the limit is {MAX_STMT_DEPTH}", Span(line, col, line, col + 1),
                      _STMT_HINT)


_STMT_HINT = "flatten the conditions or split the work into more tasks"


def _too_deep(what: str, depth: int, node: Tree[Token]) -> Diagnostic:
    """The E104 diagnostic for one kind of nesting."""
    limit = MAX_EXPR_DEPTH if what == "expression" else MAX_STMT_DEPTH
    hint = "split it up with local variables" if what == "expression" else _STMT_HINT
    sp = tree_span(node)
    return Diagnostic("E104", f"{what} nested too deeply: {depth} levels, the limit is {limit}",
                      Span(sp.line, sp.col, sp.line, sp.col + 1), hint)


# ------------------------------------------------------------------ order

_PHASES = {nodes.Scenario: 0, nodes.Config: 1, nodes.PageDecl: 2, nodes.IntDecl: 2,
           nodes.LockDecl: 2, nodes.TaskDecl: 2, nodes.FuncDef: 2, nodes.Schedule: 3,
           nodes.Expect: 3}
_ORDER = ("an optional scenario, an optional config, then declarations, functions, tasks and "
          "irqs in any order, then schedule and expect lines in any order")


def describe_item(item: Item) -> str:
    """A top-level item in prose: "task `t`", "the `expect` line"."""
    if isinstance(item, nodes.TaskDecl):
        return f"{item.kind} `{item.name}`"
    if isinstance(item, nodes.PageDecl):
        return f"page `{item.name}`"
    if isinstance(item, nodes.IntDecl):
        return f"{'percpu int' if item.percpu else 'int'} `{item.name}`"
    if isinstance(item, nodes.LockDecl):
        return f"{'mutex' if item.kind == 'mutex' else 'spinlock'} `{item.name}`"
    if isinstance(item, nodes.FuncDef):
        return f"function `{item.name}()`"
    word = {nodes.Scenario: "scenario", nodes.Config: "config", nodes.Schedule: "schedule",
            nodes.Expect: "expect"}[type(item)]
    return f"the `{word}` {'line' if word in ('scenario', 'schedule', 'expect') else 'block'}"


def _head(span: Span) -> Span:
    """The first line of a span (a caret under a whole task is noise)."""
    if span.end_line == span.line:
        return span
    return Span(span.line, span.col, span.line, span.col + 1)


def check_order(items: Sequence[Item]) -> list[Diagnostic]:
    """E106 for items out of order (one per kind of item), E107 for a second
    scenario or config."""
    found: list[Diagnostic] = []
    firsts: dict[type, Item] = {}
    blamed: set[int] = set()
    latest: Item | None = None  # the item of the highest phase so far
    for item in items:
        phase = _PHASES[type(item)]
        if isinstance(item, (nodes.Scenario, nodes.Config)) and type(item) in firsts:
            first = firsts[type(item)]
            word = "scenario" if isinstance(item, nodes.Scenario) else "config"
            found.append(Diagnostic("E107", f"a second `{word}`: a file has at most one",
                                    _head(item.span), f"the first `{word}` is at line "
                                    f"{first.span.line}; merge them into one"))
            continue
        firsts.setdefault(type(item), item)
        if latest is not None and _PHASES[type(latest)] > phase:
            if phase not in blamed:
                blamed.add(phase)
                found.append(_misplaced(item, latest))
            continue
        if latest is None or _PHASES[type(latest)] < phase:
            latest = item
    return found


def _misplaced(item: Item, latest: Item) -> Diagnostic:
    """E106: item comes after ``latest``, which must follow it."""
    if isinstance(item, nodes.Scenario):
        rule = "the `scenario` line comes first"
    elif isinstance(item, nodes.Config):
        rule = "`config` comes before everything but the `scenario` line"
    else:
        rule = ("declarations, functions, tasks and irqs come before the `schedule` and "
                "`expect` lines")
    return Diagnostic("E106", f"{describe_item(item)} comes after {describe_item(latest)} at line "
                      f"{latest.span.line}: {rule}", _head(item.span), f"the order is {_ORDER}")


def _check_not_empty(text: str, items: Sequence[Item]) -> list[Diagnostic]:
    """E105 when there is nothing to run."""
    if any(isinstance(x, nodes.TaskDecl) for x in items):
        return []
    start = Span(1, 1, 1, 2)
    example = "add one, e.g. `task t on cpu0 { ... }`"
    if not items:
        what = "the file is empty" if not text.strip() else "the file has only comments"
        return [Diagnostic("E105", f"{what}: a scenario needs at least one task or irq", start,
                           example)]
    return [Diagnostic("E105", "no task or irq: a scenario needs at least one",
                       _head(items[0].span), example)]
