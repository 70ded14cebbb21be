"""Benchmark: the front end and `kmap run` at the size real code reaches.

Each row doubles the input and prints its size, the wall time, the peak
resident memory and the ratio of the time to the row before (2.0 per
doubling is linear, 4.0 quadratic). Each measurement runs in a process of
its own (so that its peak memory is its own), from a generated file:

    braces   N levels of `{` in a task (E104 at the 65th): kmap lint
    run      N one-statement tasks: kmap run (the default policy, with trace)
    lint     N bytes of statements in one task: kmap lint
    repl     N statements typed into kmap repl (no FILE), each run at once
    strays   N lines with a stray character: kmap lint (E102, the parse goes on)
    chain    an N-term sum in a task and an expectation: kmap run

    python bench/frontend.py [--quick] [--only KIND[,KIND...]]

The figures of issue 13 are in docs/performance.md ("The front end").
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# kind -> sizes (full run, --quick)
SIZES: dict[str, tuple[list[int], list[int]]] = {
    "braces": ([12_500, 25_000, 50_000, 100_000], [25_000, 50_000]),
    "run": ([1_250, 2_500, 5_000, 10_000], [1_250, 2_500]),
    "lint": ([625_000, 1_250_000, 2_500_000, 5_000_000, 10_000_000], [250_000, 500_000]),
    "repl": ([100, 200, 400, 800, 1_600], [100, 200]),
    "strays": ([10_000, 20_000, 40_000, 80_000], [10_000, 20_000]),
    "chain": ([2_500, 5_000, 10_000, 20_000], [2_500, 5_000]),
}
UNITS = {"braces": "levels", "run": "tasks", "lint": "bytes", "repl": "statements",
         "strays": "lines", "chain": "terms"}


# ------------------------------------------------------------------ inputs
def braces(n: int) -> str:
    return "task t on cpu0 " + "{" * n + "}" * n + "\n"


def tasks(n: int) -> str:
    return "\n".join(f"task t{i} on cpu0 {{ int x = {i}; }}" for i in range(n)) + "\n"


_STATEMENTS = ["    void *p{i} = kmap(P);", "    p{i}[0] = 1;", "    kunmap(P);",
               "    if (x == {i}) {{ x = 2; }} else {{ x = 3; }}", "    while (x < {i}) x++;",
               "    x = x + 1;"]


def statements(size: int) -> str:
    out = ["page P = alloc_page(GFP_HIGHUSER);", "task t on cpu0 {", "    int x = 0;"]
    total, i = 0, 0
    while total < size:
        for s in _STATEMENTS:
            line = s.format(i=i)
            out.append(line)
            total += len(line) + 1
        i += 1
    return "\n".join(out + ["}", ""])


def strays(n: int) -> str:
    return "task t on cpu0 {\n" + "    $ x = 1;\n" * n + "}\n"


def chain(n: int) -> str:
    terms = " + ".join(["1"] * n)
    return (f"task t on cpu0 {{ int x = {terms}; }}\n"
            f"expect always t.x == {terms};\n")


# ------------------------------------------------------------- measuring
def measure(kind: str, n: int) -> dict[str, float]:
    """One measurement, in this process (run by ``--one``)."""
    from kmap_scenarios.dsl.cli.main import main
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{kind}.kmap")
        if kind != "repl":
            text = {"braces": braces, "run": tasks, "lint": statements, "strays": strays,
                    "chain": chain}[kind](n)
            Path(path).write_text(text)
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            if kind == "repl":
                _repl(n)
            else:
                main(["run" if kind in ("run", "chain") else "lint", path])
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _repl(n: int) -> None:
    from kmap_scenarios.dsl.repl.session import Session
    from kmap_scenarios.dsl.repl.shell import run_lines
    run_lines(Session(None), (f"int x{i} = {i};\n" for i in range(n)), io.StringIO())


def one(kind: str, n: int) -> dict[str, float]:
    """A measurement in a fresh process."""
    out = subprocess.run([sys.executable, __file__, "--one", kind, str(n)], check=True,
                         capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out)
    return result


def table(kinds: list[str], quick: bool) -> None:
    print(f"{'kind':<8} {'size':>12} {'unit':<11} {'seconds':>9} {'peak MB':>9} {'ratio':>6}")
    for kind in kinds:
        before = None
        for n in SIZES[kind][1 if quick else 0]:
            r = one(kind, n)
            ratio = f"{r['seconds'] / before:6.2f}" if before else "     -"
            print(f"{kind:<8} {n:>12,} {UNITS[kind]:<11} {r['seconds']:9.2f} {r['rss_mb']:9.0f} "
                  f"{ratio}", flush=True)
            before = r["seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="two small sizes of each")
    ap.add_argument("--only", help="kinds, comma-separated: " + ",".join(SIZES))
    ap.add_argument("--one", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]))))
        return
    kinds = args.only.split(",") if args.only else list(SIZES)
    unknown = [k for k in kinds if k not in SIZES]
    if unknown:
        ap.error(f"unknown kind {unknown[0]}: one of {', '.join(SIZES)}")
    table(kinds, args.quick)


if __name__ == "__main__":
    main()
