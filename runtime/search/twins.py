"""Twins that differ by their pages and CPUs (symmetry, issue 16).

runtime/search/symmetry.py merges tasks equal in everything but their
name. This module finds the wider classes: tasks whose code is equal once
each task's *private pages* are renamed, pinned each on a *private CPU*
or all on one CPU, e.g. SPIN's big row (bench/ladder.py
``spin_equivalent``), where kmapper1 on cpu1 maps Q1 and kmapper2 on cpu2
maps Q2. Renaming such a task renames its pages (and CPU) with it.

It is sound only where nothing the model keeps or prints depends on
which page or CPU is which, apart from the records symmetry.py renames.
So every condition below is required, else today's classes are used:

- Pages: a private page of task t is a highmem page (``CONFIG_HIGHMEM``,
  ``alloc_page`` with ``__GFP_HIGHMEM``: allocated alike, zero at boot,
  no user page, no devmap, no slab page, not an element of a page array)
  named only in t's body, and there only as the direct argument of
  ``kmap()`` or ``kunmap()``: its struct page pointer (its pfn) is never
  stored in a local or a global, and the value t gets is a pkmap address,
  which depends on the slot, not on the page. An expectation naming it
  (``Q1[0]``) keeps it out.
- The whole program calls only the built-ins of ``NEUTRAL``, which
  neither return a page's or a CPU's identity (page_address, kmap_to_page,
  page_to_pfn, lowmem direct-map addresses, smp_processor_id, per-CPU
  variables) nor keep multi-step progress that names a page in a form
  symmetry.py does not rename (kmap_local and the copy helpers keep pages
  and fixmap addresses, which depend on the CPU, in their ``pending``).
- CPUs (renamed only as well as pages, never alone): every context is
  pinned (a migratable task's choice of CPU and the order of its actions
  per CPU would need more), no per-CPU variable and no softirq exists, and
  each twin is the only context pinned on its CPU (no irq there): a CPU
  is swapped with its task, its idle task and its record.

One thing the model does name by order: a fault at an address several
contexts released names the lowest of their pages
(runtime/kernel/memory.py ``_released_somewhere``). Renaming two such
pages would change which one is named, so symmetry.py checks each step
that makes such a report and gives up symmetry for the search there
(``Unsound``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Iterator

from kmap_scenarios.runtime.kernel.program import (
    Call, CallExpr, PageElem, PageKind, PageRef, Program)

# Built-ins a page of its own may be passed to (directly, as a page name).
PAGE_CALLS = frozenset(("kmap", "kunmap"))

# The built-ins allowed anywhere in a program whose twins are renamed with
# their pages or CPUs (see the module docstring). A page argument of the
# others (dma_map_page(P), flush_dcache_page(P)) must be a page no twin
# owns: it is then renamed by no permutation.
NEUTRAL = PAGE_CALLS | frozenset((
    "preempt_disable", "preempt_enable", "migrate_disable", "migrate_enable",
    "pagefault_disable", "pagefault_enable", "local_irq_disable", "local_irq_enable",
    "spin_lock", "spin_unlock", "spin_lock_irqsave", "spin_unlock_irqrestore",
    "spin_lock_irq", "spin_unlock_irq", "local_irq_save", "local_irq_restore",
    "local_save_flags", "rcu_read_lock", "rcu_read_unlock", "mutex_lock", "mutex_unlock",
    "mutex_trylock", "mutex_is_locked", "might_sleep", "schedule", "cond_resched", "msleep",
    "preempt_point", "memset", "memcpy", "flush_dcache_page", "flush_cache_all",
    "dma_map_page", "dma_unmap_page", "dma_sync_single_for_cpu",
    "dma_sync_single_for_device", "device_write", "device_read", "preempt_count",
    "in_atomic", "in_interrupt", "in_irq", "in_hardirq", "in_task", "irqs_disabled",
    "pagefault_disabled", "rcu_preempt_depth", "assert", "BUG_ON", "WARN_ON",
    "WARN_ON_ONCE", "READ_ONCE", "WRITE_ONCE", "likely", "unlikely", "barrier",
    "cpu_relax", "smp_mb", "smp_rmb", "smp_wmb", "min", "max", "min_t", "max_t"))


@dataclass(frozen=True)
class Twins:
    """One class: its tasks, each one's own pages (in the order its code
    first names them: the j-th of one task is renamed to the j-th of
    another) and its own CPU (None: the class shares one CPU or none, not
    renamed)."""

    members: tuple[int, ...]
    pages: tuple[tuple[int, ...], ...]
    cpus: tuple[int, ...] | None


def _nodes(obj: Any) -> Iterator[tuple[Any, bool]]:
    """Every node of an instruction or expression (iteratively: a chain
    may be longer than the recursion limit), with whether it is a page
    name passed directly to a built-in of PAGE_CALLS."""
    stack: list[tuple[Any, bool]] = [(obj, False)]
    while stack:
        node, direct = stack.pop()
        if isinstance(node, tuple):
            stack.extend((x, False) for x in node)
            continue
        if not hasattr(node, "__dataclass_fields__"):
            continue
        yield node, direct
        page_call = isinstance(node, (Call, CallExpr)) and node.name in PAGE_CALLS
        for f in fields(node):
            if page_call and f.name == "args":
                stack.extend((a, isinstance(a, PageRef)) for a in node.args)
            else:
                stack.append((getattr(node, f.name), False))


def _calls_and_pages(program: Program) -> tuple[set[str], dict[int, set[int]], set[int]]:
    """The built-ins the program calls; page -> the contexts whose body
    names it as a direct argument of PAGE_CALLS; and the pages named
    any other way (in a function, an expectation, an array, an other
    argument or expression)."""
    calls: set[str] = set()
    direct: dict[int, set[int]] = {}
    other: set[int] = set()

    def note(node: Any, ok: bool, ctx: int) -> None:
        if isinstance(node, (Call, CallExpr)):
            calls.add(node.name)
        elif isinstance(node, PageRef):
            if ok and ctx >= 0:
                direct.setdefault(node.page, set()).add(ctx)
            else:
                other.add(node.page)
        elif isinstance(node, PageElem):
            other.update(range(node.first, node.first + node.count))

    for i, c in enumerate(program.contexts):
        for pc, ins in enumerate(c.code):
            body = c.function_at(pc) < 0
            for node, ok in _nodes(ins):
                note(node, ok and body, i)
    for e in program.expectations:
        for node, ok in _nodes(e.cond):
            note(node, False, -1)
    return calls, direct, other


def private_pages(program: Program) -> dict[int, tuple[int, ...]] | None:
    """context -> its private pages (see the module docstring), or None
    when the program calls a built-in outside NEUTRAL (no page or CPU
    renamed)."""
    calls, direct, other = _calls_and_pages(program)
    if not calls <= NEUTRAL:
        return None
    if not program.config.CONFIG_HIGHMEM:
        return {}
    out: dict[int, list[int]] = {}
    for page, users in direct.items():
        info = program.pages[page]
        if (len(users) == 1 and page not in other and info.kind == PageKind.HIGHMEM
                and info.present and not info.user_vaddr and "[" not in info.name
                and page not in program.slab_pages):
            out.setdefault(next(iter(users)), []).append(page)
    return {c: tuple(sorted(ps)) for c, ps in out.items()}


def cpus_renamable(program: Program) -> bool:
    """Whether a twin's private CPU may be renamed with it (beyond the
    page conditions): every context pinned, no per-CPU variable, no softirq."""
    return (all(c.cpu is not None for c in program.contexts)
            and not program.percpus and not program.softirqs)


def _first_use(code: tuple[Any, ...], own: tuple[int, ...]) -> tuple[int, ...]:
    """A task's own pages in the order its code first names them."""
    order: list[int] = []
    for ins in code:
        # _nodes' order is the code's structure, the same in equal codes
        for n, _ in _nodes(ins):
            if isinstance(n, PageRef) and n.page in own and n.page not in order:
                order.append(n.page)
    return tuple(order)


def _subst(obj: Any, names: dict[int, int]) -> Any:
    """obj with every page name of ``names`` replaced by its placeholder."""
    if isinstance(obj, PageRef):
        return PageRef(names[obj.page]) if obj.page in names else obj
    if isinstance(obj, tuple):
        return tuple(_subst(x, names) for x in obj)
    if not hasattr(obj, "__dataclass_fields__"):
        return obj
    changes = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        w = _subst(v, names)
        if w is not v:
            changes[f.name] = w
    return replace(obj, **changes) if changes else obj


def normalised(program: Program, i: int, own: tuple[int, ...]) -> tuple[tuple[Any, ...], tuple[int, ...]]:
    """Context i's code with its own pages renamed to placeholders
    (-1, -2, ... by first use), and those pages in that order. Raises
    RecursionError on an expression deeper than the recursion limit."""
    code = program.contexts[i].code
    order = _first_use(code, own)
    names = {p: -1 - j for j, p in enumerate(order)}
    return (_subst(code, names) if names else code), order


def private_cpus(program: Program) -> set[int]:
    """The CPUs exactly one context is pinned on."""
    count: dict[int, int] = {}
    for c in program.contexts:
        if c.cpu is not None:
            count[c.cpu] = count.get(c.cpu, 0) + 1
    return {cpu for cpu, n in count.items() if n == 1}
