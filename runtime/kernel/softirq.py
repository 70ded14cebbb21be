"""Softirqs: `softirq NAME on cpuN { ... }`, raise_softirq(), local_bh_disable/
enable and where the kernel runs a pending softirq (kernel/softirq.c,
include/linux/bottom_half.h, include/linux/preempt.h; !PREEMPT_RT only:
the checker refuses softirqs with CONFIG_PREEMPT_RT).

A softirq declaration is one vector (its number: its place among the
scenario's softirqs) whose handler runs on CPU N. Raising it sets its bit
in the CPU's local_softirq_pending() (raise_softirq_irqoff); from process
context, where in_interrupt() is 0, the raise also wakes ksoftirqd/N.
A softirq that no raise_softirq() of the file raises is pending from the
start, as if an interrupt before the scenario had raised it.

A pending softirq runs in handle_softirqs() (__do_softirq), entered on
three paths, each with its preempt-count offset:

- irq exit: __irq_exit_rcu() subtracts HARDIRQ_OFFSET and, when
  `!in_interrupt() && local_softirq_pending()`, invoke_softirq() runs
  them at once, before the interrupted context resumes. An explicit irq's
  return does that in its last step; and since timer interrupts come at
  any moment interrupts are enabled, a pending softirq may also run at
  any moment its CPU has interrupts on and is not in interrupt context
  nor bh-disabled (in_interrupt() == 0): an action of its own, like an
  irq firing. `current` is the interrupted task (or the idle task);
  the count is its count + SOFTIRQ_OFFSET.
- local_bh_enable() (and spin_unlock_bh()): __local_bh_enable_ip()
  subtracts cnt - 1, and when `!in_interrupt() && local_softirq_pending()`
  do_softirq() runs them in the caller's context with its count + 1 +
  SOFTIRQ_OFFSET; the caller's step ends there, and its next step is the
  rest of local_bh_enable (the last preempt_count_dec()).
- ksoftirqd: once woken, ksoftirqd/N is a task that gets the CPU when the
  CPU can switch tasks; run_ksoftirqd() runs the softirqs with `current`
  ksoftirqd/N and the count SOFTIRQ_OFFSET, then sleeps.

v6.1's invoke_softirq() and do_softirq() first ask ksoftirqd_running():
while ksoftirqd is TASK_RUNNING the first two paths leave the pending
softirqs to it (the model's vectors are not HI or TASKLET, the two in
SOFTIRQ_NOW_MASK). handle_softirqs() clears the pending mask, enables
interrupts and runs each vector of that pass in order; then, with
interrupts off, it restarts with what was raised meanwhile, at most
MAX_SOFTIRQ_RESTART - 1 times (need_resched() and the 2 ms budget are
not modelled: time is abstract), and wakes ksoftirqd for the rest. A
handler that changes the count is "huh, entered softirq ..." and the
count is set back. Softirqs do not nest: a hardirq during one returns
with in_interrupt() set and leaves the pending ones to the running pass.
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import preempt, sched
from kmap_scenarios.runtime.kernel.handler import NOT_DONE, PENDING_BH, Handler, Result
from kmap_scenarios.runtime.kernel.preempt import (IRQ_COUNT_MASK, SOFTIRQ_DISABLE_OFFSET,
                                                   SOFTIRQ_OFFSET)
from kmap_scenarios.runtime.kernel.program import Program, follow_jumps
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.state import State, Status, idle_ctx, ksoftirqd_ctx
from kmap_scenarios.runtime.kernel.tx import Killed, Tx

MAX_SOFTIRQ_RESTART = 10
_QUIET = int(Status.QUIET)

__all__ = ["SOFTIRQ_DISABLE_OFFSET", "SOFTIRQ_OFFSET", "HANDLERS"]


def _bit(program: Program, si: int) -> int:
    return 1 << program.contexts[si].softirq_nr


def _lowest(program: Program, mask: int) -> int:
    """The context of the lowest vector in mask (ffs() order)."""
    return program.softirqs[(mask & -mask).bit_length() - 1]


def waiting(program: Program, state: State, si: int) -> bool:
    """Whether softirq si has yet to run: raised, or in the pass in progress."""
    info = program.contexts[si]
    assert info.cpu is not None
    c = state.cpus[info.cpu]
    return bool((c.softirq_pending | c.softirq_batch) & (1 << info.softirq_nr))


def finished(program: Program, state: State, si: int) -> bool:
    """A softirq has nothing left to do: not running and not raised."""
    return state.ctxs[si].status == _QUIET and not waiting(program, state, si)


def _current(program: Program, state: State, cpu: int) -> int:
    """`current` on cpu when no handler runs: its task, or its idle task."""
    c = state.cpus[cpu]
    return c.curr if c.curr >= 0 else idle_ctx(program, cpu)


def _current_tx(tx: Tx, cpu: int) -> int:
    c = tx.cpus[cpu]
    return c.curr if c.curr >= 0 else idle_ctx(tx.program, cpu)


def may_start(program: Program, state: State, si: int, can_switch: bool) -> bool:
    """Whether the action (si, its CPU) is possible: si is the first pending
    vector of its CPU, no handler runs there, and either ksoftirqd is
    awake and the CPU can switch to it, or it is asleep and a timer
    interrupt's exit would run the softirqs (interrupts on,
    in_interrupt() == 0 for the interrupted context)."""
    info = program.contexts[si]
    assert info.cpu is not None
    c = state.cpus[info.cpu]
    bit = 1 << info.softirq_nr
    if not c.softirq_pending & bit or c.softirq_pending & (bit - 1) or c.irqs \
            or state.ctxs[si].status != _QUIET:
        return False
    if c.ksoftirqd:
        return can_switch
    count = state.ctxs[_current(program, state, info.cpu)].preempt_count
    return not c.irqs_off and not count & IRQ_COUNT_MASK


# ------------------------------------------------------------------ raise
def wakeup_softirqd(tx: Tx, cpu: int) -> None:
    """wakeup_softirqd(): ksoftirqd/N becomes TASK_RUNNING."""
    if not tx.cpus[cpu].ksoftirqd:
        tx.set_cpu(cpu, ksoftirqd=True)
        if tx.events is not None:
            tx.event(f"wakeup_softirqd: ksoftirqd/{cpu} is woken")


def raise_softirq(tx: Tx, si: int) -> None:
    """raise_softirq() = local_irq_save + raise_softirq_irqoff() +
    local_irq_restore: or_softirq_pending(1 << nr) on this CPU, and
    wakeup_softirqd() unless in_interrupt() (an irq's or softirq's exit,
    or local_bh_enable, will run it)."""
    info = tx.program.contexts[si]
    if info.cpu != tx.cpu:
        # the model has one instance of each softirq, bound to its CPU
        tx.report(R.SOFTIRQ_WRONG_CPU, si, info.cpu or 0)
        raise Killed()
    c = tx.cpus[tx.cpu]
    tx.set_cpu(tx.cpu, softirq_pending=c.softirq_pending | (1 << info.softirq_nr))
    if tx.events is not None:
        tx.event(f"raise_softirq({info.name}): pending on cpu{tx.cpu}")
    if not preempt.in_interrupt(tx):
        wakeup_softirqd(tx, tx.cpu)


# -------------------------------------------------------------- handling
def _enter(tx: Tx, cpu: int, si: int, owner: int, count: int) -> None:
    """Run handler si next (h->action()): from its first statement, fresh
    locals and no calls (a run that stopped at a failed assert in a
    function leaves its frames), interrupts on (handle_softirqs' local_irq_enable()). PKRS: the
    interrupted task's in do_softirq(), else the exception entry's reset."""
    info = tx.program.contexts[si]
    c = tx.cpus[cpu]
    op = tx.ctxs[owner].pending
    in_task = op is not None and op[0] == PENDING_BH
    tx.set(si, status=int(Status.READY), pc=follow_jumps(info.code, 0),
           locals=(0,) * len(info.local_names), frames=(), pending=None, owner=owner, cpu=cpu,
           preempt_count=count, pkrs_rw=tx.ctxs[owner].pkrs_rw if in_task else False)
    tx.set_cpu(cpu, irqs=c.irqs + (si,), irqs_off=False,
               softirq_batch=c.softirq_batch & ~(1 << info.softirq_nr))


def _start(tx: Tx, cpu: int, owner: int, how: str) -> int:
    """handle_softirqs(): take the pending mask as this pass, clear it, run
    its first vector with `current` ``owner``; the softirq's context."""
    c = tx.cpus[cpu]
    pending = c.softirq_pending
    tx.set_cpu(cpu, softirq_pending=0, softirq_batch=pending, softirq_restart=0)
    si = _lowest(tx.program, pending)
    base = tx.ctxs[owner].preempt_count
    _enter(tx, cpu, si, owner, (base + SOFTIRQ_OFFSET) & tx.cfg.preempt_count_mask)
    if tx.events is not None:
        names = [tx.program.contexts[i].name for i in tx.program.softirqs
                 if pending & _bit(tx.program, i)]
        tx.event(f"{how}: handle_softirqs on cpu{cpu} runs {', '.join(names)}")
    return si


def _can_run_here(tx: Tx, cpu: int) -> bool:
    """`!in_interrupt() && local_softirq_pending()` and not
    ksoftirqd_running() (kernel/softirq.c, v6.1)."""
    c = tx.cpus[cpu]
    return bool(c.softirq_pending) and not c.ksoftirqd and not preempt.in_interrupt(tx)


def irq_exit(tx: Tx, cpu: int) -> None:
    """__irq_exit_rcu() -> invoke_softirq() after an irq handler returned:
    the count was given back to the interrupted context (sched.irq_return_count)."""
    c = tx.cpus[cpu]
    if c.irqs or not c.softirq_pending or c.ksoftirqd:
        return
    under = _current_tx(tx, cpu)
    if tx.ctxs[under].preempt_count & IRQ_COUNT_MASK:
        return
    _start(tx, cpu, under, "irq exit")


def start_action(tx: Tx, si: int, cpu: int) -> None:
    """The softirq's own action: a timer interrupt's exit runs the pending
    softirqs, or ksoftirqd/N gets the CPU and runs them (run_ksoftirqd)."""
    c = tx.cpus[cpu]
    if c.ksoftirqd:
        ks = ksoftirqd_ctx(tx.program, cpu)
        sched.kthread_takes_cpu(tx, ks, cpu, f"ksoftirqd/{cpu}")
        got = _start(tx, cpu, ks, f"ksoftirqd/{cpu}")
    else:
        got = _start(tx, cpu, _current_tx(tx, cpu), "a timer interrupt's exit")
    assert got == si, "may_start() lets only the first pending softirq start"
    tx.pc = tx.me.pc   # the step goes on with the handler's first statement


def finish(tx: Tx) -> None:
    """The handler returned (or stopped at a failed assert): the count
    check, the next vector of the pass, a restart or the end of
    handle_softirqs() for its entry path."""
    si, cpu = tx.ci, tx.cpu
    program = tx.program
    owner = tx.me.owner
    prev = (tx.ctxs[owner].preempt_count + SOFTIRQ_OFFSET) & tx.cfg.preempt_count_mask
    if tx.me.preempt_count != prev:
        tx.report(R.SOFTIRQ_COUNT, program.contexts[si].softirq_nr, prev, tx.me.preempt_count, si)
    tx.set_me(status=_QUIET, pending=None, preempt_count=prev)
    c = tx.cpus[cpu]
    tx.set_cpu(cpu, irqs=tuple(i for i in c.irqs if i != si))
    if tx.events is not None:
        tx.event(f"softirq {program.contexts[si].name} returns")
    c = tx.cpus[cpu]
    if c.softirq_batch:
        _enter(tx, cpu, _lowest(program, c.softirq_batch), owner, prev)
        return
    # local_irq_disable(); pending = local_softirq_pending();
    if c.softirq_pending:
        if c.softirq_restart + 1 < MAX_SOFTIRQ_RESTART:    # --max_restart
            tx.set_cpu(cpu, softirq_batch=c.softirq_pending, softirq_pending=0,
                       softirq_restart=c.softirq_restart + 1)
            _enter(tx, cpu, _lowest(program, c.softirq_pending), owner, prev)
            if tx.events is not None:
                tx.event(f"handle_softirqs on cpu{cpu}: restart")
            return
        wakeup_softirqd(tx, cpu)
    # softirq_handle_end(): __local_bh_enable(SOFTIRQ_OFFSET) leaves the
    # owner's count as it was; then each path goes back its own way
    _end(tx, cpu, owner)


def _end(tx: Tx, cpu: int, owner: int) -> None:
    c = tx.cpus[cpu]
    tx.set_cpu(cpu, softirq_restart=0)
    op = tx.ctxs[owner].pending
    if owner == ksoftirqd_ctx(tx.program, cpu) and tx.program.softirqs:
        # ksoftirqd_run_end(): interrupts on; it sleeps unless more is pending
        tx.set_cpu(cpu, irqs_off=False, ksoftirqd=bool(c.softirq_pending))
        sched.kthread_leaves_cpu(tx, owner, cpu, f"ksoftirqd/{cpu}")
    elif op is not None and op[0] == PENDING_BH:
        # do_softirq() returns with interrupts off; local_bh_enable's caller
        # restores them and drops its last count in its next step
        tx.set_cpu(cpu, irqs_off=True)
    else:
        tx.set_cpu(cpu, irqs_off=False)   # irq_exit(), then the interrupted context


# ------------------------------------------------------- bottom halves
def local_bh_disable(tx: Tx) -> None:
    """local_bh_disable(): __local_bh_disable_ip(SOFTIRQ_DISABLE_OFFSET), the
    inline preempt_count_add() without CONFIG_TRACE_IRQFLAGS
    (include/linux/bottom_half.h)."""
    preempt.preempt_count_add(tx, tx.ci, SOFTIRQ_DISABLE_OFFSET)


def local_bh_enable(tx: Tx, cnt: int = SOFTIRQ_DISABLE_OFFSET) -> Result:
    """__local_bh_enable_ip(ip, cnt): WARN_ON_ONCE(in_hardirq()), the raw
    __preempt_count_sub(cnt - 1), do_softirq() if `!in_interrupt() &&
    local_softirq_pending()` (and ksoftirqd is not running), then
    preempt_count_dec(). When softirqs run, NOT_DONE: the caller resumes
    with local_bh_enable_done once they return."""
    if preempt.in_hardirq(tx):
        tx.warn_once(R.BH_ENABLE_HARDIRQ)
    preempt.preempt_count_sub(tx, tx.ci, cnt - 1, checked=False)
    if _can_run_here(tx, tx.cpu) and not tx.in_irq():
        irqs_off = tx.irqs_disabled()      # do_softirq(): local_irq_save(flags)
        tx.set_me(pending=(PENDING_BH, int(irqs_off)))
        _start(tx, tx.cpu, tx.ci, "local_bh_enable: do_softirq")
        return NOT_DONE
    preempt.preempt_enable(tx)
    return None


def local_bh_enable_done(tx: Tx) -> Result:
    """The rest of local_bh_enable() after do_softirq(): local_irq_restore(),
    preempt_count_dec()."""
    p = tx.me.pending
    assert p is not None and p[0] == PENDING_BH
    tx.set_me(pending=None)
    tx.set_cpu(tx.cpu, irqs_off=bool(p[1]))
    preempt.preempt_enable(tx)
    return None


def _bh_enable(tx: Tx, argv: list[int] | None) -> Result:
    """local_bh_enable(): see local_bh_enable."""
    if tx.me.pending is not None:
        return local_bh_enable_done(tx)
    return local_bh_enable(tx)


HANDLERS: dict[str, Handler] = {
    "local_bh_disable": lambda tx, a: local_bh_disable(tx),
    "local_bh_enable": _bh_enable,
    "raise_softirq": lambda tx, a: raise_softirq(tx, a[0]),  # type: ignore[index]
    "raise_softirq_irqoff": lambda tx, a: raise_softirq(tx, a[0]),  # type: ignore[index]
    "in_softirq": lambda tx, a: preempt.in_softirq(tx),
    "in_serving_softirq": lambda tx, a: preempt.in_softirq(tx) & SOFTIRQ_OFFSET,
    "in_interrupt": lambda tx, a: preempt.in_interrupt(tx),
    "in_irq": lambda tx, a: preempt.in_hardirq(tx),
    "in_hardirq": lambda tx, a: preempt.in_hardirq(tx),
    "in_task": lambda tx, a: int(not tx.me.preempt_count & (preempt.NMI_MASK | preempt.HARDIRQ_MASK
                                                          | SOFTIRQ_OFFSET)),
}
