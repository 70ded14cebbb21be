"""Prints the tokens again with the house layout and the comments back
in the gaps they came from (docs/formatting.md).

A comment on the line of the code before it stays there (a *trailing*
comment); one on a line of its own stays on a line of its own, indented
as the code it precedes. A `//` comment below a trailing one and at or
right of its column *continues* it. Trailing comments of consecutive
lines indented alike, with their continuations, are aligned in one column: one space
past the longest code, or the column the first of them had if that is
further right (an author's wider column is kept).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kmap_scenarios.dsl.fmt.layout import CONTINUATION, INDENT, Gap, gap, inline
from kmap_scenarios.dsl.fmt.tokens import Tok

MAX_ONE_LINE = 100    # the kernel's line length (checkpatch.pl since v5.7)
RESULT = "// Result:"
_GAP = re.compile(r"//[^\n]*|/\*[\s\S]*?\*/|\s+")


@dataclass
class Comment:
    text: str
    col: int        # 0-based column in the source
    before: int     # newlines in the source between what precedes it and it
    ends_line: bool  # nothing but whitespace after it on its line

    @property
    def block(self) -> bool:
        return self.text.startswith("/*")


@dataclass
class Line:
    code: str                     # indentation and code (or an own-line comment)
    trailing: str | None = None   # a trailing comment
    col: int = 0                  # its source column
    cont: bool = False            # a continuation comment line (trailing only)
    end: int = -1                 # where the code of its section's first line ends
    verbatim: bool = False        # a `// Result:` line, trailing spaces and all

    def __post_init__(self) -> None:
        if self.end < 0:
            self.end = len(self.code.rstrip())


def comments_in(text: str, lo: int, hi: int) -> tuple[list[Comment], int]:
    """The comments between two tokens, and the newlines after the last."""
    found: list[Comment] = []
    newlines = 0
    pos = lo
    while pos < hi:
        m = _GAP.match(text, pos, hi)
        assert m is not None, "only whitespace and comments lie between tokens"
        word = m.group()
        if word.startswith(("//", "/*")):
            line_start = text.rfind("\n", 0, m.start()) + 1
            rest = text[m.end():hi]
            ends = "\n" in rest or (hi == len(text) and not rest.strip())
            found.append(Comment(word, m.start() - line_start, newlines,
                                 ends and not rest.split("\n", 1)[0].strip()))
            newlines = 0
        else:
            newlines += word.count("\n")
        pos = m.end()
    return found, newlines


class Printer:
    """One file's text, printed from its tokens (``run``)."""

    def __init__(self, text: str, toks: list[Tok]) -> None:
        self.text = text
        self.toks = toks
        self.lines: list[Line] = []
        self.cur: str | None = None       # the line being built
        self.comment_only = False         # cur holds only an own-line block comment
        self.after_comment = False        # cur ends with an inline block comment
        self.tail: tuple[int, str, int] | None = None   # where it starts, it, its column
        self.parens: list[int] = []       # columns of the open ( and [
        self.flat = _flat_configs(text, toks)

    # ------------------------------------------------------------ the walk

    def run(self) -> str:
        prev: Tok | None = None
        for k, t in enumerate(self.toks):
            comments, nl = comments_in(self.text, prev.end if prev else 0, t.start)
            kind, soft = (gap(prev, t, k in self.flat) if prev is not None
                          else (Gap.BLANK, False))
            if comments and t.text == "}" and kind is Gap.SPACE:
                kind = Gap.BREAK    # `{ }` holding a comment is no longer empty
            self._comments(comments, kind, t)
            self._token(t, kind, soft, nl)
            prev = t
        comments, _ = comments_in(self.text, prev.end if prev else 0, len(self.text))
        self._comments(comments, Gap.BLANK, None)
        self._end_line()
        return _render(self.lines)

    def _token(self, t: Tok, kind: Gap, soft: bool, nl: int) -> None:
        if kind in (Gap.BLANK, Gap.BREAK) and not (self.comment_only and self.cur is not None):
            self._end_line()
            if kind is Gap.BLANK and nl >= 2:
                self._blank()
            self.cur = "" if t.label else INDENT * t.level
        elif self.cur is None:
            self.cur = self._continued(t)
        elif self.comment_only or self.after_comment:
            self.cur += "" if t.text in (")", "]", ",", ";") else " "
        elif soft and nl:
            self._end_line()
            self.cur = self._continued(t)
        else:
            self.cur += " " if kind is Gap.SPACE else ""
        self.comment_only = self.after_comment = False
        self.tail = None
        if t.text in ("(", "["):
            self.parens.append(len(self.cur) - self.cur.rfind("\n") - 1)
        elif t.text in (")", "]") and self.parens:
            self.parens.pop()
        self.cur += t.text

    def _continued(self, t: Tok) -> str:
        """The indentation of a line that continues a statement."""
        if t.text in ("else", "while", "{", "}"):
            return INDENT * t.level
        if self.parens:
            return " " * (self.parens[-1] + 1)   # aligned after the open parenthesis
        return INDENT * (t.level + CONTINUATION)

    def _comments(self, comments: list[Comment], kind: Gap, t: Tok | None) -> None:
        for c in comments:
            # the `// Result:` block that ends a file (docs/testing.md)
            # is kept byte for byte
            verbatim = t is None and c.text.startswith(RESULT)
            text = c.text if verbatim else _strip(c.text)
            if c.before == 0 and self.cur is not None:
                if c.block and not c.ends_line:
                    self._inline_comment(text, c.col)
                else:
                    self._trailing(text, c)
                continue
            self._end_line()
            if c.before >= 2 and kind in (Gap.BLANK, Gap.BREAK) \
                    and not (self.lines and self.lines[-1].code.endswith("{")):
                self._blank()
            indent = self._comment_indent(kind, t)
            last = self.lines[-1] if self.lines else None
            if (not c.block and c.before == 1 and last is not None and last.trailing is not None
                    and "\n" not in last.trailing + last.code and c.col >= last.col
                    and c.col > len(indent) and last.end >= len(indent)):
                # a continuation; the last two conditions keep it one when
                # read again: its column (past the code above) stays right
                # of where an own-line comment would go
                self.lines.append(Line("", text, last.col, cont=True, end=last.end))
                continue
            if c.block:
                text = _shift(text, len(indent) - c.col)
            if c.block and not c.ends_line:
                self.cur = indent + text
                self.comment_only = True
            else:
                self.lines.append(Line(indent + text, verbatim=verbatim))

    def _comment_indent(self, kind: Gap, t: Tok | None) -> str:
        if t is None:
            return ""
        if kind in (Gap.BLANK, Gap.BREAK):
            return INDENT * (t.level + (t.text == "}"))
        return self._continued(t)

    def _inline_comment(self, text: str, col: int) -> None:
        assert self.cur is not None
        self.cur += "" if self.cur.endswith(("(", "[")) else " "
        self.tail = (len(self.cur), text, col)
        self.cur += text
        self.after_comment = True

    def _trailing(self, text: str, c: Comment) -> None:
        assert self.cur is not None
        self.lines.append(Line(self.cur, text, c.col))
        self.cur = None
        self.tail = None
        self.comment_only = self.after_comment = False

    def _end_line(self) -> None:
        if self.cur is not None and self.after_comment and self.tail and not self.comment_only:
            # a block comment the line now ends with trails it, as it
            # will when the output is read again
            at, text, col = self.tail
            self.lines.append(Line(self.cur[:at], text, col))
        elif self.cur is not None:
            self.lines.append(Line(self.cur))
        self.cur = None
        self.tail = None
        self.comment_only = self.after_comment = False

    def _blank(self) -> None:
        """One blank line, never two, never at the top."""
        last = self.lines[-1] if self.lines else None
        if last is not None and (last.code.strip() or last.trailing is not None):
            self.lines.append(Line(""))


def _strip(text: str) -> str:
    """A comment without trailing whitespace on any of its lines."""
    return "\n".join(line.rstrip() for line in text.split("\n"))


def _shift(text: str, by: int) -> str:
    """A block comment's later lines moved ``by`` columns, as its `/*`
    moved; left alone where moving left would cut into text."""
    first, *rest = text.split("\n")
    if by == 0 or not rest:
        return text
    if by < 0 and any(line.strip() and not line.startswith(" " * -by) for line in rest):
        return text
    moved = [(" " * by + line if by > 0 else line[-by:]) if line.strip() else line for line in rest]
    return "\n".join([first, *moved])


def _flat_configs(text: str, toks: list[Tok]) -> set[int]:
    """Indices of the tokens inside a config block kept on one line: it is
    on one line in the source (nothing but spaces between its `{` and what
    follows), holds no comment and fits in MAX_ONE_LINE columns."""
    flat: set[int] = set()
    for i, t in enumerate(toks):
        if not (t.text == "config" and t.rule == "config"):
            continue
        j = next(k for k in range(i + 1, len(toks)) if toks[k].text == "}"
                 and toks[k].parent is t.parent)
        between = text[toks[i + 1].end:toks[i + 2].start]
        if "\n" in between or any("/" in text[toks[k - 1].end:toks[k].start]
                                  for k in range(i + 1, j + 1)):
            continue
        line = toks[i].text
        for k in range(i + 1, j + 1):
            line += (" " if inline(toks[k - 1], toks[k])[0] is Gap.SPACE else "") + toks[k].text
        if len(line) <= MAX_ONE_LINE:
            flat.update(range(i + 2, j + 1))   # the gaps after `{` to before `}`
    return flat


def _same_section(first: Line, line: Line) -> bool:
    """Whether ``line`` is aligned with the section ``first`` begins: a
    continuation, or a trailing comment of a line indented alike."""
    if line.trailing is None or "\n" in line.trailing + line.code:
        return False
    return line.cont or _indent(line.code) == _indent(first.code)


def _indent(code: str) -> int:
    return len(code) - len(code.lstrip(" "))


def _render(lines: list[Line]) -> str:
    """The text: trailing comments aligned section by section."""
    out: list[str] = []
    k = 0
    while k < len(lines):
        line = lines[k]
        if line.trailing is None or "\n" in line.trailing + line.code:
            code = line.code if line.verbatim else line.code.rstrip()
            out.append(code + (" " + line.trailing if line.trailing else ""))
            k += 1
            continue
        end = k + 1
        while end < len(lines) and _same_section(line, lines[end]):
            end += 1
        section = lines[k:end]
        col = max([len(x.code.rstrip()) + 1 for x in section if not x.cont] + [line.col])
        for x in section:
            assert x.trailing is not None
            out.append(x.code.rstrip().ljust(col) + x.trailing)
        k = end
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out) + "\n" if out else ""
