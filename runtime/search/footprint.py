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
  killed (removed from ``pkmap_waiters``), read every lock (a task's end
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
_KNOWN = frozenset({"ctxs", "cpus", "pkmap_count", "pkmap_pte", "last_pkmap_nr",
                    "pkmap_waiters", "locks", "globals", "percpu", "ram", "newest", "cache",
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
        rw = bits(codec.field_positions("reports")) | bits(codec.field_positions("once")) \
            | self.dl | bits(codec.field_positions("pkmap_waiters")) | unknown
        self.windows = ncpu + 1
        # a fault through an address of CPU c's fixmap window or of the
        # direct map reads every context's releases there
        self.fault_reads = []
        for c in range(ncpu):
            m = 0
            for i in range(codec.nctx):
                m |= self.rel_bit(i, c) | self.rel_bit(i, ncpu)
            self.fault_reads.append(m)
        self.common_r = rw | bits(codec.field_positions("locks")) | self.pan
        self.common_w = rw
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
        m = 1 << i
        for x in range(self.windows):
            m |= self.rel_bit(i, x)
        return m

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
                              or name in _SPIN):
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
        if not self.kmap_local or not isinstance(base, ir.Local) or \
                not self._prov[ci].get(base.slot, False):
            return False
        if not 0 <= off < self.p.config.PAGE_SIZE:
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


def _has_call(ins: ir.Instr) -> bool:
    return any(True for _ in _calls(ins))


def _calls(ins: ir.Instr) -> list[tuple[str, tuple[ir.Expr, ...]]]:
    """Every built-in an instruction calls (itself, or in an expression)."""
    out: list[tuple[str, tuple[ir.Expr, ...]]] = []
    todo: list[ir.Expr] = []
    if isinstance(ins, ir.Call):
        out.append((ins.name, ins.args))
        todo += ins.args
    elif isinstance(ins, ir.CallFn):
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
    while todo:
        x = todo.pop()
        if isinstance(x, ir.CallExpr):
            out.append((x.name, x.args))
            todo += x.args
        elif isinstance(x, ir.OPERATORS):
            todo += ir.operands(x)
        elif isinstance(x, ir.LoadByte):
            todo.append(x.addr)
    return out
