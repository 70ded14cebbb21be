"""Benchmark: how long `kmap` takes to start, on a small example.

Prints the whole-process wall and processor time of `kmap check` on a
small example (min and median of N fresh processes), with the grammar's
tables from the cache (dsl/syntax/grammar_cache.py) and with the cache off
(KMAP_NO_CACHE=1: the tables computed, as before the cache), and of
`kmap --version`; then the slowest imports (`python -X importtime`, the
least of N runs per module); with --instructions, the instructions of
each command under callgrind, which do not depend on the machine's load.

Every process runs as an installed package runs: with its bytecode
cached (PYTHONDONTWRITEBYTECODE removed) and its own cache directory.

    python bench/startup.py [--runs N] [--instructions] [--example PATH]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "pkmap" / "first_slot.kmap"
KMAP = [sys.executable, "-m", "kmap_scenarios"]


def environment(cache: Path, cached: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "KMAP_NO_CACHE")}
    env["XDG_CACHE_HOME"] = str(cache)
    if not cached:
        env["KMAP_NO_CACHE"] = "1"
    return env


def timed(cmd: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and processor (user + system) seconds of `runs` fresh processes."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def instructions(cmd: list[str], env: dict[str, str]) -> int | None:
    """Instructions of one process under callgrind (None without valgrind)."""
    if not shutil.which("valgrind"):
        return None
    with tempfile.TemporaryDirectory() as work:
        proc = subprocess.run(["valgrind", "--tool=callgrind",
                               f"--callgrind-out-file={work}/cg.out", *cmd],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    m = re.search(r"Collected : (\d+)", proc.stderr)
    return int(m.group(1)) if m else None


def import_times(cmd: list[str], env: dict[str, str], runs: int) -> dict[str, tuple[int, int]]:
    """module -> (self, cumulative) microseconds, the least of `runs` runs."""
    best: dict[str, tuple[int, int]] = {}
    for _ in range(runs):
        err = subprocess.run([sys.executable, "-X", "importtime", *cmd[1:]], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).stderr
        for line in err.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
            if m:
                own, cum, name = int(m.group(1)), int(m.group(2)), m.group(4)
                old = best.get(name)
                best[name] = (own, cum) if old is None else (min(old[0], own), min(old[1], cum))
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--instructions", action="store_true", help="also callgrind counts")
    ap.add_argument("--example", type=Path, default=EXAMPLE)
    args = ap.parse_args()
    check = [*KMAP, "check", str(args.example)]
    commands = [
        ("kmap check, tables from the cache", check, True),
        ("kmap check, cache off (tables computed)", check, False),
        ("kmap --version", [*KMAP, "--version"], True),
    ]
    with tempfile.TemporaryDirectory() as cache:
        # fill the cache and the bytecode caches first
        subprocess.run(check, env=environment(Path(cache), True), stdout=subprocess.DEVNULL)
        print(f"# kmap start-up ({args.example.name}; {args.runs} fresh processes each; "
              f"Python {sys.version.split()[0]})\n")
        print("| command | wall min s | wall median s | cpu min s | cpu median s"
              + (" | instructions (M) |" if args.instructions else " |"))
        print("| --- | --- | --- | --- | ---" + (" | --- |" if args.instructions else " |"))
        for label, cmd, cached in commands:
            env = environment(Path(cache), cached)
            walls, cpus = timed(cmd, env, args.runs)
            line = (f"| {label} | {min(walls):.3f} | {statistics.median(walls):.3f} | "
                    f"{min(cpus):.3f} | {statistics.median(cpus):.3f}")
            if args.instructions:
                n = instructions(cmd, env)
                line += f" | {n / 1e6:,.0f}" if n else " | (no valgrind)"
            print(line + " |", flush=True)
        best = import_times(check, environment(Path(cache), True), max(3, args.runs // 2))
    print("\n# slowest imports of `kmap check` (python -X importtime, least of the runs, ms)\n")
    print("| module | self | cumulative |")
    print("| --- | --- | --- |")
    for name, (own, cum) in sorted(best.items(), key=lambda kv: -kv[1][0])[:15]:
        print(f"| {name} | {own / 1000:.1f} | {cum / 1000:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
