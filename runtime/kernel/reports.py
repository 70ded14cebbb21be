"""Report kinds, the catalogue of kernel reports, and their kernel-style text.

A report in the state is ``Report(code, ctx, cpu, pc, args, cur)``: ints only.
Its text is made here, from the catalogue entry of its code: the kernel's
own first line (``kernel BUG at ...``, ``WARNING: CPU: ...``, ``BUG:
sleeping function called ...``), the check that fired, and where in the
scenario. Kernel line numbers differ per version, so the text names the
kernel function instead (docs/kernel-semantics.md §12).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from kmap_scenarios.runtime.kernel.program import MAX_CALL_DEPTH, Program
from kmap_scenarios.runtime.kernel.state import Report, State


class Kind(IntEnum):
    BUG = 0
    WARN = 1
    OOPS = 2
    ASSERT = 3
    DEADLOCK = 4
    DATA_LOSS = 5
    STALE_READ = 6
    USE_AFTER_UNMAP = 7


@dataclass(frozen=True)
class Entry:
    kind: Kind
    file: str       # kernel source file of the check
    func: str       # kernel function that reports
    check: str      # the check's own text, with {0}.. for args


class R(IntEnum):
    """Report codes (stable: goldens and fingerprints depend on them)."""

    MIGHT_SLEEP = 1
    SCHED_ATOMIC = 2
    KMAP_HIGH_COUNT = 3
    KUNMAP_HIGH_NOT_MAPPED = 4
    KUNMAP_HIGH_ZERO = 5
    HIGH_GET_COUNT = 6
    FLUSH_PTE_NONE = 7
    KMAP_LOCAL_HARDIRQ = 8
    KMAP_LOCAL_DEPTH = 9
    KMAP_LOCAL_PTE_BUSY = 10
    KUNMAP_LOCAL_ORDER = 11
    KUNMAP_LOCAL_UNDERFLOW = 12
    KUNMAP_LOCAL_USER = 13
    KUNMAP_LOCAL_FORCE = 14
    SCHED_GUARD = 15
    SCHED_PTE_NONE = 16
    RETURN_TO_USER = 17
    PREEMPT_UNDERFLOW = 18
    MIGRATE_UNBALANCED = 19
    SMP_PROCESSOR_ID = 20
    SPIN_RECURSION = 21
    SPIN_NOT_LOCKED = 22
    SPIN_WRONG_OWNER = 23
    PAGE_FAULT = 24
    PKS_FAULT = 25
    PKS_RELAXED = 26
    BAD_PAGE = 27
    DIVIDE = 28
    SCENARIO_BUG_ON = 29
    SCENARIO_WARN = 30
    ASSERT = 31
    DEADLOCK_WAIT = 32
    DEADLOCK_SPIN = 33
    DATA_LOSS = 34
    STALE_READ = 35
    DEVICE_STALE_READ = 36
    USE_AFTER_UNMAP = 37
    FOREIGN_KMAP_LOCAL = 38
    KMAP_TO_PAGE_PKMAP = 39
    KMAP_TO_PAGE_LOCAL = 40
    DMA_BAD_DIR = 41
    HIGHMEM_VM_BUG = 42
    PAGE_NOT_HIGHMEM = 43
    BAD_PFN = 44
    PERCPU_RANGE = 45
    IRQ_PANIC = 46
    DEADLOCK_IRQ = 47
    LOCK_HELD_RETURN = 48
    LIVELOCK = 49
    DEVICE_RANGE = 50
    COPY_SIZE = 51
    STARVED = 52
    SOFT_LOCKUP = 53
    HARD_LOCKUP = 54
    IRQ_RESTORE_BOGUS = 55
    RCU_VOLUNTARY_SWITCH = 56
    SOFTIRQ_COUNT = 57
    BH_ENABLE_HARDIRQ = 58
    SOFTIRQ_WRONG_CPU = 59
    DEADLOCK_SOFTIRQ = 60
    MUTEX_WRONG_OWNER = 61
    DEADLOCK_MUTEX = 62
    SLAB_LIMIT = 63
    ZERO_USER_BUG = 64
    KFREE_BAD = 65
    STACK_OVERFLOW = 66
    IRQ_HANDLER_ENABLED_IRQS = 67


HM = "mm/highmem.c"
HMI = "include/linux/highmem-internal.h"
CORE = "kernel/sched/core.c"

CATALOGUE: dict[R, Entry] = {
    R.MIGHT_SLEEP: Entry(Kind.BUG, HMI, "{f}", "might_sleep(): in_atomic(): {0}, irqs_disabled(): {1}, "
                         "non_block: 0, pid: {pid}, name: {comm}\npreempt_count: {2:x}, expected: 0"
                         "{rcu}"),
    R.SCHED_ATOMIC: Entry(Kind.BUG, CORE, "__schedule_bug", "schedule_debug(): in_atomic_preempt_off()"),
    R.KMAP_HIGH_COUNT: Entry(Kind.BUG, HM, "kmap_high", "BUG_ON(pkmap_count[PKMAP_NR(vaddr)] < 2)"),
    R.KUNMAP_HIGH_NOT_MAPPED: Entry(Kind.BUG, HM, "kunmap_high", "BUG_ON(!vaddr): {page} is not in the pkmap pool"),
    R.KUNMAP_HIGH_ZERO: Entry(Kind.BUG, HM, "kunmap_high",
                              "BUG(): pkmap_count[{0}] was 1: more kunmap() than kmap() of {page}"),
    R.HIGH_GET_COUNT: Entry(Kind.BUG, HM, "kmap_high_get", "BUG_ON(pkmap_count[PKMAP_NR(vaddr)] < 1)"),
    R.FLUSH_PTE_NONE: Entry(Kind.BUG, HM, "flush_all_zero_pkmaps", "BUG_ON(pte_none(pkmap_page_table[{0}]))"),
    R.KMAP_LOCAL_HARDIRQ: Entry(Kind.WARN, HM, "kmap_local_idx_push", "WARN_ON_ONCE(in_hardirq() && !irqs_disabled())"),
    R.KMAP_LOCAL_DEPTH: Entry(Kind.BUG, HM, "kmap_local_idx_push",
                              "BUG_ON(current->kmap_ctrl.idx >= KM_MAX_IDX): idx {0}, KM_MAX_IDX {1}"),
    R.KMAP_LOCAL_PTE_BUSY: Entry(Kind.BUG, HM, "__kmap_local_pfn_prot",
                                 "BUG_ON(!pte_none(*kmap_pte)): slot {0} of CPU {1} still maps pfn {2:#x}"),
    R.KUNMAP_LOCAL_ORDER: Entry(Kind.WARN, HM, "kunmap_local_indexed",
                                "WARN_ON_ONCE(addr != __fix_to_virt(FIX_KMAP_BEGIN + idx)): "
                                "addr {0:#x}, top slot {1} is {2:#x}"),
    R.KUNMAP_LOCAL_UNDERFLOW: Entry(Kind.BUG, HM, "kmap_local_idx_pop", "BUG_ON(current->kmap_ctrl.idx < 0)"),
    R.KUNMAP_LOCAL_USER: Entry(Kind.WARN, HM, "kunmap_local_indexed", "WARN_ON_ONCE(addr < PAGE_OFFSET): addr {0:#x}"),
    R.KUNMAP_LOCAL_FORCE: Entry(Kind.WARN, HM, "kunmap_local_indexed",
                                "WARN_ON_ONCE(1): addr {0:#x} is outside the kmap_local window"),
    R.SCHED_GUARD: Entry(Kind.WARN, HM, "{f}", "WARN_ON_ONCE(pte_val(pteval) != 0): guard slot {0}"),
    R.SCHED_PTE_NONE: Entry(Kind.WARN, HM, "{f}", "WARN_ON_ONCE(pte_none(pteval)): slot {0}"),
    R.RETURN_TO_USER: Entry(Kind.WARN, HMI, "kmap_assert_nomap", "DEBUG_LOCKS_WARN_ON(current->kmap_ctrl.idx)"),
    R.PREEMPT_UNDERFLOW: Entry(Kind.WARN, CORE, "preempt_count_sub", "DEBUG_LOCKS_WARN_ON(val > preempt_count())"),
    R.COPY_SIZE: Entry(Kind.WARN, "include/linux/thread_info.h", "check_copy_size",
                       "WARN_ON_ONCE(bytes > INT_MAX): {0} bytes"),
    R.MIGRATE_UNBALANCED: Entry(Kind.WARN, CORE, "migrate_enable", "WARN_ON_ONCE(p->migration_disabled <= 0)"),
    R.SMP_PROCESSOR_ID: Entry(Kind.BUG, "lib/smp_processor_id.c", "check_preemption_disabled",
                              "caller is smp_processor_id()"),
    R.SPIN_RECURSION: Entry(Kind.BUG, "kernel/locking/spinlock_debug.c", "spin_bug", "lock: {lock}"),
    R.SPIN_NOT_LOCKED: Entry(Kind.BUG, "kernel/locking/spinlock_debug.c", "spin_bug", "lock: {lock}"),
    R.SPIN_WRONG_OWNER: Entry(Kind.BUG, "kernel/locking/spinlock_debug.c", "spin_bug", "lock: {lock}"),
    R.PAGE_FAULT: Entry(Kind.OOPS, "arch/{arch}/mm/fault.c", "{fault_fn}", "{access} of an unmapped kernel address"),
    R.PKS_FAULT: Entry(Kind.OOPS, "arch/x86/mm/fault.c", "handle_page_fault",
                       "protection key violation on {page} (memremap.pks_fault_mode=strict)"),
    R.PKS_RELAXED: Entry(Kind.WARN, "mm/memremap.c", "pgmap_pks_fault_callback",
                         "WARN_ONCE(1, \"Page map protection being disabled\")"),
    R.BAD_PAGE: Entry(Kind.OOPS, "include/linux/mm.h", "page_to_pfn", "{0:#x} is not a struct page of this scenario"),
    R.DIVIDE: Entry(Kind.OOPS, "arch/{arch}/kernel/traps.c", "do_error_trap", "division by zero"),
    R.SCENARIO_BUG_ON: Entry(Kind.BUG, "", "", "BUG_ON({text})"),
    R.SCENARIO_WARN: Entry(Kind.WARN, "", "", "{which}({text})"),
    R.ASSERT: Entry(Kind.ASSERT, "", "", "assert({text})"),
    R.DEADLOCK_WAIT: Entry(Kind.DEADLOCK, CORE, "check_hung_task", "{comm}:{pid} sleeps on pkmap_map_wait in kmap_high()"),
    R.DEADLOCK_SPIN: Entry(Kind.DEADLOCK, "kernel/watchdog.c", "watchdog_timer_fn", "{comm}:{pid} spins on {lock}"),
    R.DATA_LOSS: Entry(Kind.DATA_LOSS, "", "{f}", "{page}[{0}..{1}]"),
    R.STALE_READ: Entry(Kind.STALE_READ, "", "", "{page}[{0}] read {1:#04x}, newest value {2:#04x}"),
    R.DEVICE_STALE_READ: Entry(Kind.STALE_READ, "", "device_read", "{page}[{0}] read {1:#04x} from RAM, newest value "
                               "{2:#04x} is still in a dirty cache line"),
    R.USE_AFTER_UNMAP: Entry(Kind.USE_AFTER_UNMAP, "", "", "{access} of {0:#x} ({page}) after its mapping was released"),
    R.FOREIGN_KMAP_LOCAL: Entry(Kind.USE_AFTER_UNMAP, "", "", "{access} of {0:#x}: a kmap_local address of {owner}, "
                                "valid only in the context that mapped it"),
    R.KMAP_TO_PAGE_PKMAP: Entry(Kind.WARN, HM, "__kmap_to_page",
                                "WARN_ON_ONCE(addr >= PKMAP_ADDR(0) && addr < PKMAP_ADDR(LAST_PKMAP))"),
    R.KMAP_TO_PAGE_LOCAL: Entry(Kind.WARN, HM, "__kmap_to_page",
                                "WARN_ON_ONCE(base >= __fix_to_virt(FIX_KMAP_END) && base < __fix_to_virt(FIX_KMAP_BEGIN))"),
    R.DMA_BAD_DIR: Entry(Kind.BUG, "kernel/dma/mapping.c", "dma_map_page_attrs",
                         "BUG_ON(!valid_dma_direction(dir)): dir {0}"),
    R.HIGHMEM_VM_BUG: Entry(Kind.BUG, "include/linux/highmem.h", "{f}", "VM_BUG_ON(offset + len > PAGE_SIZE)"),
    R.PAGE_NOT_HIGHMEM: Entry(Kind.BUG, HM, "{f}",
                              "pkmap_count[PKMAP_NR(vaddr)] of the lowmem page {page} is out of bounds"),
    R.BAD_PFN: Entry(Kind.OOPS, HM, "__kmap_local_pfn_prot", "pfn {0:#x} is not a page of this scenario"),
    R.PERCPU_RANGE: Entry(Kind.OOPS, "include/linux/percpu-defs.h", "per_cpu", "cpu {0} >= nr_cpu_ids {1}"),
    R.IRQ_PANIC: Entry(Kind.BUG, "kernel/panic.c", "panic", "Fatal exception in interrupt"),
    R.LOCK_HELD_RETURN: Entry(Kind.WARN, "kernel/locking/lockdep.c", "lockdep_sys_exit",
                              "{comm}/{pid} is leaving the kernel with locks still held!\n"
                              "1 lock held by {comm}/{pid}: {lock}"),
    R.LIVELOCK: Entry(Kind.DEADLOCK, "", "", "{who} {how}"),
    R.STARVED: Entry(Kind.DEADLOCK, "", "", "{who} is runnable but {how}"),
    R.SOFT_LOCKUP: Entry(Kind.DEADLOCK, "kernel/watchdog.c", "watchdog_timer_fn",
                         "{who} keeps cpu{cpu} without scheduling: {why}"),
    R.HARD_LOCKUP: Entry(Kind.DEADLOCK, "kernel/watchdog_hld.c", "watchdog_overflow_callback",
                         "{who} keeps cpu{cpu} with interrupts disabled{why}"),
    R.DEVICE_RANGE: Entry(Kind.ASSERT, "", "{f}", "bytes {0}..{1} are outside the {2}-byte page {page}"),
    R.DEADLOCK_IRQ: Entry(Kind.DEADLOCK, "", "", "irq {comm} can never fire: cpu{0} never enables interrupts"),
    R.IRQ_RESTORE_BOGUS: Entry(Kind.WARN, "kernel/locking/irqflag-debug.c", "warn_bogus_irq_restore",
                               "WARN_ONCE(1, \"raw_local_irq_restore() called with IRQs enabled\")"),
    R.RCU_VOLUNTARY_SWITCH: Entry(Kind.WARN, "kernel/rcu/tree_plugin.h", "rcu_note_context_switch",
                                  "WARN_ONCE(!preempt && rcu_preempt_depth() > 0, \"Voluntary context "
                                  "switch within RCU read-side critical section!\")"),
    R.SOFTIRQ_COUNT: Entry(Kind.BUG, "kernel/softirq.c", "handle_softirqs",
                           "pr_err(): the handler changed the count; preempt_count_set({1:08x})"),
    R.BH_ENABLE_HARDIRQ: Entry(Kind.WARN, "kernel/softirq.c", "__local_bh_enable_ip",
                               "WARN_ON_ONCE(in_hardirq())"),
    R.SOFTIRQ_WRONG_CPU: Entry(Kind.ASSERT, "", "raise_softirq",
                               "the model runs softirq {softirq} on cpu{1} only: raise it there"),
    R.DEADLOCK_SOFTIRQ: Entry(Kind.DEADLOCK, "", "", "softirq {comm} stays pending on cpu{0}"),
    R.MUTEX_WRONG_OWNER: Entry(Kind.WARN, "kernel/locking/mutex.c", "__mutex_unlock_slowpath",
                               "DEBUG_LOCKS_WARN_ON(__owner_task(owner) != current): {lock}"),
    R.DEADLOCK_MUTEX: Entry(Kind.DEADLOCK, CORE, "check_hung_task",
                            "{comm}:{pid} sleeps on {lock} in mutex_lock()"),
    R.SLAB_LIMIT: Entry(Kind.ASSERT, "", "{f}",
                        "the model's kmalloc objects are one page ({1} bytes) each and it has {0}: "
                        "{2} bytes asked, {3} allocated"),
    R.ZERO_USER_BUG: Entry(Kind.BUG, HM, "zero_user_segments",
                           "BUG_ON(end1 > page_size(page) || end2 > page_size(page)): end1 {0}, end2 {1}"),
    R.KFREE_BAD: Entry(Kind.ASSERT, "", "kfree",
                       "{0:#x} is no object kmalloc() returned, or was freed already: the model "
                       "does not follow SLUB further"),
    R.STACK_OVERFLOW: Entry(Kind.OOPS, "", "", "{overflow}"),
    R.IRQ_HANDLER_ENABLED_IRQS: Entry(Kind.WARN, "kernel/irq/handle.c", "__handle_irq_event_percpu",
                                      "WARN_ONCE(!irqs_disabled(), \"irq %u handler %pS enabled "
                                      "interrupts\"): handler {handler}"),
}

# Functions used with the {f} placeholder, passed as args[-1] index here.
FUNCS = ("kmap", "kunmap", "__kmap_local_sched_out", "__kmap_local_sched_in",
         "dma_map_page", "dma_unmap_page", "dma_sync_single_for_cpu",
         "dma_sync_single_for_device", "flush_all_zero_pkmaps", "kunmap_local_indexed",
         "memcpy_to_page", "memcpy_from_page", "memzero_page", "memcpy_page",
         "kmap_high_get", "kunmap_high", "cond_resched", "copy_from_user",
         "copy_to_user", "spin_lock", "might_sleep", "kmap_atomic", "msleep",
         "schedule", "flush_cache_all", "flush_dcache_page", "__kmap_local_pfn_prot",
         "kunmap_atomic", "device_write", "device_read", "mutex_lock", "kmalloc",
         "kzalloc", "mutex_lock_interruptible", "clear_highpage", "zero_user_segments",
         "kmap_local_folio", "kmap_atomic_pfn", "kmap_atomic_prot",
         "__copy_from_user_inatomic", "__copy_to_user_inatomic", "might_alloc")
FUNC_INDEX = {f: i for i, f in enumerate(FUNCS)}

# Extra arg conventions per code: the names of trailing args.
ACCESS = ("read", "write")


def kind_of(code: int) -> Kind:
    return CATALOGUE[R(code)].kind


def comm(program: Program, state: State, ctx: int) -> tuple[str, int]:
    """(comm, pid) of a task or idle context, as the kernel prints `current`.

    ksoftirqd/N gets the PIDs after the scenario's tasks (a kernel numbers
    its kthreads at boot; the model has no others)."""
    n = len(program.contexts)
    if ctx >= n + program.config.NR_CPUS:
        cpu = ctx - n - program.config.NR_CPUS
        return f"ksoftirqd/{cpu}", sum(not c.is_irq for c in program.contexts) + 1 + cpu
    if ctx >= n:
        return f"swapper/{ctx - n}", 0
    info = program.contexts[ctx]
    return info.name, info.pid


def _fmt(program: Program, state: State, rep: Report, template: str) -> str:
    c, pid = comm(program, state, rep.cur)
    args = list(rep.args)
    extra: dict[str, object] = {"pid": pid, "comm": c, "arch": "x86" if program.config.ARCH.startswith("x86") else "arm"}
    code = R(rep.code)
    if code == R.MIGHT_SLEEP:
        # __might_resched() prints the RCU line only under CONFIG_PREEMPT_RCU
        extra["rcu"] = (f"\nRCU nest depth: {args[3]}, expected: {args[4]}"
                        if program.config.PREEMPT_RCU else "")
    if code in (R.MIGHT_SLEEP, R.SCHED_GUARD, R.SCHED_PTE_NONE, R.DATA_LOSS, R.HIGHMEM_VM_BUG,
                R.PAGE_NOT_HIGHMEM, R.DEVICE_RANGE):
        extra["f"] = FUNCS[args[-1]]
    if code in (R.KUNMAP_HIGH_NOT_MAPPED, R.KUNMAP_HIGH_ZERO, R.STALE_READ, R.DEVICE_STALE_READ,
                R.USE_AFTER_UNMAP, R.PKS_FAULT, R.DATA_LOSS, R.PAGE_NOT_HIGHMEM):
        extra["page"] = page_name(program, args[-2] if code in (R.DATA_LOSS, R.PAGE_NOT_HIGHMEM) else args[-1])
    if code == R.DEVICE_RANGE:
        extra["page"] = page_name(program, args[-2])
    if code in (R.SPIN_RECURSION, R.SPIN_NOT_LOCKED, R.SPIN_WRONG_OWNER, R.DEADLOCK_SPIN,
                R.LOCK_HELD_RETURN, R.MUTEX_WRONG_OWNER, R.DEADLOCK_MUTEX):
        extra["lock"] = program.locks[args[0]] if args[0] >= 0 else "rcu_read_lock"
    if code == R.SOFTIRQ_WRONG_CPU:
        extra["softirq"] = program.contexts[args[0]].name
    if code == R.SLAB_LIMIT:
        extra["f"] = FUNCS[args[-1]]
    if code in (R.PAGE_FAULT, R.USE_AFTER_UNMAP, R.FOREIGN_KMAP_LOCAL):
        extra["access"] = ACCESS[args[1]]
        extra["fault_fn"] = ("page_fault_oops" if program.config.ARCH.startswith("x86")
                             else "__do_kernel_fault")
    if code == R.FOREIGN_KMAP_LOCAL:
        extra["owner"] = comm(program, state, args[2])[0]
    if code in (R.LIVELOCK, R.STARVED, R.SOFT_LOCKUP, R.HARD_LOCKUP):
        extra["who"] = _who(program, rep.ctx, c, pid)
        extra["cpu"] = rep.cpu
    if code in (R.SOFT_LOCKUP, R.HARD_LOCKUP):
        extra["why"] = _why_stuck(program, rep)
    if code in (R.LIVELOCK, R.STARVED):
        extra["how"] = _how_stuck(program, rep)
    if code == R.SCENARIO_WARN:
        extra["which"] = ("WARN_ON", "WARN_ON_ONCE")[args[0]]
    if code in (R.SCENARIO_BUG_ON, R.SCENARIO_WARN, R.ASSERT):
        extra["text"] = check_text(program, rep)
    if code == R.IRQ_HANDLER_ENABLED_IRQS:
        extra["handler"] = program.contexts[rep.ctx].name
    if code == R.STACK_OVERFLOW:
        extra["overflow"] = STACK_OVERFLOW[program.config.ARCH]
    return template.format(*args, **extra)


# What each arch does when a call overflows the kernel stack (THREAD_SIZE;
# CONFIG_VMAP_STACK puts a guard page below it where the arch has one).
STACK_OVERFLOW = {
    "x86_64": "the guard page below the 16 KiB stack is hit: handle_stack_overflow() "
              "(arch/x86/kernel/traps.c) prints \"BUG: task stack guard page was hit\" "
              "and dies",
    "arm": "the guard page below the 8 KiB stack is hit: handle_bad_stack() "
           "(arch/arm/kernel/traps.c) prints \"Insufficient stack space to handle "
           "exception!\" and dies (\"kernel stack overflow\")",
    "x86": "x86-32 has no VMAP_STACK: the 8 KiB stack overflows into whatever lies below "
           "it, and the kernel goes on with memory corrupted",
}


def _who(program: Program, ctx: int, comm_: str, pid: int) -> str:
    info = program.contexts[ctx]
    if info.is_irq:
        return f"{'softirq' if info.is_softirq else 'irq'} {info.name}"
    return f"{comm_}:{pid}"


# runtime/kernel/watchdog.py's WHY_* codes, in words
WHY_STUCK = ("preemption is disabled (preempt_count is not 0)",
             "CONFIG_PREEMPTION=n and the loop has no preemption point",
             "an irq handler that never returns",
             "interrupts are disabled",
             "preemption or interrupts are disabled wherever it could be preempted")


def _how_stuck(program: Program, rep: Report) -> str:
    """What a stuck context does where no detector fires (runtime/kernel/watchdog.py)."""
    if R(rep.code) == R.STARVED:
        return f"never runs again on cpu{rep.args[0]}" if rep.args[1] else \
            f"no CPU ever runs it (cpu{rep.args[0]} is never given up)"
    how, lock = rep.args[0], rep.args[1]
    name = program.locks[lock] if lock >= 0 else ""
    arch = program.config.ARCH
    return (f"runs on in a loop no execution leaves",
            f"loops with interrupts disabled ({arch} has no hard-lockup detector in v6.1)",
            f"spins on {name} with interrupts disabled ({arch} has no hard-lockup detector "
            "in v6.1)",
            f"sleeps on {name} for ever (PREEMPT_RT: an rtmutex; the hung-task detector does "
            "not watch TASK_RTLOCK_WAIT)",
            "sleeps on pkmap_map_wait in kmap_high() for ever; khungtaskd never runs: no CPU "
            "ever schedules",
            f"sleeps on {name} in mutex_lock() for ever; khungtaskd never runs: no CPU "
            "ever schedules")[how]


def _why_stuck(program: Program, rep: Report) -> str:
    if R(rep.code) == R.HARD_LOCKUP:   # args: (why, the lock spun on or -1)
        return f", spinning on {program.locks[rep.args[1]]}" if rep.args[1] >= 0 else ""
    return WHY_STUCK[rep.args[0]]


def check_text(program: Program, rep: Report) -> str:
    from kmap_scenarios.runtime.kernel.program import Branch, Call, Check
    code = program.contexts[rep.ctx].code if rep.ctx < len(program.contexts) else ()
    if 0 <= rep.pc < len(code):
        ins = code[rep.pc]
        if isinstance(ins, Check):
            return ins.text
        if isinstance(ins, (Call, Branch)):
            return source_line(program, ins.loc.line)
    return "?"


def page_name(program: Program, page: int) -> str:
    return program.pages[page].name if 0 <= page < len(program.pages) else f"page#{page}"


def headline(program: Program, state: State, rep: Report) -> str:
    """The kernel's first line for this report."""
    code = R(rep.code)
    e = CATALOGUE[code]
    c, pid = comm(program, state, rep.cur)
    where = f"{program.path}:{_line(program, rep)}"
    func = _fmt(program, state, rep, e.func)
    if code == R.MIGHT_SLEEP:
        return f"BUG: sleeping function called from invalid context at {_sleep_site(program, rep, func)}"
    if code == R.SCHED_ATOMIC:
        return f"BUG: scheduling while atomic: {c}/{pid}/0x{rep.args[0]:08x}"
    if code == R.SMP_PROCESSOR_ID:
        return f"BUG: using smp_processor_id() in preemptible [{rep.args[0]:08x}] code: {c}/{pid}"
    if code in (R.SPIN_RECURSION, R.SPIN_NOT_LOCKED, R.SPIN_WRONG_OWNER):
        what = {R.SPIN_RECURSION: "spinlock recursion", R.SPIN_NOT_LOCKED: "spinlock already unlocked",
                R.SPIN_WRONG_OWNER: "spinlock wrong owner"}[code]
        return f"BUG: {what} on CPU#{rep.cpu}, {c}/{pid}"
    if code == R.LOCK_HELD_RETURN:
        return "WARNING: lock held when returning to user space!"
    if code == R.PAGE_FAULT:
        if program.config.ARCH.startswith("x86"):
            return f"BUG: unable to handle page fault for address: {rep.args[0]:08x}"
        return f"Unable to handle kernel paging request at virtual address {rep.args[0]:08x}"
    if code == R.PKS_FAULT:
        return f"BUG: unable to handle page fault for address: {rep.args[0]:016x}"
    if code == R.BAD_PAGE:
        return f"BUG: unable to handle page fault for address: {rep.args[0]:08x}"
    if code == R.DIVIDE:
        return "divide error: 0000 [#1]" if program.config.ARCH.startswith("x86") else \
            "Internal error: Oops - undefined instruction: 0 [#1]"
    if code == R.IRQ_PANIC:
        return "Kernel panic - not syncing: Fatal exception in interrupt"
    if code == R.DEADLOCK_WAIT:
        return f"INFO: task {c}:{pid} blocked for more than 120 seconds."
    if code == R.DEADLOCK_SPIN:
        return f"watchdog: BUG: soft lockup - CPU#{rep.cpu} stuck for 22s! [{c}:{pid}]"
    if code in (R.LIVELOCK, R.STARVED):
        if program.contexts[rep.ctx].is_irq:
            return f"DEADLOCK: {_who(program, rep.ctx, c, pid)} never returns"
        if code == R.STARVED and not rep.args[1]:
            return f"DEADLOCK: {c}:{pid} never runs"
        return f"DEADLOCK: {c}:{pid} never returns to user space"
    if code == R.SOFT_LOCKUP:
        return f"watchdog: BUG: soft lockup - CPU#{rep.cpu} stuck for 22s! [{c}:{pid}]"
    if code == R.HARD_LOCKUP:
        return f"NMI watchdog: Watchdog detected hard LOCKUP on cpu {rep.cpu}"
    if code == R.DEADLOCK_IRQ:
        return f"DEADLOCK: irq {program.contexts[rep.ctx].name} never fires"
    if code == R.DEADLOCK_SOFTIRQ:
        return f"DEADLOCK: softirq {program.contexts[rep.ctx].name} never runs"
    if code == R.DEADLOCK_MUTEX:
        return f"INFO: task {c}:{pid} blocked for more than 120 seconds."
    if code == R.SOFTIRQ_COUNT:
        return (f"huh, entered softirq {rep.args[0]} {program.contexts[rep.args[3]].name} "
                f"{program.contexts[rep.args[3]].name} with preempt_count {rep.args[1]:08x}, "
                f"exited with {rep.args[2]:08x}?")
    if code == R.SOFTIRQ_WRONG_CPU:
        return f"ASSERT: {where}: raise_softirq() on cpu{rep.cpu}"
    if code == R.SLAB_LIMIT:
        return f"ASSERT: {where}: {func}() beyond the model's arena"
    if code == R.KFREE_BAD:
        return f"ASSERT: {where}: kfree() of an address the model did not allocate"
    if code == R.ZERO_USER_BUG:
        where_bug = HM if program.config.CONFIG_HIGHMEM else "include/linux/highmem.h"
        return f"kernel BUG at {where_bug}:zero_user_segments!"
    if code == R.PERCPU_RANGE:
        return f"BUG: unable to handle page fault for address: per_cpu({rep.args[0]})"
    if code == R.SCENARIO_BUG_ON:
        return f"kernel BUG at {where}!"
    if code == R.SCENARIO_WARN:
        return f"WARNING: CPU: {rep.cpu} PID: {pid} at {where} {function_name(program, rep)}"
    if code == R.STACK_OVERFLOW:
        return (f"kernel stack overflow: {program.functions[rep.args[0]].name}() called "
                f"{rep.args[1]} calls deep (the model's bound is {MAX_CALL_DEPTH})")
    if code == R.ASSERT:
        return f"ASSERT: {where}: assert({check_text(program, rep)}) failed"
    if code == R.DEVICE_RANGE:
        return f"ASSERT: {where}: {func}() outside the page"
    if e.kind == Kind.BUG:
        return f"kernel BUG at {e.file}:{func}!"
    if e.kind == Kind.WARN:
        return f"WARNING: CPU: {rep.cpu} PID: {pid} at {func} ({e.file})"
    if e.kind == Kind.DATA_LOSS:
        return f"DATA_LOSS: {func} discarded a dirty cache line holding the newest data"
    if e.kind == Kind.STALE_READ:
        return "STALE_READ: " + ("the device read stale data" if code == R.DEVICE_STALE_READ
                                 else "a load returned a stale value")
    if e.kind == Kind.USE_AFTER_UNMAP:
        return "USE_AFTER_UNMAP: " + ("access through a released mapping" if code == R.USE_AFTER_UNMAP
                                      else "access through another context's kmap_local address")
    return f"{e.kind.name}: {func}"


# Where __might_sleep()'s __FILE__ points for each caller: the inline
# wrappers' header, the user-copy header, the RT spinlock, or the scenario's
# own line for its might_sleep()/cond_resched().
SLEEP_SITES = {"kmap": HMI, "kunmap": HMI, "copy_from_user": "include/linux/uaccess.h",
               "copy_to_user": "include/linux/uaccess.h",
               "spin_lock": "kernel/locking/spinlock_rt.c",
               "mutex_lock": "kernel/locking/mutex.c",
               "kmalloc": "include/linux/sched/mm.h", "kzalloc": "include/linux/sched/mm.h",
               "might_alloc": "include/linux/sched/mm.h"}


def _sleep_site(program: Program, rep: Report, func: str) -> str:
    site = SLEEP_SITES.get(func)
    if site is None:
        return f"{program.path}:{_line(program, rep)}"
    return f"{site} ({func})"


def _line(program: Program, rep: Report) -> int:
    if rep.ctx < len(program.contexts):
        code = program.contexts[rep.ctx].code
        if 0 <= rep.pc < len(code):
            return code[rep.pc].loc.line
    return 0


def render(program: Program, state: State, rep: Report) -> str:
    """The whole report: kernel headline, the check, and the scenario place."""
    code = R(rep.code)
    e = CATALOGUE[code]
    lines = []
    if e.kind == Kind.WARN and code != R.LOCK_HELD_RETURN:
        lines.append("------------[ cut here ]------------")
    lines.append(headline(program, state, rep))
    detail = _fmt(program, state, rep, e.check)
    if code not in (R.ASSERT,) and detail:
        lines.extend(detail.split("\n"))
    lines.append(where(program, state, rep))
    return "\n".join(lines)


def source_line(program: Program, line: int) -> str:
    """A source line without its trailing // comment."""
    if not 0 < line <= len(program.source_lines):
        return ""
    text = program.source_lines[line - 1]
    cut = text.find("//")
    if cut >= 0 and text.count('"', 0, cut) % 2 == 0:
        text = text[:cut]
    return text.strip()


def label(program: Program, state: State, rep: Report) -> str:
    """'KIND: headline', without repeating a kind the headline starts with."""
    kind = kind_of(rep.code).name
    head = headline(program, state, rep)
    return head if head.startswith(kind + ":") else f"{kind}: {head}"


def function_name(program: Program, rep: Report) -> str:
    """The function a report was raised in: the scenario function, or the
    task or irq when it is in its body."""
    if rep.ctx < len(program.contexts):
        info = program.contexts[rep.ctx]
        f = info.function_at(rep.pc)
        return program.functions[f].name if f >= 0 else info.name
    return f"swapper/{rep.ctx - len(program.contexts)}"


# A report inside a deep recursion lists the innermost and outermost calls.
CHAIN_SHOWN = 8


def where(program: Program, state: State, rep: Report) -> str:
    """'in dma on cpu0 at file:12: <source line>'; inside a function, one
    line per call from the innermost out, as a kernel splat's call trace:
    'in my_copy_chunk() at file:12: ...' then 'called from dma on cpu0
    at file:30: ...'."""
    n = len(program.contexts)
    who = program.contexts[rep.ctx].name if rep.ctx < n else f"swapper/{rep.ctx - n}"
    pcs = list(reversed((*rep.chain, rep.pc)))   # innermost first
    lines = []
    for depth, pc in enumerate(pcs):
        if len(pcs) > 2 * CHAIN_SHOWN and depth == CHAIN_SHOWN:
            lines.append(f"  ... {len(pcs) - 2 * CHAIN_SHOWN} more calls ...")
        if len(pcs) > 2 * CHAIN_SHOWN and CHAIN_SHOWN <= depth < len(pcs) - CHAIN_SHOWN:
            continue
        line = _line(program, rep._replace(pc=pc))
        src = source_line(program, line)
        at = f" at {program.path}:{line}: {src}" if line else ""
        word = "in" if depth == 0 else "called from"
        if depth < len(pcs) - 1:
            f = program.contexts[rep.ctx].function_at(pc) if rep.ctx < n else -1
            name = program.functions[f].name if f >= 0 else who
            lines.append(f"  {word} {name}(){at}")
        else:
            lines.append(f"  {word} {who} on cpu{rep.cpu}{at}")
    return "\n".join(lines)

