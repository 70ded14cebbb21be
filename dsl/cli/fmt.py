"""`kmap fmt [--check] [--diff] FILE...`: the canonical layout of .kmap
files (docs/formatting.md), every comment kept.

Without options each file that is not in the layout is rewritten in
place, atomically (a temporary file beside it, then a rename), and a
file already in it is not touched at all. `--check` and `--diff` write
nothing: `--check` lists the files that would change, `--diff` prints
the change as a unified diff. `-` reads standard input and writes the
formatted text (or the list or diff) to standard output. A file with a
syntax error is never touched: its diagnostics go to standard error, as
`kmap lint` prints them (only the syntax is checked, not the names).

Exit status: 0 nothing to change (or every change written), 1 with
`--check` a file would change, 65 a file has a syntax error, 2 a
path that cannot be read; the worst of the files' (dsl/cli/multi.py).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import sys
import tempfile
from pathlib import Path

from kmap_scenarios.dsl.cli.multi import worst
from kmap_scenarios.dsl.cli.usage import EX_DATAERR, EX_FAIL, EX_OK, EX_SOFTWARE, EX_USAGE
from kmap_scenarios.dsl.fmt.format import FormatBug, format_text
from kmap_scenarios.dsl.lower.load import FileError, read_scenario
from kmap_scenarios.dsl.syntax.source import InputError

STDIN = "-"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="FILE",
                   help=".kmap files, directories searched for them, or - (standard input)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; list the files that would change, exit 1 if any")
    p.add_argument("--diff", action="store_true",
                   help="write nothing; print each change as a unified diff")


def run(args: argparse.Namespace) -> int:
    """Format every file named; the worst exit status."""
    statuses = [_one(path, args.check, args.diff) for path in _files(args.paths)]
    return worst(statuses)


def _files(paths: list[str]) -> list[str]:
    """The paths, each directory replaced by its .kmap files (sorted)."""
    out: list[str] = []
    for given in paths:
        if given != STDIN and Path(given).is_dir():
            out += [str(f) for f in sorted(Path(given).rglob("*.kmap")) if f.is_file()]
        else:
            out.append(given)
    return out


def _one(path: str, check: bool, diff: bool) -> int:
    try:
        data = sys.stdin.buffer.read() if path == STDIN else read_scenario(path)
        shown = "<stdin>" if path == STDIN else path
        text = format_text(data, shown)
    except FileError as e:
        print(f"kmap: {e}", file=sys.stderr)
        return EX_USAGE
    except InputError as e:
        print(e.render(), file=sys.stderr)
        return EX_DATAERR
    except FormatBug as e:
        print(f"kmap: internal error (a bug in kmap-scenarios, not in your scenario): {e}; "
              "the file is left as it was", file=sys.stderr)
        return EX_SOFTWARE
    new = text.encode("utf-8")
    if new == data:
        if path == STDIN and not (check or diff):
            sys.stdout.write(text)
        return EX_OK
    if diff:
        old = data.decode("utf-8", errors="replace")
        sys.stdout.writelines(difflib.unified_diff(
            old.splitlines(keepends=True), text.splitlines(keepends=True),
            f"{shown}", f"{shown} (formatted)"))
    if check:
        if not diff:
            print(shown)
        return EX_FAIL
    if diff:
        return EX_OK
    if path == STDIN:
        sys.stdout.write(text)
    else:
        replace(path, new)
    return EX_OK


def replace(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same
    directory, with the file's permissions, renamed over it (the target
    of a symbolic link, not the link). A reader sees the old text or the
    new, never half of one."""
    target = os.path.realpath(path)
    mode = os.stat(target).st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=".kmap-fmt-", suffix=".tmp",
                               dir=os.path.dirname(target) or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
