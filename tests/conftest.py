"""Shared pytest options and fixtures.

``pytest --update-goldens`` rewrites golden files (lexer token files, example
outputs) instead of comparing against them; review the diff like code.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--update-goldens``."""
    parser.addoption(
        "--update-goldens", action="store_true", default=False,
        help="rewrite golden files instead of comparing against them")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """Whether this run rewrites golden files (``--update-goldens``)."""
    return bool(request.config.getoption("--update-goldens"))
