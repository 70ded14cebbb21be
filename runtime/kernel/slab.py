"""kmalloc(), kzalloc(), kfree() and might_alloc() (include/linux/slab.h,
mm/slab.h, mm/slab_common.c, include/linux/sched/mm.h, v6.1).

What a converted function meets is the allocator's context check: every
allocation from a slab runs slab_pre_alloc_hook() (mm/slab.h) ->
might_alloc(gfp), which is might_sleep_if(gfpflags_allow_blocking(gfp)):
GFP_KERNEL (with __GFP_DIRECT_RECLAIM) in atomic context gets "BUG:
sleeping function called from invalid context at
include/linux/sched/mm.h", GFP_ATOMIC and GFP_NOWAIT do not. kmalloc(0)
is ZERO_SIZE_PTR ((void *)16), returned by __do_kmalloc_node()
(mm/slab_common.c) before any slab is asked, so without the check.

The objects: the lowering gives the program a small arena of lowmem
pages (a page per object, a few per kmalloc call site); kmalloc takes
the lowest free one and returns its direct-map address; ``State.slab``
has a bit per allocated object. Memory reclaim, allocation failure
(GFP_ATOMIC never fails here), SLUB's poisoning and KASAN's
use-after-free reports are not modelled. Where the model runs out
(every object allocated, or more than a page asked) it says so as an
ASSERT-kind report and stops the context rather than answer wrongly.
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import sched
from kmap_scenarios.runtime.kernel.handler import Handler, Result
from kmap_scenarios.runtime.kernel.memory import access, direct_map
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.tx import Killed, Tx

__GFP_ZERO = 0x100
__GFP_DIRECT_RECLAIM = 0x400
ZERO_SIZE_PTR = 16


def might_alloc(tx: Tx, gfp: int, func: str = "kmalloc") -> None:
    """might_alloc(): might_sleep_if(gfpflags_allow_blocking(gfp))."""
    if gfp & __GFP_DIRECT_RECLAIM:
        sched.might_sleep(tx, func)


def kmalloc(tx: Tx, size: int, gfp: int, func: str) -> int:
    """kmalloc()/kzalloc(): ZERO_SIZE_PTR for 0 bytes, else might_alloc()
    and an object of the arena."""
    size &= tx.cfg.word_mask
    if size == 0:
        return ZERO_SIZE_PTR
    might_alloc(tx, gfp, func)
    pages = tx.program.slab_pages
    free = [i for i in range(len(pages)) if not tx.slab >> i & 1]
    if size > tx.cfg.PAGE_SIZE or not free:
        tx.report(R.SLAB_LIMIT, len(pages), tx.cfg.PAGE_SIZE, size,
                  bin(tx.slab).count("1"), tx.func(func))
        raise Killed()
    i = free[0]
    tx.slab = tx.slab | 1 << i
    addr = direct_map(tx.cfg, tx.program.pages[pages[i]].pfn)
    if func == "kzalloc" or gfp & __GFP_ZERO:
        access(tx, addr, size, bytes(size))
    if tx.events is not None:
        tx.event(f"{func}({size}): object {i} at {addr:#x}")
    return addr


def kfree(tx: Tx, addr: int) -> None:
    """kfree(): NULL and ZERO_SIZE_PTR are nothing (ZERO_OR_NULL_PTR)."""
    if addr <= ZERO_SIZE_PTR:
        return
    for i, page in enumerate(tx.program.slab_pages):
        if direct_map(tx.cfg, tx.program.pages[page].pfn) == addr and tx.slab >> i & 1:
            tx.slab = tx.slab & ~(1 << i)
            return
    tx.report(R.KFREE_BAD, addr & tx.cfg.word_mask)
    raise Killed()


HANDLERS: dict[str, Handler] = {
    "might_alloc": lambda tx, a: might_alloc(tx, a[0], "might_alloc"),  # type: ignore[index]
    "kmalloc": lambda tx, a: kmalloc(tx, a[0], a[1], "kmalloc"),  # type: ignore[index]
    "kzalloc": lambda tx, a: kmalloc(tx, a[0], a[1], "kzalloc"),  # type: ignore[index]
    "kfree": lambda tx, a: kfree(tx, a[0]),  # type: ignore[index]
}
