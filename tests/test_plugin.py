"""The pytest plugin shipped in the package (entry point pytest11): a
project's plain pytest collects its .kmap files, compares each with its
// Result: block, and rewrites the blocks under --kmap-update. Run in a
temporary project, in a pytest of its own (a subprocess: the plugin is
found through the installed entry point, as a user's pytest finds it)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SCENARIO = """\
// one task writes a global
scenario "one";
int x = 0;
task t { x = 1; }
expect always x == 1;
"""


def test_kmap_files_are_test_items(pytester: pytest.Pytester) -> None:
    pytester.makefile(".kmap", **{"scenarios/one": SCENARIO})
    r = pytester.runpytest_subprocess("-v")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*scenarios/one.kmap::one.kmap FAILED*",
                            "*MISSING scenarios/one.kmap*",
                            "*no // Result: block at the end of the file*"])

    r = pytester.runpytest_subprocess("--kmap-update")
    r.assert_outcomes(passed=1)
    text = (pytester.path / "scenarios" / "one.kmap").read_text()
    assert text == SCENARIO + "\n" + "\n".join([
        "// Result: check", "// Result: Outcomes 1", "// Result:        1  x=1; no reports",
        "// Result: expect always x == 1: holds", "// Result:   Positive: 1 Negative: 0",
        "// Result: the expectation holds"]) + "\n"
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_a_difference_fails_with_the_diff(pytester: pytest.Pytester) -> None:
    pytester.makefile(".kmap", one=SCENARIO + "\n// Result: check\n// Result: Outcomes 7\n")
    r = pytester.runpytest_subprocess()
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["FAIL    one.kmap", "*-Outcomes 7", "*+Outcomes 1",
                            "*pytest --kmap-update rewrites the block*"])


def test_an_invalid_scenario_fails_with_its_diagnostic(pytester: pytest.Pytester) -> None:
    pytester.makefile(".kmap", bad="task t { y = 1; }\n")
    r = pytester.runpytest_subprocess()
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["INVALID bad.kmap", "*bad.kmap:1:10: error[E2*"])


def test_the_same_from_another_directory(pytester: pytest.Pytester,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Node ids and messages are paths from pytest's root, not from the
    directory it was started in."""
    pytester.makefile(".kmap", **{"a/one": SCENARIO})
    pytester.makeini("[pytest]\n")
    (pytester.path / "a" / "b").mkdir()
    monkeypatch.chdir(pytester.path / "a" / "b")
    r = pytester.runpytest_subprocess("..", "--rootdir", str(pytester.path))
    r.stdout.fnmatch_lines(["*MISSING a/one.kmap*"])
