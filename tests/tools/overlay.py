"""The kmap_scenarios package as a folder, from the repository's own
folders: what pyproject.toml's package-dir maps (src/kmap_scenarios, dsl/,
runtime/, grammar/, examples/) linked under one ``kmap_scenarios/``.

For tools that find a package by its folder and know nothing of the
installed one (mypy; the mutation tester, which swaps one module for a
mutant): put the folder ``overlay`` returns first on their path.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGE = "kmap_scenarios"


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """pyproject.toml's package-dir: dotted package -> its folder."""
    conf = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    return {name: root / folder
            for name, folder in conf["tool"]["setuptools"]["package-dir"].items()}


def overlay(dest: Path, root: Path = ROOT, copy: tuple[str, ...] = ()) -> Path:
    """Make ``dest/kmap_scenarios`` and return ``dest``: the top package's
    files and each mapped sub-package linked (symlinks), or copied when
    its dotted name is in ``copy`` (so that a file in it can be changed
    without touching the repository)."""
    dirs = package_dirs(root)
    top = dest / PACKAGE
    top.mkdir(parents=True, exist_ok=True)
    for f in dirs[PACKAGE].iterdir():
        if f.is_file():
            (top / f.name).symlink_to(f)
    for name, folder in dirs.items():
        if name == PACKAGE:
            continue
        target = top / name.split(".", 1)[1].replace(".", "/")
        if name in copy:
            shutil.copytree(folder, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.symlink_to(folder, target_is_directory=True)
    return dest
