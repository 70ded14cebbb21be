"""One source of names: vocab, lexer and editor grammars agree with dsl/syntax/names.py.

dsl/editors/vocab.py sorts the names of dsl/syntax/names.py (and the config
keys of runtime/kernel/config.py) into word classes; the Pygments lexer and
the generated editor files must colour exactly those words, and the files on
disk must be what ``python -m kmap_scenarios.dsl.editors`` generates now.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from itertools import combinations
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pygments.token import Name, Token, _TokenType

from kmap_scenarios.dsl.editors import generate as editors
from kmap_scenarios.dsl.editors.reference import reference_module
from kmap_scenarios.dsl.syntax import names
from kmap_scenarios.dsl.editors.lexer import TOKEN_OF, KmapLexer
from kmap_scenarios.dsl.editors.vocab import (BODY_KEYWORDS, BOOL_VALUES, CALL_KEYWORDS, CONFIG_CLASSES,
                       ROOT_CLASSES, WORDS, WordClass, root_class_of)
from kmap_scenarios.runtime.kernel import config

ROOT = Path(__file__).resolve().parent.parent
ALL_VOCAB = {w for cls in WordClass for w in WORDS[cls]}


def _lex(text: str) -> list[tuple[_TokenType, str]]:
    """Tokens without whitespace."""
    lexer = KmapLexer(stripnl=False, ensurenl=False)
    return [(t, v) for t, v in lexer.get_tokens(text) if not v.isspace()]


# ------------------------------------------------------ vocab vs dsl/syntax/names.py


def test_root_classes_cover_all_names_exactly() -> None:
    covered = {w for cls in ROOT_CLASSES for w in WORDS[cls]}
    assert covered == set(names.ALL_NAMES)


def test_each_class_is_its_names() -> None:
    assert set(WORDS[WordClass.KEYWORD]) | set(WORDS[WordClass.QUANTIFIER]) == set(names.KEYWORDS)
    assert set(WORDS[WordClass.QUANTIFIER]) == set(names.QUANTIFIERS)
    assert set(BODY_KEYWORDS) <= set(names.KEYWORDS)
    assert set(WORDS[WordClass.TYPE]) == set(names.TYPE_WORDS)
    assert set(WORDS[WordClass.BUILTIN]) == set(names.BUILTINS) | set(names.ALLOCATORS)
    assert set(WORDS[WordClass.CONSTANT]) == (set(names.CONSTANTS) | set(names.CONFIG_NAMES)
                                              | set(names.USER_PAGE_STATES))
    assert set(WORDS[WordClass.REPORT]) == set(names.REPORT_KINDS)
    assert set(WORDS[WordClass.CONFIG_KEY]) == set(config.KEYS)
    values = set(BOOL_VALUES).union(*config.NAME_KEYS.values())
    assert set(WORDS[WordClass.CONFIG_VALUE]) == values


def test_root_classes_are_disjoint_but_for_call_keywords() -> None:
    for a, b in combinations(ROOT_CLASSES, 2):
        shared = set(WORDS[a]) & set(WORDS[b])
        allowed = set(CALL_KEYWORDS) if {a, b} == {WordClass.KEYWORD, WordClass.BUILTIN} else set()
        assert shared == allowed, (a, b)


def test_every_class_has_a_token_scope_and_group() -> None:
    for mapping in (TOKEN_OF, editors.SCOPE_OF, editors.VIM_GROUP_OF):
        assert set(mapping) == set(WordClass)


# ------------------------------------------------------------------- lexer


@pytest.mark.parametrize("cls", ROOT_CLASSES, ids=lambda c: c.value)
def test_lexer_colours_each_root_word(cls: WordClass) -> None:
    for word in WORDS[cls]:
        expected = TOKEN_OF[WordClass.KEYWORD] if word in CALL_KEYWORDS else TOKEN_OF[cls]
        assert _lex(f"{word};")[0] == (expected, word)


def test_lexer_colours_call_keywords_as_builtins_when_called() -> None:
    for word in CALL_KEYWORDS:
        assert _lex(f"{word} ();")[0] == (Name.Builtin, word)


@pytest.mark.parametrize("cls", CONFIG_CLASSES, ids=lambda c: c.value)
def test_lexer_colours_each_config_word(cls: WordClass) -> None:
    for word in WORDS[cls]:
        assert (TOKEN_OF[cls], word) in _lex(f"config {{ {word} }}")


def test_every_keyword_and_builtin_is_coloured() -> None:
    for word in (*names.KEYWORDS, *names.BUILTINS, *names.ALLOCATORS):
        ttype, value = _lex(f"{word};")[0]
        assert value == word and ttype is not Name, word


@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]*", fullmatch=True))
def test_lexer_colours_no_other_word(word: str) -> None:
    tokens = _lex(word)
    if root_class_of(word) is None and word not in CALL_KEYWORDS:
        expected = Name.Label if re.fullmatch(r"cpu[0-9]+", word) else Name
        assert tokens == [(expected, word)]


# ----------------------------------------------------- generated editor files


def test_editor_files_are_up_to_date() -> None:
    assert editors.stale_files(ROOT) == [], "run python -m kmap_scenarios.dsl.editors"
    assert editors.main(["--check", "--root", str(ROOT)]) == 0


def test_check_reports_a_stale_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nversion = "9.9"\n')
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/language.md").write_text(_disk("docs/language.md"), encoding="utf-8")
    assert editors.main(["--check", "--root", str(tmp_path)]) == 1
    assert editors.main(["--root", str(tmp_path)]) == 0
    assert editors.main(["--check", "--root", str(tmp_path)]) == 0


def test_number_patterns_are_the_grammars() -> None:
    from kmap_scenarios.dsl.editors import vocab
    lark = (ROOT / "grammar/kmap.lark").read_text(encoding="utf-8")
    number = re.search(r"^NUMBER: /(.*)/$", lark, re.M)
    assert number is not None
    hex_digits, decimal = vocab.HEX_PATTERN, vocab.DECIMAL_PATTERN
    suffix = vocab.INT_SUFFIX_PATTERN
    assert number.group(1) == f"(?:{hex_digits.removesuffix(suffix)}|" \
        f"{decimal.removesuffix(suffix)}){suffix}"
    for literal in ("1UL", "0x10ul", "2ULL", "7u", "3lu", "42"):
        assert re.fullmatch(decimal, literal) or re.fullmatch(hex_digits, literal), literal


def test_the_lsp_reference_has_every_builtin_key_and_report_row() -> None:
    from kmap_scenarios.dsl.lsp import reference
    assert set(reference.BUILTINS) == set(names.BUILTINS)
    assert list(reference.CONFIG_KEYS) == list(config.KEYS)
    assert list(reference.REPORTS) == list(names.REPORT_KINDS)
    assert reference.BUILTINS["kunmap"] == (
        "kunmap(page)", "void", "any", "`might_sleep()`; highmem: `kunmap_high()`")
    # an escaped pipe of the Markdown table is a pipe again
    assert "end1 > page_size(page) || end2" in reference.BUILTINS["zero_user_segments"][3]


def test_a_builtin_without_a_row_in_the_manual_stops_the_generator() -> None:
    doc = _disk("docs/language.md")
    row = next(line for line in doc.splitlines() if line.startswith("| `kunmap(page)` |"))
    with pytest.raises(ValueError, match=r"0 table rows for `kunmap`"):
        reference_module(doc.replace(row + "\n", ""), "generated")


def _disk(rel: str) -> str:
    return (ROOT / rel).read_text(encoding="utf-8")


def _tm_word_sets(patterns: list[dict[str, object]]) -> dict[str, set[str]]:
    """scope -> words, from the ``\\b(?:a|b)\\b`` rules of a TextMate list."""
    out: dict[str, set[str]] = {}
    for rule in patterns:
        m = re.fullmatch(r"\\b\(\?:([\w|]+)\)\\b", str(rule.get("match", "")))
        if m:
            out.setdefault(str(rule["name"]), set()).update(m.group(1).split("|"))
    return out


def test_textmate_grammar_words_are_the_vocab() -> None:
    grammar = json.loads(_disk(editors.TEXTMATE_GRAMMAR))
    repo = grammar["repository"]
    base = _tm_word_sets(repo["base"]["patterns"])
    assert base == {editors.SCOPE_OF[cls]: set(WORDS[cls]) for cls in ROOT_CLASSES}
    conf = _tm_word_sets(repo["config"]["patterns"])
    assert conf == {editors.SCOPE_OF[cls]: set(WORDS[cls]) for cls in CONFIG_CLASSES}
    calls = [r["match"] for r in repo["base"]["patterns"]
             if r.get("name") == editors.SCOPE_OF[WordClass.BUILTIN] and "(?=" in r["match"]]
    assert calls == [rf"\b(?:{'|'.join(CALL_KEYWORDS)})\b(?=\s*\()"]


def _vim_word_sets(text: str) -> dict[str, set[str]]:
    """group -> words, from ``syn keyword`` lines and one-word ``syn match``es."""
    out: dict[str, set[str]] = {}
    for line in text.splitlines():
        kw = re.fullmatch(r"syn keyword (\w+) (.*?)( contained)?", line)
        one = re.fullmatch(r"syn match (\w+) /\\<(\w+)\\>(\\ze\\s\*\()?/", line)
        if kw:
            out.setdefault(kw.group(1), set()).update(kw.group(2).split())
        elif one:
            out.setdefault(one.group(1), set()).add(one.group(2))
    return out


def test_vim_syntax_words_are_the_vocab() -> None:
    found = _vim_word_sets(_disk(editors.VIM_SYNTAX))
    found.pop("kmapTodo")
    assert found == {editors.VIM_GROUP_OF[cls][0]: set(WORDS[cls]) for cls in WordClass}


def test_emacs_mode_words_are_the_vocab() -> None:
    from kmap_scenarios.dsl.editors.emacs import EMACS_MODE, EMACS_OF
    text = _disk(EMACS_MODE)
    for cls, (name, _) in EMACS_OF.items():
        m = re.search(rf"^\(defconst {name}\n  '\(([^)]*)\)", text, re.M)
        assert m is not None, name
        assert re.findall(r'"([^"]+)"', m.group(1)) == list(WORDS[cls]), name
    calls = re.search(r"^\(defconst kmap-call-keywords '\(([^)]*)\)", text, re.M)
    assert calls is not None and re.findall(r'"([^"]+)"', calls.group(1)) == list(CALL_KEYWORDS)


def test_every_keyword_and_builtin_is_in_the_editor_files() -> None:
    grammar = _disk(editors.TEXTMATE_GRAMMAR)
    vim = _disk(editors.VIM_SYNTAX)
    for word in (*names.KEYWORDS, *names.BUILTINS, *names.ALLOCATORS):
        pattern = rf"(?<![\w]){re.escape(word)}(?![\w])"
        assert re.search(pattern, grammar), word
        assert re.search(pattern, vim), word


def test_vscode_manifest_follows_the_package() -> None:
    manifest = json.loads(_disk(editors.VSCODE_PACKAGE))
    assert manifest["version"] == editors.project_version(ROOT)
    grammar = manifest["contributes"]["grammars"][0]
    assert (ROOT / "editors/vscode" / grammar["path"]).is_file()
    assert manifest["contributes"]["languages"][0]["extensions"] == [".kmap"]


def test_all_names_are_unique_words() -> None:
    assert len(set(names.ALL_NAMES)) == len(names.ALL_NAMES)
    assert ALL_VOCAB >= set(names.ALL_NAMES)


def test_textmate_regexes_compile() -> None:
    # Oniguruma (VS Code) accepts a superset of these Python-compatible forms.
    def walk(node: object) -> list[str]:
        if isinstance(node, dict):
            found = [str(node[k]) for k in ("match", "begin", "end") if k in node]
            return found + [r for v in node.values() for r in walk(v)]
        if isinstance(node, list):
            return [r for v in node for r in walk(v)]
        return []
    regexes = walk(json.loads(_disk(editors.TEXTMATE_GRAMMAR)))
    assert regexes
    for regex in regexes:
        re.compile(regex)


# Vim's group for each Pygments token type of a word, number, comment or string.
VIM_GROUP_FOR = {
    Token.Keyword: {"kmapKeyword"},
    Token.Keyword.Pseudo: {"kmapQuantifier"},
    Token.Keyword.Type: {"kmapType"},
    Token.Name.Builtin: {"kmapBuiltin"},
    Token.Name.Constant: {"kmapConstant", "kmapConfigValue"},
    Token.Name.Exception: {"kmapReport"},
    Token.Name.Variable.Magic: {"kmapConfigKey"},
    Token.Name.Function: {"kmapTaskName"},
    Token.Name.Label: {"kmapLabel"},
    Token.Name: {"", "kmapConfig"},
    Token.Number.Integer: {"kmapNumber"},
    Token.Number.Hex: {"kmapNumber"},
    Token.Comment.Single: {"kmapComment"},
    Token.Comment.Multiline: {"kmapComment"},
    Token.String.Double: {"kmapString"},
    Token.String.Escape: {"kmapEscape"},
}

VIM_DUMP = """\
set nocompatible
let &rtp = {rtp!r} . ',' . &rtp
filetype on
syntax on
edit {sample}
let out = []
for lnum in range(1, line('$'))
  for col in range(1, len(getline(lnum)))
    call add(out, lnum . ' ' . col . ' ' . synIDattr(synID(lnum, col, 1), 'name'))
  endfor
endfor
call add(out, 'filetype ' . &filetype)
call writefile(out, {out!r})
qa!
"""


@pytest.mark.skipif(shutil.which("vim") is None, reason="vim is not installed")
@pytest.mark.parametrize("sample", sorted((ROOT / "tests/lexer").glob("*.kmap")),
                         ids=lambda p: p.stem)
def test_vim_colours_like_the_lexer(sample: Path, tmp_path: Path) -> None:
    script, out = tmp_path / "dump.vim", tmp_path / "groups.txt"
    script.write_text(VIM_DUMP.format(rtp=str(ROOT / "editors/vim"),
                                      sample=str(sample), out=str(out)))
    subprocess.run(["vim", "-Nu", "NONE", "-i", "NONE", "-Es", "-S", str(script)],
                   check=False, timeout=60, stdin=subprocess.DEVNULL)
    groups: dict[tuple[int, int], str] = {}
    for line in out.read_text().splitlines():
        head, _, group = line.partition(" ")
        if head == "filetype":
            assert group == "kmap"
            continue
        column, _, name = group.partition(" ")
        groups[int(head), int(column)] = name
    text = sample.read_text(encoding="utf-8")
    lexer = KmapLexer(stripnl=False, ensurenl=False)
    for index, ttype, value in lexer.get_tokens_unprocessed(text):
        if ttype not in VIM_GROUP_FOR:
            continue
        lnum = text.count("\n", 0, index) + 1
        col = index - (text.rfind("\n", 0, index) + 1) + 1
        assert groups[lnum, col] in VIM_GROUP_FOR[ttype], (lnum, col, value, ttype)


def test_user_pointer_positions_are_the_uaccess_signatures() -> None:
    """copy_from_user(to, from __user, n) and copy_to_user(to __user, from, n),
    and the same places in their __copy_*_user_inatomic forms."""
    users = {(b.name, i) for b in names.BUILTINS.values()
             for i, kind in enumerate(b.args) if kind is names.Arg.USER}
    assert users == {("copy_from_user", 1), ("copy_to_user", 0),
                     ("__copy_from_user_inatomic", 1), ("__copy_to_user_inatomic", 0)}
