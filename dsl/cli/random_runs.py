"""`kmap check FILE --random N`: N random executions instead of all.

Each execution runs under the random policy (runtime/search/schedule.py: a
uniformly random enabled action at each step, fair where it comes back
to a state) until nothing can step, until it enters a set of states it
can never leave (an execution that never ends: judged at every state of
that set, as the exhaustive search judges it), or until it is cut: after
``--max-steps`` steps or at ``--timeout``. A cut execution has not ended:
it is no outcome and never a counterexample, except for what its reports
alone already decide (a report never goes away), as where a bound cuts
the exhaustive search. After ``--timeout`` no execution starts.

A counterexample is shrunk before it is printed (runtime/search/shrink.py). The
text and JSON layouts are those of dsl/formats/check_text.py.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from kmap_scenarios.dsl.cli import colour, machine_out, pictures
from kmap_scenarios.dsl.formats import check_text as cc
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.kernel.machine import Action
from kmap_scenarios.runtime.search.outcome import Observer, Outcome
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.search.schedule import Search, execute, random_choice
from kmap_scenarios.runtime.search.shrink import MAX_REPLAYS, MAX_WORK, outcome_of, shrink
from kmap_scenarios.runtime.search.shrink import switches as shrink_switches

MAX_STEPS = 100_000   # the default step cap of one execution, as kmap run's
# each of many runs looks for the component it may be in with small searches
# first, within a budget that grows with its steps (runtime/search/schedule.py)
SEARCH = Search(budget=2_000, limit=64)


def random_check(program: Program, args: argparse.Namespace) -> int:
    """N random executions: outcomes with counts, the reports of the cut
    ones, each expectation's verdict (a random search is a bounded one:
    always/never are at best unproven) with a shrunk counterexample."""
    start = time.monotonic()
    deadline = None if args.timeout is None else start + args.timeout
    max_steps = MAX_STEPS if args.max_steps is None else args.max_steps
    result, started, capped, timed = sample(program, args.random, args.seed or 0, max_steps,
                                            deadline)
    result.bounded = bounds(args.random, started, capped, max_steps, timed)
    verdicts = cc.verdicts_of(program, result)
    observer = Observer(program)
    for k, v in enumerate(verdicts):
        if v.holds is False and v.witness is not None:
            shrink_verdict(program, k, v, observer, max_steps, deadline)
    result.seconds = time.monotonic() - start
    pictures.after_check(args, program, result, verdicts, None)
    if machine_out.wanted(args):
        machine_out.collect(args, cc.to_json(program, result, verdicts))
    if args.format == "text":
        sys.stdout.write(cc.text(program, result, verdicts, False, not args.no_trace,
                                 colour=colour.wanted(args, sys.stdout)))
    return cc.exit_status(verdicts)


def sample(program: Program, n: int, seed: int, max_steps: int, deadline: float | None
           ) -> tuple[ex.Result, int, int, bool]:
    """Run up to n random executions (seeds drawn from ``seed``): the
    result, how many started, how many were cut at ``max_steps``, and
    whether time ran out (an execution cut, or some never started)."""
    rng = random.Random(seed)
    observer = Observer(program)
    result = ex.Result()
    unfinished: dict[Outcome, list[Action]] = {}
    started = capped = 0
    timed = False
    for _ in range(n):
        if deadline is not None and time.monotonic() >= deadline:
            timed = True
            break
        started += 1
        run = execute(program, None, random_choice(rng.randrange(2**63)), trace=False,
                      max_steps=max_steps, deadline=deadline, search=SEARCH)
        assert run.final is not None
        result.max_depth = max(result.max_depth, len(run.actions))
        o = outcome_of(observer, run)
        if run.truncated:
            capped += not run.timed_out
            timed = timed or run.timed_out
            if run.reported:   # what the reports decide is known; the rest is not
                path = run.actions[:run.reported[-1][0]]   # up to the last report
                old = unfinished.get(o)
                if old is None or (len(path), path) < (len(old), old):
                    unfinished[o] = path
            continue
        result.outcomes[o] = result.outcomes.get(o, 0) + 1
        old = result.witnesses.get(o)
        if old is None or len(run.actions) < len(old):
            result.witnesses[o] = list(run.actions)
        result.executions += 1
    result.unfinished = dict(sorted(unfinished.items(), key=lambda kv: kv[0].text()))
    return result, started, capped, timed


def bounds(n: int, started: int, capped: int, max_steps: int, timed: bool) -> list[str]:
    """What bounded the random search, as `Bounded by:` lists it: the
    executions run, those cut at the step cap, and time."""
    runs = f"{n} random execution{'' if n == 1 else 's'}"
    out = [runs if started == n else f"{started} of {runs}"]
    if capped:
        out.append(f"{capped} cut at {max_steps} steps")
    if timed:
        out.append("time")
    return out


def shrink_verdict(program: Program, k: int, v: cc.Verdict, observer: Observer,
                   max_steps: int, deadline: float | None) -> None:
    """Replace a verdict's counterexample by its shrunk replay."""
    assert v.witness is not None
    got = shrink(program, v.witness, k, observer, max_steps, deadline)
    if got is None:
        if deadline is not None and time.monotonic() >= deadline:
            v.shrunk = "not shrunk: --timeout ran out"
        return
    v.witness = got.actions
    v.ends = "decided" if got.decided < len(got.execution.actions) else got.outcome.ends
    steps, switches = len(v.witness), shrink_switches(v.witness)
    stopped = {"time": " (cut short by --timeout)",
               "budget": f" (cut short: at most {MAX_REPLAYS} replays, {MAX_WORK} steps)"}
    if (steps, switches) != (got.steps_before, got.switches_before) or got.stopped:
        v.shrunk = (f"shrunk from {_n(got.steps_before, 'step')} and "
                    f"{_n(got.switches_before, 'context switch', 'es')} to {steps} and {switches} "
                    f"in {_n(got.replays, 'replay')}{stopped.get(got.stopped, '')}")
    if v.note:
        v.note = cc._why_broken(program, k, v.witness)


def _n(n: int, word: str, plural: str = "s") -> str:
    return f"{n} {word}{'' if n == 1 else plural}"
