"""kmap-scenarios: a language and model checker for Linux kernel kmap
scenarios.

The installed package holds three sub-packages, kept in the repository's
top-level folders (pyproject.toml's package-dir): ``dsl`` (the language,
the `kmap` command, the REPL and editor tools), ``runtime`` (the modelled
kernel and the search), ``grammar`` (the LALR grammar), and ``examples``
(the example scenarios, as data: `kmap examples`).
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """``__version__``, read from the installed package's metadata when
    first asked for: importlib.metadata costs about a tenth of a small
    `kmap check` (docs/performance.md, "Startup"), which most commands
    never need."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version
    try:
        found = version("kmap-scenarios")
    except PackageNotFoundError:   # run from a tree that is not installed
        found = "unknown"
    globals()["__version__"] = found
    return found
