"""The language server's pure parts (dsl/lsp/ without pygls): the fixes of
did-you-means, the positions of a text with a byte-order mark, the hover
of every word of the name table, the index's scopes.
tests/test_lsp.py drives the whole server over stdio."""

from __future__ import annotations

import pytest

from kmap_scenarios.dsl.lsp import hover
from kmap_scenarios.dsl.lsp.analysis import Fix, Pos, Range, analyse
from kmap_scenarios.dsl.lsp.complete import complete
from kmap_scenarios.dsl.lsp.index import index
from kmap_scenarios.dsl.lsp.words import lines_of
from kmap_scenarios.dsl.syntax import names
from kmap_scenarios.runtime.kernel import config


def _fixes(text: str) -> list[tuple[str, Fix | None]]:
    return [(p.diagnostic.code, p.fix) for p in analyse(text, "t.kmap").problems]


def _fix(line: int, col: int, old: str, new: str) -> Fix:
    return Fix(Range(Pos(line, col), Pos(line, col + len(old))), old, new)


@pytest.mark.parametrize("text, expected", [
    # the parser's: a top-level word, a statement's type, a goto's label
    ("taks t { }\n", [("E101", _fix(0, 0, "taks", "task"))]),
    ("task t {\n  goto ot;\n  out: return;\n}\n", [("E422", _fix(1, 7, "ot", "out"))]),
    # an expectation naming a task's local without its task
    ("task t { int x; }\nexpect always x == 0;\n", [("E201", _fix(1, 14, "x", "t.x"))]),
    ("page P = alloc_pag(GFP_KERNEL);\ntask t { }\n",
     [("E202", _fix(0, 9, "alloc_pag", "alloc_page"))]),
    # no suggestion, no fix
    ("config { ARCH = amr; }\ntask t { }\n", [("E302", None)]),
])
def test_a_did_you_mean_is_a_fix_of_the_word(text: str,
                                             expected: list[tuple[str, Fix | None]]) -> None:
    assert _fixes(text) == expected


@pytest.mark.parametrize("line, new", [
    ("unsinged int x = 1;", "unsigned"),     # not `unsigned int int x`
    ("unsinged long x = 1;", "unsigned"),    # the next word says which
    ("unsinged x = 1;", "unsigned int"),
])
def test_a_whole_type_suggested_for_one_word(line: str, new: str) -> None:
    [(code, fix)] = _fixes(f"task t {{\n    {line}\n}}\n")
    assert code == "E101" and fix == _fix(1, 4, "unsinged", new)


def test_columns_of_line_one_count_the_byte_order_mark() -> None:
    [(code, fix)] = _fixes("\ufefftask t { int xxx = 1; xxy = 2; }\n")
    assert code == "E201" and fix == _fix(0, 23, "xxy", "xxx")
    [(code, fix)] = _fixes("\ufefftask t { }\ntask u { int xxx = 1; xxy = 2; }\n")
    assert fix == _fix(1, 22, "xxy", "xxx")


def test_a_text_that_parses_and_checks_has_no_problem() -> None:
    result = analyse("task t { int x = 1; }\n", "t.kmap")
    assert result.problems == () and result.file is not None


@pytest.mark.parametrize("word", sorted(names.BUILTINS))
def test_every_builtin_has_a_hover(word: str) -> None:
    text = hover.word(word, call=True)
    assert text is not None and text.startswith(f"```kmap\n{word}(")
    assert names.BUILTINS[word].summary in text


@pytest.mark.parametrize("key", config.KEYS)
def test_every_config_key_has_a_hover(key: str) -> None:
    assert hover.config_key(key).startswith(f"**{key}** (config key) = ")


def test_every_other_word_of_the_name_table_has_a_hover() -> None:
    for word in names.ALL_NAMES:
        assert hover.word(word, call=False) is not None, word


def test_hover_of_a_keyword_that_is_a_builtin_when_called() -> None:
    assert hover.word("schedule", call=False) == "**schedule**: keyword"
    text = hover.word("schedule", call=True)
    assert text is not None and text.startswith("```kmap\nschedule()\n```\ngive up the CPU")


SCOPES = """\
int g = 0;
static void f(int n)
{
    for (int i = 0; i < n; i++) {
        int inner = i;
    }
    int after = 0;
}
task t { f(1); }
"""


def test_locals_are_visible_in_their_block_after_their_declaration() -> None:
    tree = analyse(SCOPES, "t.kmap").file
    assert tree is not None
    idx = index(tree)

    def names_at(line: int, col: int) -> list[str]:
        return [s.name for s in idx.visible(Pos(line, col))]
    assert names_at(4, 20) == ["inner", "i", "n", "g", "f", "t"]
    assert names_at(6, 4) == ["n", "g", "f", "t"]             # `after` not declared yet
    assert names_at(7, 0) == ["after", "n", "g", "f", "t"]    # the loop's names gone
    assert names_at(0, 0) == ["g", "f", "t"]


def test_completion_after_a_config_key_offers_its_values() -> None:
    lines = lines_of("config { CONFIG_HIGHMEM = ")
    assert [i.label for i in complete(lines, Pos(0, 26), None)] == ["y", "n"]
    lines = lines_of("config { CACHE = v")
    assert [i.label for i in complete(lines, Pos(0, 18), None)] == list(config.CACHES)


def test_completion_in_a_schedule_offers_the_tasks_only() -> None:
    text = "page P = alloc_page(GFP_KERNEL);\ntask a { }\nirq b on cpu0 { }\nschedule a, b;\n"
    tree = analyse(text, "t.kmap").file
    assert tree is not None
    items = complete(lines_of(text), Pos(3, 12), index(tree))
    assert [(i.label, i.kind) for i in items] == [("a", "module"), ("b", "module")]
