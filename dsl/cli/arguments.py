"""The options of each `kmap` command, apart from the commands' code: the
command line is parsed before anything else is imported, and only the
command given is imported then (dsl/cli/main.py, `_dispatch`), so that
`kmap check` does not load the kernel-module generator or `kmap test`'s
runner (docs/performance.md, "Startup"). Imports nothing of ours at
module level.
"""

from __future__ import annotations

import argparse

# kmap kmod --iterations' default: dsl/kmod/generate.py's DEFAULT_ITERATIONS
# (tests/test_cli.py checks that they agree)
KMOD_ITERATIONS = 1000


def machine_out(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                   help="json: docs/check-json.md; sarif: SARIF 2.1.0")
    p.add_argument("--junit-xml", metavar="FILE", default=None,
                   help="also write a JUnit XML report to FILE (for CI)")


def check(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-states", type=int, default=None, metavar="N",
                   help="stop after N distinct states")
    p.add_argument("--max-depth", type=int, default=None, metavar="N",
                   help="stop expanding a state first reached N steps from the start "
                        "(as SPIN's -m; an execution through states reached sooner can "
                        "be longer, so the max depth printed may exceed N)")
    p.add_argument("--preemption-bound", type=int, default=None, metavar="K",
                   help="only executions with at most K preemptions (a task taking a "
                        "CPU from one that could have gone on), as CHESS does")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="end within SECONDS, counting and witnesses included: what was "
                        "not explored, counted or witnessed by then is left out and the "
                        "result says so (bounded by time)")
    p.add_argument("--max-memory", type=_size, default=None, metavar="SIZE",
                   help="stop exploring when the search uses SIZE of memory (e.g. 500M, "
                        "2G; K, M, G, T are powers of 1024), reporting what it found as "
                        "bounded by memory; default: 80%% of the machine's memory (or of "
                        "its cgroup's limit), and under 90%% of ulimit -v when one is set")
    p.add_argument("--no-reduce", action="store_true", help="explore without partial-order reduction")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="search in N worker processes (identical results; 1.0x "
                        "to 1.4x on two cores, see docs/performance.md)")
    p.add_argument("--no-memo", action="store_true",
                   help="run every step through the handlers instead of reusing "
                        "recorded steps (identical results; slower)")
    p.add_argument("--stats", action="store_true", help="also print wall time and states per second")
    p.add_argument("--no-trace", action="store_true", help="print witness schedules without traces")
    p.add_argument("--random", type=int, default=None, metavar="N",
                   help="instead of every execution, N random ones (never proves always/never; "
                        "none starts after --timeout); a counterexample is shrunk before it "
                        "is printed")
    p.add_argument("--seed", type=int, default=None, metavar="S", help="seed of --random (default 0)")
    p.add_argument("--max-steps", type=int, default=None, metavar="N",
                   help="with --random: cut an execution after N steps (default 100000); "
                        "a cut execution is unfinished, never a counterexample unless its "
                        "reports already decide it")


def _size(text: str) -> int:
    """--max-memory's argument: bytes from 500M, 2G, ... (argparse turns
    the ValueError into a usage error)."""
    from kmap_scenarios.runtime.search.limits import parse_size
    return parse_size(text)


_size.__name__ = "size"   # argparse's message: "invalid size value: 'x'"


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
