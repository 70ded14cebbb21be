"""Renaming a state by a permutation of tasks, pages and CPUs (symmetry).

runtime/search/symmetry.py renames states by permutations of
interchangeable tasks; where the twins own pages or CPUs
(runtime/search/twins.py) a permutation renames those with them, and
every State field that names a page, a pfn or a CPU is renamed here:

- positions move: a context's record to its image's place (a CPU's idle
  task with its CPU), a CPU's record, a page's ``ram``, ``newest`` and
  ``user_present``, the columns of ``percpu``;
- values are renamed: contexts (a CPU's current task, irqs and fixmap
  owners, an irq's interrupted task, lock owners, mutex waiters, pkmap
  waiters, ``kmap_ipi``, reports, WARN_ON_ONCE body sites), pfns (a
  pkmap or kmap_local PTE holds pfn + 1; a context's ``held`` and
  ``released``; a CPU's TLB entries), pages (a kmap's ``pending``, the
  reports' page arguments, a cache line's page) and physical addresses
  (a physically tagged cache line's tag), CPUs (a context's ``cpu``, a
  report's CPU and CPU arguments, the CPU mask of a kmap waiting for its
  flush's IPI). Sets kept sorted are sorted again.

The twins' conditions (twins.py) keep page and CPU identities out of
everything else (locals, globals, other ``pending`` forms).
"""

from __future__ import annotations

from typing import Any, Callable

from kmap_scenarios.runtime.kernel.handler import (
    PENDING_KMAP, PENDING_KMAP_IPI, PENDING_KMAP_LOCK)
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.state import Cpu, Ctx, Line, Report, pool
from kmap_scenarios.runtime.kernel.tx import FIELD
from kmap_scenarios.runtime.search.flat import Codec, Flat

# Report arguments that name a context, a page, a pfn or a CPU (the
# calls that make them: runtime/kernel/*.py; reports.py formats them).
CTX_ARGS = {int(R.FOREIGN_KMAP_LOCAL): (2,), int(R.SOFTIRQ_COUNT): (3,)}
PAGE_ARGS = {int(c): (-1,) for c in (R.KUNMAP_HIGH_NOT_MAPPED, R.KUNMAP_HIGH_ZERO,
                                      R.STALE_READ, R.DEVICE_STALE_READ,
                                      R.USE_AFTER_UNMAP, R.PKS_FAULT)}
PAGE_ARGS.update({int(c): (-2,) for c in (R.DATA_LOSS, R.PAGE_NOT_HIGHMEM, R.DEVICE_RANGE,
                                          R.PAGE_NOT_HIGHMEM)})
PFN_ARGS = {int(R.KMAP_LOCAL_PTE_BUSY): (2,), int(R.BAD_PFN): (0,)}
CPU_ARGS = {int(c): (0,) for c in (R.DEADLOCK_IRQ, R.DEADLOCK_SOFTIRQ, R.STARVED)}
CPU_ARGS.update({int(R.KMAP_LOCAL_PTE_BUSY): (1,), int(R.SOFTIRQ_WRONG_CPU): (1,)})


def report_key(r: Report) -> tuple[Any, ...]:
    """The order the state keeps reports in (runtime/kernel/tx.py)."""
    return (r.ctx, r.pc, r.code, r.cpu, r.args, r.cur, r.chain)


class Renaming:
    """One permutation: g of the contexts, pg of the pages, cg of the CPUs."""

    def __init__(self, program: Program, g: tuple[int, ...], pg: tuple[int, ...],
                 cg: tuple[int, ...]) -> None:
        self.g, self.pg, self.cg = g, pg, cg
        pages = program.pages
        self.pfn_of = {pages[p].pfn: pages[pg[p]].pfn for p in range(len(pages)) if pg[p] != p}
        self.page_size = program.config.PAGE_SIZE
        self.physical = program.config.CACHE != "vivt"

    # -------------------------------------------------------- names
    def ctx_id(self, i: int) -> int:
        return self.g[i] if 0 <= i < len(self.g) else i

    def cpu_id(self, c: int) -> int:
        return self.cg[c] if 0 <= c < len(self.cg) else c

    def page(self, p: int) -> int:
        return self.pg[p] if 0 <= p < len(self.pg) else p

    def pfn(self, pfn: int) -> int:
        return self.pfn_of.get(pfn, pfn)

    def pte(self, v: int) -> int:
        """A PTE as the model keeps it: pfn + 1, or 0."""
        return self.pfn(v - 1) + 1 if v else 0

    def mask(self, m: int) -> int:
        out = 0
        for c in range(len(self.cg)):
            if m >> c & 1:
                out |= 1 << self.cg[c]
        return out | (m & ~((1 << len(self.cg)) - 1))

    # -------------------------------------------------------- records
    def ctx(self, c: Ctx) -> Ctx:
        pending = c.pending
        if pending and pending[0] in (PENDING_KMAP, PENDING_KMAP_LOCK):
            pending = (pending[0], self.page(pending[1]), *pending[2:])
        elif pending and pending[0] == PENDING_KMAP_IPI:
            pending = (pending[0], self.page(pending[1]), self.mask(pending[2]), *pending[3:])
        return c._replace(
            owner=self.ctx_id(c.owner) if c.owner >= 0 else c.owner,
            cpu=self.cpu_id(c.cpu), pending=pending,
            pteval=tuple(self.pte(v) for v in c.pteval),
            held=tuple(sorted(self.pfn(v) for v in c.held)),
            released=tuple(sorted((v, self.pfn(p)) for v, p in c.released)))

    def cpu(self, c: Cpu) -> Cpu:
        i = self.ctx_id
        return c._replace(curr=i(c.curr), irqs=tuple(i(x) for x in c.irqs),
                          fix_owner=tuple(i(x) for x in c.fix_owner),
                          fixmap=tuple(self.pte(v) for v in c.fixmap),
                          tlb=tuple(sorted((s, self.pte(v)) for s, v in c.tlb)))

    def line(self, ln: Line) -> Line:
        page = self.page(ln.page)
        if page == ln.page:
            return ln
        tag = ln.tag
        if self.physical:   # cache._tag: pfn * PAGE_SIZE + offset, line-aligned
            base = tag - tag % self.page_size
            tag = self.pfn(base // self.page_size) * self.page_size + tag % self.page_size
        return ln._replace(tag=tag, page=page)

    def cache(self, lines: tuple[Line, ...]) -> tuple[Line, ...]:
        return tuple(sorted((self.line(ln) for ln in lines), key=lambda ln: ln.tag))

    def report(self, r: Report) -> Report:
        args = list(r.args)
        for k in CTX_ARGS.get(r.code, ()):
            args[k] = self.ctx_id(args[k])
        for k in PAGE_ARGS.get(r.code, ()):
            args[k] = self.page(args[k])
        for k in PFN_ARGS.get(r.code, ()):
            args[k] = self.pfn(args[k])
        for k in CPU_ARGS.get(r.code, ()):
            args[k] = self.cpu_id(args[k])
        return r._replace(ctx=self.ctx_id(r.ctx), cur=self.ctx_id(r.cur),
                          cpu=self.cpu_id(r.cpu), args=tuple(args))

    def reports(self, reports: tuple[Report, ...]) -> tuple[Report, ...]:
        return tuple(sorted((self.report(r) for r in reports), key=report_key))

    def once(self, sites: tuple[int, ...]) -> tuple[int, ...]:
        # runtime/kernel/builtins.py's _once_site: 1000 + context * 100000 + pc
        out = []
        for s in sites:
            if s >= 1000:
                ci, pc = divmod(s - 1000, 100000)
                s = 1000 + self.ctx_id(ci) * 100000 + pc
            out.append(s)
        return tuple(sorted(out))

    def waiters(self, w: tuple[int, ...]) -> tuple[int, ...]:
        """A mutex's (flags, waiter, ...), FIFO; a spinlock's ()."""
        return (w[0], *(self.ctx_id(i) for i in w[1:])) if w else w

    def percpu(self, values: tuple[tuple[int, ...], ...]) -> tuple[tuple[int, ...], ...]:
        out = []
        for v in values:
            col = list(v)
            for c, x in enumerate(v):
                col[self.cpu_id(c)] = x
            out.append(tuple(col))
        return tuple(out)


# (source position, target position, value renaming or None: the same part)
Plan = list[tuple[int, int, Callable[[Any], Any] | None]]


def plan(codec: Codec, r: Renaming) -> Plan:
    """Where each part of a flat state goes under r, and how its value is
    renamed (the parts not listed stay as they are)."""
    out: Plan = []
    nc = codec.nctx
    out += [(i, r.g[i], r.ctx) for i in range(nc)]
    out += [(nc + c, nc + r.cg[c], r.cpu) for c in range(codec.ncpu)]
    for first in (codec.ram_at, codec.newest_at):
        out += [(first + p, first + r.pg[p], None) for p in range(codec.npage) if r.pg[p] != p]
    values: dict[str, Callable[[Any], Any]] = {
        "pkmap_pte": r.pte, "locks": r.ctx_id, "mutex_wait": r.waiters}
    wholes: dict[str, Callable[[Any], Any]] = {
        "pkmap_pte": lambda t: pool(r.pte(v) for v in t),
        "locks": lambda t: tuple(r.ctx_id(v) for v in t),
        "mutex_wait": lambda t: tuple(r.waiters(w) for w in t),
        "user_present": lambda t: tuple(t[_inverse(r.pg)[p]] for p in range(len(t))),
        "pkmap_waiters": lambda t: tuple(sorted(r.ctx_id(i) for i in t)),
        "reports": r.reports, "once": r.once, "kmap_ipi": r.ctx_id,
        "cache": r.cache, "percpu": r.percpu}
    for name, fn in wholes.items():
        f = FIELD[name]
        if f in codec.field_at:
            out.append((codec.field_at[f], codec.field_at[f], fn))
        elif name == "user_present":
            first, n = codec.spread[f]
            out += [(first + p, first + r.pg[p], None) for p in range(n) if r.pg[p] != p]
        else:
            first, n = codec.spread[f]
            value = values.get(name)
            if value is not None:
                out += [(first + i, first + i, value) for i in range(n)]
    return out


def _inverse(p: tuple[int, ...]) -> list[int]:
    inv = [0] * len(p)
    for a, b in enumerate(p):
        inv[b] = a
    return inv


class Image:
    """g(s) for flat states s, by a plan, each part's renaming cached."""

    def __init__(self, codec: Codec, r: Renaming) -> None:
        self.codec = codec
        self.renaming = r
        steps = plan(codec, r)
        self.moves = [(src, dst) for src, dst, fn in steps if fn is None]
        # (source, target, renaming, its cache: number -> number, the
        # values of the part's kind); the contexts' first (``head``)
        self.renamed: list[tuple[int, int, Callable[[Any], Any], dict[int, int], Any]] = \
            [(src, dst, fn, {}, codec.values[codec.kind[src]])
             for src, dst, fn in steps if fn is not None]
        self._nc = codec.nctx

    def head(self, flat: Flat) -> list[int]:
        """The image's context parts (its first positions: ``plan`` lists
        them first), which decide most comparisons of images."""
        out = [0] * self._nc
        number = self.codec.number
        for src, dst, fn, cache, values in self.renamed[:self._nc]:
            n = flat[src]
            m = cache.get(n)
            if m is None:
                m = cache[n] = number(dst, fn(values[n]))
            out[dst] = m
        return out

    def __call__(self, flat: Flat) -> Flat:
        out = list(flat)
        for src, dst in self.moves:
            out[dst] = flat[src]
        number = self.codec.number
        for src, dst, fn, cache, values in self.renamed:
            n = flat[src]
            m = cache.get(n)
            if m is None:
                m = cache[n] = number(dst, fn(values[n]))
            out[dst] = m
        return tuple(out)
