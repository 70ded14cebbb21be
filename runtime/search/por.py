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
        self._may: dict[Flat, list[tuple[int, int] | None]] = {}
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
        # function of the contexts' parts alone (pc, status, kmap depth)
        key = flat[:self.nctx]
        may = self._may.get(key)
        if may is None:
            if len(self._may) >= 1 << 20:
                self._may.clear()   # a bound on its memory; it is only a cache
            may = self._may[key] = self._may_of(flat)
        if not may:
            return None
        by_cpu: dict[int, list[Action]] = {}
        for a in acts:
            by_cpu.setdefault(a[1], []).append(a)
        if len(by_cpu) < 2:
            return None
        values = self.codec.ctx_values
        ctxs = [values[flat[i]] for i in range(self.nctx)]
        ncpu = self.p.config.NR_CPUS
        for c in sorted(by_cpu):
            mine = by_cpu[c]
            other_r = other_w = 0
            for k in range(ncpu):
                if k == c:
                    continue
                m = may[k]
                if m is None:
                    break
                other_r |= m[0]
                other_w |= m[1]
            else:
                if self._holds(flat, c, mine, ctxs, other_r, other_w):
                    return tuple(mine)
        return None

    def _may_of(self, flat: Flat) -> list[tuple[int, int] | None]:
        """Per CPU, what its live contexts may still read and write (None:
        anything); empty when no CPU set can hold: a live task that may
        migrate, or two CPUs that may do anything."""
        fp = self.fp
        assert fp is not None
        values = self.codec.ctx_values
        ctxs = [values[flat[i]] for i in range(self.nctx)]
        live = [c.status not in _LIVE_NOT for c in ctxs]
        if any(live[i] and fp.bound[i] is None for i in range(self.nctx)):
            return []   # a task that may migrate: not bound to any CPU
        may: list[tuple[int, int] | None] = []
        for c in range(self.p.config.NR_CPUS):
            # the CPU's own part even with no live context (a TLB eviction
            # there touches its record: runtime/kernel/tlb.py)
            r = w = fp.local[c]
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
            may.append(None if r < 0 else (r, w))
        return [] if may.count(None) > 1 else may

    def _holds(self, flat: Flat, c: int, mine: list[Action], ctxs: list[Ctx],
               other_r: int, other_w: int) -> bool:
        """CPU c's enabled actions ``mine`` against what the other CPUs'
        contexts may still read (other_r) and write (other_w)."""
        fp = self.fp
        assert fp is not None
        # what decides which actions CPU c has: its contexts, its idle
        # task, its record, panicked, the locks its contexts spin on
        en = fp.local[c] | fp.pan
        for i in range(self.nctx):
            if fp.bound[i] == c:
                lock = spinning_on(ctxs[i].pending)
                if lock >= 0:
                    en |= bits(self.codec._where(FIELD["locks"], lock))
        if en & other_w:
            return False
        for a in mine:
            child, positions, delta = self.footprint(flat, a)
            ci = a[0]
            # a TLB eviction (runtime/kernel/tlb.py) runs as c's idle task
            me = ci if ci >= 0 else idle_ctx(self.p, c)
            r = self._read_bits(positions) | fp.ctx_bits(me) | fp.cpu_bit[c] | fp.pan
            w = self._write_bits(flat, delta)
            if ci >= 0:
                self.check_static(a, ctxs[ci], r, w)
            if r & other_w or w & (other_r | other_w):
                return False
        return True

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
        mr = f[0] | br
        mw = f[1] | bw | fp.underflow(ci, me.pc, me.kmap_idx)
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
