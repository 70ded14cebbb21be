"""enabled(program, state) and step(program, state, action): the one semantics.

An action is ``(ctx, cpu)``: context ``ctx`` executes its next step on
``cpu``. If it is not running there yet, the step begins with what makes it
run: an irq's entry, or a context switch (kmap_local_sched_out of the
previous task, sched_in of this one), possibly a migration. The order of
``enabled`` is fixed: contexts in source order, then CPUs in order, then
the TLB evictions. An eviction is ``(tlb.evict_action(slot), cpu)``, a
negative ``ctx`` that names no context: ``cpu``'s TLB drops the entry it
may still hold for its kmap_local ``slot`` (runtime/kernel/tlb.py), which
only an x86 kunmap_local out of order (or a pop too many) leaves behind.
It is offered only where an enabled step would use the entry (``_evictions``).

When ``ctx`` may step on ``cpu`` (docs/kernel-semantics.md §3, §7):
- an irq fires at any moment its CPU has interrupts enabled, then runs to
  completion, innermost first, before anything else on that CPU;
- a task already running steps unless an irq is active on its CPU or it
  spins on a held lock;
- another task may take the CPU when it is idle or its task is
  preemptible: preempt_count 0, interrupts on, and CONFIG_PREEMPTION or an
  explicit point (preempt_point, cond_resched, schedule, msleep, a fault);
- a task bound with ``on cpuN`` stays there; others may start or resume on
  any CPU unless migration is disabled (migrate_disable or kmap_local).
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import (builtins, cache, frames, kmap_window, preempt,
                                          program as ir, sched, softirq, tlb)
from kmap_scenarios.runtime.kernel.watchdog import stuck_reports
from kmap_scenarios.runtime.kernel.evaluate import eval_expr
from kmap_scenarios.runtime.kernel.handler import PENDING_KMAP_IPI
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.reports import Kind, R, kind_of
from kmap_scenarios.runtime.kernel.state import Ctx, Report, State, Status, idle_ctx
from kmap_scenarios.runtime.kernel.tx import Killed, Loc, Tx

Action = tuple[int, int]


def _cpus_for(program: Program, ctx: Ctx, pinned: int | None) -> range | tuple[int, ...]:
    if pinned is not None:
        return (pinned,)
    if ctx.cpu >= 0 and (ctx.migration_disabled or ctx.kmap_idx):
        return (ctx.cpu,)
    return range(program.config.NR_CPUS)


_READY, _PENDING, _QUIET = int(Status.READY), int(Status.PENDING), int(Status.QUIET)


def enabled(program: Program, state: State) -> list[Action]:
    """Every action possible in this state, in the fixed order."""
    if state.panicked:
        return []
    out: list[Action] = []
    # whether another task may take each CPU now (computed once per CPU)
    switchable: list[bool | None] = [None] * len(state.cpus)
    for i in range(len(program.contexts)):
        _actions(program, state, i, switchable, out)
    if out and any(c.tlb for c in state.cpus):
        out += _evictions(program, state, out)
    return out


def _evictions(program: Program, state: State, acts: list[Action]) -> list[Action]:
    """The TLB evictions worth taking here: of each entry that one of the
    enabled steps ``acts`` would use (a hit on it, or a new stale PTE of
    its slot that the entry hides: runtime/kernel/tlb.py ``used``).

    An eviction at any other moment gives nothing new. Until a step uses
    the entry, the eviction commutes with every step: one that flushes the
    entry leaves the same state with or without it, and none reads it.
    So every execution that evicts earlier is equivalent to one that
    evicts just before the step that uses the entry, and offering the
    eviction only there keeps every outcome while no execution differs
    only by where an unused entry was dropped. No eviction enables a
    context, so a state where no context can step stays an end."""
    used: set[tuple[int, int]] = set()
    for a in acts:
        _run(program, state, a, False, None, None, used)
    return [(tlb.evict_action(slot), c) for c, slot in sorted(used)]


def actions_of(program: Program, state: State, ci: int,
               switchable: list[bool | None] | None = None) -> list[Action]:
    """The actions of context ``ci`` alone, as ``enabled`` lists them (a run
    that only wants one context's, or the first context that has some,
    need not look at the thousands of others). ``switchable``: the
    per-CPU cache ``enabled`` keeps, when the caller asks about several
    contexts of one state."""
    out: list[Action] = []
    if not state.panicked:
        _actions(program, state, ci,
                 [None] * len(state.cpus) if switchable is None else switchable, out)
    return out


def _actions(program: Program, state: State, i: int, switchable: list[bool | None],
             out: list[Action]) -> None:
    """Append the actions of context ``i`` to ``out``, in the fixed order."""
    info = program.contexts[i]
    cpus, ctxs = state.cpus, state.ctxs
    ctx = ctxs[i]
    st = ctx.status
    lock = builtins.spinning_on(ctx.pending)
    blocked = lock >= 0 and state.locks[lock] != -1   # spinning on a held lock
    preemption = program.config.CONFIG_PREEMPTION
    if info.is_irq:
        c = info.cpu
        assert c is not None
        cpu = cpus[c]
        if st == _QUIET:     # a softirq: a timer irq's exit, or ksoftirqd, runs it
            if cpu.softirq_pending:
                ok = switchable[c]
                if ok is None:
                    ok = switchable[c] = sched.can_switch(preemption, cpu.curr, cpu.irqs,
                                                          cpu.irqs_off, ctxs)
                if softirq.may_start(program, state, i, ok):
                    out.append((i, c))
        elif st == _PENDING:
            if not cpu.irqs_off:
                out.append((i, c))
        elif st == _READY and cpu.irqs and cpu.irqs[-1] == i and not blocked:
            out.append((i, c))
        return
    if st != _READY or blocked:
        return
    mine = ctx.cpu
    if mine >= 0 and cpus[mine].curr == i:
        here = cpus[mine]
        if here.irqs:
            return
        out.append((i, mine))
        # A running task can be migrated wherever it could be preempted
        # (the stopper thread / load balancer moves it).
        if info.cpu is not None or ctx.migration_disabled or ctx.kmap_idx or \
                not sched.can_switch(preemption, i, (), here.irqs_off, ctxs):
            return
    for c in _cpus_for(program, ctx, info.cpu):
        if c == mine and cpus[c].curr == i:
            continue
        ok = switchable[c]
        if ok is None:
            cpu = cpus[c]
            ok = switchable[c] = sched.can_switch(preemption, cpu.curr, cpu.irqs,
                                                  cpu.irqs_off, ctxs)
        if ok:
            out.append((i, c))


def step(program: Program, state: State, action: Action,
         trace: bool = False, reads: list[Loc] | None = None,
         ran: list[int] | None = None) -> tuple[State, tuple[str, ...]]:
    """Execute one step; never mutates ``state``; returns the new state and,
    when tracing, what the modelled kernel did. With ``reads``, the parts of
    the state the step touched are noted there (runtime/search/memo.py);
    with ``ran``, the pc of every instruction it executed
    (runtime/search/vacuity.py: a step may run a call's first statement)."""
    ci, cpu = action
    if tlb.is_evict(ci):
        return _evict(program, state, action, trace, reads)
    return _run(program, state, action, trace, reads, ran, None)


def _run(program: Program, state: State, action: Action, trace: bool,
         reads: list[Loc] | None, ran: list[int] | None,
         used: set[tuple[int, int]] | None) -> tuple[State, tuple[str, ...]]:
    """step() of a context's action; ``used``: collects the (cpu, slot) of
    each TLB entry the step used (``_evictions``)."""
    ci, cpu = action
    tx = Tx(program, state, ci, cpu, trace, reads)
    tx.ran = ran
    tx.tlb_used = used
    info = program.contexts[ci]
    ctx = state.ctxs[ci]
    try:
        if info.is_irq:
            if ctx.status == Status.PENDING:
                sched.irq_enter(tx, ci, cpu)
            elif ctx.status == Status.QUIET:
                softirq.start_action(tx, ci, cpu)
        elif state.cpus[cpu].curr != ci:
            sched.switch_to(tx, ci, cpu)
        if tx.me.resched:
            tx.set_me(resched=False)
        _execute(tx, info.code, info.free_at)
    except Killed:
        _kill(tx)
    return tx.commit(), tuple(tx.events or ())


def _evict(program: Program, state: State, action: Action, trace: bool,
           reads: list[Loc] | None) -> tuple[State, tuple[str, ...]]:
    """A TLB eviction (runtime/kernel/tlb.py): it reads and writes only its
    CPU's record, which a memo keys on (the Tx is the CPU's idle task's,
    whose context it never touches)."""
    ci, cpu = action
    tx = Tx(program, state, idle_ctx(program, cpu), cpu, trace, reads)
    tlb.evict(tx, cpu, tlb.evicted_slot(ci))
    return tx.commit(), tuple(tx.events or ())


def switch_step(program: Program, state: State, action: Action,
                reads: list[Loc] | None = None) -> State | None:
    """The context switch a task's step begins with when the task is not
    running on the CPU (sched.switch_to, and the resched flag cleared):
    step() is this followed by the task's instruction from the state it
    leaves, where the task is running. runtime/search/memo.py keeps the two
    apart, because the switch depends on the previous task only through
    its kmap_local slots. None if the switch itself killed the task
    (it never does: __kmap_local_sched_out only warns)."""
    ci, cpu = action
    tx = Tx(program, state, ci, cpu, False, reads)
    try:
        sched.switch_to(tx, ci, cpu)
        if tx.me.resched:
            tx.set_me(resched=False)
    except Killed:
        return None
    return tx.commit()


def _execute(tx: Tx, code: tuple[ir.Instr, ...], free: tuple[bool, ...]) -> None:
    """Execute the instruction at pc, then go on in the same step through
    what is free (program.py): a call's entry, a return without a value,
    and instructions fused to the one before."""
    ins = code[tx.pc]
    while True:
        if tx.ran is not None:
            tx.ran.append(tx.pc)
        t = type(ins)
        if t is ir.Set:
            frames.store(tx, ins.dest, eval_expr(tx, ins.value))  # type: ignore[union-attr, arg-type]
            nxt = tx.pc + 1
        elif t is ir.Call:
            r = builtins.call(tx, ins.name, ins.args)  # type: ignore[union-attr]
            if r is builtins.NOT_DONE:
                return
            if ins.dest is not None:  # type: ignore[union-attr]
                frames.store(tx, ins.dest, 0 if r is None else int(r))  # type: ignore[union-attr, arg-type]
            nxt = tx.pc + 1
        elif t is ir.Branch:
            taken = bool(eval_expr(tx, ins.cond))  # type: ignore[union-attr]
            nxt = tx.pc + 1 if taken else ins.target  # type: ignore[union-attr]
        elif t is ir.Check:
            builtins.HANDLERS[ins.kind](tx, [eval_expr(tx, ins.cond)])  # type: ignore[union-attr]
            nxt = tx.pc + 1
        elif t is ir.Jump:
            nxt = ins.target  # type: ignore[union-attr]
        elif t is ir.CallFn:
            nxt = frames.call(tx, ins)  # type: ignore[arg-type]
        elif t is ir.Ret:
            nxt = frames.ret(tx, ins, code)  # type: ignore[arg-type]
        else:
            _finish(tx)
            return
        if not _advance(tx, code, nxt):
            return
        if not (t is ir.CallFn or free[tx.pc]) or tx.me.status != Status.READY:
            return
        if t is ir.CallFn:
            frames.entered(tx, code)
        ins = code[tx.pc]


def _advance(tx: Tx, code: tuple[ir.Instr, ...], pc: int) -> bool:
    """Move to pc, take jumps for free, and finish on reaching End; False
    when the context finished there."""
    pc = ir.follow_jumps(code, pc)
    tx.set_me(pc=pc)
    tx.pc = pc
    if isinstance(code[pc], ir.End) and tx.me.status == Status.READY:
        if _return_window(tx):
            return False
        _finish(tx)
        return False
    return True


def _return_window(tx: Tx) -> bool:
    """A task's return to user space is a step of its own while an irq of
    its CPU could still come: syscall_exit_to_user_mode() (kernel/entry/
    common.c) runs syscall_exit_to_user_mode_prepare() with interrupts on,
    and only then local_irq_disable_exit_to_user() and
    exit_to_user_mode_prepare(), so a handler may interrupt the task
    itself, with the counts its last statement left. Otherwise no other
    context can tell the two apart, and the return stays in the last
    statement's step (every scenario without a pending irq is unchanged).
    Found by bench/crosscheck.py (docs/fidelity.md, bug 4)."""
    if tx.program.contexts[tx.ci].is_irq or not kmap_window.irq_may_come(tx):
        return False
    if tx.events is not None:
        tx.event(f"{tx.program.contexts[tx.ci].name} is on its way back to user space "
                 "(interrupts on); an irq may come")
    return True


def _finish(tx: Tx) -> None:
    """A task returns to user space (kmap_assert_nomap: DEBUG_LOCKS_WARN_ON
    on a leaked kmap_local, then exit, whose last schedule() clears its
    slots); an irq handler returns."""
    ci = tx.ci
    if tx.program.contexts[ci].is_softirq:
        softirq.finish(tx)
        return
    if tx.in_irq():
        # __handle_irq_event_percpu() (kernel/irq/handle.c): a handler must
        # return with interrupts off; one that enabled them gets a WARN_ONCE
        # and they go off again before the exit path
        if not tx.cpus[tx.cpu].irqs_off:
            tx.warn_once(R.IRQ_HANDLER_ENABLED_IRQS)
            preempt.local_irq_disable(tx)
        tx.set_me(status=int(Status.DONE), pending=None)
        sched.irq_return_count(tx, ci, tx.cpu)
        sched.irq_exit(tx, ci, tx.cpu)
        if tx.events is not None:
            tx.event(f"irq {tx.program.contexts[ci].name} returns")
        softirq.irq_exit(tx, tx.cpu)
        return
    # exit_to_user_mode_prepare(): kmap_assert_nomap(), then lockdep_sys_exit();
    # both go through debug_locks_off(), so only the first ever prints.
    if tx.me.kmap_idx:
        tx.debug_locks_warn(R.RETURN_TO_USER)
    held = [i for i, owner in enumerate(tx.locks) if owner == ci]
    if not held and tx.me.rcu_nesting > 0:
        held = [-1]       # lockdep's rcu_lock_map
    if held:
        tx.debug_locks_warn(R.LOCK_HELD_RETURN, held[0])
    tx.set_me(status=int(Status.DONE), pending=None)
    sched.leave_cpu(tx, ci, tx.cpu)
    if tx.events is not None:
        tx.event(f"{tx.program.contexts[ci].name} returns to user space")


def _kill(tx: Tx) -> None:
    """The context dies where a BUG/oops hit it (or stops at an assert).

    A task is killed (do_exit: its slots are cleared by the final switch,
    locks it holds stay held); a fatal error in an irq handler panics."""
    ci = tx.ci
    last = tx.reports[-1] if tx.reports else None
    fatal = last is not None and kind_of(last.code) in (Kind.BUG, Kind.OOPS)
    if tx.program.contexts[ci].is_softirq and not fatal:
        softirq.finish(tx)    # a failed assert ends this run of the handler
        return
    if tx.me.pending is not None and tx.me.pending[0] == PENDING_KMAP_IPI:
        tx.kmap_ipi = -1    # its kmap_lock with it (pkmap.kmap_lock_waiter)
    tx.set_me(status=int(Status.DEAD), pending=None, preempt_count=0)
    if ci in tx.pkmap_waiters:
        tx.pkmap_waiters.remove(ci)
    if tx.in_irq():
        if fatal:
            tx.report(R.IRQ_PANIC)
            tx.panicked = True
        sched.irq_exit(tx, ci, tx.cpu)
        if not tx.panicked:
            softirq.irq_exit(tx, tx.cpu)
        return
    sched.leave_cpu(tx, ci, tx.cpu)
    if tx.events is not None:
        tx.event(f"{tx.program.contexts[ci].name} is killed" if fatal
             else f"{tx.program.contexts[ci].name} stops at the failed assert")


def is_final(program: Program, state: State) -> bool:
    """Every task and irq has finished (or died), and no softirq is running
    or raised."""
    return all(state.ctxs[i].status in (Status.DONE, Status.DEAD)
               or (c.is_softirq and softirq.finished(program, state, i))
               for i, c in enumerate(program.contexts))


def final_state(program: Program, state: State,
                stuck: tuple[Report, ...] | None = None) -> State:
    """The state expectations see at the end of an execution: the reports
    of the contexts stuck there, then every dirty cache line written back.

    ``stuck``: the stuck contexts' reports of the bottom component the
    state belongs to (runtime/kernel/watchdog.py), for an execution that never
    ends; by default, those of a terminal state (nothing can step), and
    none for a state where something still can (an execution cut short
    has not ended)."""
    tx = Tx(program, state, 0, 0, False)
    if stuck is None and not state.panicked and not is_final(program, state) \
            and not enabled(program, state):
        stuck = stuck_reports(program, [state], [[]])
    if stuck:
        tx.reports.extend(stuck)
    cache.writeback_all(tx)
    return tx.commit()
