"""Markdown pages whose examples are run: the reader's session, replayed.

A page (docs/tutorial.md, docs/reading-check-output.md) is a session in
one empty directory, read from the top:

- a fenced block whose info string is ``c file=NAME`` is a file the
  reader types: it is written to NAME (a later block of the same name
  replaces it);
- a fenced ``console`` block is a terminal transcript: each line that
  starts with ``$ `` is a command, the lines after it up to the next
  command its output, standard output and standard error as a terminal
  shows them; ``$ echo $?`` prints the exit status of the command
  before it. Commands are ``kmap ...`` (run in-process, with
  ``main()``; no terminal, so no colour) and ``echo $?``.

``replay(page)`` is the page with every transcript's output replaced by
what the commands print now. Lines that differ from run to run (the
``--stats`` time) are compared with their numbers masked, and kept as
the page has them when only those numbers differ, so that refreshing a
page changes only what changed. tests/test_docs.py compares the page
with its replay; ``pytest tests/test_docs.py --update-goldens`` writes
the replay back (review the diff like code).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import tempfile
from pathlib import Path

from kmap_scenarios.dsl.cli.main import main

FENCE = re.compile(r"^```(.*)$")
# (what varies, what it is compared as)
VOLATILE = [(re.compile(r"Time [0-9.]+ s, [0-9,]+ states/s"), "Time T s, N states/s")]


class DocError(Exception):
    """A page the session cannot run (an unknown command, an open fence)."""


def replay(page: str) -> str:
    """``page`` with each transcript's outputs as the commands print them now."""
    lines = page.splitlines(keepends=True)
    out: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kmap-doc-") as tmp, _cwd(tmp):
        status = 0
        k = 0
        while k < len(lines):
            m = FENCE.match(lines[k].rstrip("\n"))
            if not m:
                out.append(lines[k])
                k += 1
                continue
            end = next((j for j in range(k + 1, len(lines)) if lines[j].rstrip("\n") == "```"),
                       None)
            if end is None:
                raise DocError(f"line {k + 1}: a fence that is never closed")
            body = lines[k + 1:end]
            info = m.group(1).split()
            if info[:1] == ["c"] and len(info) > 1 and info[1].startswith("file="):
                Path(info[1][len("file="):]).write_text("".join(body), encoding="utf-8")
            elif info[:1] == ["console"]:
                body, status = _transcript(body, status, k + 2)
            out += [lines[k], *body, lines[end]]
            k = end + 1
    return "".join(out)


def _transcript(body: list[str], status: int, first: int) -> tuple[list[str], int]:
    """A console block's lines with fresh outputs, and the last exit status."""
    out: list[str] = []
    k = 0
    while k < len(body):
        line = body[k]
        if not line.startswith("$ "):
            raise DocError(f"line {first + k}: output before any `$ ` command")
        end = next((j for j in range(k + 1, len(body)) if body[j].startswith("$ ")), len(body))
        command = line[2:].strip()
        if command == "echo $?":
            printed = f"{status}\n"
        else:
            printed, status = _run(command, first + k)
        out.append(line)
        out += _keep_volatile(body[k + 1:end], printed.splitlines(keepends=True))
        k = end
    return out, status


def _run(command: str, line: int) -> tuple[str, int]:
    argv = shlex.split(command)
    if argv[:1] != ["kmap"]:
        raise DocError(f"line {line}: only `kmap ...` and `echo $?` run here: {command}")
    both = io.StringIO()
    with contextlib.redirect_stdout(both), contextlib.redirect_stderr(both):
        status = main(argv[1:])
    printed = both.getvalue()
    return printed if printed.endswith("\n") or not printed else printed + "\n", status


def _keep_volatile(old: list[str], new: list[str]) -> list[str]:
    """``new``, with the page's own text kept where the two differ only
    in VOLATILE numbers."""
    if len(old) != len(new):
        return new
    return [a if _masked(a) == _masked(b) else b for a, b in zip(old, new)]


def _masked(line: str) -> str:
    for pattern, mask in VOLATILE:
        line = pattern.sub(mask, line)
    return line


@contextlib.contextmanager
def _cwd(path: str):  # type: ignore[no-untyped-def]
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)
