"""The data cache: write-back lines, tagged virtually (VIVT) or physically.

Model (docs/kernel-semantics.md §9.5): lines are filled on a miss,
written on a store (write-allocate, write-back), and leave only through
maintenance operations; there is no capacity eviction. A VIVT line is tagged
by its virtual line address and remembers the physical page it caches (ARM926
keeps the PA tag for write-back), so two aliases of one page are two
independent lines, and a line can outlive the mapping that filled it.
VIPT here means non-aliasing VIPT, which behaves like PIPT.

Ground truth for DATA_LOSS and STALE_READ is ``newest``: per physical byte,
the last value any CPU or device stored.
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.state import Line
from kmap_scenarios.runtime.kernel.tx import Tx


def _tag(tx: Tx, vaddr: int, page: int, off: int) -> int:
    l1 = tx.cfg.L1_CACHE_BYTES
    if tx.cfg.CACHE == "vivt":
        return vaddr & ~(l1 - 1)
    pfn = tx.program.pages[page].pfn
    return (pfn * tx.cfg.PAGE_SIZE + off) & ~(l1 - 1)


def _fill(tx: Tx, tag: int, page: int, off: int) -> Line:
    l1 = tx.cfg.L1_CACHE_BYTES
    start = off & ~(l1 - 1)
    line = Line(tag, page, start // l1, tx.ram[page][start:start + l1], False)
    tx.cache[tag] = line
    return line


def _bytes_set(buf: bytes, off: int, data: bytes) -> bytes:
    if buf[off:off + len(data)] == data:
        return buf
    return buf[:off] + data + buf[off + len(data):]


def cpu_read(tx: Tx, vaddr: int, page: int, off: int, n: int) -> bytes:
    """A CPU load of n bytes within one page (and one translation)."""
    if not tx.cfg.uses_cache:
        return tx.ram[page][off:off + n]
    l1 = tx.cfg.L1_CACHE_BYTES
    out = bytearray()
    pos = 0
    while pos < n:
        o = off + pos
        k = min(n - pos, l1 - (o % l1))
        tag = _tag(tx, vaddr + pos, page, o)
        line = tx.cache.get(tag) or _fill(tx, tag, page, o)
        lo = o % l1
        out += line.data[lo:lo + k]
        pos += k
    return bytes(out)


def cpu_write(tx: Tx, vaddr: int, page: int, off: int, data: bytes) -> None:
    """A CPU store within one page: newest always, RAM or a dirty line."""
    tx.newest[page] = _bytes_set(tx.newest[page], off, data)
    if not tx.cfg.uses_cache:
        tx.ram[page] = _bytes_set(tx.ram[page], off, data)
        return
    l1 = tx.cfg.L1_CACHE_BYTES
    pos = 0
    while pos < len(data):
        o = off + pos
        k = min(len(data) - pos, l1 - (o % l1))
        tag = _tag(tx, vaddr + pos, page, o)
        line = tx.cache.get(tag) or _fill(tx, tag, page, o)
        lo = o % l1
        tx.cache[tag] = Line(tag, line.page, line.index,
                             _bytes_set(line.data, lo, data[pos:pos + k]), True)
        pos += k


def clean(tx: Tx, tag: int) -> None:
    """Write a dirty line back to RAM (the page it was filled from)."""
    line = tx.cache.get(tag)
    if line is None or not line.dirty:
        return
    l1 = tx.cfg.L1_CACHE_BYTES
    tx.ram[line.page] = _bytes_set(tx.ram[line.page], line.index * l1, line.data)
    tx.cache[tag] = Line(tag, line.page, line.index, line.data, False)


def invalidate(tx: Tx, tag: int, func: str, page: int) -> None:
    """Discard a line during maintenance of ``page``.

    Discarding the maintained page's own dirty data is what DMA_FROM_DEVICE
    asks for (the buffer now belongs to the device). Discarding a dirty line
    of ANOTHER page that holds its newest data is DATA_LOSS: the 2009 race,
    where a recycled pkmap address aliases a different page (seed 002)."""
    line = tx.cache.pop(tag, None)
    if line is None or not line.dirty or line.page == page:
        return
    l1 = tx.cfg.L1_CACHE_BYTES
    start = line.index * l1
    ram = tx.ram[line.page][start:start + l1]
    new = tx.newest[line.page][start:start + l1]
    lost = [i for i in range(l1) if line.data[i] == new[i] and ram[i] != new[i]]
    if lost:
        tx.report(R.DATA_LOSS, start + lost[0], start + lost[-1], line.page, tx.func(func))


def flush(tx: Tx, tag: int) -> None:
    clean(tx, tag)
    tx.cache.pop(tag, None)


def flush_all(tx: Tx) -> None:
    """flush_cache_all(): clean and invalidate every line."""
    if not tx.cfg.uses_cache:
        return
    for tag in sorted(tx.cache):
        flush(tx, tag)
    if tx.events is not None:
        tx.event("flush_cache_all: D-cache cleaned and invalidated")


def writeback_all(tx: Tx) -> None:
    """Clean every dirty line (the final state's write-back)."""
    for tag in sorted(tx.cache):
        clean(tx, tag)


def flush_vivt_page(tx: Tx, vaddr: int) -> int:
    """Clean and invalidate the VIVT lines of the page at vaddr (ARM's
    __cpuc_flush_dcache_area over one page); how many lines there were."""
    base = vaddr & ~(tx.cfg.PAGE_SIZE - 1)
    lines = [t for t in tags_for_range(tx, base, tx.cfg.PAGE_SIZE) if t in tx.cache]
    for tag in lines:
        flush(tx, tag)
    return len(lines)


def tags_for_range(tx: Tx, vaddr: int, length: int) -> list[int]:
    """VIVT tags of the lines covering [vaddr, vaddr + length)."""
    l1 = tx.cfg.L1_CACHE_BYTES
    first = vaddr & ~(l1 - 1)
    return list(range(first, vaddr + length, l1))


def tags_of_page(tx: Tx, page: int) -> list[int]:
    """Every cached line holding data of a physical page (any alias)."""
    return sorted(t for t, ln in tx.cache.items() if ln.page == page)


def physical_tags(tx: Tx, page: int, off: int, length: int) -> list[int]:
    l1 = tx.cfg.L1_CACHE_BYTES
    base = tx.program.pages[page].pfn * tx.cfg.PAGE_SIZE
    first = (base + off) & ~(l1 - 1)
    return list(range(first, base + off + length, l1))


def snoop(tx: Tx, page: int, off: int, length: int, drop: bool) -> None:
    """Coherent DMA: the device sees (and, writing, replaces) cached data."""
    if not tx.cfg.uses_cache:
        return
    l1 = tx.cfg.L1_CACHE_BYTES
    lo, hi = off // l1, (off + length - 1) // l1
    for tag in tags_of_page(tx, page):
        if lo <= tx.cache[tag].index <= hi:
            clean(tx, tag)
            if drop:
                tx.cache.pop(tag, None)
