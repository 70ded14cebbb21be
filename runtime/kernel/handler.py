"""What every built-in handler module shares: the handler type, NOT_DONE,
and the tags of ``Ctx.pending``.

A handler takes the Tx and the evaluated arguments (None on the later
steps of a multi-step built-in) and returns the call's value, None for
void, or NOT_DONE while a multi-step built-in is still in progress; its
progress lives in the context's ``pending`` tuple, whose first element is
one of the tags below. runtime/kernel/builtins.py gathers the handlers of
every subsystem module into one table.
"""

from __future__ import annotations

from typing import Callable

from kmap_scenarios.runtime.kernel.tx import Tx


class _NotDone:
    def __repr__(self) -> str:
        return "NOT_DONE"


NOT_DONE = _NotDone()
Result = int | None | _NotDone
Handler = Callable[[Tx, list[int] | None], Result]

# Ctx.pending[0]
PENDING_SPIN = 1        # (1, lock): spinning on a spinlock
PENDING_KMAP = 2        # (2, page): asleep in kmap_high() / woken to retry
PENDING_DMA = 3         # (3, ...): a DMA maintenance loop
PENDING_FAULT = 4       # (4, kaddr, uaddr, len): a user page fault served
PENDING_MUTEX = 5       # (5, lock): asleep in mutex_lock() / woken to retry
PENDING_BH = 6          # (6, irqs_were_off): local_bh_enable() waits for do_softirq()
PENDING_KMAP_LOCAL = 7  # (7, op, stage, arg, vaddr): between the stages of a kmap_local call (kmap_window.py)
PENDING_HELPER = 8      # (8, helper, stage, staged, v0, v1, args...): inside memcpy_page() and kin (helper_window.py)
PENDING_KMAP_IPI = 9     # (9, page, acked): kmap_high()'s wrap waits for its TLB-flush IPI (pkmap.py)
PENDING_KMAP_LOCK = 10   # (10, page): kmap()/kunmap() spinning on kmap_lock held by such a wait
