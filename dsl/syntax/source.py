"""Source text, spans, diagnostics and their caret rendering.

Every input error is a ``Diagnostic`` with a stable code (tests assert
codes, goldens pin prose). ``InputError`` carries all diagnostics found in
one stage, so the user sees every problem at once.
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass, field

from kmap_scenarios.dsl.syntax.nodes import Span


class KmapError(Exception):
    """The root of every error this package raises on purpose."""


@dataclass(frozen=True)
class Source:
    path: str
    text: str
    lines: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.text.split("\n")))

    def line(self, n: int) -> str:
        return self.lines[n - 1] if 1 <= n <= len(self.lines) else ""


@dataclass(frozen=True)
class Diagnostic:
    """One problem: a stable code (E1xx syntax, E2xx names, E3xx config,
    E4xx types/arity/usage, E5xx schedule), a message, a span, a hint."""

    code: str
    message: str
    span: Span
    hint: str = ""

    def render(self, source: Source) -> str:
        """``file:line:col: error[CODE]: message``, the line, a caret, a hint."""
        sp = self.span
        head = f"{source.path}:{sp.line}:{sp.col}: error[{self.code}]: {self.message}"
        if sp.line <= 0:
            return head + (f"\n  = help: {self.hint}" if self.hint else "")
        text = source.line(sp.line).replace("\t", " ")
        width = max(1, (sp.end_col - sp.col) if sp.end_line == sp.line else len(text) - sp.col + 1)
        gutter = str(sp.line)
        pad = " " * len(gutter)
        # columns count characters; the caret line counts terminal cells
        lead = _cells(text[:sp.col - 1])
        width = max(1, _cells(text[sp.col - 1:sp.col - 1 + width]))
        out = [head, f"{pad} |", f"{gutter} | {text}", f"{pad} | {' ' * lead}{'^' * width}"]
        if self.hint:
            out.append(f"{pad} = help: {self.hint}")
        return "\n".join(out)


def _cells(text: str) -> int:
    """The terminal width of text: two cells for wide and full-width
    characters (CJK, most emoji), none for combining marks."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c)
               else 1 for c in text)


class InputError(KmapError):
    """The input is wrong: one or more diagnostics; exit status 65."""

    def __init__(self, source: Source, diagnostics: list[Diagnostic]) -> None:
        self.source = source
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.span.line, d.span.col, d.code))
        super().__init__(self.render())

    def render(self) -> str:
        body = "\n\n".join(d.render(self.source) for d in self.diagnostics)
        n = len(self.diagnostics)
        return f"{body}\n\n{n} error{'s' if n != 1 else ''} in {self.source.path}"

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]


def did_you_mean_or_list(word: str, candidates: object, what: str) -> str:
    """did_you_mean(), or, with nothing close, the candidates themselves
    ("the WHAT are: a, b") when there are a few."""
    pool = [c for c in candidates if isinstance(c, str)]  # type: ignore[attr-defined]
    hint = did_you_mean(word, pool)
    if hint or not pool or len(pool) > 12:
        return hint
    return f"the {what} are: {', '.join(pool)}"


def did_you_mean(word: str, candidates: object) -> str:
    """'did you mean `x`?' for the closest candidate, or ''."""
    pool = [c for c in candidates if isinstance(c, str)]  # type: ignore[attr-defined]
    best = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not best:
        lower = {c.lower(): c for c in pool}
        best = difflib.get_close_matches(word.lower(), list(lower), n=1, cutoff=0.6)
        best = [lower[b] for b in best]
    return f"did you mean `{best[0]}`?" if best else ""
