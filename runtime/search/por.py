"""State-level partial-order reduction: persistent sets of local steps.

Phase 1 (runtime/search/explore.py) expands, in a state where this module
finds one, a single action instead of every enabled one: a task's step
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

The ignoring problem, and the never-ending executions: a reduced state
on a cycle of the reduced graph could postpone the other CPUs forever
and lose the states of a bottom component. The explorer therefore
re-expands fully every reduced state that lies on a cycle (``on_cycles``)
and goes on until none does. With every state of every reduced cycle
fully expanded, the reduced graph has exactly the full graph's terminal
states and bottom components, each with all its states and transitions
(docs/performance.md, "State-level reduction", gives the argument), so
outcomes, their conditions over a loop, and verdicts are the same.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence

from kmap_scenarios.runtime.kernel import program as ir
from kmap_scenarios.runtime.kernel.machine import Action
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.state import Ctx, Status
from kmap_scenarios.runtime.search.flat import Codec, Flat

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
        if isinstance(x, ir.Binary):
            todo += (x.left, x.right)
        elif isinstance(x, ir.Unary):
            todo.append(x.operand)
        elif isinstance(x, ir.Conv):
            todo.append(x.operand)
        elif isinstance(x, ir.Cond):
            todo += (x.cond, x.then, x.orelse)
        elif isinstance(x, ir.PageElem):
            todo.append(x.index)
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


class Reducer:
    """Persistent sets for one program's flat states (runtime/search/flat.py)."""

    def __init__(self, program: Program, codec: Codec,
                 step: Callable[[Flat, Action], Flat]) -> None:
        self.p = program
        self.codec = codec
        self.step = step
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
