"""`mypy --strict` on the kmap_scenarios package (dsl/, runtime/ and
src/kmap_scenarios/), as configured in pyproject.toml.

mypy finds a package by its folder, so it reads the repository's folders
linked under one kmap_scenarios/ (tests/tools/overlay.py); its paths are
mapped back to the repository's. Runs mypy in-process (``mypy.api.run``) with a fresh cache, so the result
does not depend on a stale ``.mypy_cache``; a cold run takes a few seconds.
Skipped where mypy is not installed (the ``test`` extra installs it).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tools.overlay import PACKAGE, overlay, package_dirs

ROOT = Path(__file__).resolve().parent.parent

# Errors not fixed yet, pinned per file: the count may only go down. Empty:
# mypy must be clean.
PENDING: dict[str, int] = {}

ERROR = re.compile(r"^(?P<path>[^:\n]+\.pyi?):\d+(?::\d+)?: error: ", re.M)


@pytest.fixture(scope="module")
def mypy_result(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, int]:
    api = pytest.importorskip("mypy.api")
    cache = tmp_path_factory.mktemp("mypy_cache")
    tree = overlay(tmp_path_factory.mktemp("overlay"))
    return _run(api, tree, cache)


def _run(api: Any, tree: Path, cache: Path) -> tuple[str, str, int]:
    """mypy on the overlay's package, its paths put back as the
    repository's (kmap_scenarios/runtime/x.py -> runtime/x.py)."""
    old = os.getcwd()
    os.chdir(tree)
    try:
        stdout, stderr, status = api.run([
            "--config-file", str(ROOT / "pyproject.toml"),
            "--cache-dir", str(cache),
            "--no-color-output", "--no-error-summary",
            "-p", PACKAGE,
        ])
    finally:
        os.chdir(old)
    dirs = package_dirs()

    def back(m: re.Match[str]) -> str:
        parts = m["path"].split("/")
        for n in range(len(parts) - 1, 0, -1):
            folder = dirs.get(".".join(parts[:n]))
            if folder is not None:
                return str(folder.joinpath(*parts[n:]).relative_to(ROOT))
        return m["path"]

    return re.sub(r"^(?P<path>kmap_scenarios/[^:\n]+)", back, stdout, flags=re.M), stderr, status


def _relative(path: str) -> str:
    p = Path(path)
    if p.is_absolute():
        p = p.relative_to(ROOT)
    return p.as_posix()


def test_mypy_ran(mypy_result: tuple[str, str, int]) -> None:
    stdout, stderr, status = mypy_result
    # 0: clean, 1: type errors; anything else is a crash or a usage error.
    assert status in (0, 1), stderr or stdout


def test_mypy_strict_clean(mypy_result: tuple[str, str, int]) -> None:
    stdout, stderr, status = mypy_result
    counts = Counter(_relative(m["path"]) for m in ERROR.finditer(stdout))
    over = {path: n for path, n in counts.items() if n > PENDING.get(path, 0)}
    assert not over, f"new mypy --strict errors in {sorted(over)}:\n{stdout}"
    if not PENDING:
        assert status == 0, stdout + stderr
