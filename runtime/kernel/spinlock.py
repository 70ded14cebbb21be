"""spin_lock() and its variants: _irqsave, _irq, _bh (include/linux/spinlock.h,
include/linux/spinlock_api_smp.h, kernel/locking/spinlock.c), and
PREEMPT_RT's sleeping spinlocks (include/linux/spinlock_rt.h,
kernel/locking/spinlock_rt.c).

Non-RT: the lock side first changes the context (local_irq_save /
local_irq_disable / __local_bh_disable_ip(SOFTIRQ_LOCK_OFFSET), then
preempt_disable), then spins: one step per attempt while another context
holds the lock (runtime/kernel/sched.py spin_lock_try, with
DEBUG_SPINLOCK's checks). The unlock side releases, then undoes the
context in reverse: local_irq_restore / local_irq_enable /
__local_bh_enable_ip (which may run pending softirqs,
runtime/kernel/softirq.py), then preempt_enable.

PREEMPT_RT: spin_lock() is rt_spin_lock(): rtlock_might_resched(), which
is __might_resched() expecting the caller's own RCU depth, then the
rtmutex (a sleeping wait while another task holds it), then
rcu_read_lock() and migrate_disable(); rt_spin_unlock() undoes them in
reverse. The _irqsave and _irq variants leave interrupts alone (flags is
0), _bh is local_bh_disable() + rt_spin_lock() (refused by the checker:
RT softirqs are not modelled).
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import irqflags, preempt, rcu, sched, softirq
from kmap_scenarios.runtime.kernel.handler import NOT_DONE, Handler, Result
from kmap_scenarios.runtime.kernel.tx import Tx

PLAIN, IRQSAVE, IRQ, BH = "", "irqsave", "irq", "bh"


def spin_lock(tx: Tx, argv: list[int] | None, mode: str) -> Result:
    """spin_lock{,_irqsave,_irq,_bh}(): the first step changes the context,
    every step tries the lock; irqsave's value is the saved flags."""
    rt = tx.cfg.CONFIG_PREEMPT_RT
    p = tx.me.pending
    if p is None:
        assert argv is not None
        lock = argv[0]
        if mode == IRQSAVE:
            # spinlock_rt.h: flags = 0, interrupts untouched
            flags = 0 if rt else irqflags.local_irq_save(tx)
            tx.set_me(irq_flags=tx.me.irq_flags + (flags,))
        if rt:
            sched.might_sleep(tx, "spin_lock", rcu_expected=rcu.rcu_preempt_depth(tx))
        else:
            if mode == IRQ:
                preempt.local_irq_disable(tx)
            if mode == BH:
                # __raw_spin_lock_bh(): __local_bh_disable_ip(SOFTIRQ_LOCK_OFFSET),
                # SOFTIRQ_DISABLE_OFFSET and the lock's preempt_disable in one add
                preempt.preempt_count_add(tx, tx.ci, softirq.SOFTIRQ_DISABLE_OFFSET)
            preempt.preempt_disable(tx)
    else:
        lock = p[1]
    if not sched.spin_lock_try(tx, lock):
        return NOT_DONE
    if rt:
        rcu.rcu_read_lock(tx)
        preempt.migrate_disable(tx)
    if mode == IRQSAVE:
        return tx.me.irq_flags[-1] if tx.me.irq_flags else 0
    return None


def spin_unlock(tx: Tx, argv: list[int] | None, mode: str) -> Result:
    """spin_unlock{,_irqrestore,_irq,_bh}(): release, then the context back."""
    assert argv is not None or mode == BH
    if tx.me.pending is not None:            # spin_unlock_bh's softirqs ran
        return softirq.local_bh_enable_done(tx)
    assert argv is not None
    rt = tx.cfg.CONFIG_PREEMPT_RT
    if rt:
        preempt.migrate_enable(tx)
        rcu.rcu_read_unlock(tx)
    sched.spin_unlock(tx, argv[0])
    if mode == IRQSAVE:
        saved = tx.me.irq_flags
        flags = argv[1] if len(argv) > 1 else (saved[-1] if saved else irqflags.save_flags(tx))
        if saved:
            tx.set_me(irq_flags=saved[:-1])
        if not rt:
            irqflags.local_irq_restore(tx, flags)
    if rt:
        return None
    if mode == IRQ:
        preempt.local_irq_enable(tx)
    if mode == BH:
        # __raw_spin_unlock_bh(): __local_bh_enable_ip(SOFTIRQ_LOCK_OFFSET)
        return softirq.local_bh_enable(tx, softirq.SOFTIRQ_DISABLE_OFFSET + 1)
    preempt.preempt_enable(tx)
    return None


def _lock(mode: str) -> Handler:
    def handler(tx: Tx, argv: list[int] | None) -> Result:
        return spin_lock(tx, argv, mode)
    handler.__doc__ = f"spin_lock{'_' + mode if mode else ''}(): see spin_lock"
    return handler


def _unlock(mode: str) -> Handler:
    def handler(tx: Tx, argv: list[int] | None) -> Result:
        return spin_unlock(tx, argv, mode)
    name = {IRQSAVE: "_irqrestore", IRQ: "_irq", BH: "_bh"}.get(mode, "")
    handler.__doc__ = f"spin_unlock{name}(): see spin_unlock"
    return handler


HANDLERS: dict[str, Handler] = {
    "spin_lock": _lock(PLAIN),
    "spin_unlock": _unlock(PLAIN),
    "spin_lock_irqsave": _lock(IRQSAVE),
    "spin_unlock_irqrestore": _unlock(IRQSAVE),
    "spin_lock_irq": _lock(IRQ),
    "spin_unlock_irq": _unlock(IRQ),
    "spin_lock_bh": _lock(BH),
    "spin_unlock_bh": _unlock(BH),
}
