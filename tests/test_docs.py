"""docs/language.md and docs/check-json.md name everything they document;
the tutorial and the page on reading `kmap check` show what kmap prints.

The reference is hand-written; these checks keep it from silently missing
a built-in, a config key, a diagnostic code or a JSON field when one is
added. docs/tutorial.md and docs/reading-check-output.md are sessions
(tests/docsession.py): every scenario in them is written and every
command run, and the page must show the command's output as it is now;
`pytest tests/test_docs.py --update-goldens` refreshes them.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

import docsession

from kmap_scenarios.dsl.syntax import names
from kmap_scenarios.dsl.formats.check_text import to_json, verdicts_of
from kmap_scenarios.dsl.check.env import CODES
from kmap_scenarios.dsl.fmt.format import format_text
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


# ------------------------------------------- pages whose examples are run

# The pages that are a session: each file the reader types is written and
# each command run, and the page must show what the command prints now
# (tests/docsession.py).
SESSIONS = ["docs/tutorial.md", "docs/reading-check-output.md"]
REFRESH = ".venv/bin/python -m pytest tests/test_docs.py --update-goldens"


@pytest.mark.parametrize("page", SESSIONS)
def test_the_page_shows_what_its_commands_print(page: str, update_goldens: bool) -> None:
    path = ROOT / page
    text = path.read_text(encoding="utf-8")
    now = docsession.replay(text)
    if update_goldens and now != text:
        path.write_text(now, encoding="utf-8")
        text = now
    if now != text:
        diff = "".join(list(difflib.unified_diff(text.splitlines(keepends=True),
                                                 now.splitlines(keepends=True),
                                                 page, f"{page} (now)"))[:80])
        pytest.fail(f"{page} shows outputs its commands no longer print:\n{diff}\n"
                    f"If the new output is right (an intended change of what kmap prints), "
                    f"refresh the page with\n    {REFRESH}\nand review the diff like code.")


@pytest.mark.parametrize("page", SESSIONS)
def test_the_page_is_a_session(page: str) -> None:
    # the replay has something to check: files typed, commands run, and
    # the README links the page
    text = (ROOT / page).read_text(encoding="utf-8")
    assert len(re.findall(r"^```c file=\S+\.kmap$", text, re.M)) >= 3
    assert len(re.findall(r"^\$ kmap ", text, re.M)) >= 5
    assert f"]({page})" in (ROOT / "README.md").read_text(encoding="utf-8")
    # and the scenarios the reader types are in the house layout (kmap fmt)
    for name, body in re.findall(r"^```c file=(\S+)\n(.*?)^```$", text, re.M | re.S):
        assert format_text(body, name) == body, name


def test_the_session_replays_and_refuses() -> None:
    page = ("```c file=s.kmap\ntask t on cpu0 { int x = 1; }\nexpect always t.x == 2;\n```\n"
            "```console\n$ kmap lint s.kmap\nstale\n$ kmap check --no-trace s.kmap\n$ echo $?\n"
            "0\n```\n")
    now = docsession.replay(page)
    assert "$ kmap lint s.kmap\ns.kmap: ok\n$ kmap check" in now
    assert "  expect always t.x == 2: FAILS\n" in now and now.endswith("$ echo $?\n1\n```\n")
    with pytest.raises(docsession.DocError, match="only `kmap ...`"):
        docsession.replay("```console\n$ rm -rf /\n```\n")
    # a line that differs only in the --stats time is kept as the page has it
    assert docsession._keep_volatile(["Time 1.5 s, 200 states/s, 5% memoized\n"],
                                     ["Time 0.2 s, 1,000 states/s, 5% memoized\n"]) \
        == ["Time 1.5 s, 200 states/s, 5% memoized\n"]
