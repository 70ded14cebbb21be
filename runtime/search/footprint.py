"""Static may-footprints: what a context may still read and write.

runtime/search/por.py proves a set of actions persistent (a whole CPU's
enabled actions) by checking that nothing the other CPUs' contexts may
still do touches what those actions read or write. What those contexts
will do is not in any recording (the memo knows the steps taken, not the
ones to come), so it is over-approximated here from the code alone: for
a context bound to one CPU (a pinned task, an irq), the union over every
instruction reachable from its pc (runtime/kernel/machine.py's
``_execute``: next, branch and jump targets, a call's entry, every return
site) of what that instruction may touch, as bits over the explorer's
flat positions (runtime/search/flat.py).

A context's part is split in bits: its ``released`` records, one bit per
window of addresses (each CPU's fixmap slots, and the rest), which a page
fault reads of every context at the faulting address
(memory._released_somewhere), and one for the rest of it. Anything not modelled here precisely is ``None``, universal: a
context that may still run it blocks every reduction. What is modelled:

- every step of a context bound to CPU c' (``local``): its own context,
  every context bound to c' or to no CPU (the task an irq interrupts), c''s idle task (a switch reads its
  kmap_ctrl, schedule_debug may reset its count) and c''s CPU record (a
  switch, an irq's entry and exit, the fixmap slots, interrupts off),
  and the data cache where there is one, with the pages c''s slots can
  hold (a switch flushes a VIVT cache's lines of the slots it takes
  down, writing them back);
- what any step may do besides (``common``): report (``reports``,
  ``once`` for WARN_ON_ONCE, ``debug_locks`` for DEBUG_LOCKS_WARN_ON,
  which the end of a task reaches with a leaked kmap_local or lock), be
  killed (reads ``pkmap_waiters``; a context that steps is never in it),
  read every lock (a task's end
  looks for the ones it holds) and read ``panicked`` (every step's memo key); an irq may also panic.
  State fields this module does not know are read and written by every
  step (a new field is then safe until it is described here);
- locals and constants: nothing; a global: its element;
- a byte load or store ``p[k]`` through a local ``p`` that every
  assignment of the body sets from kmap_local_page/_prot or kmap_atomic
  of a page, with a constant 0 <= k < PAGE_SIZE (CONFIG_HIGHMEM, no
  ARCH_NEEDS_KMAP_HIGH_GET: the address is a fixmap slot of c', or the
  page's direct map): c''s CPU record (the PTE, its owner), on a fault
  every context's releases in c''s window and the direct map, the pages any
  context bound to c' maps with kmap_local (``_pages``: what a slot of
  c' can hold), the data cache when the configuration has one;
- kmap_local_page/_prot, kmap_atomic: ``local``, the pkmap PTEs (read:
  page_address), the cache; kunmap_local, kunmap_atomic of such a local:
  ``local`` and the cache, and on an arch with a linear PTE array
  (x86) the last slot of CPU c'-1 when the pop may be one too many
  (pop_slot: kmap_local_calc_idx(-1)); ``underflow`` says where;
- kmap(P) and kunmap(P) of a page name P (CONFIG_HIGHMEM): the pool's
  PTEs, counts, last_pkmap_nr, the sleepers and kmap_ipi (read), the
  PTEs, counts and last_pkmap_nr (kmap writes) or the counts (kunmap),
  and the pseudo-bits FLUSH (kmap: what a wrap may touch besides, every
  CPU's interrupt flag for x86's IPI, every CPU's TLB past 33 slots, the
  VIVT cache and every page it may write back, the sleepers, kmap_ipi)
  and WAKE (kunmap: the sleepers and every context that may sleep in a
  kmap), which por.py expands or drops by the state (``expand_r``,
  ``expand_w``);
- a byte access ``p[k]`` through a local only ever set by kmap() of a
  highmem page name, with a constant 0 <= k < PAGE_SIZE: where the
  local still holds its mapping (``_held_locals``: on every path to the
  access, set by kmap() and not followed by a kunmap() of its page, a
  page no other context names), the PTEs and that page (and the
  cache); elsewhere every page and every context's releases in the
  pool's window (a use after kunmap faults, or reaches whatever page
  took the slot);
- the preempt, migrate, pagefault, irq-flag, scheduling-point and
  CPU-id built-ins: ``local``; the per-CPU variables: ``percpu``, one
  position; spin_lock/spin_unlock and their irq/bh variants of a
  spinlock: its ``locks`` element.

Each of these is checked against the recorded footprint of every step
the reduction looks at (por.Reducer.check_static), so a table that
forgets something is an internal error, not a wrong verdict.
"""

from __future__ import annotations

from collections.abc import Iterable

from kmap_scenarios.runtime.kernel import program as ir
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.state import Ctx, State
from kmap_scenarios.runtime.kernel.tx import FIELD
from kmap_scenarios.runtime.search.flat import Codec

# (may-read, may-write) bit masks; None: anything
Fp = tuple[int, int] | None

_MAPS = frozenset({"kmap_local_page", "kmap_local_page_prot", "kmap_atomic"})
_UNMAPS = frozenset({"kunmap_local", "kunmap_atomic"})
# built-ins whose whole effect is on the calling context and its CPU
_LOCAL_ONLY = frozenset({
    "preempt_disable", "preempt_enable", "migrate_disable", "migrate_enable",
    "pagefault_disable", "pagefault_enable", "local_irq_disable", "local_irq_enable",
    "might_sleep", "schedule", "cond_resched", "msleep", "preempt_point",
    "smp_processor_id", "raw_smp_processor_id", "get_cpu", "put_cpu", "preempt_count",
    "in_atomic", "irqs_disabled", "pagefault_disabled", "kmap_local_idx",
    "assert", "BUG_ON", "WARN_ON", "WARN_ON_ONCE"})
_PERCPU = frozenset({"this_cpu_read", "this_cpu_write", "this_cpu_inc", "this_cpu_dec",
                     "this_cpu_add", "per_cpu"})
_SPIN = frozenset({"spin_lock", "spin_unlock", "spin_lock_irqsave", "spin_unlock_irqrestore",
                   "spin_lock_irq", "spin_unlock_irq", "spin_lock_bh", "spin_unlock_bh"})
# the State fields described above; any other is in ``common``
# the persistent kmap pool's calls described here, with a page name
_PKMAP_OPS = frozenset({"kmap", "kunmap"})
_KNOWN = frozenset({"ctxs", "cpus", "pkmap_count", "pkmap_pte", "last_pkmap_nr",
                    "pkmap_waiters", "kmap_ipi", "locks", "globals", "percpu", "ram", "newest", "cache",
                    "user_present", "reports", "once", "debug_locks", "panicked",
                    "mutex_wait", "slab"})
RELEASED = Ctx._fields.index("released")


def bits(positions: Iterable[int]) -> int:
    """The bit mask of some flat positions."""
    out = 0
    for p in positions:
        out |= 1 << p
    return out


class Footprints:
    """The may-footprints of one program's contexts over one codec's
    flat positions (bit p: position p, a context's without its
    ``released``; above ``size``, ``rel_bit``)."""

    def __init__(self, program: Program, codec: Codec) -> None:
        self.p = program
        self.codec = codec
        cfg = program.config
        self.size = codec.size
        nctx, ncpu = len(program.contexts), cfg.NR_CPUS
        self.nctx = nctx
        # the CPU each context is bound to (None: a task that may migrate)
        self.bound: list[int | None] = [c.cpu for c in program.contexts]
        self.unpinned = any(c.cpu is None for c in program.contexts)
        self.linear = bool(cfg.preset.pte_array_linear)
        # softirqs (raised across contexts, ksoftirqd) are not described
        self.supported = not program.softirqs
        # kmap_local as described: a fixmap slot or the direct map, never
        # ARM's pkmap pin (kmap_high_get) nor the !HIGHMEM PKS path
        self.kmap_local = bool(cfg.CONFIG_HIGHMEM) and not cfg.ARCH_NEEDS_KMAP_HIGH_GET
        # PREEMPT_RT's spinlocks sleep and wake (rtmutex): not described
        self.spin = not cfg.CONFIG_PREEMPT_RT
        self.cache = bits(codec.field_positions("cache")) if cfg.uses_cache else 0
        self.pte = bits(codec.field_positions("pkmap_pte"))
        self.percpu = bits(codec.field_positions("percpu"))
        self.pan = bits(codec.field_positions("panicked"))
        self.dl = bits(codec.field_positions("debug_locks"))
        self.cpu_bit = [1 << (codec.nctx + c) for c in range(ncpu)]
        # what every step may touch besides its instructions (see above)
        unknown = 0
        for name in State._fields:
            if name not in _KNOWN:
                unknown |= bits(codec.field_positions(name))
        self.waiters = bits(codec.field_positions("pkmap_waiters"))
        rw = bits(codec.field_positions("reports")) | bits(codec.field_positions("once")) \
            | self.dl | unknown
        self.windows = ncpu + 1
        self._ctx_bits: dict[int, int] = {}
        # a fault through an address of CPU c's fixmap window or of the
        # direct map reads every context's releases there
        self.fault_reads = []
        for c in range(ncpu):
            m = 0
            for i in range(codec.nctx):
                m |= self.rel_bit(i, c) | self.rel_bit(i, ncpu)
            self.fault_reads.append(m)
        # a step that oopses reads pkmap_waiters (machine._kill removes a
        # waiter, and a context that steps is never one)
        self.common_r = rw | bits(codec.field_positions("locks")) | self.pan | self.waiters
        self.common_w = rw
        self._pool_init(program, codec)
        # per CPU: its bound contexts, its idle task, its record
        self.local = []
        for c in range(ncpu):
            m = self.cpu_bit[c] | self.ctx_bits(nctx + c)
            for i, b in enumerate(self.bound):
                if b == c or b is None:   # a task that may migrate may run here
                    m |= self.ctx_bits(i)
            self.local.append(m)
        self._pages = [self._pages_of(c) for c in range(ncpu)]
        self._prov = [self._provenance(i) for i in range(nctx)]
        self._base: dict[int, tuple[int, int]] = {}
        self._instr: dict[tuple[int, int], Fp] = {}
        self._remaining: dict[tuple[int, int], Fp] = {}
        self._need = [self._unmap_need(i) for i in range(nctx)]

    def rel_bit(self, i: int, window: int) -> int:
        """Context i's ``released`` records of addresses in ``window``: a
        CPU's fixmap slots, or (NR_CPUS) any other address."""
        return 1 << (self.size + i * self.windows + window)

    def ctx_bits(self, i: int) -> int:
        """Every bit of context i."""
        got = self._ctx_bits.get(i)
        if got is None:
            got = 1 << i
            for x in range(self.windows):
                got |= self.rel_bit(i, x)
            self._ctx_bits[i] = got
        return got

    # ------------------------------------------------------------ per context
    def base(self, ci: int) -> tuple[int, int]:
        """What any step of context ci may touch (bound contexts only)."""
        got = self._base.get(ci)
        if got is None:
            got = self._base[ci] = self._base_of(ci)
        return got

    def _base_of(self, ci: int) -> tuple[int, int]:
        c = self.bound[ci]
        assert c is not None
        # the switch hooks and a task's end flush a VIVT cache
        # (kmap_local.sched_out of a task's live slots)
        w = self.local[c] | self.common_w
        if self.cache:
            w |= self.cache | self._pages[c]   # a flush writes lines back
        if self.p.contexts[ci].is_irq:
            w |= self.pan   # a fatal error in a handler panics the machine
        return self.local[c] | self.common_r | w, w

    def remaining(self, ci: int, pc: int) -> Fp:
        """The union of the footprints of every instruction context ci may
        still execute from pc (its base not included); None: anything."""
        key = (ci, pc)
        if key in self._remaining:
            return self._remaining[key]
        out: Fp = (0, 0)
        if not self.supported or self.bound[ci] is None:
            out = None
        else:
            r = w = 0
            for q in self._reach(ci, pc):
                f = self.instr(ci, q)
                if f is None:
                    out = None
                    break
                r |= f[0]
                w |= f[1]
            else:
                out = (r, w)
        self._remaining[key] = out
        return out

    def underflow(self, ci: int, pc: int, idx: int) -> int:
        """The bit of the CPU record a kunmap_local that pops once too
        often writes (x86: the last slot of the CPU below), when context
        ci at pc with kmap_ctrl.idx ``idx`` (of the task an irq runs on:
        its own pushes for a handler) may still do so; else 0."""
        c = self.bound[ci]
        if not self.linear or c is None or c == 0:
            return 0
        need = self._need[ci]
        if self.p.contexts[ci].is_irq:
            ok = need is not None and need[pc] == 0
        else:
            ok = need is not None and idx // self.p.config.km_incr >= need[pc]
        return 0 if ok else self.cpu_bit[c - 1]

    # ------------------------------------------------------------- analysis
    def _succ(self, ci: int, pc: int) -> list[int]:
        code = self.p.contexts[ci].code
        ins = code[pc]
        if isinstance(ins, ir.End):
            return []
        if isinstance(ins, ir.Jump):
            return [ins.target]
        out = [pc + 1]
        if isinstance(ins, ir.Branch):
            out.append(ins.target)
        elif isinstance(ins, ir.CallFn):
            out.append(ins.entry)
        elif isinstance(ins, ir.Ret):
            out = [q + 1 for q, x in enumerate(code) if isinstance(x, ir.CallFn)]
        return [q for q in out if 0 <= q < len(code)]

    def _reach(self, ci: int, pc: int) -> set[int]:
        seen = {pc}
        todo = [pc]
        while todo:
            for q in self._succ(ci, todo.pop()):
                if q not in seen:
                    seen.add(q)
                    todo.append(q)
        return seen

    def _unmap_need(self, ci: int) -> list[int] | None:
        """need[pc]: the least kmap_local depth at pc (in pushes) from
        which no path pops one too many: an unmap needs one more than
        what follows it, a map one less. None when it does not settle (a
        loop that pops more than it pushes) or the context calls
        functions (their locals and frames are not followed)."""
        info = self.p.contexts[ci]
        code = info.code
        if info.func_at:
            return None
        n = len(code)
        need = [0] * n
        for _ in range(n + 2):
            changed = False
            for pc in reversed(range(n)):
                after = max((need[q] for q in self._succ(ci, pc)), default=0)
                ins = code[pc]
                name = ins.name if isinstance(ins, ir.Call) else ""
                if name in _UNMAPS:
                    v = after + 1
                elif name in _MAPS:
                    v = max(0, after - 1)
                else:
                    v = after
                if v != need[pc]:
                    need[pc] = v
                    changed = True
            if not changed:
                return need
        return None

    def _body_defs(self, ci: int) -> dict[int, list[ir.Instr]]:
        defs: dict[int, list[ir.Instr]] = {}
        for ins in self.p.contexts[ci].code:
            dest = getattr(ins, "dest", None)
            if isinstance(dest, ir.ToLocal):
                defs.setdefault(dest.slot, []).append(ins)
        return defs

    def _provenance(self, ci: int) -> dict[int, bool]:
        """Body locals whose every assignment is a kmap_local-family map
        of a page (a fixmap slot of the context's CPU, or the page's
        direct map); parameters and functions' locals are never."""
        info = self.p.contexts[ci]
        if info.func_at:
            return {}
        out = {}
        for slot, ds in self._body_defs(ci).items():
            out[slot] = all(isinstance(d, ir.Call) and d.name in _MAPS and len(d.args) == 1
                            and isinstance(d.args[0], ir.PageRef) for d in ds)
        return out

    def _pages_of(self, cpu: int) -> int:
        """The page bits a fixmap slot of ``cpu`` can hold: the pages its
        bound contexts map with kmap_local; every page when one maps
        something else or calls a built-in not described here, or a task
        may migrate."""
        ps = self.p.pages
        allp = self._page_bits(range(len(ps)))
        if self.unpinned:
            return allp
        got = []
        for i, c in enumerate(self.p.contexts):
            if c.cpu != cpu:
                continue
            for ins in c.code:
                if type(ins) is not ir.Call and not _has_call(ins):
                    continue
                for name, args in _calls(ins):
                    if name in _MAPS:
                        if len(args) == 1 and isinstance(args[0], ir.PageRef):
                            got.append(args[0].page)
                        else:
                            return allp
                    elif not (name in _UNMAPS or name in _LOCAL_ONLY or name in _PERCPU
                              or name in _SPIN or name in _PKMAP_OPS):
                        return allp
        return self._page_bits(got)

    def _page_bits(self, pages: Iterable[int]) -> int:
        c = self.codec
        m = 0
        for p in pages:
            m |= 1 << (c.ram_at + p) | 1 << (c.newest_at + p)
        return m

    # ---------------------------------------------------- one instruction
    def instr(self, ci: int, pc: int) -> Fp:
        key = (ci, pc)
        if key not in self._instr:
            self._pc = pc
            self._instr[key] = self._instr_fp(ci, self.p.contexts[ci].code[pc])
        return self._instr[key]

    def _instr_fp(self, ci: int, ins: ir.Instr) -> Fp:
        acc = [0, 0]
        ok = True
        if isinstance(ins, ir.Set):
            ok = self._dest(ci, ins.dest, acc) and self._expr(ci, ins.value, acc)
        elif isinstance(ins, (ir.Branch, ir.Check)):
            ok = self._expr(ci, ins.cond, acc)
        elif isinstance(ins, ir.Call):
            ok = self._builtin(ci, ins.name, ins.args, acc) and \
                (ins.dest is None or self._dest(ci, ins.dest, acc))
        elif isinstance(ins, ir.CallFn):
            ok = all(self._expr(ci, a, acc) for a in ins.args) and \
                (ins.dest is None or self._dest(ci, ins.dest, acc))
        elif isinstance(ins, ir.Ret):
            ok = ins.value is None or self._expr(ci, ins.value, acc)
        elif not isinstance(ins, (ir.Jump, ir.End)):
            ok = False
        return (acc[0], acc[1]) if ok else None

    def _dest(self, ci: int, d: ir.Dest, acc: list[int]) -> bool:
        if isinstance(d, ir.ToLocal):
            return True
        if isinstance(d, ir.ToGlobal):
            b = bits(self.codec._where(FIELD["globals"], d.index))
            acc[0] |= b
            acc[1] |= b
            return True
        if isinstance(d, ir.ToByte):
            return self._mem(ci, d.addr, acc, write=True)
        return False

    def _expr(self, ci: int, e: ir.Expr, acc: list[int]) -> bool:
        todo: list[ir.Expr] = [e]
        while todo:
            x = todo.pop()
            if isinstance(x, (ir.Const, ir.Local, ir.PageRef, ir.PercpuVar, ir.LockArg)):
                continue
            if isinstance(x, ir.Global):
                acc[0] |= bits(self.codec._where(FIELD["globals"], x.index))
            elif isinstance(x, ir.OPERATORS):
                todo += ir.operands(x)
            elif isinstance(x, ir.LoadByte):
                if not self._mem(ci, x.addr, acc, write=False):
                    return False
            elif isinstance(x, ir.CallExpr):
                if not self._builtin(ci, x.name, x.args, acc):
                    return False
            else:
                return False
        return True

    def _mem(self, ci: int, addr: ir.Expr, acc: list[int], write: bool) -> bool:
        """A byte access through ``addr``: only ``p`` or ``p + k`` with p a
        kmap_local local (``_provenance``) and a constant k in the page."""
        base, off = addr, 0
        if isinstance(addr, ir.Binary) and addr.op == "+":
            if isinstance(addr.left, ir.Local) and isinstance(addr.right, ir.Const):
                base, off = addr.left, addr.right.value
            elif isinstance(addr.right, ir.Local) and isinstance(addr.left, ir.Const):
                base, off = addr.right, addr.left.value
        if not 0 <= off < self.p.config.PAGE_SIZE or not isinstance(base, ir.Local):
            return False
        pk = self._pkprov[ci].get(base.slot)
        if pk is not None:
            return self._pkmap_mem(ci, base.slot, pk, acc)
        if not self.kmap_local or not self._prov[ci].get(base.slot, False):
            return False
        c = self.bound[ci]
        assert c is not None
        pages = self._pages[c]
        acc[0] |= self.cpu_bit[c] | pages | self.cache | self.ctx_bits(ci) | self.fault_reads[c]
        acc[1] |= pages | self.cache
        return True

    def _builtin(self, ci: int, name: str, args: tuple[ir.Expr, ...], acc: list[int]) -> bool:
        if not all(self._expr(ci, a, acc) for a in args):
            return False
        c = self.bound[ci]
        assert c is not None
        if name in _LOCAL_ONLY:
            return True   # local: the base
        flush = self.cache | self._pages[c] if self.cache else 0
        if name in _MAPS:
            if not self.kmap_local:
                return False
            acc[0] |= self.pte | flush
            acc[1] |= flush
            return True
        if name in _UNMAPS:
            a = args[0] if args else None
            if not (self.kmap_local and isinstance(a, ir.Local)
                    and self._prov[ci].get(a.slot, False)):
                return False
            acc[0] |= flush | self.pte
            acc[1] |= flush
            return True
        if name in _PKMAP_OPS:
            a = args[0] if args else None
            if not self.pool_ok or not isinstance(a, ir.PageRef):
                return False
            if name == "kmap":
                acc[0] |= self.pool_r | self.FLUSH
                acc[1] |= self.pool_w | self.FLUSH
            else:   # kunmap_high never scans nor flushes; it may wake the sleepers
                acc[0] |= self.pool_r
                acc[1] |= self.counts | self.WAKE
            return True
        if name in _PERCPU:
            acc[0] |= self.percpu
            acc[1] |= self.percpu
            return True
        if name in _SPIN:
            a = args[0] if args else None
            if not self.spin or not isinstance(a, ir.LockArg) or a.index in self.p.mutexes:
                return False
            b = bits(self.codec._where(FIELD["locks"], a.index)) | \
                bits(self.codec._where(FIELD["mutex_wait"], a.index))
            acc[0] |= b
            acc[1] |= b
            return True
        return False


    # ------------------------------------------------------ the pkmap pool
    def _pool_init(self, program: Program, codec: Codec) -> None:
        """The pool's positions, the pseudo-bits FLUSH and WAKE, and the
        static facts the reduction's pool arguments use (por.py, "The
        pkmap pool"): the pages each context names, the locals that hold
        a kmap() of a page and where they still hold it, and how many
        kmap() calls a context may still make."""
        cfg = program.config
        self._pc = 0
        count_pos = codec.field_positions("pkmap_count")
        pte_pos = codec.field_positions("pkmap_pte")
        # a slot's count and PTE are positions of their own (flat.SHORT)
        self.per_slot = len(count_pos) == cfg.LAST_PKMAP == len(pte_pos)
        self.count_pos, self.pte_pos = count_pos, pte_pos
        self.counts = bits(count_pos)
        self.last = bits(codec.field_positions("last_pkmap_nr"))
        self.ipi = bits(codec.field_positions("kmap_ipi"))
        self.pool_ok = bool(cfg.CONFIG_HIGHMEM)
        # kmap_high (one step under kmap_lock): page_address reads every
        # PTE, kmap_lock_waiter reads kmap_ipi, kunmap_high reads the
        # waiters; without a wrap map_new_virtual writes last_pkmap_nr and
        # the count and PTE of the free slot it takes
        self.pool_r = self.pte | self.counts | self.last | self.waiters | self.ipi
        self.pool_w = self.pte | self.counts | self.last
        top = self.size + codec.nctx * self.windows
        # pseudo-bits: "may flush" (a wrap: flush_all_zero_pkmaps, its IPI
        # wait, a sleep on pkmap_map_wait) and "may wake" (kunmap_high's
        # wake_up), expanded by ``expand_r``/``expand_w``
        self.FLUSH = 1 << top
        self.WAKE = 1 << (top + 1)
        self.pseudo = self.FLUSH | self.WAKE
        cpus = bits(range(codec.nctx, codec.nctx + codec.ncpu))
        fr = self.waiters | self.ipi | self.counts | self.pte
        fw = self.waiters | self.ipi | self.counts | self.pte
        if cfg.ARCH == "x86":
            fr |= cpus             # ipi_acks: every CPU's interrupt flag
            if cfg.LAST_PKMAP > 33:   # tlb.flush_pkmap_range: every CPU's TLB
                fw |= cpus
        if self.cache:
            everything = self._page_bits(range(len(program.pages)))
            fr |= self.cache | everything   # flush_cache_kmaps writes lines back
            fw |= self.cache | everything
        # a sleeper switches its own CPU to another of its tasks (base)
        self.flush_r, self.flush_w = fr, fw
        nctx = len(program.contexts)
        self._refs = [self._page_refs(i) for i in range(nctx)]
        self._private: dict[tuple[int, tuple[int, ...]], bool] = {}
        sleepers = 0
        for i in range(nctx):
            if any(name == "kmap" for ins in program.contexts[i].code for name, _ in _calls(ins)):
                sleepers |= self.ctx_bits(i)
        self.wake_w = self.waiters | sleepers
        self._pkprov = [self._pkmap_provenance(i) for i in range(nctx)]
        self._held = [self._held_locals(i) for i in range(nctx)]
        self._maps: dict[tuple[int, int], int | None] = {}

    def expand_r(self, r: int, quiet: bool = False) -> int:
        """A may-read mask with its pseudo-bits replaced by what they stand
        for (a wrap reads nothing more when none can happen: ``quiet``)."""
        return (r & ~self.pseudo) | (self.flush_r if r & self.FLUSH and not quiet else 0)

    def expand_w(self, w: int, quiet: bool = False, spare: int = 0) -> int:
        """A may-write mask with its pseudo-bits replaced: nothing when
        ``quiet`` (no wrap can happen and nobody waits: por.py), and a
        wake-up never writes the contexts in ``spare`` (contexts that do
        not wait now and cannot start to: the frozen CPU's)."""
        out = w & ~self.pseudo
        if not quiet:
            if w & self.FLUSH:
                out |= self.flush_w
            if w & self.WAKE:
                out |= self.wake_w & ~spare
        return out

    def page_refs(self, ci: int) -> frozenset[int] | None:
        """The pages context ci's code names; None: it may reach any."""
        return self._refs[ci]

    def _page_refs(self, ci: int) -> frozenset[int] | None:
        """Every page named in context ci's code (a page name, a page
        array's elements). None when a built-in call not described here,
        or a described one with a page argument that is not a page name,
        could take a page from elsewhere (a pointer kept in a variable)."""
        described = _MAPS | _UNMAPS | _LOCAL_ONLY | _PERCPU | _SPIN | _PKMAP_OPS
        out: set[int] = set()
        for ins in self.p.contexts[ci].code:
            for name, args in _calls(ins):
                if name not in described:
                    return None
                if name in _MAPS or name in _PKMAP_OPS:
                    if not (len(args) == 1 and isinstance(args[0], ir.PageRef)):
                        return None
            for x in _exprs(ins):
                if isinstance(x, ir.PageRef):
                    out.add(x.page)
                elif isinstance(x, ir.PageElem):
                    out.update(range(x.first, x.first + x.count))
        return frozenset(out)

    def private(self, page: int, to: Iterable[int]) -> bool:
        """No context but those of ``to`` names ``page``."""
        key = (page, tuple(to))
        got = self._private.get(key)
        if got is None:
            got = self._private[key] = all(
                i in key[1] or (refs is not None and page not in refs)
                for i, refs in enumerate(self._refs))
        return got

    def _pkmap_provenance(self, ci: int) -> dict[int, frozenset[int]]:
        """Body locals whose every assignment is a kmap() of a highmem page
        name: local slot -> those pages (their pool slot, while held)."""
        info = self.p.contexts[ci]
        if info.func_at or not self.pool_ok:
            return {}
        out = {}
        for slot, ds in self._body_defs(ci).items():
            pages = set()
            for d in ds:
                if not (isinstance(d, ir.Call) and d.name == "kmap" and len(d.args) == 1
                        and isinstance(d.args[0], ir.PageRef)
                        and self.p.pages[d.args[0].page].kind == ir.PageKind.HIGHMEM):
                    break
                pages.add(d.args[0].page)
            else:
                out[slot] = frozenset(pages)
        return out

    def _held_locals(self, ci: int) -> list[frozenset[int]] | None:
        """held[pc]: the kmap() locals that hold a mapping of their page on
        every path to pc (a must analysis): assigned by kmap() and not
        followed by a kunmap() of one of their pages, whose pages no other
        context names (nobody else can unmap them: the pool never frees a
        slot whose count is above 1, and only kunmap_high lowers it).
        None: nothing is held anywhere (functions, or nothing to hold)."""
        prov = self._pkprov[ci]
        code = self.p.contexts[ci].code
        if not prov:
            return None
        ok = {slot for slot, pages in prov.items()
              if all(self.private(pg, (ci,)) for pg in pages)}
        if not ok:
            return None
        kinds = _MAPS | _LOCAL_ONLY | _PERCPU | _SPIN | {"kmap"}
        n = len(code)
        everything = frozenset(ok)
        held: list[frozenset[int] | None] = [None] * n   # None: not reached yet (top)
        held[0] = frozenset()
        todo = [0]
        while todo:
            pc = todo.pop()
            cur = held[pc]
            assert cur is not None
            out = set(cur)
            ins = code[pc]
            for name, args in _calls(ins):
                if name == "kunmap" and len(args) == 1 and isinstance(args[0], ir.PageRef):
                    out = {x for x in out if args[0].page not in prov[x]}
                elif name not in kinds:
                    out = set()   # anything else may unmap: forget every mapping
            if isinstance(ins, ir.Call) and ins.name == "kmap" and \
                    isinstance(ins.dest, ir.ToLocal) and ins.dest.slot in ok:
                out.add(ins.dest.slot)
            new = frozenset(out) & everything
            for q in self._succ(ci, pc):
                old = held[q]
                got = new if old is None else old & new
                if got != old:
                    held[q] = got
                    todo.append(q)
        return [h if h is not None else frozenset() for h in held]

    def _pkmap_mem(self, ci: int, slot: int, pages: frozenset[int], acc: list[int]) -> bool:
        """A byte access through a kmap() local: where it still holds its
        mapping, that page through its slot's PTE; else any page a slot
        may hold then, or a fault that reads every context's releases
        there (memory._released_somewhere)."""
        if not self.pool_ok:
            return False
        held = self._held[ci]
        if held is not None and slot in held[self._pc]:
            got = self._page_bits(pages)
            acc[0] |= self.pte | got | self.cache | self.ctx_bits(ci)
            acc[1] |= got | self.cache
            return True
        got = self._page_bits(range(len(self.p.pages)))
        rest = self.windows - 1
        faults = 0
        for i in range(self.codec.nctx):
            faults |= self.rel_bit(i, rest)
        acc[0] |= self.pte | got | self.cache | self.ctx_bits(ci) | faults
        acc[1] |= got | self.cache
        return True

    def map_calls(self, ci: int, pc: int) -> int | None:
        """The most kmap() calls context ci may still make from pc (each may
        run map_new_virtual's scan once); None: no bound (a loop through
        one, functions)."""
        key = (ci, pc)
        if key in self._maps:
            return self._maps[key]
        got = self._map_calls(ci, pc)
        self._maps[key] = got
        return got

    def _map_calls(self, ci: int, pc: int) -> int | None:
        info = self.p.contexts[ci]
        if info.func_at:
            return None
        code = info.code
        reach = self._reach(ci, pc)
        own = {q: sum(1 for name, _ in _calls(code[q]) if name == "kmap") for q in reach}
        if not any(own.values()):
            return 0
        most = {q: 0 for q in reach}
        for _ in range(len(reach) + 2):
            changed = False
            for q in reach:
                v = own[q] + max((most[x] for x in self._succ(ci, q)), default=0)
                if v != most[q]:
                    most[q] = v
                    changed = True
            if not changed:
                return most[pc]
        return None   # a loop through a kmap(): no bound


def _exprs(ins: ir.Instr) -> list[ir.Expr]:
    """Every expression node of an instruction, nested ones included."""
    todo: list[ir.Expr] = []
    if isinstance(ins, (ir.Call, ir.CallFn)):
        todo += ins.args
    elif isinstance(ins, ir.Set):
        todo.append(ins.value)
    elif isinstance(ins, (ir.Branch, ir.Check)):
        todo.append(ins.cond)
    elif isinstance(ins, ir.Ret) and ins.value is not None:
        todo.append(ins.value)
    dest = getattr(ins, "dest", None)
    if isinstance(dest, ir.ToByte):
        todo.append(dest.addr)
    out = []
    while todo:
        x = todo.pop()
        out.append(x)
        if isinstance(x, ir.CallExpr):
            todo += x.args
        elif isinstance(x, ir.OPERATORS):
            todo += ir.operands(x)
        elif isinstance(x, ir.LoadByte):
            todo.append(x.addr)
        elif isinstance(x, ir.PageElem):
            todo.append(x.index)
    return out


def _has_call(ins: ir.Instr) -> bool:
    return bool(_calls(ins))


def _calls(ins: ir.Instr) -> list[tuple[str, tuple[ir.Expr, ...]]]:
    """Every built-in an instruction calls (itself, or in an expression)."""
    out = [(ins.name, ins.args)] if isinstance(ins, ir.Call) else []
    return out + [(x.name, x.args) for x in _exprs(ins) if isinstance(x, ir.CallExpr)]
