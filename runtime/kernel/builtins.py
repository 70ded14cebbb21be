"""The built-in functions: one handler per kernel API name.

A handler takes the Tx and the evaluated arguments (struct page pointers
as values, decoded with ``page_arg``; locks and percpu variables as
indices) and returns the call's value (None for void). A multi-step built-in
(it may sleep, spin, or be preempted part-way) keeps its progress in the
context's ``pending`` tuple and returns NOT_DONE until it completes; its
arguments are only evaluated on its first step (``argv`` is None after).
Pending tags: 1 spinning on a lock, 2 asleep in kmap_high, 3 a DMA
maintenance loop, 4 a user page fault being served, 7 a kmap_local call
between its stages (runtime/kernel/kmap_window.py), 8 a highmem helper
between its stages (runtime/kernel/helper_window.py).
"""

from __future__ import annotations

from typing import Callable

from kmap_scenarios.runtime.kernel import (dma, helper_window, highmem, irqflags, kmap_local, kmap_window,
                                           mutex, pkmap, preempt, rcu, sched, slab, softirq, spinlock)
from kmap_scenarios.runtime.kernel.evaluate import eval_expr, page_arg, use_builtins, word
from kmap_scenarios.runtime.kernel.handler import (NOT_DONE, PENDING_FAULT, PENDING_KMAP, PENDING_KMAP_IPI,
                                                  PENDING_KMAP_LOCK, PENDING_SPIN, Handler, Result)
from kmap_scenarios.runtime.kernel.memory import access, is_highmem, page_address
from kmap_scenarios.runtime.kernel.program import Expr, PageKind
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.tx import Killed, Tx

INT_MAX = 0x7FFFFFFF


# ------------------------------------------------------------------ mapping
def _kmap(tx: Tx, argv: list[int] | None) -> Result:
    """kmap(): might_sleep(); lowmem -> page_address(); else kmap_high(),
    which may sleep on pkmap_map_wait (highmem-internal.h, mm/highmem.c),
    spin on kmap_lock while another CPU's flush waits for its IPI, or wait
    for its own flush's IPI (pkmap.py)."""
    p = tx.me.pending
    after_flush = False
    if p is None:
        assert argv is not None
        sched.might_sleep(tx, "kmap")
        page = page_arg(tx, argv[0])
        if not tx.cfg.CONFIG_HIGHMEM or not is_highmem(tx.program, page):
            return page_address(tx.program, tx.pkmap_pte, page)
        woken = False
        if _spin_on_kmap_lock(tx, page):
            return NOT_DONE
    elif p[0] == PENDING_KMAP_LOCK:
        page, woken = p[1], False
        if _spin_on_kmap_lock(tx, page):
            return NOT_DONE
    elif p[0] == PENDING_KMAP_IPI:
        page, woken = p[1], False
        acked = pkmap.ipi_acks(tx, p[2])
        if acked != pkmap.ipi_cpus(tx):
            if acked != p[2]:
                tx.set_me(pending=(PENDING_KMAP_IPI, page, acked))
            return NOT_DONE
        if tx.events is not None:
            tx.event("flush_tlb_kernel_range: every CPU took the IPI")
        tx.kmap_ipi = -1
        preempt.preempt_enable(tx)      # its spin_lock(&kmap_lock), taken with the step below
        after_flush = True
    else:
        page, woken = p[1], True
    vaddr = pkmap.kmap_high_start(tx, page, woken, after_flush)
    if vaddr == pkmap.WAIT_IPI:
        preempt.preempt_disable(tx)     # lock_kmap(): kmap_lock stays held
        tx.set_me(pending=(PENDING_KMAP_IPI, page, pkmap.ipi_acks(tx, 0)))
        tx.kmap_ipi = tx.ci
        return NOT_DONE
    if vaddr:
        tx.set_me(pending=None)
        return vaddr
    sched.schedule_debug(tx)
    pkmap.sleep_on_pkmap(tx)
    tx.set_me(pending=(PENDING_KMAP, page))
    if not tx.in_irq():
        sched.leave_cpu(tx, tx.ci, tx.cpu)
    return NOT_DONE


def _spin_on_kmap_lock(tx: Tx, page: int) -> bool:
    """lock_kmap() (spin_lock(&kmap_lock) on x86) while another context
    holds it, waiting for its flush's IPI: spin, the count raised by the
    lock's preempt_disable(). False once the lock is free (the raise undone:
    the pkmap step that follows is atomic as before)."""
    spinning = tx.me.pending is not None and tx.me.pending[0] == PENDING_KMAP_LOCK
    if pkmap.kmap_lock_waiter(tx) >= 0:
        if not spinning:
            preempt.preempt_disable(tx)
            tx.set_me(pending=(PENDING_KMAP_LOCK, page))
            if tx.events is not None:
                tx.event("lock_kmap: kmap_lock held while a flush waits for its IPI; spinning")
        return True
    if spinning:
        preempt.preempt_enable(tx)
        tx.set_me(pending=None)
    return False


def _kunmap(tx: Tx, argv: list[int] | None) -> Result:
    """kunmap(): might_sleep(); lowmem -> nothing; else kunmap_high()
    (spinning on kmap_lock while a flush waits for its IPI)."""
    if tx.me.pending is None:
        assert argv is not None
        page = page_arg(tx, argv[0])
        if not tx.cfg.CONFIG_HIGHMEM:
            return None  # the !HIGHMEM inline: no might_sleep(), nothing to undo
        sched.might_sleep(tx, "kunmap")
        if not is_highmem(tx.program, page):
            return None
    return _kunmap_high(tx, argv)


def _kmap_local_pfn(tx: Tx, argv: list[int] | None) -> Result:
    """kmap_local_pfn(): always a slot with CONFIG_HIGHMEM, even for lowmem."""
    assert argv is not None
    if tx.cfg.CONFIG_HIGHMEM:
        return kmap_local.kmap_local_pfn_prot(tx, argv[0])
    page = tx.program.pfn_to_page.get(argv[0])
    if page is None:
        tx.bug(R.BAD_PFN, argv[0])
        raise AssertionError("unreachable")
    return kmap_local.kmap_local_page_prot(tx, page)


def _kmap_high_get(tx: Tx, argv: list[int] | None) -> Result:
    assert argv is not None
    page = page_arg(tx, argv[0])
    return pkmap.kmap_high_get(tx, page) if tx.cfg.CONFIG_HIGHMEM else 0


def _kunmap_high(tx: Tx, argv: list[int] | None) -> Result:
    """kunmap_high(); with CONFIG_HIGHMEM=n the empty inline."""
    if tx.me.pending is not None:
        page = tx.me.pending[1]
    else:
        assert argv is not None
        page = page_arg(tx, argv[0])
        if not tx.cfg.CONFIG_HIGHMEM:
            return None
    if _spin_on_kmap_lock(tx, page):
        return NOT_DONE
    pkmap.kunmap_high(tx, page)
    return None


def _kmap_to_page(tx: Tx, argv: list[int] | None) -> Result:
    """kmap_to_page(): see kmap_local.kmap_to_page (mm/highmem.c). Its
    argument is a `void *`: a negative value (an address kept in a signed
    int) is that address, the machine word."""
    assert argv is not None
    return kmap_local.kmap_to_page(tx, argv[0] & tx.cfg.word_mask)


# ------------------------------------------------------------------ context
def _smp_processor_id(tx: Tx, argv: list[int] | None) -> Result:
    """check_preemption_disabled() (lib/smp_processor_id.c, DEBUG_PREEMPT):
    fine when preemption or irqs are off, in an irq, for a task bound to
    one CPU or migration-disabled; else a BUG splat, and the value.
    Without CONFIG_DEBUG_PREEMPT smp_processor_id() is the unchecked
    __smp_processor_id() (include/linux/smp.h)."""
    me = tx.me
    if not tx.cfg.CONFIG_DEBUG_PREEMPT:
        return tx.cpu
    cur = tx.ctxs[tx.current()]
    pinned = tx.ci < len(tx.program.contexts) and tx.program.contexts[tx.ci].cpu is not None
    if not (me.preempt_count or tx.irqs_disabled() or tx.in_irq() or pinned
            or cur.migration_disabled or tx.cfg.NR_CPUS == 1):
        if tx.first_time(int(R.SMP_PROCESSOR_ID)):
            tx.report(R.SMP_PROCESSOR_ID, me.preempt_count)
    return tx.cpu


def _get_cpu(tx: Tx, argv: list[int] | None) -> Result:
    preempt.preempt_disable(tx)
    return tx.cpu


def _percpu(tx: Tx, var: int, cpu: int) -> int:
    if not 0 <= cpu < tx.cfg.NR_CPUS:
        tx.bug(R.PERCPU_RANGE, cpu, tx.cfg.NR_CPUS)
    return tx.percpu[var][cpu]


def _this_cpu_add(tx: Tx, var: int, delta: int) -> None:
    """this_cpu_add(): one irq-safe instruction on this CPU's copy."""
    tx.percpu[var][tx.cpu] = word(tx.cfg.preset.bits, tx.percpu[var][tx.cpu] + delta)


def _this_cpu_write(tx: Tx, var: int, value: int) -> None:
    tx.percpu[var][tx.cpu] = word(tx.cfg.preset.bits, value)


# ------------------------------------------------------------------- memory
def _size_t(tx: Tx, n: int) -> int:
    """A length as the kernel receives it: a size_t (-1 is SIZE_MAX)."""
    return n & tx.cfg.word_mask


def _memset(tx: Tx, argv: list[int] | None) -> Result:
    assert argv is not None
    addr, value, length = argv
    _fill(tx, addr, _size_t(tx, length), value)
    return addr


def _fill(tx: Tx, addr: int, length: int, value: int) -> None:
    """Store ``length`` bytes of ``value`` at addr a page at a time, as one
    access() would, without making them all first: a wild length oopses
    at the first unmapped address like any store."""
    byte = bytes([value & 0xFF])
    size = tx.cfg.PAGE_SIZE
    pos = 0
    while pos < length:
        n = min(length - pos, size - ((addr + pos) & (size - 1)))
        access(tx, addr + pos, n, byte * n)
        pos += n


def _memcpy(tx: Tx, argv: list[int] | None) -> Result:
    assert argv is not None
    dst, src, length = argv
    length = _size_t(tx, length)
    if length > 0:
        access(tx, dst, length, access(tx, src, length, None))
    return dst


# --------------------------------------------------------------------- DMA
def _dma(func: str) -> Handler:
    def handler(tx: Tx, argv: list[int] | None) -> Result:
        p = tx.me.pending
        if p is None:
            assert argv is not None
            page = page_arg(tx, argv[0])
            progress = dma.start(tx, func, page, argv[1])
            result = tx.program.pages[page].pfn * tx.cfg.PAGE_SIZE
            if progress is None:
                return result if func == "dma_map_page" else None
            tx.set_me(pending=(3,) + progress)
            return NOT_DONE
        progress = dma.next_line(tx, func, p[1:])
        if progress is None:
            tx.set_me(pending=None)
            page = p[-1]
            return tx.program.pages[page].pfn * tx.cfg.PAGE_SIZE if func == "dma_map_page" else None
        tx.set_me(pending=(3,) + progress)
        return NOT_DONE
    handler.__doc__ = f"{func}(): see runtime/kernel/dma.py"
    return handler


# -------------------------------------------------------------- user memory
def _user_page(tx: Tx, uaddr: int) -> tuple[int, int] | None:
    ps = tx.cfg.PAGE_SIZE
    for i, p in enumerate(tx.program.pages):
        if p.kind == PageKind.USER and p.user_vaddr <= uaddr < p.user_vaddr + ps:
            return i, uaddr - p.user_vaddr
    return None


def _missing(tx: Tx, uaddr: int, length: int) -> list[int]:
    """User pages of [uaddr, uaddr + length) that are not present."""
    out, pos = [], 0
    while pos < length:
        found = _user_page(tx, uaddr + pos)
        if found is None:
            break
        page, off = found
        if not tx.user_present[page]:
            out.append(page)
        pos += tx.cfg.PAGE_SIZE - off
    return out


def _copy_user(to_user: bool, inatomic: bool = False) -> Handler:
    """copy_from_user()/copy_to_user(): bytes NOT copied, page by page.

    __might_fault() first (a might_sleep splat in atomic context unless
    page faults are disabled). A not-present user page fails the copy there
    when faults are disabled (pagefault_disable() or in_atomic():
    faulthandler_disabled()); otherwise the fault handler sleeps (a step
    where the task may be switched out) and brings the pages in. An address
    with no user page behind it fails (-EFAULT). _copy_from_user() zeroes
    the part of the kernel buffer it could not fill (include/linux/uaccess.h).

    __copy_from_user_inatomic() / __copy_to_user_inatomic() are the raw
    copies: no __might_fault(), no check_copy_size(), no zeroing; a fault
    is still served if page faults are enabled (their callers must have
    disabled them). A served fault sleeps: __schedule()'s voluntary
    switch, with PREEMPT_RCU's check (runtime/kernel/rcu.py)."""
    func = ("__copy_to_user_inatomic" if to_user else "__copy_from_user_inatomic") if inatomic \
        else ("copy_to_user" if to_user else "copy_from_user")

    def handler(tx: Tx, argv: list[int] | None) -> Result:
        p = tx.me.pending
        if p is None:
            assert argv is not None
            kaddr, uaddr, length = (argv[1], argv[0], argv[2]) if to_user else argv
            length = _size_t(tx, length)
            if length > INT_MAX and not inatomic:
                # check_copy_size() (include/linux/thread_info.h): refused
                # before anything is copied, faulted in or zeroed
                tx.warn_once(R.COPY_SIZE, length)
                return length
            if tx.ctxs[tx.current()].pagefault_disabled == 0 and not inatomic:
                sched.might_sleep(tx, func)
            if length == 0:
                return 0
            missing = _missing(tx, uaddr, length)
            if missing and not preempt.faults_disabled(tx):
                for page in missing:
                    tx.user_present[page] = True
                if tx.events is not None:
                    names = ", ".join(tx.program.pages[m].name for m in missing)
                    tx.event(f"{func}: page fault on {names}; the fault handler sleeps to bring it in")
                tx.set_me(pending=(PENDING_FAULT, kaddr, uaddr, length))
                rcu.note_context_switch(tx)
                sched.voluntary_point(tx, func, check_sleep=True)
                return NOT_DONE
        else:
            kaddr, uaddr, length = p[1], p[2], p[3]
            tx.set_me(pending=None)
        copied = _copy_pages(tx, func, to_user, kaddr, uaddr, length)
        if copied < length and not to_user and not inatomic:
            _fill(tx, kaddr + copied, length - copied, 0)
        return length - copied
    handler.__doc__ = f"{func}(): see _copy_user"
    return handler


def _copy_pages(tx: Tx, func: str, to_user: bool, kaddr: int, uaddr: int, length: int) -> int:
    """Copy until the first byte that faults; how many bytes were copied."""
    copied = 0
    while copied < length:
        found = _user_page(tx, uaddr + copied)
        if found is None or not tx.user_present[found[0]]:
            if tx.events is not None:
                why = "pagefault_disabled()" if tx.ctxs[tx.current()].pagefault_disabled \
                    else "in_atomic()"
                what = "no user page there" if found is None else \
                    f"user page {tx.program.pages[found[0]].name} not present, " \
                    f"faulthandler_disabled() ({why})"
                tx.event(f"{func}: {what}: {length - copied} bytes not copied")
            break
        page, off = found
        n = min(length - copied, tx.cfg.PAGE_SIZE - off)
        if to_user:
            data = access(tx, kaddr + copied, n, None)
            tx.ram[page] = tx.ram[page][:off] + data + tx.ram[page][off + n:]
            tx.newest[page] = tx.newest[page][:off] + data + tx.newest[page][off + n:]
        else:
            access(tx, kaddr + copied, n, tx.newest[page][off:off + n])
        copied += n
    return copied


# ------------------------------------------------------------------- checks
def _check(kind: str) -> Handler:
    def handler(tx: Tx, argv: list[int] | None) -> Result:
        assert argv is not None
        cond = bool(argv[0])
        if kind == "assert":
            if not cond:
                tx.report(R.ASSERT)
                raise Killed()
            return None
        if not cond:
            return 0
        if kind == "BUG_ON":
            tx.bug(R.SCENARIO_BUG_ON)
        site = _once_site(tx)
        if kind == "WARN_ON" or tx.first_time(site):
            tx.report(R.SCENARIO_WARN, int(kind == "WARN_ON_ONCE"))
        return 1
    return handler


def _once_site(tx: Tx) -> int:
    """The WARN_ON_ONCE site of the statement at pc: its own in a task or
    irq body; in a function, the statement's place in the source, shared by
    every context that calls it, as the kernel's one `__warned` flag per
    site is."""
    info = tx.program.contexts[tx.ci] if tx.ci < len(tx.program.contexts) else None
    if info is None or info.function_at(tx.pc) < 0:
        return 1000 + tx.ci * 100000 + tx.pc
    at = info.code[tx.pc].loc
    return -(1 + at.line * 10000 + at.col)


def _void(fn: Callable[[Tx], None]) -> Handler:
    def handler(tx: Tx, argv: list[int] | None) -> Result:
        fn(tx)
        return None
    handler.__doc__ = fn.__doc__
    return handler


def _staged(op: int) -> Handler:
    """kmap_atomic, kmap_local_page(_prot), kunmap_local, kunmap_atomic as
    a statement: one step per stage where an irq of the CPU may come
    between them (runtime/kernel/kmap_window.py), else one step."""
    def handler(tx: Tx, argv: list[int] | None) -> Result:
        if op in (kmap_window.MAP_LOCAL, kmap_window.MAP_ATOMIC):
            return kmap_window.map_call(tx, argv, op, page_arg)
        return kmap_window.unmap_call(tx, argv, op)
    return handler


# Inside an expression a built-in is one step (call_value): these keep
# their single-step form there.
IN_EXPRESSION: dict[str, Handler] = {
    "kmap_atomic": lambda tx, a: kmap_local.kmap_atomic(tx, page_arg(tx, a[0])),  # type: ignore[index]
    "kunmap_atomic": lambda tx, a: kmap_local.kunmap_atomic(tx, a[0]),  # type: ignore[index]
    "kmap_local_page": lambda tx, a: kmap_local.kmap_local_page_prot(tx, page_arg(tx, a[0])),  # type: ignore[index]
    "kmap_local_page_prot": lambda tx, a: kmap_local.kmap_local_page_prot(tx, page_arg(tx, a[0])),  # type: ignore[index]
    "kunmap_local": lambda tx, a: kmap_local.kunmap_local(tx, a[0]),  # type: ignore[index]
}


def _preempt_point(tx: Tx) -> None:
    """An explicit point where the scheduler may preempt the task."""
    if tx.me.preempt_count == 0 and not tx.irqs_disabled() and not tx.in_irq():
        tx.set_me(resched=True)


HANDLERS: dict[str, Handler] = {
    "kmap": _kmap,
    "kunmap": _kunmap,
    "kmap_atomic": _staged(kmap_window.MAP_ATOMIC),
    "kunmap_atomic": _staged(kmap_window.UNMAP_ATOMIC),
    "kmap_local_page": _staged(kmap_window.MAP_LOCAL),
    "kmap_local_page_prot": _staged(kmap_window.MAP_LOCAL),
    "kmap_local_pfn": _kmap_local_pfn,
    "kunmap_local": _staged(kmap_window.UNMAP_LOCAL),
    "kmap_high_get": _kmap_high_get,
    "kunmap_high": _kunmap_high,
    "kmap_flush_unused": _void(pkmap.kmap_flush_unused),
    "page_address": lambda tx, a: page_address(tx.program, tx.pkmap_pte, page_arg(tx, a[0])),  # type: ignore[index]
    "kmap_to_page": _kmap_to_page,
    "page_to_pfn": lambda tx, a: tx.program.pages[page_arg(tx, a[0])].pfn,  # type: ignore[index]
    "PageHighMem": lambda tx, a: int(is_highmem(tx.program, page_arg(tx, a[0]))),  # type: ignore[index]
    "preempt_disable": _void(preempt.preempt_disable),
    "preempt_enable": _void(preempt.preempt_enable),
    "migrate_disable": _void(preempt.migrate_disable),
    "migrate_enable": _void(preempt.migrate_enable),
    "pagefault_disable": _void(preempt.pagefault_disable),
    "pagefault_enable": _void(preempt.pagefault_enable),
    "local_irq_disable": _void(preempt.local_irq_disable),
    "local_irq_enable": _void(preempt.local_irq_enable),
    "might_sleep": lambda tx, a: sched.might_sleep(tx, "might_sleep"),
    "schedule": lambda tx, a: sched.voluntary_point(tx, "schedule", check_sleep=False),
    "cond_resched": lambda tx, a: sched.voluntary_point(tx, "cond_resched", check_sleep=True),
    "msleep": lambda tx, a: sched.voluntary_point(tx, "msleep", check_sleep=False),
    "preempt_point": _void(_preempt_point),
    "smp_processor_id": _smp_processor_id,
    "raw_smp_processor_id": lambda tx, a: tx.cpu,
    "get_cpu": _get_cpu,
    "put_cpu": _void(preempt.preempt_enable),
    "this_cpu_read": lambda tx, a: tx.percpu[a[0]][tx.cpu],  # type: ignore[index]
    "this_cpu_write": lambda tx, a: _this_cpu_write(tx, a[0], a[1]),  # type: ignore[index]
    "this_cpu_inc": lambda tx, a: _this_cpu_add(tx, a[0], 1),  # type: ignore[index]
    "this_cpu_dec": lambda tx, a: _this_cpu_add(tx, a[0], -1),  # type: ignore[index]
    "this_cpu_add": lambda tx, a: _this_cpu_add(tx, a[0], a[1]),  # type: ignore[index]
    "per_cpu": lambda tx, a: _percpu(tx, a[0], a[1]),  # type: ignore[index]
    "memset": _memset,
    "memcpy": _memcpy,
    "flush_cache_all": lambda tx, a: _flush_all(tx),
    "dma_map_page": _dma("dma_map_page"),
    "dma_unmap_page": _dma("dma_unmap_page"),
    "dma_sync_single_for_cpu": _dma("dma_sync_single_for_cpu"),
    "dma_sync_single_for_device": _dma("dma_sync_single_for_device"),
    "device_write": lambda tx, a: dma.device_write(tx, page_arg(tx, a[0]), a[1], a[2], a[3]),  # type: ignore[index]
    "device_read": lambda tx, a: dma.device_read(tx, page_arg(tx, a[0]), a[1]),  # type: ignore[index]
    "copy_from_user": _copy_user(False),
    "copy_to_user": _copy_user(True),
    "__copy_from_user_inatomic": _copy_user(False, inatomic=True),
    "__copy_to_user_inatomic": _copy_user(True, inatomic=True),
    "preempt_count": lambda tx, a: tx.me.preempt_count,
    "in_atomic": lambda tx, a: int(tx.me.preempt_count != 0),
    "irqs_disabled": lambda tx, a: int(tx.irqs_disabled()),
    "pagefault_disabled": lambda tx, a: int(tx.ctxs[tx.current()].pagefault_disabled != 0),
    "pkmap_count": lambda tx, a: pkmap.pkmap_count_of(
        tuple(tx.pkmap_pte), tuple(tx.pkmap_count),
        tx.program.pages[page_arg(tx, a[0])].pfn),  # type: ignore[index]
    "kmap_local_idx": lambda tx, a: tx.ctxs[tx.current()].kmap_idx // tx.cfg.km_incr,
    "assert": _check("assert"),
    "BUG_ON": _check("BUG_ON"),
    "WARN_ON": _check("WARN_ON"),
    "WARN_ON_ONCE": _check("WARN_ON_ONCE"),
    # The ordering vocabulary. The model is sequentially consistent (every
    # load sees the newest store, docs/model.md), so READ_ONCE is a load,
    # and the barriers and cpu_relax() do nothing but take their step
    # (include/asm-generic/rwonce.h, barrier.h; cpu_relax is `rep; nop` on
    # x86 and a plain barrier() on arm, no scheduling point either).
    "READ_ONCE": lambda tx, a: a[0],  # type: ignore[index]
    "likely": lambda tx, a: int(bool(a[0])),  # type: ignore[index]
    "unlikely": lambda tx, a: int(bool(a[0])),  # type: ignore[index]
    "barrier": lambda tx, a: None,
    "cpu_relax": lambda tx, a: None,
    "smp_mb": lambda tx, a: None,
    "smp_rmb": lambda tx, a: None,
    "smp_wmb": lambda tx, a: None,
    # include/linux/minmax.h; min_t/max_t's type is a cast around the call
    # and its arguments (dsl/syntax/build.py)
    "min": lambda tx, a: min(a[0], a[1]),  # type: ignore[index]
    "max": lambda tx, a: max(a[0], a[1]),  # type: ignore[index]
    "min_t": lambda tx, a: min(a[0], a[1]),  # type: ignore[index]
    "max_t": lambda tx, a: max(a[0], a[1]),  # type: ignore[index]
}


def _flush_all(tx: Tx) -> None:
    from kmap_scenarios.runtime.kernel import cache
    cache.flush_all(tx)


for _module in (spinlock, irqflags, softirq, rcu, mutex, highmem, helper_window, slab):
    HANDLERS.update(_module.HANDLERS)

MULTI_STEP = frozenset({"kmap", "spin_lock", "spin_lock_irqsave", "spin_lock_irq",
                        "spin_lock_bh", "spin_unlock_bh", "local_bh_enable", "mutex_lock",
                        "dma_map_page", "dma_unmap_page", "dma_sync_single_for_cpu",
                        "dma_sync_single_for_device", "copy_from_user", "copy_to_user",
                        "__copy_from_user_inatomic", "__copy_to_user_inatomic"})


def call(tx: Tx, name: str, args: tuple[Expr, ...]) -> Result:
    """Run a built-in as (part of) a step; args evaluated on its first step."""
    argv = None if tx.me.pending is not None else [eval_expr(tx, a) for a in args]
    return HANDLERS[name](tx, argv)


def call_value(tx: Tx, name: str, args: tuple[Expr, ...]) -> int:
    """A built-in inside an expression: single-step, its value (0 for void)."""
    if name in MULTI_STEP:
        raise TypeError(f"{name} may block; it cannot be nested in an expression")
    r = IN_EXPRESSION.get(name, HANDLERS[name])(tx, [eval_expr(tx, a) for a in args])
    return 0 if r is None or r is NOT_DONE else int(r)  # type: ignore[arg-type]


def spinning_on(pending: tuple[int, ...] | None) -> int:
    """The lock a context spins on, or -1."""
    return pending[1] if pending is not None and pending[0] == PENDING_SPIN else -1


__all__ = ["HANDLERS", "NOT_DONE", "call", "call_value", "MULTI_STEP"]


use_builtins(call_value)
