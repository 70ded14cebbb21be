"""State-level partial-order reduction: persistent sets of local steps,
and of one CPU's actions.

Phase 1 (runtime/search/explore.py) expands, in a state where this module
finds one, a persistent set instead of every enabled action: a single
local step (below), or else every enabled action of one CPU (``CPU
sets``, further below).

Local steps. A single action instead of every enabled one: a task's step
that reads and writes nothing but its own locals and pc (``x = x + 1``,
``if (i < n)``, a loop's increment). Such a set {a} is persistent
(Godefroid 1996, definition 4.1): no sequence of other actions from the
state can touch what a reads or writes, enable or disable it, or be
enabled or disabled by it, so every execution from the state is
equivalent to one that takes a first. What makes that true, each checked
here (anything else: the state is expanded fully):

- the instruction at the task's pc, and every instruction the same step
  goes on into (runtime/kernel/machine.py ``_execute``: jumps, fused and
  free instructions), is a store to a local or a branch whose expressions
  read only locals and constants (no memory, global, per-CPU variable,
  other task's local, built-in, report or function call), so the step
  reads nothing but its own context (``local_pcs``, a static table);
- the step, taken here, changed only that context's pc and locals: not
  its status, counters or resched flag (a division by zero that oopses,
  a task that ends, is not local), so nothing another CPU may enable
  changes, and the step does the same in every state the other CPUs can
  lead to (they never write a running task's context: wake-ups only
  touch waiting tasks, a switch or an irq only the CPU's own current);
- it is the only enabled action of the task and of its CPU, and no other
  task can be switched in there before it, nor the task be migrated
  elsewhere: the CPU is not preemptible (preempt_count, interrupts off,
  or no CONFIG_PREEMPTION without an explicit point), or the task is
  pinned (or migration is disabled) and no other live task may ever run
  there;
- no irq handler is still to run or running (a fatal error in one panics
  the machine: every action disabled), and the scenario has no softirqs.

No other context reads a task's locals: ``task.var`` is for expectations
only (dsl/check, E408), which see the ends, and the ends are kept.

On one CPU the set is never smaller than the enabled set (every other
task is enabled whenever the CPU is preemptible), so the explorer asks
only with several CPUs.

CPU sets. T, every enabled action on CPU c, is persistent in state s
(Godefroid 1996, definition 4.1: along any sequence of actions outside T
from s, each is independent of every action of T where it is taken) when
each of the following is checked here, and otherwise the state is
expanded fully (or another CPU tried, lowest number first, so that one
CPU tends to run to its end before the next begins):

1. No live task may migrate (every live task is pinned: an unpinned one
   could take CPU c, or leave it), the scenario has no softirqs, and
   every live context of the other CPUs has a static footprint
   (runtime/search/footprint.py: ``remaining`` from its pc, its
   ``base``, and ``underflow`` from its kmap_local depth), OR-ed into
   MR (may read) and MW (may write), bits over the flat positions with a
   context's ``released`` records split per window of addresses. The
   actions outside T from s are exactly the actions of those contexts:
   the contexts bound to c act only on c, and (2) keeps the set of
   actions on c equal to T.
2. What decides CPU c's enabled actions (``enabled``: its contexts and
   idle task, its CPU record, ``panicked``, the locks its contexts spin
   on) is not in MW: no action outside T enables or disables an action
   on c, so T stays enabled and no other action on c appears. That holds
   for c's TLB evictions too (runtime/kernel/tlb.py: offered where an
   enabled step would use c's entry): only c's own steps use c's entries,
   since another CPU's context that could reach an address of c's slots
   (a pointer of unknown provenance) has no footprint but "anything", and
   the one step elsewhere that changes c's slots, x86's pop once too many
   on the CPU above, puts c's record in MW (``underflow``). Every CPU's
   record is in MR and MW, live contexts or not, for its evictions. An irq
   still to run elsewhere may panic (MW has ``panicked``): no CPU set
   then but its own CPU's.
3. For each a in T, R_a, what a reads (its recording: StepMemo.footprint,
   the same positions in the same order in every state that agrees there,
   plus its context, its CPU and ``panicked``; debug_locks only where
   DEBUG_LOCKS_WARN_ON looked at it), is disjoint from MW: a does the same
   in every state a sequence outside T leads to (it reads the same
   values, and a step is a function of what it reads, runtime/search/
   memo.py), so it stays enabled (2) and makes the same changes.
4. For each a in T, W_a, what a writes (its changes; a context's
   ``released`` per window of the addresses added or removed), is
   disjoint from MR and MW: every action b outside T reads the same
   values after a as before it, so it does the same (and stays enabled:
   what decides it is in MR), and no position is written by both, so
   s.a.b = s.b.a. With (3) that is independence of a and b wherever b
   is taken, which is persistence.

What the footprints make of the cross-CPU effects of the kernel model:
a kunmap_local that pops once too often clears the last slot of the CPU
below on x86 (``underflow``: the other CPU's record is in MW unless the
context's depth covers every pop still to come; a's own pop is in W_a);
ARM's non-linear array and the address's own CPU come from the pointer's
provenance (a local only ever set from kmap_local of a page: a slot of
its own CPU, or the page's direct map), anything else is "anything"; the
end of a task may turn debug_locks off, which the other CPUs' steps may
read (MR has it, so a T step that writes it is not independent) and a
step of T that reads it (W of others has it) is not either; an oops
reads pkmap_waiters and reports (in every context's footprint); a fault
reads every context's releases at the faulting address (its CPU's
window); the pkmap pool, the VIVT cache (with the pages it can write
back) and ``percpu`` are whole positions. ``reports`` is one position:
two steps that report are dependent here, although the state keeps
reports as a sorted multiset, so that two reports of different contexts
would commute: a WARN_ON_ONCE site in a function is shared by every
context (``once``), and DEBUG_LOCKS_WARN_ON prints only for the first,
so some of them truly do not, and none is told apart. Nothing reads
"which CPU runs what" of another CPU: a CPU record is read only by its
own steps (switches, irq entry, fixmap slots) and by a fault or
use-after-unmap check through a pointer of that CPU's slots, which (1)
puts in the footprint of the context that holds the pointer.

The pkmap pool (mm/highmem.c v6.1, runtime/kernel/pkmap.py). kmap() and
kunmap() of a page name, and byte accesses through a local only ever set
by kmap() of a highmem page name, have static footprints
(runtime/search/footprint.py): the pool's positions, and two pseudo-bits
for what only some calls do, FLUSH (a scan that wraps: flush_all_zero_
pkmaps, its IPI wait, a sleep on pkmap_map_wait) and WAKE (kunmap_high's
wake_up of the sleepers). Read as they stand, every pool step of every
CPU would conflict with every other. Three facts of the kernel's pool,
checked in the state at hand for the sequences outside T (the other
CPUs' steps, CPU c frozen), make most of them independent (``_Pool``):

- Quiet. map_new_virtual() takes the first free slot (count 0) after
  last_pkmap_nr and flushes only when its scan passes slot 0. Nothing
  frees a slot but a flush (kunmap_high lowers a count to 1 at least;
  at 0 it is a BUG that stops the context). So if the kmap() calls the
  other CPUs' live contexts may still make (``map_calls``: the most on
  any path, no bound through a loop) are no more than the free slots
  between last_pkmap_nr and the end of the pool, none of their scans
  wraps: no flush, no sleep; with nobody asleep on pkmap_map_wait nor
  waiting for a flush's IPI now, no wake-up and no IPI either. FLUSH
  and WAKE then stand for nothing.
- Protected slots. A slot whose page no context of another CPU names
  (``Footprints.private``: no page name of it in their code, and no
  call that could take a page from elsewhere) is written by them only
  if a scan takes it (count 0) or a flush frees it (count 1): with a
  count of 2 or more, or 1 when quiet, never. Its count and PTE are
  taken out of what they may write.
- Steps of c that they cannot see. A kmap() or kunmap() of such a page
  reads every PTE (page_address), but the others only map their own
  pages into free slots and clear slots of count 1, so where the page
  is not in the pool or is in a protected slot the lookup finds the
  same; and when quiet, a change of a protected slot's count that
  leaves it at 1 or more is seen by no scan (a scan tests a count for
  0 only). Those reads and writes are exempt (``_Pool.exempt``).

A wake-up elsewhere reaches only contexts that sleep now: CPU c's that do
not sleep cannot start to while it is frozen, so WAKE never writes them.
What decides this (counts, PTEs, last_pkmap_nr, the sleepers, kmap_ipi,
the contexts' pcs) is all in the state and in the key of the caches.

A safety net: every step this module records for T is checked against
the static footprint of its own context (``check_static``: the other
CPUs are judged by the same table); a step outside it raises
FootprintError, an internal error, instead of a verdict that might be
wrong.

The ignoring problem, and the never-ending executions: a reduced state
on a cycle of the reduced graph could postpone the other CPUs forever
and lose the states of a bottom component. The explorer therefore
re-expands fully every reduced state that lies on a cycle (``on_cycles``)
and goes on until none does. With every state of every reduced cycle
fully expanded, the reduced graph has exactly the full graph's terminal
states and bottom components, each with all its states and transitions
(docs/performance.md, "State-level reduction", gives the argument), so
outcomes, their conditions over a loop, and verdicts are the same. The
argument needs of a reduced state only that its set is persistent and
not empty: from it, an execution to a terminal state or into a bottom
component has an equivalent one that begins with an action of the set
(the first one it takes, moved to the front; or, if it takes none, any
action of the set, which stays enabled and commutes with the whole
execution, into the same component).

With symmetry (runtime/search/symmetry.py): phase 1 then builds the
quotient graph, one canonical state q per orbit of interchangeable
tasks, and this module picks the persistent set P(q) in q, from q's real
successors (explore._reducer gives it the inner stepper, not the
canonicalising one). The unfolding expands each real state g(q) by
g(P(q)), with the g the unfolding names it by. That set is persistent in
g(q): g is an automorphism of the transition system (the property
symmetry rests on, checked on every transition by tests/test_symmetry.py),
so it maps sequences outside P(q) from q to sequences outside g(P(q))
from g(q), and independence with them; a local step stays local. The
proviso reads the quotient's cycles: a cycle of the real reduced graph
s0 -> s1 -> ... -> s0 maps, state by state (g(q) to q) and edge by edge
(g(a) to a), onto a closed walk of the reduced quotient, so every state
it passes is on a cycle of the quotient and was expanded fully, and so
is every real state of the real cycle. The argument above then holds on
the real graph as it stands. P is not equivariant (the first local step
in context order, a canonical state's choice carried to its whole
orbit), so the real graph unfolded can differ from the one this module
makes without symmetry: the same terminal states and bottom components,
other counts of states and executions (docs/performance.md).
"""

from __future__ import annotations

from array import array
from typing import Any
from collections.abc import Callable, Sequence

from kmap_scenarios.runtime.kernel import program as ir
from kmap_scenarios.runtime.kernel.machine import Action
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.builtins import spinning_on
from kmap_scenarios.runtime.kernel.memory import fixmap_slot
from kmap_scenarios.runtime.kernel.state import Ctx, Status, idle_ctx
from kmap_scenarios.runtime.kernel.tx import FIELD
from kmap_scenarios.runtime.search.flat import Codec, Flat
from kmap_scenarios.runtime.search.footprint import RELEASED as _RELEASED, Footprints, bits

_PURE = (ir.Const, ir.Local, ir.PageRef, ir.PercpuVar, ir.LockArg)
_LIVE_NOT = (int(Status.DONE), int(Status.DEAD))
_READY = int(Status.READY)
# the fields of a context a local step may change
_MAY_CHANGE = frozenset({Ctx._fields.index("pc"), Ctx._fields.index("locals")})


def pure(e: ir.Expr) -> bool:
    """An expression that reads only the executing context's locals and
    constants (a division by zero or a bad page index still oopses: the
    step's changes show it, and it is then not local)."""
    todo = [e]
    while todo:
        x = todo.pop()
        if isinstance(x, _PURE):
            continue
        if isinstance(x, ir.OPERATORS):
            todo += ir.operands(x)
        else:
            return False
    return True


def _local_instr(ins: ir.Instr) -> bool:
    if isinstance(ins, ir.Set):
        return isinstance(ins.dest, ir.ToLocal) and pure(ins.value)
    if isinstance(ins, ir.Branch):
        return pure(ins.cond)
    return False


def local_pcs(code: tuple[ir.Instr, ...], free: Sequence[bool]) -> bytearray:
    """1 at each pc whose step (the instruction and whatever the same step
    goes on into) is local; instructions a step goes on into are the ones
    ``free`` marks, after following jumps (machine._advance). A step that
    reaches End finishes the task, which is not local: whether it does
    depends on the locals alone, and the step's changes show it."""
    n = len(code)
    out = bytearray(n)
    state = bytearray(n)   # 0 unknown, 1 being decided, 2 decided

    def next_pcs(pc: int) -> list[int]:
        ins = code[pc]
        nxt = [pc + 1]
        if isinstance(ins, ir.Branch):
            nxt.append(ins.target)
        return [ir.follow_jumps(code, p) for p in nxt if 0 <= p < n]

    for start in range(n):
        if state[start]:
            continue
        # iterative post-order over the "goes on into" edges (acyclic in
        # practice; a cycle is decided not local)
        stack = [(start, 0)]
        while stack:
            pc, k = stack.pop()
            if k == 0:
                if state[pc] == 2:
                    continue
                if state[pc] == 1 or not _local_instr(code[pc]):
                    state[pc] = 2
                    continue
                state[pc] = 1
                stack.append((pc, 1))
                for q in next_pcs(pc):
                    if free[q] and not isinstance(code[q], ir.End) and state[q] != 2:
                        stack.append((q, 0))
                continue
            ok = True
            for q in next_pcs(pc):
                # reaching End finishes the task (status, reports, the
                # locks it holds): the step's changes show it (_check)
                if free[q] and not isinstance(code[q], ir.End) and not out[q]:
                    ok = False
            out[pc] = 1 if ok else 0
            state[pc] = 2
    return out


class FootprintError(AssertionError):
    """A step touched what the static footprint of its context says it
    never may (runtime/search/footprint.py): the table is wrong, and no
    reduction that relied on it can be trusted (an internal error)."""


StepFootprint = Callable[[Flat, Action], tuple[Flat, tuple[int, ...], tuple[tuple[int, int], ...]]]


class Reducer:
    """Persistent sets for one program's flat states (runtime/search/flat.py)."""

    def __init__(self, program: Program, codec: Codec,
                 step: Callable[[Flat, Action], Flat],
                 footprint: StepFootprint | None = None) -> None:
        self.p = program
        self.codec = codec
        self.step = step
        # the CPU sets (``cpu_set``): the static may-footprints of the
        # other CPUs' contexts, and each step's own, recorded footprint
        self.fp = Footprints(program, codec) if program.config.NR_CPUS > 1 else None
        self.footprint: StepFootprint = footprint or self._recorded
        self._pos_bits: dict[tuple[int, ...], int] = {}
        # the static safety net's verdicts on (action, pc, depth, reads, writes)
        self._wbits: dict[tuple[object, ...], int] = {}
        self._views: dict[tuple[object, ...], tuple[int, int, int, _Pool | None]] = {}
        self._oks: dict[tuple[object, ...], bool] = {}
        self._pool_at = tuple(p for name in ("pkmap_count", "pkmap_pte", "last_pkmap_nr",
                                             "pkmap_waiters", "kmap_ipi")
                              for p in codec.field_positions(name))
        self._may: dict[Flat, list[tuple[int, int, int | None] | None]] = {}
        self.cpu_sets = 0   # states given a CPU's actions as their persistent set
        cfg = program.config
        self.preemption = bool(cfg.CONFIG_PREEMPTION)
        self.nctx = len(program.contexts)
        ctxs = program.contexts
        self.irqs = [i for i, c in enumerate(ctxs) if c.is_irq]
        self.tasks = [i for i, c in enumerate(ctxs) if not c.is_irq]
        self.pinned = [c.cpu for c in ctxs]
        # per task, 1 at each pc whose step is local; None: never reduced
        self.local: list[bytearray | None] = []
        for c in ctxs:
            if c.is_irq or program.softirqs:
                self.local.append(None)
            else:
                self.local.append(local_pcs(c.code, c.free_at))
        self.asked = 0      # states asked about
        self.reduced = 0    # states given a persistent set smaller than the enabled one

    def persistent_set(self, flat: Flat,
                       acts: tuple[Action, ...]) -> tuple[tuple[Action, ...], bool] | None:
        """A persistent set to expand instead of ``acts``, and whether it
        is a single local step (the sleep sets look through those:
        runtime/search/explore.py), or None (expand fully). A local step
        first (one action), else the smallest CPU set that holds."""
        a = self.persistent(flat, acts)
        if a is not None:
            return (a,), True
        if len(acts) < 2:
            return None
        got = self.cpu_set(flat, acts)
        if got is None:
            return None
        self.cpu_sets += 1
        return got, False

    def persistent(self, flat: Flat, acts: tuple[Action, ...]) -> Action | None:
        """The one action of a persistent set {a} smaller than ``acts``, or
        None (expand fully)."""
        self.asked += 1
        values = self.codec.ctx_values
        for i in self.irqs:
            if values[flat[i]].status not in _LIVE_NOT:
                return None
        for a in acts:
            if self._check(flat, acts, a, values):
                self.reduced += len(acts) > 1
                return a
        return None

    # ------------------------------------------------------------ CPU sets
    def cpu_set(self, flat: Flat, acts: tuple[Action, ...]) -> tuple[Action, ...] | None:
        """Every enabled action of one CPU c, when that set is persistent
        (the module's docstring gives the conditions), the smallest such;
        None otherwise."""
        fp = self.fp
        if fp is None or not fp.supported:
            return None
        # what each CPU's live contexts may still read and write: a
        # function of the contexts' parts alone (pc, status, kmap depth);
        # per CPU c, the other CPUs' union (None: c can have no set)
        key = flat[:self.nctx]
        others = self._may.get(key)
        if others is None:
            if len(self._may) >= 1 << 20:
                self._may.clear()   # a bound on its memory; it is only a cache
            others = self._may[key] = self._others(*self._may_of(flat))
        if not others:
            return None
        by_cpu: dict[int, list[Action]] = {}
        for a in acts:
            by_cpu.setdefault(a[1], []).append(a)
        if len(by_cpu) < 2:
            return None
        pool = None
        for c in sorted(by_cpu):
            o = others[c]
            if o is None:
                continue
            if pool is None:
                pool = tuple([flat[x] for x in self._pool_at])
            mine = by_cpu[c]
            if self._holds(flat, c, mine, key, pool, o):
                return tuple(mine)
        return None

    def _others(self, may: list[tuple[int, int] | None],
                maps: list[int | None]) -> list[tuple[int, int, int | None] | None]:
        """Per CPU c, what the other CPUs' live contexts may still read and
        write and the kmap() calls they may still make (None: c can have
        no CPU set, another CPU may do anything); empty: no CPU can."""
        if not may:
            return []
        out: list[tuple[int, int, int | None] | None] = []
        for c in range(len(may)):
            r = w = 0
            k: int | None = 0
            for d, m in enumerate(may):
                if d == c:
                    continue
                if m is None:
                    out.append(None)
                    break
                r |= m[0]
                w |= m[1]
                md = maps[d]
                k = None if k is None or md is None else k + md
            else:
                out.append((r, w, k))
        return out

    def _may_of(self, flat: Flat) -> tuple[list[tuple[int, int] | None], list[int | None]]:
        """Per CPU, what its live contexts may still read and write (None:
        anything; FLUSH and WAKE as pseudo-bits: footprint.py), and how
        many kmap() calls they may still make (None: no bound); empty
        when no CPU set can hold: a live task that may migrate, or two
        CPUs that may do anything."""
        fp = self.fp
        assert fp is not None
        values = self.codec.ctx_values
        ctxs = [values[flat[i]] for i in range(self.nctx)]
        live = [c.status not in _LIVE_NOT for c in ctxs]
        if any(live[i] and fp.bound[i] is None for i in range(self.nctx)):
            return [], []   # a task that may migrate: not bound to any CPU
        may: list[tuple[int, int] | None] = []
        maps: list[int | None] = []
        for c in range(self.p.config.NR_CPUS):
            # the CPU's own part even with no live context (a TLB eviction
            # there touches its record: runtime/kernel/tlb.py)
            r = w = fp.local[c]
            k: int | None = 0
            for i in range(self.nctx):
                if fp.bound[i] != c or not live[i]:
                    continue
                f = fp.remaining(i, ctxs[i].pc)
                if f is None:
                    r = -1
                    break
                br, bw = fp.base(i)
                r |= f[0] | br
                w |= f[1] | bw | fp.underflow(i, ctxs[i].pc, ctxs[i].kmap_idx)
                m = fp.map_calls(i, ctxs[i].pc)
                k = None if k is None or m is None else k + m
            may.append(None if r < 0 else (r, w))
            maps.append(k)
        return ([], []) if may.count(None) > 1 else (may, maps)

    def _holds(self, flat: Flat, c: int, mine: list[Action], key: Flat, pool: tuple[int, ...],
               others: tuple[int, int, int | None]) -> bool:
        """CPU c's enabled actions ``mine`` against what the other CPUs'
        contexts may still read (other_r) and write (other_w), and the
        kmap() calls they may still make (other_k: None, no bound).

        Both halves are cached (a search asks this in most states): the
        other CPUs' side by what it is a function of (the contexts' parts,
        the pool's positions), each action's verdict by that side and the
        action's recorded footprint."""
        nctx = self.nctx
        vkey = (c, key, pool)
        view = self._views.get(vkey)
        ctxs: list[Ctx] = []
        if view is None:
            if len(self._views) >= 1 << 18:
                self._views.clear()   # a bound on its memory; it is only a cache
                self._oks.clear()
            ctxs = self._ctxs(flat)
            view = self._views[vkey] = self._view(flat, c, ctxs, *others)
        vid, other_r, other_w, pview = view
        if vid < 0:
            return False
        oks = self._oks
        for a in mine:
            child, positions, delta = self.footprint(flat, a)
            ci = a[0]
            akey = (vid, a, flat[ci] if ci >= 0 else -1, positions, delta,
                    tuple([flat[p] for p, _ in delta if p < nctx]))
            ok = oks.get(akey)
            if ok is None:
                ctxs = ctxs or self._ctxs(flat)
                ok = oks[akey] = self._action_holds(flat, c, a, ctxs, positions, delta,
                                                    other_r, other_w, pview)
            if not ok:
                return False
        return True

    def _ctxs(self, flat: Flat) -> list[Ctx]:
        values = self.codec.ctx_values
        return [values[flat[i]] for i in range(self.nctx)]

    def _view(self, flat: Flat, c: int, ctxs: list[Ctx], other_r: int, other_w: int,
              other_k: int | None) -> tuple[int, int, int, _Pool | None]:
        """The other CPUs' side of ``_holds``: (an id, what they may read,
        what they may write, the pool's view), the id -1 when they may
        change which actions CPU c has."""
        fp = self.fp
        assert fp is not None
        # the pool's arguments, where another CPU may still use the pool
        pool = _Pool(self, flat, c, ctxs, other_k) if other_w & fp.pseudo else None
        if pool is None:
            other_r, other_w = fp.expand_r(other_r), fp.expand_w(other_w)
        else:
            other_r = fp.expand_r(other_r, pool.quiet)
            other_w = fp.expand_w(other_w, pool.quiet, pool.spare) & ~pool.protected
        # what decides which actions CPU c has: its contexts, its idle
        # task, its record, panicked, the locks its contexts spin on
        en = fp.local[c] | fp.pan
        for i in range(self.nctx):
            if fp.bound[i] == c:
                lock = spinning_on(ctxs[i].pending)
                if lock >= 0:
                    en |= bits(self.codec._where(FIELD["locks"], lock))
        vid = -1 if en & other_w else len(self._views)
        return vid, other_r, other_w, pool

    def _action_holds(self, flat: Flat, c: int, a: Action, ctxs: list[Ctx],
                      positions: tuple[int, ...], delta: tuple[tuple[int, int], ...],
                      other_r: int, other_w: int, pool: _Pool | None) -> bool:
        """One action of CPU c, by its recorded footprint, against the
        other CPUs' side (``_view``), after the static safety net."""
        fp = self.fp
        assert fp is not None
        ci = a[0]
        # a TLB eviction (runtime/kernel/tlb.py) runs as c's idle task
        me = ci if ci >= 0 else idle_ctx(self.p, c)
        r = self._read_bits(positions) | fp.ctx_bits(me) | fp.cpu_bit[c] | fp.pan
        w = self._write_bits(flat, delta)
        if ci >= 0:
            self.check_static(a, ctxs[ci], r, w)
            if pool is not None and (r & other_w or w & (other_r | other_w)):
                r, w = pool.exempt(ci, ctxs[ci], r, w, delta)
        return not (r & other_w or w & (other_r | other_w))

    def _read_bits(self, positions: tuple[int, ...]) -> int:
        got = self._pos_bits.get(positions)
        if got is None:
            fp = self.fp
            assert fp is not None
            got = 0
            for p in positions:
                got |= fp.ctx_bits(p) if p < self.codec.nctx else 1 << p
            self._pos_bits[positions] = got
        return got

    def _write_bits(self, flat: Flat, delta: tuple[tuple[int, int], ...]) -> int:
        """The bits a step's changes write: a context's ``released`` apart
        from the rest of it."""
        fp = self.fp
        assert fp is not None
        nctx, values = self.codec.nctx, self.codec.ctx_values
        key = (delta, tuple([flat[p] for p, _ in delta if p < nctx]))
        got = self._wbits.get(key)
        if got is not None:
            return got
        if len(self._wbits) >= 1 << 18:
            self._wbits.clear()   # a bound on its memory; it is only a cache
        w = self._wbits[key] = self._write_bits_of(flat, delta)
        return w

    def _write_bits_of(self, flat: Flat, delta: tuple[tuple[int, int], ...]) -> int:
        fp = self.fp
        assert fp is not None
        nctx, values = self.codec.nctx, self.codec.ctx_values
        w = 0
        for p, v in delta:
            if p >= nctx:
                w |= 1 << p
                continue
            old, new = values[flat[p]], values[v]
            if old.released != new.released:
                for vaddr, _ in set(old.released) ^ set(new.released):
                    where = fixmap_slot(self.p.config, vaddr)
                    w |= fp.rel_bit(p, fp.windows - 1 if where is None else where[0])
            if old[:_RELEASED] != new[:_RELEASED] or old[_RELEASED + 1:] != new[_RELEASED + 1:]:
                w |= 1 << p
        return w

    def recorded(self, flat: Flat, a: Action, positions: tuple[int, ...],
                 delta: tuple[tuple[int, int], ...]) -> None:
        """Every step the memo records (StepMemo.on_record), whatever
        set it was taken in, checked against its context's static
        footprint: the table the other CPUs are judged by holds for every
        distinct step of the search, not only for the CPU sets'."""
        fp = self.fp
        if fp is None or not fp.supported:
            return
        ci = a[0]
        if not 0 <= ci < self.nctx:
            return
        r = self._read_bits(positions) | fp.ctx_bits(ci) | fp.cpu_bit[a[1]]
        self.check_static(a, self.codec.ctx_values[flat[ci]], r, self._write_bits(flat, delta))

    def check_static(self, a: Action, me: Ctx, r: int, w: int) -> None:
        """The safety net: a step's recorded reads and writes lie within
        the static may-footprint of its context at its pc (what the other
        CPUs are judged by); FootprintError if not."""
        fp = self.fp
        assert fp is not None
        ci = a[0]
        f = fp.remaining(ci, me.pc)
        if f is None or fp.bound[ci] is None:
            return
        br, bw = fp.base(ci)
        mr = fp.expand_r(f[0] | br)
        mw = fp.expand_w(f[1] | bw | fp.underflow(ci, me.pc, me.kmap_idx))
        # a recording notes a context as a whole (a fault reads every
        # context's ``released``: all of them): a read of one is covered
        # by any of its bits
        for i in range(self.codec.nctx):
            m = fp.ctx_bits(i)
            if r & m and (mr | mw) & m:
                r &= ~m
        if r & ~(mr | mw) or w & ~mw:
            raise FootprintError(
                f"step {a} at pc {me.pc} read bits {r & ~(mr | mw):#x}, wrote "
                f"{w & ~mw:#x} outside its static footprint")

    def _recorded(self, flat: Flat, a: Action) -> tuple[Flat, tuple[int, ...],
                                                        tuple[tuple[int, int], ...]]:
        """A step's footprint without the memo: run it with its reads noted."""
        from kmap_scenarios.runtime.search.memo import record_step
        return record_step(self.p, self.codec, flat, a)

    def _check(self, flat: Flat, acts: tuple[Action, ...], a: Action, values: list[Ctx]) -> bool:
        ci, cpu = a
        if ci < 0:
            return False   # a TLB eviction (runtime/kernel/tlb.py) is no local step
        local = self.local[ci]
        if local is None:
            return False
        me = values[flat[ci]]
        if not local[me.pc] or me.status != _READY or me.pending is not None or me.resched:
            return False
        here = self.codec.cpu(flat, cpu)
        if here.curr != ci or here.irqs or me.cpu != cpu:
            return False
        for b in acts:
            if b != a and (b[0] == ci or b[1] == cpu):
                return False
        switchable = not me.preempt_count and not here.irqs_off and self.preemption
        if switchable and self.pinned[ci] is None and not (me.migration_disabled or me.kmap_idx):
            # another CPU freed by its own steps could take this task
            # (migration): an action of the same task that others enable
            return False
        if switchable:
            for d in self.tasks:
                if d == ci:
                    continue
                pin = self.pinned[d]
                if (pin is None or pin == cpu) and values[flat[d]].status not in _LIVE_NOT:
                    return False
        # taken here: it must change its own pc and locals only
        child = self.step(flat, a)
        if child[ci] == flat[ci]:
            return False   # a step that changes nothing (a loop to itself): expand fully
        for k in range(len(flat)):
            if k != ci and child[k] != flat[k]:
                return False
        after = values[child[ci]]
        for k, (u, v) in enumerate(zip(me, after)):
            if u != v and k not in _MAY_CHANGE:
                return False
        return True


class _Pool:
    """The pkmap pool in one state, seen from CPU c while the other CPUs
    run (por.py's docstring, "The pkmap pool"): whether no wrap can
    happen there (``quiet``), the slots none of them can write
    (``protected``), and the exemptions of c's own steps (``exempt``)."""

    def __init__(self, red: Reducer, flat: Flat, c: int, ctxs: list[Ctx],
                 other_k: int | None) -> None:
        fp = red.fp
        assert fp is not None
        codec, p = red.codec, red.p
        self.fp, self.p = fp, p
        self.mine = [i for i in range(red.nctx) if fp.bound[i] == c]
        # a wake-up elsewhere reaches only the contexts that wait now
        # (CPU c's do not start to: they are frozen)
        self.spare = 0
        for i in self.mine:
            if ctxs[i].status != int(Status.WAIT_PKMAP):
                self.spare |= fp.ctx_bits(i)
        self.quiet = False
        self.protected = 0
        self.slot_of: dict[int, int] = {}   # a page of c's in the pool -> its slot
        self.count_at: dict[int, int] = {}  # the count position -> its slot
        self.counts: list[int] = []
        self.ptes: list[int] = []
        # the arguments need a position per slot (flat.SHORT) and the pool
        self.ready = fp.per_slot and fp.pool_ok
        if not self.ready:
            return

        def value(pos: int) -> Any:
            return codec.values[codec.kind[pos]][flat[pos]]

        n = p.config.LAST_PKMAP
        counts: list[int] = [value(pos) for pos in fp.count_pos]
        ptes: list[int] = [value(pos) for pos in fp.pte_pos]
        last: int = value(codec.field_positions("last_pkmap_nr")[0])
        waiters: tuple[int, ...] = value(codec.field_positions("pkmap_waiters")[0])
        ipi: int = value(codec.field_positions("kmap_ipi")[0])
        # map_new_virtual takes the first free slot after last_pkmap_nr and
        # flushes when it passes slot 0: with at least as many free slots
        # before the end as kmap() calls still to come elsewhere (each
        # takes one, none is freed without a flush), none wraps; without a
        # wrap nobody sleeps, and nobody sleeps now nor waits for an IPI
        free = sum(1 for x in range(last + 1, n) if counts[x] == 0)
        self.quiet = other_k is not None and other_k <= free and not waiters and ipi == -1
        self.counts, self.ptes = counts, ptes
        for x in range(n):
            if not ptes[x]:
                continue
            page = p.pfn_to_page.get(ptes[x] - 1)
            if page is None or not fp.private(page, self.mine):
                continue
            self.slot_of[page] = x
            # nobody else maps, unmaps or pins a page only c's contexts
            # name; a scan takes only a free slot, a flush frees only one
            # whose count is 1 (and none happens when quiet)
            if counts[x] >= 2 or (counts[x] >= 1 and self.quiet):
                self.protected |= 1 << fp.count_pos[x] | 1 << fp.pte_pos[x]
                self.count_at[fp.count_pos[x]] = x

    def exempt(self, ci: int, me: Ctx, r: int, w: int,
               delta: tuple[tuple[int, int], ...]) -> tuple[int, int]:
        """What of a step of c's context ci no other CPU's step can see or
        change, taken out of its reads r and writes w:

        - a kmap() or kunmap() of a page only c's contexts name reads
          every PTE to find it (page_address); where it is not in the
          pool, or in a protected slot, the others' steps leave it where
          it is (they map only their own pages, into free slots, and
          clear only slots of count 1), so the search finds the same;
        - when quiet, a change of a protected slot's count that leaves it
          at 1 or more: the others' scans only test a count for 0."""
        fp = self.fp
        if not self.ready:
            return r, w
        ins = self.p.contexts[ci].code[me.pc]
        if isinstance(ins, ir.Call) and ins.name in ("kmap", "kunmap") and len(ins.args) == 1 \
                and isinstance(ins.args[0], ir.PageRef):
            page = ins.args[0].page
            if fp.private(page, self.mine):
                x = self.slot_of.get(page)
                if x is None and not any(self.p.pfn_to_page.get(pt - 1) == page
                                         for pt in self.ptes if pt) \
                        or x is not None and fp.count_pos[x] in self.count_at:
                    r &= ~fp.pte
        if self.quiet:
            values = self.fp.codec.values
            kind = self.fp.codec.kind
            for pos, v in delta:
                if pos in self.count_at:
                    new = values[kind[pos]][v]
                    if new >= 1 and self.counts[self.count_at[pos]] >= 1:
                        w &= ~(1 << pos)
        return r, w


def on_cycles(n: int, acts: Sequence[tuple[object, ...]], off: Sequence[int],
              dst: Sequence[int], wanted: bytearray) -> list[int]:
    """The states s with ``wanted[s]`` that lie on a cycle of the graph
    (a strongly connected component of more than one state, or an edge
    to itself). Tarjan's algorithm, iterative."""
    index = array("q", [-1]) * n
    low = array("q", [0]) * n
    on_stack = bytearray(n)
    comp: list[int] = []
    out: list[int] = []
    counter = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        index[root] = low[root] = counter
        counter += 1
        comp.append(root)
        on_stack[root] = 1
        o = off[root]
        work = [[root, o, o + len(acts[root]) if o >= 0 else o]]
        while work:
            f = work[-1]
            v, pos, end = f
            pushed = False
            while pos < end:
                w = dst[pos]
                pos += 1
                if w < 0:
                    continue
                if w == v and wanted[v]:
                    out.append(v)
                if index[w] < 0:
                    f[1] = pos
                    index[w] = low[w] = counter
                    counter += 1
                    comp.append(w)
                    on_stack[w] = 1
                    ow = off[w]
                    work.append([w, ow, ow + len(acts[w]) if ow >= 0 else ow])
                    pushed = True
                    break
                if on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
            if pushed:
                continue
            f[1] = pos
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                members = []
                while True:
                    w = comp.pop()
                    on_stack[w] = 0
                    members.append(w)
                    if w == v:
                        break
                if len(members) > 1:
                    out.extend(w for w in members if wanted[w])
    return sorted(set(out))
