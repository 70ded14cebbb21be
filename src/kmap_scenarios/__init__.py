"""kmap-scenarios: a language and model checker for Linux kernel kmap
scenarios.

The installed package holds three sub-packages, kept in the repository's
top-level folders (pyproject.toml's package-dir): ``dsl`` (the language,
the `kmap` command, the REPL and editor tools), ``runtime`` (the modelled
kernel and the search), ``grammar`` (the LALR grammar), and ``examples``
(the example scenarios, as data: `kmap examples`).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kmap-scenarios")
except PackageNotFoundError:   # run from a tree that is not installed
    __version__ = "unknown"
