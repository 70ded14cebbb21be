"""Phase 1 of the explorer over several processes (`kmap check --jobs N`).

Each state is owned by one worker, chosen by its fingerprint; only the
owner expands it. The search runs in rounds, breadth-first levels (which
keep the workers' shares of each round even: expanding a worker's own
successors within the round, depth-first, was tried and left one worker
waiting for the other most of the time): a worker expands its frontier,
keeps the successors it owns, and sends every other worker, once per round,
the successors that worker owns (each at most once: senders remember what
they shipped). Two barriers end a round; the search ends when no worker has
a frontier left. Each worker then returns its part of the graph
(fingerprints, enabled actions, successor fingerprints, terminal outcomes)
as flat lists, and the parent assembles it for phase 2, which is
the same search as for `--jobs 1`: states, executions, outcomes and
witnesses are identical however the graph was built (phase 2 follows edges
from the initial state in action order; state numbers do not matter).

Each worker steps flat states with its own memo (runtime/memo.py); flat
forms number parts per process, so states are keyed and shipped by value
(``value_key``: the hash of the decoded State) and encoded again by their
owner. Workers are forked, so they share the parent's program and its
string-hash secret: fingerprints agree across processes.

On two cores this is slower than one process (docs/performance.md): phase
2, the counting and the assembly stay sequential, and the memoized step is
cheap enough that shipping a state costs about as much as expanding it.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import pickle
import time
from typing import Any

from runtime.explore import Stepper
from runtime.flat import Flat
from runtime.machine import Action, final_state
from runtime.state import State, initial_state

# Set in the parent before forking; read by the workers.
_JOB: dict[str, Any] = {}

# keys, action-tuple index per key, successors (flat; None: cut), the
# action tuples, terminal outcomes by key, which bounds cut
Part = tuple[list[object], list[int], list[object], list[tuple[Action, ...]],
             dict[object, Any], list[str]]


def build(explorer: Any, jobs: int) -> None:
    """Fill explorer.acts/off/dst/terminal/ids from a parallel phase 1."""
    ctx = mp.get_context("fork")
    inboxes = [ctx.Queue() for _ in range(jobs)]
    results = ctx.Queue()
    sizes = ctx.Array("q", jobs)
    barrier = ctx.Barrier(jobs)
    _JOB.update(explorer=explorer, jobs=jobs, inboxes=inboxes, results=results,
                sizes=sizes, barrier=barrier, start=time.monotonic())
    procs = [ctx.Process(target=_worker, args=(k,)) for k in range(jobs)]
    gc.freeze()  # forked workers then do not copy pages the collector touches
    for proc in procs:
        proc.start()
    parts: list[Part] = [pickle.loads(results.get()) for _ in range(jobs)]
    for proc in procs:
        proc.join()
    gc.unfreeze()
    _assemble(explorer, parts)


def _owner(key: object, jobs: int) -> int:
    return hash(key) % jobs


def value_key(s: State) -> int:
    """A state's key across workers: the hash of its value (each worker
    numbers parts its own way, so flat forms differ between processes)."""
    return hash(s)


def _worker(me: int) -> None:
    job = _JOB
    ex, jobs = job["explorer"], job["jobs"]
    o = ex.o
    p = ex.p
    bound, max_depth = o.preemption_bound, o.max_depth
    st = Stepper(p, o.memo, {})
    codec = st.codec
    init = initial_state(p)
    seen: set[object] = set()
    sent: list[set[object]] = [set() for _ in range(jobs)]
    keys: list[object] = []
    which: list[int] = []
    succ: list[object] = []
    pool: dict[tuple[Action, ...], int] = {}
    tuples: list[tuple[Action, ...]] = []
    terminal: dict[object, Any] = {}
    cuts: list[str] = []
    key0: object = value_key(init) if bound is None else (value_key(init), 0)
    todo: list[tuple[object, Flat, int, int]] = []
    if _owner(key0, jobs) == me:
        seen.add(key0)
        todo.append((key0, codec.encode(init), 0, 0))
    while True:
        out: list[list[tuple[object, State, int, int]]] = [[] for _ in range(jobs)]
        frontier, todo = todo, []
        for key, s, depth, pre in frontier:
            acts = st.enabled(s)
            k = pool.get(acts)
            if k is None:
                k = pool[acts] = len(tuples)
                tuples.append(acts)
            keys.append(key)
            which.append(k)
            if not acts:
                terminal[key] = ex.outcome(final_state(p, codec.decode(s)))
                continue
            if max_depth is not None and depth >= max_depth:
                cuts.append("depth")
                succ.extend([None] * len(acts))
                continue
            for a in acts:
                child = st.step(s, a)
                value = codec.decode(child)
                if bound is None:
                    cpre = 0
                    ckey: object = value_key(value)
                else:
                    cpre = pre + ex._preempts(codec.cpu(s, a[1]).curr, acts, a)
                    if cpre > bound:
                        cuts.append("preemptions")
                        succ.append(None)
                        continue
                    ckey = (value_key(value), cpre)
                succ.append(ckey)
                owner = _owner(ckey, jobs)
                if owner == me:
                    if ckey not in seen:
                        seen.add(ckey)
                        todo.append((ckey, child, depth + 1, cpre))
                elif ckey not in sent[owner]:
                    sent[owner].add(ckey)
                    out[owner].append((ckey, value, depth + 1, cpre))
        for k2 in range(jobs):
            if k2 != me:
                # pickled here, not by the queue's feeder thread, which would
                # contend for the GIL with the next round's expansion
                job["inboxes"][k2].put(pickle.dumps(out[k2], protocol=pickle.HIGHEST_PROTOCOL))
        job["barrier"].wait()
        for _ in range(jobs - 1):
            for ckey, value, depth, cpre in pickle.loads(job["inboxes"][me].get()):
                if ckey not in seen:
                    seen.add(ckey)
                    todo.append((ckey, codec.encode(value), depth, cpre))
        job["sizes"][me] = len(todo)
        job["barrier"].wait()
        total = sum(job["sizes"][:])
        over_states = o.max_states is not None and len(seen) * jobs > o.max_states
        over_time = o.timeout is not None and time.monotonic() - job["start"] > o.timeout
        if over_states or over_time:
            cuts.append("states" if over_states else "time")
            todo = []   # never expanded: cut
            total = 0
        job["barrier"].wait()
        if total == 0:
            break
    part: Part = (keys, which, succ, tuples, terminal, sorted(set(cuts)))
    job["results"].put(pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))


def _assemble(ex: Any, parts: list[Part]) -> None:
    """Number the states (root first) and lay out acts/off/dst by state id;
    a successor no worker expanded (cut by a bound) has no actions."""
    init = initial_state(ex.p)
    key0: object = value_key(init) if ex.o.preemption_bound is None else (value_key(init), 0)
    ids: dict[object, int] = {key0: 0}
    for keys, _, _, _, _, cuts in parts:
        for what in cuts:
            ex._cut(what)
        for key in keys:
            if key not in ids:
                ids[key] = len(ids)
    for _, _, succ, _, _, _ in parts:
        for c in succ:
            if c is not None and c not in ids:
                ids[c] = len(ids)
    n = len(ids)
    acts: list[tuple[Action, ...]] = [()] * n
    off = [-1] * n
    dst = ex.dst
    for keys, which, succ, tuples, terminal, _ in parts:
        shared = [ex._pool.setdefault(t, t) for t in tuples]
        at = 0
        for key, k in zip(keys, which):
            sid = ids[key]
            a = shared[k]
            acts[sid] = a
            if a:
                off[sid] = len(dst)
                dst.extend(-1 if c is None else ids[c] for c in succ[at:at + len(a)])
                at += len(a)
        for key, outcome in terminal.items():
            ex.terminal[ids[key]] = outcome
    ex.ids = ids
    ex.acts = acts
    ex.off.extend(off)
