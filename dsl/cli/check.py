"""`kmap check FILE`: every execution (runtime/search/explore.py), or N random
ones (--random, dsl/cli/random_runs.py); its options and limits. The
verdicts and the text and JSON formats are dsl/formats/check_text.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from kmap_scenarios.dsl.cli import colour, machine_out, pictures
from kmap_scenarios.dsl.cli.random_runs import random_check as run_random
from kmap_scenarios.dsl.formats.check_text import exit_status, text, to_json, verdicts_of
from kmap_scenarios.dsl.cli.usage import Usage
from kmap_scenarios.dsl.lower.load import load
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.search.limits import DEFAULT_MEMORY, machine_memory
from kmap_scenarios.runtime.kernel.program import Program

def add_arguments(p: argparse.ArgumentParser) -> None:
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
    p.add_argument("--no-por", action="store_true",
                   help="keep the sleep sets but build the whole state graph: no state-level "
                        "reduction (a task's local step, or one CPU's actions, taken alone "
                        "where that loses nothing; see docs/performance.md)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="search in N worker processes (the same outcomes and verdicts; "
                        "the whole state graph, as --no-por; 1.0x to 1.4x on two cores, see "
                        "docs/performance.md)")
    p.add_argument("--no-memo", action="store_true",
                   help="run every step through the handlers instead of reusing "
                        "recorded steps (identical results; slower)")
    p.add_argument("--no-symmetry", action="store_true",
                   help="step every state, not one per orbit of interchangeable tasks "
                        "(the same outcomes and verdicts; with the state-level reduction, "
                        "the counts of states and executions may differ a little; slower)")
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

MAX_JOBS = 256   # each worker holds two pipes; past a few per core nothing is gained
# options of the exhaustive search that --random (whole random runs) has no use for
_SEARCH_ONLY = (("max_states", "--max-states"), ("max_depth", "--max-depth"),
                ("preemption_bound", "--preemption-bound"),
                ("no_reduce", "--no-reduce"), ("no_por", "--no-por"), ("no_memo", "--no-memo"),
                ("no_symmetry", "--no-symmetry"), ("stats", "--stats"),
                ("max_memory", "--max-memory"))


def check(args: argparse.Namespace) -> int:
    start = time.monotonic()   # --timeout covers the whole command from here
    if args.jobs < 1:
        raise Usage("--jobs must be at least 1")
    if args.jobs > MAX_JOBS:
        raise Usage(f"--jobs must be at most {MAX_JOBS} (this machine has {os.cpu_count()} cores)")
    _random_alone(args)
    for name in ("max_states", "max_depth", "preemption_bound"):
        v = getattr(args, name)
        if v is not None and v < 0:
            raise Usage(f"--{name.replace('_', '-')} must be >= 0")
    if args.timeout is not None and not args.timeout > 0:   # also NaN
        raise Usage("--timeout must be a positive number of seconds")
    program = load(args.file)
    if args.random is not None:
        if args.random < 1:
            raise Usage("--random takes a positive number of executions")
        return random_check(program, args)
    memory = args.max_memory
    if memory is None:
        memory = int(machine_memory() * DEFAULT_MEMORY)
    opts = ex.Options(reduce=not args.no_reduce, por=not args.no_por,
                      max_states=pictures.search_bound(args, args.max_states),
                      max_depth=args.max_depth, preemption_bound=args.preemption_bound,
                      timeout=args.timeout, max_memory=memory, progress=sys.stderr.isatty(),
                      jobs=args.jobs, memo=not args.no_memo, symmetry=not args.no_symmetry,
                      interruptible=True, start=start)
    explorer = ex.Explorer(program, opts)
    result = explorer.run()
    limits = explorer.limits
    graph = explorer.graph() if args.dot is not None and not args.dot_witness else None
    del explorer   # its graph: the report needs only the result (and room, after a MemoryError)
    if opts.progress:
        sys.stderr.write("\r\033[K")
    verdicts = verdicts_of(program, result)
    pictures.after_check(args, program, result, verdicts, graph)
    del graph
    if machine_out.wanted(args):
        machine_out.collect(args, to_json(program, result, verdicts))
    if args.format == "text":
        # the traces are replays: printed while the time lasts
        sys.stdout.write(text(program, result, verdicts, args.stats, not args.no_trace,
                              limits, colour.wanted(args, sys.stdout)))
    return exit_status(verdicts)


def _random_alone(args: argparse.Namespace) -> None:
    """--seed needs --random, and --random takes none of the search's
    bounds and switches: a usage error rather than an option ignored."""
    if args.random is None:
        if args.seed is not None:
            raise Usage("--seed only applies to --random N")
        if args.max_steps is not None:
            raise Usage("--max-steps only applies to --random N (the search follows every "
                        "execution to its end)")
        return
    if args.max_steps is not None and args.max_steps < 1:
        raise Usage("--max-steps must be at least 1")
    used = [flag for name, flag in _SEARCH_ONLY if getattr(args, name) not in (None, False)]
    if args.jobs != 1:
        used.insert(0, "--jobs")
    if used:
        raise Usage(f"--random runs whole random executions: {used[0]} does not apply to it")


def random_check(program: Program, args: argparse.Namespace) -> int:
    """N random executions (dsl/cli/random_runs.py)."""
    return run_random(program, args)


