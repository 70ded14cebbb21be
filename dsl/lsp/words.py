"""The text around a position: the word under it, what comes before it.

Completion asks while the user types, when the text often does not parse;
these look at the characters only (comments and strings are not told
apart: a wrong guess costs a completion list, never an edit).
"""

from __future__ import annotations

import re

from kmap_scenarios.dsl.lsp.analysis import Pos, Range

_WORD_CHAR = re.compile(r"[A-Za-z0-9_]")
# `config {` with no `}` after it: the cursor is inside the config block
_IN_CONFIG = re.compile(r"\bconfig\s*\{[^}]*\Z")
# `KEY = partial` inside the config block: the value of KEY is being typed
_CONFIG_VALUE = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*=\s*[A-Za-z0-9_]*\Z")
# `task.partial` (expectations)
_MEMBER = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_]*)\Z")


def lines_of(text: str) -> list[str]:
    """The lines as the front end splits them (CRLF and CR are line ends)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def word_at(lines: list[str], pos: Pos) -> tuple[str, Range] | None:
    """The identifier under or just before ``pos`` and its range."""
    if pos.line >= len(lines):
        return None
    line = lines[pos.line]
    start = end = min(pos.col, len(line))
    while start > 0 and _WORD_CHAR.match(line[start - 1]):
        start -= 1
    while end < len(line) and _WORD_CHAR.match(line[end]):
        end += 1
    word = line[start:end]
    if not word or word[0].isdigit():
        return None
    return word, Range(Pos(pos.line, start), Pos(pos.line, end))


def before(lines: list[str], pos: Pos) -> str:
    """The text from the start to ``pos``."""
    head = lines[:pos.line]
    last = lines[pos.line][:pos.col] if pos.line < len(lines) else ""
    return "\n".join([*head, last])


def in_config(text_before: str) -> bool:
    return _IN_CONFIG.search(text_before) is not None


def config_key_before(text_before: str) -> str | None:
    """KEY when the text ends in ``KEY = partial`` (a value being typed)."""
    m = _CONFIG_VALUE.search(text_before)
    return m.group(1) if m else None


def member_before(text_before: str) -> str | None:
    """TASK when the text ends in ``TASK.partial``."""
    m = _MEMBER.search(text_before)
    return m.group(1) if m else None


def followed_by_call(lines: list[str], rng: Range) -> bool:
    """Whether a ``(`` follows the word at ``rng`` on its line."""
    return lines[rng.end.line][rng.end.col:].lstrip().startswith("(")


def member_of(lines: list[str], rng: Range) -> str | None:
    """TASK when the word at ``rng`` is the field of ``TASK.word``."""
    return member_before(lines[rng.start.line][:rng.start.col])
