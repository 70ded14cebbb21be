"""The TLB entries of kmap_local slots that may outlive their PTE.

The model walks the page tables on every access (runtime/kernel/memory.py)
and keeps no TLB, except where the kernel's own flushes leave a
translation behind that an access can still use. An entry is named by its
kmap_local index, ``kmap_local_calc_idx()``'s slot + KM_MAX_IDX * cpu
(mm/highmem.c), which is the fixmap entry FIX_KMAP_BEGIN + index. In v6.1:

- ``kunmap_local_indexed()`` (mm/highmem.c) clears the PTE of the slot on
  top of the task's stack, ``__kmap_pte[-idx]`` (``kmap_get_pte()``), and
  then ``arch_kmap_local_post_unmap(addr)`` (arch/x86/include/asm/highmem.h)
  flushes the address it was *given*: ``flush_tlb_one_kernel(addr)``
  (arch/x86/mm/tlb.c), an INVLPG on this CPU only. After an out-of-order
  kunmap_local() the top slot's old translation may stay in this CPU's
  TLB;
- ``__kmap_local_pfn_prot()`` sets a slot's PTE and calls
  ``arch_kmap_local_post_map()``, which on x86 is only
  ``arch_flush_lazy_mmu_mode()``: no flush, so the next mapping of that
  slot may still be read through the old translation;
- ``__kmap_local_sched_out()`` clears and flushes (post_unmap) every slot
  the outgoing task counts, and ``__kmap_local_sched_in()`` maps without a
  flush;
- every one of those flushes is local (x86 INVLPG, ARM
  ``local_flush_tlb_kernel_page``): a CPU that used *another* CPU's
  kmap_local address (the model's FOREIGN_KMAP_LOCAL) keeps that
  translation however the owner unmaps, on x86 and ARM alike;
- ``flush_all_zero_pkmaps()`` (mm/highmem.c) flushes the pkmap range with
  ``flush_tlb_kernel_range()``, which flushes every TLB of every CPU
  (``do_flush_tlb_all`` on each CPU) when the range is longer than
  ``tlb_single_page_flush_ceiling`` (33) pages, as LAST_PKMAP's 1024 is,
  and only the pkmap pages otherwise.

Kernel fixmap PTEs are global, so no context switch drops them. A CPU's
TLB may evict an entry at any moment, and an access then walks the page
tables: both outcomes are the kernel's (bench/crosscheck, docs/fidelity.md
bug 3), so an entry that differs from the PTE is used by every access
through its address (a TLB hit) until the search's eviction action drops
it (``evict``, an action of its own: ``evict_action``). The model keeps an
entry of a CPU's own slot from the moment the PTE is cleared, whether or
not the slot was accessed since it was mapped: the CPU may have loaded it
speculatively, and a verdict must not rest on it not being there; an
entry of another CPU's slot from the first access through it.

ARM (arch/arm/include/asm/highmem.h) flushes the address at map and at
unmap (``local_flush_tlb_kernel_page``) and clears the given address's own
PTE (KMAP_LOCAL_NON_LINEAR_PTE_ARRAY): it never leaves an entry of a
CPU's own slot behind.
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel.tx import Tx

# arch/x86/mm/tlb.c: tlb_single_page_flush_ceiling
TLB_SINGLE_PAGE_FLUSH_CEILING = 33


def evict_action(idx: int) -> int:
    """The context field of the action that evicts the entry of kmap_local
    index ``idx``: negative, so that no context is named (machine.enabled
    lists them)."""
    return -1 - idx


def evicted_slot(ci: int) -> int:
    """The kmap_local index an eviction action's context field names."""
    return -1 - ci


def index_of(tx: Tx, cpu: int, slot: int) -> int:
    """kmap_local_calc_idx(): the index of ``cpu``'s ``slot``."""
    return slot + tx.cfg.KM_MAX_IDX * cpu


def describe(tx: Tx, idx: int) -> str:
    """'slot S of cpuN' for kmap_local index ``idx``."""
    cpu, slot = divmod(idx, tx.cfg.KM_MAX_IDX)
    return f"slot {slot} of cpu{cpu}"


def is_evict(ci: int) -> bool:
    return ci < 0


def leaves_stale(tx: Tx) -> bool:
    """Whether this arch's unmap and map can leave a translation behind:
    x86's linear PTE array with no flush at map (ARM flushes both)."""
    return tx.cfg.preset.pte_array_linear


def note_stale(tx: Tx, cpu: int, slot: int, pte: int) -> None:
    """The PTE ``pte`` (pfn + 1) of kmap_local index ``slot`` was cleared
    or replaced without a flush of its address on ``cpu``: that CPU's TLB
    may keep it. An entry already there stays: the TLB holds one
    translation per address, and while it holds the older one no walk
    loads the newer."""
    if not pte or not leaves_stale(tx):
        return
    _keep(tx, cpu, slot, pte, "its PTE changed without a flush there")


def note_loaded(tx: Tx, cpu: int, slot: int, pte: int) -> None:
    """``cpu`` accessed kmap_local index ``slot`` of another CPU through
    PTE ``pte``: its TLB may keep that translation, which the owner's
    local flushes never reach."""
    if pte:
        _keep(tx, cpu, slot, pte, "the owner's flushes are local to the owner")


def _keep(tx: Tx, cpu: int, slot: int, pte: int, why: str) -> None:
    c = tx.cpus[cpu]
    if any(s == slot for s, _ in c.tlb):
        if cached(tx, cpu, slot) != pte:
            used(tx, cpu, slot)   # evicted first, this one would be left
        return
    tx.set_cpu(cpu, tlb=tuple(sorted(c.tlb + ((slot, pte),))))
    if tx.events is not None:
        tx.event(f"cpu{cpu}'s TLB may still map {describe(tx, slot)} to pfn {pte - 1:#x} ({why})")


def flush_one(tx: Tx, cpu: int, slot: int) -> None:
    """flush_tlb_one_kernel() / local_flush_tlb_kernel_page() of kmap_local
    index ``slot``'s address on ``cpu``: an INVLPG of this CPU."""
    c = tx.cpus[cpu]
    if any(s == slot for s, _ in c.tlb):
        tx.set_cpu(cpu, tlb=tuple(e for e in c.tlb if e[0] != slot))


def flush_pkmap_range(tx: Tx) -> None:
    """flush_tlb_kernel_range(PKMAP_ADDR(0), PKMAP_ADDR(LAST_PKMAP)) on x86:
    every CPU's whole TLB when the pool is longer than the single-page
    ceiling, else only pkmap pages (no kmap_local slot)."""
    if not leaves_stale(tx) or tx.cfg.LAST_PKMAP <= TLB_SINGLE_PAGE_FLUSH_CEILING:
        return
    for cpu in range(tx.cfg.NR_CPUS):
        if tx.cpus[cpu].tlb:
            tx.set_cpu(cpu, tlb=())


def used(tx: Tx, cpu: int, slot: int) -> None:
    """The step depends on whether ``cpu``'s entry of kmap_local index
    ``slot`` is still there: machine.enabled then offers its eviction
    before the step."""
    if tx.tlb_used is not None:
        tx.tlb_used.add((cpu, slot))


def cached(tx: Tx, cpu: int, slot: int) -> int:
    """The pfn + 1 the TLB of ``cpu`` holds for kmap_local index ``slot``,
    or 0."""
    for s, pte in tx.cpus[cpu].tlb:
        if s == slot:
            return pte
    return 0


def evict(tx: Tx, cpu: int, slot: int) -> None:
    """The eviction action: ``cpu``'s TLB drops the entry of kmap_local
    index ``slot`` (a capacity miss, or anything else that refills it: the
    next access walks the page tables)."""
    pte = cached(tx, tx.cpu, slot)
    flush_one(tx, cpu, slot)
    if tx.events is not None:
        tx.event(f"cpu{cpu}'s TLB evicts {describe(tx, slot)} (pfn {pte - 1:#x}): "
                 "the next access walks the page tables")
