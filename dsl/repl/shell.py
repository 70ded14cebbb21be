"""`kmap repl [FILE]`: type statements, step tasks, inspect and undo.

Two front ends share one ``Session`` (dsl/repl/session.py), which does all
the work and needs no terminal:

- on a terminal, a prompt_toolkit ``PromptSession`` with history (kept in
  ``$XDG_STATE_HOME/kmap/repl_history``), completion of commands, language
  words (dsl/syntax/names.py) and the scenario's names, and highlighting by the
  Pygments lexer dsl.lexer.KmapLexer;
- otherwise (a pipe, a file, a test), lines are read from stdin and each
  input is echoed after a ``kmap>`` prompt, so the output reads as a
  transcript: ``printf 'step\\nstate\\n' | kmap repl f.kmap``.

Exit status: 0; when reading a script from stdin, 65 if an input was wrong
or a command refused, 70 after an internal error (a bug of ours).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from kmap_scenarios.dsl.lower.load import FileError
from kmap_scenarios.dsl.repl.session import Reply, Session
from kmap_scenarios.dsl.syntax.source import InputError

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import History
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

PROMPT = "kmap> "
MORE = "....> "
EX_OK, EX_DATAERR, EX_SOFTWARE = 0, 65, 70

__all__ = ["Session", "Reply", "main", "run_lines", "interactive"]


def main(path: str | None) -> int:
    """Start a session on FILE (or the default scenario) and serve it."""
    try:
        session = Session(path)
    except FileError as e:
        print(f"kmap: {e}", file=sys.stderr)
        return 2
    except InputError as e:
        print(e.render(), file=sys.stderr)
        return EX_DATAERR
    except Exception as e:  # a bug of ours: say so, without a traceback
        print(f"kmap: internal error (a bug in kmap-scenarios) while opening the scenario: "
              f"{type(e).__name__}: {e}", file=sys.stderr)
        return EX_SOFTWARE
    if sys.stdin.isatty() and sys.stdout.isatty():
        return interactive(session)
    return run_lines(session, sys.stdin, sys.stdout)


# ------------------------------------------------------------------ scripts


def inputs(lines: Iterable[str], session: Session) -> Iterator[list[str]]:
    """Group lines into inputs: a line, with its continuation lines while a
    bracket or comment is still open."""
    group: list[str] = []
    for raw in lines:
        group.append(raw.rstrip("\n"))
        if not session.needs_more("\n".join(group)):
            yield group
            group = []
    if group:
        yield group


def run_lines(session: Session, lines: Iterable[str], out: TextIO) -> int:
    """Serve a session from lines of text (no terminal): echo, run, print."""
    out.write(session.banner() + "\n")
    status = EX_OK
    for group in inputs(lines, session):
        out.write(PROMPT + f"\n{MORE}".join(group) + "\n")
        reply = session.handle("\n".join(group))
        _print(reply, out)
        if reply.internal:
            status = EX_SOFTWARE
        elif not reply.ok and status == EX_OK:
            status = EX_DATAERR
        if session.finished:
            break
    return status


def _print(reply: Reply, out: TextIO) -> None:
    if reply.text:
        out.write(reply.text.rstrip("\n") + "\n")
    out.flush()


# ---------------------------------------------------------------- terminal


def interactive(session: Session, pt_input: Input | None = None,
                pt_output: Output | None = None) -> int:
    """The prompt_toolkit loop; Ctrl-C abandons an input, Ctrl-D leaves.
    (``pt_input``/``pt_output`` let a test drive it without a terminal.)"""
    prompt = _prompt_session(session, pt_input, pt_output)
    print(session.banner())
    while not session.finished:
        try:
            text = prompt.prompt(PROMPT)
            while session.needs_more(text):
                text += "\n" + prompt.prompt(MORE)
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        try:
            _print(session.handle(text), sys.stdout)
        except KeyboardInterrupt:
            print("interrupted; the session is unchanged")
    return EX_OK


def _prompt_session(session: Session, pt_input: Input | None,
                    pt_output: Output | None) -> PromptSession[str]:
    """A PromptSession with history, completion and kmap highlighting."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.lexers import PygmentsLexer

    from kmap_scenarios.dsl.editors.lexer import KmapLexer

    completer = WordCompleter(session.completions, sentence=False)
    prompt: PromptSession[str] = PromptSession(history=_history(), completer=completer,
                                               lexer=PygmentsLexer(KmapLexer),
                                               complete_while_typing=False,
                                               input=pt_input, output=pt_output)
    return prompt


def _history() -> History:
    """File history under $XDG_STATE_HOME (in memory if that fails)."""
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"),
                                                            ".local", "state")
    path = Path(base) / "kmap" / "repl_history"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))
