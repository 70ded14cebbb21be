"""A scenario's recorded result: the `// Result:` block that ends the file.

The kernel's litmus tests (tools/memory-model) carry their expected result
in the test itself, and herd7 prints Positive/Negative counts; a .kmap
file does the same, so a scenario travels as one file (docs/testing.md):

    // Result: check
    // Result: Outcomes 2
    // Result:        1  x=1; no reports
    // Result:        4  x=2; no reports
    // Result: expect sometimes x == 1: holds
    // Result:   Positive: 1 Negative: 4
    // Result: all 1 expectations hold

The block is the run of `// Result:` lines at the very end of the file
(blank lines after it allowed). Its first line names the command that
checks the file, `check` (every execution, the default) or `run` (the
file's schedule, or the default policy); the lines after it are what that
command found, in a path-free form (no file names: the same file gives
the same block wherever it is). Rewriting the block (`kmap test
--update`) changes nothing else in the file.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "// Result:"
MODES = ("check", "run")


@dataclass(frozen=True)
class Recorded:
    """The block of a file: its mode, its lines, and where it sits."""

    mode: str                 # "check" or "run"
    lines: tuple[str, ...]    # the recorded result, without the prefix and the mode line
    present: bool             # False: the file has no block yet
    start: int                # index of the block's first line (len(lines) when absent)
    end: int                  # index after its last line


def _content(line: str) -> str:
    """A block line without `// Result:` and the one space after it."""
    rest = line.rstrip("\r\n")[len(PREFIX):]
    return rest[1:] if rest.startswith(" ") else rest


def read(text: str) -> Recorded:
    """The `// Result:` block at the end of ``text``."""
    lines = text.splitlines(keepends=True)
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start = end
    while start and lines[start - 1].lstrip().startswith(PREFIX):
        start -= 1
    if start == end:
        return Recorded("check", (), False, end, end)
    body = [_content(line.lstrip()).rstrip() for line in lines[start:end]]
    head = body[0].strip()
    if head in MODES:
        return Recorded(head, tuple(body[1:]), True, start, end)
    return Recorded("check", tuple(body), True, start, end)


def write(text: str, mode: str, result: list[str]) -> str:
    """``text`` with its block replaced by (or, without one, followed by)
    a block holding ``result``; every other byte is kept."""
    rec = read(text)
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    block = [f"{PREFIX} {line}".rstrip() + newline for line in [mode, *result]]
    if rec.present:
        return "".join(lines[:rec.start] + block + lines[rec.end:])
    head = text if not text or text.endswith("\n") else text + newline
    gap = newline if head.strip() else ""
    return head + gap + "".join(block)
