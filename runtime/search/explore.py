"""Exhaustive exploration: every execution the model allows, through step().

Phase 1 builds the reachable state graph: every state once, deduplicated
by value (a 64-bit fingerprint, the hash of the state's flat form,
runtime/search/flat.py, as SPIN's hash compaction keeps no state), every
transition computed once, by the memo (runtime/search/memo.py) or by step().

The ends of executions are read off that whole graph, so that no
reduction can lose one (runtime/search/outcome.py): terminal states (nothing
can step), and bottom strongly connected components, sets of states an
execution can never leave (runtime/search/graph.py): executions that never end,
which under the fairness assumption of docs/model.md visit every state
of their component again and again. A cycle the search can leave is not
an execution. Where a bound cut the search, the reports of the states it
cut at are kept too: reports only accumulate, so they belong to every
execution through there (``Result.unfinished``).

Phase 2 searches the graph depth-first with sleep-set partial-order
reduction (Godefroid 1996): after exploring action ``a`` from a state,
``a`` sleeps in the subtrees of later siblings it is independent with, so
equivalent interleavings are not counted twice. Independence is read off
the graph: two actions of different contexts on different CPUs are
independent in a state when each leaves the other enabled and both orders
reach the same state (the diamond is in the graph). With state caching, a
state reached again with a smaller sleep set explores the actions that
slept the first time (Godefroid's condition), also when it is still on
the stack (a cycle), so no state is lost; sleep sets never prune states,
only transitions.

Executions are then counted per outcome by dynamic programming over the
reduced graph: paths from the initial state to a terminal state or into
a bottom component (counted once per way in), a cycle that can be left
being followed until it closes. The same pass finds the longest (the
maximum depth reported) and, with one outcome, each state's distance to
an end, which gives the shortest witness; otherwise a breadth-first pass
over the whole graph finds the lexicographically first shortest path to
each outcome.

Every phase runs within the command's limits (runtime/search/limits.py:
--timeout, the first Ctrl-C, the memory ceiling): its long loops look at
them every so many units of work, phase 1 also inside the expansion of a
state with many successors. Phase 1 cut leaves the states not expanded
as a bound leaves them; a later phase cut leaves what it finished, and
the result says what is missing: no counts (``Result.counted``), no
witness for some outcome (``Result.witnessed``), an unfinished end
without its path. A MemoryError is a limit too ("memory"): the visited
set goes first, and the state being expanded keeps the successors it
has, its other transitions cut.
"""

from __future__ import annotations

import gc
import signal
import sys
import threading
import time
from array import array
from collections import deque
from itertools import compress
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from kmap_scenarios.runtime.search import symmetry, vacuity
from kmap_scenarios.runtime.search.graph import acyclic, bfs_parents, bottom_components, path_to
from kmap_scenarios.runtime.search.limits import BUILD_MEMORY, COUNT_SHARE, Cut, Limits, build_share
from kmap_scenarios.runtime.kernel.machine import Action, final_state, step
from kmap_scenarios.runtime.search.flat import Flat
from kmap_scenarios.runtime.search.outcome import MIXED, Observer, Outcome, collect_atoms, describe
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.state import Report, State, initial_state
from kmap_scenarios.runtime.search.stepper import (CHECK_FANOUT, CHECK_LOOP, CHECK_STEPS, CHECK_WORK, CHUNK, FANOUT, FAR,
                             Stepper, show_progress)

__all__ = ["MIXED", "Options", "Outcome", "Result", "Explorer", "StateGraph", "explore",
           "collect_atoms", "describe"]


@dataclass
class Options:
    reduce: bool = True
    # state-level reduction (runtime/search/por.py; off with `check
    # --no-por`): persistent sets in phase 1, with several CPUs,
    # ``reduce`` on, one job and no depth or preemption bound
    por: bool = True
    max_states: int | None = None
    max_depth: int | None = None
    preemption_bound: int | None = None
    timeout: float | None = None  # seconds for the whole search (runtime/search/limits.py)
    max_memory: int | None = None  # resident bytes; None: only RLIMIT_AS is watched
    progress: bool = False
    jobs: int = 1                 # worker processes (runtime/search/parallel.py)
    memo: bool = True             # memoized steps (runtime/search/memo.py)
    symmetry: bool = True         # interchangeable tasks (runtime/search/symmetry.py)
    interruptible: bool = False   # a first Ctrl-C cuts the search (bound "interrupt")
    start: float | None = None    # when the command began (time.monotonic), for timeout




@dataclass
class Result:
    outcomes: dict[Outcome, int] = field(default_factory=dict)   # -> executions
    witnesses: dict[Outcome, list[Action]] = field(default_factory=dict)  # shortest
    # where a bound cut the search: what the reports there already decide,
    # with the path to one such state (not executions: they are not counted)
    # (the path is None when a limit cut the search for it)
    unfinished: dict[Outcome, list[Action] | None] = field(default_factory=dict)
    # an execution that never ends, whose condition k holds at some states
    # of its loop and not at others: (outcome, k, value) -> the shortest
    # path to a state of the loop where condition k has that value
    observed: dict[tuple[Outcome, int, bool], list[Action]] = field(default_factory=dict)
    states: int = 0
    transitions: int = 0
    # states phase 1 expanded by a persistent set smaller than the enabled
    # set (runtime/search/por.py), and those re-expanded fully since they
    # lay on a cycle of the reduced graph
    reduced: int = 0
    reexpanded: int = 0
    executions: int = 0
    max_depth: int = 0
    bounded: list[str] = field(default_factory=list)              # which bounds cut
    # False when a limit (time, interrupt, memory) cut the sleep-set search
    # or the counting pass: outcome counts, executions, transitions and the
    # maximum depth are then unknown (the outcomes themselves are not)
    counted: bool = True
    # False when a limit cut the search for witnesses: some outcome has none
    witnessed: bool = True
    # limits that cut the counting, the witnesses or the paths to unfinished
    # ends (the verdicts do not depend on them; ``bounded`` has the limits
    # that cut the search itself)
    report_cut: list[str] = field(default_factory=list)
    seconds: float = 0.0
    memo_hits: int = 0             # steps the memo answered (this process's memo)
    memo_misses: int = 0           # steps it recorded
    # states phase 1 stepped when symmetry reduced the search (one per
    # orbit: runtime/search/symmetry.py); 0 without symmetry. ``states``
    # is still every state, as the later phases ran on the real graph
    symmetric_states: int = 0
    # what the explored steps executed and states did (runtime/search/vacuity.py)
    coverage: vacuity.Coverage | None = None


@dataclass
class StateGraph:
    """The explored graph as phase 1 left it (`kmap check --dot`): state
    ``sid``'s enabled actions ``acts[sid]``, its successors from
    ``dst[off[sid]]`` on (-1: cut by a bound; ``off[sid]`` -1: never
    expanded), state 0 the initial one; ``ends``: the terminal states and
    the states of bottom components, with their outcomes."""

    acts: list[tuple[Action, ...]]
    off: array[int]
    dst: array[int]
    ends: dict[int, Outcome]


class Explorer:
    """Phase 1 builds the reachable state graph, stepping every transition
    once; phase 2 runs the sleep-set search over the stored graph, where
    independence is a lookup of the diamond instead of two more steps.

    The graph is stored compactly (docs/performance.md, memory): per state
    its enabled actions (one shared tuple for every state with the same
    ones) and the position ``off[sid]`` of its successors in one array
    ``dst`` (-1: cut by a bound); the reduced graph is a byte per position
    of ``dst`` (``kept``). The visited set maps a state's 64-bit fingerprint
    to its number; states themselves are not kept."""

    def __init__(self, program: Program, opts: Options) -> None:
        self.p = program
        self.o = opts
        self.ids: dict[object, int] = {}
        self.acts: list[tuple[Action, ...]] = []   # enabled actions, in order
        self.off = array("q")                      # first successor in dst; -1 unexpanded
        self.dst = array("q")                      # successor ids (-1: cut)
        self.kept = bytearray()                    # dst positions the reduced search took
        self._pool: dict[tuple[Action, ...], tuple[Action, ...]] = {}
        # action -> position, per interned tuple of enabled actions (by id:
        # every tuple is kept alive in _pool)
        self._index: dict[int, dict[int, int]] = {}
        self.terminal: dict[int, Outcome] = {}
        # every end of an execution: terminal states and the states of
        # bottom components, each with its outcome (_ends)
        self.ends: dict[int, Outcome] = {}
        # reports met where a bound cut the search -> (depth, state, the
        # position of the cut action in its acts or -1 for the state itself)
        self.frontier: dict[tuple[Report, ...], tuple[int, int, int]] = {}
        # the condition values at each state of a component where some
        # condition is MIXED (_ends), for paths to a state showing each
        self._seen: dict[int, tuple[bool | None, ...]] = {}
        self.result = Result()
        self.observer = Observer(program)
        self.stepper: Stepper | None = None   # phase 1's (sequential) stepping
        self._kept_all = False                 # phase 2 kept every transition
        self.cyclic = True    # the graph may have a cycle (_build finds out; workers do not)
        self._near: array[int] | None = None   # distance to an end (_count, one outcome)
        self._partial: list[int] = []          # a component being marked as ends (_ends)
        self.limits = Limits(opts.timeout, opts.max_memory, opts.start)
        self._start = self.limits.start
        self._last_progress = time.monotonic()
        self.shared_stop: Any = None   # --jobs: the flag that tells the workers to stop
        # state-level reduction (runtime/search/por.py): the flat form of
        # each state expanded by a smaller persistent set, the states
        # expanded fully since they lay on a cycle, and after phase 1 a
        # byte per state, 1 where its one action is a local step
        self._reduced_flat: dict[int, Flat] = {}
        self._local_ids: set[int] = set()
        self._full: set[int] = set()
        self.local = bytearray()

    def run(self) -> Result:
        # The search makes millions of tuples and no reference cycles: the
        # cyclic collector would only walk the growing graph again and again.
        enabled_gc = gc.isenabled()
        gc.disable()
        old = self._catch_interrupt()
        try:
            try:
                return self._run()
            except symmetry.Unsound:
                # renaming pages met a step it does not map onto a step
                # (runtime/search/twins.py): the search again without
                # symmetry, within the same limits
                limits = self.limits
                self.__init__(self.p, replace(self.o, symmetry=False))  # type: ignore[misc]
                self.limits, self._start = limits, limits.start
                return self._run()
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
            if enabled_gc:
                gc.enable()

    def _catch_interrupt(self) -> Any:
        """With ``interruptible`` (kmap check): the first SIGINT cuts the
        search where it is, as --timeout does, so a search that would never
        end still reports what it explored (the later phases have a grace of
        runtime/search/limits.py's GRACE); a second one interrupts. With --jobs the
        workers ignore SIGINT and see the shared stop flag. The handler it
        replaced, or None."""
        if not self.o.interruptible or \
                threading.current_thread() is not threading.main_thread():
            return None

        def first(signum: int, frame: Any) -> None:
            self.limits.interrupt()
            if self.shared_stop is not None:
                self.shared_stop.value = 1
            signal.signal(signal.SIGINT, signal.default_int_handler)
            sys.stderr.write("\nkmap: interrupted: reporting what was explored "
                             "(Ctrl-C again to stop at once)\n")

        return signal.signal(signal.SIGINT, first)

    def _run(self) -> Result:
        """Phase 1, then the later phases, each within the limits
        (runtime/search/limits.py): a phase a limit cuts leaves what it finished,
        and the result says what is missing (``counted``, ``witnessed``,
        an unfinished end without its path)."""
        lim = self.limits
        sleep_sets = self.o.reduce and self.p.config.NR_CPUS > 1
        lim.phase(build_share(sleep_sets), BUILD_MEMORY, grace=0.0)
        if self.o.jobs > 1:
            from kmap_scenarios.runtime.search import parallel
            if parallel.run(self, self.o.jobs):
                self.result.seconds = time.monotonic() - self._start
                return self.result   # counted and witnessed by the workers
        else:
            self._build()
            if isinstance(self.stepper, symmetry.Canonical):
                self._unfold(self.stepper)
        if self.stepper is not None:
            self.result.coverage = self.stepper.coverage()
        self.ids = {}   # the visited set is no longer needed
        self.result.states = len(self.acts)
        if self.stepper is not None and self.stepper.memo is not None:
            m = self.stepper.memo
            self.result.memo_hits, self.result.memo_misses = m.hits, m.misses
        lim.phase(COUNT_SHARE)
        # the components decide outcomes (a cut there bounds the search);
        # the counts, witnesses and paths do not (a cut there cuts the report)
        counted = self._phase(self._ends, self._ends_cut, search=True) and \
            self._phase(self._search) and self._phase(self._count)
        if not counted:
            self._uncounted()
        lim.phase(1.0)
        self._phase(self._shortest, self._unwitnessed)
        self._phase(self._unfinished)
        self.result.seconds = time.monotonic() - self._start
        return self.result

    def _phase(self, run: Any, cut: Any = None, search: bool = False) -> bool:
        """Run one later phase; False when a limit or a MemoryError cut it.
        The limit is recorded (in ``bounded`` when the phase is part of
        the search, else in ``report_cut``) and ``cut()`` tidies what the
        phase left."""
        try:
            run()
            return True
        except Cut as c:
            what = c.bound
        except MemoryError:
            what = "memory"
        if search:
            self._cut(what)
        elif what not in self.result.report_cut:
            self.result.report_cut.append(what)
        if cut is not None:
            cut()
        return False

    def _uncounted(self) -> None:
        """The counts are unknown: the outcomes stay, with no count."""
        r = self.result
        r.counted = False
        r.outcomes = {o: 0 for o in sorted(set(self.ends.values()), key=Outcome.text)}
        r.executions = r.transitions = r.max_depth = 0
        self.kept = bytearray()
        self._near = None

    def graph(self) -> StateGraph | None:
        """The explored graph, after ``run``; None when the search ran in
        workers that kept it (--jobs: runtime/search/parallel.py)."""
        if len(self.acts) != self.result.states or len(self.off) != len(self.acts):
            return None
        return StateGraph(self.acts, self.off, self.dst, dict(self.ends))

    def outcome(self, final: State) -> Outcome:
        """The outcome of an execution that ended in ``final``."""
        return self.observer.outcome(final)

    # ------------------------------------------------------ phase 1: graph
    def _build(self) -> None:
        """Phase 1: every reachable state once, depth-first. A limit
        (runtime/search/limits.py) or a MemoryError stops it where it is: the
        states left on the stack stay unexpanded, cut (_stopped)."""
        p, o = self.p, self.o
        st = self.stepper = Stepper(p, o.memo, self._pool)
        if symmetry.applies(p, o):
            grp = symmetry.Group(p, st.codec)
            if len(grp) > 1 and grp.fixes(st.codec.encode(initial_state(p))):
                st = self.stepper = symmetry.Canonical(st, grp)
        bound, max_depth, max_states = o.preemption_bound, o.max_depth, o.max_states
        ids, acts_of, off, dst = self.ids, self.acts, self.off, self.dst
        succ, enabled_of, check = st.step, st.enabled, self._check
        flat0 = st.codec.encode(initial_state(p))
        ids[hash(flat0) if bound is None else (hash(flat0), 0)] = 0
        acts_of.append(())
        off.append(-1)
        stack: list[tuple[int, Flat, int, int]] = [(0, flat0, 0, 0)]
        # Each state's depth when first met: an edge to a state met no
        # deeper than its source may close a cycle (around a cycle depths
        # cannot all grow); without one the graph is acyclic (_ends).
        first = array("l", [0])
        cyclic = False
        work, every = 0, CHECK_WORK   # successors made since the limits were last looked at
        # a state takes the tight loop with at most `tight` successors
        tight = FANOUT if bound is None and max_states is None else -1
        sid, s, depth = -1, flat0, 0
        reducer = self._reducer(st)
        # reduced states: their flat form, to expand them fully if they
        # turn out to lie on a cycle of the reduced graph (_proviso)
        pending, full, pool = self._reduced_flat, self._full, self._pool
        singles: list[int] = []
        # reduced states whose one action is a local step (the others have
        # a CPU's actions: runtime/search/por.py)
        local_ids = self._local_ids
        try:
            while True:
                while stack:
                    if work >= every:
                        work = 0
                        check()
                    sid, s, depth, pre = stack.pop()
                    acts = enabled_of(s)
                    if reducer is not None and acts and sid not in full:
                        got = reducer.persistent_set(s, acts)
                        if got is None:
                            pass
                        elif len(got[0]) < len(acts):
                            acts = pool.setdefault(got[0], got[0])
                            pending[sid] = s
                            if got[1]:
                                local_ids.add(sid)
                        elif got[1]:
                            # the only action anyway, but a local step: the
                            # sleep sets look through it (_after_local)
                            singles.append(sid)
                    acts_of[sid] = acts
                    n = len(acts)
                    work += n
                    if not n:
                        self.terminal[sid] = self.outcome(final_state(p, st.codec.decode(s)))
                        continue
                    off[sid] = len(dst)
                    if max_depth is not None and depth >= max_depth:
                        self._cut("depth")
                        self._frontier(st.codec.reports(s), depth, sid, -1)
                        dst.extend([-1] * n)
                        continue
                    if n <= tight:
                        # the common case, kept tight: this loop is most of a search
                        for a in acts:
                            child = succ(s, a)
                            key: object = hash(child)
                            cid = ids.get(key)
                            if cid is None:
                                cid = ids[key] = len(acts_of)
                                acts_of.append(())
                                off.append(-1)
                                first.append(depth + 1)
                                stack.append((cid, child, depth + 1, 0))
                            elif first[cid] <= depth:
                                cyclic = True
                            dst.append(cid)
                        continue
                    for i, a in enumerate(acts):
                        if i % CHECK_FANOUT == CHECK_FANOUT - 1:
                            check()   # one state's expansion can take seconds
                        child = succ(s, a)
                        if bound is None:
                            cpre = 0
                            key = hash(child)
                        else:
                            cpre = pre + self._preempts(st.codec.cpu(s, a[1]).curr, acts, a)
                            if cpre > bound:
                                self._cut("preemptions")
                                self._frontier(st.codec.reports(child), depth + 1, sid, i)
                                dst.append(-1)
                                continue
                            key = (hash(child), cpre)
                        cid = ids.get(key)
                        if cid is None:
                            if max_states is not None and len(acts_of) >= max_states:
                                self._cut("states")
                                self._frontier(st.codec.reports(child), depth + 1, sid, i)
                                dst.append(-1)
                                continue
                            cid = ids[key] = len(acts_of)
                            acts_of.append(())
                            off.append(-1)
                            first.append(depth + 1)
                            stack.append((cid, child, depth + 1, cpre))
                        elif first[cid] <= depth:
                            cyclic = True
                        dst.append(cid)
                if reducer is None or not cyclic or not self._proviso(stack, first):
                    break
        except Cut as c:
            self._cut(c.bound)
            redo = self._redo(stack)
            self._stopped(stack, sid, s, depth, first)
            self._unreduce(redo, first)
        except MemoryError:
            ids.clear()   # the visited set first: the rest needs little
            self._cut("memory")
            redo = self._redo(stack)
            self._stopped(stack, sid, s, depth, first)
            self._unreduce(redo, first)
        self.cyclic = cyclic
        if reducer is not None:
            self.local = bytearray(len(acts_of))
            self.result.reduced = sum(1 for k in self._reduced_flat if k < len(acts_of))
            for k in self._reduced_flat:
                if k < len(self.local) and k in local_ids:
                    self.local[k] = 1
            for k in singles:
                if k < len(self.local):
                    self.local[k] = 1
            self._reduced_flat = {}

    def _redo(self, stack: list[tuple[int, Flat, int, int]]) -> list[tuple[int, Flat]]:
        """Where a limit stopped phase 1: the reduced states still reduced,
        and those the proviso had put back on the stack to expand fully
        (their reduced expansion is still in the graph)."""
        redo = list(self._reduced_flat.items())
        redo += [(k, f) for k, f, _, _ in stack if k in self._full and self.off[k] >= 0]
        self._reduced_flat = {}
        return redo

    def _unreduce(self, redo: list[tuple[int, Flat]], first: array[int]) -> None:
        """Phase 1 was cut before the proviso was met: each reduced state
        gets its enabled actions back, those not taken cut (-1) and the
        state noted in the frontier, so that a loop through reduced states
        is not taken for a loop no execution leaves (a cut edge leaves)."""
        if self.stepper is None:
            return
        st, acts_of, off, dst = self.stepper, self.acts, self.off, self.dst
        n = len(acts_of)
        # with symmetry, each quotient edge keeps its permutation by position
        canon = st if isinstance(st, symmetry.Canonical) else None
        for k, flat in redo:
            if k >= n or off[k] < 0:
                continue
            whole = st.enabled(flat)
            if len(whole) == len(acts_of[k]):
                continue
            took = {b: off[k] + j for j, b in enumerate(acts_of[k])}
            acts_of[k] = whole
            off[k] = len(dst)
            at = [took.get(b, -1) for b in whole]
            at = [j if j >= 0 and 0 <= dst[j] < n else -1 for j in at]
            if canon is not None:
                canon.copy_edges(len(dst), at)
            dst.extend([dst[j] if j >= 0 else -1 for j in at])
            self._frontier(st.codec.reports(flat), first[k], k, -1)

    def _reducer(self, st: Stepper) -> Any:
        """The persistent sets of runtime/search/por.py, or None: only
        with several CPUs (on one, every task competes for the CPU),
        reduction on, one job (--jobs searches the whole graph: the same
        outcomes and verdicts, more states) and no depth or preemption
        bound (a bound counts steps, and a reduced path can be longer)."""
        o = self.o
        if not (o.reduce and o.por) or self.p.config.NR_CPUS == 1 or o.jobs > 1 or \
                o.max_depth is not None or o.preemption_bound is not None:
            return None
        # With symmetry phase 1 builds the quotient graph: the persistent
        # set is chosen in the canonical state, from its real successors
        # (the inner stepper: Canonical records one permutation per edge
        # made), and the proviso runs on the quotient's cycles; _unfold
        # carries the marks to the real states (runtime/search/por.py,
        # "With symmetry").
        step = st.inner.step if isinstance(st, symmetry.Canonical) else st.step
        from kmap_scenarios.runtime.search.por import Reducer
        r = Reducer(self.p, st.codec, step,
                    st.memo.footprint if st.memo is not None else None)
        if st.memo is not None:
            st.memo.on_record = r.recorded   # the static footprints' safety net
        return r

    def _proviso(self, stack: list[tuple[int, Flat, int, int]], first: array[int]) -> bool:
        """The cycle proviso: every reduced state on a cycle of the graph
        built so far is put back on the stack to be expanded fully (the
        other CPUs are not postponed forever, and a loop that never ends
        keeps all its states). False when there is none: phase 1 is done."""
        from kmap_scenarios.runtime.search.por import on_cycles
        n = len(self.acts)
        wanted = bytearray(n)
        for k in self._reduced_flat:
            wanted[k] = 1
        again = on_cycles(n, self.acts, self.off, self.dst, wanted)
        for k in again:
            self._full.add(k)
            self._local_ids.discard(k)
            stack.append((k, self._reduced_flat.pop(k), first[k], 0))
        self.result.reexpanded += len(again)
        return bool(again)

    def _unfold(self, st: symmetry.Canonical) -> None:
        """Phase 1 built the quotient graph (one state per orbit of
        interchangeable tasks): the real graph from it, with the outcome
        of each real terminal state and the reports of each real state a
        limit left unexpanded (runtime/search/symmetry.py). The later
        phases then run as without symmetry."""
        self.result.symmetric_states = len(self.acts)
        flat_of = {self.ids[hash(f)]: f for f in st.terminals}
        self.ids = {}
        qterm = self.terminal
        u = symmetry.unfold(st, self.acts, self.off, self.dst, self._check)
        if u.stopped is not None:
            self._cut(u.stopped)
        self.acts, self.off, self.dst, self.cyclic = u.acts, u.off, u.dst, u.cyclic
        if self.local:
            # a real state g(q) takes g of q's one local step: local too
            qlocal = self.local
            self.local = bytearray(qlocal[q] if q < len(qlocal) else 0 for q in u.quotient)
        grp, codec = st.group, st.codec
        self.terminal, self.frontier = {}, {}
        for sid, q in enumerate(u.quotient):
            if q in qterm:
                g = u.perm[sid]
                self.terminal[sid] = qterm[q] if not g else \
                    self.outcome(final_state(self.p, codec.decode(grp.image(g, flat_of[q]))))
        for sid, reports in u.unexpanded(grp, qterm):
            self._frontier(reports, u.depth[sid], sid, -1)
        st.release()   # the quotient's records: the later phases need the real graph only

    def _stopped(self, stack: list[tuple[int, Flat, int, int]], sid: int, s: Flat, depth: int,
                 first: array[int]) -> None:
        """Leave the graph whole where a limit or a MemoryError stopped
        phase 1: the arrays of one length (a new state may be half
        appended), the state being expanded with its successors not made
        cut (-1), and every state left unexpanded noted in the frontier
        with its reports. A state on the stack that no edge reaches (its
        edge was not written) is dropped: no path leads to it."""
        acts_of, off, dst = self.acts, self.off, self.dst
        assert self.stepper is not None
        codec = self.stepper.codec
        n = min(len(acts_of), len(off), len(first))
        del acts_of[n:], off[n:], first[n:]
        if 0 <= sid < n and sid not in self.terminal:
            base = off[sid]
            if base < 0:   # popped, not expanded
                self._frontier(codec.reports(s), depth, sid, -1)
            else:
                made = len(dst) - base
                want = len(acts_of[sid])
                for pos in range(base, len(dst)):
                    if dst[pos] >= n:
                        dst[pos] = -1
                if made < want:
                    dst.extend([-1] * (want - made))
                    self._frontier(codec.reports(s), depth, sid, -1)
                # the newest state, on top of the stack, made by this
                # expansion but with its edge not written: no path to it
                top = stack[-1][0] if stack else -1
                if top == n - 1 and top > sid and top not in dst[base:]:
                    stack.pop()
        while stack and stack[-1][0] >= n:
            stack.pop()
        for k, flat, d, _ in stack:
            self._frontier(codec.reports(flat), d, k, -1)

    def _frontier(self, reports: tuple[Report, ...], depth: int, sid: int, i: int) -> None:
        """Note the reports of a state where a bound cut the search (state
        sid itself when i < 0, else its successor by its i-th action),
        the first met at the least depth for each set of reports."""
        if reports:
            old = self.frontier.get(reports)
            if old is None or depth < old[0]:
                self.frontier[reports] = (depth, sid, i)

    def _preempts(self, cur: int, acts: tuple[Action, ...], a: Action) -> int:
        """1 when a takes a CPU from a task (cur, that CPU's current) that
        could have continued."""
        ci, cpu = a
        if cur < 0 or ci < 0 or cur == ci or self.p.contexts[ci].is_irq:
            return 0
        return 1 if (cur, cpu) in acts else 0

    # ---------------------------------------------- phase 2: sleep sets
    def _search(self) -> None:
        n = len(self.acts)
        if not self.o.reduce or self.p.config.NR_CPUS == 1:
            # Two actions on one CPU are never independent: sleep sets
            # would stay empty, and the search would take every transition.
            dst, kept = self.dst, bytearray()
            for lo in range(0, len(dst), CHUNK):
                self._check()
                kept += bytes(c >= 0 for c in dst[lo:lo + CHUNK])
            self.kept = kept
            self._kept_all = True
            self.result.transitions += len(kept) - kept.count(0)
        else:
            self.kept = bytearray(len(self.dst))
            self._search_sleep(n)

    def _search_sleep(self, n: int) -> None:
        """Depth-first with sleep sets, as bit masks over action numbers
        (ctx * NR_CPUS + cpu). After exploring a from a state, a sleeps in
        the subtrees of later siblings it is independent with; a state
        reached again with fewer sleeping actions explores the ones that
        slept before (Godefroid's condition for state caching)."""
        acts_of, off, dst, kept = self.acts, self.off, self.dst, self.kept
        local = self.local if len(self.local) == n else bytearray(n)
        rep = _after_local(local, off, dst)
        ncpu = self.p.config.NR_CPUS
        slept = [-1] * n          # the sleep mask a state was explored with; -1 never
        on_stack = bytearray(n)
        frame_of = [0] * n        # the stack position of a state's open frame
        slept[0] = 0
        # action number -> position, per state (one dict per distinct tuple)
        wh = [self._where(acts) for acts in acts_of]
        evict0 = self._evict0()
        nbits = evict0 + self.p.config.KM_MAX_IDX * ncpu
        # a TLB eviction's number is past the contexts': its "context" is
        # its own negative one (runtime/kernel/tlb.py), no real context's
        ctx_of = [k // ncpu if k < evict0 else -1 - (k - evict0) // ncpu for k in range(nbits)]
        cpu_of = [k % ncpu for k in range(nbits)]
        # frames: [sid, todo (positions), next, sleep mask, via action]
        stack: list[list[Any]] = [[0, range(len(acts_of[0])), 0, 0, None]]
        on_stack[0] = 1
        transitions = 0
        work, every, check = 0, CHECK_LOOP, self._check
        while stack:
            work += 1
            if work >= every:
                work = 0
                check()
            f = stack[-1]
            todo = f[1]
            if f[2] >= len(todo):
                on_stack[f[0]] = 0
                stack.pop()
                continue
            i = todo[f[2]]
            f[2] += 1
            sid = f[0]
            acts = acts_of[sid]
            a = acts[i]
            ca, pa = a
            anum = ca * ncpu + pa if ca >= 0 else evict0 + (-1 - ca) * ncpu + pa
            abit = 1 << anum
            sleep = f[3]
            if sleep & abit:
                continue
            base = off[sid]
            cid = dst[base + i]
            if cid < 0:
                continue
            child_sleep = 0
            if sleep and local[sid]:
                # a local step (runtime/search/por.py): independent of every
                # other action, it leaves each asleep and enabled
                child_sleep = sleep
            elif sleep:
                # b stays asleep after a when a and b are independent here:
                # different contexts on different CPUs, and the diamond
                # s -a-> sa -b-> t, s -b-> sb -a-> t is in the graph
                # (with state-level reduction, through the local steps
                # that follow: rep[x] is the first state after x's chain of
                # them, where the same actions are enabled again)
                work += sleep.bit_count()   # a turn of the loop below each
                here = wh[sid]
                ra = rep[cid]
                after_a = wh[ra]
                ca_off = off[ra]
                rest = sleep
                while rest:
                    low = rest & -rest
                    rest ^= low
                    k = low.bit_length() - 1
                    if ctx_of[k] == ca or cpu_of[k] == pa:
                        continue
                    j = here.get(k, -1)
                    sb = dst[base + j] if j >= 0 else -1
                    if sb < 0:
                        continue
                    sb = rep[sb]
                    jb = after_a.get(k, -1)
                    ta = dst[ca_off + jb] if jb >= 0 else -1
                    if ta < 0:
                        continue
                    ja = wh[sb].get(anum, -1)
                    tb = dst[off[sb] + ja] if ja >= 0 else -1
                    if tb >= 0 and rep[tb] == rep[ta]:
                        child_sleep |= low
            f[3] = sleep | abit
            transitions += 1
            kept[base + i] = 1
            old = slept[cid]
            if old < 0:
                slept[cid] = child_sleep
                frame_of[cid] = len(stack)
                stack.append([cid, range(len(acts_of[cid])), 0, child_sleep, a])
                on_stack[cid] = 1
                continue
            missing = old & ~child_sleep
            if not missing:
                continue
            slept[cid] = old & child_sleep
            cacts = acts_of[cid]
            if local[cid]:
                # a local step passes its sleep set on: the states after it
                # take what is no longer asleep
                todo2 = [0]
            else:
                todo2 = [j for j, b in enumerate(cacts) if missing >> self._number(b) & 1]
            if on_stack[cid]:
                # reached again around a cycle with fewer actions asleep:
                # its frame, still open, takes them too (they were asleep
                # when it began, so none of them was explored yet)
                g = stack[frame_of[cid]]
                g[1] = list(g[1]) + todo2
                g[3] &= ~missing
                continue
            frame_of[cid] = len(stack)
            stack.append([cid, todo2, 0, child_sleep, a])
            on_stack[cid] = 1
        self.result.transitions += transitions

    def _where(self, acts: tuple[Action, ...]) -> dict[int, int]:
        """Action number -> position in an (interned) tuple of enabled actions."""
        index = self._index.get(id(acts))
        if index is None:
            index = self._index[id(acts)] = {self._number(a): i for i, a in enumerate(acts)}
        return index

    def _evict0(self) -> int:
        """The first action number of the TLB evictions (runtime/kernel/tlb.py)."""
        ncpu = self.p.config.NR_CPUS
        return (len(self.p.contexts) + ncpu) * ncpu

    def _number(self, a: Action) -> int:
        """An action's number in the sleep sets' masks: ctx * NR_CPUS + cpu
        for a context's, after all of those for a TLB eviction's."""
        c, p = a
        ncpu = self.p.config.NR_CPUS
        return c * ncpu + p if c >= 0 else self._evict0() + (-1 - c) * ncpu + p

    def _cut(self, what: str) -> None:
        if what not in self.result.bounded:
            self.result.bounded.append(what)

    def _check(self) -> None:
        """The progress line (asked for: once a second), then the limits:
        raises Cut past one (runtime/search/limits.py)."""
        if self.o.progress:
            now = time.monotonic()
            if now - self._last_progress >= 1.0:
                self._last_progress = now
                show_progress(len(self.acts), self._start)
        self.limits.check()

    # ----------------------------------------------------------- outcomes
    def _ends(self) -> None:
        """Every end of an execution: the terminal states, and the states
        of each bottom component, with its outcome. A limit that cuts it
        leaves the components it finished (_ends_cut)."""
        self.ends = dict(self.terminal)
        if not self.cyclic:
            return
        check = self._check
        if acyclic(self.acts, self.off, self.dst, check):
            # phase 1's flag was a "maybe" (interleavings of different
            # lengths meeting): no component to look for (9% of a search
            # of 10 M states, docs/performance.md)
            self.cyclic = False
            return
        comps = bottom_components(self.acts, self.off, self.dst, check)
        for comp, states in self._states_of(comps):
            out, conds = self.observer.component_at(states, [self.acts[s] for s in comp], check)
            self._partial = comp
            for s, c in zip(comp, conds):
                self.ends[s] = out
                if MIXED in out.conds:
                    self._seen[s] = c
            self._partial = []

    def _ends_cut(self) -> None:
        """Cut while a component's states were being marked: unmark them
        (a component is an end as a whole or not at all)."""
        for s in self._partial:
            self.ends.pop(s, None)
            self._seen.pop(s, None)

    def _states_of(self, comps: list[list[int]]) -> Iterator[tuple[list[int], list[State]]]:
        """Each component with its states, rebuilt by stepping (the search
        keeps none): along the breadth-first tree to the component's first
        state, then along the component's own transitions. One component's
        states at a time."""
        if not comps:
            return
        acts, off, dst, check = self.acts, self.off, self.dst, self._check
        parent, via, seen = bfs_parents(acts, off, dst, {c[0] for c in comps}, check)
        known: dict[int, State] = {0: initial_state(self.p)}

        def at(sid: int) -> State:
            chain = []
            while sid not in known:
                chain.append(sid)
                sid = parent[sid]
            s = known[sid]
            for c in reversed(chain):
                s = known[c] = step(self.p, s, acts[parent[c]][via[c]])[0]
            return s

        every = CHECK_STEPS
        for comp in comps:
            if not seen[comp[0]]:
                continue   # no path from the start (never met: a state left half made)
            out: dict[int, State] = {comp[0]: at(comp[0])}
            todo = [comp[0]]
            k = 0
            while todo:
                sid = todo.pop()
                base = off[sid]
                k += 1
                if k >= every:
                    k = 0
                    check()   # a step per state: tens of microseconds each
                for i, a in enumerate(acts[sid]):
                    c = dst[base + i]
                    if c not in out:
                        out[c] = step(self.p, out[sid], a)[0]
                        todo.append(c)
            yield comp, [out[s] for s in comp]

    def _count(self) -> None:
        """Executions per outcome, and the longest (the maximum depth),
        post-order over the reduced graph: paths from the initial state to
        a terminal state or to the first state they meet of a bottom
        component (whose states are ends: their transitions are not
        followed), an edge back to a state still on the stack closing a
        cycle that can be left (cut there). A state's counts are dropped
        once every predecessor has used them. The longest path, unlike the
        depth a depth-first search reaches, does not depend on the order of
        the search (runtime/search/parallel.py finds the same one)."""
        n = len(self.acts)
        if not n:
            return
        acts, off, dst, kept, terminal = self.acts, self.off, self.dst, self.kept, self.ends
        waiting = array("l", bytes(8 * n))   # kept edges into each state not yet used
        check = self._check
        for lo in range(0, len(dst), CHUNK):
            check()
            for c in compress(dst[lo:lo + CHUNK], kept[lo:lo + CHUNK]):
                waiting[c] += 1
        counts: list[Any] = [None] * n
        longest = array("l", bytes(8 * n))   # transitions of the longest path on
        state = bytearray(n)  # 0 new, 1 on stack, 2 done
        outcomes = set(terminal.values())
        single = next(iter(outcomes)) if len(outcomes) == 1 else None

        def used(child: int) -> None:
            waiting[child] -= 1
            if waiting[child] == 0 and child:
                counts[child] = None

        # With one outcome, each state's distance to its nearest end, for
        # the witness (_shortest); an edge back to the stack voids it.
        near = array("q", [FAR]) * n if single is not None else None
        self._near = near

        def merge_one(sid: int) -> int:
            """With one outcome in the whole search, counts are plain ints."""
            assert near is not None
            ends = sid in terminal
            acc = 1 if ends else 0
            far = -1
            d = 0 if ends else FAR
            o = off[sid]
            if o >= 0:
                for pos in range(o, o + len(acts[sid])):
                    if kept[pos]:
                        child = dst[pos]
                        if state[child] == 2:
                            acc += counts[child]
                            x = longest[child]
                            if x > far:
                                far = x
                            x = near[child]
                            if x < d:
                                d = x
                        else:
                            self._near = None   # a cycle closes here
                        # used(child), inlined: a call per edge was a tenth of the pass
                        x = waiting[child] - 1
                        waiting[child] = x
                        if not x and child:
                            counts[child] = None
            longest[sid] = far + 1
            near[sid] = d if ends or d == FAR else d + 1
            return acc

        def merge_many(sid: int) -> dict[Outcome, int]:
            # A state with one contributing successor shares its counts
            # (never mutated once made): most states have just one.
            acc: dict[Outcome, int] | None = {terminal[sid]: 1} if sid in terminal else None
            own = acc is not None
            far = -1
            o = off[sid]
            if o >= 0:
                for pos in range(o, o + len(acts[sid])):
                    if not kept[pos]:
                        continue
                    child = dst[pos]
                    if state[child] == 2:
                        if longest[child] > far:
                            far = longest[child]
                        cc = counts[child]
                        if acc is None:
                            acc = cc
                        else:
                            if not own:
                                acc, own = dict(acc), True
                            for out, c in cc.items():
                                acc[out] = acc.get(out, 0) + c
                    used(child)
            longest[sid] = far + 1
            return acc if acc is not None else {}

        merge = merge_many if single is None else merge_one
        for sid, out in terminal.items():
            if out.ends == "never":   # a component's state: an end, not followed
                state[sid] = 2
                counts[sid] = 1 if single is not None else {out: 1}
                if near is not None:
                    near[sid] = 0
        stack = [[0, off[0], off[0] + len(acts[0])]] if state[0] == 0 else []
        state[0] = state[0] or 1
        done, every = 0, CHECK_LOOP
        while stack:
            f = stack[-1]
            sid, pos, end = f
            while pos < end and not (kept[pos] and state[dst[pos]] == 0):
                pos += 1
            if pos < end:
                f[1] = pos + 1
                child = dst[pos]
                state[child] = 1
                oc = off[child]
                stack.append([child, oc, oc + len(acts[child]) if oc >= 0 else oc])
                continue
            counts[sid] = merge(sid)
            state[sid] = 2
            stack.pop()
            done += 1
            if done >= every:
                done = 0
                check()
        self.result.max_depth = longest[0]
        root = counts[0] or {}
        if single is not None:
            root = {single: root} if root else {}
        for out in sorted(outcomes, key=Outcome.text):
            self.result.outcomes[out] = root.get(out, 0)
        self.result.executions = sum(root.values())
        lost = [o.text() for o, c in self.result.outcomes.items() if not c]
        if lost:
            # every end is reachable along the kept transitions (sleep sets
            # prune transitions, never states): a bug of ours otherwise
            raise AssertionError(f"outcome reached by no counted execution: {lost[0]}")

    def _shortest(self) -> None:
        """One shortest path per outcome: the lexicographically first (by
        action positions). With one outcome and no cycle that can be left,
        the counting pass left each state's distance to its nearest end
        along the kept transitions (reduction keeps a shortest execution
        of each outcome: equivalent interleavings have equal length; the
        oracle test checks every witness is shortest), and the witness
        takes, from the initial state, the first kept action one step
        nearer; otherwise a breadth-first search over the whole graph.
        Then, for a condition that differs across a loop that never ends,
        a path to a state of it showing each value."""
        if self._near is not None and self.ends:
            self._shortest_by_distance(self._near)
        else:
            self._shortest_bfs()
        if self._seen:
            self._observed()

    def _unwitnessed(self) -> None:
        """A limit cut the search for witnesses: some outcome has none."""
        self.result.witnessed = False

    def _observed(self) -> None:
        """For each condition MIXED in a loop that never ends, the
        shortest path to a state of the loop where it holds and to one
        where it does not (the witness into the loop may stop at either)."""
        seen = self._seen
        parent, via, _ = bfs_parents(self.acts, self.off, self.dst, set(seen), self._check)
        order = sorted(seen, key=lambda s: (len(p := path_to(self.acts, parent, via, s)), p))
        for sid in order:
            out = self.ends[sid]
            for k, c in enumerate(seen[sid]):
                if out.conds[k] == MIXED and c is not None:
                    key = (out, k, c)
                    if key not in self.result.observed:
                        self.result.observed[key] = path_to(  # type: ignore[assignment]
                            self.acts, parent, via, sid)

    def _shortest_by_distance(self, near: array[int]) -> None:
        acts, off, dst, kept = self.acts, self.off, self.dst, self.kept
        path: list[Action] = []
        sid = 0
        while near[sid]:
            base = off[sid]
            i = next(i for i in range(len(acts[sid]))
                     if kept[base + i] and near[dst[base + i]] == near[sid] - 1)
            path.append(acts[sid][i])
            sid = dst[base + i]
        self.result.witnesses[self.ends[sid]] = path

    def _shortest_bfs(self) -> None:
        """BFS over the explored graph: one shortest path per outcome."""
        n = len(self.acts)
        if not n:
            return
        acts, off, dst, ends = self.acts, self.off, self.dst, self.ends
        parent = array("q", bytes(8 * n))    # the state each state was reached from
        via = array("q", bytes(8 * n))       # and the position of that action in its acts
        seen = bytearray(n)
        seen[0] = 1
        queue = deque([0])
        wanted = len(set(ends.values()))
        witnesses = self.result.witnesses
        done, every, check = 0, CHECK_LOOP, self._check
        while queue and len(witnesses) < wanted:
            sid = queue.popleft()
            done += 1
            if done >= every:
                done = 0
                check()
            o = ends.get(sid)
            if o is not None and o not in witnesses:
                witnesses[o] = path_to(acts, parent, via, sid)  # type: ignore[assignment]
            base = off[sid]
            if base < 0:
                continue
            for i in range(len(acts[sid])):
                child = dst[base + i]
                if child >= 0 and not seen[child]:
                    seen[child] = 1
                    parent[child] = sid
                    via[child] = i
                    queue.append(child)

    def _until_reported(self, path: list[Action], reports: tuple[Report, ...]) -> list[Action]:
        """The shortest prefix of ``path`` whose state has every one of
        ``reports`` (they only accumulate: the rest adds nothing)."""
        s = initial_state(self.p)
        want = set(reports)
        for k, a in enumerate(path):
            if want <= set(s.reports):
                return path[:k]
            if not (k + 1) % CHECK_STEPS:
                self._check()
            s = step(self.p, s, a)[0]
        return path

    def _unfinished(self) -> None:
        """What the reports decide where a bound cut the search, each with
        the shortest of the paths to a state where it was met. What they
        decide first (no path yet: None), then the paths, so that a limit
        cutting the search for paths leaves the decisions."""
        if not self.frontier:
            return
        outs = {reports: self.observer.unfinished(reports) for reports in self.frontier}
        unfinished = self.result.unfinished = \
            {o: None for o in sorted(set(outs.values()), key=Outcome.text)}
        wanted = {sid for _, sid, _ in self.frontier.values()}
        parent, via, seen = bfs_parents(self.acts, self.off, self.dst, wanted, self._check)
        for reports, (_, sid, i) in self.frontier.items():
            out = outs[reports]
            if not seen[sid]:
                continue   # no path from the start (never met: a state left half made)
            path: list[Action] = path_to(self.acts, parent, via, sid)  # type: ignore[assignment]
            if i >= 0:
                path.append(self.acts[sid][i])
            path = self._until_reported(path, reports)
            old = unfinished[out]
            if old is None or (len(path), path) < (len(old), old):
                unfinished[out] = path


def _after_local(local: bytearray, off: array[int], dst: array[int]) -> Any:
    """rep[x]: x, or for a state expanded by a local step alone
    (runtime/search/por.py) the first state after its chain of them. A
    chain with a cycle (the proviso expands fully every reduced state on
    one, so there the local step is the only one enabled) is left as it
    is. A range where nothing was reduced."""
    n = len(local)
    if not local.count(1):
        return range(n)
    rep = array("q", range(n))
    done = bytearray(n)
    for x in range(n):
        if not local[x] or done[x]:
            continue
        chain = []
        y = x
        while local[y] and not done[y] and dst[off[y]] >= 0:
            done[y] = 2          # on this chain
            chain.append(y)
            y = dst[off[y]]
        # a chain that comes back to itself (a loop of one task's local
        # steps, nothing else enabled): its states are their own
        end = y if done[y] == 2 else rep[y]
        for c in chain:
            rep[c] = c if end == y and done[y] == 2 else end
            done[c] = 1
    return rep


def explore(program: Program, opts: Options | None = None) -> Result:
    return Explorer(program, opts or Options()).run()
