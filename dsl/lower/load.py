"""Load a .kmap file: read, parse, check, lower. Every stage stops on error.

The stages are one function each (jlox's habit): parse (dsl/syntax/parser.py),
check (dsl/check/checker.py, all diagnostics at once), lower (dsl/lower/lower.py).
"""

from __future__ import annotations

import stat
from pathlib import Path

from kmap_scenarios.dsl.syntax.source import InputError, KmapError, Source
from kmap_scenarios.runtime.kernel.program import Program


class FileError(KmapError):
    """The file cannot be read at all."""


def load_text(data: bytes | str, path: str) -> Program:
    """Parse, check and lower source text (bytes are decoded here)."""
    from kmap_scenarios.dsl.check.checker import check
    from kmap_scenarios.dsl.lower.lower import lower
    from kmap_scenarios.dsl.syntax.parser import parse_text
    tree = parse_text(data, path)
    checked = check(tree, _source_of(tree, data, path))
    return lower(checked)


def _source_of(tree: object, data: bytes | str, path: str) -> Source:
    """The text the spans of ``tree`` refer to (parse_text's normalisation)."""
    from kmap_scenarios.dsl.syntax.parser import normalise
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return Source(path, normalise(text))


MAX_BYTES = 16 << 20   # far more than any scenario; a bound for /dev/zero-like input


def load(path: str) -> Program:
    """Read and load a file; FileError if it cannot be read."""
    return load_text(read_scenario(path), path)


def read_scenario(path: str) -> bytes:
    """The bytes of a scenario file (a pipe will do); FileError for no
    path, a directory, a device, more than MAX_BYTES, or a read error."""
    if not path:
        raise FileError("no file given (the path is empty)")
    p = Path(path)
    try:
        mode = p.stat().st_mode
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            raise FileError(f"{path}: not a regular file (a device), not a .kmap file")
        with p.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except (FileNotFoundError, IsADirectoryError) as e:
        # as cat(1) and the kernel's tools say it: `kmap: f.kmap: No such
        # file or directory`
        raise FileError(f"{path}: {e.strerror}") from None
    except OSError as e:
        raise FileError(f"{path}: cannot read: {e.strerror}") from None
    if len(data) > MAX_BYTES:
        raise FileError(f"{path}: more than {MAX_BYTES >> 20} MiB, not a .kmap file")
    return data


__all__ = ["load", "load_text", "read_scenario", "FileError", "InputError"]
