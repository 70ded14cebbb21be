"""Memoized steps for the explorer: a step is a function of what it reads.

A step reads a small part of the state: the executing context and its CPU,
and whatever its instruction touches (another task it switches from, the
pkmap pool, a page). Most transitions of a state graph repeat a step already
taken from another state that agrees on that part (task B's kmap() does the
same thing whatever task C's locals are). The first time, the step runs with
its reads noted (``Tx`` with ``reads``: first-touch order, every ctx and CPU
element and every other state field it copies); the memo keeps the
locations and values it read and the parts it changed. A later state that
holds the same values at the same locations gets the same changes applied
without running the handlers.

It works on flat states (runtime/search/flat.py): a location is a position of the
flat tuple, a value is a part's number, so keys are small ints. The key is
the action with the numbers of the executing context, its CPU record and
the two flags every step may consult (debug_locks, panicked); under it, one
entry per sequence of positions a recording read (usually one: the
instruction is fixed by the context's pc), each a table from the numbers
found there to the changes. A state that matches any entry gets its
changes: it agrees with a recorded state wherever that step looked, so the
step, deterministic, does the same. Two results for one entry and one set
of values mean a read the Tx did not see: that would make the memo
unsound, and it raises instead.

Every part the step may have changed was noted as read (a Tx copies a field
before writing it, and a write of an element reads it first), so the
changed positions are in the key and equal keys give equal results. An
element of a long pkmap pool is noted as the whole pool (one position).
Only used without tracing: `kmap run` still steps every handler.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, Callable

from kmap_scenarios.runtime.search.flat import Codec, Flat
from kmap_scenarios.runtime.kernel.builtins import spinning_on
from kmap_scenarios.runtime.kernel.machine import Action, enabled, step, switch_step
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.state import Ctx, State, idle_ctx
from kmap_scenarios.runtime.kernel.tx import Loc

# A delta: (position, new part number) for every part the step changed.
Delta = tuple[tuple[int, int], ...]

# The fields of the incoming task a context switch may change and still be
# learnt for any value of its others (sched.switch_to sets these two).
_SWITCHED = frozenset({Ctx._fields.index("cpu"), Ctx._fields.index("resched")})


class MemoConflict(AssertionError):
    """Two recordings of one step disagree: a read the Tx did not note."""


class _Spec:
    """The positions one kind of step reads, and what it did for each set
    of part numbers found there."""

    __slots__ = ("positions", "get", "table")

    def __init__(self, positions: tuple[int, ...]) -> None:
        self.positions = positions
        self.get = _getter(positions)
        # the changes (a step), or the positions read and the changes (a switch)
        self.table: dict[Any, Any] = {}


def _spec_of(root: dict[Any, list[_Spec]], key: Any, positions: tuple[int, ...]) -> _Spec:
    """The spec of ``positions`` under ``key``, made if new."""
    specs = root.setdefault(key, [])
    for spec in specs:
        if spec.positions == positions:
            return spec
    spec = _Spec(positions)
    specs.append(spec)
    return spec


def _found(specs: list[_Spec], flat: Flat) -> tuple[_Spec, Any] | None:
    """The first spec that holds a recording for flat's values at its
    positions, and that recording (StepMemo.step inlines this)."""
    for spec in specs:
        got = spec.table.get(spec.get(flat))
        if got is not None:
            return spec, got
    return None


def _getter(positions: tuple[int, ...]) -> Callable[[Flat], Any]:
    """The numbers at ``positions`` of a flat state (a C itemgetter)."""
    if not positions:
        return lambda flat: ()
    return itemgetter(*positions)


class StepMemo:
    """``step`` for one program on flat states, memoized by footprint."""

    def __init__(self, program: Program, codec: Codec, max_entries: int = 1_000_000) -> None:
        self.p = program
        self.codec = codec
        self.root: dict[Any, list[_Spec]] = {}
        self.entries = 0
        self.max_entries = max_entries   # past it the memo starts afresh
        self.hits = 0
        self.misses = 0
        # (context, pc) of every step recorded: every step the memo answers
        # repeats one of them (runtime/search/vacuity.py)
        self.ran: set[tuple[int, int]] = set()
        self.share = codec.shared   # keep new recordings for other workers
        # told of every new recording (flat, action, positions, changes):
        # runtime/search/por.py checks each against its static footprint
        self.on_record: Callable[[Flat, Action, tuple[int, ...], Delta], None] | None = None
        self.fresh: list[tuple[Any, tuple[int, ...], Any, Delta]] = []
        c = codec
        (self._dl,), (self._pan,) = c.field_positions("debug_locks"), c.field_positions("panicked")
        # context switches, learnt apart from the instruction that follows
        self.composed = 0            # misses answered by a switch and a step already known
        self.switches: dict[Any, list[_Spec]] = {}
        self._is_task = [i < len(program.contexts) and not program.contexts[i].is_irq
                         for i in range(c.nctx)]
        self._idle = [idle_ctx(program, cpu) for cpu in range(c.ncpu)]
        self._kview: dict[int, tuple[int, tuple[int, ...], int]] = {}
        self._sview: dict[int, tuple[Any, ...]] = {}
        self._patch: dict[tuple[int, tuple[tuple[int, Any], ...]], int] = {}
        self._reported = set(c.field_positions("reports") + c.field_positions("once"))
        # (context, cpu, read1, read2) -> what a composed step reads besides its key
        self._union: dict[tuple[int, int, tuple[int, ...], tuple[int, ...]], tuple[int, ...]] = {}
        # the successors footprint() made of the one state it last looked at
        self._fp_flat: Flat | None = None
        self._fp_children: dict[Action, Flat] = {}

    def step(self, flat: Flat, a: Action) -> Flat:
        """The successor of ``flat`` by ``a``, as step() computes it."""
        if flat is self._fp_flat:
            # footprint() just found it for the state reduction (por.py)
            got = self._fp_children.get(a)
            if got is not None:
                self.hits += 1
                return got
        ci, cpu = a
        if ci < 0:   # a TLB eviction: rare, and its key would be no context's
            self.misses += 1
            s = self.codec.decode(flat)
            return _encode_changes(self.codec, flat, s, step(self.p, s, a)[0])[0]
        key = (ci, cpu, flat[ci], flat[self.codec.nctx + cpu], flat[self._dl], flat[self._pan])
        specs = self.root.get(key)
        if specs is not None:
            for spec in specs:
                d = spec.table.get(spec.get(flat))
                if d is not None:
                    self.hits += 1   # _found and _apply, inlined: the hot path
                    if len(d) == 1:
                        (p, v), = d
                        return flat[:p] + (v,) + flat[p + 1:]
                    out = list(flat)
                    for p, v in d:
                        out[p] = v
                    return tuple(out)
        self.misses += 1
        prev = self.codec.cpu(flat, cpu).curr
        if self._is_task[ci] and prev != ci:
            got = self._compose(flat, a, key, prev)
            if got is not None:
                return got
        return self._record(flat, a, key)[0]

    def footprint(self, flat: Flat, a: Action) -> tuple[Flat, tuple[int, ...], Delta]:
        """The successor of ``flat`` by ``a``, the positions the step read
        besides its context and CPU (the flags only where it consulted
        them: a recording notes debug_locks when DEBUG_LOCKS_WARN_ON looks
        at it), and its changes (runtime/search/por.py). A state that agrees
        with a recording on its key and positions reads the same positions
        in the same order, so these are the step's own here."""
        ci, cpu = a
        if ci < 0:   # a TLB eviction, never memoized: run it with its reads noted
            return record_step(self.p, self.codec, flat, a)
        key = (ci, cpu, flat[ci], flat[self.codec.nctx + cpu], flat[self._dl], flat[self._pan])
        got = _found(self.root.get(key, []), flat)
        if got is None:
            self.step(flat, a)
            got = _found(self.root.get(key, []), flat)
            assert got is not None, "a step the memo did not keep"
        spec, d = got
        child = _apply(flat, d)
        if flat is not self._fp_flat:
            self._fp_flat, self._fp_children = flat, {}
        self._fp_children[a] = child
        return child, spec.positions, d

    def _record(self, flat: Flat, a: Action, key: Any) -> tuple[Flat, tuple[int, ...], Delta]:
        """Run the step with its reads noted and keep it: the successor, the
        positions read and the changes."""
        codec = self.codec
        s = codec.decode(flat)
        reads: list[Loc] = []
        ran: list[int] = []
        t = step(self.p, s, a, reads=reads, ran=ran)[0]
        ci = a[0]
        self.ran.add((ci, s.ctxs[ci].pc))
        self.ran.update((ci, pc) for pc in ran)
        new, delta = _encode_changes(codec, flat, s, t)
        positions = codec.positions(reads)
        self._check_noted(a, delta, positions)
        self._keep(key, positions, _getter(positions)(flat), delta)
        if self.on_record is not None:
            self.on_record(flat, a, positions, delta)
        return new, positions, delta

    def _check_noted(self, a: Action, delta: Delta, positions: tuple[int, ...]) -> None:
        keyed = {a[0], self.codec.nctx + a[1], self._dl, self._pan}
        unread = {p for p, _ in delta} - set(positions) - keyed
        if unread:
            raise MemoConflict(f"step {a} changed positions {sorted(unread)} it did not note")

    def _keep(self, key: Any, positions: tuple[int, ...], values: Any, delta: Delta) -> None:
        self.learn(key, positions, values, delta)
        if self.share:
            self.fresh.append((key, positions, values, delta))

    # ------------------------------------------------------ context switches
    # A task's step that begins with a context switch is the switch
    # (machine.switch_step) and then the task's own step, where it runs. The
    # switch reads the previous task (and the CPU's idle task) only for its
    # kmap_local slots (__kmap_local_sched_out) and changes neither, so it is
    # learnt under their kmap_idx and pteval[] instead of their whole
    # contexts: one switch recording serves the previous task at any pc with
    # any locals. The task's own step is then usually known already. The two
    # are composed into one ordinary recording under the step's key, so the
    # next time the same transition is a plain hit.
    def _compose(self, flat: Flat, a: Action, key: Any, prev: int) -> Flat | None:
        ci, cpu = a
        idle = self._idle[cpu]
        got = self._switch(flat, a, key, prev, idle)
        if got is None:
            return None
        read1, d1 = got
        flat1 = _apply(flat, d1)
        nc = self.codec.nctx
        key2 = (ci, cpu, flat1[ci], flat1[nc + cpu], flat1[self._dl], flat1[self._pan])
        known = _found(self.root.get(key2, []), flat1)
        if known is not None:
            spec, d2 = known
            flat2, read2 = _apply(flat1, d2), spec.positions
        else:
            flat2, read2, d2 = self._record(flat1, a, key2)
        # what the two read, less the task and its CPU, which the key holds
        # (a part the switch wrote and the step read is keyed on as it was
        # before the switch: more than needed, never less); debug_locks
        # stays where one of them consulted it (footprint())
        # keyed by the action too: the key's positions (the context and its
        # CPU) are left out, and two actions can read the same positions (a
        # step that reads every context): without ci and cpu a union made
        # for one context left out another's position that this one changes
        positions = self._union.get((ci, cpu, read1, read2))
        if positions is None:
            keyed = {ci, nc + cpu}
            both = dict.fromkeys(read1 + read2)
            positions = self._union[(ci, cpu, read1, read2)] = \
                tuple(p for p in both if p not in keyed)
        # the changes of both, less what the step put back as it was; each
        # was checked to change only what it read or keyed on
        changed = dict(d1)
        changed.update(d2)
        delta = tuple([(p, v) for p, v in sorted(changed.items()) if flat[p] != v])
        self._keep(key, positions, _getter(positions)(flat), delta)
        if self.on_record is not None:
            self.on_record(flat, a, positions, delta)
        self.composed += 1
        return flat2

    def _switch(self, flat: Flat, a: Action, key: Any, prev: int,
                idle: int) -> tuple[tuple[int, ...], Delta] | None:
        """The positions the switch that begins step a reads, and its
        changes; None when it is not learnt apart.

        Two keys, both with the previous and idle tasks' kmap_local views:
        the general one has, of the incoming task, only what switch_to
        reads of it (its CPU, resched flag and kmap_ctrl), and its change
        of that task as a patch of fields; the other has the task's whole
        context, for a switch that changed more of it or reported (a
        report carries the task's pc)."""
        ci, cpu = a
        views = (self._kview_of(flat[prev]) if prev >= 0 else None, self._kview_of(flat[idle]))
        general = (ci, cpu, self._sview_of(flat[ci])) + key[3:] + views
        known = _found(self.switches.get(general, []), flat)
        if known is not None:
            read, rest, patch = known[1]
            n = self._patched(ci, flat[ci], patch)
            return read, (rest + ((ci, n),) if n != flat[ci] else rest)
        whole = key + views
        known = _found(self.switches.get(whole, []), flat)
        if known is not None:
            return known[1][0], known[1][1]
        return self._record_switch(flat, a, general, whole, prev, idle)

    def _record_switch(self, flat: Flat, a: Action, general: Any, whole: Any, prev: int,
                       idle: int) -> tuple[tuple[int, ...], Delta] | None:
        """Run the switch with its reads noted and keep it under the general
        key if it changed only the incoming task's CPU and resched flag
        (and the CPUs, caches and memory), else under the whole one: the
        positions it read (the previous and idle tasks' included, for the
        composed recording) and its changes. None when it changed either of
        those two tasks (then it is not learnt apart)."""
        codec = self.codec
        ci = a[0]
        s = codec.decode(flat)
        reads: list[Loc] = []
        t = switch_step(self.p, s, a, reads=reads)
        if t is None:
            return None
        _, delta = _encode_changes(codec, flat, s, t)
        read = codec.positions(reads)
        self._check_noted(a, delta, read)
        if any(p == prev or p == idle for p, _ in delta):
            return None
        patch = tuple([(i, v) for i, (u, v) in enumerate(zip(s.ctxs[ci], t.ctxs[ci])) if u != v])
        key: Any
        entry: tuple[tuple[int, ...], Delta, Any]
        if all(i in _SWITCHED for i, _ in patch) and \
                not any(p in self._reported for p, _ in delta):
            key, entry = general, (read, tuple([(p, v) for p, v in delta if p != ci]), patch)
        else:
            key, entry = whole, (read, delta, None)
        spec = _spec_of(self.switches, key, tuple(p for p in read if p != prev and p != idle))
        values = spec.get(flat)
        old = spec.table.get(values)
        if old is not None and old[1:] != entry[1:]:
            raise MemoConflict(f"switch to {a} gave two results for the same kmap_local views")
        spec.table[values] = entry
        return read, delta

    def _sview_of(self, number: int) -> tuple[Any, ...]:
        """What switch_to reads of the task switching in: its last CPU, its
        resched flag and its kmap_ctrl (sched_in)."""
        got = self._sview.get(number)
        if got is None:
            c = self.codec.ctx_values[number]
            got = self._sview[number] = (c.cpu, c.resched, c.kmap_idx, c.pteval)
        return got

    def _patched(self, ci: int, number: int, patch: tuple[tuple[int, Any], ...]) -> int:
        """The number of context part ``number`` with the fields of patch."""
        got = self._patch.get((number, patch))
        if got is None:
            vals = list(self.codec.ctx_values[number])
            for i, v in patch:
                vals[i] = v
            got = self._patch[(number, patch)] = self.codec.number(ci, tuple.__new__(Ctx, vals))
        return got

    def _kview_of(self, number: int) -> tuple[int, tuple[int, ...], int]:
        """What a context switch reads of a task that is not switching in:
        its kmap_local depth and saved PTEs (kmap_ctrl), and its preempt
        count (the idle task's schedule_debug, sched._idle_schedule_debug)."""
        got = self._kview.get(number)
        if got is None:
            c = self.codec.ctx_values[number]
            got = self._kview[number] = (c.kmap_idx, c.pteval, c.preempt_count)
        return got

    def learn(self, key: Any, positions: tuple[int, ...], values: Any, delta: Delta) -> None:
        """Keep a recording: this process's, or (shared codecs, where part
        numbers mean the same in every worker) another worker's."""
        if self.entries >= self.max_entries:
            self.root.clear()
            self.switches.clear()
            self.entries = 0
        self.entries += 1
        spec = _spec_of(self.root, key, positions)
        old = spec.table.get(values)
        if old is not None and old != delta and sorted(old) != sorted(delta):
            # (a composed recording lists its changes by position)
            raise MemoConflict(f"step {key[:2]} gave two results for the same reads")
        spec.table[values] = delta


def record_step(program: Program, codec: Codec, flat: Flat,
                a: Action) -> tuple[Flat, tuple[int, ...], Delta]:
    """Without the memo: the successor, the positions the step read besides
    its context and CPU (a TLB eviction's "context" is its CPU's idle
    task, machine._evict), and its changes (StepMemo.footprint's answer)."""
    s = codec.decode(flat)
    reads: list[Loc] = []
    t = step(program, s, a, reads=reads)[0]
    new, delta = _encode_changes(codec, flat, s, t)
    return new, codec.positions(reads), delta


def _apply(flat: Flat, delta: Delta) -> Flat:
    """flat with the changes of a recording."""
    if len(delta) == 1:
        (p, v), = delta
        return flat[:p] + (v,) + flat[p + 1:]
    out = list(flat)
    for p, v in delta:
        out[p] = v
    return tuple(out)


def _encode_changes(codec: Codec, flat: Flat, s: Any, t: Any) -> tuple[Flat, Delta]:
    """The flat form of t, which differs from s (= decode(flat)) only where
    a part object changed, and the changed positions with their numbers."""
    out = list(flat)
    changes: list[tuple[int, int]] = []

    def part(pos: int, old: Any, new: Any) -> None:
        if new is not old:
            n = codec.number(pos, new)
            if n != out[pos]:
                out[pos] = n
                changes.append((pos, n))

    # a handler copies only what it writes: the identity tests skip the rest
    nc = codec.nctx
    if t.ctxs is not s.ctxs:
        for i, (c0, c1) in enumerate(zip(s.ctxs, t.ctxs)):
            if c1 is not c0:
                part(i, c0, c1)
    if t.cpus is not s.cpus:
        for i, (p0, p1) in enumerate(zip(s.cpus, t.cpus)):
            if p1 is not p0:
                part(nc + i, p0, p1)
    if t.ram is not s.ram:
        for i, (r0, r1) in enumerate(zip(s.ram, t.ram)):
            part(codec.ram_at + i, r0, r1)
    if t.newest is not s.newest:
        for i, (n0, n1) in enumerate(zip(s.newest, t.newest)):
            part(codec.newest_at + i, n0, n1)
    for f, (pos, _) in codec.spread.items():
        if t[f] is not s[f]:
            for i, (v0, v1) in enumerate(zip(s[f], t[f])):
                part(pos + i, v0, v1)
    for f, pos in codec.field_at.items():
        if t[f] is not s[f]:
            part(pos, s[f], t[f])
    return tuple(out), tuple(changes)


class EnabledMemo:
    """``enabled`` on flat states, memoized by what it looks at.

    enabled() reads, of each context, only its scheduling view (status, the
    lock it spins on, its CPU, migration_disabled, kmap_idx, preempt_count,
    the explicit preemption point), and the CPU records, the locks and
    panicked. States that agree on those have the same enabled actions,
    whatever their pcs, locals, pages or pkmap pool; the key is made of
    their numbers (a context's view is numbered once per context part)."""

    def __init__(self, program: Program, codec: Codec,
                 pool: dict[tuple[Action, ...], tuple[Action, ...]]) -> None:
        self.p = program
        self.codec = codec
        self.pool = pool      # one shared tuple per distinct set of actions
        self.table: dict[Flat, tuple[Action, ...]] = {}
        self.view_of: dict[int, int] = {}     # context part number -> view number
        self.views: dict[tuple[int, ...], int] = {}
        c = codec
        self._rest = itemgetter(*range(c.nctx, c.ram_at), *c.field_positions("locks"),
                                *c.field_positions("panicked"))

    def enabled(self, flat: Flat) -> tuple[Action, ...]:
        view = self.view_of.__getitem__
        nc = self.codec.nctx
        try:
            # map() over a bound __getitem__: the loop runs in C (a list
            # comprehension here was 4% of a whole search)
            key = tuple(map(view, flat[:nc])) + self._rest(flat)
        except KeyError:
            self._views_of(flat[:nc])
            key = tuple(map(view, flat[:nc])) + self._rest(flat)
        got = self.table.get(key)
        if got is None:
            s = self.codec.decode(flat)
            acts = tuple(enabled(self.p, s))
            got = self.pool.setdefault(acts, acts)
            if any(c.tlb for c in s.cpus):
                # the evictions offered depend on what the steps would do
                # (machine._evictions): on the whole state, not the views
                self.table[key + (flat,)] = got
            else:
                self.table[key] = got
        return got

    def _views_of(self, numbers: Flat) -> None:
        values = self.codec.ctx_values
        for k in numbers:
            if k not in self.view_of:
                c = values[k]
                view = (c.status, spinning_on(c.pending), c.cpu, c.migration_disabled,
                        c.kmap_idx, c.preempt_count, int(c.resched))
                self.view_of[k] = self.views.setdefault(view, len(self.views))
