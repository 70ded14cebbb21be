"""The execution-context counters: preempt_count, migrate_disable,
pagefault_disable and the CPU's interrupt flag.

Sources (docs/kernel-semantics.md §3, §7.2): preempt_count_add/sub
with DEBUG_PREEMPT's underflow check (kernel/sched/core.c),
migrate_disable/enable (kernel/sched/core.c, 74d862b682f5),
pagefault_disable/enable and faulthandler_disabled (include/linux/uaccess.h),
local_irq_disable/enable (include/linux/irqflags.h). The scheduler that
reads them is runtime/kernel/sched.py; kmap_local and kmap_atomic change them
here without importing the scheduler.
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.tx import Tx


def preempt_disable(tx: Tx) -> None:
    tx.set_me(preempt_count=tx.me.preempt_count + 1)


def preempt_enable(tx: Tx) -> None:
    """preempt_count_sub() with DEBUG_PREEMPT: refuses to underflow."""
    count = tx.me.preempt_count
    if count & 0xFF == 0:  # PREEMPT_MASK: the hardirq bits are not ours
        tx.debug_locks_warn(R.PREEMPT_UNDERFLOW)
        return
    tx.set_me(preempt_count=count - 1)


def migrate_disable(tx: Tx) -> None:
    """migrate_disable(): nests on current->migration_disabled."""
    cur = tx.current()
    tx.set(cur, migration_disabled=tx.ctxs[cur].migration_disabled + 1)


def migrate_enable(tx: Tx) -> None:
    """migrate_enable(): WARN_ON_ONCE on an unbalanced call."""
    cur = tx.current()
    n = tx.ctxs[cur].migration_disabled
    if n <= 0:
        tx.warn_once(R.MIGRATE_UNBALANCED)
        return
    tx.set(cur, migration_disabled=n - 1)


def pagefault_disable(tx: Tx) -> None:
    cur = tx.current()
    tx.set(cur, pagefault_disabled=tx.ctxs[cur].pagefault_disabled + 1)


def pagefault_enable(tx: Tx) -> None:
    cur = tx.current()
    tx.set(cur, pagefault_disabled=tx.ctxs[cur].pagefault_disabled - 1)


def in_atomic(tx: Tx) -> bool:
    return tx.me.preempt_count != 0


def faults_disabled(tx: Tx) -> bool:
    """faulthandler_disabled(): pagefault_disabled() || in_atomic()."""
    return tx.ctxs[tx.current()].pagefault_disabled > 0 or in_atomic(tx)


def local_irq_disable(tx: Tx) -> None:
    tx.set_cpu(tx.cpu, irqs_off=True)


def local_irq_enable(tx: Tx) -> None:
    tx.set_cpu(tx.cpu, irqs_off=False)
