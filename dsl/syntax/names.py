"""The single list of keywords, constants and built-in names of the language.

The Pygments lexer, the editor grammars and the REPL completer are derived
from this module; tests/test_names.py proves they agree with it and with the
runtime's handler table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

# Words with grammatical meaning. Kernel API names are NOT keywords: they are
# built-ins, so that a typo gets a did-you-mean rather than a syntax error.
KEYWORDS = (
    "scenario", "config", "page", "task", "irq", "softirq", "on", "percpu", "spinlock_t",
    "DEFINE_MUTEX", "schedule", "expect", "always", "sometimes", "never",
    "if", "else", "while", "for", "do", "switch", "case", "default", "break", "continue",
    "return", "goto", "static", "inline", "__always_inline", "noinline", "sizeof",
)

# Words of C declaration types, and their qualifiers.
TYPE_WORDS = ("void", "int", "u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64",
              "unsigned", "long", "short", "char", "bool", "size_t", "ssize_t", "dma_addr_t",
              "gfp_t", "pgoff_t", "loff_t", "struct", "mutex", "folio", "const", "__user")

QUANTIFIERS = ("always", "sometimes", "never")

# Report kinds usable as booleans in expectations (docs/language.md "Reports").
REPORT_KINDS = ("BUG", "WARN", "OOPS", "ASSERT", "DEADLOCK", "DATA_LOSS",
                "STALE_READ", "USE_AFTER_UNMAP")

# Kernel constants usable in expressions. Values are the kernel's
# (include/linux/dma-direction.h for DMA_*, include/linux/gfp_types.h of
# v6.1 for GFP_*: the allocators read __GFP_DIRECT_RECLAIM (0x400), whether
# they may sleep, and __GFP_HIGHMEM); PAGE_KERNEL is a token.
CONSTANTS: dict[str, int] = {
    "NULL": 0,
    "DMA_BIDIRECTIONAL": 0,
    "DMA_TO_DEVICE": 1,
    "DMA_FROM_DEVICE": 2,
    "GFP_KERNEL": 0x0CC0,
    "GFP_ATOMIC": 0x0A20,
    "GFP_NOWAIT": 0x0800,
    "GFP_NOIO": 0x0C00,
    "GFP_NOFS": 0x0C40,
    "__GFP_ZERO": 0x0100,
    "GFP_USER": 0x0CC0 | 0x100000,
    "GFP_HIGHUSER": 0x0CC0 | 0x100000 | 0x02,
    "GFP_HIGHUSER_MOVABLE": 0x0CC0 | 0x100000 | 0x02 | 0x08,
    "__GFP_HIGHMEM": 0x02,
    "PAGE_KERNEL": 0x163,
    "true": 1,
    "false": 0,
}
# errno values, the kernel's (include/uapi/asm-generic/errno-base.h, 1 to 34
# in order, and a few of include/uapi/asm-generic/errno.h); kernel functions
# return them negated: `return -EFAULT;`.
ERRNO: dict[str, int] = {
    **{name: value for value, name in enumerate((
        "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF",
        "ECHILD", "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST",
        "EXDEV", "ENODEV", "ENOTDIR", "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY",
        "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE", "EROFS", "EMLINK", "EPIPE", "EDOM",
        "ERANGE"), start=1)},
    "EDEADLK": 35, "ENAMETOOLONG": 36, "ENOSYS": 38, "ENODATA": 61, "EOVERFLOW": 75,
    "EOPNOTSUPP": 95, "ETIMEDOUT": 110,
}
CONSTANTS.update(ERRNO)
GFP_HIGHMEM_BIT = 0x02

# Integer config values usable as names in expressions.
CONFIG_NAMES = ("PAGE_SIZE", "LAST_PKMAP", "L1_CACHE_BYTES", "NR_CPUS",
                "KM_MAX_IDX")

# Arguments of alloc_user_page(...).
USER_PAGE_STATES = ("present", "not_present")

ALLOCATORS = ("alloc_page", "alloc_devmap_page", "alloc_user_page")


class Arg(Enum):
    """What a built-in's argument must be."""

    VALUE = "value"      # any integer expression (pointers included)
    PAGE = "page"        # an expression giving a struct page *
    LOCK = "lock"        # &NAME of a spinlock_t
    PERCPU = "percpu"    # NAME of a percpu int
    DIR = "dir"          # a DMA direction
    FLAGS = "flags"      # an optional local that receives/gives irq flags
    COND = "cond"        # a boolean condition
    TARGET = "target"    # something assignable: a local, a global, *p or p[i]
    USER = "user"        # a `__user` pointer: a user-space address, where a
                         # user page's name stands for its user address
    MUTEX = "mutex"      # &NAME of a struct mutex
    SOFTIRQ = "softirq"  # NAME of a softirq declaration (its vector)
    FOLIO = "folio"      # an expression giving a struct folio *


class Where(Enum):
    """Where a built-in may be called."""

    ANY = "any"              # anywhere in a task or irq expression
    STATEMENT = "statement"  # whole statement, declaration init or '=' RHS:
                             # it may block or be preempted part-way
    EXPECT = "expect"        # also usable in expectations (a final-state query)


@dataclass(frozen=True)
class Builtin:
    name: str
    args: tuple[Arg, ...]
    optional: int          # how many trailing args may be omitted
    returns: bool          # yields a value
    where: Where
    category: str
    summary: str


def _b(name: str, args: tuple[Arg, ...], returns: bool, where: Where,
       category: str, summary: str, optional: int = 0) -> Builtin:
    return Builtin(name, args, optional, returns, where, category, summary)


V, P, L, C, D, F, K, U, T = (Arg.VALUE, Arg.PAGE, Arg.LOCK, Arg.PERCPU, Arg.DIR,
                             Arg.FLAGS, Arg.COND, Arg.USER, Arg.TARGET)
M, S, FO = Arg.MUTEX, Arg.SOFTIRQ, Arg.FOLIO
ANY, STMT, EXP = Where.ANY, Where.STATEMENT, Where.EXPECT

BUILTINS: dict[str, Builtin] = {b.name: b for b in (
    # mapping
    _b("kmap", (P,), True, STMT, "mapping", "map a page in the pkmap pool (may sleep)"),
    _b("kunmap", (P,), False, ANY, "mapping", "release a kmap() mapping"),
    _b("kmap_atomic", (P,), True, ANY, "mapping", "kmap_local plus preempt and pagefault disable"),
    _b("kunmap_atomic", (V,), False, ANY, "mapping", "undo kmap_atomic"),
    _b("kmap_local_page", (P,), True, ANY, "mapping", "map a page in the task's kmap_local stack"),
    _b("kmap_local_page_prot", (P, V), True, ANY, "mapping", "kmap_local_page with a pgprot"),
    _b("kmap_local_pfn", (V,), True, ANY, "mapping", "map a raw pfn in the kmap_local stack"),
    _b("kunmap_local", (V,), False, ANY, "mapping", "unmap the top kmap_local mapping"),
    _b("kmap_high_get", (P,), True, ANY, "mapping", "pin an existing pkmap mapping (ARM)"),
    _b("kunmap_high", (P,), False, ANY, "mapping", "drop one pkmap reference"),
    _b("kmap_flush_unused", (), False, ANY, "mapping", "free all idle pkmap slots"),
    _b("page_address", (P,), True, EXP, "mapping", "the page's permanent kernel address or NULL"),
    _b("kmap_to_page", (V,), True, ANY, "mapping", "the page behind a kmap address"),
    _b("page_to_pfn", (P,), True, EXP, "mapping", "the page frame number"),
    _b("PageHighMem", (P,), True, EXP, "mapping", "1 if the page is in ZONE_HIGHMEM"),
    _b("memcpy_to_page", (P, V, V, V), False, ANY, "mapping", "memcpy_to_page(page, offset, from, len)"),
    _b("memcpy_from_page", (V, P, V, V), False, ANY, "mapping", "memcpy_from_page(to, page, offset, len)"),
    _b("memzero_page", (P, V, V), False, ANY, "mapping", "memzero_page(page, offset, len)"),
    _b("memcpy_page", (P, V, P, V, V), False, ANY, "mapping",
       "memcpy_page(dst_page, dst_off, src_page, src_off, len)"),
    _b("kmap_local_folio", (FO, V), True, ANY, "mapping",
       "kmap_local_folio(folio, offset): map the folio's page at offset"),
    _b("kmap_atomic_pfn", (V,), True, ANY, "mapping", "kmap_atomic of a raw pfn"),
    _b("kmap_atomic_prot", (P, V), True, ANY, "mapping", "kmap_atomic with a pgprot"),
    _b("page_folio", (P,), True, ANY, "mapping", "the folio of a page (a struct folio *)"),
    _b("folio_page", (FO, V), True, ANY, "mapping", "folio_page(folio, n): the folio's nth page"),
    _b("clear_highpage", (P,), False, ANY, "mapping", "zero a whole page through kmap_local"),
    _b("zero_user_segments", (P, V, V, V, V), False, ANY, "mapping",
       "zero_user_segments(page, start1, end1, start2, end2)"),
    _b("zero_user_segment", (P, V, V), False, ANY, "mapping",
       "zero_user_segment(page, start, end)"),
    _b("zero_user", (P, V, V), False, ANY, "mapping", "zero_user(page, start, size)"),
    # context
    _b("preempt_disable", (), False, ANY, "context", "preempt_count += 1"),
    _b("preempt_enable", (), False, ANY, "context", "preempt_count -= 1; a preemption point at 0"),
    _b("migrate_disable", (), False, ANY, "context", "pin the task to its CPU"),
    _b("migrate_enable", (), False, ANY, "context", "undo migrate_disable"),
    _b("pagefault_disable", (), False, ANY, "context", "make user faults fail at once"),
    _b("pagefault_enable", (), False, ANY, "context", "undo pagefault_disable"),
    _b("local_irq_disable", (), False, ANY, "context", "disable interrupts on this CPU"),
    _b("local_irq_enable", (), False, ANY, "context", "enable interrupts on this CPU"),
    _b("spin_lock", (L,), False, STMT, "context", "take a spinlock (spins while held)"),
    _b("spin_unlock", (L,), False, ANY, "context", "release a spinlock"),
    _b("spin_lock_irqsave", (L, F), False, STMT, "context", "disable irqs, save flags, take the lock",
       optional=1),
    _b("spin_unlock_irqrestore", (L, F), False, ANY, "context", "release the lock, restore irqs",
       optional=1),
    _b("spin_lock_irq", (L,), False, STMT, "context", "disable irqs, take the lock"),
    _b("spin_unlock_irq", (L,), False, ANY, "context", "release the lock, enable irqs"),
    _b("spin_lock_bh", (L,), False, STMT, "context", "disable bottom halves, take the lock"),
    _b("spin_unlock_bh", (L,), False, STMT, "context",
       "release the lock, enable bottom halves (may run softirqs)"),
    _b("local_irq_save", (F,), False, ANY, "context", "save the irq state in flags, disable irqs"),
    _b("local_irq_restore", (F,), False, ANY, "context", "restore the irq state saved in flags"),
    _b("local_save_flags", (F,), False, ANY, "context", "save the irq state in flags"),
    _b("local_bh_disable", (), False, ANY, "context", "disable bottom halves (softirqs)"),
    _b("local_bh_enable", (), False, STMT, "context",
       "enable bottom halves; runs pending softirqs"),
    _b("raise_softirq", (S,), False, ANY, "context", "mark a softirq pending on this CPU"),
    _b("raise_softirq_irqoff", (S,), False, ANY, "context",
       "raise_softirq with irqs already off"),
    _b("rcu_read_lock", (), False, ANY, "context", "enter an RCU read-side critical section"),
    _b("rcu_read_unlock", (), False, ANY, "context", "leave an RCU read-side critical section"),
    _b("mutex_lock", (M,), False, STMT, "context", "take a mutex (may sleep)"),
    _b("mutex_unlock", (M,), False, ANY, "context", "release a mutex"),
    _b("mutex_trylock", (M,), True, ANY, "context", "take a free mutex: 1, else 0"),
    _b("mutex_is_locked", (M,), True, ANY, "context", "1 if the mutex is held"),
    _b("might_sleep", (), False, ANY, "context", "the atomic-sleep debug check"),
    _b("schedule", (), False, STMT, "context", "give up the CPU"),
    _b("cond_resched", (), False, STMT, "context", "a voluntary preemption point"),
    _b("msleep", (V,), False, STMT, "context", "sleep (abstract time)"),
    _b("preempt_point", (), False, STMT, "context", "an explicit point where preemption may happen"),
    _b("smp_processor_id", (), True, ANY, "context", "the current CPU (checks DEBUG_PREEMPT)"),
    _b("raw_smp_processor_id", (), True, ANY, "context", "the current CPU, unchecked"),
    _b("get_cpu", (), True, ANY, "context", "preempt_disable and smp_processor_id"),
    _b("put_cpu", (), False, ANY, "context", "preempt_enable"),
    _b("this_cpu_read", (C,), True, ANY, "context", "read this CPU's copy"),
    _b("this_cpu_write", (C, V), False, ANY, "context", "write this CPU's copy"),
    _b("this_cpu_inc", (C,), False, ANY, "context", "increment this CPU's copy (irq-safe)"),
    _b("this_cpu_dec", (C,), False, ANY, "context", "decrement this CPU's copy (irq-safe)"),
    _b("this_cpu_add", (C, V), False, ANY, "context", "add to this CPU's copy (irq-safe)"),
    _b("per_cpu", (C, V), True, EXP, "context", "per_cpu(VAR, CPU): another CPU's copy"),
    # memory and cache
    _b("memset", (V, V, V), False, ANY, "memory", "memset(addr, byte, len)"),
    _b("memcpy", (V, V, V), False, ANY, "memory", "memcpy(dst, src, len)"),
    _b("flush_dcache_page", (P,), False, ANY, "memory", "write back the kernel alias of a page"),
    _b("flush_cache_all", (), False, ANY, "memory", "clean and invalidate the whole D-cache"),
    # DMA
    _b("dma_map_page", (P, D), True, STMT, "dma", "hand a page to the device (cache maintenance)"),
    _b("dma_unmap_page", (P, D), False, STMT, "dma", "take a page back from the device"),
    _b("dma_sync_single_for_cpu", (P, D), False, STMT, "dma", "give the CPU ownership"),
    _b("dma_sync_single_for_device", (P, D), False, STMT, "dma", "give the device ownership"),
    _b("device_write", (P, V, V, V), False, ANY, "dma", "device_write(page, offset, value, len) to RAM"),
    _b("device_read", (P, V), True, ANY, "dma", "device_read(page, offset) from RAM"),
    # allocation
    _b("might_alloc", (V,), False, ANY, "memory", "the allocators' check: may this GFP sleep?"),
    _b("kmalloc", (V, V), True, ANY, "memory", "kmalloc(size, gfp): a kernel object or NULL"),
    _b("kzalloc", (V, V), True, ANY, "memory", "kzalloc(size, gfp): a zeroed kernel object"),
    _b("kfree", (V,), False, ANY, "memory", "free a kmalloc object (NULL is fine)"),
    # user memory
    _b("copy_from_user", (V, U, V), True, STMT, "user", "copy_from_user(dst, user, len): bytes not copied"),
    _b("copy_to_user", (U, V, V), True, STMT, "user", "copy_to_user(user, src, len): bytes not copied"),
    _b("__copy_from_user_inatomic", (V, U, V), True, STMT, "user",
       "__copy_from_user_inatomic(dst, user, len): no might_fault, no zeroing"),
    _b("__copy_to_user_inatomic", (U, V, V), True, STMT, "user",
       "__copy_to_user_inatomic(user, src, len): no might_fault"),
    # introspection
    _b("preempt_count", (), True, EXP, "introspection", "the preemption counter"),
    _b("in_atomic", (), True, EXP, "introspection", "preempt_count() != 0"),
    _b("in_interrupt", (), True, ANY, "introspection",
       "irq_count(): hardirq, softirq or bh-disabled bits of preempt_count (raw)"),
    _b("in_softirq", (), True, ANY, "introspection", "softirq_count(): serving or bh-disabled (raw)"),
    _b("in_serving_softirq", (), True, ANY, "introspection", "SOFTIRQ_OFFSET while serving a softirq"),
    _b("in_irq", (), True, ANY, "introspection", "hardirq_count() (raw)"),
    _b("in_hardirq", (), True, ANY, "introspection", "hardirq_count() (raw)"),
    _b("in_task", (), True, ANY, "introspection", "1 in task context"),
    _b("rcu_preempt_depth", (), True, ANY, "introspection",
       "current's RCU read-side nesting under PREEMPT_RCU, else 0"),
    _b("irqs_disabled", (), True, EXP, "introspection", "interrupts are off on this CPU"),
    _b("pagefault_disabled", (), True, EXP, "introspection", "current->pagefault_disabled != 0"),
    _b("pkmap_count", (P,), True, EXP, "introspection", "pkmap_count[] of the page's slot, or 0"),
    _b("kmap_local_idx", (), True, EXP, "introspection",
       "kmap_local nesting depth: current->kmap_ctrl.idx / KM_INCR"),
    # checks
    _b("assert", (K,), False, ANY, "check", "a failed assert is an ASSERT report"),
    _b("BUG_ON", (K,), False, ANY, "check", "kernel BUG if the condition holds"),
    _b("WARN_ON", (K,), True, ANY, "check", "WARNING if the condition holds"),
    _b("WARN_ON_ONCE", (K,), True, ANY, "check", "WARNING the first time the condition holds"),
    # the compiler's and the CPU's ordering vocabulary (sequential consistency:
    # docs/model.md)
    _b("READ_ONCE", (V,), True, ANY, "compiler", "READ_ONCE(x): one load of x"),
    _b("WRITE_ONCE", (T, V), False, ANY, "compiler", "WRITE_ONCE(x, value): one store to x"),
    _b("likely", (K,), True, ANY, "compiler", "likely(cond): the condition as 1 or 0"),
    _b("unlikely", (K,), True, ANY, "compiler", "unlikely(cond): the condition as 1 or 0"),
    _b("barrier", (), False, ANY, "compiler", "a compiler barrier"),
    _b("cpu_relax", (), False, ANY, "compiler", "a pause in a spin-wait loop"),
    _b("smp_mb", (), False, ANY, "compiler", "a full memory barrier"),
    _b("smp_rmb", (), False, ANY, "compiler", "a read memory barrier"),
    _b("smp_wmb", (), False, ANY, "compiler", "a write memory barrier"),
    _b("min", (V, V), True, ANY, "compiler", "min(x, y): the smaller"),
    _b("max", (V, V), True, ANY, "compiler", "max(x, y): the larger"),
    _b("min_t", (V, V), True, ANY, "compiler", "min_t(type, x, y): the smaller, as type"),
    _b("max_t", (V, V), True, ANY, "compiler", "max_t(type, x, y): the larger, as type"),
)}

# Built-ins that name a model subsystem rather than a call, for completion.
ALL_NAMES = tuple(sorted(set(KEYWORDS) | set(TYPE_WORDS) | set(REPORT_KINDS)
                         | set(CONSTANTS) | set(CONFIG_NAMES) | set(BUILTINS)
                         | set(ALLOCATORS) | set(USER_PAGE_STATES)))


def arity_text(b: Builtin) -> str:
    """'2' or '1 or 2' for messages."""
    hi = len(b.args)
    lo = hi - b.optional
    return str(hi) if lo == hi else f"{lo} or {hi}"
