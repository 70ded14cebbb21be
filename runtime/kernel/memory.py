"""Pages, the virtual layout, page tables and the access path.

Every load and store by a scenario translates its virtual address through
the modelled page tables (docs/kernel-semantics.md §1.3):
the kmap_local fixmap slots of each CPU (``__fix_to_virt``, a larger index
is a lower address), the pkmap window (``PKMAP_ADDR``), and the direct map
of lowmem and devmap pages. A failed translation is the kernel's page-fault
oops. TLBs are modelled only where the kernel's flushes leave a kmap_local
translation behind (an out-of-order kunmap_local on x86, §6.5): such an
entry is used until the search chooses to evict it (runtime/kernel/tlb.py),
so both of the kernel's outcomes, the stale hit and the walk, are explored.
"""

from __future__ import annotations

from dataclasses import dataclass

from kmap_scenarios.runtime.kernel.config import FIX_KMAP_BEGIN, STRUCT_PAGE_SIZE, Config
from kmap_scenarios.runtime.kernel.program import PageKind, Program
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.state import State
from kmap_scenarios.runtime.kernel import tlb
from kmap_scenarios.runtime.kernel.tx import Tx

# arch/arm/include/asm/memory.h: PHYS_OFFSET of the modelled board.
PHYS_PFN_OFFSET = {"arm": 0x60000}


@dataclass(frozen=True, slots=True)
class Where:
    """What a virtual page maps: region 'direct', 'pkmap' or 'fixmap'."""

    page: int
    region: str
    slot: int = -1
    cpu: int = -1


def direct_map(cfg: Config, pfn: int) -> int:
    """lowmem_page_address(): PAGE_OFFSET + (pfn - PHYS_PFN_OFFSET) pages."""
    return cfg.preset.page_offset + (pfn - PHYS_PFN_OFFSET.get(cfg.ARCH, 0)) * cfg.PAGE_SIZE


def page_pointer(program: Program, page: int) -> int:
    """The struct page pointer a page name evaluates to."""
    return program.config.preset.mem_map_base + program.pages[page].pfn * STRUCT_PAGE_SIZE


def page_of_pointer(program: Program, ptr: int) -> int | None:
    """Inverse of page_pointer, or None when ptr is no struct page."""
    delta = ptr - program.config.preset.mem_map_base
    if delta < 0 or delta % STRUCT_PAGE_SIZE:
        return None
    return program.pfn_to_page.get(delta // STRUCT_PAGE_SIZE)


def is_highmem(program: Program, page: int) -> bool:
    return program.pages[page].kind == PageKind.HIGHMEM


def pkmap_slot_of(state_pte: tuple[int, ...] | list[int], pfn: int) -> int:
    """The pkmap slot whose PTE maps pfn, or -1 (the page_address_htable)."""
    try:
        return state_pte.index(pfn + 1)
    except ValueError:
        return -1


def page_address(program: Program, pkmap_pte: tuple[int, ...] | list[int], page: int) -> int:
    """page_address(): direct map for lowmem, the pkmap address or NULL."""
    info = program.pages[page]
    cfg = program.config
    if info.kind == PageKind.HIGHMEM:
        nr = pkmap_slot_of(pkmap_pte, info.pfn)
        return cfg.pkmap_addr(nr) if nr >= 0 else 0
    return direct_map(cfg, info.pfn)


def fixmap_window(cfg: Config) -> tuple[int, int]:
    """[__fix_to_virt(FIX_KMAP_END), __fix_to_virt(FIX_KMAP_BEGIN)]."""
    end = FIX_KMAP_BEGIN + cfg.KM_MAX_IDX * cfg.NR_CPUS - 1
    return cfg.fix_to_virt(end), cfg.fix_to_virt(FIX_KMAP_BEGIN)


def fixmap_slot(cfg: Config, vaddr: int) -> tuple[int, int] | None:
    """(cpu, slot) of a kmap_local address, or None outside the window."""
    lo, hi = fixmap_window(cfg)
    base = vaddr & ~(cfg.PAGE_SIZE - 1)
    if not lo <= base <= hi:
        return None
    idx = (cfg.fixaddr_top - base) // cfg.PAGE_SIZE - FIX_KMAP_BEGIN
    return divmod(idx, cfg.KM_MAX_IDX)


def in_pkmap(cfg: Config, vaddr: int) -> bool:
    return cfg.CONFIG_HIGHMEM and cfg.pkmap_addr(0) <= vaddr < cfg.pkmap_end


def translate(tx: Tx, vaddr: int) -> Where | None:
    """Walk the modelled kernel page tables for vaddr, after this CPU's TLB
    entry for a kmap_local slot that outlived its PTE (runtime/kernel/tlb.py:
    a hit until the search evicts it). A walk through another CPU's slot
    leaves its translation in this CPU's TLB."""
    cfg = tx.cfg
    fs = fixmap_slot(cfg, vaddr)
    if fs is not None:
        cpu, slot = fs
        idx = tlb.index_of(tx, cpu, slot)
        pte = tlb.cached(tx, tx.cpu, idx)
        walked = tx.cpus[cpu].fixmap[slot]
        if pte and pte != walked:
            tlb.used(tx, tx.cpu, idx)
            if tx.events is not None:
                now = f"maps pfn {walked - 1:#x}" if walked else "is clear"
                tx.event(f"{vaddr:#x}: cpu{tx.cpu}'s stale TLB entry for {tlb.describe(tx, idx)} "
                         f"gives pfn {pte - 1:#x} (the PTE {now})")
        else:
            pte = walked
            if cpu != tx.cpu:
                tlb.note_loaded(tx, tx.cpu, idx, walked)
        if not pte:
            return None
        page = tx.program.pfn_to_page.get(pte - 1)
        return None if page is None else Where(page, "fixmap", slot, cpu)
    if in_pkmap(cfg, vaddr):
        nr = (vaddr - cfg.pkmap_addr(0)) // cfg.PAGE_SIZE
        pte = tx.pkmap_pte[nr]
        if not pte:
            return None
        return Where(tx.program.pfn_to_page[pte - 1], "pkmap", nr)
    if vaddr >= cfg.preset.page_offset:
        pfn = (vaddr - cfg.preset.page_offset) // cfg.PAGE_SIZE + PHYS_PFN_OFFSET.get(cfg.ARCH, 0)
        page = tx.program.pfn_to_page.get(pfn)
        if page is not None and tx.program.pages[page].kind != PageKind.HIGHMEM:
            return Where(page, "direct")
    return None


def _uaf_check(tx: Tx, vaddr: int, w: Where, write: bool) -> None:
    """USE_AFTER_UNMAP: docs/language.md's rule, from the model's own records."""
    base = vaddr & ~(tx.cfg.PAGE_SIZE - 1)
    me = tx.ctxs[tx.ci]
    pfn = tx.program.pages[w.page].pfn
    if w.region == "fixmap":
        owner = tx.cpus[w.cpu].fix_owner[w.slot]
        if owner != tx.ci and owner >= 0:
            tx.report(R.FOREIGN_KMAP_LOCAL, vaddr, int(write), owner)
            return
    if w.region == "pkmap" and pfn in me.held:
        return
    # A new mapping at the same address forgets the release (note_mapped),
    # so a remaining record means this pointer was released by its user.
    if any(v == base for v, _ in me.released):
        tx.report(R.USE_AFTER_UNMAP, vaddr, int(write), w.page)


def _released_somewhere(tx: Tx, vaddr: int, write: bool) -> None:
    """A fault through an address some context mapped and released is also a
    use after unmap: the kernel only oopses, the model names the cause.
    Several contexts may have released pages at that address (a flush of
    the pool between): the lowest page is named, whichever context released
    it, so that the report does not depend on the contexts' order (renaming
    interchangeable tasks must map a step onto a step:
    runtime/search/symmetry.py)."""
    base = vaddr & ~(tx.cfg.PAGE_SIZE - 1)
    pages = [tx.program.pfn_to_page.get(pfn, -1)
             for ctx in tx.ctxs for v, pfn in ctx.released if v == base]
    if pages:
        tx.report(R.USE_AFTER_UNMAP, vaddr, int(write), min(pages, key=lambda p: (p < 0, p)))


def _pks_check(tx: Tx, vaddr: int, page: int, write: bool) -> None:
    """PKS: a devmap page's key denies access unless PKRS grants it (§10)."""
    if not (tx.cfg.CONFIG_DEVMAP_ACCESS_PROTECTION
            and tx.program.pages[page].kind == PageKind.DEVMAP):
        return
    if tx.ctxs[tx.ci].pkrs_rw:
        return
    if tx.cfg.PKS_FAULT_MODE == "strict":
        tx.bug(R.PKS_FAULT, vaddr, int(write), page)
    # relaxed: WARN_ONCE, pks_update_exception() grants RW to the
    # interrupted context too, and the access is retried.
    tx.warn_once(R.PKS_RELAXED)
    tx.set_me(pkrs_rw=True)
    if tx.ctxs[tx.ci].owner >= 0:
        tx.set(tx.ctxs[tx.ci].owner, pkrs_rw=True)


def access(tx: Tx, vaddr: int, length: int, data: bytes | None) -> bytes:
    """Load (data None) or store ``length`` bytes at vaddr, page by page."""
    from kmap_scenarios.runtime.kernel import cache
    mask = tx.cfg.word_mask
    vaddr &= mask
    out = bytearray()
    pos = 0
    write = data is not None
    while pos < length:
        va = (vaddr + pos) & mask
        w = translate(tx, va)
        if w is None:
            _released_somewhere(tx, va, write)
            tx.bug(R.PAGE_FAULT, va, int(write))
            raise AssertionError("unreachable")
        off = va & (tx.cfg.PAGE_SIZE - 1)
        n = min(length - pos, tx.cfg.PAGE_SIZE - off)
        _uaf_check(tx, va, w, write)
        _pks_check(tx, va, w.page, write)
        if data is not None:
            cache.cpu_write(tx, va, w.page, off, data[pos:pos + n])
        else:
            got = cache.cpu_read(tx, va, w.page, off, n)
            newest = tx.newest[w.page][off:off + n]
            if got != newest:
                i = next(i for i in range(n) if got[i] != newest[i])
                tx.report(R.STALE_READ, off + i, got[i], newest[i], w.page)
            out += got
        pos += n
    return bytes(out)


def load_byte(tx: Tx, vaddr: int) -> int:
    return access(tx, vaddr, 1, None)[0]


def store_byte(tx: Tx, vaddr: int, value: int) -> None:
    access(tx, vaddr, 1, bytes([value & 0xFF]))


# ------------------------------------------- use after unmap (the model's own)
def note_mapped(tx: Tx, vaddr: int, pfn: int) -> None:
    """Forget an earlier release of this address by this context."""
    base = vaddr & ~(tx.cfg.PAGE_SIZE - 1)
    me = tx.me
    if any(v == base for v, _ in me.released):
        tx.set_me(released=tuple(r for r in me.released if r[0] != base))


def note_released(tx: Tx, vaddr: int, pfn: int) -> None:
    """Remember that this context released its mapping at vaddr."""
    base = vaddr & ~(tx.cfg.PAGE_SIZE - 1)
    me = tx.me
    rel = tuple(sorted(set(me.released) | {(base, pfn)}))
    tx.set_me(released=rel)
