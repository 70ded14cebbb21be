"""`mypy --strict` on dsl/ and runtime/, as configured in pyproject.toml.

Runs mypy in-process (``mypy.api.run``) with a fresh cache, so the result
does not depend on a stale ``.mypy_cache``; a cold run takes a few seconds.
Skipped where mypy is not installed (the ``test`` extra installs it).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Errors not fixed yet, pinned per file: the count may only go down. Empty:
# mypy must be clean.
PENDING: dict[str, int] = {}

ERROR = re.compile(r"^(?P<path>[^:\n]+\.pyi?):\d+(?::\d+)?: error: ", re.M)


@pytest.fixture(scope="module")
def mypy_result(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, int]:
    api = pytest.importorskip("mypy.api")
    cache = tmp_path_factory.mktemp("mypy_cache")
    stdout, stderr, status = api.run([
        "--config-file", str(ROOT / "pyproject.toml"),
        "--cache-dir", str(cache),
        "--no-color-output", "--no-error-summary",
        str(ROOT / "dsl"), str(ROOT / "runtime"),
    ])
    return stdout, stderr, status


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
