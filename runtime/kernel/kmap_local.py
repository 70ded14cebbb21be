"""kmap_local_page/_prot/_pfn, kunmap_local and the context-switch hooks.

Modelled version: mainline after v5.11 with the 2021-2022 fixes
(docs/kernel-semantics.md §6, §7): the per-task ``kmap_ctrl`` (idx and
pteval[]), per-CPU fixmap slots growing downwards, KM_INCR 2 and guard slots
with CONFIG_DEBUG_KMAP_LOCAL, the linear (x86) or non-linear (ARM,
KMAP_LOCAL_NON_LINEAR_PTE_ARRAY) PTE lookup at unmap, and ARM's
arch_kmap_local_high_get(). Each function here runs inside one step: the
kernel holds preempt_disable() across the push and the pop, so no other
task on this CPU can observe them half done. A hardirq can (interrupts
stay on): runtime/kernel/kmap_window.py splits a call into its stages
where an irq of the CPU may still come.
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import cache, pkmap, preempt, tlb
from kmap_scenarios.runtime.kernel.memory import fixmap_slot, in_pkmap, is_highmem, note_mapped, note_released, page_address
from kmap_scenarios.runtime.kernel.config import STRUCT_PAGE_SIZE, Config
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.tx import Tx


def kmap_local_page_prot(tx: Tx, page: int) -> int:
    """__kmap_local_page_prot() (mm/highmem.c), or the !HIGHMEM inline.

    Lowmem returns page_address() with no slot unless FORCE_MAP; on ARM
    with ARCH_NEEDS_KMAP_HIGH_GET a page already in the pkmap pool is pinned
    with kmap_high_get() and its pkmap address returned (not on the stack,
    no migrate_disable). CONFIG_HIGHMEM=n (PKS series V9 42/45):
    pgmap_set_readwrite(page) and page_address()."""
    cfg = tx.cfg
    if not cfg.CONFIG_HIGHMEM:
        from kmap_scenarios.runtime.kernel import pks
        pks.pgmap_set_readwrite(tx, page)
        return page_address(tx.program, tx.pkmap_pte, page)
    if not cfg.CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP and not is_highmem(tx.program, page):
        return page_address(tx.program, tx.pkmap_pte, page)
    if cfg.ARCH_NEEDS_KMAP_HIGH_GET and is_highmem(tx.program, page):
        vaddr = pkmap.kmap_high_get(tx, page)
        if vaddr:
            if tx.events is not None:
                tx.event(f"arch_kmap_local_high_get: {tx.program.pages[page].name} already in the "
                     "pkmap pool, pinned instead of a fixmap slot")
            return vaddr
    return kmap_local_pfn_prot(tx, tx.program.pages[page].pfn)


def kmap_local_pfn_prot(tx: Tx, pfn: int) -> int:
    """__kmap_local_pfn_prot(): migrate_disable, push a slot, set its PTE."""
    if tx.program.pfn_to_page.get(pfn) is None:
        tx.bug(R.BAD_PFN, pfn)
    preempt.migrate_disable(tx)
    return push_slot(tx, pfn)


def push_slot(tx: Tx, pfn: int) -> int:
    """__kmap_local_pfn_prot() under its preempt_disable():
    kmap_local_idx_push(), then the PTE of the new top slot."""
    cfg = tx.cfg
    cur = tx.current()
    # kmap_local_idx_push(): in_hardirq() is the preempt count's hardirq
    # bits, not "a handler": a softirq (also an is_irq context here) with
    # interrupts on maps without a warning, as NET_RX's frag copies do.
    if preempt.in_hardirq(tx) and not tx.irqs_disabled():
        tx.warn_once(R.KMAP_LOCAL_HARDIRQ)
    idx = tx.ctxs[cur].kmap_idx + cfg.km_incr
    tx.set(cur, kmap_idx=idx)
    if idx >= cfg.KM_MAX_IDX:
        tx.bug(R.KMAP_LOCAL_DEPTH, idx, cfg.KM_MAX_IDX)
    slot = idx - 1
    vaddr = cfg.kmap_local_vaddr(tx.cpu, slot)
    busy = tx.cpus[tx.cpu].fixmap[slot]
    if busy:
        tx.bug(R.KMAP_LOCAL_PTE_BUSY, slot, tx.cpu, busy - 1)
    _set_pte(tx, tx.cpu, slot, pfn + 1, tx.ci)
    if not tlb.leaves_stale(tx):
        tlb.flush_one(tx, tx.cpu, tlb.index_of(tx, tx.cpu, slot))   # ARM arch_kmap_local_post_map()
    ctx = tx.ctxs[cur]
    tx.set(cur, pteval=ctx.pteval[:slot] + (pfn + 1,) + ctx.pteval[slot + 1:])
    note_mapped(tx, vaddr, pfn)
    if tx.events is not None:
        tx.event(f"kmap_local: idx {idx - cfg.km_incr} -> {idx}, slot {slot} of cpu{tx.cpu} "
             f"at {vaddr:#x} maps pfn {pfn:#x}")
    return vaddr


def _set_pte(tx: Tx, cpu: int, slot: int, pte: int, owner: int) -> None:
    c = tx.cpus[cpu]
    tx.set_cpu(cpu, fixmap=c.fixmap[:slot] + (pte,) + c.fixmap[slot + 1:],
               fix_owner=c.fix_owner[:slot] + (owner if pte else -1,) + c.fix_owner[slot + 1:])


def _flush_vivt_page(tx: Tx, vaddr: int, func: str) -> None:
    """arch_kmap_local_pre_unmap() on ARM VIVT: __cpuc_flush_dcache_area."""
    if tx.cfg.CACHE == "vivt" and tx.cfg.uses_cache:
        base = vaddr & ~(tx.cfg.PAGE_SIZE - 1)
        lines = cache.flush_vivt_page(tx, base)
        if tx.events is not None:
            tx.event(f"{func}: VIVT __cpuc_flush_dcache_area({base:#x}): "
                     f"{lines} line{'s' if lines != 1 else ''} cleaned and invalidated")


def kunmap_local_indexed(tx: Tx, vaddr: int) -> None:
    """kunmap_local_indexed(): pop the TOP slot, whatever address is given.

    The only order check is WARN_ON_ONCE(addr != top slot's address); the
    PTE cleared is the top slot's on linear-array arches (x86) and addr's
    own on ARM (kmap_get_pte with KMAP_LOCAL_NON_LINEAR_PTE_ARRAY)."""
    cfg = tx.cfg
    addr = vaddr & ~(cfg.PAGE_SIZE - 1) & cfg.word_mask
    if fixmap_slot(cfg, addr) is None:
        _unmap_outside_window(tx, addr)
        return
    pop_slot(tx, vaddr)
    preempt.migrate_enable(tx)


def pop_slot(tx: Tx, vaddr: int) -> None:
    """kunmap_local_indexed() under its preempt_disable(), for an address
    in the fixmap window: the order check, the PTE cleared, the pop."""
    cfg = tx.cfg
    addr = vaddr & ~(cfg.PAGE_SIZE - 1) & cfg.word_mask
    cur = tx.current()
    ctx = tx.ctxs[cur]
    top = ctx.kmap_idx - 1
    expected = cfg.kmap_local_vaddr(tx.cpu, top)
    if addr != expected:
        tx.warn_once(R.KUNMAP_LOCAL_ORDER, addr, top, expected)
    if cfg.preset.pte_array_linear:
        # __kmap_pte[-idx] with idx = kmap_local_calc_idx(top) = top +
        # KM_MAX_IDX * cpu: after a pop too many, top is -1, which is the
        # last slot of the CPU below, or on cpu0 the fixmap entry below
        # FIX_KMAP_BEGIN (cpu -1 here: nothing the model holds)
        cpu, slot = (tx.cpu, top) if top >= 0 else (tx.cpu - 1, cfg.KM_MAX_IDX - 1)
    else:
        cpu, slot = fixmap_slot(cfg, addr)  # type: ignore[misc]
    # What the caller released is the address it passed, whatever slot the
    # kernel then clears (USE_AFTER_UNMAP is about the caller's pointer).
    given_cpu, given_slot = fixmap_slot(cfg, addr)  # type: ignore[misc]
    given = tx.cpus[given_cpu].fixmap[given_slot] if given_cpu < cfg.NR_CPUS else 0
    if given:
        note_released(tx, addr, given - 1)
    _flush_vivt_page(tx, addr, "kunmap_local_indexed")
    cleared = 0
    if 0 <= cpu < cfg.NR_CPUS:
        cleared = tx.cpus[cpu].fixmap[slot]
        _set_pte(tx, cpu, slot, 0, -1)
    if 0 <= top < len(ctx.pteval):
        tx.set(cur, pteval=ctx.pteval[:top] + (0,) + ctx.pteval[top + 1:])
    idx = ctx.kmap_idx - cfg.km_incr
    tx.set(cur, kmap_idx=idx)
    if tx.events is not None:
        tx.event(f"kunmap_local: idx {ctx.kmap_idx} -> {idx}, "
                 + _cleared_text(tx.cpu, cpu, slot, cleared, top < 0))
    if 0 <= cpu < cfg.NR_CPUS and (cpu, slot) != (given_cpu, given_slot):
        # the PTE cleared is not the address flushed below: the owner
        # CPU's TLB may keep it (runtime/kernel/tlb.py)
        tlb.note_stale(tx, cpu, tlb.index_of(tx, cpu, slot), cleared)
    if given_cpu < cfg.NR_CPUS:   # arch_kmap_local_post_unmap(addr): this CPU's TLB
        tlb.flush_one(tx, tx.cpu, tlb.index_of(tx, given_cpu, given_slot))
    if idx < 0:
        tx.bug(R.KUNMAP_LOCAL_UNDERFLOW)


def _cleared_text(here: int, cpu: int, slot: int, cleared: int, below: bool) -> str:
    """What kunmap_local_indexed's pte_clear() hit, for the trace; ``below``:
    the pop too many, whose index kmap_local_calc_idx(-1) is outside this
    CPU's slots."""
    if cpu < 0:
        return (f"pte_clear() of fixmap index FIX_KMAP_BEGIN - 1 (kmap_local_calc_idx(-1) on "
                f"cpu{here}: the entry below the kmap_local slots, not a slot of any CPU)")
    what = f"pfn {cleared - 1:#x}" if cleared else "no PTE there"
    if below:
        what += f"; kmap_local_calc_idx(-1) on cpu{here} is cpu{cpu}'s last slot"
    return f"cleared slot {slot} of cpu{cpu} ({what})"


def _unmap_outside_window(tx: Tx, addr: int) -> None:
    """kunmap_local of a non-fixmap address: FORCE_MAP WARN, ARM's pkmap
    address from kmap_high_get(), or WARN_ON_ONCE(addr < PAGE_OFFSET)."""
    cfg = tx.cfg
    if cfg.CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP:
        tx.warn_once(R.KUNMAP_LOCAL_FORCE, addr)
        return
    if cfg.ARCH_NEEDS_KMAP_HIGH_GET and in_pkmap(cfg, addr):
        nr = (addr - cfg.pkmap_addr(0)) // cfg.PAGE_SIZE
        pte = tx.pkmap_pte[nr]
        page = tx.program.pfn_to_page.get(pte - 1, -1) if pte else -1
        pkmap.kunmap_high(tx, page)
        return
    if addr < cfg.preset.page_offset:
        tx.warn_once(R.KUNMAP_LOCAL_USER, addr)


def kunmap_local(tx: Tx, vaddr: int) -> None:
    """kunmap_local(): kunmap_local_indexed, or the !HIGHMEM inline with
    pgmap_set_noaccess(kmap_to_page(addr))."""
    if tx.cfg.CONFIG_HIGHMEM:
        kunmap_local_indexed(tx, vaddr)
        return
    from kmap_scenarios.runtime.kernel import pks
    page = tx.program.pfn_to_page.get(_virt_to_pfn(tx, vaddr))
    if page is not None:
        pks.pgmap_set_noaccess(tx, page)


def _virt_to_pfn(tx: Tx, vaddr: int) -> int:
    from kmap_scenarios.runtime.kernel.memory import PHYS_PFN_OFFSET
    cfg = tx.cfg
    return (vaddr - cfg.preset.page_offset) // cfg.PAGE_SIZE + PHYS_PFN_OFFSET.get(cfg.ARCH, 0)


def sched_out(tx: Tx, task: int, cpu: int) -> None:
    """__kmap_local_sched_out(): clear the outgoing task's PTEs on cpu.

    kmap_ctrl.idx and pteval[] stay; guard slots are skipped (warning if
    a guard slot holds a PTE), a slot without a PTE warns and is skipped."""
    _switch_slots(tx, task, cpu, out=True)


def sched_in(tx: Tx, task: int, cpu: int) -> None:
    """__kmap_local_sched_in(): re-install the incoming task's PTEs."""
    _switch_slots(tx, task, cpu, out=False)


def _switch_slots(tx: Tx, task: int, cpu: int, out: bool) -> None:
    ctx = tx.ctxs[task]
    if not ctx.kmap_idx:
        return
    cfg = tx.cfg
    func = tx.func("__kmap_local_sched_out" if out else "__kmap_local_sched_in")
    moved = []
    for i in range(min(ctx.kmap_idx, cfg.KM_MAX_IDX)):
        pte = ctx.pteval[i]
        if cfg.CONFIG_DEBUG_KMAP_LOCAL and i % 2 == 0:
            if pte and tx.first_time(int(R.SCHED_GUARD)):
                tx.report(R.SCHED_GUARD, i, func)
            continue
        if not pte:
            if tx.first_time(int(R.SCHED_PTE_NONE)):
                tx.report(R.SCHED_PTE_NONE, i, func)
            continue
        vaddr = cfg.kmap_local_vaddr(cpu, i)
        if out:
            _flush_vivt_page(tx, vaddr, "__kmap_local_sched_out")
            _set_pte(tx, cpu, i, 0, -1)
            tlb.flush_one(tx, cpu, tlb.index_of(tx, cpu, i))   # arch_kmap_local_post_unmap()
        else:
            _set_pte(tx, cpu, i, pte, task)
        moved.append(str(i))
    if moved:
        name = _trace_name(tx, task)
        verb = "cleared" if out else "restored"
        if tx.events is not None:
            tx.event(f"{'__kmap_local_sched_out' if out else '__kmap_local_sched_in'}: {verb} "
                 f"{name}'s slot{'s' if len(moved) > 1 else ''} {', '.join(moved)} on cpu{cpu}")


def _trace_name(tx: Tx, ctx: int) -> str:
    """A context as the trace names it: a scenario's task or handler, "idle"
    for an idle task, ksoftirqd/N for that kthread (state.ksoftirqd_ctx)."""
    n, ncpu = len(tx.program.contexts), tx.cfg.NR_CPUS
    if ctx < n:
        return tx.program.contexts[ctx].name
    return "idle" if ctx < n + ncpu else f"ksoftirqd/{ctx - n - ncpu}"


def kmap_atomic(tx: Tx, page: int) -> int:
    """kmap_atomic() (highmem-internal.h, >= v5.11): preempt_disable (or
    migrate_disable on PREEMPT_RT), pagefault_disable, then the kmap_local
    path."""
    if tx.cfg.CONFIG_PREEMPT_RT:
        preempt.migrate_disable(tx)
    else:
        preempt.preempt_disable(tx)
    preempt.pagefault_disable(tx)
    return kmap_local_page_prot(tx, page)


def kunmap_atomic(tx: Tx, vaddr: int) -> None:
    """__kunmap_atomic(): kunmap_local_indexed, pagefault_enable, then
    preempt_enable (migrate_enable on PREEMPT_RT)."""
    kunmap_local(tx, vaddr)
    preempt.pagefault_enable(tx)
    if tx.cfg.CONFIG_PREEMPT_RT:
        preempt.migrate_enable(tx)
    else:
        preempt.preempt_enable(tx)


def kmap_to_page(tx: Tx, vaddr: int) -> int:
    """__kmap_to_page() as mm/highmem.c has it since ef6e06b2ef87 (v6.2, and
    in 6.1.y): a struct page pointer, WARN_ON_ONCE for a pkmap address
    (pte_page() of its PTE) or a kmap_local address (the kmap_ctrl slot of
    this CPU whose address it is), else virt_to_page().

    A kernel quirk, modelled as written: the kmap_local test is
    `base >= __fix_to_virt(FIX_KMAP_END) && base < __fix_to_virt(FIX_KMAP_BEGIN)`,
    and the fixmap grows down, so FIX_KMAP_BEGIN's page, slot 0 of CPU 0,
    is outside it: no WARN, and virt_to_page() of the fixmap address, a
    struct page of no page at all. Without CONFIG_HIGHMEM kmap_to_page()
    is virt_to_page() (include/linux/highmem-internal.h)."""
    cfg = tx.cfg
    if cfg.CONFIG_HIGHMEM:
        if in_pkmap(cfg, vaddr):
            tx.warn_once(R.KMAP_TO_PAGE_PKMAP)
            pte = tx.pkmap_pte[(vaddr - cfg.pkmap_addr(0)) // cfg.PAGE_SIZE]
            return pfn_pointer(cfg, pte - 1 if pte else 0)   # pte_page()
        base = vaddr & ~(cfg.PAGE_SIZE - 1)
        end = cfg.kmap_local_vaddr(cfg.NR_CPUS - 1, cfg.KM_MAX_IDX - 1)  # FIX_KMAP_END
        begin = cfg.kmap_local_vaddr(0, 0)                                # FIX_KMAP_BEGIN
        if end <= base < begin:
            tx.warn_once(R.KMAP_TO_PAGE_LOCAL)
            ctx = tx.ctxs[tx.current()]
            for i in range(min(ctx.kmap_idx, cfg.KM_MAX_IDX)):
                # arch_kmap_local_map_idx(i, pfn): this CPU's slot i; the
                # kernel does not skip a guard slot's empty pteval
                if cfg.kmap_local_vaddr(tx.cpu, i) == base:
                    pte = ctx.pteval[i]
                    return pfn_pointer(cfg, pte - 1 if pte else 0)
        elif base == begin and tx.events is not None:
            tx.event(f"__kmap_to_page({vaddr:#x}): slot 0 of cpu0 is not below "
                     "__fix_to_virt(FIX_KMAP_BEGIN): no WARN, virt_to_page() of the fixmap address")
    return pfn_pointer(cfg, _virt_to_pfn(tx, vaddr))   # virt_to_page()


def pfn_pointer(cfg: Config, pfn: int) -> int:
    """pfn_to_page(): the struct page pointer of any pfn (a page of the
    scenario or not: the model's mem_map is linear)."""
    return cfg.preset.mem_map_base + pfn * STRUCT_PAGE_SIZE
