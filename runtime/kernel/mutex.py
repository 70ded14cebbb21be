"""Sleeping locks: `struct mutex m;` / `DEFINE_MUTEX(m);` with mutex_lock,
mutex_unlock, mutex_trylock and mutex_is_locked (kernel/locking/mutex.c,
kernel/locking/mutex-debug.c, v6.1; CONFIG_DEBUG_MUTEXES assumed on, as
the model's other debug options are).

A mutex's owner is `current` (the task; an irq's `current` is the task
it interrupted), kept in ``State.locks`` beside the spinlocks'; its
``State.mutex_wait`` entry is (flags, waiter, ...): MUTEX_FLAG_HANDOFF and
the FIFO wait_list.

- mutex_lock(): might_sleep() (so "sleeping function called from invalid
  context" in atomic context), then __mutex_trylock(): a free mutex is
  taken in the same step. Otherwise __mutex_lock_common() queues current
  on the wait_list and sleeps (TASK_UNINTERRUPTIBLE) in
  schedule_preempt_disabled(): schedule()'s checks ("scheduling while
  atomic", PREEMPT_RCU's voluntary-switch warning) and the CPU is given
  up. Woken, it retries: it takes a free mutex, or one handed off to it;
  else, first in the list, it sets MUTEX_FLAG_HANDOFF
  (__mutex_trylock_or_handoff) so that the owner's unlock gives the
  mutex to it directly and no newcomer can steal it again; and sleeps.
- mutex_unlock(): __mutex_unlock_slowpath()'s
  MUTEX_WARN_ON(__owner_task(owner) != current), a DEBUG_LOCKS_WARN_ON
  under DEBUG_MUTEXES (the unlock still happens); the owner is cleared,
  or with HANDOFF set to the first waiter (__mutex_handoff), and the
  first waiter is woken (wake_q).
- mutex_trylock(): takes a free mutex, never sleeps (no might_sleep).

Optimistic spinning (MUTEX_SPIN_ON_OWNER) only decides whether a waiter
spins or sleeps before it gets the mutex, which the model's steps do not
tell apart. Lockdep's deadlock detection is not assumed: a task that
locks a mutex it holds sleeps for ever (the hung-task report).
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import sched
from kmap_scenarios.runtime.kernel.handler import NOT_DONE, PENDING_MUTEX, Handler, Result
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.state import Status
from kmap_scenarios.runtime.kernel.tx import Tx

MUTEX_FLAG_HANDOFF = 0x02


def _take(tx: Tx, lock: int, cur: int) -> None:
    tx.locks[lock] = cur
    flags, *waiters = tx.mutex_wait[lock]
    if cur in waiters:
        waiters.remove(cur)       # __mutex_remove_waiter()
    tx.mutex_wait[lock] = (flags, *waiters)
    tx.set_me(pending=None)
    if tx.events is not None:
        tx.event(f"mutex_lock: {tx.program.locks[lock]} taken")


def _sleep(tx: Tx, lock: int, cur: int) -> None:
    """schedule_preempt_disabled() in TASK_UNINTERRUPTIBLE."""
    flags, *waiters = tx.mutex_wait[lock]
    if cur not in waiters:
        tx.mutex_wait[lock] = (flags, *waiters, cur)     # __mutex_add_waiter()
    sched.schedule_debug(tx)
    tx.set_me(status=int(Status.WAIT_MUTEX), pending=(PENDING_MUTEX, lock))
    owner = tx.locks[lock]
    if tx.events is not None:
        holder = tx.program.contexts[owner].name if 0 <= owner < len(tx.program.contexts) \
            else "?"
        tx.event(f"mutex_lock: {tx.program.locks[lock]} held by {holder}; sleeps")
    if not tx.in_irq():
        sched.leave_cpu(tx, tx.ci, tx.cpu)


def mutex_lock(tx: Tx, argv: list[int] | None) -> Result:
    """mutex_lock(): might_sleep(), take it, or sleep on its wait_list."""
    cur = tx.current()
    p = tx.me.pending
    if p is None:
        assert argv is not None
        lock = argv[0]
        sched.might_sleep(tx, "mutex_lock")
        if tx.locks[lock] == -1:
            _take(tx, lock, cur)
            return None
        _sleep(tx, lock, cur)
        return NOT_DONE
    lock = p[1]
    owner = tx.locks[lock]
    if owner == cur or owner == -1:       # handed off to us (PICKUP), or free
        _take(tx, lock, cur)
        return None
    flags, *waiters = tx.mutex_wait[lock]
    if waiters and waiters[0] == cur and not flags & MUTEX_FLAG_HANDOFF:
        tx.mutex_wait[lock] = (flags | MUTEX_FLAG_HANDOFF, *waiters)
        if tx.events is not None:
            tx.event(f"mutex_lock: {tx.program.locks[lock]} was taken first: MUTEX_FLAG_HANDOFF set")
    _sleep(tx, lock, cur)
    return NOT_DONE


def mutex_unlock(tx: Tx, lock: int) -> None:
    """mutex_unlock() -> __mutex_unlock_slowpath() with DEBUG_MUTEXES."""
    cur = tx.current()
    owner = tx.locks[lock]
    if owner != cur:
        tx.debug_locks_warn(R.MUTEX_WRONG_OWNER, lock)
    flags, *waiters = tx.mutex_wait[lock]
    name = tx.program.locks[lock]
    if flags & MUTEX_FLAG_HANDOFF and waiters:
        tx.locks[lock] = waiters[0]                       # __mutex_handoff()
        tx.mutex_wait[lock] = (flags & ~MUTEX_FLAG_HANDOFF, *waiters)
        if tx.events is not None:
            tx.event(f"mutex_unlock: {name} handed off to {tx.program.contexts[waiters[0]].name}")
    else:
        tx.locks[lock] = -1
        if tx.events is not None:
            tx.event(f"mutex_unlock: {name} released")
    if waiters:
        first = waiters[0]
        if tx.ctxs[first].status == Status.WAIT_MUTEX:
            tx.set(first, status=int(Status.READY))
            if tx.events is not None:
                tx.event(f"mutex_unlock: wakes {tx.program.contexts[first].name}")


def mutex_trylock(tx: Tx, lock: int) -> int:
    """mutex_trylock(): 1 if it took the free mutex, else 0; never sleeps."""
    if tx.locks[lock] != -1:
        return 0
    tx.locks[lock] = tx.current()
    return 1


HANDLERS: dict[str, Handler] = {
    "mutex_lock": mutex_lock,
    "mutex_unlock": lambda tx, a: mutex_unlock(tx, a[0]),  # type: ignore[index]
    "mutex_trylock": lambda tx, a: mutex_trylock(tx, a[0]),  # type: ignore[index]
    "mutex_is_locked": lambda tx, a: int(tx.locks[a[0]] != -1),  # type: ignore[index]
}
