"""The options of `kmap test` and `kmap kmod`, apart from their code: the
command line is parsed before any command runs, and these two modules
import much (`kmap test`'s runner, the kernel-module generator) that the
other commands do not need (docs/performance.md, "Startup"). The other
commands' options stay with their code (check.py, machine_out.py), whose
imports the command line's parse may load. Imports nothing of ours at
module level.
"""

from __future__ import annotations

import argparse

# kmap kmod --iterations' default: dsl/kmod/generate.py's DEFAULT_ITERATIONS
# (tests/test_cli.py checks that they agree)
KMOD_ITERATIONS = 1000


def test(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH", default=["."],
                   help=".kmap files, or directories searched for them (default: .)")
    p.add_argument("--update", action="store_true",
                   help="rewrite each file's // Result: block with what it gives now")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                   help="files checked at once (default: the number of cores)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="bound each file's search (a bounded search is unproven: "
                        "it will differ from a whole one's record)")


def kmod(p: argparse.ArgumentParser) -> None:
    p.add_argument("file")
    p.add_argument("-o", "--output", metavar="DIR", required=True,
                   help="the directory to write the module's source into")
    p.add_argument("--iterations", type=int, default=KMOD_ITERATIONS, metavar="N",
                   help=f"how many times the module runs the scenario (default {KMOD_ITERATIONS}; "
                   "also a module parameter)")
