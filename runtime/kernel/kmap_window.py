"""kmap_local's preempt-disabled windows, where an interrupt can still come.

__kmap_local_pfn_prot() and kunmap_local_indexed() (mm/highmem.c) change
the slot stack under preempt_disable(), with interrupts on: no task can
run on the CPU in between, but a hardirq can, and its handler sees the
count raised by one, with the slot not yet pushed, or pushed and mapped
(popped, for an unmap). kmap_atomic() (include/linux/highmem-internal.h)
adds its own preempt_disable() and pagefault_disable() before, and
__kunmap_atomic() its pagefault_enable() and preempt_enable() after.

A call made as a statement (a ``Call`` instruction) therefore takes one
step per stage while an irq of this CPU has not fired yet and interrupts
are on: the handler may come between stages. Otherwise (nothing could
come, an irq context, a call nested in an expression, PREEMPT_RT, ARM's
kmap_high_get() path, a lowmem page, an address outside the fixmap) the
call is one step, as kmap_local.py does it: no other context can tell.

Stages (``pending`` = (PENDING_KMAP_LOCAL, OP, STAGE, ARG, VADDR)):

    kmap_atomic        A preempt_disable, pagefault_disable
    kmap_local_*, A    B migrate_disable, preempt_disable (the inner one)
                       C kmap_local_idx_push, set the PTE
                       D preempt_enable (the inner one): the address
    kunmap_local       B preempt_disable
                       C the order check, clear the PTE, kmap_local_idx_pop
                       D preempt_enable, migrate_enable
    kunmap_atomic      B, C, D, then E pagefault_enable, preempt_enable

Found by bench/crosscheck.py: the kernel's handlers saw HARDIRQ_OFFSET + 1
with the interrupted task one slot deep in bench/crosscheck/irq_in_kmap_local.kmap,
and HARDIRQ_OFFSET + 3 in bench/crosscheck/kmap_atomic_irq.kmap.
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import kmap_local, preempt
from kmap_scenarios.runtime.kernel.handler import NOT_DONE, PENDING_KMAP_LOCAL as TAG, Result
from kmap_scenarios.runtime.kernel.memory import fixmap_slot, is_highmem
from kmap_scenarios.runtime.kernel.program import PageKind
from kmap_scenarios.runtime.kernel.state import Status
from kmap_scenarios.runtime.kernel.tx import Tx

MAP_LOCAL, MAP_ATOMIC, UNMAP_LOCAL, UNMAP_ATOMIC = 0, 1, 2, 3
A, B, C, D, E = range(5)


def _event(tx: Tx, text: str) -> None:
    if tx.events is not None and irq_may_come(tx):
        tx.event(f"{text}; an irq may come")


def irq_may_come(tx: Tx) -> bool:
    """An irq of this CPU has not fired yet and could fire now."""
    if tx.in_irq() or tx.irqs_disabled():
        return False
    program = tx.program
    return any(c.is_irq and c.cpu == tx.cpu and tx.ctxs[i].status == Status.PENDING
               for i, c in enumerate(program.contexts))


def slot_path(tx: Tx, page: int) -> bool:
    """The call goes through __kmap_local_pfn_prot() with its window."""
    cfg = tx.cfg
    if not cfg.CONFIG_HIGHMEM or cfg.CONFIG_PREEMPT_RT or cfg.ARCH_NEEDS_KMAP_HIGH_GET:
        return False
    if tx.program.pages[page].kind == PageKind.USER:
        return False
    return is_highmem(tx.program, page) or cfg.CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP


def _in_window(tx: Tx, vaddr: int) -> bool:
    cfg = tx.cfg
    return (cfg.CONFIG_HIGHMEM and not cfg.CONFIG_PREEMPT_RT
            and fixmap_slot(cfg, vaddr & ~(cfg.PAGE_SIZE - 1) & cfg.word_mask) is not None)


def map_call(tx: Tx, argv: list[int] | None, op: int, page_arg: object) -> Result:
    """kmap_local_page()/_prot() (op MAP_LOCAL) or kmap_atomic() (MAP_ATOMIC)
    as a statement. ``page_arg`` decodes the first argument."""
    p = tx.me.pending
    if p is None:
        assert argv is not None
        page = page_arg(tx, argv[0])  # type: ignore[operator]
        if not (irq_may_come(tx) and slot_path(tx, page)):
            if op == MAP_ATOMIC:
                return kmap_local.kmap_atomic(tx, page)
            return kmap_local.kmap_local_page_prot(tx, page)
        stage, vaddr = (A if op == MAP_ATOMIC else B), 0
    else:
        page, stage, vaddr = p[3], p[2], p[4]
    pfn = tx.program.pages[page].pfn
    while True:
        if stage == A:
            preempt.preempt_disable(tx)
            preempt.pagefault_disable(tx)
            _event(tx, "kmap_atomic: preempt_disable(), pagefault_disable()")
        elif stage == B:
            preempt.migrate_disable(tx)
            preempt.preempt_disable(tx)
            _event(tx, "__kmap_local_pfn_prot: migrate_disable(), preempt_disable()")
        elif stage == C:
            vaddr = kmap_local.push_slot(tx, pfn)
        else:
            preempt.preempt_enable(tx)
            tx.set_me(pending=None)
            return vaddr
        stage += 1
        if irq_may_come(tx):
            tx.set_me(pending=(TAG, op, stage, page, vaddr))
            return NOT_DONE


def unmap_call(tx: Tx, argv: list[int] | None, op: int) -> Result:
    """kunmap_local() (UNMAP_LOCAL) or kunmap_atomic() (UNMAP_ATOMIC) as a
    statement."""
    p = tx.me.pending
    if p is None:
        assert argv is not None
        vaddr = argv[0]
        if not (irq_may_come(tx) and _in_window(tx, vaddr)):
            if op == UNMAP_ATOMIC:
                kmap_local.kunmap_atomic(tx, vaddr)
            else:
                kmap_local.kunmap_local(tx, vaddr)
            return None
        stage = B
    else:
        stage, vaddr = p[2], p[3]
    while True:
        if stage == B:
            preempt.preempt_disable(tx)
            _event(tx, "kunmap_local_indexed: preempt_disable()")
        elif stage == C:
            kmap_local.pop_slot(tx, vaddr)
        elif stage == D:
            preempt.preempt_enable(tx)
            preempt.migrate_enable(tx)
            if op == UNMAP_LOCAL:
                tx.set_me(pending=None)
                return None
        else:
            preempt.pagefault_enable(tx)
            preempt.preempt_enable(tx)
            tx.set_me(pending=None)
            return None
        stage += 1
        if irq_may_come(tx):
            tx.set_me(pending=(TAG, op, stage, vaddr, 0))
            return NOT_DONE
