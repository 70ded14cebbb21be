"""Streaming DMA on ARM: dma_map/unmap/sync and the device's view of RAM.

docs/kernel-semantics.md §9.3-9.4: arch_sync_dma_for_device ->
__dma_page_cpu_to_dev -> dma_cache_maint_page(dmac_map_area);
arch_sync_dma_for_cpu -> __dma_page_dev_to_cpu (dmac_unmap_area when the
direction is not TO_DEVICE). For a highmem page on a VIVT cache the L1
operation works through the page's pkmap address: pinned with
kmap_high_get() when ARCH_NEEDS_KMAP_HIGH_GET (the 2009 fix), read unpinned
with page_address() before it; an unmapped highmem page needs no L1
maintenance. Physically tagged caches are maintained by physical address in
one step (the kernel's kmap_atomic there disables preemption). The per-line
loop is preemptible: one step per cache line, plus one for the lookup.

Line operations: map as arm926_dma_map_area (arch/arm/mm/proc-arm926.S):
TO_DEVICE clean, FROM_DEVICE invalidate, BIDIRECTIONAL clean+invalidate.
Unmap: nothing on VIVT, whose write-back cores' dma_unmap_area is `ret lr`
(proc-arm926.S, cache-v4wb.S, proc-xscale.S, ...); on the physically
tagged v6/v7 caches invalidate unless TO_DEVICE (cache-v7.S
v7_dma_unmap_area). No outer (L2) cache is modelled.
DMA_COHERENT: every operation is a no-op, the device snoops.
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import cache, pkmap
from kmap_scenarios.runtime.kernel.memory import direct_map, is_highmem, page_address
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.tx import Tx

BIDIRECTIONAL, TO_DEVICE, FROM_DEVICE = 0, 1, 2
CLEAN, INVALIDATE, FLUSH, NOTHING = 0, 1, 2, 3

# Which built-in maps to the CPU->device or device->CPU direction.
TO_DEV_FUNCS = ("dma_map_page", "dma_sync_single_for_device")
DIR_NAMES = {BIDIRECTIONAL: "DMA_BIDIRECTIONAL", TO_DEVICE: "DMA_TO_DEVICE", FROM_DEVICE: "DMA_FROM_DEVICE"}
OP_NAMES = {CLEAN: "clean", INVALIDATE: "invalidate", FLUSH: "clean+invalidate"}


def line_op(func: str, direction: int, vivt: bool) -> int:
    """dma_map_area's operation, or dma_unmap_area's (see the module note)."""
    if func in TO_DEV_FUNCS:
        return {TO_DEVICE: CLEAN, FROM_DEVICE: INVALIDATE}.get(direction, FLUSH)
    return NOTHING if direction == TO_DEVICE or vivt else INVALIDATE


def start(tx: Tx, func: str, page: int, direction: int) -> tuple[int, ...] | None:
    """The first step: validate, find the alias to maintain, maybe pin it.

    Returns the progress tuple (vaddr, next line, lines, pinned, op), or
    None when there is nothing left to do."""
    if direction not in DIR_NAMES:
        tx.bug(R.DMA_BAD_DIR, direction)
    cfg = tx.cfg
    op = line_op(func, direction, cfg.CACHE == "vivt")
    name = tx.program.pages[page].name
    if cfg.DMA_COHERENT or not cfg.uses_cache or op == NOTHING:
        if tx.events is not None:
            tx.event(f"{func}({name}, {DIR_NAMES[direction]}): no CPU cache maintenance needed")
        return None
    if cfg.CACHE != "vivt":
        for tag in cache.physical_tags(tx, page, 0, cfg.PAGE_SIZE):
            _apply(tx, op, tag, func, page)
        if tx.events is not None:
            tx.event(f"{func}({name}): {OP_NAMES[op]} by physical address")
        return None
    pinned = 0
    if not is_highmem(tx.program, page):
        vaddr = direct_map(cfg, tx.program.pages[page].pfn)
    elif cfg.ARCH_NEEDS_KMAP_HIGH_GET:
        vaddr = pkmap.kmap_high_get(tx, page)
        pinned = 1 if vaddr else 0
    else:
        vaddr = page_address(tx.program, tx.pkmap_pte, page)
        if tx.events is not None:
            tx.event(f"{func}: page_address({name}) = {vaddr:#x}, not pinned")
    if not vaddr:
        if tx.events is not None:
            tx.event(f"{func}({name}): not mapped, no L1 maintenance (VIVT lines were "
                 "flushed when it was unmapped)")
        return None
    lines = cfg.PAGE_SIZE // cfg.L1_CACHE_BYTES
    if tx.events is not None:
        tx.event(f"{func}({name}, {DIR_NAMES[direction]}): {OP_NAMES[op]} {lines} lines at {vaddr:#x}")
    return (vaddr, 0, lines, pinned, op, page)


def next_line(tx: Tx, func: str, progress: tuple[int, ...]) -> tuple[int, ...] | None:
    """One iteration of the maintenance loop (a preemptible step)."""
    vaddr, i, lines, pinned, op, page = progress
    tag = vaddr + i * tx.cfg.L1_CACHE_BYTES
    _apply(tx, op, tag, func, page)
    if tx.events is not None:
        tx.event(f"{func}: {OP_NAMES[op]} line {i} at {tag:#x}")
    if i + 1 < lines:
        return (vaddr, i + 1, lines, pinned, op, page)
    if pinned:
        pkmap.kunmap_high(tx, page)
    return None


def _apply(tx: Tx, op: int, tag: int, func: str, page: int) -> None:
    if op == CLEAN:
        cache.clean(tx, tag)
    elif op == INVALIDATE:
        cache.invalidate(tx, tag, func, page)
    elif op == FLUSH:
        cache.flush(tx, tag)


def _in_page(tx: Tx, func: str, page: int, offset: int, length: int) -> None:
    """The modelled device works on one page: anything else is the
    scenario's mistake, reported like a failed assert (the context stops)."""
    ps = tx.cfg.PAGE_SIZE
    if offset < 0 or length < 0 or offset + length > ps:
        tx.report(R.DEVICE_RANGE, offset, offset + length - 1, ps, page, tx.func(func))
        from kmap_scenarios.runtime.kernel.tx import Killed
        raise Killed()


def device_write(tx: Tx, page: int, offset: int, value: int, length: int) -> None:
    """The device writes RAM (a coherent one through the snooped cache)."""
    _in_page(tx, "device_write", page, offset, length)
    if tx.cfg.DMA_COHERENT:
        cache.snoop(tx, page, offset, length, drop=True)
    data = bytes([value & 0xFF]) * length
    tx.ram[page] = tx.ram[page][:offset] + data + tx.ram[page][offset + length:]
    tx.newest[page] = tx.newest[page][:offset] + data + tx.newest[page][offset + length:]
    if tx.events is not None:
        tx.event(f"device writes {value & 0xFF:#04x} x {length} to {tx.program.pages[page].name}"
             f"[{offset}..] in RAM")


def device_read(tx: Tx, page: int, offset: int) -> int:
    """The device reads RAM; data still dirty in a CPU cache is stale to it."""
    _in_page(tx, "device_read", page, offset, 1)
    if tx.cfg.DMA_COHERENT:
        cache.snoop(tx, page, offset, 1, drop=False)
    got = tx.ram[page][offset]
    newest = tx.newest[page][offset]
    if got != newest:
        tx.report(R.DEVICE_STALE_READ, offset, got, newest, page)
    return got
