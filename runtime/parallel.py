"""The explorer over several processes (`kmap check --jobs N`).

Each state is owned by one worker, chosen by its key (the hash of its flat
form, runtime/flat.py); only the owner expands it. The workers' codecs are
shared ones: a part's number is a hash of its content, the same in every
worker, so flat states and their keys mean the same thing everywhere and
are shipped as they are (new parts travel with them, a few hundred in a
whole search). Workers are forked: they share the parent's program and its
string-hash secret.

Phase 1 is a breadth-first search in rounds, one level a round. A round
starts with every worker sending the others the sort keys of its frontier,
so each state learns its rank in the whole level (the order the sequential
witness search, Explorer._shortest, would dequeue it in); a state's sort
key is (rank of the state it was first reached from, action position).
The worker then expands its frontier, keeps the successors it owns and
sends each other worker, once, those it owns, with their sort keys. Every
state thus keeps the predecessor a sequential breadth-first search would
have reached it from: the shortest witnesses come out identical.

Then the parent decides. Where the sequential search takes every
transition (one CPU, or no reduction) and the graph has no cycle, the
workers count executions per outcome and the longest execution themselves,
from the ends back (Kahn's algorithm, a round per exchange of finished
counts), and walk the witnesses' predecessors on the parent's request:
nothing is assembled in one process. Otherwise (sleep sets, a cycle, no
execution that ends) they ship their parts of the graph and the parent
runs phase 2 and the counting as for `--jobs 1`. Either way states,
executions, outcomes and witnesses are those of `--jobs 1`; bounds by
states or time cut a breadth-first search elsewhere than a depth-first one
(the result says it is bounded either way).

Two part values with one content number would make the workers unsound;
every shared codec checks for that, and on a clash the search runs in one
process instead.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import pickle
import queue
import signal
import time
import traceback
from array import array
from bisect import bisect_left
from typing import Any

from runtime.explore import Stepper
from runtime.flat import Codec, NumberingClash
from runtime.machine import Action, final_state
from runtime.memo import MemoConflict
from runtime.state import State, initial_state

# Set in the parent before forking; read by the workers.
_JOB: dict[str, Any] = {}

CUT = -1   # the successor key of a transition cut by a bound (hash() is never -1)
_HIGHEST = pickle.HIGHEST_PROTOCOL


def _dumps(x: Any) -> bytes:
    # pickled by the sender, not by the queue's feeder thread, which would
    # contend for the GIL with the sender's next expansion
    return pickle.dumps(x, protocol=_HIGHEST)


def bound_key(fp: int, cpre: int) -> int:
    """The key of a state under a preemption bound: its fingerprint and the
    preemptions that reached it."""
    return hash((fp, cpre))


def state_key(program: Any, s: State, cpre: int | None) -> int:
    """The key a worker gave state s (cpre: its preemptions, None unbounded)."""
    fp = hash(Codec(initial_state(program), shared=True).encode(s))
    return fp if cpre is None else bound_key(fp, cpre)


# ------------------------------------------------------------------ parent
def run(ex: Any, jobs: int) -> bool:
    """Search with ``jobs`` workers. True: they counted, and ex.result is
    complete. False: ex's graph is filled for phase 2 in this process."""
    ctx = mp.get_context("fork")
    inboxes = [ctx.Queue() for _ in range(jobs)]
    orders = [ctx.Queue() for _ in range(jobs)]
    replies = ctx.Queue()
    _JOB.update(ex=ex, jobs=jobs, inboxes=inboxes, orders=orders, replies=replies,
                start=time.monotonic())
    procs = [ctx.Process(target=_worker, args=(k,)) for k in range(jobs)]
    gc.freeze()   # forked workers then do not copy pages the collector touches
    try:
        for proc in procs:
            proc.start()
        return _direct(ex, jobs, procs, orders, replies)
    except BaseException:
        for proc in procs:   # a worker failed or the user interrupted: stop the rest
            proc.terminate()
        raise
    finally:
        for proc in procs:
            proc.join()
        gc.unfreeze()


def _direct(ex: Any, jobs: int, procs: list[Any], orders: list[Any], replies: Any) -> bool:
    built = _gather(replies, procs, jobs)
    if any(b[0] == "clash" for b in built.values()):
        for proc in procs:   # the others may wait for the clashing worker
            proc.terminate()
        ex._build()          # the same search in this process
        return False
    outcomes = sorted({o for b in built.values() for o in b[1]["outcomes"]}, key=lambda o: o.text())
    r = ex.result
    for b in built.values():
        info = b[1]
        for what in info["cuts"]:
            ex._cut(what)
        r.memo_hits += info["hits"]
        r.memo_misses += info["misses"]
    counts_here = bool(outcomes) and (not ex.o.reduce or ex.p.config.NR_CPUS == 1)
    if counts_here:
        _order_all(orders, ("count", outcomes))
        counted = _gather(replies, procs, jobs)
        if all(c[1]["complete"] for c in counted.values()):
            _finish(ex, jobs, procs, orders, replies, built, counted, outcomes)
            _order_all(orders, ("exit",))
            return True
    _order_all(orders, ("ship",))
    parts = _gather(replies, procs, jobs)
    _order_all(orders, ("exit",))
    _assemble(ex, [parts[k][1] for k in range(jobs)])
    return False


def _finish(ex: Any, jobs: int, procs: list[Any], orders: list[Any], replies: Any,
            built: dict[int, Any], counted: dict[int, Any], outcomes: list[Any]) -> None:
    r = ex.result
    root = next(c[1]["root"] for c in counted.values() if c[1]["root"] is not None)
    counts, longest = root
    if len(outcomes) == 1:
        counts = {outcomes[0]: counts} if counts else {}
    for out in outcomes:
        r.outcomes[out] = counts.get(out, 0)
    r.executions = sum(counts.values())
    r.max_depth = longest
    r.states = sum(b[1]["states"] for b in built.values())
    r.transitions = sum(b[1]["transitions"] for b in built.values())
    # the first terminal of each outcome in breadth-first order
    first: dict[Any, tuple[int, int, int]] = {}
    for b in built.values():
        for out, where in b[1]["first"].items():
            if out not in first or where < first[out]:
                first[out] = where
    paths: dict[Any, list[Action]] = {out: [] for out in first}
    # walk back: (state key, position of the action taken from it, or -1)
    at: dict[Any, tuple[int, int]] = {out: (first[out][2], -1) for out in first}
    while at:
        asks: list[list[tuple[Any, int, int]]] = [[] for _ in range(jobs)]
        for out, (key, i) in at.items():
            asks[key % jobs].append((out, key, i))
        for k in range(jobs):
            orders[k].put(_dumps(("walk", asks[k])))
        answers = _gather(replies, procs, jobs)
        at = {}
        for k in range(jobs):
            for out, action, parent, via in answers[k][1]:
                if action is not None:
                    paths[out].append(action)
                if parent is not None:
                    at[out] = (parent, via)
    for out in sorted(first, key=lambda o: o.text()):
        r.witnesses[out] = paths[out][::-1]


def _order_all(orders: list[Any], order: tuple[Any, ...]) -> None:
    data = _dumps(order)
    for q in orders:
        q.put(data)


def _gather(replies: Any, procs: list[Any], jobs: int) -> dict[int, Any]:
    """One reply from every worker (worker -> (tag, payload)); a worker's
    failure is raised here."""
    got: dict[int, Any] = {}
    while len(got) < jobs:
        try:
            k, tag, payload = pickle.loads(replies.get(timeout=0.5))
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"a --jobs worker died (exit code {dead[0].exitcode})")
            continue
        if tag == "error":
            kind, text = payload
            raise (MemoConflict if kind == "memo" else RuntimeError)(text)
        got[k] = (tag, payload)
        if tag == "clash":
            break
    return got


# ------------------------------------------------------------------ worker
def _worker(me: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent stops the workers
    job = _JOB
    w = _Worker(me, job)
    reply = job["replies"].put
    try:
        try:
            w.phase1()
            reply(_dumps((me, "built", w.built())))
        except NumberingClash:
            reply(_dumps((me, "clash", None)))
            return
        while True:
            order = pickle.loads(job["orders"][me].get())
            if order[0] == "exit":
                return
            if order[0] == "count":
                reply(_dumps((me, "counted", w.count(order[1]))))
            elif order[0] == "walk":
                reply(_dumps((me, "walked", w.walk(order[1]))))
            elif order[0] == "ship":
                reply(_dumps((me, "part", w.part())))
    except MemoConflict as e:
        reply(_dumps((me, "error", ("memo", str(e)))))
    except Exception:   # a bug: report it to the parent, which raises it
        reply(_dumps((me, "error", ("bug", traceback.format_exc()))))


class _Worker:
    """One worker's share of the graph: the states it owns, numbered in the
    order it met them (``lid``: key -> local number)."""

    def __init__(self, me: int, job: dict[str, Any]) -> None:
        self.me, self.jobs = me, job["jobs"]
        self.ex = job["ex"]
        self.inboxes = job["inboxes"]
        self.start = job["start"]
        self.lid: dict[int, int] = {}
        self.keys = array("q")       # local number -> key
        self.acts: list[tuple[Action, ...]] = []
        self.off = array("q")        # first successor in succ; -1 unexpanded
        self.succ = array("q")       # successor keys (CUT: cut by a bound)
        self.parent = array("q")     # the key first reached from (breadth-first)
        self.via = array("l")        # and the position of the action taken (-1: root)
        self.terminal: dict[int, Any] = {}          # local number -> outcome
        self.first: dict[Any, tuple[int, int, int]] = {}  # outcome -> (level, rank, key)
        self.shared_with: dict[int, int] = {}       # key -> mask of workers with edges to it
        self.cuts: set[str] = set()
        self.stepper: Stepper | None = None
        self.seq = 0                                # exchanges so far
        self.early: dict[int, dict[int, Any]] = {}  # messages of a later exchange

    # ------------------------------------------------------------ phase 1
    def _new(self, key: int, parent: int, via: int) -> None:
        self.lid[key] = len(self.keys)
        self.keys.append(key)
        self.acts.append(())
        self.off.append(-1)
        self.parent.append(parent)
        self.via.append(via)

    def phase1(self) -> None:
        ex, me, jobs = self.ex, self.me, self.jobs
        o, p = ex.o, ex.p
        bound, max_depth, max_states = o.preemption_bound, o.max_depth, o.max_states
        st = self.stepper = Stepper(p, o.memo, {}, shared=True)
        codec = st.codec
        flat0 = codec.encode(initial_state(p))
        key0 = hash(flat0) if bound is None else bound_key(hash(flat0), 0)
        self.key0 = key0
        width = len(p.contexts) * p.config.NR_CPUS + 1   # > any action position
        # frontier entries: [sort key, key, flat, depth, preemptions]
        frontier: list[list[Any]] = []
        if key0 % jobs == me:
            self._new(key0, 0, -1)
            frontier.append([0, key0, flat0, 0, 0])
        lid, succ, off, acts_of = self.lid, self.succ, self.off, self.acts
        parent, via = self.parent, self.via
        step, enabled = st.step, st.enabled
        memo = st.memo
        sent: set[int] = set()
        level = 0
        while True:
            frontier.sort(key=_first)
            mine = array("q", [e[0] for e in frontier])
            timed_out = o.timeout is not None and time.monotonic() - self.start > o.timeout
            others = self._exchange(lambda k: (mine, len(lid), timed_out))
            if not frontier and not any(len(m) for m, _, _ in others.values()):
                break
            total = len(lid) + sum(n for _, n, _ in others.values())
            if timed_out or any(t for _, _, t in others.values()):
                self.cuts.add("time")
                break       # the frontier stays unexpanded: cut
            if max_states is not None and total >= max_states:
                self.cuts.add("states")
                break
            if o.progress and me == 0:
                _progress(total, self.start)
            out: list[list[Any]] = [[] for _ in range(jobs)]
            nxt: dict[int, list[Any]] = {}
            lists = [m for m, _, _ in others.values()]
            for idx, (_, key, flat, depth, pre) in enumerate(frontier):
                rank = idx
                for other in lists:
                    rank += bisect_left(other, frontier[idx][0])
                sid = lid[key]
                acts = enabled(flat)
                acts_of[sid] = acts
                if not acts:
                    outcome = ex.outcome(final_state(p, codec.decode(flat)))
                    self.terminal[sid] = outcome
                    if outcome not in self.first:
                        self.first[outcome] = (level, rank, key)
                    continue
                off[sid] = len(succ)
                if max_depth is not None and depth >= max_depth:
                    self.cuts.add("depth")
                    succ.extend([CUT] * len(acts))
                    continue
                base = rank * width
                for i, a in enumerate(acts):
                    child = step(flat, a)
                    if bound is None:
                        ckey = hash(child)
                        cpre = 0
                    else:
                        cpre = pre + ex._preempts(codec.cpu(flat, a[1]).curr, acts, a)
                        if cpre > bound:
                            self.cuts.add("preemptions")
                            succ.append(CUT)
                            continue
                        ckey = bound_key(hash(child), cpre)
                    succ.append(ckey)
                    if ckey in lid:
                        continue   # met before: at this level from a lower rank, or earlier
                    owner = ckey % jobs
                    if owner == me:
                        self._new(ckey, key, i)
                        nxt[ckey] = [base + i, ckey, child, depth + 1, cpre]
                    elif ckey not in sent:
                        sent.add(ckey)
                        out[owner].append((ckey, base + i, key, i, depth + 1, cpre, child))
            fresh, codec.fresh = codec.fresh, []
            learnt: list[Any] = []
            if memo is not None:
                learnt, memo.fresh = memo.fresh, []
            got = self._exchange(lambda k: (fresh, learnt, out[k]))
            for parts, _, _ in got.values():
                for kind, number, value in parts:
                    codec.learn(kind, number, value)
            if memo is not None:
                for _, steps, _ in got.values():
                    for key, positions, values, delta in steps:
                        memo.learn(key, positions, values, delta)
            for sender, (_, _, entries) in got.items():
                bit = 1 << sender
                for ckey, skey, pkey, i, depth, cpre, child in entries:
                    self.shared_with[ckey] = self.shared_with.get(ckey, 0) | bit
                    c = lid.get(ckey)
                    if c is None:
                        self._new(ckey, pkey, i)
                        nxt[ckey] = [skey, ckey, child, depth, cpre]
                    else:
                        e = nxt.get(ckey)
                        if e is not None and skey < e[0]:
                            e[0] = skey
                            parent[c], via[c] = pkey, i
            frontier = list(nxt.values())
            level += 1

    def _exchange(self, message: Any) -> dict[int, Any]:
        """Send every other worker message(k); receive one from each. With
        more than two workers a message of the next exchange can arrive
        before the last of this one: messages carry their exchange's number
        and early ones wait."""
        me, jobs = self.me, self.jobs
        self.seq += 1
        for k in range(jobs):
            if k != me:
                self.inboxes[k].put(_dumps((self.seq, me, message(k))))
        got = self.early.pop(self.seq, {})
        while len(got) < jobs - 1:
            seq, sender, data = pickle.loads(self.inboxes[me].get())
            if seq == self.seq:
                got[sender] = data
            else:
                self.early.setdefault(seq, {})[sender] = data
        return got

    def built(self) -> dict[str, Any]:
        st = self.stepper
        assert st is not None
        memo = st.memo
        return {"outcomes": sorted(set(self.terminal.values()), key=lambda x: x.text()),
                "cuts": sorted(self.cuts), "states": len(self.keys),
                "transitions": len(self.succ) - self.succ.count(CUT),
                "first": self.first,
                "hits": memo.hits if memo is not None else 0,
                "misses": memo.misses if memo is not None else 0}

    # ------------------------------------------------------------ counting
    def count(self, outcomes: list[Any]) -> dict[str, Any]:
        """Executions per outcome and the longest execution of every state
        this worker owns, from the ends back: a state is done when all its
        successors are; finished counts of states other workers reach are
        sent to them in rounds. complete is False when states are left
        (they lie on a cycle: the parent then counts the way --jobs 1 does)."""
        n = len(self.keys)
        lid, off, acts, succ, keys = self.lid, self.off, self.acts, self.succ, self.keys
        single = len(outcomes) == 1
        pending = array("l", bytes(8 * n))
        far = array("l", [-1]) * n
        rev: list[Any] = [None] * n            # local predecessors of each state
        remote: dict[int, list[int]] = {}      # another worker's key -> local predecessors
        for s in range(n):
            o = off[s]
            if o < 0:
                continue
            for pos in range(o, o + len(acts[s])):
                ck = succ[pos]
                if ck == CUT:
                    continue
                pending[s] += 1
                child = lid.get(ck)
                if child is None:
                    remote.setdefault(ck, []).append(s)
                elif rev[child] is None:
                    rev[child] = [s]
                else:
                    rev[child].append(s)
        counts: list[Any] = [0] * n if single else [None] * n
        own = bytearray(n)                     # counts[s] is s's own dict (not shared)
        for s, outcome in self.terminal.items():
            counts[s] = 1 if single else {outcome: 1}
            own[s] = 1

        def add(s: int, c: Any, longest: int) -> None:
            if longest > far[s]:
                far[s] = longest
            if single:
                counts[s] += c
            elif c:
                mine: Any = counts[s]
                if mine is None:
                    counts[s] = c        # shared until a second contribution
                else:
                    if not own[s]:
                        mine = counts[s] = dict(mine)
                        own[s] = 1
                    for outcome, k in c.items():
                        mine[outcome] = mine.get(outcome, 0) + k
            pending[s] -= 1

        ready = [s for s in range(n) if pending[s] == 0]
        done = 0
        shared_with = self.shared_with
        while True:
            out: list[list[tuple[int, Any, int]]] = [[] for _ in range(self.jobs)]
            sent = 0
            while ready:
                s = ready.pop()
                done += 1
                c = counts[s] if single or counts[s] is not None else {}
                longest = far[s] + 1
                for p in rev[s] or ():
                    add(p, c, longest)
                    if pending[p] == 0:
                        ready.append(p)
                mask = shared_with.get(keys[s], 0)
                k = 0
                while mask:
                    if mask & 1:
                        out[k].append((keys[s], c, longest))
                        sent += 1
                    mask >>= 1
                    k += 1
            got = self._exchange(lambda k: (sent, out[k]))
            if sent + sum(m[0] for m in got.values()) == 0:
                break
            for _, entries in got.values():
                for key, c, longest in entries:
                    for p in remote.pop(key, ()):
                        add(p, c, longest)
                        if pending[p] == 0:
                            ready.append(p)
        root = None
        if self.key0 in lid:
            s0 = lid[self.key0]
            root = (counts[s0] if single or counts[s0] is not None else {}, far[s0] + 1)
        return {"complete": done == n, "root": root}

    def walk(self, asks: list[tuple[Any, int, int]]) -> list[tuple[Any, Any, Any, int]]:
        """For each (outcome, key, position): the action at that position
        of the state (None for -1), and the state it was first reached from
        with the position of the action taken there (None: the root)."""
        out = []
        for outcome, key, i in asks:
            s = self.lid[key]
            action = self.acts[s][i] if i >= 0 else None
            via = self.via[s]
            out.append((outcome, action, self.parent[s] if via >= 0 else None, via))
        return out

    def part(self) -> tuple[Any, ...]:
        """This worker's part of the graph, for the parent's phase 2."""
        pool: dict[tuple[Action, ...], int] = {}
        tuples: list[tuple[Action, ...]] = []
        which = array("l")
        for a in self.acts:
            k = pool.get(a)
            if k is None:
                k = pool[a] = len(tuples)
                tuples.append(a)
            which.append(k)
        terminal = {self.keys[s]: out for s, out in self.terminal.items()}
        return (self.keys, which, self.off, self.succ, tuples, terminal)


def _first(e: list[Any]) -> int:
    return e[0]   # type: ignore[no-any-return]


def _progress(states: int, start: float) -> None:
    import sys
    now = time.monotonic()
    rate = states / max(now - start, 1e-9)
    sys.stderr.write(f"\rkmap check: {states} states, {rate:,.0f} states/s ")
    sys.stderr.flush()


# ---------------------------------------------------------------- assembly
def _assemble(ex: Any, parts: list[tuple[Any, ...]]) -> None:
    """Number the states (root first) and lay out acts/off/dst by state id
    for phase 2 in this process."""
    ids: dict[int, int] = {}
    key0 = None
    for keys, _, _, _, _, _ in parts:
        if key0 is None:
            key0 = state_key(ex.p, initial_state(ex.p),
                             None if ex.o.preemption_bound is None else 0)
            ids[key0] = 0
        for key in keys:
            if key not in ids:
                ids[key] = len(ids)
    n = len(ids)
    acts: list[tuple[Action, ...]] = [()] * n
    off = array("q", [-1]) * n
    dst = ex.dst
    for keys, which, offs, succ, tuples, terminal in parts:
        shared = [ex._pool.setdefault(t, t) for t in tuples]
        for s, key in enumerate(keys):
            sid = ids[key]
            a = shared[which[s]]
            acts[sid] = a
            o = offs[s]
            if a and o >= 0:
                off[sid] = len(dst)
                dst.extend([-1 if c == CUT else ids[c] for c in succ[o:o + len(a)]])
        for key, outcome in terminal.items():
            ex.terminal[ids[key]] = outcome
    ex.ids = ids
    ex.acts = acts
    ex.off = off
