"""CPUs, context switches, spinlocks, irqs; the counters they read are in
runtime/kernel/preempt.py.

Sources (docs/kernel-semantics.md §3, §7.2): __might_resched's "sleeping function called from invalid context",
schedule_debug's "scheduling while atomic", prepare_task_switch /
finish_task_switch calling kmap_local_sched_out/in, irq entry adding
HARDIRQ_OFFSET with interrupts off, and CONFIG_DEBUG_SPINLOCK's spin_bug().
Assumed debug options: DEBUG_ATOMIC_SLEEP, DEBUG_PREEMPT, DEBUG_SPINLOCK,
DEBUG_VM (a kernel one runs to find these bugs).
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import kmap_local, preempt, rcu
from kmap_scenarios.runtime.kernel.preempt import in_atomic
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.state import HARDIRQ_OFFSET, Status, idle_ctx
from kmap_scenarios.runtime.kernel.tx import Tx


# ------------------------------------------------------------ atomic sleep
def might_sleep(tx: Tx, func: str, rcu_expected: int = 0) -> None:
    """__might_resched(file, line, offsets) (kernel/sched/core.c): fine when
    preempt_count() + (rcu_preempt_depth() << MIGHT_RESCHED_RCU_SHIFT)
    equals the offsets and interrupts are on; else the splat, once (it is
    rate-limited to once per HZ), and go on. ``rcu_expected`` is the RCU
    part of the offsets: PREEMPT_RT's spin_lock() expects the caller's own
    depth (RTLOCK_RESCHED_OFFSETS, kernel/locking/spinlock_rt.c), every
    other caller 0. The RCU depth is 0 without PREEMPT_RCU."""
    count = tx.me.preempt_count
    depth = rcu.rcu_preempt_depth(tx)
    if count + (depth << rcu.MIGHT_RESCHED_RCU_SHIFT) == \
            rcu_expected << rcu.MIGHT_RESCHED_RCU_SHIFT and not tx.irqs_disabled():
        return
    if tx.first_time(int(R.MIGHT_SLEEP)):
        tx.report(R.MIGHT_SLEEP, int(count != 0), int(tx.irqs_disabled()), count, depth,
                  rcu_expected, tx.func(func))


def schedule_debug(tx: Tx) -> None:
    """schedule_debug(): 'scheduling while atomic' prints preempt_count()
    including schedule()'s own preempt_disable, then resets the count
    (preempt_count_set(PREEMPT_DISABLED)): the task's disable is lost.
    Then __schedule() calls rcu_note_context_switch(false) for this
    voluntary switch (PREEMPT_RCU's warning, runtime/kernel/rcu.py)."""
    count = tx.me.preempt_count
    if count:
        # its own preempt_disable wraps an underflowed x86 count back to 0
        tx.report(R.SCHED_ATOMIC, (count + 1) & tx.cfg.preempt_count_mask)
        tx.set_me(preempt_count=0)
    rcu.note_context_switch(tx)


def voluntary_point(tx: Tx, func: str, check_sleep: bool) -> None:
    """schedule(), msleep(), cond_resched(): the CPU may switch tasks here.

    cond_resched() does not schedule when atomic or with interrupts off
    (__cond_resched: should_resched(0) && !irqs_disabled()). schedule()
    looks only at the preempt count (schedule_debug), and __schedule()
    ends with raw_spin_rq_unlock_irq(), in finish_lock_switch() after a
    switch or directly when it picked the same task: the task goes on with
    interrupts on, whatever they were (kernel/sched/core.c)."""
    if check_sleep:
        might_sleep(tx, func)
        if in_atomic(tx):
            return  # _cond_resched(): should_resched() needs preempt_count 0
    else:
        schedule_debug(tx)
        if not tx.in_irq() and tx.irqs_disabled():
            tx.set_cpu(tx.cpu, irqs_off=False)
            if tx.events is not None:
                tx.event(f"{func}() with interrupts off: __schedule() returns with "
                         "interrupts on (raw_spin_rq_unlock_irq)")
    if not tx.in_irq():
        tx.set_me(resched=True)


# ------------------------------------------------------------------ switch


_READY = int(Status.READY)


def can_switch(preemption: bool, curr: int, irqs: tuple[int, ...], irqs_off: bool,
               ctxs: tuple | list) -> bool:  # type: ignore[type-arg]
    if irqs:
        return False
    if curr < 0:
        return True
    t = ctxs[curr]
    if t.status != _READY:
        return True
    if t.preempt_count or irqs_off:
        return False
    return preemption or t.resched


def switch_to(tx: Tx, task: int, cpu: int) -> None:
    """__schedule(): prepare_task_switch (kmap_local_sched_out of prev),
    finish_task_switch (interrupts on, kmap_local_sched_in of next).

    prev may be the idle task (kernel/sched/core.c: prepare_task_switch()
    switches out whatever ``current`` is): an irq on an idle CPU that
    leaked a kmap_local mapping left it on the idle task's kmap_ctrl, and
    it is cleared here before the task maps that slot.

    Of prev (and of the idle task) this reads only kmap_ctrl, through
    kmap_local.sched_out, and the idle task's preempt count, and changes
    nothing unless that count is not 0 (_idle_schedule_debug):
    runtime/search/memo.py learns a switch under those alone (machine.switch_step)."""
    old_cpu = tx.ctxs[task].cpu
    if old_cpu >= 0 and old_cpu != cpu and tx.cpus[old_cpu].curr == task:
        leave_cpu(tx, task, old_cpu)   # migrated while running
    c = tx.cpus[cpu]
    prev = c.curr
    name = tx.program.contexts[task].name
    if prev < 0:
        idle = idle_ctx(tx.program, cpu)
        _idle_schedule_debug(tx, idle)
        kmap_local.sched_out(tx, idle, cpu)
    if prev >= 0 and prev != task:
        kmap_local.sched_out(tx, prev, cpu)
        if tx.events is not None:
            tx.event(f"context switch on cpu{cpu}: {tx.program.contexts[prev].name} -> {name}")
    else:
        old = tx.ctxs[task].cpu
        if old >= 0 and old != cpu:
            if tx.events is not None:
                tx.event(f"{name} migrates cpu{old} -> cpu{cpu}")
        else:
            if tx.events is not None:
                tx.event(f"cpu{cpu} runs {name}")
    tx.set_cpu(cpu, curr=task, irqs_off=False)
    tx.set(task, cpu=cpu, resched=False)
    kmap_local.sched_in(tx, task, cpu)


def _idle_schedule_debug(tx: Tx, idle: int) -> None:
    """The idle task's own __schedule() (do_idle -> schedule_idle) runs
    schedule_debug() too: it expects PREEMPT_DISABLED, the model's 0, so a
    count an irq leaked onto it is "scheduling while atomic" for swapper/N
    with that count + 1, and preempt_count_set() resets it."""
    count = tx.ctxs[idle].preempt_count
    if count:
        tx.report(R.SCHED_ATOMIC, count + 1, cur=idle)
        tx.set(idle, preempt_count=0)


def leave_cpu(tx: Tx, task: int, cpu: int) -> None:
    """The task stops running here (it sleeps, exits or is killed): the
    CPU switches to its idle task, whose saved kmap_local slots
    finish_task_switch() re-installs (kmap_local_sched_in of next)."""
    if tx.cpus[cpu].curr == task:
        kmap_local.sched_out(tx, task, cpu)
        tx.set_cpu(cpu, curr=-1, irqs_off=False)
        kmap_local.sched_in(tx, idle_ctx(tx.program, cpu), cpu)


def kthread_takes_cpu(tx: Tx, kt: int, cpu: int, name: str) -> None:
    """__schedule() to a kernel thread that is not a scenario task
    (ksoftirqd/N, runtime/kernel/softirq.py): the previous task, or the
    idle task, is switched out as switch_to() does; the CPU then has no
    scenario task (``curr`` -1) while the thread runs its handlers on it."""
    prev = tx.cpus[cpu].curr
    if prev >= 0:
        kmap_local.sched_out(tx, prev, cpu)
        if tx.events is not None:
            tx.event(f"context switch on cpu{cpu}: {tx.program.contexts[prev].name} -> {name}")
    else:
        idle = idle_ctx(tx.program, cpu)
        _idle_schedule_debug(tx, idle)
        kmap_local.sched_out(tx, idle, cpu)
        if tx.events is not None:
            tx.event(f"cpu{cpu} runs {name}")
    tx.set_cpu(cpu, curr=-1, irqs_off=False)
    kmap_local.sched_in(tx, kt, cpu)


def kthread_leaves_cpu(tx: Tx, kt: int, cpu: int, name: str) -> None:
    """The kernel thread sleeps: the CPU goes back to its idle task."""
    kmap_local.sched_out(tx, kt, cpu)
    kmap_local.sched_in(tx, idle_ctx(tx.program, cpu), cpu)
    if tx.events is not None:
        tx.event(f"{name} sleeps")


# -------------------------------------------------------------------- irqs
# The idle task runs with preemption disabled: init_idle() sets its count
# to PREEMPT_DISABLED (kernel/sched/core.c, init_idle_preempt_count() in
# arch/x86/include/asm/preempt.h) and do_idle() never enables it ("idle
# tasks ... must not ever be preempted", above schedule_idle()). The
# model keeps the idle task's count relative to that (0 stands for
# PREEMPT_DISABLED, as _idle_schedule_debug says), so an irq that
# interrupts it adds this one.
IDLE_PREEMPT_COUNT = 1


def irq_enter(tx: Tx, irq: int, cpu: int) -> None:
    """Hardirq entry on cpu: nested on `current` (the running task, or the
    idle task, whose count includes its PREEMPT_DISABLED), preempt_count +=
    HARDIRQ_OFFSET, interrupts off, PKRS reset to PKS_INIT_VALUE (the
    pgmap key denied)."""
    c = tx.cpus[cpu]
    if c.irqs:
        owner = tx.ctxs[c.irqs[-1]].owner
        base = tx.ctxs[c.irqs[-1]].preempt_count
    else:
        owner = c.curr if c.curr >= 0 else idle_ctx(tx.program, cpu)
        base = tx.ctxs[owner].preempt_count
        if c.curr < 0:
            base += IDLE_PREEMPT_COUNT
    tx.set(irq, status=int(Status.READY), owner=owner, cpu=cpu,
           preempt_count=base + HARDIRQ_OFFSET, pkrs_rw=False)
    tx.set_cpu(cpu, irqs=c.irqs + (irq,), irqs_off=True)
    who = tx.program.contexts[owner].name if owner < len(tx.program.contexts) else "idle"
    if tx.events is not None:
        tx.event(f"irq {tx.program.contexts[irq].name} fires on cpu{cpu}, interrupting {who}")


def irq_return_count(tx: Tx, irq: int, cpu: int) -> None:
    """__irq_exit_rcu() (kernel/softirq.c) only does
    preempt_count_sub(HARDIRQ_OFFSET): the count is one per CPU (x86) or
    the interrupted task's thread_info (ARM), so what the handler left
    unbalanced (a preempt_disable(), a kunmap_atomic() forgotten) stays in
    the count of the context it interrupted, an outer handler or the task.
    Only a handler that returns: one killed by a BUG panics the machine.
    With DEBUG_PREEMPT, preempt_count_sub() refuses to go below zero: a
    handler whose count lost its HARDIRQ bits (schedule_debug's reset of a
    schedule() in it) gets DEBUG_LOCKS_WARN_ON(val > preempt_count()) and
    nothing is subtracted; without it the count wraps."""
    ended = tx.ctxs[irq].preempt_count
    preempt.preempt_count_sub(tx, irq, HARDIRQ_OFFSET)
    count = tx.ctxs[irq].preempt_count
    tx.set(irq, preempt_count=ended)   # the count moves on; the handler's record stays
    irqs = tx.cpus[cpu].irqs
    at = irqs.index(irq)
    under = irqs[at - 1] if at else tx.ctxs[irq].owner
    if not at and under >= len(tx.program.contexts):
        count = max(count - IDLE_PREEMPT_COUNT, 0)   # back to the idle task's own
    if tx.ctxs[under].preempt_count != count:
        tx.set(under, preempt_count=count)
        if tx.events is not None:
            names = tx.program.contexts
            who = names[under].name if under < len(names) else "idle"
            tx.event(f"__irq_exit_rcu: preempt_count {count:#010x} is left to {who}")


def irq_exit(tx: Tx, irq: int, cpu: int) -> None:
    """Return from the handler: pop it, interrupts back on (they were on
    when it fired)."""
    c = tx.cpus[cpu]
    tx.set_cpu(cpu, irqs=tuple(i for i in c.irqs if i != irq), irqs_off=False)


# --------------------------------------------------------------- spinlocks
def spin_lock_try(tx: Tx, lock: int) -> bool:
    """do_raw_spin_lock(): take the lock if free. PREEMPT_RT spinlocks are
    sleeping rt_mutexes that only disable migration."""
    owner = tx.locks[lock]
    if owner == -1:
        tx.locks[lock] = tx.ci
        tx.set_me(pending=None)
        if tx.events is not None:
            tx.event(f"spin_lock: {tx.program.locks[lock]} taken")
        return True
    # debug_spin_lock_before(): lock->owner == current. In an irq `current`
    # is the task it interrupted, so taking that task's lock is recursion too.
    if (owner == tx.ci or owner == tx.current()) and tx.me.pending is None:
        tx.debug_locks_warn(R.SPIN_RECURSION, lock)  # spin_bug(): debug_locks_off() first
    tx.set_me(pending=(1, lock))
    holder = tx.program.contexts[owner].name if owner < len(tx.program.contexts) else "?"
    if tx.events is not None:
        tx.event(f"spin_lock: {tx.program.locks[lock]} held by {holder}; spinning")
    return False


def spin_unlock(tx: Tx, lock: int) -> None:
    """do_raw_spin_unlock() with DEBUG_SPINLOCK's spin_bug() checks."""
    owner = tx.locks[lock]
    # spin_bug() prints only if debug_locks_off() succeeds, which also
    # silences the preempt_count_sub() warning of the preempt_enable after.
    if owner == -1:
        tx.debug_locks_warn(R.SPIN_NOT_LOCKED, lock)
        return
    if owner != tx.ci:
        tx.debug_locks_warn(R.SPIN_WRONG_OWNER, lock)
    tx.locks[lock] = -1
    if tx.events is not None:
        tx.event(f"spin_unlock: {tx.program.locks[lock]} released")
