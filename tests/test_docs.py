"""docs/language.md and docs/check-json.md name everything they document.

The reference is hand-written; these checks keep it from silently missing
a built-in, a config key, a diagnostic code or a JSON field when one is
added.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kmap_scenarios.dsl.syntax import names
from kmap_scenarios.dsl.formats.check_text import to_json, verdicts_of
from kmap_scenarios.dsl.check.env import CODES
from kmap_scenarios.dsl.lower.load import load
from kmap_scenarios.runtime.kernel import config
from kmap_scenarios.runtime.search.explore import explore

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE = (ROOT / "docs/language.md").read_text(encoding="utf-8")
CHECK_JSON = (ROOT / "docs/check-json.md").read_text(encoding="utf-8")


def _syntax_codes() -> set[str]:
    """The E1xx codes the front end emits (dsl/syntax/, as installed)."""
    from kmap_scenarios.dsl import syntax
    found: set[str] = set()
    for path in Path(syntax.__file__).parent.glob("*.py"):
        found |= set(re.findall(r'"(E1\d\d)"', path.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize("name", sorted(names.BUILTINS))
def test_every_builtin_has_a_row(name: str) -> None:
    assert re.search(rf"^\| `{re.escape(name)}\(", LANGUAGE, re.M), name


def test_the_code_table_is_exactly_the_emitted_codes() -> None:
    table = set(re.findall(r"^\| (E\d{3}) \|", LANGUAGE, re.M))
    assert table == set(CODES) | _syntax_codes()


@pytest.mark.parametrize("key", config.KEYS)
def test_every_config_key_has_a_row(key: str) -> None:
    assert re.search(rf"^\| `{key}` \|", LANGUAGE, re.M), key


def test_every_constant_keyword_and_report_kind_is_named() -> None:
    for word in (*names.CONSTANTS, *names.KEYWORDS, *names.TYPE_WORDS, *names.REPORT_KINDS,
                 *names.CONFIG_NAMES, *names.ALLOCATORS, *names.USER_PAGE_STATES):
        assert re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", LANGUAGE), word


def test_every_json_field_is_documented() -> None:
    fields: set[str] = set()
    # double_kunmap: a statement after the BUG that kills the task (a warning)
    for path in ("examples/conversion/percpu.kmap", "examples/pkmap/double_kunmap.kmap"):
        program = load(str(ROOT / path))
        result = explore(program)
        doc = to_json(program, result, verdicts_of(program, result))
        fields |= set(doc)
        for key in ("outcomes", "expectations", "statistics", "warnings"):
            value = doc[key]
            items = value if isinstance(value, list) else [value]
            for item in items:
                assert isinstance(item, dict)
                fields |= set(item)
    assert doc["warnings"], "the second example has a warning"
    for field in sorted(fields):
        assert f"| `{field}` |" in CHECK_JSON, field
    assert f"`format_version` is **{doc['format_version']}**" in CHECK_JSON
