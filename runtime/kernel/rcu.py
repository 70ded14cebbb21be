"""RCU readers: rcu_read_lock/unlock and what the scheduler checks of them.

PREEMPT_RCU follows the preemption model (kernel/rcu/Kconfig: `default y
if PREEMPTION`, no prompt). With it, __rcu_read_lock() and
__rcu_read_unlock() (kernel/rcu/tree_plugin.h) count
current->rcu_read_lock_nesting and the reader may be preempted; without
it (kernel/rcu/tree.c, include/linux/rcupdate.h) rcu_read_lock() is
preempt_disable(). The count belongs to `current` (an irq's reader counts
on the task it interrupted). Two checks read it: __might_resched()
(kernel/sched/core.c) adds rcu_preempt_depth() << MIGHT_RESCHED_RCU_SHIFT
to the preempt count it compares with the expected offsets and prints
"RCU nest depth" under PREEMPT_RCU (runtime/kernel/sched.py might_sleep),
and rcu_note_context_switch(), which __schedule() calls, warns once on a
voluntary switch (schedule(), not a preemption) inside a reader:
"Voluntary context switch within RCU read-side critical section!".

The model keeps the nesting count under both RCU flavours, as lockdep's
rcu_lock_map does, for "lock held when returning to user space"; only
PREEMPT_RCU's checks read it. CONFIG_PROVE_RCU (lockdep) is not assumed:
an unbalanced rcu_read_unlock() is not reported by itself, and the count
goes negative as the kernel's does. Grace periods are not modelled.
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import preempt
from kmap_scenarios.runtime.kernel.handler import Handler
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.tx import Tx

MIGHT_RESCHED_RCU_SHIFT = 8   # include/linux/sched.h


def rcu_read_lock(tx: Tx) -> None:
    """rcu_read_lock(): __rcu_read_lock() (PREEMPT_RCU: nesting + 1) or
    preempt_disable()."""
    cur = tx.current()
    tx.set(cur, rcu_nesting=tx.ctxs[cur].rcu_nesting + 1)
    if not tx.cfg.PREEMPT_RCU:
        preempt.preempt_disable(tx)


def rcu_read_unlock(tx: Tx) -> None:
    """rcu_read_unlock(): __rcu_read_unlock() (PREEMPT_RCU: nesting - 1,
    unchecked without PROVE_LOCKING) or preempt_enable()."""
    cur = tx.current()
    tx.set(cur, rcu_nesting=tx.ctxs[cur].rcu_nesting - 1)
    if not tx.cfg.PREEMPT_RCU:
        preempt.preempt_enable(tx)


def rcu_preempt_depth(tx: Tx) -> int:
    """rcu_preempt_depth(): current's nesting under PREEMPT_RCU, else 0."""
    return tx.ctxs[tx.current()].rcu_nesting if tx.cfg.PREEMPT_RCU else 0


def note_context_switch(tx: Tx, preempt_switch: bool = False) -> None:
    """rcu_note_context_switch(preempt) from __schedule(): under PREEMPT_RCU,
    WARN_ONCE(!preempt && rcu_preempt_depth() > 0, ...)."""
    if not preempt_switch and rcu_preempt_depth(tx) > 0:
        tx.warn_once(R.RCU_VOLUNTARY_SWITCH)


HANDLERS: dict[str, Handler] = {
    "rcu_read_lock": lambda tx, a: rcu_read_lock(tx),
    "rcu_read_unlock": lambda tx, a: rcu_read_unlock(tx),
    "rcu_preempt_depth": lambda tx, a: rcu_preempt_depth(tx),
}
