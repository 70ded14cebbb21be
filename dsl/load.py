"""Load a .kmap file: read, parse, check, lower. Every stage stops on error.

The stages are one function each (jlox's habit): parse (dsl/syntax.py),
check (dsl/check.py, all diagnostics at once), lower (dsl/lower.py).
"""

from __future__ import annotations

from pathlib import Path

from dsl.source import InputError, KmapError, Source
from runtime.program import Program


class FileError(KmapError):
    """The file cannot be read at all."""


def load_text(data: bytes | str, path: str) -> Program:
    """Parse, check and lower source text (bytes are decoded here)."""
    from dsl.check import check
    from dsl.lower import lower
    from dsl.syntax import parse_text
    tree = parse_text(data, path)
    checked = check(tree, _source_of(tree, data, path))
    return lower(checked)


def _source_of(tree: object, data: bytes | str, path: str) -> Source:
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return Source(path, text)


def load(path: str) -> Program:
    """Read and load a file; FileError if it cannot be read."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise FileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileError(f"{path}: is a directory, not a .kmap file") from None
    except OSError as e:
        raise FileError(f"{path}: cannot read: {e.strerror}") from None
    return load_text(data, path)


__all__ = ["load", "load_text", "FileError", "InputError"]
