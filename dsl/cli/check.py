"""`kmap check FILE`: every execution (runtime/search/explore.py), or N random
ones (--random, dsl/cli/random_runs.py); its options and limits. The
verdicts and the text and JSON formats are dsl/formats/check_text.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from kmap_scenarios.dsl.cli import machine_out
from kmap_scenarios.dsl.cli.random_runs import random_check as run_random
from kmap_scenarios.dsl.formats.check_text import exit_status, text, to_json, verdicts_of
from kmap_scenarios.dsl.cli.usage import Usage
from kmap_scenarios.dsl.lower.load import load
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.search.limits import DEFAULT_MEMORY, machine_memory
from kmap_scenarios.runtime.kernel.program import Program

MAX_JOBS = 256   # each worker holds two pipes; past a few per core nothing is gained
# options of the exhaustive search that --random (whole random runs) has no use for
_SEARCH_ONLY = (("max_states", "--max-states"), ("max_depth", "--max-depth"),
                ("preemption_bound", "--preemption-bound"),
                ("no_reduce", "--no-reduce"), ("no_memo", "--no-memo"), ("stats", "--stats"),
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
    opts = ex.Options(reduce=not args.no_reduce, max_states=args.max_states,
                      max_depth=args.max_depth, preemption_bound=args.preemption_bound,
                      timeout=args.timeout, max_memory=memory, progress=sys.stderr.isatty(),
                      jobs=args.jobs, memo=not args.no_memo, interruptible=True, start=start)
    explorer = ex.Explorer(program, opts)
    result = explorer.run()
    limits = explorer.limits
    del explorer   # its graph: the report needs only the result (and room, after a MemoryError)
    if opts.progress:
        sys.stderr.write("\r\033[K")
    verdicts = verdicts_of(program, result)
    if machine_out.wanted(args):
        machine_out.collect(args, to_json(program, result, verdicts))
    if args.format == "text":
        # the traces are replays: printed while the time lasts
        sys.stdout.write(text(program, result, verdicts, args.stats, not args.no_trace,
                              limits))
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


