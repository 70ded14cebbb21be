"""Phase 1 of the explorer over several processes (`kmap check --jobs N`).

Each state is owned by one worker, chosen by its fingerprint; only the
owner expands it. The search runs in rounds (breadth-first levels): a
worker expands its frontier, keeps the successors it owns, and sends every
other worker, once per round, the successors that worker owns (each at most
once: senders remember what they shipped). Two barriers end a round; the
search ends when no worker has a frontier left. Each worker then returns
its part of the graph (enabled actions, successor fingerprints, terminal
outcomes) and the parent assembles it for phase 2, which is the same search
as for `--jobs 1`: states, executions, outcomes and witnesses are identical
however the graph was built.

Workers are forked, so they share the parent's program and its string-hash
secret: fingerprints agree across processes.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import pickle
import time
from typing import Any

from runtime.machine import Action, enabled, final_state
from runtime.state import State, initial_state

# Set in the parent before forking; read by the workers.
_JOB: dict[str, Any] = {}

Part = tuple[dict[object, tuple[list[Action], list[object]]], dict[object, Any], list[str]]


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


def _worker(me: int) -> None:
    job = _JOB
    ex, jobs = job["explorer"], job["jobs"]
    o = ex.o
    bound = o.preemption_bound
    init = initial_state(ex.p)
    seen: dict[object, None] = {}
    sent: list[set[object]] = [set() for _ in range(jobs)]
    graph: dict[object, tuple[list[Action], list[object]]] = {}
    terminal: dict[object, Any] = {}
    cuts: list[str] = []
    key0 = ex._key(init, 0)
    frontier: list[tuple[object, State, int]] = []
    if _owner(key0, jobs) == me:
        seen[key0] = None
        frontier.append((key0, init, 0))
    depth = 0
    while True:
        out: list[list[tuple[object, State, int]]] = [[] for _ in range(jobs)]
        nxt: list[tuple[object, State, int]] = []
        for key, s, pre in frontier:
            acts = enabled(ex.p, s)
            if not acts:
                terminal[key] = ex.outcome(final_state(ex.p, s))
                graph[key] = (acts, [])
                continue
            if o.max_depth is not None and depth >= o.max_depth:
                cuts.append("depth")
                graph[key] = (acts, [None] * len(acts))
                continue
            children: list[object] = []
            for a in acts:
                child = ex.succ_state(s, a)
                cpre = pre + ex._preempts(s, acts, a) if bound is not None else 0
                if bound is not None and cpre > bound:
                    cuts.append("preemptions")
                    children.append(None)
                    continue
                ckey = ex._key(child, cpre)
                children.append(ckey)
                owner = _owner(ckey, jobs)
                if owner == me:
                    if ckey not in seen:
                        seen[ckey] = None
                        nxt.append((ckey, child, cpre))
                elif ckey not in sent[owner]:
                    sent[owner].add(ckey)
                    out[owner].append((ckey, child, cpre))
            graph[key] = (acts, children)
        for k in range(jobs):
            if k != me:
                # pickled here, not by the queue's feeder thread, which would
                # contend for the GIL with the next round's expansion
                job["inboxes"][k].put(pickle.dumps(out[k], protocol=pickle.HIGHEST_PROTOCOL))
        job["barrier"].wait()
        for _ in range(jobs - 1):
            for ckey, child, cpre in pickle.loads(job["inboxes"][me].get()):
                if ckey not in seen:
                    seen[ckey] = None
                    nxt.append((ckey, child, cpre))
        frontier = nxt
        depth += 1
        job["sizes"][me] = len(frontier)
        job["barrier"].wait()
        total = sum(job["sizes"][:])
        over_states = o.max_states is not None and len(seen) * jobs > o.max_states
        over_time = o.timeout is not None and time.monotonic() - job["start"] > o.timeout
        if over_states or over_time:
            cuts.append("states" if over_states else "time")
            for key, _, _ in frontier:   # never expanded: cut
                graph[key] = ([], [])
            total = 0
        job["barrier"].wait()
        if total == 0:
            break
    job["results"].put(pickle.dumps((graph, terminal, sorted(set(cuts))), protocol=pickle.HIGHEST_PROTOCOL))


def _assemble(ex: Any, parts: list[Part]) -> None:
    """Number the states (root first) and lay out acts/succ by state id."""
    init = initial_state(ex.p)
    key0 = ex._key(init, 0)
    order: list[object] = [key0]
    ids: dict[object, int] = {key0: 0}
    merged: dict[object, tuple[list[Action], list[object]]] = {}
    for graph, _, cuts in parts:
        merged.update(graph)
        for what in cuts:
            ex._cut(what)
    for key in merged:
        if key not in ids:
            ids[key] = len(order)
            order.append(key)
    for acts, children in merged.values():
        for c in children:
            if c is not None and c not in ids:
                ids[c] = len(order)
                order.append(c)
    ex.ids = ids
    ex.acts = []
    for key in order:
        acts, children = merged.get(key, ([], []))
        t = tuple(acts)
        t = ex._pool.setdefault(t, t)
        ex.acts.append(t)
        ex.off.append(len(ex.dst) if children else -1)
        ex.dst.extend(-1 if c is None else ids[c] for c in children)
    for graph, terminal, _ in parts:
        for key, outcome in terminal.items():
            ex.terminal[ids[key]] = outcome
