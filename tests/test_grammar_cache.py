"""The LALR tables kept between runs (dsl/syntax/grammar_cache.py): a second
run loads them instead of computing them; a changed grammar, a corrupt,
truncated or foreign file, or a place that cannot be written never gives
a wrong parser, only a rebuilt one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lark import Lark
from lark.exceptions import UnexpectedInput

from kmap_scenarios.dsl.syntax import grammar_cache
from kmap_scenarios.dsl.syntax.parser import _options, build_parser, grammar_text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

A = 'start: "a"+\n%ignore " "\n'
B = 'start: "b"+\n%ignore " "\n'


def _cached(grammar: str, where: Path) -> Lark:
    opts = dict(parser="lalr")
    return grammar_cache.cached(grammar, opts, lambda: Lark(grammar, **opts), where)


def _files(where: Path) -> list[Path]:
    return sorted(where.glob("kmap-*.lark"))


def test_second_time_loaded_and_the_same_parser(tmp_path: Path) -> None:
    first = _cached(A, tmp_path)
    assert grammar_cache.last == "built"
    assert len(_files(tmp_path)) == 1
    second = _cached(A, tmp_path)
    assert grammar_cache.last == "loaded"
    assert second.parse("a a a") == first.parse("a a a")
    with pytest.raises(UnexpectedInput):
        second.parse("a b")


def test_a_changed_grammar_is_built_not_loaded(tmp_path: Path) -> None:
    _cached(A, tmp_path)
    b = _cached(B, tmp_path)
    assert grammar_cache.last == "built"
    assert str(b.parse("b b").children) == "[]" and b.parse("b b").data == "start"
    with pytest.raises(UnexpectedInput):
        b.parse("a")
    assert len(_files(tmp_path)) == 2     # each grammar under its own key
    _cached(A, tmp_path)
    assert grammar_cache.last == "loaded"


def test_the_key_follows_grammar_options_postlex_and_versions() -> None:
    opts = _options()
    k = grammar_cache.key(grammar_text(), opts, opts["postlex"])
    assert k == grammar_cache.key(grammar_text(), _options(), _options()["postlex"])
    assert k != grammar_cache.key(grammar_text() + "\n", opts, opts["postlex"])
    assert k != grammar_cache.key(grammar_text(), {**opts, "propagate_positions": False},
                                  opts["postlex"])

    class Other:
        always_accept = ("INC",)
    assert k != grammar_cache.key(grammar_text(), opts, Other())


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped", "other key", "empty"])
def test_a_damaged_file_is_rebuilt_never_used(tmp_path: Path, damage: str) -> None:
    _cached(A, tmp_path)
    (f,) = _files(tmp_path)
    data = f.read_bytes()
    fmt, key, digest, payload = data.split(b"\n", 3)
    if damage == "garbage":
        f.write_bytes(b"\x80\x04garbage" * 50)
    elif damage == "truncated":
        f.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":   # one byte of the tables changed: the digest differs
        i = len(fmt + key + digest) + 3 + len(payload) // 2
        f.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:])
    elif damage == "other key":   # another grammar's tables under this name
        f.write_bytes(b"\n".join([fmt, b"0" * 64, digest, payload]))
    else:
        f.write_bytes(b"")
    p = _cached(A, tmp_path)
    assert grammar_cache.last == "built"
    assert p.parse("a a").data == "start"
    with pytest.raises(UnexpectedInput):
        p.parse("b")
    assert grammar_cache.load(f, key.decode()) is not None   # and written whole again
    _cached(A, tmp_path)
    assert grammar_cache.last == "loaded"


def test_a_place_that_cannot_be_written_builds_silently(tmp_path: Path,
                                                        capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    where = tmp_path / "file" / "sub"       # under a file: nothing can be made there
    p = _cached(A, where)
    assert grammar_cache.last == "built, not saved"
    assert p.parse("a").data == "start"
    assert capfd.readouterr() == ("", "")


def test_a_directory_others_can_write_is_not_used(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "kmap-scenarios").mkdir(mode=0o777)
    os.chmod(tmp_path / "kmap-scenarios", 0o777)
    assert grammar_cache.directories()[0] == tmp_path / "kmap-scenarios"
    assert grammar_cache.place() != tmp_path / "kmap-scenarios"
    os.chmod(tmp_path / "kmap-scenarios", 0o700)
    assert grammar_cache.place() == tmp_path / "kmap-scenarios"
    monkeypatch.setenv("KMAP_NO_CACHE", "1")
    assert grammar_cache.place() is None


def test_a_relative_xdg_cache_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    assert all(d.is_absolute() for d in grammar_cache.directories())


def test_the_loaded_kmap_parser_parses_every_example_as_the_built_one(tmp_path: Path) -> None:
    opts = _options()
    grammar_cache.cached(grammar_text(), opts, build_parser, tmp_path)
    loaded = grammar_cache.cached(grammar_text(), _options(), build_parser, tmp_path)
    assert grammar_cache.last == "loaded"
    built = build_parser()
    texts = [f.read_text(encoding="utf-8") for f in sorted(EXAMPLES.rglob("*.kmap"))]
    texts.append("task t { int x = 0; x++; x--; x += 1; if (x >= 1 && x != 2 || x <= 3) x <<= 1; }")
    for text in texts:
        assert loaded.parse(text) == built.parse(text)


# In a fresh process: the command's own parser(), with the LALR analysis
# made to fail when run the second time, so a pass proves it was not run.
PROBE = """
import sys
if sys.argv[1] == "forbid":
    from lark.parsers import lalr_analysis
    def refuse(self): raise AssertionError("LALR tables computed again")
    lalr_analysis.LALR_Analyzer.compute_lalr = refuse
from kmap_scenarios.dsl.syntax import grammar_cache
from kmap_scenarios.dsl.syntax.parser import parse_text
parse_text("task t { int x = 1; x++; }", "t.kmap")
print(grammar_cache.last)
"""


def test_a_second_run_uses_the_cache(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    env.pop("KMAP_NO_CACHE", None)

    def run(mode: str) -> str:
        return subprocess.run([sys.executable, "-c", PROBE, mode], env=env, check=True,
                              capture_output=True, text=True).stdout.strip()

    assert run("allow") == "built"
    assert len(_files(tmp_path / "kmap-scenarios")) == 1
    assert run("forbid") == "loaded"
