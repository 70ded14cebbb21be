"""What a real kernel cannot give a scenario, and what the generator does
not translate yet: every reason at once, each with what to do instead.

The module runs on the kernel bench/crosscheck.py builds: Debian's
linux-source-6.1 for i386 with HIGHMEM4G, SMP, PREEMPT and
DEBUG_KMAP_LOCAL (docs/kmod.md). A scenario selects that kernel by its
config: ARCH = x86 (the default), PAGE_SIZE = 4096 (the default),
CONFIG_PREEMPTION = y and CONFIG_DEBUG_KMAP_LOCAL = y; LAST_PKMAP is 1024
(the stock kernel) or a smaller power of two (a kernel with that one
#define patched, which the cross-check builds on demand).
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import program as ir
from kmap_scenarios.runtime.kernel.program import PageKind, Program

# the kernel the module is built against: see bench/kernel_build.py
KERNEL_PAGE_SIZE = 4096
KERNEL_KM_MAX_IDX = 33          # include/asm-generic/kmap_size.h with DEBUG_KMAP_LOCAL
KERNEL_NR_CPUS = 8              # CONFIG_NR_CPUS of the i386 build: one is the controller's
KNOWN_INSTRS = (ir.Set, ir.Call, ir.Branch, ir.Jump, ir.Check, ir.End, ir.CallFn, ir.Ret)


class Refused(Exception):
    """The scenario cannot become a module; ``reasons`` says why."""

    def __init__(self, path: str, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.path = path
        self.reasons = reasons

    def render(self) -> str:
        lines = [f"kmap kmod: {self.path}: cannot run on a real kernel:"]
        lines += [f"  - {r}" for r in self.reasons]
        return "\n".join(lines)


def config_reasons(p: Program) -> list[str]:
    """The configuration must be the test kernel's (docs/kmod.md)."""
    cfg = p.config
    out: list[str] = []
    if cfg.ARCH != "x86":
        what = {"arm": "ARM's VIVT cache and non-coherent DMA",
                "x86_64": "x86_64 (no highmem; PKS was never merged)"}.get(cfg.ARCH, cfg.ARCH)
        out.append(f"ARCH = {cfg.ARCH}: the module runs on the i386 test kernel only; {what} "
                   "cannot be reproduced there")
        return out
    if cfg.PAGE_SIZE != KERNEL_PAGE_SIZE:
        out.append(f"PAGE_SIZE = {cfg.PAGE_SIZE}: an i386 kernel's pages are 4096 bytes "
                   "(arch/x86/include/asm/page_types.h: PAGE_SHIFT 12); set PAGE_SIZE = 4096 "
                   "or leave it out")
    if not cfg.CONFIG_HIGHMEM:
        out.append("CONFIG_HIGHMEM = n: the test kernel is HIGHMEM4G")
    if cfg.CONFIG_PREEMPT_RT:
        out.append("CONFIG_PREEMPT_RT = y: the test kernel is PREEMPT, not PREEMPT_RT")
    elif not cfg.CONFIG_PREEMPTION:
        out.append("CONFIG_PREEMPTION = n: the test kernel is PREEMPT (it may preempt a task "
                   "at any statement the model would not); set CONFIG_PREEMPTION = y")
    if not cfg.CONFIG_DEBUG_KMAP_LOCAL:
        out.append("CONFIG_DEBUG_KMAP_LOCAL = n: the test kernel has DEBUG_KMAP_LOCAL "
                   "(guard slots, KM_MAX_IDX 33); set CONFIG_DEBUG_KMAP_LOCAL = y")
    if cfg.CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP:
        out.append("CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP = y: the test kernel does not force "
                   "lowmem through kmap_local")
    if cfg.CONFIG_DEBUG_KMAP_LOCAL and cfg.KM_MAX_IDX != KERNEL_KM_MAX_IDX:
        out.append(f"KM_MAX_IDX = {cfg.KM_MAX_IDX}: the kernel's is {KERNEL_KM_MAX_IDX} with "
                   "DEBUG_KMAP_LOCAL (include/asm-generic/kmap_size.h); leave it out")
    if cfg.NR_CPUS >= KERNEL_NR_CPUS:
        out.append(f"NR_CPUS = {cfg.NR_CPUS}: the test kernel has {KERNEL_NR_CPUS} CPUs and "
                   "the module's controller needs one of them")
    return out


def page_reasons(p: Program) -> list[str]:
    out: list[str] = []
    kinds = {info.kind for info in p.pages}
    if PageKind.DEVMAP in kinds:
        out.append("alloc_devmap_page(): a ZONE_DEVICE page needs a device, and its PKS "
                   "protection was never merged")
    return out


def instr_reasons(p: Program) -> list[str]:
    """Instructions of a kind this generator does not know (the language
    grows: a new kind is refused, never guessed), once per context."""
    out: list[str] = []
    for ctx in p.contexts:
        lines: dict[str, list[int]] = {}
        for ins in ctx.code:
            if not isinstance(ins, KNOWN_INSTRS):
                what = f"{type(ins).__name__} statements"
                lines.setdefault(what, []).append(getattr(getattr(ins, "loc", None), "line", 0))
        for what, at in lines.items():
            where = ", ".join(str(n) for n in sorted(set(at)))
            out.append(f"{ctx.name}: {what} (line{'s' if len(set(at)) > 1 else ''} {where}) "
                       "are not translated yet")
    return out
