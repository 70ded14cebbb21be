"""The LALR token loop with error recovery, so one run reports several errors.

Lark stops at the first syntax error. This driver feeds the tokens of the
contextual lexer to Lark's parser state itself, and on an error it records a
diagnostic (dsl/syntax/messages.py) and recovers in one of three ways, from
the most to the least precise:

1. a missing `;` at the end of a line is inserted, if the parser then
   accepts the next token;
2. the statement in a body is dropped: the parser state saved at its first
   token is restored and lexing resumes after its `;` or its last `}`;
3. otherwise the whole top-level item is dropped: the state saved at its
   first token is restored and lexing resumes at the next line that starts
   with a top-level keyword in column 1.

Cascades are kept out by reporting at most one error per line and at most
``MAX_ERRORS`` errors, and by stopping when recovery makes no progress. The
tree is only returned when there was no error at all.

A `{` past ``max_braces`` open ones stops the parse at once (``too_deep``):
every statement start inside braces saves the parser state, a copy as long
as the nesting, so 100,000 levels would cost their square in time and
memory before the depth check could say no.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from copy import copy
from dataclasses import dataclass

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedToken
from lark.lexer import PatternStr
from lark.parsers.lalr_parser_state import ParserState

from kmap_scenarios.dsl.syntax.build import int_value, token_span
from kmap_scenarios.dsl.syntax.nodes import Span
from kmap_scenarios.dsl.syntax.source import Diagnostic
from kmap_scenarios.dsl.syntax.messages import (MISSING_SEMICOLON, TOPLEVEL_IN_BODY, TOPLEVEL_WORDS,
                                 ErrorContext, Opener, explain, stray_character)

MAX_ERRORS = 10
MAX_RECOVERIES = 200  # errors on lines that already have one still recover

# Raw scanning for recovery: comments and strings are skipped as wholes so
# that a `;` or a keyword inside them is never taken for a resume point.
_RAW = re.compile(r'\s+|//[^\n]*|/\*[\s\S]*?(?:\*/|\Z)|"(?:[^"\\\n]|\\.)*"?'
                  r"|[A-Za-z_][A-Za-z0-9_]*|[0-9]\w*|.", re.S)
_OCTAL_TYPO = re.compile(r"0[0-7]*[89][0-9]*[uUlL]*")
_NEWLINE = re.compile(r"\n")
_HISTORY = 3


@dataclass
class _Snapshot:
    """The parser and tracker state just before a statement or item began."""

    state: ParserState[int]
    offset: int   # where the statement or item starts
    first: str    # the kind of its first token
    history: tuple[Token, ...]
    depth: int


class Driver:
    """Parses one text with ``parser`` and collects syntax diagnostics."""

    def __init__(self, parser: Lark, text: str, max_braces: int | None = None) -> None:
        self.text = text
        self.max_braces = max_braces
        self.braces = 0                   # `{` open now
        self.too_deep: Token | None = None   # the `{` past max_braces, where the parse stopped
        self.kinds = {t.name: (t.pattern.value if isinstance(t.pattern, PatternStr) else t.name)
                      for t in parser.terminals}
        self.semicolon_type = next(n for n, k in self.kinds.items() if k == ";")
        interactive = parser.parse_interactive(text)
        self.state: ParserState[int] = interactive.parser_state
        # Trial parses reuse the tables without building trees.
        self.quiet_conf = copy(self.state.parse_conf)
        self.quiet_conf.callbacks = {}
        self.lexer = interactive.lexer_thread
        self.diagnostics: list[Diagnostic] = []
        self.rules: list[str] = []  # the known-error rule behind each diagnostic
        self.error_lines: set[int] = set()
        self.strays: set[tuple[int, str]] = set()   # (line, character) of strays reported
        self.history: list[Token] = []
        self.open: list[Opener] = []
        self.item: list[Token] = []
        self.stmt_first: Token | None = None
        self.top = _Snapshot(self.state.copy(deepcopy_values=False), -1, "", (), 0)
        self.stmts: dict[int, _Snapshot] = {}
        self.pending: list[Token] = []
        self.recoveries = 0
        self.last_error = -1  # offset of the last token that failed
        self.line_starts: list[int] | None = None   # offsets, found when first needed

    # ------------------------------------------------------------ main loop

    def run(self) -> Tree[Token] | None:
        """Parse to the end; the tree, or None when a diagnostic was recorded."""
        tokens = self._tokens()
        while True:
            try:
                tok = self.pending.pop() if self.pending else next(tokens, None)
            except UnexpectedCharacters as e:
                self._stray(e.pos_in_stream if e.pos_in_stream is not None else 0)
                tokens = self._tokens()
                continue
            except UnexpectedToken as e:
                # The contextual lexer found a token that is known, but not here.
                if not self._error(e.token):
                    return None
                tokens = self._tokens()
                continue
            if tok is None:
                tok = self._eof()
            self._before(tok)
            try:
                result = self.state.feed_token(tok, tok.type == "$END")
            except UnexpectedToken:
                if not self._error(tok):
                    return None
                tokens = self._tokens()
                continue
            self._after(tok)
            if self.too_deep is not None:
                return None
            if tok.type == "$END":
                if self.diagnostics:
                    return None
                assert isinstance(result, Tree)
                return result

    def _tokens(self) -> Iterator[Token]:
        """A fresh token stream from the current lexer position and parser state."""
        stream: Iterator[Token] = self.lexer.lex(self.state)  # type: ignore[no-untyped-call]
        return stream

    def _eof(self) -> Token:
        """The end-of-file token, positioned just after the last character."""
        line = self.text.count("\n") + 1
        col = len(self.text) - (self.text.rfind("\n") + 1) + 1
        return Token("$END", "", len(self.text), line, col, line, col, len(self.text))

    # ------------------------------------------------------------- tracking

    def _before(self, tok: Token) -> None:
        """Save recovery snapshots at statement and item starts; check octal."""
        prev = str(self.history[-1]) if self.history else None
        if not self.open and prev in (None, ";", "}"):
            self.top = self._snapshot(tok)
            self.item = []
        elif self.open and str(self.open[-1].token) == "{" and prev in ("{", ";", "}") \
                and self.kinds.get(tok.type) != "else":
            self.stmts[len(self.open)] = self._snapshot(tok)
            self.stmt_first = tok
        if tok.type == "NUMBER" and _OCTAL_TYPO.fullmatch(tok):
            self._report(Diagnostic("E102", f"invalid digit in octal constant `{tok}`",
                                    token_span(tok), "a leading 0 makes a C constant octal; "
                                    "drop the 0 or write it in hex"), "octal digit")
        elif tok.type == "NUMBER" and int_value(tok) >= 1 << 64:
            # gcc's words; every value the model holds is at most 64 bits
            shown = tok if len(tok) <= 24 else f"{tok[:10]}...{tok[-6:]} ({len(tok)} characters)"
            self._report(Diagnostic("E102", f"integer constant is too large for its type: `{shown}`",
                                    token_span(tok), "constants are at most 64 bits "
                                    "(0xffffffffffffffff)"), "constant too large")

    def _snapshot(self, tok: Token) -> _Snapshot:
        """The state to restore if the statement or item starting at tok fails."""
        return _Snapshot(self.state.copy(deepcopy_values=False), tok.start_pos or 0,
                         self.kinds.get(tok.type, tok.type), tuple(self.history), len(self.open))

    def _after(self, tok: Token) -> None:
        """Track brackets, the current item and the last tokens accepted."""
        kind = self.kinds.get(tok.type, tok.type)
        if kind in ("(", "[", "{"):
            self.open.append(Opener(tok, self.history[-1] if self.history else None))
            if kind == "{":
                self.braces += 1
                if self.max_braces is not None and self.braces > self.max_braces:
                    self.too_deep = tok
        elif kind in (")", "]", "}") and self.open:
            self.braces -= str(self.open.pop().token) == "{"
            for depth in [d for d in self.stmts if d > len(self.open)]:
                del self.stmts[depth]
        if len(self.item) < 3:
            self.item.append(tok)
        self.history = (self.history + [tok])[-_HISTORY:]

    # ------------------------------------------------------------ reporting

    def _report(self, diagnostic: Diagnostic, rule: str, cascades: bool = True) -> None:
        """Record a diagnostic unless its line already has one (a cascade);
        ``cascades=False`` (a stray character) is recorded anyway."""
        line = diagnostic.span.line
        if (cascades and line in self.error_lines) or len(self.diagnostics) >= MAX_ERRORS:
            return
        self.error_lines.add(line)
        self.diagnostics.append(diagnostic)
        self.rules.append(rule)

    def _stray(self, pos: int) -> None:
        """E102 for a character no terminal matches; skip it and go on."""
        line, col = self._line_col(pos)
        ch = self.text[pos]
        # a second stray of a line is no cascade, unless it is the same
        # character or another quote (the two quotes of 'a' or of a word in
        # typographic quotes, a pasted run of them)
        key = "quote" if ch in "'`\u201c\u201d\u2018\u2019" else ch
        again = (line, key) in self.strays
        self.strays.add((line, key))
        self._report(stray_character(ch, Span(line, col, line, col + 1)),
                     "stray character", cascades=again)
        self._seek(pos + 1)

    def _context(self, tok: Token) -> ErrorContext:
        """What the message rules need to know about an error at tok."""
        kind = "$END" if tok.type == "$END" else self.kinds.get(tok.type, tok.type)
        return ErrorContext(tok, kind, tuple(self.history), self._accepts(), tuple(self.open),
                            tuple(self.item), self.stmt_first if self.open else None)

    def _accepts(self) -> frozenset[str]:
        """The terminals the parser state can really take (after reductions)."""
        found = set()
        for name in self.state.parse_conf.states[self.state.position]:
            if not name.isupper():
                continue
            trial = self._trial()
            try:
                trial.feed_token(Token(name, ""), name == "$END")
            except UnexpectedToken:
                continue
            found.add("$END" if name == "$END" else self.kinds.get(name, name))
        return frozenset(found)

    def _trial(self) -> ParserState[int]:
        """A copy of the parser state for trying tokens out."""
        trial = self.state.copy(deepcopy_values=False)
        trial.parse_conf = self.quiet_conf
        return trial

    # ------------------------------------------------------------- recovery

    def _error(self, tok: Token) -> bool:
        """Report a syntax error at tok and recover; False to stop parsing."""
        explanation = explain(self._context(tok))
        self._report(explanation.diagnostic, explanation.rule)
        offset = tok.start_pos if tok.start_pos is not None else len(self.text)
        self.recoveries += 1
        if tok.type == "$END" or len(self.diagnostics) >= MAX_ERRORS \
                or self.recoveries > MAX_RECOVERIES or offset <= self.last_error:
            return False  # the end, enough said, or no progress
        self.last_error = offset
        if explanation.rule == MISSING_SEMICOLON and self._insert_semicolon(tok):
            return True
        if explanation.rule == TOPLEVEL_IN_BODY:
            # As if the missing `}` were there: drop the unclosed item and
            # go on with the item that starts on this line.
            return self._skip_item(tok)
        return self._skip_statement(tok) or self._skip_item(tok)

    def _insert_semicolon(self, tok: Token) -> bool:
        """Feed a virtual `;` before tok if the parser then accepts tok."""
        prev = self.history[-1]
        semi = Token(self.semicolon_type, ";", prev.end_pos, prev.end_line, prev.end_column,
                     prev.end_line, (prev.end_column or 0) + 1, prev.end_pos)
        trial = self._trial()
        try:
            trial.feed_token(semi)
            trial.feed_token(tok, tok.type == "$END")
        except UnexpectedToken:
            return False
        self.state.feed_token(semi)
        self._after(semi)
        self.pending.append(tok)
        return True

    def _skip_statement(self, tok: Token) -> bool:
        """Drop the statement around tok and resume after it."""
        snap = self.stmts.get(self._body_depth())
        if snap is None:
            return False
        nesting = len(self.open) - snap.depth  # `(` and `[` opened inside the statement
        # A `{` the parser refused starts a block (`switch (x) {`, `else else {`):
        # skip it whole with the statement, or its `}` would close the body.
        start = tok.start_pos
        end = _statement_end(self.text, start or 0, nesting, snap.first == "for")
        if end is None or end <= snap.offset:
            return False
        self._restore(snap)
        self._seek(end)
        return True

    def _body_depth(self) -> int:
        """The depth of the innermost open `{`, or 0."""
        for depth in range(len(self.open), 0, -1):
            if str(self.open[depth - 1].token) == "{":
                return depth
        return 0

    def _skip_item(self, tok: Token) -> bool:
        """Drop the top-level item around tok; resume at the next item line."""
        snap = self.top
        here = [t for t in (tok, self.stmt_first) if t is not None and _is_item_start(t)
                and (t.start_pos or 0) > snap.offset and t.line == tok.line]
        if here:
            start = here[-1].start_pos or 0
        else:
            resume = _next_item_start(self.text, tok.start_pos or 0)
            if resume is None:
                return False
            start = resume
        self._restore(snap)
        self.open.clear()
        self.braces = 0
        self.stmts.clear()
        self.item = []
        self._seek(start)
        return True

    def _restore(self, snap: _Snapshot) -> None:
        """Go back to the parser and tracker state of a snapshot."""
        self.state = snap.state.copy(deepcopy_values=False)
        self.history = list(snap.history)
        del self.open[snap.depth:]
        self.braces = sum(str(o.token) == "{" for o in self.open)
        self.pending.clear()

    def deepest_braces(self) -> int:
        """How deep the braces go, from the `{` that stopped the parse on
        (counted on the raw text: no parser state is kept)."""
        assert self.too_deep is not None
        depth = deepest = self.braces
        for m in _raw_tokens(self.text, self.too_deep.end_pos or 0):
            lexeme = m.group()
            if lexeme == "{":
                depth += 1
                deepest = max(deepest, depth)
            elif lexeme == "}":
                depth -= 1
                if depth <= 0:
                    break
        return deepest

    def _seek(self, offset: int) -> None:
        """Move the lexer to a character offset."""
        counter = self.lexer.state.line_ctr  # type: ignore[union-attr]
        line, col = self._line_col(offset)
        counter.char_pos = offset
        counter.line = line
        counter.line_start_pos = offset - col + 1
        counter.column = col

    def _line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset, by a binary search
        of the line starts (counting the newlines before it each time would
        make a file of many stray characters quadratic)."""
        if self.line_starts is None:
            self.line_starts = [0] + [m.end() for m in _NEWLINE.finditer(self.text)]
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1


def _raw_tokens(text: str, pos: int) -> Iterator[re.Match[str]]:
    """Raw lexemes from pos on, comments and strings as wholes."""
    while pos < len(text):
        m = _RAW.match(text, pos)
        assert m is not None  # the last alternative matches any character
        yield m
        pos = m.end()


def _statement_end(text: str, pos: int, nesting: int, in_for: bool) -> int | None:
    """Where to resume after dropping the statement that contains pos.

    That is just after its `;` or after the `}` of its last block (an `else`
    continues it), or at the `}` that closes the enclosing block. A brace
    inside an open parenthesis means the parenthesis was never closed. None
    at the end of the text.
    """
    braces = 0
    for m in _raw_tokens(text, pos):
        lexeme = m.group()
        if lexeme in ("(", "["):
            nesting += 1
        elif lexeme in (")", "]"):
            nesting = max(0, nesting - 1)
        elif lexeme == "{":
            nesting, braces = 0, braces + 1
        elif lexeme == "}":
            nesting = 0
            if braces == 0:
                return m.start()
            braces -= 1
            if braces == 0 and not _followed_by_else(text, m.end()):
                return m.end()
        elif lexeme == ";" and braces == 0 and (nesting == 0 or not in_for):
            return m.end()
    return None


def _followed_by_else(text: str, pos: int) -> bool:
    """Is the next lexeme after pos (comments skipped) `else`?"""
    for m in _raw_tokens(text, pos):
        if not (m.group().isspace() or m.group().startswith(("//", "/*"))):
            return m.group() == "else"
    return False


def _is_item_start(tok: Token) -> bool:
    """Is tok a top-level keyword in column 1?"""
    return tok.column == 1 and str(tok) in TOPLEVEL_WORDS


def _next_item_start(text: str, pos: int) -> int | None:
    """The offset of the next top-level keyword in column 1 after pos."""
    for m in _raw_tokens(text, pos):
        start = m.start()
        if start > pos and m.group() in TOPLEVEL_WORDS and (start == 0 or text[start - 1] == "\n"):
            return start
    return None
