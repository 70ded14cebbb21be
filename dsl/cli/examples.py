"""`kmap examples [--copy DIR]`: the example scenarios the package ships.

The examples are package data (kmap_scenarios.examples, the repository's
examples/ folder). Listed, each is its path under examples/ and the first
sentence of its opening comment; copied, the .kmap files keep that layout
under DIR. A copy never overwrites: when any file it would write exists,
it writes nothing and says which (a user's edited example is not lost).
"""

from __future__ import annotations

import importlib.resources
import sys
from importlib.resources.abc import Traversable
from pathlib import Path

from kmap_scenarios.dsl.cli.usage import EX_OK, Usage

PACKAGE = "kmap_scenarios.examples"


def examples() -> list[tuple[str, Traversable]]:
    """(relative path, file) of every example scenario, sorted by path."""
    found: list[tuple[str, Traversable]] = []

    def walk(folder: Traversable, prefix: str) -> None:
        for item in folder.iterdir():
            if item.is_dir():
                if item.name != "__pycache__":
                    walk(item, f"{prefix}{item.name}/")
            elif item.name.endswith(".kmap"):
                found.append((prefix + item.name, item))

    walk(importlib.resources.files(PACKAGE), "")
    return sorted(found, key=lambda e: e[0])


def summary(text: str) -> str:
    """The first sentence of the scenario's opening `//` comment."""
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("//"):
            break
        lines.append(line[2:].strip())
    words = " ".join(lines)
    end = words.find(". ")
    return words if end < 0 else words[:end + 1]


def listing() -> str:
    rows = [(rel, summary(f.read_text(encoding="utf-8"))) for rel, f in examples()]
    width = max(len(rel) for rel, _ in rows)
    return "".join(f"{rel:<{width}}  {text}".rstrip() + "\n" for rel, text in rows)


def copy(dest: Path) -> list[str]:
    """Copy every example under ``dest``; the relative paths written.
    Raises Usage, writing nothing, when one of them exists already."""
    todo = examples()
    taken = [rel for rel, _ in todo if (dest / rel).exists()]
    if taken:
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        raise Usage(f"--copy: {dest / taken[0]} exists{more}; nothing was copied "
                    "(give a new or empty directory)")
    if dest.exists() and not dest.is_dir():
        raise Usage(f"--copy: {dest} is not a directory")
    for k, (rel, f) in enumerate(todo):
        target = dest / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.read_bytes())
        except OSError as err:
            raise Usage(f"--copy: cannot write {target}: {err.strerror or err} "
                        f"({k} of {len(todo)} examples copied)") from None
    return [rel for rel, _ in todo]


def run(copy_to: str | None) -> int:
    if copy_to is None:
        sys.stdout.write(listing())
        return EX_OK
    dest = Path(copy_to)
    written = copy(dest)
    print(f"copied {len(written)} examples to {dest}/ "
          f"(try: kmap check {dest / written[0]})")
    return EX_OK
