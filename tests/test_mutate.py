"""tests/tools/mutate.py enumerates and samples mutants (no mutant is run
here: docs/mutation.md says how to run them), so the script cannot rot."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _mutate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutate", ROOT / "tests" / "tools" / "mutate.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["mutate"] = mod      # dataclasses look the module up by name
    spec.loader.exec_module(mod)
    return mod


mutate = _mutate()


def test_every_mutant_of_a_module_compiles_and_changes_it():
    every = mutate.mutants("runtime/kernel/dma.py")
    assert len(every) > 60
    assert len({m.id for m in every}) == len(every)
    kinds = {m.kind.split("#")[0] for m in every}
    assert {"stmt->pass", "const+1", "return->None", "Eq->NotEq", "Add->Sub", "not-dropped",
            "True->False", "Or->And", "negated"} <= kinds
    for m in every:
        assert m.mutated != m.original, m.id
        compile(m.mutated, m.module, "exec")


def test_a_mutant_changes_one_place():
    m = next(m for m in mutate.mutants("runtime/kernel/dma.py") if m.kind == "Eq->NotEq")
    old, new = m.original.splitlines(), m.mutated.splitlines()
    assert len(old) == len(new)
    changed = [i for i, (a, b) in enumerate(zip(old, new)) if a != b]
    assert changed == [m.line - 1]
    assert "!=" in new[m.line - 1] and "==" in old[m.line - 1]


def test_the_sample_is_fixed_by_the_seed():
    a = [m.id for m in mutate.sample("runtime/kernel/dma.py", mutate.SEED, 10)]
    assert a == [m.id for m in mutate.sample("runtime/kernel/dma.py", mutate.SEED, 10)]
    assert len(a) == 10 and a == sorted(a, key=lambda i: tuple(int(x) for x in i.split(":")[1:3]))
    assert a != [m.id for m in mutate.sample("runtime/kernel/dma.py", mutate.SEED + 1, 10)]


def test_every_module_has_tests_and_every_equivalent_mutant_exists():
    for module, tests in mutate.MODULES.items():
        assert (ROOT / module).is_file(), module
        assert tests and all((ROOT / t).is_file() for t in tests), module
    ids = {m.id for module in mutate.MODULES for m in mutate.mutants(module)}
    stale = sorted(set(mutate.EQUIVALENT) - ids)
    assert not stale, f"EQUIVALENT names mutants that no longer exist (the module changed): {stale}"


def test_every_equivalent_mutant_is_still_on_the_line_its_reason_is_about():
    """A module edited above a listed mutant shifts the line numbers, and
    the id may then name another mutant of the same kind (the reason would
    silently move to it): each entry records the line it changes."""
    moved = []
    for key, (line, reason) in mutate.EQUIVALENT.items():
        module, number = key.split(":")[0], int(key.split(":")[1])
        now = (ROOT / module).read_text().splitlines()[number - 1].strip()
        if now != line:
            moved.append(f"{key}: {line!r} is now {now!r}")
        assert reason and line, key
    assert not moved, "EQUIVALENT entries no longer on their line (re-check each reason):\n" + \
        "\n".join(moved)
