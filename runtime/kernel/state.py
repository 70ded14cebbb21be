"""The immutable machine state: ints, bools, bytes, None and tuples only.

Records are typed NamedTuples (the design's "equivalent compact encoding"
of frozen dataclasses): immutable, compared and hashed in C, with a cheap
``_replace``. Every field is hashable, so a state can be fingerprinted,
deduplicated and shipped to worker processes as it is. Page contents are
``bytes`` objects: every untouched page shares one zero page, so a
4096-byte page costs nothing until it is written, and bytes cache their hash.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import NamedTuple

from kmap_scenarios.runtime.kernel.program import PageKind, Program, follow_jumps


class Pool(tuple[int, ...]):
    """A long pkmap array (LAST_PKMAP is 512 on x86): a tuple that keeps
    its hash. Tuples rehash every element each time; interning a pool
    (runtime/search/flat.py) or keying a state by value (runtime/search/parallel.py)
    would then cost a 512-element hash, more than the step that made it.
    Equal to, and hashed like, the plain tuple of its elements."""

    def __hash__(self) -> int:
        d = self.__dict__
        h = d.get("h")
        if h is None:
            h = d["h"] = tuple.__hash__(self)
        return h

    def __reduce__(self) -> tuple[type, tuple[tuple[int, ...]]]:
        return Pool, (tuple(self),)


def pool(values: Iterable[int]) -> tuple[int, ...]:
    """A pkmap array as the state keeps it: a Pool when hashing it would
    be slow, else a plain tuple."""
    t = tuple(values)
    return Pool(t) if len(t) > 32 else t


class Status(IntEnum):
    READY = 0        # task: runnable (current or not); irq: fired, running
    PENDING = 1      # irq not fired yet
    WAIT_PKMAP = 2   # asleep on pkmap_map_wait (TASK_UNINTERRUPTIBLE)
    DONE = 3         # returned to user space / irq returned
    DEAD = 4         # killed by a BUG or an oops, or stopped by an assert
    IDLE = 5         # a CPU's idle task (swapper/N), or its ksoftirqd/N
    WAIT_MUTEX = 6   # asleep in mutex_lock() (TASK_UNINTERRUPTIBLE)
    QUIET = 7        # a softirq not running: its CPU's softirq_pending says if raised


HARDIRQ_OFFSET = 0x10000  # include/linux/preempt.h


class Ctx(NamedTuple):
    """One execution context: a task, an irq handler or a CPU's idle task.

    Counters follow the kernel's placement: preempt_count belongs to the
    executing context (in an irq it includes HARDIRQ_OFFSET and the
    interrupted count); pagefault_disabled, migration_disabled, kmap_ctrl and
    pgmap_prot_count belong to `current`, the task an irq interrupted
    (``owner``)."""

    status: int
    pc: int
    locals: tuple[int, ...]
    pending: tuple[int, ...] | None   # progress of a multi-step built-in
    cpu: int                          # current or last CPU; -1 never ran
    preempt_count: int
    pagefault_disabled: int
    migration_disabled: int
    kmap_idx: int                     # current->kmap_ctrl.idx
    pteval: tuple[int, ...]           # kmap_ctrl.pteval[]: pfn + 1, or 0
    resched: bool                     # stopped at an explicit preemption point
    pkrs_rw: bool                     # PKRS grants the pgmap key (this context)
    pgmap_prot_count: int             # current->pgmap_prot_count
    held: tuple[int, ...]             # pfns this context holds pkmap refs on (sorted)
    released: tuple[tuple[int, int], ...]  # (vaddr page, pfn) it mapped and released
    owner: int                        # irq: the interrupted task (current); else -1
    irq_flags: tuple[int, ...]        # spin_lock_irqsave flags saved without a variable
    rcu_nesting: int                  # current->rcu_read_lock_nesting (lockdep's count too)
    # The callers of the function running, outermost first: (the pc of the
    # call, the caller's locals). ``pc`` and ``locals`` are the innermost
    # frame's; the body's locals are frames[0][1] while a call is active.
    frames: tuple[tuple[int, tuple[int, ...]], ...] = ()


class Cpu(NamedTuple):
    curr: int                   # running task's context index, -1 when idle
    irqs: tuple[int, ...]       # active irq and softirq contexts, innermost last
    irqs_off: bool
    fixmap: tuple[int, ...]     # kmap_local PTEs of this CPU: pfn + 1, or 0
    fix_owner: tuple[int, ...]  # context that installed each PTE, -1
    softirq_pending: int = 0    # local_softirq_pending(): a bit per softirq vector
    softirq_batch: int = 0      # handle_softirqs(): the vectors of this pass still to run
    softirq_restart: int = 0    # handle_softirqs(): restarts so far (MAX_SOFTIRQ_RESTART)
    ksoftirqd: bool = False     # ksoftirqd/N is TASK_RUNNING (woken or running)
    # Translations of this CPU's own kmap_local slots its TLB may still hold
    # after their PTE was cleared or replaced without a flush here: sorted
    # (slot, pfn + 1) pairs (runtime/kernel/tlb.py).
    tlb: tuple[tuple[int, int], ...] = ()


class Line(NamedTuple):  # noqa: D101
    """A data-cache line: tag (virtual line address for VIVT, physical
    otherwise), the physical page and line it caches, its data, dirtiness."""

    tag: int
    page: int
    index: int  # type: ignore[assignment]  # the line within its page
    data: bytes
    dirty: bool


class Report(NamedTuple):
    """A kernel report: a code from runtime/kernel/reports.py and its int args.

    ``cur`` is `current` when it was raised: the context itself for a task,
    the interrupted task (or the CPU's idle task) for an irq; the kernel
    prints its comm and PID. ``chain``: the pcs of the calls the context
    was in, outermost first (a kernel splat's call trace)."""

    code: int
    ctx: int
    cpu: int
    pc: int
    args: tuple[int, ...]
    cur: int
    chain: tuple[int, ...] = ()


class State(NamedTuple):
    ctxs: tuple[Ctx, ...]             # tasks and irqs, then idle tasks (and ksoftirqd)
    cpus: tuple[Cpu, ...]
    pkmap_count: tuple[int, ...]
    pkmap_pte: tuple[int, ...]        # pkmap_page_table[]: pfn + 1, or 0
    last_pkmap_nr: int
    pkmap_waiters: tuple[int, ...]    # pkmap_map_wait, sorted contexts
    locks: tuple[int, ...]            # owner context or -1
    globals: tuple[int, ...]
    percpu: tuple[tuple[int, ...], ...]
    ram: tuple[bytes, ...]            # per page: what RAM holds
    newest: tuple[bytes, ...]         # per page: newest value stored to each byte
    cache: tuple[Line, ...]           # sorted by tag
    user_present: tuple[bool, ...]
    reports: tuple[Report, ...]
    once: tuple[int, ...]             # WARN_ON_ONCE sites that fired (sorted)
    debug_locks: bool                 # lock debugging still on (DEBUG_LOCKS_WARN_ON)
    panicked: bool
    mutex_wait: tuple[tuple[int, ...], ...]  # per lock: () for a spinlock; a mutex's
                                      # (flags, waiter, ...): MUTEX_FLAG_HANDOFF, wait_list
    slab: int                         # kmalloc objects allocated (a bit each)
    # the context whose pkmap wrap waits for its TLB flush's IPI with
    # kmap_lock held (runtime/kernel/pkmap.py), or -1: one position every
    # kmap()/kunmap() reads, instead of every context's pending
    kmap_ipi: int = -1


def body_locals(ctx: Ctx) -> tuple[int, ...]:
    """The locals of a context's body (task.var), whatever function it is in."""
    return ctx.frames[0][1] if ctx.frames else ctx.locals


def idle_ctx(program: Program, cpu: int) -> int:
    """The context index of CPU ``cpu``'s idle task."""
    return len(program.contexts) + cpu


def ksoftirqd_ctx(program: Program, cpu: int) -> int:
    """The context index of CPU ``cpu``'s ksoftirqd thread (only in the
    states of a program with softirqs: it is `current` for the softirqs it
    runs)."""
    return len(program.contexts) + program.config.NR_CPUS + cpu


def _ctx(program: Program, status: Status) -> Ctx:
    km = program.config.KM_MAX_IDX
    return Ctx(status=int(status), pc=0, locals=(), pending=None, cpu=-1,
               preempt_count=0, pagefault_disabled=0, migration_disabled=0,
               kmap_idx=0, pteval=(0,) * km, resched=False, pkrs_rw=False,
               pgmap_prot_count=0, held=(), released=(), owner=-1, irq_flags=(),
               rcu_nesting=0)


def initial_state(program: Program) -> State:
    """The booted machine before any task runs."""
    cfg = program.config
    ctxs = []
    pending = [0] * cfg.NR_CPUS
    for c in program.contexts:
        first = Status.QUIET if c.is_softirq else Status.PENDING if c.is_irq else Status.READY
        ctx = _ctx(program, first)
        ctx = ctx._replace(locals=(0,) * len(c.local_names), pc=follow_jumps(c.code, 0))
        ctxs.append(ctx)
        if c.raised_at_boot and c.cpu is not None:
            pending[c.cpu] |= 1 << c.softirq_nr
    for n in range(cfg.NR_CPUS * (2 if program.softirqs else 1)):   # idle, ksoftirqd
        ctxs.append(_ctx(program, Status.IDLE))
    km = cfg.KM_MAX_IDX
    cpus = tuple(Cpu(curr=-1, irqs=(), irqs_off=False, fixmap=(0,) * km,
                     fix_owner=(-1,) * km, softirq_pending=pending[n])
                 for n in range(cfg.NR_CPUS))
    npk = cfg.LAST_PKMAP if cfg.CONFIG_HIGHMEM else 0
    zero = bytes(cfg.PAGE_SIZE)
    return State(
        ctxs=tuple(ctxs), cpus=cpus,
        pkmap_count=pool((0,) * npk), pkmap_pte=pool((0,) * npk), last_pkmap_nr=0,
        pkmap_waiters=(), locks=(-1,) * len(program.locks),
        globals=tuple(v for _, v in program.globals),
        percpu=tuple((v,) * cfg.NR_CPUS for _, v in program.percpus),
        ram=(zero,) * len(program.pages), newest=(zero,) * len(program.pages),
        cache=(),
        user_present=tuple(p.present or p.kind != PageKind.USER for p in program.pages),
        reports=(), once=(), debug_locks=True, panicked=False,
        mutex_wait=tuple((0,) if i in program.mutexes else () for i in range(len(program.locks))),
        slab=0)
