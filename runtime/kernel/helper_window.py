"""The highmem helpers' kmap_local windows, where an interrupt can come.

memcpy_page(), memcpy_to_page(), memcpy_from_page(), memzero_page()
(include/linux/highmem.h), clear_highpage() and, with HIGHMEM,
zero_user_segments() and its wrappers (mm/highmem.c) map a page with
kmap_local_page(), touch it, and unmap it with kunmap_local(), interrupts
on all along: a hardirq can come between any two of these and inside each
push and pop (runtime/kernel/kmap_window.py), and its handler runs on the
interrupted task's kmap_ctrl, one slot above the helper's.

So a helper called as a statement takes one step per stage while an irq
of this CPU has not fired yet and interrupts are on (``irq_may_come``);
otherwise all its stages run in one step, each mapping as kmap_local.py
does it: no other context can tell, since the slots are the task's own and
a task switch in between saves and restores them. The stages, in the
kernel's order (the map comes before VM_BUG_ON, so a task killed there
holds its slot):

    memcpy_page         map dst, map src, VM_BUG_ON + memcpy, unmap src, unmap dst
    memcpy_to_page      map, VM_BUG_ON + memcpy + flush_dcache_page, unmap
    memcpy_from_page    map, VM_BUG_ON + memcpy, unmap
    memzero_page        map, VM_BUG_ON + memset + flush_dcache_page, unmap
    clear_highpage      map, clear_page, unmap
    zero_user_segments  BUG_ON, map, memset(s), unmap, flush_dcache_page
                        (HIGHMEM: no map at all when both segments are empty)

A map of a page on the slot path is three stages (migrate_disable() and
the inner preempt_disable(); the push; preempt_enable()), its unmap three
(preempt_disable(); the pop; preempt_enable() and migrate_enable()); a
lowmem page's map is page_address() and its unmap nothing, one stage each.
``pending`` = (PENDING_HELPER, HELPER, STAGE, STAGED, V0, V1, ARGS...).

Found by bench/crosscheck.py: the handler of
bench/crosscheck/helper_irq_inside.kmap saw the task one and two slots
deep inside memcpy_page() on v6.1.
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import highmem, kmap_local, kmap_window, preempt
from kmap_scenarios.runtime.kernel.evaluate import page_arg
from kmap_scenarios.runtime.kernel.handler import NOT_DONE, PENDING_HELPER as TAG, Handler, Result
from kmap_scenarios.runtime.kernel.memory import access
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.tx import Tx

MEMCPY_PAGE, MEMCPY_TO, MEMCPY_FROM, MEMZERO, CLEAR, ZERO_SEGMENTS = range(6)
NAMES = ("memcpy_page", "memcpy_to_page", "memcpy_from_page", "memzero_page",
         "clear_highpage", "zero_user_segments")

# what a stage does: (kind, which mapping)
MAP_B, MAP_C, MAP_D, MAP_ONE, UNMAP_B, UNMAP_C, UNMAP_D, UNMAP_ONE, BODY, PRE, POST = range(11)
Stage = tuple[int, int]


def vm_bug_on(tx: Tx, offset: int, length: int, func: str) -> None:
    """VM_BUG_ON(offset + len > PAGE_SIZE) of include/linux/highmem.h (the
    test kernel has CONFIG_DEBUG_VM; size_t operands: a negative one is huge)."""
    if offset < 0 or length < 0 or offset + length > tx.cfg.PAGE_SIZE:
        tx.bug(R.HIGHMEM_VM_BUG, tx.func(func))


def _map(tx: Tx, page: int, k: int, staged: bool) -> list[Stage]:
    if staged and kmap_window.slot_path(tx, page):
        return [(MAP_B, k), (MAP_C, k), (MAP_D, k)]
    return [(MAP_ONE, k)]


def _unmap(tx: Tx, page: int, k: int, staged: bool) -> list[Stage]:
    if staged and kmap_window.slot_path(tx, page):
        return [(UNMAP_B, k), (UNMAP_C, k), (UNMAP_D, k)]
    return [(UNMAP_ONE, k)]


def _segments(tx: Tx, a: tuple[int, ...]) -> tuple[int, int, int, int]:
    """zero_user_segments()'s bounds as C unsigned ints; with HIGHMEM
    (mm/highmem.c) an empty segment (start >= end) is none."""
    s1, e1, s2, e2 = (v & 0xFFFFFFFF for v in a[1:5])
    if tx.cfg.CONFIG_HIGHMEM:
        if s1 >= e1:
            s1 = e1 = 0
        if s2 >= e2:
            s2 = e2 = 0
    return s1, e1, s2, e2


def _plan(tx: Tx, helper: int, a: tuple[int, ...], staged: bool) -> list[Stage]:
    if helper == MEMCPY_PAGE:
        dst, src = page_arg(tx, a[0]), page_arg(tx, a[2])
        return (_map(tx, dst, 0, staged) + _map(tx, src, 1, staged) + [(BODY, 0)]
                + _unmap(tx, src, 1, staged) + _unmap(tx, dst, 0, staged))
    if helper == ZERO_SEGMENTS:
        page = page_arg(tx, a[0])
        _, e1, _, e2 = _segments(tx, a)
        if not tx.cfg.CONFIG_HIGHMEM:     # the include/linux/highmem.h inline: map, then BUG_ON
            return _map(tx, page, 0, staged) + [(PRE, 0), (BODY, 0)] + _unmap(tx, page, 0, staged) + [(POST, 0)]
        if not e1 and not e2:
            return [(PRE, 0)]
        return [(PRE, 0)] + _map(tx, page, 0, staged) + [(BODY, 0)] + _unmap(tx, page, 0, staged) + [(POST, 0)]
    page = page_arg(tx, a[1] if helper == MEMCPY_FROM else a[0])
    return _map(tx, page, 0, staged) + [(BODY, 0)] + _unmap(tx, page, 0, staged)


def _body(tx: Tx, helper: int, a: tuple[int, ...], v: list[int]) -> None:
    """What the helper does between its map and its unmap."""
    if helper == MEMCPY_PAGE:
        doff, soff, length = a[1], a[3], a[4]
        vm_bug_on(tx, doff, length, "memcpy_page")
        vm_bug_on(tx, soff, length, "memcpy_page")
        access(tx, v[0] + doff, length, access(tx, v[1] + soff, length, None))
    elif helper == MEMCPY_TO:
        offset, src, length = a[1], a[2], a[3]
        vm_bug_on(tx, offset, length, "memcpy_to_page")
        access(tx, v[0] + offset, length, access(tx, src, length, None))
        highmem.flush_dcache_page(tx, page_arg(tx, a[0]))
    elif helper == MEMCPY_FROM:
        dst, offset, length = a[0], a[2], a[3]
        vm_bug_on(tx, offset, length, "memcpy_from_page")
        access(tx, dst, length, access(tx, v[0] + offset, length, None))
    elif helper == MEMZERO:
        offset, length = a[1], a[2]
        vm_bug_on(tx, offset, length, "memzero_page")
        access(tx, v[0] + offset, length, bytes(length))
        highmem.flush_dcache_page(tx, page_arg(tx, a[0]))
    elif helper == CLEAR:
        access(tx, v[0], tx.cfg.PAGE_SIZE, bytes(tx.cfg.PAGE_SIZE))
    else:
        s1, e1, s2, e2 = _segments(tx, a)
        for start, end in ((s1, e1), (s2, e2)):
            if end > start:
                access(tx, v[0] + start, end - start, bytes(end - start))


def _run(tx: Tx, helper: int, a: tuple[int, ...], kind: int, k: int, v: list[int]) -> None:
    page = page_arg(tx, a[2 * k] if helper == MEMCPY_PAGE else a[1] if helper == MEMCPY_FROM else a[0])
    if kind == MAP_B:
        preempt.migrate_disable(tx)
        preempt.preempt_disable(tx)
    elif kind == MAP_C:
        v[k] = kmap_local.push_slot(tx, tx.program.pages[page].pfn)
    elif kind == MAP_D:
        preempt.preempt_enable(tx)
    elif kind == MAP_ONE:
        v[k] = kmap_local.kmap_local_page_prot(tx, page)
    elif kind == UNMAP_B:
        preempt.preempt_disable(tx)
    elif kind == UNMAP_C:
        kmap_local.pop_slot(tx, v[k])
    elif kind == UNMAP_D:
        preempt.preempt_enable(tx)
        preempt.migrate_enable(tx)
    elif kind == UNMAP_ONE:
        kmap_local.kunmap_local(tx, v[k])
    elif kind == BODY:
        _body(tx, helper, a, v)
    elif kind == PRE:       # zero_user_segments()'s BUG_ON
        e1, e2 = a[2] & 0xFFFFFFFF, a[4] & 0xFFFFFFFF
        if e1 > tx.cfg.PAGE_SIZE or e2 > tx.cfg.PAGE_SIZE:
            tx.bug(R.ZERO_USER_BUG, e1, e2)
    else:                   # POST: flush_dcache_page() after the unmap
        highmem.flush_dcache_page(tx, page)


def call(tx: Tx, argv: list[int] | None, helper: int) -> Result:
    """A helper as a statement: its stages, one step each while an irq of
    this CPU may still come, else all in one step."""
    p = tx.me.pending
    if p is None:
        assert argv is not None
        a = tuple(argv)
        pages = ((page_arg(tx, a[0]), page_arg(tx, a[2])) if helper == MEMCPY_PAGE
                 else (page_arg(tx, a[1] if helper == MEMCPY_FROM else a[0]),))
        staged = kmap_window.irq_may_come(tx) and any(kmap_window.slot_path(tx, pg) for pg in pages)
        stage, v = 0, [0, 0]
    else:
        stage, staged, v, a = p[2], bool(p[3]), [p[4], p[5]], tuple(p[6:])
    plan = _plan(tx, helper, a, staged)
    while stage < len(plan):
        _run(tx, helper, a, plan[stage][0], plan[stage][1], v)
        stage += 1
        if staged and stage < len(plan) and kmap_window.irq_may_come(tx):
            tx.set_me(pending=(TAG, helper, stage, 1, v[0], v[1]) + a)
            return NOT_DONE
    if p is not None:
        tx.set_me(pending=None)
    return None


def _handler(helper: int) -> Handler:
    def handler(tx: Tx, argv: list[int] | None) -> Result:
        return call(tx, argv, helper)
    handler.__doc__ = f"{NAMES[helper]}(): see runtime/kernel/helper_window.py"
    return handler


def _zero(func: str) -> Handler:
    """zero_user_segment(page, start, end) and zero_user(page, start,
    size): zero_user_segments() with an empty second segment."""
    def handler(tx: Tx, argv: list[int] | None) -> Result:
        if argv is not None:
            page, start, x = argv
            argv = [page, start, x if func == "zero_user_segment" else start + x, 0, 0]
        return call(tx, argv, ZERO_SEGMENTS)
    handler.__doc__ = f"{func}(): zero_user_segments(), runtime/kernel/helper_window.py"
    return handler


HANDLERS: dict[str, Handler] = {
    **{name: _handler(i) for i, name in enumerate(NAMES)},
    "zero_user_segment": _zero("zero_user_segment"),
    "zero_user": _zero("zero_user"),
}
