"""The explorer over several processes (`kmap check --jobs N`).

Each state is owned by one worker, chosen from its flat form
(runtime/search/flat.py); only the owner expands it. The workers' codecs are
shared ones: a part's number is a hash of its content, the same in every
worker, so flat states and their keys (their hashes) mean the same thing
everywhere and are shipped as they are, with the parts the receiver may
not know yet (a few hundred in a whole search). A worker's new memo
recordings (runtime/search/memo.py) travel too, so a step is mostly learnt once
for all workers. Workers are forked: they share the parent's program and
its string-hash secret.

Symmetry reduction (runtime/search/symmetry.py) is not used here: every
worker steps every state it owns. Canonical forms would make the owner
of a state the owner of its orbit's representative (its hash), moving
most transitions between workers, and the unfolding that gives the exact
counts is a sequential walk of the whole graph; the results are those of
`--jobs 1` with or without symmetry, which gives the same ones.

The owner of a state is a hash of the parts of the first half of the
tasks, not of the whole state: a step of any other task keeps its
successor with the same worker, so only about a quarter of the
transitions cross between workers instead of half (measured on the
ladder), at the price of a few percent of imbalance.

Phase 1: every worker expands its own states depth-first, in batches;
after each batch it sends every other worker the new states that worker
owns and reads what arrived. A worker with nothing to do tells the parent
how many messages it has sent to and received from each other worker;
when every worker is idle and every channel drained, nothing is in flight
and the parent ends phase 1 (``quiet``).

Then the parent decides. Where the sequential search takes every
transition (one CPU, or no reduction) and the graph has no cycle, the
workers count, for each state, executions per outcome, the longest
execution and the shortest distance to an end of each outcome, from the
ends back (Kahn's algorithm; finished states other workers lead to are
sent to them in batches, and the count ends as phase 1 does). The
witness of an outcome then follows, from the initial state, the first
action whose successor is one step closer to an end of that outcome: the
lexicographically first shortest path, which is the one the sequential
breadth-first search (Explorer._shortest) finds.
Nothing is assembled in one process. Otherwise (sleep sets, a cycle, no
execution that ends) the workers ship their parts of the graph and the
parent runs phase 2 and the counting as for `--jobs 1`. Either way
states, executions, outcomes, depth and witnesses are those of `--jobs
1`; bounds by depth, states or time cut the search elsewhere than one
process does (the result says it is bounded either way).

Two part values with one content number would make the workers unsound;
every shared codec checks for that, and on a clash the search runs in one
process instead.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import multiprocessing.queues as mpq
import os
import pickle
import queue
import signal
import time
import traceback
from array import array
from typing import Any, Callable

from kmap_scenarios.runtime.search.stepper import CHUNK, FANOUT, CHECK_FANOUT, FAR, Stepper, show_progress
from kmap_scenarios.runtime.search.flat import Codec, Flat, NumberingClash
from kmap_scenarios.runtime.search.limits import COUNT_SHARE, Cut, memory_used
from kmap_scenarios.runtime.kernel.machine import Action, final_state
from kmap_scenarios.runtime.search.memo import MemoConflict
from kmap_scenarios.runtime.kernel.state import State, initial_state

# Set in the parent before forking; read by the workers.
_JOB: dict[str, Any] = {}

CUT = -1          # the successor key of a transition cut by a bound (hash() is never -1)
BATCH = 1024      # states and successors a worker makes between two looks at its inbox
COUNT_BATCH = 2048  # states a worker counts between two looks
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


def owner_of(program: Any, jobs: int) -> Callable[[Flat], int]:
    """The worker that owns a flat state: a hash of the parts of the first
    half of the tasks (at least one; every context when there are no tasks)."""
    tasks = [i for i, c in enumerate(program.contexts) if not c.is_irq] or \
        list(range(len(program.contexts)))
    h = max(1, len(tasks) // 2)
    chosen = tasks[:h]
    if chosen == list(range(h)):
        return lambda flat: hash(flat[:h]) % jobs
    return lambda flat: hash(tuple([flat[i] for i in chosen])) % jobs


# ------------------------------------------------------------------ parent
class _Queue(mpq.Queue):  # type: ignore[type-arg]
    """A queue whose feeder thread, when it cannot send (out of memory),
    says so in the shared ``failed`` flag instead of printing a traceback
    and dropping the message: a message lost would leave the workers'
    counts of messages sent and received apart, and phase 1 would never
    end."""

    def _on_queue_feeder_error(self, e: BaseException, obj: Any) -> None:
        failed = _JOB.get("failed")
        if failed is not None:
            failed.value = 1 if isinstance(e, MemoryError) else 2


def run(ex: Any, jobs: int) -> bool:
    """Search with ``jobs`` workers. True: they counted, and ex.result is
    complete. False: ex's graph is filled for phase 2 in this process."""
    ctx = mp.get_context("fork")
    inboxes = [_Queue(ctx=ctx) for _ in range(jobs)]
    orders = [_Queue(ctx=ctx) for _ in range(jobs)]
    replies = _Queue(ctx=ctx)
    # the parent's first Ctrl-C sets it (Explorer._catch_interrupt): the
    # workers ignore SIGINT and stop at their next look at the limits
    ex.shared_stop = ctx.RawValue("b", 0)
    # the memory ceiling is the command's: each worker gets an equal share
    # of what the parent does not use (a worker's resident size counts the
    # pages it shares with the parent, so the shares are cautious)
    memory = ex.limits.memory
    if memory is not None:
        memory = max(memory - memory_used()[1], 0) // jobs
    _JOB.update(ex=ex, jobs=jobs, inboxes=inboxes, orders=orders, replies=replies,
                start=time.monotonic(), parent=os.getpid(), stop=ex.shared_stop, memory=memory,
                failed=ctx.RawValue("b", 0))
    procs = [ctx.Process(target=_worker, args=(k,)) for k in range(jobs)]
    gc.freeze()   # forked workers then do not copy pages the collector touches
    try:
        for proc in procs:
            proc.start()
        try:
            return _direct(ex, jobs, procs, inboxes, orders, replies)
        except (MemoryError, RuntimeError) as e:
            if not out_of_memory(e):
                raise
            # here or in a worker: what the workers built is lost
            for proc in procs:
                proc.terminate()
            _lost(ex, "memory")
            return True
    except BaseException:
        for proc in procs:   # a worker failed or the user interrupted: stop the rest
            proc.terminate()
        raise
    finally:
        for proc in procs:
            proc.join()
        for q in (*inboxes, *orders, replies):
            q.close()   # its feeder thread ends, its pipe is closed
        gc.unfreeze()


def out_of_memory(e: BaseException) -> bool:
    """A MemoryError, or a thread that could not start (a queue's feeder
    thread reserves its stack and a malloc arena: under `ulimit -v` that
    is where the address space runs out first)."""
    return isinstance(e, MemoryError) or \
        isinstance(e, RuntimeError) and str(e) == "can't start new thread"


def _direct(ex: Any, jobs: int, procs: list[Any], inboxes: list[Any], orders: list[Any],
            replies: Any) -> bool:
    if not _until_quiet("phase 1", jobs, procs, inboxes, replies):
        for proc in procs:   # a clash: the others may wait for the clashing worker
            proc.terminate()
        ex._build()          # the same search in this process
        return False
    ex.limits.phase(COUNT_SHARE)
    _order_all(orders, ("built",))
    built = _gather(replies, procs, jobs)
    outcomes = sorted({o for b in built.values() for o in b["outcomes"]}, key=lambda o: o.text())
    r = ex.result
    r.coverage = built[0]["coverage"]
    for info in built.values():
        if info is not built[0]:
            r.coverage.merge(info["coverage"])
        for what in info["cuts"]:
            ex._cut(what)
        r.memo_hits += info["hits"]
        r.memo_misses += info["misses"]
    r.states = sum(b["states"] for b in built.values())
    if any(b["damaged"] for b in built.values()):
        # a worker ran out of memory mid-state: its graph cannot be
        # trusted, the outcomes it reached can
        _order_all(orders, ("exit",))
        _lost(ex, "memory", outcomes)
        return True
    late = ex.limits.reached()
    if late:   # the time is up (or Ctrl-C): the workers need not count or ship
        _order_all(orders, ("exit",))
        _lost(ex, late, outcomes)
        return True
    cut_reports = any(b["frontier"] for b in built.values())
    if outcomes and (not ex.o.reduce or ex.p.config.NR_CPUS == 1) and not cut_reports:
        # the parent's deadline for the count (the same clock in every
        # process): after a Ctrl-C it is the grace, which the workers get too
        _order_all(orders, ("count", outcomes, ex.limits.until))
        _until_quiet("count", jobs, procs, inboxes, replies)
        counted = _gather(replies, procs, jobs)
        cuts = sorted({c["cut"] for c in counted.values() if c["cut"]})
        if cuts:
            # a limit cut the count: no count, no witness (the graph stays
            # with the workers, and the time is up)
            _order_all(orders, ("exit",))
            for what in cuts:
                ex._cut(what)
            _lost(ex, None, outcomes)
            return True
        if all(c["complete"] for c in counted.values()):
            _finish(ex, jobs, procs, orders, replies, built, counted, outcomes)
            _order_all(orders, ("exit",))
            return True
    _order_all(orders, ("ship",))
    parts = _gather(replies, procs, jobs)
    _order_all(orders, ("exit",))
    try:
        _assemble(ex, [parts[k] for k in range(jobs)])
    except (Cut, MemoryError) as e:
        del parts
        _lost(ex, e.bound if isinstance(e, Cut) else "memory", outcomes)
        return True
    return False


def _lost(ex: Any, bound: str | None, outcomes: list[Any] | None = None) -> None:
    """The graph is not in this process and will not be: the result keeps
    the outcomes the workers reached, uncounted and without witnesses."""
    if bound is not None:
        ex._cut(bound)
    ex.acts, ex.off, ex.dst = [], array("q"), array("q")
    r = ex.result
    r.outcomes = {o: 0 for o in outcomes or ()}
    r.counted = r.witnessed = False
    r.executions = r.transitions = r.max_depth = 0


def _until_quiet(phase: str, jobs: int, procs: list[Any], inboxes: list[Any],
                 replies: Any) -> bool:
    """Wait until every worker is idle with no message in flight, then end
    the phase (phase 1 or the count); False on a numbering clash. Each
    idle report carries the messages the worker has sent to and received
    from each other worker in this phase.
    A worker only leaves idleness by receiving a message, so when, in the
    latest reports, every worker has received all that every other has
    sent it, none is busy and nothing is in flight. (Totals alone would
    not do: a busy worker's report missing a message it received can be
    offset by another's counting one the busy worker sent since.)"""
    latest: dict[int, tuple[list[int], list[int]]] = {}
    while True:
        k, tag, payload = _reply(replies, procs)
        if tag == "clash":
            return False
        if payload[0] != phase:
            continue     # never expected: a report of the phase before
        latest[k] = payload[1:]
        if quiet(latest, jobs):
            break
    for q in inboxes:
        q.put(_dumps((-1, None)))   # a message from no one: the phase is over
    return True


def quiet(latest: dict[int, tuple[list[int], list[int]]], jobs: int) -> bool:
    """Every worker has reported idle, and has received all the messages
    the others' reports say they sent it (latest: worker -> (sent to each,
    received from each))."""
    return len(latest) == jobs and all(latest[i][0][j] == latest[j][1][i]
                                       for i in range(jobs) for j in range(jobs))


def _finish(ex: Any, jobs: int, procs: list[Any], orders: list[Any], replies: Any,
            built: dict[int, Any], counted: dict[int, Any], outcomes: list[Any]) -> None:
    r = ex.result
    counts, longest = next(c["root"] for c in counted.values() if c["root"] is not None)
    if len(outcomes) == 1:
        counts = {outcomes[0]: counts} if counts else {}
    for out in outcomes:
        r.outcomes[out] = counts.get(out, 0)
    r.executions = sum(counts.values())
    r.max_depth = longest
    r.states = sum(b["states"] for b in built.values())
    r.transitions = sum(b["transitions"] for b in built.values())
    key0 = next(c["key0"] for c in counted.values())
    k0 = next(k for k, c in counted.items() if c["root"] is not None)
    # every outcome's witness, a step a round: (outcome number, state key, its owner)
    paths: dict[int, list[Action]] = {j: [] for j in range(len(outcomes))}
    at = [(j, key0, k0) for j in range(len(outcomes))]
    ex.limits.phase(1.0)
    while at:
        try:
            ex._check()
        except Cut as c:   # no witness rather than a part of one
            r.report_cut.append(c.bound)
            r.witnessed = False
            return
        asks: list[list[tuple[int, int]]] = [[] for _ in range(jobs)]
        for j, key, k in at:
            asks[k].append((j, key))
        for k in range(jobs):
            orders[k].put(_dumps(("walk", asks[k])))
        answers = _gather(replies, procs, jobs)
        at = []
        for k in range(jobs):
            for j, action, nxt, owner in answers[k]:
                if action is not None:
                    paths[j].append(action)
                    at.append((j, nxt, owner))
    for j, out in enumerate(outcomes):
        r.witnesses[out] = paths[j]


def _order_all(orders: list[Any], order: tuple[Any, ...]) -> None:
    data = _dumps(order)
    for q in orders:
        q.put(data)


def _reply(replies: Any, procs: list[Any]) -> tuple[int, str, Any]:
    """The next reply of any worker; a worker's failure is raised here:
    MemoryError when it ran out of memory (it said so, the kernel's OOM
    killer killed it, or it ended without a word: a queue thread that
    could not run drops what it was to send), RuntimeError otherwise."""
    looked_again = False
    while True:
        try:
            k, tag, payload = pickle.loads(replies.get(timeout=0.5))
        except queue.Empty:
            failed = _JOB["failed"].value
            if failed:
                raise (MemoryError if failed == 1 else RuntimeError)(
                    "a message between --jobs processes could not be sent")
            dead = [p for p in procs if p.exitcode is not None]
            if not dead:
                continue
            if not looked_again:   # its last words may still be on their way
                looked_again = True
                continue
            code = dead[0].exitcode
            if code in (0, -signal.SIGKILL):
                raise MemoryError(f"a --jobs worker ended early (exit status {code})")
            raise RuntimeError(f"a --jobs worker died (exit code {code})")
        if tag == "error":
            kind, text = payload
            if kind == "memory":
                raise MemoryError(text)
            raise (MemoConflict if kind == "memo" else RuntimeError)(text)
        return k, tag, payload


def _gather(replies: Any, procs: list[Any], jobs: int) -> dict[int, Any]:
    """One reply from every worker: worker -> payload (idle reports still
    queued are passed over)."""
    got: dict[int, Any] = {}
    while len(got) < jobs:
        k, tag, payload = _reply(replies, procs)
        if tag != "idle":
            got[k] = payload
    return got


# ------------------------------------------------------------------ worker
def _worker(me: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent stops the workers
    job = _JOB
    reply = job["replies"].put
    try:
        # kept referenced: the process ends with os._exit, without freeing
        # the worker's graph object by object (a third of a second)
        w = job["worker"] = _Worker(me, job)
        try:
            w.phase1()
        except NumberingClash:
            reply(_dumps((me, "clash", None)))
            return
        while True:
            order = pickle.loads(_get(job["orders"][me]))
            if order[0] == "exit":
                return
            if order[0] == "built":
                reply(_dumps((me, "built", w.built())))
            elif order[0] == "count":
                reply(_dumps((me, "counted", w.count(order[1], order[2]))))
            elif order[0] == "walk":
                reply(_dumps((me, "walked", w.walk(order[1]))))
            elif order[0] == "ship":
                reply(_dumps((me, "part", w.part())))
    except MemoConflict as e:
        last_words(reply, _dumps((me, "error", ("memo", str(e)))))
    except Exception as e:
        if out_of_memory(e):
            job.pop("worker", None)   # its graph: room to say so
            w = None
            last_words(reply, _dumps((me, "error", ("memory", "a --jobs worker ran out of memory"))))
        else:   # a bug: report it to the parent, which raises it
            last_words(reply, _dumps((me, "error", ("bug", traceback.format_exc()))))


def last_words(reply: Any, message: bytes) -> None:
    """A failing worker's reply. Sending it can itself run out of memory
    (the queue's feeder thread cannot start under `ulimit -v`): the worker
    then ends quietly, exit status 0, which the parent reads as out of
    memory (_reply), instead of multiprocessing printing the traceback."""
    try:
        reply(message)
    except Exception as e:
        if not out_of_memory(e):
            raise
        os._exit(0)


class _Worker:
    """One worker's share of the graph: the states it owns, numbered in the
    order it met them (``known``: key -> local number, or -1 - w for a
    state of worker w this one has sent it)."""

    def __init__(self, me: int, job: dict[str, Any]) -> None:
        self.me, self.jobs = me, job["jobs"]
        self.ex = job["ex"]
        self.inboxes = job["inboxes"]
        self.replies = job["replies"]
        self.start = job["start"]
        self.known: dict[int, int] = {}
        self.keys = array("q")       # local number -> key
        self.acts: list[tuple[Action, ...]] = []
        self.off = array("q")        # first successor in succ; -1 unexpanded
        self.succ = array("q")       # successor keys (CUT: cut by a bound)
        self.pending = array("l")    # successors not cut (counting: not yet counted)
        self.rev: list[list[int]] = []               # local predecessors, per state
        self.remote: dict[int, list[int]] = {}       # another worker's key -> local predecessors
        self.shared_with: dict[int, int] = {}        # key -> mask of workers with edges to it
        self.terminal: dict[int, Any] = {}           # local number -> outcome
        # reports where a bound cut the search -> (depth, key, action position or -1)
        self.frontier: dict[tuple[Any, ...], tuple[int, int, int]] = {}
        self.cuts: set[str] = set()
        self.key0 = 0
        self.stepper: Stepper | None = None
        self.parts_log: list[tuple[int, int, Any]] = []  # every part met or learnt
        self.parts_sent = [0] * self.jobs            # how much of it each worker has
        self.sent = [0] * self.jobs                  # messages sent to each worker
        self.received = [0] * self.jobs              # and received from each (per phase)
        self.stack: list[tuple[int, Flat, int, int]] = []
        self.dist: Any = None
        self.single = True
        self._shown = 0.0
        self.remote_dist: dict[int, Any] = {}
        self.stop = job["stop"]              # set by the parent's first Ctrl-C
        self.limits = self.ex.limits         # this process's copy: time and memory
        self.limits.memory = job["memory"]   # this worker's share
        self.stopped = False                 # phase 1 expands no more (a bound)
        self.damaged = False                 # a MemoryError left a state half recorded

    # ------------------------------------------------------------ phase 1
    def _new(self, key: int) -> int:
        sid = self.known[key] = len(self.keys)
        self.keys.append(key)
        self.acts.append(())
        self.off.append(-1)
        self.pending.append(0)
        self.rev.append([])
        return sid

    def phase1(self) -> None:
        ex, me = self.ex, self.me
        o, p = ex.o, ex.p
        st = self.stepper = Stepper(p, o.memo, {}, shared=True)
        codec = st.codec
        owner = owner_of(p, self.jobs)
        flat0 = codec.encode(initial_state(p))
        self.key0 = hash(flat0) if o.preemption_bound is None else bound_key(hash(flat0), 0)
        if owner(flat0) == me:
            self.stack.append((self._new(self.key0), flat0, 0, 0))

        def take(sender: int, payload: Any) -> None:
            self._take(sender, payload, codec, st)

        while True:
            if self.stack and not self.stopped:
                out = self._expand(st, owner)
                self._flush(out, codec, st)
                if self._out_of_bounds():
                    self.stopped = True   # what is left on the stack stays unexpanded: cut
                if not self._receive(take, block=False):
                    return
                continue
            self._idle("phase 1")
            if not self._receive(take, block=True):
                return

    def _expand(self, st: Stepper, owner: Callable[[Flat], int]) -> list[list[Any]]:
        """States off the stack until BATCH states and successors are
        made; the new states other workers own, per worker. A limit met
        in a state with many successors (Cut) or a MemoryError stops the
        worker's phase 1 (``stopped``; ``damaged`` after a MemoryError,
        which may leave a state half recorded)."""
        try:
            return self._expand_some(st, owner)
        except MemoryError:
            self.damaged = self.stopped = True
            self.cuts.add("memory")
            self.known = {}    # what it had learnt is not to be trusted: let it go
            self.stack = []
            return [[] for _ in range(self.jobs)]

    def _expand_some(self, st: Stepper, owner: Callable[[Flat], int]) -> list[list[Any]]:
        ex, me = self.ex, self.me
        o, p = ex.o, ex.p
        bound, max_depth = o.preemption_bound, o.max_depth
        codec = st.codec
        step, enabled = st.step, st.enabled
        known, stack, succ, rev, remote = self.known, self.stack, self.succ, self.rev, self.remote
        known_get, succ_append, stack_append = known.get, succ.append, stack.append
        keys, acts_of = self.keys, self.acts
        keys_append, acts_append, off_append = keys.append, acts_of.append, self.off.append
        pending_append, rev_append = self.pending.append, rev.append
        out: list[list[Any]] = [[] for _ in range(self.jobs)]
        budget = BATCH
        while stack and budget > 0:
            sid, flat, depth, pre = stack.pop()
            acts = enabled(flat)
            acts_of[sid] = acts
            n = len(acts)
            budget -= n + 1
            if not n:
                self.terminal[sid] = ex.outcome(final_state(p, codec.decode(flat)))
                continue
            self.off[sid] = len(succ)
            if max_depth is not None and depth >= max_depth:
                self.cuts.add("depth")
                self._frontier(codec.reports(flat), depth, keys[sid], -1)
                succ.extend([CUT] * n)
                continue
            if bound is None and n <= FANOUT:
                # the common case, kept tight: this loop is most of a search
                self.pending[sid] = n
                for a in acts:
                    child = step(flat, a)
                    ckey = hash(child)
                    succ_append(ckey)
                    c = known_get(ckey)
                    if c is None:
                        w = owner(child)
                        if w != me:
                            known[ckey] = -1 - w
                            remote[ckey] = [sid]
                            out[w].append((ckey, child, depth + 1, 0))
                            continue
                        c = known[ckey] = len(keys)
                        keys_append(ckey)
                        acts_append(())
                        off_append(-1)
                        pending_append(0)
                        rev_append([sid])
                        stack_append((c, child, depth + 1, 0))
                    elif c < 0:
                        remote[ckey].append(sid)
                    else:
                        rev[c].append(sid)
                continue
            taken = 0
            for i, a in enumerate(acts):
                if i % CHECK_FANOUT == CHECK_FANOUT - 1:
                    cut = self._limit()   # one state's expansion can take seconds
                    if cut:
                        # the rest of this state is cut; so is the search
                        succ.extend([CUT] * (n - i))
                        self._frontier(codec.reports(flat), depth, keys[sid], -1)
                        self.pending[sid] = taken
                        self.stopped = True
                        return out
                child = step(flat, a)
                cpre = 0 if bound is None else \
                    pre + ex._preempts(codec.cpu(flat, a[1]).curr, acts, a)
                if bound is not None and cpre > bound:
                    self.cuts.add("preemptions")
                    self._frontier(codec.reports(child), depth + 1, keys[sid], i)
                    succ.append(CUT)
                    continue
                ckey = hash(child) if bound is None else bound_key(hash(child), cpre)
                succ.append(ckey)
                taken += 1
                c = known.get(ckey)
                if c is None:
                    w = owner(child)
                    if w != me:
                        known[ckey] = -1 - w
                        remote[ckey] = [sid]
                        out[w].append((ckey, child, depth + 1, cpre))
                        continue
                    c = self._new(ckey)
                    stack.append((c, child, depth + 1, cpre))
                elif c < 0:
                    remote[ckey].append(sid)
                    continue
                rev[c].append(sid)
            self.pending[sid] = taken
        return out

    def _frontier(self, reports: tuple[Any, ...], depth: int, key: int, i: int) -> None:
        """As Explorer._frontier, with the state's key."""
        if reports:
            old = self.frontier.get(reports)
            if old is None or (depth, key, i) < old:
                self.frontier[reports] = (depth, key, i)

    def _flush(self, out: list[list[Any]], codec: Codec, st: Stepper) -> None:
        """Send each other worker its new states, with the parts it may not
        know, and this worker's new memo recordings."""
        self.parts_log.extend(codec.fresh)
        codec.fresh = []
        learnt: list[Any] = []
        if st.memo is not None:
            learnt, st.memo.fresh = st.memo.fresh, []
        for k in range(self.jobs):
            if k == self.me or not (out[k] or learnt or self.parts_sent[k] < len(self.parts_log)):
                continue
            parts = self.parts_log[self.parts_sent[k]:]
            self.parts_sent[k] = len(self.parts_log)
            self.inboxes[k].put(_dumps((self.me, (parts, learnt, out[k]))))
            self.sent[k] += 1

    def _idle(self, phase: str) -> None:
        """Tell the parent this worker has nothing to do (``_until_quiet``)."""
        self.replies.put(_dumps((self.me, "idle", (phase, self.sent, self.received))))

    def _receive(self, take: Callable[[int, Any], None], block: bool) -> bool:
        """Hand what other workers sent to take(sender, payload), waiting
        for one message when block; False when the parent ended the phase."""
        inbox = self.inboxes[self.me]
        while True:
            try:
                data = _get(inbox) if block else inbox.get_nowait()
            except queue.Empty:
                return True
            sender, payload = pickle.loads(data)
            if sender < 0:
                return False
            self.received[sender] += 1
            take(sender, payload)
            block = False

    def _take(self, sender: int, payload: Any, codec: Codec, st: Stepper) -> None:
        parts, learnt, entries = payload
        for part in parts:
            if codec.learn(*part):
                # relayed: a third worker may get our states with it before
                # it hears from the sender
                self.parts_log.append(part)
        canon = codec.canon   # numbers unpickled are new objects: use ours
        if st.memo is not None:
            for key, positions, values, delta in learnt:
                key = key[:2] + tuple([canon[n] for n in key[2:]])
                values = tuple([canon[n] for n in values]) if type(values) is tuple \
                    else canon[values]
                delta = tuple([(p, canon[n]) for p, n in delta])
                st.memo.learn(key, positions, values, delta)
        if self.damaged:
            return   # it keeps no graph any more: the messages are only counted
        bit = 1 << sender
        known, shared_with = self.known, self.shared_with
        for ckey, child, depth, cpre in entries:
            shared_with[ckey] = shared_with.get(ckey, 0) | bit
            if ckey not in known:
                child = codec.canonical(child)
                self.stack.append((self._new(ckey), child, depth, cpre))

    def _out_of_bounds(self) -> bool:
        o = self.ex.o
        if o.progress and self.me == 0:
            now = time.monotonic()
            if now - self._shown >= 1.0:
                self._shown = now
                show_progress(len(self.keys) * self.jobs, self.start, about=True)
        if self._limit():
            return True
        if o.max_states is not None and len(self.keys) * self.jobs >= o.max_states:
            self.cuts.add("states")
            return True
        return False

    def _limit(self) -> str | None:
        """The limit reached (time, the parent's Ctrl-C, this worker's
        share of the memory), noted in ``cuts``; None when none is."""
        if self.stop.value:
            what: str | None = "interrupt"
        else:
            what = self.limits.reached()
        if what:
            self.cuts.add(what)
        return what

    def built(self) -> dict[str, Any]:
        st = self.stepper
        assert st is not None
        for sid, flat, depth, _ in self.stack:    # left unexpanded by a bound
            self._frontier(st.codec.reports(flat), depth, self.keys[sid], -1)
        memo = st.memo
        return {"outcomes": sorted(set(self.terminal.values()), key=lambda x: x.text()),
                "damaged": self.damaged, "frontier": bool(self.frontier),
                "cuts": sorted(self.cuts), "states": len(self.keys),
                "transitions": len(self.succ) - self.succ.count(CUT),
                "coverage": st.coverage(),
                "hits": memo.hits if memo is not None else 0,
                "misses": memo.misses if memo is not None else 0}

    # ------------------------------------------------------------ counting
    def count(self, outcomes: list[Any], until: float | None = None) -> dict[str, Any]:
        """Per state this worker owns: executions per outcome, the longest
        execution, and the distance to the nearest end of each outcome, from
        the ends back: a state is done when all its successors are; states
        other workers lead to are sent to them when done, in batches, and
        the parent ends the count as it ends phase 1. complete is False when
        states are left (they lie on a cycle: the parent then counts the
        way --jobs 1 does)."""
        n = len(self.keys)
        keys, rev, remote, pending = self.keys, self.rev, self.remote, self.pending
        single = len(outcomes) == 1
        index = {out: j for j, out in enumerate(outcomes)}
        far = array("l", [-1]) * n
        counts: list[Any] = [0] * n if single else [None] * n
        own = bytearray(n)                     # counts[s] is s's own dict (not shared)
        dist: Any = array("q", [FAR]) * n if single else [None] * n
        for s, outcome in self.terminal.items():
            if single:
                counts[s] = 1
                dist[s] = 0
            else:
                counts[s] = {outcome: 1}
                own[s] = 1
                dist[s] = [0 if j == index[outcome] else FAR for j in range(len(outcomes))]

        def add(s: int, c: Any, longest: int, d: Any) -> None:
            if longest > far[s]:
                far[s] = longest
            if single:
                counts[s] += c
                if d + 1 < dist[s]:
                    dist[s] = d + 1
            else:
                if c:
                    mine: Any = counts[s]
                    if mine is None:
                        counts[s] = c        # shared until a second contribution
                    else:
                        if not own[s]:
                            mine = counts[s] = dict(mine)
                            own[s] = 1
                        for outcome, k in c.items():
                            mine[outcome] = mine.get(outcome, 0) + k
                if d is not None:
                    ds = dist[s]
                    dist[s] = [x + 1 for x in d] if ds is None else \
                        [min(x, y + 1) for x, y in zip(ds, d)]
            pending[s] -= 1

        ready = [s for s in range(n) if pending[s] == 0]
        self.limits.phase(COUNT_SHARE)
        self.limits.until = until   # the parent's (a Ctrl-C is in it)
        cut: list[str] = []   # the limit that stopped the count, if one did

        def take(sender: int, entries: Any) -> None:
            if cut:
                return   # counted no more: the messages are only counted
            for key, c, longest, d in entries:
                self.remote_dist[key] = d
                for p in remote.pop(key, ()):
                    add(p, c, longest, d)
                    if pending[p] == 0:
                        ready.append(p)

        done = 0
        shared_with, jobs, me = self.shared_with, self.jobs, self.me
        self.sent, self.received = [0] * jobs, [0] * jobs
        over = False
        while not over:
            out: list[list[tuple[int, Any, int, Any]]] = [[] for _ in range(jobs)]
            budget = COUNT_BATCH
            if ready and not cut:
                what = self.limits.reached()
                if what:
                    # past the parent's deadline: after a Ctrl-C, its grace
                    cut.append("interrupt" if what == "time" and self.stop.value else what)
                    ready.clear()
            while ready and single and budget:
                # one outcome: counts and distances are ints, the merge inline
                budget -= 1
                s = ready.pop()
                done += 1
                c = counts[s]
                longest = far[s] + 1
                d = dist[s] + 1
                for p in rev[s]:
                    counts[p] += c
                    if longest > far[p]:
                        far[p] = longest
                    if d < dist[p]:
                        dist[p] = d
                    left = pending[p] - 1
                    pending[p] = left
                    if not left:
                        ready.append(p)
                mask = shared_with.get(keys[s])
                if mask:
                    for k in range(jobs):
                        if mask >> k & 1:
                            out[k].append((keys[s], c, longest, d - 1))
            while ready and not single and budget:
                budget -= 1
                s = ready.pop()
                done += 1
                c = counts[s] if counts[s] is not None else {}
                longest = far[s] + 1
                d = dist[s]
                for p in rev[s]:
                    add(p, c, longest, d)
                    if pending[p] == 0:
                        ready.append(p)
                mask = shared_with.get(keys[s], 0)
                for k in range(jobs):
                    if mask >> k & 1:
                        out[k].append((keys[s], c, longest, d))
            for k in range(jobs):
                if out[k]:
                    self.inboxes[k].put(_dumps((me, out[k])))
                    self.sent[k] += 1
            # take in what arrived; with nothing left to do, say so and wait
            if not ready:
                self._idle("count")
            over = not self._receive(take, block=not ready)
        self.dist = dist
        self.single = single
        root = None
        if self.key0 in self.known and self.known[self.key0] >= 0:
            s0 = self.known[self.key0]
            c0 = counts[s0] if single or counts[s0] is not None else {}
            root = (c0, far[s0] + 1)
        return {"complete": done == n and not cut, "root": root, "key0": self.key0,
                "cut": cut[0] if cut else None}

    def _dist(self, key: int, j: int) -> int:
        s = self.known.get(key, -1)
        d = self.dist[s] if s >= 0 else self.remote_dist.get(key)
        if d is None:
            return FAR
        return d if self.single else d[j]  # type: ignore[no-any-return]

    def walk(self, asks: list[tuple[int, int]]) -> list[tuple[int, Any, int, int]]:
        """For each (outcome number j, state key): the first action whose
        successor is one step nearer an end of outcome j, that successor
        and its owner; None when the state is such an end."""
        out: list[tuple[int, Any, int, int]] = []
        for j, key in asks:
            s = self.known[key]
            here = self._dist(key, j)
            if here == 0:
                out.append((j, None, 0, 0))
                continue
            o = self.off[s]
            acts = self.acts[s]
            for i in range(len(acts) if o >= 0 else 0):
                ck = self.succ[o + i]
                if ck != CUT and self._dist(ck, j) == here - 1:
                    c = self.known[ck]
                    out.append((j, acts[i], ck, self.me if c >= 0 else -1 - c))
                    break
            else:
                raise RuntimeError(f"no step from {key} nearer outcome {j} ({here} away)")
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
        return (self.keys, which, self.off, self.succ, tuples, terminal, self.frontier)


def _get(q: Any) -> Any:
    """The next message on a worker's queue; the worker exits if the parent
    died (killed outright, it could not stop the workers)."""
    while True:
        try:
            return q.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != _JOB["parent"]:
                os._exit(1)


# ---------------------------------------------------------------- assembly
def _assemble(ex: Any, parts: list[tuple[Any, ...]]) -> None:
    """Number the states and lay out acts/off/dst for phase 2 in this
    process. Each worker's states keep their order, one worker's after
    another's, the root's owner first (its root is its state 0, so the
    root is state 0); each worker's successor array is then translated and
    appended whole, its offsets shifted (a part's successors are one block
    of len(acts) per expanded state, in the order of ``off``), so the work
    per state and transition is done by dict and array code, not a Python
    loop: this runs in one process while the others wait."""
    key0 = state_key(ex.p, initial_state(ex.p), None if ex.o.preemption_bound is None else 0)
    first = next(k for k, part in enumerate(parts) if len(part[0]) and part[0][0] == key0)
    order = [first] + [k for k in range(len(parts)) if k != first]
    ids: dict[int, int] = {}
    for k in order:
        keys = parts[k][0]
        ids.update(zip(keys, range(len(ids), len(ids) + len(keys))))
    assert len(ids) == sum(len(part[0]) for part in parts), "a state owned twice"
    ids[CUT] = -1
    acts: list[tuple[Action, ...]] = []
    off = array("q")
    dst = ex.dst
    for k in order:
        keys, which, offs, succ, tuples, terminal, frontier = parts[k]
        shared = [ex._pool.setdefault(t, t) for t in tuples]
        ex._check()
        acts.extend(map(shared.__getitem__, which))
        base = len(dst)
        off.extend([o + base if o >= 0 else -1 for o in offs])
        for lo in range(0, len(succ), CHUNK):
            ex._check()
            dst.extend(map(ids.__getitem__, succ[lo:lo + CHUNK]))
        for key, outcome in terminal.items():
            ex.terminal[ids[key]] = outcome
        for reports, (depth, key, i) in frontier.items():
            ex._frontier(reports, depth, ids[key], i)
    del ids[CUT]
    ex.ids = ids
    ex.acts = acts
    ex.off = off
