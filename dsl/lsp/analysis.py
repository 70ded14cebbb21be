"""What the language server knows of one text: its diagnostics and its AST.

``analyse(text, path)`` runs the front end as `kmap lint` does (the parse,
then the static checker: every problem at once) and keeps the AST when
the parse succeeds. Positions here are 0-based lines and code-point
columns of the editor's text (``Pos``); dsl/lsp/server.py converts them to
the client's units (UTF-16 by default). The front end reads a normalised
text (dsl/syntax/parser.py's ``normalise``: a byte-order mark dropped, CR
line ends made LF), so a column of line 1 moves by one when the editor's
text starts with a byte-order mark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kmap_scenarios.dsl.check.checker import check
from kmap_scenarios.dsl.syntax import names, nodes
from kmap_scenarios.dsl.syntax.parser import parse, read_source
from kmap_scenarios.dsl.syntax.source import Diagnostic, InputError, Source

# The checker's and the parser's did-you-mean (dsl/syntax/source.py's
# did_you_mean, and dsl/check/expr.py's `task.var` form for expectations).
DID_YOU_MEAN = re.compile(r"did you mean `([^`]+)`\?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, order=True)
class Pos:
    """0-based line and column (code points) in the editor's text."""

    line: int
    col: int


@dataclass(frozen=True)
class Range:
    start: Pos
    end: Pos

    def contains(self, pos: Pos) -> bool:
        return self.start <= pos <= self.end


@dataclass(frozen=True)
class Fix:
    """A did-you-mean as an edit: ``new`` in place of the text at ``range``."""

    range: Range
    old: str
    new: str

    @property
    def title(self) -> str:
        return f"Replace `{self.old}` with `{self.new}`"


@dataclass(frozen=True)
class Problem:
    """One diagnostic of the front end, placed in the editor's text."""

    diagnostic: Diagnostic
    range: Range
    fix: Fix | None

    @property
    def message(self) -> str:
        """The message, and the hint as `kmap lint` prints it (``= help:``)."""
        d = self.diagnostic
        return f"{d.message}\nhelp: {d.hint}" if d.hint else d.message


@dataclass(frozen=True)
class Analysis:
    text: str
    problems: tuple[Problem, ...]
    file: nodes.File | None   # None when the text does not parse


def analyse(text: str, path: str) -> Analysis:
    """Parse and check ``text``; never raises for bad input."""
    source = read_source(text, path)
    shift = 1 if text.startswith("\ufeff") else 0
    try:
        tree = parse(source)
    except InputError as e:
        return Analysis(text, _problems(e, text, shift), None)
    try:
        check(tree, source)
    except InputError as e:
        return Analysis(text, _problems(e, text, shift), tree)
    return Analysis(text, (), tree)


def parse_only(text: str, path: str) -> nodes.File | None:
    """The AST of ``text``, or None if it does not parse."""
    try:
        return parse(read_source(text, path))
    except InputError:
        return None


def span_range(span: nodes.Span, shift: int = 0) -> Range:
    """A front-end span (1-based, end exclusive) as a Range; a span with
    no place (line 0) is the start of the text."""
    if span.line <= 0:
        return Range(Pos(0, 0), Pos(0, 0))

    def pos(line: int, col: int) -> Pos:
        return Pos(line - 1, max(0, col - 1) + (shift if line == 1 else 0))
    return Range(pos(span.line, span.col), pos(span.end_line, span.end_col))


def _problems(error: InputError, text: str, shift: int) -> tuple[Problem, ...]:
    lines = Source("", text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")).lines
    out = []
    for d in error.diagnostics:
        rng = span_range(d.span, shift)
        out.append(Problem(d, rng, _fix(d, rng, lines)))
    return tuple(out)


def _fix(d: Diagnostic, rng: Range, lines: tuple[str, ...]) -> Fix | None:
    """The edit a did-you-mean hint proposes: the word the span starts
    with (a name, a key, a schedule item's task) replaced by the
    suggestion; None for any other hint."""
    m = DID_YOU_MEAN.search(d.hint)
    if m is None or rng.start.line >= len(lines):
        return None
    # the span's own column is one of the normalised line (no byte-order mark)
    line = lines[rng.start.line]
    word = _WORD.match(line, max(0, d.span.col - 1))
    new = m.group(1)
    if word is None or word.group() == new:
        return None
    # `unsinged long x`: the suggestion `unsigned int` is a whole type, and
    # the word is only its first; the next word says the rest
    after = _WORD.match(line[word.end():].lstrip())
    if " " in new and after is not None and after.group() in names.TYPE_WORDS:
        new = new.split()[0]
    start = Pos(rng.start.line, rng.start.col)
    end = Pos(rng.start.line, rng.start.col + len(word.group()))
    return Fix(Range(start, end), word.group(), new)
