"""The execution-context counters: preempt_count, migrate_disable,
pagefault_disable and the CPU's interrupt flag.

Sources (docs/kernel-semantics.md §3, §7.2): preempt_count_add/sub
with DEBUG_PREEMPT's underflow check (kernel/sched/core.c; without
CONFIG_DEBUG_PREEMPT include/linux/preempt.h makes them the raw
__preempt_count_add/sub, which wrap: arch/x86/include/asm/preempt.h,
include/asm-generic/preempt.h), the count's fields and the in_*() macros
(include/linux/preempt.h),
migrate_disable/enable (kernel/sched/core.c, 74d862b682f5),
pagefault_disable/enable and faulthandler_disabled (include/linux/uaccess.h),
local_irq_disable/enable (include/linux/irqflags.h). The scheduler that
reads them is runtime/kernel/sched.py; kmap_local and kmap_atomic change them
here without importing the scheduler.
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.state import HARDIRQ_OFFSET
from kmap_scenarios.runtime.kernel.tx import Tx


# include/linux/preempt.h
PREEMPT_MASK = 0x000000FF
SOFTIRQ_OFFSET = 0x00000100
SOFTIRQ_DISABLE_OFFSET = 0x00000200
SOFTIRQ_MASK = 0x0000FF00
HARDIRQ_MASK = 0x000F0000
NMI_MASK = 0x00F00000
assert HARDIRQ_OFFSET == 0x00010000
IRQ_COUNT_MASK = NMI_MASK | HARDIRQ_MASK | SOFTIRQ_MASK   # irq_count() on !PREEMPT_RT


def preempt_count_add(tx: Tx, ci: int, val: int) -> None:
    """preempt_count_add() on context ci's count (the raw add: it wraps
    back from an underflow as the kernel's does)."""
    count = tx.ctxs[ci].preempt_count
    tx.set(ci, preempt_count=(count + val) & tx.cfg.preempt_count_mask)


def preempt_count_sub(tx: Tx, ci: int, val: int, checked: bool = True) -> bool:
    """preempt_count_sub() on context ci's count: with CONFIG_DEBUG_PREEMPT
    (kernel/sched/core.c) an underflow, of the whole count or of its
    preemption byte, is DEBUG_LOCKS_WARN_ON(val > preempt_count()) and
    nothing is subtracted; without it (or for the raw __preempt_count_sub,
    ``checked`` False) the count wraps like the per-CPU word it is.
    False when the check refused."""
    count = tx.ctxs[ci].preempt_count
    if checked and tx.cfg.CONFIG_DEBUG_PREEMPT and (
            val > count or (val < PREEMPT_MASK and not count & PREEMPT_MASK)):
        tx.debug_locks_warn(R.PREEMPT_UNDERFLOW)
        return False
    tx.set(ci, preempt_count=(count - val) & tx.cfg.preempt_count_mask)
    return True


def preempt_disable(tx: Tx) -> None:
    preempt_count_add(tx, tx.ci, 1)


def preempt_enable(tx: Tx) -> None:
    """preempt_count_dec(): preempt_count_sub(1), checked with DEBUG_PREEMPT."""
    preempt_count_sub(tx, tx.ci, 1)


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


def in_interrupt(tx: Tx) -> int:
    """in_interrupt(): irq_count(), the raw NMI, hardirq and softirq bits
    (bh-disabled sections included: SOFTIRQ_DISABLE_OFFSET is in them)."""
    return tx.me.preempt_count & IRQ_COUNT_MASK


def in_hardirq(tx: Tx) -> int:
    """in_hardirq() / in_irq(): hardirq_count(), raw."""
    return tx.me.preempt_count & HARDIRQ_MASK


def in_softirq(tx: Tx) -> int:
    """in_softirq(): softirq_count(), raw: serving a softirq
    (SOFTIRQ_OFFSET) or with bottom halves disabled."""
    return tx.me.preempt_count & SOFTIRQ_MASK


def faults_disabled(tx: Tx) -> bool:
    """faulthandler_disabled(): pagefault_disabled() || in_atomic(); the
    former is `current->pagefault_disabled != 0` (include/linux/uaccess.h):
    a pagefault_enable() too many leaves it -1, still disabled."""
    return tx.ctxs[tx.current()].pagefault_disabled != 0 or in_atomic(tx)


def local_irq_disable(tx: Tx) -> None:
    tx.set_cpu(tx.cpu, irqs_off=True)


def local_irq_enable(tx: Tx) -> None:
    tx.set_cpu(tx.cpu, irqs_off=False)
