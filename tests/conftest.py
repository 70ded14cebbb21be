"""Shared pytest options and fixtures.

``pytest --update-goldens`` rewrites golden files (lexer token files, example
outputs, and the examples' `// Result:` blocks, as the kmap plugin's
``--kmap-update`` does) instead of comparing against them; review the diff
like code. ``--kmap-update`` alone rewrites only the `// Result:` blocks.

The examples are collected by the package's own pytest plugin
(dsl/testing/plugin.py; ``testpaths`` in pyproject.toml), as a user's
scenarios are; the lexer's sample files here are inputs, not scenarios.
"""

from __future__ import annotations

import pytest

collect_ignore_glob = ["lexer/*.kmap", "kmod/*.kmap"]   # samples, not scenarios with a result


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--update-goldens``."""
    parser.addoption(
        "--update-goldens", action="store_true", default=False,
        help="rewrite golden files (and the // Result: blocks, as --kmap-update) "
             "instead of comparing against them")


def pytest_configure(config: pytest.Config) -> None:
    """``--update-goldens`` implies the plugin's ``--kmap-update``."""
    if config.getoption("--update-goldens") and hasattr(config.option, "kmap_update"):
        config.option.kmap_update = True


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """Whether this run rewrites golden files (``--update-goldens``)."""
    return bool(request.config.getoption("--update-goldens"))
