"""pytest plugin: every ``*.kmap`` file a test run collects is a test item.

The item computes the file's result as `kmap test` does (`check`, or
`run` when its block says so) and compares it with the file's
`// Result:` block (dsl/cli/record.py); a difference fails the item with
the same diff `kmap test` prints. ``pytest --kmap-update`` rewrites the
blocks instead (review the diff like code). The item's name is the
file's base name; its node id is the path from pytest's root directory,
so reports do not depend on where pytest was started.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kmap_scenarios.dsl.cli.kmaptest import ERROR, FAIL, MISSING, FileResult, line_of, run_file


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--kmap-update``."""
    group = parser.getgroup("kmap", "kmap scenarios (.kmap files)")
    group.addoption("--kmap-update", action="store_true", default=False,
                    help="rewrite each .kmap file's // Result: block with what it gives now")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A ``.kmap`` file is a test file holding one item."""
    if file_path.suffix == ".kmap":
        collected: KmapFile = KmapFile.from_parent(parent, path=file_path)
        return collected
    return None


class KmapFile(pytest.File):
    """A scenario file: one item, its recorded result."""

    def collect(self) -> list[pytest.Item]:
        item: KmapItem = KmapItem.from_parent(self, name=self.path.name)
        return [item]


class KmapDiffers(Exception):
    """The file's result differs from its record (or it has none, or is invalid)."""

    def __init__(self, result: FileResult) -> None:
        super().__init__(result.status)
        self.result = result


class KmapItem(pytest.Item):
    """Run one scenario and compare it with its `// Result:` block."""

    # No fixtures. The attribute is there for plugins that assume every item
    # is a test function: pytest-lsp 1.0.1's pytest_runtest_call wrapper
    # returns without yielding for an item without `funcargs`, which fails
    # the item ("wrap_controller ... did not yield").
    funcargs: dict[str, Any] = {}

    def _name(self) -> str:
        try:
            return self.path.relative_to(self.config.rootpath).as_posix()
        except ValueError:
            return self.path.name

    def runtest(self) -> None:
        update = bool(self.config.getoption("kmap_update"))
        result = run_file(self._name(), str(self.path), update=update)
        if result.status in (FAIL, MISSING, ERROR):
            raise KmapDiffers(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, KmapDiffers):
            out = line_of(excinfo.value.result)
            if excinfo.value.result.status == FAIL:
                out.append("    (pytest --kmap-update rewrites the block)")
            return "\n".join(out)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"kmap: {self._name()}"
