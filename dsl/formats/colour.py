"""Colour in the text outputs, for a person reading them at a terminal.

The formats build plain text and, asked to (``colour=True``), wrap a few
words in ECMA-48 SGR sequences (``ESC [ 31 m`` ... ``ESC [ 0 m``), so that
the verdict is seen before it is read:

- verdicts: ``holds`` green, ``FAILS`` red, ``unproven`` yellow; the
  closing line (``result:``, ``Result:``, kmap test's summary) in the
  colour of its worst verdict;
- the kernel's reports: the headline of each in run's ``reports:``
  section and a witness's, the ``report ...`` lines of a trace and the
  reports of check's outcomes, red (a WARN yellow, as the kernel ranks
  it below a BUG);
- check's ``Warnings``, ``Bounded by`` and ``Report cut by`` lines yellow;
- kmap test's status words (``ok`` green, ``FAIL``, ``MISSING`` and
  ``INVALID`` red, ``updated`` cyan) and its diff (``-`` red, ``+``
  green); lint's ``ok``;
- a diagnostic's ``error[CODE]`` and caret red, its ``help`` cyan.

Nothing else changes: with colour off the text is byte for byte the
golden one. Whether colour is on is the command's choice
(dsl/cli/colour.py: ``--color``, NO_COLOR, a terminal).
"""

from __future__ import annotations

import re

RED, GREEN, YELLOW, CYAN = "31", "32", "33", "36"
BOLD_RED = "1;31"


def paint(text: str, sgr: str, on: bool) -> str:
    """``text`` in the SGR attributes ``sgr`` when ``on`` (and not empty)."""
    return f"\033[{sgr}m{text}\033[0m" if on and text else text


def verdict(holds: bool | None, on: bool, failing: str = "FAILS") -> str:
    """The verdict word, coloured: holds, FAILS (``failing``), unproven."""
    if holds is None:
        return paint("unproven", YELLOW, on)
    return paint("holds", GREEN, on) if holds else paint(failing, RED, on)


def closing(line: str, holds: list[bool | None], on: bool) -> str:
    """A closing line in the colour of the worst of ``holds``."""
    if any(h is False for h in holds):
        return paint(line, BOLD_RED, on)
    return paint(line, YELLOW if any(h is None for h in holds) else GREEN, on)


def report(text: str, on: bool, warn: bool | None = None) -> str:
    """A report's headline or label: red, a WARN yellow (``warn``; by
    default read off the label, ``WARN: ...``)."""
    if warn is None:
        warn = text.startswith("WARN")
    return paint(text, YELLOW if warn else RED, on)


def event(text: str, on: bool) -> str:
    """A trace's event line: the ``report KIND: ...`` ones coloured as
    reports."""
    if not on or not text.startswith("report "):
        return text
    return report(text, on, text.startswith("report WARN"))


def warning(text: str, on: bool) -> str:
    """A line that says the result is partial or suspect: yellow."""
    return paint(text, YELLOW, on)


_HEAD = re.compile(r"^(.*?: )(error\[E\d+\])(: .*)$")
_CARET = re.compile(r"^( *\| *)(\^+)$")
_HELP = re.compile(r"^( *= )(help)(: .*)$")


def diagnostics(text: str, on: bool) -> str:
    """An input error's rendering (dsl/syntax/source.py) with its
    ``error[CODE]`` and caret red and its ``help`` cyan."""
    if not on:
        return text
    out = []
    for line in text.split("\n"):
        for pattern, sgr in ((_HEAD, BOLD_RED), (_CARET, BOLD_RED), (_HELP, CYAN)):
            m = pattern.match(line)
            if m:
                line = m.group(1) + paint(m.group(2), sgr, on) + "".join(m.groups()[2:])
                break
        out.append(line)
    return "\n".join(out)
