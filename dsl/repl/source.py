"""The scenario a REPL session runs: the file's text plus what was typed.

The REPL never interprets anything itself: a typed statement becomes the
next statement of an interactive task appended to the file, and the whole
text goes through the ordinary front end (dsl/lower/load.py). The text is laid
out so that everything the file had keeps its place and its index:

    the file up to its first ``schedule`` / ``expect`` line
    typed declarations (page, int, percpu int, spinlock_t)
    task repl on cpu0 {
        typed statements, one after another
        preempt_point();   // after each one when CONFIG_PREEMPTION=n
        preempt_point();   // the sentinel: "waiting for input", never run
    }
    typed tasks and irqs
    the file's schedule and expect lines
    typed expectations

Contexts are only ever appended (file contexts, then the repl task, then
typed ones), so an action ``(ctx, cpu)`` recorded on one version of the
scenario means the same on the next, and the session replays its path on
the new program. The repl task's code grows only at its end: the statements
already run lower to the same instructions, and its program counter, parked
on the sentinel, becomes the first instruction of the new statement.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from enum import Enum

from pygments.token import (Comment, Keyword, Punctuation, String, Whitespace,
                            is_token_subtype)

from kmap_scenarios.dsl.editors.lexer import KmapLexer
from kmap_scenarios.dsl.syntax.nodes import Span
from kmap_scenarios.dsl.syntax.source import Diagnostic, InputError, Source
from kmap_scenarios.dsl.syntax.parser import normalise

INDENT = "    "
SENTINEL = "preempt_point(); // kmap repl: waiting for input (never executed)"
BETWEEN = "preempt_point(); // kmap repl: a preemption point between typed statements"

# The scenario of a session without FILE (the banner says so).
DEFAULT_PATH = "<repl>"
DEFAULT_TEXT = """\
// kmap repl: an empty scenario with a default configuration.
scenario "repl";

config {
    ARCH = x86;
    CONFIG_HIGHMEM = y;
    LAST_PKMAP = 4;
    PAGE_SIZE = 64;
}

page P = alloc_page(GFP_HIGHUSER);
page Q = alloc_page(GFP_HIGHUSER);
page L = alloc_page(GFP_KERNEL);
"""
DEFAULT_SUMMARY = ("no FILE: an empty scenario with ARCH=x86, CONFIG_HIGHMEM=y, LAST_PKMAP=4, "
                   "PAGE_SIZE=64; highmem pages P and Q, lowmem page L")


class Kind(Enum):
    """Where a typed item goes in the scenario text."""

    STATEMENT = "statement"   # the repl task's body
    DECLARATION = "declaration"
    CONTEXT = "task"          # a typed task or irq
    EXPECTATION = "expectation"


@dataclass(frozen=True)
class Region:
    """Where a typed item landed in the rendered text (1-based lines)."""

    kind: Kind
    index: int
    line: int
    count: int
    indent: int


@dataclass(frozen=True)
class Rendered:
    """The scenario text and where each typed item and the sentinel are.

    Kept as its lines (``text.split("\n")``), which a frame shares with its
    Program's ``source_lines`` and, string for string, with the frame
    before: a session of N statements keeps N frames, and N copies of the
    text would be N squared characters."""

    lines: tuple[str, ...]
    regions: tuple[Region, ...]
    sentinel_line: int

    @functools.cached_property
    def text(self) -> str:
        """The whole scenario text."""
        return "\n".join(self.lines)

    def region(self, kind: Kind, index: int) -> Region:
        """The region of one typed item."""
        for r in self.regions:
            if r.kind is kind and r.index == index:
                return r
        raise KeyError((kind, index))


@dataclass(frozen=True)
class ReplSource:
    """An immutable model of the session's scenario text."""

    path: str
    head: str                  # the file up to its first schedule/expect line
    tail: str                  # the file's schedule and expect lines
    task: str                  # the interactive task's name
    points: bool               # a preempt_point() after each statement
    items: dict[Kind, tuple[str, ...]] = field(default_factory=dict)

    def typed(self, kind: Kind) -> tuple[str, ...]:
        """The items of one kind typed so far, oldest first."""
        return self.items.get(kind, ())

    def add(self, kind: Kind, text: str) -> ReplSource:
        """A new model with one more typed item."""
        return replace(self, items={**self.items, kind: self.typed(kind) + (text,)})

    def render(self) -> Rendered:
        """The full scenario text, with the typed items' regions."""
        out = _Writer()
        out.text(self.head)
        for i, decl in enumerate(self.typed(Kind.DECLARATION)):
            out.item(Kind.DECLARATION, i, decl, 0)
        out.text(f"task {self.task} on cpu0 {{ // kmap repl: the interactive task\n")
        for i, stmt in enumerate(self.typed(Kind.STATEMENT)):
            out.item(Kind.STATEMENT, i, stmt, len(INDENT))
            if self.points:
                out.text(INDENT + BETWEEN + "\n")
        sentinel = out.line
        out.text(INDENT + SENTINEL + "\n}\n")
        for i, ctx in enumerate(self.typed(Kind.CONTEXT)):
            out.item(Kind.CONTEXT, i, ctx, 0)
        out.text(self.tail)
        for i, exp in enumerate(self.typed(Kind.EXPECTATION)):
            out.item(Kind.EXPECTATION, i, exp, 0)
        return Rendered(tuple("".join(out.parts).split("\n")), tuple(out.regions), sentinel)

    def add_statement(self, rendered: Rendered, text: str) -> tuple[ReplSource, Rendered, Region]:
        """``add(Kind.STATEMENT, text)``, its rendering and the statement's
        region, from ``rendered`` (this model's) in the time the statement
        takes: render() writes the whole text. The statement goes where the
        sentinel was; what follows it moves down."""
        new = self.add(Kind.STATEMENT, text)
        at = rendered.sentinel_line
        stmt = tuple(INDENT + line for line in text.split("\n"))   # as _Writer.item
        added = stmt + ((INDENT + BETWEEN,) if self.points else ())
        lines = rendered.lines[:at - 1] + added + rendered.lines[at - 1:]
        region = Region(Kind.STATEMENT, len(self.typed(Kind.STATEMENT)), at, len(stmt), len(INDENT))
        # regions in the order render() writes them: declarations and
        # statements before the sentinel, contexts and expectations after
        before = len(self.typed(Kind.DECLARATION)) + len(self.typed(Kind.STATEMENT))
        later = tuple(replace(r, line=r.line + len(added)) for r in rendered.regions[before:])
        return new, Rendered(lines, rendered.regions[:before] + (region,) + later,
                             at + len(added)), region


class _Writer:
    """Accumulates text and counts lines."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.regions: list[Region] = []
        self.line = 1  # the line the next text starts on

    def text(self, s: str) -> None:
        if not s:
            return
        if not s.endswith("\n"):
            s += "\n"
        self.parts.append(s)
        self.line += s.count("\n")

    def item(self, kind: Kind, index: int, s: str, indent: int) -> None:
        lines = s.split("\n")
        self.regions.append(Region(kind, index, self.line, len(lines), indent))
        self.text("\n".join(" " * indent + ln for ln in lines))


def new_source(path: str, text: str, taken: set[str], preemption: bool) -> ReplSource:
    """The model of a file (already known to load) before anything is typed."""
    text = normalise(text)
    cut = first_trailer(text)
    head, tail = text[:cut], text[cut:]
    if head and not head.endswith("\n"):
        head += "\n"
    return ReplSource(path, head, tail, task_name(taken), points=not preemption)


def task_name(taken: set[str]) -> str:
    """``repl``, or ``repl1``, ``repl2``... if the scenario uses that name."""
    name, n = "repl", 0
    while name in taken:
        n += 1
        name = f"repl{n}"
    return name


def first_trailer(text: str) -> int:
    """The offset of the first top-level ``schedule`` or ``expect`` item."""
    depth = 0
    at_start = True
    for offset, tok, value in KmapLexer().get_tokens_unprocessed(text):
        if is_token_subtype(tok, Whitespace) or is_token_subtype(tok, Comment):
            continue
        if depth == 0 and at_start and is_token_subtype(tok, Keyword) \
                and value in ("schedule", "expect"):
            return offset
        if is_token_subtype(tok, Punctuation):
            depth += {"{": 1, "}": -1}.get(value, 0)
            depth = max(depth, 0)
        at_start = value in (";", "}") and not is_token_subtype(tok, String)
    return len(text)


# ---------------------------------------------------------------- input text

_OPENERS = {"(": ")", "[": "]", "{": "}"}
_SCAN = re.compile(r'//[^\n]*|/\*[\s\S]*?(?:\*/|\Z)|"(?:[^"\\\n]|\\.)*"?|[()\[\]{}]')


def _scan_brackets(text: str) -> tuple[int, str, list[int]]:
    """(brackets still open, the first closing bracket with no opening one
    before it or '', the offsets of the openers still open, outermost
    first); comments and strings do not count."""
    depth, stray = 0, ""
    stack: list[int] = []
    for m in _SCAN.finditer(text):
        tok = m.group()
        if tok in _OPENERS:
            depth += 1
            stack.append(m.start())
        elif tok in ")]}":
            depth -= 1
            if stack:
                stack.pop()
            elif not stray:
                stray = tok
    return depth, stray, stack


def first_unclosed(text: str) -> tuple[str, str, int, int] | None:
    """The outermost bracket still open at the end of text, its closer, and
    its line and column (1-based), or None."""
    stack = _scan_brackets(text)[2]
    if not stack:
        return None
    at = stack[0]
    line = text.count("\n", 0, at) + 1
    return text[at], _OPENERS[text[at]], line, at - (text.rfind("\n", 0, at) + 1) + 1


def open_brackets(text: str) -> int:
    """How many brackets are still open (negative if too many closed)."""
    return _scan_brackets(text)[0]


def closes_unopened(text: str) -> str:
    """The first closing bracket with no opening one before it, or ''."""
    return _scan_brackets(text)[1]


def unterminated_comment(text: str) -> bool:
    """Whether a ``/*`` is still open at the end of text."""
    return any(m.group().startswith("/*") and not m.group().endswith("*/")
               for m in _SCAN.finditer(text))


# ------------------------------------------------------------- error mapping

INPUT_PATH = "<input>"


def map_error(err: InputError, rendered: Rendered, region: Region,
              typed: str, added_semicolon: bool = False) -> list[InputError]:
    """The errors of a scenario that failed to load, pointed at the text the
    user typed: diagnostics inside the typed item are moved onto it, syntax
    errors after it (an unfinished statement) onto its last character, and
    anything else stays on the full scenario text (``source`` shows it).
    A `;` the REPL added is not shown: an error at it is "the end of the
    statement", just after what was typed."""
    inside: list[Diagnostic] = []
    outside: list[Diagnostic] = []
    last = region.line + region.count - 1
    for d in err.diagnostics:
        if region.line <= d.span.line <= last:
            inside.append(replace(d, span=_shift(d.span, region)))
        elif d.code.startswith("E1") and d.span.line > last:
            inside.append(replace(d, span=_last_char(typed)))
        else:
            outside.append(d)
    out = []
    if inside and added_semicolon:
        typed, inside = _without_added_semicolon(typed, inside)
    if inside:
        out.append(InputError(Source(INPUT_PATH, typed), inside))
    if outside:
        out.append(InputError(Source(f"{err.source.path} (as kmap repl built it)", rendered.text),
                              outside))
    return out


def _without_added_semicolon(typed: str, diags: list[Diagnostic]) -> tuple[str, list[Diagnostic]]:
    """typed without its final (added) `;`, and the diagnostics at that
    `;` reworded as the end of the statement."""
    lines = typed.split("\n")
    at = (len(lines), len(lines[-1]))
    out = []
    for d in diags:
        if (d.span.line, d.span.col) == at and d.message.startswith("unexpected `;`"):
            d = replace(d, message="unexpected end of the statement"
                        + d.message[len("unexpected `;`"):])
        out.append(d)
    return typed[:-1], out


def _shift(span: Span, region: Region) -> Span:
    """A span of the rendered text moved onto the typed text."""
    last = region.line + region.count - 1
    line = span.line - region.line + 1
    col = max(1, span.col - region.indent)
    if span.end_line == span.line:
        return Span(line, col, line, max(col + 1, span.end_col - region.indent))
    end_line = min(span.end_line, last) - region.line + 1
    return Span(line, col, end_line, max(1, span.end_col - region.indent))


def _last_char(typed: str) -> Span:
    """The span of the last non-blank character of the typed text."""
    lines = typed.rstrip().split("\n")
    n = len(lines)
    c = max(1, len(lines[-1].rstrip()))
    return Span(n, c, n, c + 1)
