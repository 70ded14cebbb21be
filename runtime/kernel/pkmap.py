"""The persistent kmap pool: kmap_high, kunmap_high, kmap_high_get, flushes.

Modelled from mm/highmem.c, whose pkmap algorithm is textually the same from
v2.6.30 to today (docs/kernel-semantics.md §4). Every function here
runs with kmap_lock held for its whole length, so each is one step; the only
place the lock is dropped is the sleep in map_new_virtual(), which the model
turns into a blocked task (status WAIT_PKMAP) resumed by kunmap_high()'s
wake_up(). The kmap_lock itself is not a modelled lock: nothing else can run
inside these atomic steps, with one exception: the TLB flush of a wrap.

flush_all_zero_pkmaps() ends with flush_tlb_kernel_range(), which on x86
is on_each_cpu(..., wait = 1) (arch/x86/mm/tlb.c): an IPI to every other
CPU, waited for with kmap_lock held. A CPU with interrupts off takes it
only when it turns them back on. So where a wrap frees slots while another
CPU has interrupts off, kmap_high() stops there (``WAIT_IPI``, pending
PENDING_KMAP_IPI with the CPUs that took the IPI so far): each later step
adds the CPUs whose interrupts are on, and the scan goes on once all have
(``after_flush``). Meanwhile kmap_lock is held: the waiting context's
count is raised by spin_lock()'s preempt_disable(), and a kmap() or
kunmap() elsewhere spins on the lock (PENDING_KMAP_LOCK, interrupts as its
caller has them: lock_kmap() is a plain spin_lock() on x86). A CPU that
spins with interrupts off on something the waiting context holds never
takes the IPI: the hard lockup bench/crosscheck.py found on v6.1
(bench/crosscheck/pkmap_flush_ipi_lockup.kmap). ARM broadcasts its TLB
maintenance in hardware (ARMv7 SMP): no IPI there. kmap_flush_unused()'s
flush is still one step. Left out: xtensa colouring (§4.11).

A CPU's interrupts are looked at only at the waiting context's steps; a
CPU that turns them on and off again between two of those is seen at
another interleaving, where the waiting context steps in between (a
cycle the search can leave is no execution, docs/language.md).
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import cache, tlb
from kmap_scenarios.runtime.kernel.memory import is_highmem, note_mapped, note_released, page_address, pkmap_slot_of
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.state import Status
from kmap_scenarios.runtime.kernel.tx import Tx


def _hold(tx: Tx, pfn: int) -> None:
    me = tx.me
    tx.set_me(held=tuple(sorted(me.held + (pfn,))))


def _unhold(tx: Tx, vaddr: int, pfn: int) -> None:
    me = tx.me
    if pfn in me.held:
        held = list(me.held)
        held.remove(pfn)
        tx.set_me(held=tuple(held))
    if pfn not in tx.me.held:
        note_released(tx, vaddr, pfn)


WAIT_IPI = -1   # map_new_virtual(): the wrap's TLB flush waits for other CPUs


def flush_all_zero_pkmaps(tx: Tx) -> bool:
    """flush_all_zero_pkmaps(): flush_cache_kmaps(), then free every slot
    whose count is 1 (count 1 -> 0, pte_clear, set_page_address(NULL));
    one global TLB flush if anything was freed (the result)."""
    if tx.cfg.CACHE == "vivt":
        cache.flush_all(tx)  # ARM flush_cache_kmaps(): flush_cache_all()
    freed = []
    counts, ptes = tx.pkmap_count, tx.pkmap_pte
    for i, count in enumerate(counts):
        if count != 1:
            continue
        counts[i] = 0
        if not ptes[i]:
            tx.bug(R.FLUSH_PTE_NONE, i)
        ptes[i] = 0
        freed.append(str(i))
    if freed:
        tlb.flush_pkmap_range(tx)
        if tx.events is not None:
            tx.event(f"flush_all_zero_pkmaps: freed slot{'s' if len(freed) > 1 else ''} "
                 f"{', '.join(freed)}; flush_tlb_kernel_range(PKMAP_ADDR(0), "
                 f"PKMAP_ADDR({tx.cfg.LAST_PKMAP}))")
    else:
        if tx.events is not None:
            tx.event("flush_all_zero_pkmaps: nothing to free, no TLB flush")
    return bool(freed)


def ipi_cpus(tx: Tx) -> int:
    """The other CPUs flush_tlb_kernel_range()'s IPI must reach, as a mask:
    every other CPU on x86 SMP; none on ARM (broadcast TLB maintenance) or
    a single CPU."""
    if tx.cfg.ARCH != "x86" or tx.cfg.NR_CPUS < 2:
        return 0
    return ((1 << tx.cfg.NR_CPUS) - 1) & ~(1 << tx.cpu)


def ipi_acks(tx: Tx, acked: int) -> int:
    """``acked`` plus the other CPUs whose interrupts are on now: each runs
    the flush's IPI handler as soon as it can take an interrupt."""
    for c in range(tx.cfg.NR_CPUS):
        if ipi_cpus(tx) >> c & 1 and not tx.cpus[c].irqs_off:
            acked |= 1 << c
    return acked


def kmap_lock_waiter(tx: Tx) -> int:
    """The context other than this one that holds kmap_lock while its
    flush waits for the IPI, or -1 (only such a wait spans steps). Kept in
    State.kmap_ipi, so that a kmap() reads one position, not every
    context's pending (a memo key of every context: the one-CPU pkmap
    rung of bench/ladder.py took 11 s instead of 2 with that)."""
    if not ipi_cpus(tx):
        return -1
    w = tx.kmap_ipi
    return w if w != tx.ci else -1


def map_new_virtual(tx: Tx, page: int, after_flush: bool = False) -> int:
    """map_new_virtual(): pre-incremented round-robin scan from last_pkmap_nr,
    a flush at every wrap; 0 when every slot is busy (the caller sleeps),
    WAIT_IPI when the wrap's TLB flush must wait for a CPU with interrupts
    off. ``after_flush``: that flush is done; the scan goes on at slot 0."""
    n = tx.cfg.LAST_PKMAP
    count = n
    counts = tx.pkmap_count
    while True:
        if not after_flush:
            before = tx.last_pkmap_nr
            tx.last_pkmap_nr = (tx.last_pkmap_nr + 1) & (n - 1)
            if tx.last_pkmap_nr == 0:
                if tx.events is not None:
                    tx.event(f"map_new_virtual: last_pkmap_nr {before} -> 0 wraps")
                count = n
                if flush_all_zero_pkmaps(tx) and ipi_acks(tx, 0) != ipi_cpus(tx):
                    if tx.events is not None:
                        tx.event("flush_tlb_kernel_range: on_each_cpu() waits for a CPU with "
                                 "interrupts off, kmap_lock held")
                    return WAIT_IPI
        after_flush = False
        nr = tx.last_pkmap_nr
        if counts[nr] == 0:
            break
        count -= 1
        if count == 0:
            return 0
    pfn = tx.program.pages[page].pfn
    tx.pkmap_pte[nr] = pfn + 1
    tx.pkmap_count[nr] = 1
    vaddr = tx.cfg.pkmap_addr(nr)
    if tx.events is not None:
        tx.event(f"map_new_virtual: slot {nr} free, {tx.program.pages[page].name} mapped at {vaddr:#x}")
    return vaddr


def kmap_high_start(tx: Tx, page: int, woken: bool, after_flush: bool = False) -> int:
    """kmap_high(): page_address under the lock, else map_new_virtual; then
    pkmap_count++ and BUG_ON(count < 2). Returns 0 when the task must sleep
    on pkmap_map_wait (the caller blocks it), WAIT_IPI when the wrap's flush
    waits (the caller spins, ``after_flush`` when it resumes). ``woken``:
    resuming after the sleep, where "somebody else might have mapped it
    while we slept"."""
    vaddr = 0 if after_flush else page_address(tx.program, tx.pkmap_pte, page)
    if woken and vaddr:
        if tx.events is not None:
            tx.event(f"kmap_high: woken; somebody else mapped {tx.program.pages[page].name} "
                 "while we slept")
    if not vaddr:
        vaddr = map_new_virtual(tx, page, after_flush)
        if vaddr <= 0:
            return vaddr
    nr = (vaddr - tx.cfg.pkmap_addr(0)) // tx.cfg.PAGE_SIZE
    tx.pkmap_count[nr] += 1
    if tx.events is not None:
        tx.event(f"kmap_high: pkmap_count[{nr}] {tx.pkmap_count[nr] - 1} -> {tx.pkmap_count[nr]}")
    if tx.pkmap_count[nr] < 2:
        tx.bug(R.KMAP_HIGH_COUNT)
    _hold(tx, tx.program.pages[page].pfn)
    note_mapped(tx, vaddr, tx.program.pages[page].pfn)
    _arm_unlock_irq(tx)
    return vaddr


def _arm_unlock_irq(tx: Tx) -> None:
    """With ARCH_NEEDS_KMAP_HIGH_GET, unlock_kmap() is spin_unlock_irq():
    interrupts are on afterwards, whatever the caller had (§4.2)."""
    if tx.cfg.ARCH_NEEDS_KMAP_HIGH_GET and tx.cpus[tx.cpu].irqs_off:
        tx.set_cpu(tx.cpu, irqs_off=False)
        if tx.events is not None:
            tx.event("unlock_kmap: spin_unlock_irq() re-enabled interrupts")


def sleep_on_pkmap(tx: Tx) -> None:
    """The no-free-slot branch of map_new_virtual(): TASK_UNINTERRUPTIBLE on
    pkmap_map_wait, kmap_lock dropped, schedule()."""
    tx.pkmap_waiters.append(tx.ci)
    tx.set_me(status=int(Status.WAIT_PKMAP))
    if tx.events is not None:
        tx.event("map_new_virtual: no free slot; sleeping on pkmap_map_wait")


def kunmap_high(tx: Tx, page: int) -> None:
    """kunmap_high(): --pkmap_count; BUG_ON(!vaddr); BUG() at 0; wake_up()
    of pkmap_map_wait when it drops to 1 and somebody waits."""
    vaddr = page_address(tx.program, tx.pkmap_pte, page) if page >= 0 else 0
    if not vaddr or not is_highmem(tx.program, page):
        if page >= 0 and not is_highmem(tx.program, page):
            tx.bug(R.PAGE_NOT_HIGHMEM, page, tx.func("kunmap_high"))
        tx.bug(R.KUNMAP_HIGH_NOT_MAPPED, page)
    nr = (vaddr - tx.cfg.pkmap_addr(0)) // tx.cfg.PAGE_SIZE
    tx.pkmap_count[nr] -= 1
    count = tx.pkmap_count[nr]
    if tx.events is not None:
        tx.event(f"kunmap_high: pkmap_count[{nr}] {count + 1} -> {count}")
    if count == 0:
        tx.bug(R.KUNMAP_HIGH_ZERO, nr, page)
    _unhold(tx, vaddr, tx.program.pages[page].pfn)
    if count == 1 and tx.pkmap_waiters:
        woken = sorted(tx.pkmap_waiters)
        for w in woken:
            tx.set(w, status=int(Status.READY))
        tx.pkmap_waiters.clear()
        names = ", ".join(tx.program.contexts[w].name for w in woken)
        if tx.events is not None:
            tx.event(f"kunmap_high: wake_up(pkmap_map_wait) wakes {names}")


def kmap_high_get(tx: Tx, page: int) -> int:
    """kmap_high_get(): pin a page already in the pool (count++), never map;
    NULL when it is not there. The stub returning NULL without
    ARCH_NEEDS_KMAP_HIGH_GET (arch/arm/include/asm/highmem.h)."""
    if not tx.cfg.ARCH_NEEDS_KMAP_HIGH_GET:
        return 0
    if not is_highmem(tx.program, page):
        tx.bug(R.PAGE_NOT_HIGHMEM, page, tx.func("kmap_high_get"))
    vaddr = page_address(tx.program, tx.pkmap_pte, page)
    if not vaddr:
        if tx.events is not None:
            tx.event(f"kmap_high_get: {tx.program.pages[page].name} not in the pool: NULL")
        return 0
    nr = (vaddr - tx.cfg.pkmap_addr(0)) // tx.cfg.PAGE_SIZE
    if tx.pkmap_count[nr] < 1:
        tx.bug(R.HIGH_GET_COUNT)
    tx.pkmap_count[nr] += 1
    if tx.events is not None:
        tx.event(f"kmap_high_get: pinned slot {nr}, pkmap_count[{nr}] "
             f"{tx.pkmap_count[nr] - 1} -> {tx.pkmap_count[nr]}")
    _hold(tx, tx.program.pages[page].pfn)
    note_mapped(tx, vaddr, tx.program.pages[page].pfn)
    return vaddr


def kmap_flush_unused(tx: Tx) -> None:
    """kmap_flush_unused(): lock_kmap(); flush_all_zero_pkmaps(); unlock."""
    if tx.cfg.CONFIG_HIGHMEM:
        flush_all_zero_pkmaps(tx)
        _arm_unlock_irq(tx)


def pkmap_count_of(pkmap_pte: tuple[int, ...], pkmap_count: tuple[int, ...], pfn: int) -> int:
    """pkmap_count[] of the slot mapping pfn, or 0 when it is not in the pool."""
    nr = pkmap_slot_of(pkmap_pte, pfn)
    return pkmap_count[nr] if nr >= 0 else 0
