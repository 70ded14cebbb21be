"""The helpers of include/linux/highmem.h and highmem-internal.h built on
kmap_local (v6.1): folios, kmap_atomic_pfn/_prot, clear_highpage, the
zero_user family, and flush_dcache_page.

Folios: every page of a scenario is an order-0 folio, so `struct folio *`
is the address of its (head and only) struct page: page_folio(page) is
the page's own pointer, folio_page(folio, n) is nth_page(), plain pointer
arithmetic on the model's linear mem_map (a struct page of another page of
the scenario, or of none). Each helper runs in one step, as the
memcpy_*_page helpers do (docs/model.md).
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import cache, kmap_local, preempt
from kmap_scenarios.runtime.kernel.config import STRUCT_PAGE_SIZE
from kmap_scenarios.runtime.kernel.evaluate import page_arg
from kmap_scenarios.runtime.kernel.handler import Handler, Result
from kmap_scenarios.runtime.kernel.memory import access, page_address, page_pointer
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.tx import Tx


def flush_dcache_page(tx: Tx, page: int) -> None:
    """flush_dcache_page() on ARM VIVT: flush the kernel alias of the page,
    its direct map or, for highmem, its pkmap address if it has one
    (kmap_high_get in __flush_dcache_page). Elsewhere nothing to do."""
    if tx.cfg.CACHE != "vivt" or not tx.cfg.uses_cache:
        return
    vaddr = page_address(tx.program, tx.pkmap_pte, page)
    if vaddr:
        cache.flush_vivt_page(tx, vaddr)


def folio_page(tx: Tx, folio: int, n: int) -> int:
    """folio_page(folio, n) = nth_page(&folio->page, n)."""
    return folio + n * STRUCT_PAGE_SIZE


def kmap_local_folio(tx: Tx, folio: int, offset: int) -> int:
    """kmap_local_folio(): with HIGHMEM the page folio_page(folio, offset /
    PAGE_SIZE) through __kmap_local_page_prot(), plus offset % PAGE_SIZE;
    without it page_address(&folio->page) + offset."""
    ps = tx.cfg.PAGE_SIZE
    offset &= tx.cfg.word_mask          # a size_t
    if not tx.cfg.CONFIG_HIGHMEM:
        return page_address(tx.program, tx.pkmap_pte, page_arg(tx, folio)) + offset
    page = page_arg(tx, folio_page(tx, folio, offset // ps))
    return kmap_local.kmap_local_page_prot(tx, page) + offset % ps


def kmap_atomic_pfn(tx: Tx, pfn: int) -> int:
    """kmap_atomic_pfn(): preempt_disable (migrate_disable on PREEMPT_RT),
    pagefault_disable, __kmap_local_pfn_prot() (a slot even for lowmem);
    without HIGHMEM kmap_atomic(pfn_to_page(pfn))."""
    if not tx.cfg.CONFIG_HIGHMEM:
        page = tx.program.pfn_to_page.get(pfn)
        if page is None:
            tx.bug(R.BAD_PFN, pfn)
            raise AssertionError("unreachable")
        return kmap_local.kmap_atomic(tx, page)
    if tx.cfg.CONFIG_PREEMPT_RT:
        preempt.migrate_disable(tx)
    else:
        preempt.preempt_disable(tx)
    preempt.pagefault_disable(tx)
    return kmap_local.kmap_local_pfn_prot(tx, pfn)


def clear_highpage(tx: Tx, page: int) -> None:
    """clear_highpage(): kmap_local_page, clear_page, kunmap_local (no
    flush_dcache_page)."""
    kaddr = kmap_local.kmap_local_page_prot(tx, page)
    access(tx, kaddr, tx.cfg.PAGE_SIZE, bytes(tx.cfg.PAGE_SIZE))
    kmap_local.kunmap_local(tx, kaddr)


def zero_user_segments(tx: Tx, page: int, start1: int, end1: int, start2: int, end2: int,
                       func: str) -> None:
    """zero_user_segments(): BUG_ON(end1 > page_size(page) || end2 >
    page_size(page)). HIGHMEM (mm/highmem.c): an empty segment is none,
    and the page is mapped, zeroed, unmapped and flushed only if a segment
    is left; without HIGHMEM (include/linux/highmem.h) it is always mapped
    and flushed. The bounds are C unsigned ints."""
    start1, end1, start2, end2 = (v & 0xFFFFFFFF for v in (start1, end1, start2, end2))
    ps = tx.cfg.PAGE_SIZE
    if end1 > ps or end2 > ps:
        tx.bug(R.ZERO_USER_BUG, end1, end2)
    if tx.cfg.CONFIG_HIGHMEM:
        if start1 >= end1:
            start1 = end1 = 0
        if start2 >= end2:
            start2 = end2 = 0
        if not end1 and not end2:
            return
    kaddr = kmap_local.kmap_local_page_prot(tx, page)
    for start, end in ((start1, end1), (start2, end2)):
        if end > start:
            access(tx, kaddr + start, end - start, bytes(end - start))
    kmap_local.kunmap_local(tx, kaddr)
    flush_dcache_page(tx, page)


def _zero(func: str) -> Handler:
    def handler(tx: Tx, a: list[int] | None) -> Result:
        assert a is not None
        page = page_arg(tx, a[0])
        if func == "zero_user_segments":
            zero_user_segments(tx, page, a[1], a[2], a[3], a[4], func)
        elif func == "zero_user_segment":
            zero_user_segments(tx, page, a[1], a[2], 0, 0, func)
        else:   # zero_user(page, start, size)
            zero_user_segments(tx, page, a[1], a[1] + a[2], 0, 0, func)
        return None
    handler.__doc__ = f"{func}(): see zero_user_segments"
    return handler


HANDLERS: dict[str, Handler] = {
    "kmap_local_folio": lambda tx, a: kmap_local_folio(tx, a[0], a[1]),  # type: ignore[index]
    "kmap_atomic_pfn": lambda tx, a: kmap_atomic_pfn(tx, a[0]),  # type: ignore[index]
    # kmap_atomic_prot(page, prot): kmap_atomic() with a pgprot the model ignores
    "kmap_atomic_prot": lambda tx, a: kmap_local.kmap_atomic(tx, page_arg(tx, a[0])),  # type: ignore[index]
    "page_folio": lambda tx, a: page_pointer(tx.program, page_arg(tx, a[0])),  # type: ignore[index]
    "folio_page": lambda tx, a: folio_page(tx, a[0], a[1]),  # type: ignore[index]
    "clear_highpage": lambda tx, a: clear_highpage(tx, page_arg(tx, a[0])),  # type: ignore[index]
    "zero_user_segments": _zero("zero_user_segments"),
    "zero_user_segment": _zero("zero_user_segment"),
    "zero_user": _zero("zero_user"),
    "flush_dcache_page": lambda tx, a: flush_dcache_page(tx, page_arg(tx, a[0])),  # type: ignore[index]
}
