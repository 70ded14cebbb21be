"""The reference rows of docs/language.md as a Python module for the language server.

The language server's hover (dsl/lsp/hover.py) shows, for a built-in, a
config key or a report kind, the row the reference manual gives it: the
built-ins' tables of sections 7 and 8 (call, value, where, what it
models), the config table of section 3 (values, the defaults per ARCH,
meaning) and the report kinds of section 9. The manual is not package
data, so ``python -m kmap_scenarios.dsl.editors`` copies those rows into
dsl/lsp/reference.py, and tests/test_names.py fails when the copy is
stale. Every name of dsl/syntax/names.py's BUILTINS and REPORT_KINDS and
every key of runtime/kernel/config.py must have its row: a missing one
stops the generator.
"""

from __future__ import annotations

import re

from kmap_scenarios.dsl.syntax import names
from kmap_scenarios.runtime.kernel import config

LSP_REFERENCE = "dsl/lsp/reference.py"
LANGUAGE_DOC = "docs/language.md"

# A table row whose first cell is `NAME` or `NAME(ARGS)`.
_ROW = re.compile(r"^\| `(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<args>\([^`]*\))?` \|(?P<rest>.*)\|\s*$")


def _cells(rest: str) -> list[str]:
    """The cells after the first, with Markdown's escaped pipes put back."""
    cells = re.split(r"(?<!\\)\|", rest)
    return [c.strip().replace("\\|", "|") for c in cells]


def table_rows(doc: str) -> dict[str, list[tuple[str, list[str]]]]:
    """name -> [(first cell without backticks, other cells)] in document order."""
    rows: dict[str, list[tuple[str, list[str]]]] = {}
    for line in doc.splitlines():
        m = _ROW.match(line)
        if m:
            first = m.group("name") + (m.group("args") or "")
            rows.setdefault(m.group("name"), []).append((first, _cells(m.group("rest"))))
    return rows


def _one(rows: dict[str, list[tuple[str, list[str]]]], name: str, width: int,
         call: bool) -> tuple[str, list[str]]:
    """The row of ``name`` with ``width`` more cells (a call's row has '(')."""
    found = [(first, cells) for first, cells in rows.get(name, [])
             if len(cells) == width and ("(" in first) == call]
    if len(found) != 1:
        raise ValueError(f"{LANGUAGE_DOC}: {len(found)} table rows for `{name}`, expected one")
    return found[0]


def reference_module(doc: str, generated: str) -> str:
    """The text of dsl/lsp/reference.py from the text of docs/language.md
    (``generated``: the generator's do-not-edit line)."""
    rows = table_rows(doc)
    out = [
        f'"""The reference rows of {LANGUAGE_DOC}, for the language server\'s hover.',
        "",
        generated.replace("dsl/syntax/names.py", LANGUAGE_DOC),
        '"""',
        "",
        "# name: (call, value, where, what it models)",
        "BUILTINS: dict[str, tuple[str, str, str, str]] = {",
    ]
    for name in sorted(names.BUILTINS):
        first, cells = _one(rows, name, 3, call=True)
        out.append(f"    {name!r}: {tuple([first, *cells])!r},")
    out += ["}", "",
            "# key: (values, default on x86, on x86_64, on arm, meaning)",
            "CONFIG_KEYS: dict[str, tuple[str, str, str, str, str]] = {"]
    for key in config.KEYS:
        _, cells = _one(rows, key, 5, call=False)
        out.append(f"    {key!r}: {tuple(cells)!r},")
    out += ["}", "", "# kind: when it is reported", "REPORTS: dict[str, str] = {"]
    for kind in names.REPORT_KINDS:
        _, cells = _one(rows, kind, 1, call=False)
        out.append(f"    {kind!r}: {cells[0]!r},")
    out.append("}")
    return "\n".join(out) + "\n"
