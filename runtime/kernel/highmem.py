"""The helpers of include/linux/highmem.h and highmem-internal.h built on
kmap_local (v6.1): folios, kmap_atomic_pfn/_prot and flush_dcache_page;
clear_highpage, the zero_user family and the memcpy_*_page helpers are in
runtime/kernel/helper_window.py.

Folios: every page of a scenario is an order-0 folio, so `struct folio *`
is the address of its (head and only) struct page: page_folio(page) is
the page's own pointer, folio_page(folio, n) is nth_page(), plain pointer
arithmetic on the model's linear mem_map (a struct page of another page of
the scenario, or of none). kmap_local_folio() runs in one step.
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


HANDLERS: dict[str, Handler] = {
    "kmap_local_folio": lambda tx, a: kmap_local_folio(tx, a[0], a[1]),  # type: ignore[index]
    "kmap_atomic_pfn": lambda tx, a: kmap_atomic_pfn(tx, a[0]),  # type: ignore[index]
    # kmap_atomic_prot(page, prot): kmap_atomic() with a pgprot the model ignores
    "kmap_atomic_prot": lambda tx, a: kmap_local.kmap_atomic(tx, page_arg(tx, a[0])),  # type: ignore[index]
    "page_folio": lambda tx, a: page_pointer(tx.program, page_arg(tx, a[0])),  # type: ignore[index]
    "folio_page": lambda tx, a: folio_page(tx, a[0], a[1]),  # type: ignore[index]
    "flush_dcache_page": lambda tx, a: flush_dcache_page(tx, page_arg(tx, a[0])),  # type: ignore[index]
}
