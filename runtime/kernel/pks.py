"""PKS protection of devmap pages (Ira Weiny's series V9/V10, never merged).

docs/kernel-semantics.md §10: one protection key for every protected
pgmap; PKRS is per thread (saved on context switch) and reset to
PKS_INIT_VALUE (key denied) on exception entry; ``pgmap_set_readwrite`` and
``pgmap_set_noaccess`` nest on one per-task counter, current->pgmap_prot_count,
so a thread's access is granted on 0 -> 1 and taken on 1 -> 0, with no
underflow check. Only the CONFIG_HIGHMEM=n kmap wrappers call them; kmap()
is left unsupported (its mappings fault). The fault policy is in
runtime/kernel/memory.py (_pks_check).
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel.program import PageKind
from kmap_scenarios.runtime.kernel.tx import Tx

U32 = 0xFFFFFFFF


def _protected(tx: Tx, page: int) -> bool:
    """devmap_protected(): the static key on and a PGMAP_PROTECTION page."""
    return (tx.cfg.CONFIG_DEVMAP_ACCESS_PROTECTION
            and tx.program.pages[page].kind == PageKind.DEVMAP)


def pgmap_set_readwrite(tx: Tx, page: int) -> None:
    """__pgmap_set_readwrite(): if (!current->pgmap_prot_count++) grant RW.

    pks_set_readwrite() changes the executing context's PKRS: in an irq the
    interrupted thread's count may already be non-zero, so nothing is
    granted and the access faults (derived, §10.4)."""
    if not _protected(tx, page):
        return
    cur = tx.current()
    n = tx.ctxs[cur].pgmap_prot_count
    tx.set(cur, pgmap_prot_count=(n + 1) & U32)
    if n == 0:
        tx.set_me(pkrs_rw=True)
        if tx.events is not None:
            tx.event("pgmap_set_readwrite: pgmap_prot_count 0 -> 1, PKRS grants the pgmap key")
    elif tx.events is not None:
        tx.event(f"pgmap_set_readwrite: pgmap_prot_count {_change(n, (n + 1) & U32)}, "
                 f"PKRS unchanged ({_unchanged(tx, 'already')})")


def pgmap_set_noaccess(tx: Tx, page: int) -> None:
    """__pgmap_set_noaccess(): if (!--current->pgmap_prot_count) deny."""
    if not _protected(tx, page):
        return
    cur = tx.current()
    n = (tx.ctxs[cur].pgmap_prot_count - 1) & U32
    tx.set(cur, pgmap_prot_count=n)
    if n == 0:
        tx.set_me(pkrs_rw=False)
        if tx.events is not None:
            tx.event("pgmap_set_noaccess: pgmap_prot_count 1 -> 0, PKRS denies the pgmap key")
    elif tx.events is not None:
        old = (n + 1) & U32
        why = "" if old == 0 else f" ({_unchanged(tx, 'still')})"
        tx.event(f"pgmap_set_noaccess: pgmap_prot_count {_change(old, n)}, PKRS unchanged{why}")


def _change(old: int, new: int) -> str:
    """A count change as the trace shows it; a wrap names the missing check
    (the counter is a u32 with no underflow test, §10.4)."""
    if old == 0 and new == U32:
        return f"{old} -> {new} (no underflow check)"
    if old == U32 and new == 0:
        return f"{old} -> {new} (the u32 wraps back)"
    return f"{old} -> {new}"


def _unchanged(tx: Tx, granted: str) -> str:
    """Why PKRS keeps its value when the count does not cross zero: what the
    executing context's PKRS holds (in an irq, the exception entry reset it
    to PKS_INIT_VALUE, and the count is the interrupted thread's)."""
    if tx.me.pkrs_rw:
        return f"access {granted} granted"
    if tx.in_irq():
        return "the exception entry reset it: the pgmap key stays denied"
    return "the pgmap key stays denied"
