"""The lowered program's expressions and built-in calls as kernel C.

Every value is an ``s64``: the model evaluates expressions on
mathematical integers and narrows only on a store (docs/language.md
section 4), and a 32-bit kernel's addresses fit in 64 bits. Division and
shifts go through kmap_runtime.h's helpers (``km_div``: C's truncation,
and the CPU's own divide error for a zero divisor; ``km_shl``: the count
modulo 64). A built-in becomes the kernel's own call (``BUILTIN_C``);
where the scenario's meaning needs more (kmap()'s count of users, the
flags of spin_lock_irqsave without a local) a small helper of
kmap_runtime.h wraps it. What has no kernel call a module may use is
refused by dsl/kmod/refuse.py, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kmap_scenarios.runtime.kernel import program as ir


class Untranslated(Exception):
    """A construct the generator has no C for (refuse.py words the reason)."""


@dataclass(frozen=True)
class Names:
    """How the scenario's objects are spelled in the module."""

    percpu: tuple[str, ...]      # percpu index -> C name of its DEFINE_PER_CPU
    locals_of: str = "r->L"      # a body's locals; expectations use km_run[i].L
    # softirq context index -> (its vector among the scenario's, its CPU)
    softirqs: tuple[tuple[int, int, int], ...] = ()
    # the model's user addresses [lo, hi]: constants there are user pages'
    user: tuple[int, int] | None = None


def c_int(v: int) -> str:
    """A C literal of the model's integer (s64)."""
    if -(1 << 31) <= v < (1 << 31):
        return str(v) if v >= 0 else f"({v})"
    return f"{v:#x}LL" if v >= 0 else f"(-{-v:#x}LL)"


def narrow(width: int, signed: bool) -> str:
    """The C cast that keeps a local's type, as the model's store does."""
    c = {(1, False): "bool", (1, True): "bool", (8, False): "u8", (8, True): "s8",
         (16, False): "u16", (16, True): "s16", (32, False): "u32", (32, True): "s32",
         (64, False): "u64", (64, True): "s64",
         # the lowering's hidden locals (a call's value moved ahead of its
         # statement) keep any value: the module's values are s64 already
         (128, True): "s64"}.get((width, signed))
    if c is None:
        raise Untranslated(f"a {width}-bit {'signed' if signed else 'unsigned'} type has no C translation yet")
    return c


SIMPLE_OPS = frozenset({"*", "+", "-", "&", "^", "|", "<", "<=", ">", ">=", "==", "!=",
                        "&&", "||"})


class CExpr:
    """Translate IR expressions of one body (or of the expectations)."""

    def __init__(self, names: Names, task_local: Callable[[int, int], str] | None = None) -> None:
        self.names = names
        self.task_local = task_local

    def expr(self, e: ir.Expr) -> str:
        if isinstance(e, ir.Const):
            user = self.names.user
            if user is not None and user[0] <= e.value <= user[1]:
                # a user page's model address (dsl/lower writes its name in a
                # __user position as one): the module's mapping instead
                return f"km_uaddr({c_int(e.value - user[0])})"
            return c_int(e.value)
        if isinstance(e, ir.Local):
            return f"{self.names.locals_of}[{e.slot}]"
        if isinstance(e, ir.Global):
            return f"(s64)km_g[{e.index}]"
        if isinstance(e, ir.PageRef):
            return f"(s64)(unsigned long)km_page[{e.page}]"
        if isinstance(e, ir.PageElem):
            return f"km_pelem({e.first}, {e.count}, {self.expr(e.index)})"
        if isinstance(e, ir.LoadByte):
            return f"km_ld({self.expr(e.addr)})"
        if isinstance(e, ir.TaskLocal) and self.task_local is not None:
            return self.task_local(e.ctx, e.slot)
        if isinstance(e, ir.PageMem):
            return f"km_page_byte({self.expr(e.page)}, {self.expr(e.offset)})"
        if isinstance(e, ir.Unary):
            return f"({e.op}{self.expr(e.operand)})"
        if isinstance(e, ir.Binary):
            return self.binary(e)
        if isinstance(e, ir.CallExpr):
            return self.call(e.name, e.args)
        if isinstance(e, ir.Cond):
            return f"({self.expr(e.cond)} ? {self.expr(e.then)} : {self.expr(e.orelse)})"
        if isinstance(e, ir.Conv):
            return f"(s64)({narrow(e.width, e.signed)})({self.expr(e.operand)})"
        raise Untranslated(f"the expression {type(e).__name__} has no C translation yet")

    def binary(self, e: ir.Binary) -> str:
        a, b = self.expr(e.left), self.expr(e.right)
        if e.op in SIMPLE_OPS:
            return f"({a} {e.op} {b})"
        helper = {"/": "km_div", "%": "km_mod", "<<": "km_shl", ">>": "km_shr"}.get(e.op)
        if helper is None:
            raise Untranslated(f"the operator `{e.op}` has no C translation yet")
        return f"{helper}({a}, {b})"

    def page(self, e: ir.Expr) -> str:
        """A page argument as a struct page pointer."""
        if isinstance(e, ir.PageRef):
            return f"km_page[{e.page}]"
        return f"KM_PG({self.expr(e)})"

    def percpu(self, e: ir.Expr) -> str:
        assert isinstance(e, ir.PercpuVar)
        return self.names.percpu[e.index]

    def lock(self, e: ir.Expr) -> str:
        assert isinstance(e, ir.LockArg)
        return f"&km_lock[{e.index}]"

    def mutex(self, e: ir.Expr) -> str:
        assert isinstance(e, ir.LockArg)
        return f"&km_mutex[{e.index}]"

    def raise_softirq(self, e: ir.Expr) -> str:
        assert isinstance(e, ir.Const)
        for ctx, vec, cpu in self.names.softirqs:
            if ctx == e.value:
                return f"km_raise({ctx}, {vec}, {cpu})"
        raise Untranslated(f"no softirq of context {e.value}")

    def call(self, name: str, args: tuple[ir.Expr, ...]) -> str:
        """A built-in call as a C expression (void ones as a statement's
        expression); Untranslated for a built-in with no kernel call."""
        make = BUILTIN_C.get(name)
        if make is None:
            raise Untranslated(REFUSED_BUILTINS.get(
                name, f"the built-in `{name}` has no kernel translation yet"))
        return make(self, args)


def _v(c: CExpr, e: ir.Expr) -> str:
    return c.expr(e)


def _addr(v: str) -> str:
    return f"(s64)(unsigned long)({v})"


# name -> C, the kernel's own call wherever there is one (v6.1 headers).
B = Callable[[CExpr, tuple[ir.Expr, ...]], str]
BUILTIN_C: dict[str, B] = {
    # mapping: include/linux/highmem-internal.h, highmem.h
    "kmap": lambda c, a: f"km_kmap({c.page(a[0])})",
    "kunmap": lambda c, a: f"km_kunmap({c.page(a[0])})",
    "kmap_atomic": lambda c, a: _addr(f"kmap_atomic({c.page(a[0])})"),
    "kunmap_atomic": lambda c, a: f"kunmap_atomic(KM_VA({_v(c, a[0])}))",
    "kmap_local_page": lambda c, a: _addr(f"kmap_local_page({c.page(a[0])})"),
    "kmap_local_page_prot": lambda c, a: _addr(f"kmap_local_page_prot({c.page(a[0])}, PAGE_KERNEL)"),
    "kmap_local_pfn": lambda c, a: _addr(f"kmap_local_pfn((unsigned long){_v(c, a[0])})"),
    "kunmap_local": lambda c, a: f"kunmap_local(KM_VA({_v(c, a[0])}))",
    "kunmap_high": lambda c, a: f"km_kunmap_high({c.page(a[0])})",
    "page_address": lambda c, a: _addr(f"page_address({c.page(a[0])})"),
    "kmap_to_page": lambda c, a: _addr(f"kmap_to_page(KM_VA({_v(c, a[0])}))"),
    "page_to_pfn": lambda c, a: f"(s64)page_to_pfn({c.page(a[0])})",
    "PageHighMem": lambda c, a: f"(s64)!!PageHighMem({c.page(a[0])})",
    "memcpy_to_page": lambda c, a: (f"memcpy_to_page({c.page(a[0])}, (size_t){_v(c, a[1])}, "
                                    f"(const char *)KM_VA({_v(c, a[2])}), (size_t){_v(c, a[3])})"),
    "memcpy_from_page": lambda c, a: (f"memcpy_from_page((char *)KM_VA({_v(c, a[0])}), "
                                      f"{c.page(a[1])}, (size_t){_v(c, a[2])}, (size_t){_v(c, a[3])})"),
    "memzero_page": lambda c, a: (f"memzero_page({c.page(a[0])}, (size_t){_v(c, a[1])}, "
                                  f"(size_t){_v(c, a[2])})"),
    "memcpy_page": lambda c, a: (f"memcpy_page({c.page(a[0])}, (size_t){_v(c, a[1])}, "
                                 f"{c.page(a[2])}, (size_t){_v(c, a[3])}, (size_t){_v(c, a[4])})"),
    "kmap_atomic_pfn": lambda c, a: _addr(f"kmap_atomic_pfn((unsigned long){_v(c, a[0])})"),
    "kmap_atomic_prot": lambda c, a: _addr(f"kmap_atomic_prot({c.page(a[0])}, PAGE_KERNEL)"),
    # folios: a scenario's pages are order 0, each its own folio
    "page_folio": lambda c, a: _addr(f"page_folio({c.page(a[0])})"),
    "folio_page": lambda c, a: _addr(f"folio_page(KM_FOLIO({_v(c, a[0])}), (unsigned long){_v(c, a[1])})"),
    "kmap_local_folio": lambda c, a: _addr(f"kmap_local_folio(KM_FOLIO({_v(c, a[0])}), "
                                           f"(size_t){_v(c, a[1])})"),
    "clear_highpage": lambda c, a: f"clear_highpage({c.page(a[0])})",
    "zero_user_segments": lambda c, a: (f"zero_user_segments({c.page(a[0])}, (unsigned int){_v(c, a[1])}, "
                                        f"(unsigned int){_v(c, a[2])}, (unsigned int){_v(c, a[3])}, "
                                        f"(unsigned int){_v(c, a[4])})"),
    "zero_user_segment": lambda c, a: (f"zero_user_segment({c.page(a[0])}, (unsigned int){_v(c, a[1])}, "
                                       f"(unsigned int){_v(c, a[2])})"),
    "zero_user": lambda c, a: (f"zero_user({c.page(a[0])}, (unsigned int){_v(c, a[1])}, "
                               f"(unsigned int){_v(c, a[2])})"),
    # context
    "preempt_disable": lambda c, a: "preempt_disable()",
    "preempt_enable": lambda c, a: "preempt_enable()",
    "migrate_disable": lambda c, a: "migrate_disable()",
    "migrate_enable": lambda c, a: "migrate_enable()",
    "pagefault_disable": lambda c, a: "pagefault_disable()",
    "pagefault_enable": lambda c, a: "pagefault_enable()",
    "local_irq_disable": lambda c, a: "local_irq_disable()",
    "local_irq_enable": lambda c, a: "local_irq_enable()",
    "spin_lock": lambda c, a: f"spin_lock({c.lock(a[0])})",
    "spin_unlock": lambda c, a: f"spin_unlock({c.lock(a[0])})",
    "spin_lock_irqsave": lambda c, a: f"km_irqsave(r, {c.lock(a[0])})",
    "spin_unlock_irqrestore": lambda c, a: (
        f"km_irqrestore(r, {c.lock(a[0])}, {'true' if len(a) > 1 else 'false'}, "
        f"{_v(c, a[1]) if len(a) > 1 else '0'})"),
    "spin_lock_irq": lambda c, a: f"spin_lock_irq({c.lock(a[0])})",
    "spin_unlock_irq": lambda c, a: f"spin_unlock_irq({c.lock(a[0])})",
    "spin_lock_bh": lambda c, a: f"spin_lock_bh({c.lock(a[0])})",
    "spin_unlock_bh": lambda c, a: f"spin_unlock_bh({c.lock(a[0])})",
    # the flags local is the Call's dest (dsl/lower SAVES_FLAGS)
    "local_irq_save": lambda c, a: "km_irq_save()",
    "local_irq_restore": lambda c, a: f"local_irq_restore((unsigned long){_v(c, a[0])})",
    "local_save_flags": lambda c, a: "km_save_flags()",
    "local_bh_disable": lambda c, a: "local_bh_disable()",
    "local_bh_enable": lambda c, a: "local_bh_enable()",
    "raise_softirq": lambda c, a: c.raise_softirq(a[0]),
    "raise_softirq_irqoff": lambda c, a: c.raise_softirq(a[0]),
    "rcu_read_lock": lambda c, a: "rcu_read_lock()",
    "rcu_read_unlock": lambda c, a: "rcu_read_unlock()",
    "rcu_preempt_depth": lambda c, a: "(s64)rcu_preempt_depth()",
    "mutex_lock": lambda c, a: f"mutex_lock({c.mutex(a[0])})",
    "mutex_unlock": lambda c, a: f"mutex_unlock({c.mutex(a[0])})",
    "mutex_trylock": lambda c, a: f"(s64)mutex_trylock({c.mutex(a[0])})",
    "mutex_is_locked": lambda c, a: f"(s64)mutex_is_locked({c.mutex(a[0])})",
    # allocation: include/linux/slab.h, sched/mm.h
    "might_alloc": lambda c, a: f"might_alloc((__force gfp_t)(unsigned int){_v(c, a[0])})",
    "kmalloc": lambda c, a: f"km_kmalloc({_v(c, a[0])}, {_v(c, a[1])}, false)",
    "kzalloc": lambda c, a: f"km_kmalloc({_v(c, a[0])}, {_v(c, a[1])}, true)",
    "kfree": lambda c, a: f"km_kfree({_v(c, a[0])})",
    # user space: the loader's address space (kmap_runtime.h, user pages)
    "copy_from_user": lambda c, a: (f"(s64)copy_from_user(KM_VA({_v(c, a[0])}), "
                                    f"(const void __user *)KM_VA({_v(c, a[1])}), "
                                    f"(unsigned long){_v(c, a[2])})"),
    "copy_to_user": lambda c, a: (f"(s64)copy_to_user((void __user *)KM_VA({_v(c, a[0])}), "
                                  f"KM_VA({_v(c, a[1])}), (unsigned long){_v(c, a[2])})"),
    "__copy_from_user_inatomic": lambda c, a: (
        f"(s64)__copy_from_user_inatomic(KM_VA({_v(c, a[0])}), "
        f"(const void __user *)KM_VA({_v(c, a[1])}), (unsigned long){_v(c, a[2])})"),
    "__copy_to_user_inatomic": lambda c, a: (
        f"(s64)__copy_to_user_inatomic((void __user *)KM_VA({_v(c, a[0])}), "
        f"KM_VA({_v(c, a[1])}), (unsigned long){_v(c, a[2])})"),
    # the device's own accesses to RAM (x86: coherent; kmap_runtime.h)
    "device_write": lambda c, a: (f"km_device_write(r, {c.page(a[0])}, {_v(c, a[1])}, "
                                  f"{_v(c, a[2])}, {_v(c, a[3])})"),
    "device_read": lambda c, a: f"km_device_read(r, {c.page(a[0])}, {_v(c, a[1])})",
    "might_sleep": lambda c, a: "might_sleep()",
    "schedule": lambda c, a: "schedule()",
    "cond_resched": lambda c, a: "cond_resched()",
    "msleep": lambda c, a: f"msleep((unsigned int){_v(c, a[0])})",
    "preempt_point": lambda c, a: "(void)0",   # a step boundary: km_step() may yield there
    "smp_processor_id": lambda c, a: "(s64)smp_processor_id()",
    "raw_smp_processor_id": lambda c, a: "(s64)raw_smp_processor_id()",
    "get_cpu": lambda c, a: "(s64)get_cpu()",
    "put_cpu": lambda c, a: "put_cpu()",
    "this_cpu_read": lambda c, a: f"(s64)this_cpu_read({c.percpu(a[0])})",
    "this_cpu_write": lambda c, a: f"this_cpu_write({c.percpu(a[0])}, (long){_v(c, a[1])})",
    "this_cpu_inc": lambda c, a: f"this_cpu_inc({c.percpu(a[0])})",
    "this_cpu_dec": lambda c, a: f"this_cpu_dec({c.percpu(a[0])})",
    "this_cpu_add": lambda c, a: f"this_cpu_add({c.percpu(a[0])}, (long){_v(c, a[1])})",
    "per_cpu": lambda c, a: f"km_per_cpu(&{c.percpu(a[0])}, {_v(c, a[1])})",
    # memory and cache (x86: physically tagged, both flushes are no-ops)
    "memset": lambda c, a: f"memset(KM_VA({_v(c, a[0])}), (int){_v(c, a[1])}, (size_t){_v(c, a[2])})",
    "memcpy": lambda c, a: (f"memcpy(KM_VA({_v(c, a[0])}), KM_VA({_v(c, a[1])}), "
                            f"(size_t){_v(c, a[2])})"),
    "flush_dcache_page": lambda c, a: f"flush_dcache_page({c.page(a[0])})",
    "flush_cache_all": lambda c, a: "flush_cache_all()",
    # introspection
    "preempt_count": lambda c, a: "(s64)preempt_count()",
    "in_atomic": lambda c, a: "(s64)!!in_atomic()",
    "in_interrupt": lambda c, a: "(s64)in_interrupt()",      # the mask, as the kernel's
    "in_irq": lambda c, a: "(s64)in_hardirq()",
    "in_hardirq": lambda c, a: "(s64)in_hardirq()",
    "in_softirq": lambda c, a: "(s64)in_softirq()",
    "in_serving_softirq": lambda c, a: "(s64)in_serving_softirq()",
    "in_task": lambda c, a: "(s64)!!in_task()",
    "irqs_disabled": lambda c, a: "(s64)!!irqs_disabled()",
    "pagefault_disabled": lambda c, a: "(s64)!!pagefault_disabled()",
    "pkmap_count": lambda c, a: f"km_pkmap_count({c.page(a[0])})",
    "kmap_local_idx": lambda c, a: "km_kmap_local_idx()",
    # checks used as values
    "WARN_ON": lambda c, a: f"(s64)WARN_ON({_v(c, a[0])})",
    # The ordering vocabulary (include/asm-generic/barrier.h, rwonce.h,
    # arch/x86/include/asm/vdso/processor.h): the kernel's own. READ_ONCE
    # and WRITE_ONCE are lowered to a load and a store (the globals are
    # volatile); min/max compare as s64, the model's integers.
    "cpu_relax": lambda c, a: "cpu_relax()",
    "barrier": lambda c, a: "barrier()",
    "smp_mb": lambda c, a: "smp_mb()",
    "smp_rmb": lambda c, a: "smp_rmb()",
    "smp_wmb": lambda c, a: "smp_wmb()",
    "likely": lambda c, a: f"(s64)!!likely({_v(c, a[0])})",
    "unlikely": lambda c, a: f"(s64)!!unlikely({_v(c, a[0])})",
    "min": lambda c, a: f"min_t(s64, {_v(c, a[0])}, {_v(c, a[1])})",
    "max": lambda c, a: f"max_t(s64, {_v(c, a[0])}, {_v(c, a[1])})",
    "min_t": lambda c, a: f"min_t(s64, {_v(c, a[0])}, {_v(c, a[1])})",
    "max_t": lambda c, a: f"max_t(s64, {_v(c, a[0])}, {_v(c, a[1])})",
    "WARN_ON_ONCE": lambda c, a: f"(s64)WARN_ON_ONCE({_v(c, a[0])})",
}

# Expectations read what the tasks left behind (runtime/search/expect.py's
# LEFT_BEHIND): recorded by each task as it returns.
LEFT_BEHIND_C = {
    "preempt_count": "KM_LEFT(end_preempt)",
    "in_atomic": "(s64)(KM_LEFT(end_preempt) != 0)",
    "pagefault_disabled": "(s64)(KM_LEFT(end_pagefault) != 0)",
    "kmap_local_idx": "KM_LEFT(end_kmap_idx)",
    "irqs_disabled": "(s64)(KM_LEFT(end_irqs) != 0)",
}

DEVICE = ("needs a device: the DMA API maps for a struct device, and the test "
          "machine has none to hand pages to")
REFUSED_BUILTINS = {
    "kmap_flush_unused": ("`kmap_flush_unused()` is not exported to modules "
                          "(__kmap_flush_unused has no EXPORT_SYMBOL in mm/highmem.c)"),
    "kmap_high_get": "`kmap_high_get()` exists only on ARM (ARCH_NEEDS_KMAP_HIGH_GET)",
    "dma_map_page": f"`dma_map_page()` {DEVICE}",
    "dma_unmap_page": f"`dma_unmap_page()` {DEVICE}",
    "dma_sync_single_for_cpu": f"`dma_sync_single_for_cpu()` {DEVICE}",
    "dma_sync_single_for_device": f"`dma_sync_single_for_device()` {DEVICE}",
}
