"""The package a user installs: one import name, the examples inside, the
version, and no top-level name that collides with other packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

import kmap_scenarios
from kmap_scenarios.dsl.cli import examples
from kmap_scenarios.dsl.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
# what a build reads (pyproject.toml's package-dir, readme and license)
BUILD_INPUTS = ("pyproject.toml", "README.md", "LICENSE", "src", "dsl", "runtime", "grammar",
                "examples")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"kmap {version('kmap-scenarios')}\n"
    assert kmap_scenarios.__version__ == version("kmap-scenarios")


def test_examples_lists_every_example_of_the_repository(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["examples"]) == 0
    out = capsys.readouterr().out.splitlines()
    listed = [line.split()[0] for line in out]
    shipped = sorted(p.relative_to(ROOT / "examples").as_posix()
                     for p in (ROOT / "examples").rglob("*.kmap"))
    assert listed == shipped
    first = next(line for line in out if line.startswith("pkmap/first_slot.kmap "))
    assert first.endswith("The first kmap() after boot takes pkmap slot 1: "
                          "last_pkmap_nr is pre-incremented.")


def test_examples_copy_writes_them_and_never_overwrites(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "mine"
    assert main(["examples", "--copy", str(dest)]) == 0
    first = dest / "pkmap/first_slot.kmap"
    assert first.read_bytes() == (ROOT / "examples/pkmap/first_slot.kmap").read_bytes()
    assert len(list(dest.rglob("*.kmap"))) == len(examples.examples())
    assert not list(dest.rglob("*.py")) and not list(dest.rglob("*.out"))
    capsys.readouterr()
    # a user's edit survives a second copy: nothing is written
    first.write_text("// mine\n")
    (dest / "dma/slot_reuse.kmap").unlink()
    assert main(["examples", "--copy", str(dest)]) == 2
    err = capsys.readouterr().err
    assert "exists (and " in err and "nothing was copied" in err
    assert first.read_text() == "// mine\n"
    assert not (dest / "dma/slot_reuse.kmap").exists()


def test_a_copied_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["examples", "--copy", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["run", str(tmp_path / "pkmap/first_slot.kmap")]) == 0
    assert "scenario pkmap-first-slot" in capsys.readouterr().out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip install .` builds, from a copy of the build's inputs
    (a build in the repository would leave build/ there)."""
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, src / name)
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                        str(src)], capture_output=True, text=True)
    if r.returncode != 0 and "setuptools" in r.stderr and "No matching distribution" in r.stderr:
        pytest.skip("no package index to fetch the build backend from")
    assert r.returncode == 0, r.stderr
    return next(out.glob("*.whl"))


def test_the_wheel_has_one_import_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"kmap_scenarios"}
    for needed in ("kmap_scenarios/__init__.py", "kmap_scenarios/py.typed",
                   "kmap_scenarios/runtime/kernel/pkmap.py", "kmap_scenarios/grammar/kmap.lark",
                   "kmap_scenarios/examples/pkmap/first_slot.kmap",
                   "kmap_scenarios/dsl/cli/main.py",
                   "kmap_scenarios/dsl/formats/schemas/kmap-report.schema.json",
                   "kmap_scenarios/dsl/formats/schemas/chrome-trace.schema.json",
                   "kmap_scenarios/dsl/testing/plugin.py"):
        assert needed in names, needed
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "kmap = kmap_scenarios.dsl.cli.main:main" in text
    assert "kmap = kmap_scenarios.dsl.editors.lexer:KmapLexer" in text
    assert "[pytest11]\nkmap = kmap_scenarios.dsl.testing.plugin" in text


def test_kmap_runs_beside_packages_named_runtime_and_dsl(tmp_path: Path) -> None:
    """Another installed package with a top-level `runtime`, `dsl` or
    `grammar` module does not break kmap: ours are not imported by those
    names (they would raise here)."""
    other = tmp_path / "site"
    other.mkdir()
    for name in ("runtime", "dsl", "grammar"):
        (other / f"{name}.py").write_text(f"raise ImportError('the other package\\'s {name}')\n")
    env = dict(os.environ, PYTHONPATH=str(other))
    r = subprocess.run([sys.executable, "-m", "kmap_scenarios", "check",
                        str(ROOT / "examples/pkmap/first_slot.kmap")],
                       capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("Result: all 4 expectations hold\n"), r.stdout
