"""Every example is a test: `kmap run` and `kmap check` against goldens.

Goldens sit beside each example: NAME.run.out and NAME.check.out hold the
command's stdout followed by an `exit status N` line. `pytest
--update-goldens` rewrites them; review the diff like code.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from kmap_scenarios.dsl.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.kmap"))


def kmap(monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[str, str, int]:
    """Run the CLI in-process from the repository root."""
    monkeypatch.chdir(ROOT)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return out.getvalue(), err.getvalue(), code


def _id(p: Path) -> str:
    return str(p.relative_to(ROOT / "examples"))


@pytest.mark.parametrize("mode", ["run", "check"])
@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_golden(path: Path, mode: str, monkeypatch: pytest.MonkeyPatch, update_goldens: bool) -> None:
    out, err, code = kmap(monkeypatch, mode, str(path.relative_to(ROOT)))
    assert err == "", err
    text = f"{out}exit status {code}\n"
    golden = path.with_suffix(f".{mode}.out")
    if update_goldens:
        golden.write_text(text)
    assert golden.exists(), f"no golden {golden.name}: run pytest --update-goldens"
    assert text == golden.read_text()


@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_every_example_says_what_it_shows(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first.startswith("// ") and len(first) > 20


@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_every_example_holds(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Examples show behaviour with expectations that hold: exit 0 both ways."""
    for mode in ("run", "check"):
        assert kmap(monkeypatch, mode, "--no-trace", str(path.relative_to(ROOT)))[2] == 0
