"""Kconfig-style options, ARCH presets and the kernel's own refusals.

Presets come from the arch headers (docs/kernel-semantics.md §1.3, §2):
x86 (32-bit): arch/x86/include/asm/pgtable_32_areas.h (LAST_PKMAP 1024,
non-PAE), fixmap.h; arm: arch/arm/include/asm/highmem.h (PKMAP_BASE =
PAGE_OFFSET - PMD_SIZE, LAST_PKMAP = PTRS_PER_PTE = 512,
ARCH_NEEDS_KMAP_HIGH_GET defined by default), fixmap.h (FIXADDR_END
0xfff00000); include/asm-generic/kmap_size.h (KM_MAX_IDX 16, 33 with
CONFIG_DEBUG_KMAP_LOCAL). The preemption default is kernel/Kconfig.preempt's
`default PREEMPT_NONE`, so CONFIG_PREEMPTION defaults to n.

Model choices (docs/model.md): FIX_KMAP_BEGIN is fixmap index 1 on every
arch (index 0 stands for the permanent fixmap entries below it); pfns of
lowmem, highmem and devmap pages start at fixed bases per arch.
"""

from __future__ import annotations

from dataclasses import dataclass

ARCHES = ("x86", "x86_64", "arm")
CACHES = ("vivt", "vipt", "pipt", "none")
FAULT_MODES = ("relaxed", "strict")

BOOL_KEYS = ("CONFIG_HIGHMEM", "CONFIG_PREEMPTION", "CONFIG_PREEMPT_RT",
             "CONFIG_DEBUG_PREEMPT", "CONFIG_DEBUG_KMAP_LOCAL", "CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP",
             "CONFIG_DEVMAP_ACCESS_PROTECTION", "ARCH_NEEDS_KMAP_HIGH_GET",
             "DMA_COHERENT")
INT_KEYS = ("NR_CPUS", "LAST_PKMAP", "KM_MAX_IDX", "PAGE_SIZE", "L1_CACHE_BYTES")
NAME_KEYS = {"ARCH": ARCHES, "CACHE": CACHES, "PKS_FAULT_MODE": FAULT_MODES}
KEYS = ("ARCH",) + INT_KEYS[:1] + BOOL_KEYS + INT_KEYS[1:] + ("CACHE", "PKS_FAULT_MODE")

MAX_CPUS = 8


@dataclass(frozen=True, slots=True)
class ArchPreset:
    name: str
    bits: int
    highmem: bool            # CONFIG_HIGHMEM default
    highmem_possible: bool
    last_pkmap: int
    l1_cache_bytes: int
    cache: str
    dma_coherent: bool
    needs_kmap_high_get: bool
    page_offset: int
    pkmap_base: int          # 0 where there is no pkmap window
    fixaddr_end: int         # FIXADDR_TOP = fixaddr_end - PAGE_SIZE
    pte_array_linear: bool   # kmap_get_pte(): linear __kmap_pte[-idx] array
    has_pks: bool            # ARCH_HAS_SUPERVISOR_PKEYS
    force_map_ok: bool       # ARCH_SUPPORTS_KMAP_LOCAL_FORCE_MAP
    mem_map_base: int        # struct page array (vmemmap / mem_map)
    lowmem_pfn_base: int
    highmem_pfn_base: int
    devmap_pfn_base: int
    user_base: int           # first user page's user-space address


PRESETS: dict[str, ArchPreset] = {
    "x86": ArchPreset(
        name="x86", bits=32, highmem=True, highmem_possible=True,
        last_pkmap=1024, l1_cache_bytes=64, cache="pipt", dma_coherent=True,
        needs_kmap_high_get=False, page_offset=0xC0000000,
        pkmap_base=0xFF800000, fixaddr_end=0x100000000,
        pte_array_linear=True, has_pks=False, force_map_ok=True,
        mem_map_base=0xF5800000, lowmem_pfn_base=0x100,
        highmem_pfn_base=0x38000, devmap_pfn_base=0x30000,
        user_base=0x08048000),
    "x86_64": ArchPreset(
        name="x86_64", bits=64, highmem=False, highmem_possible=False,
        last_pkmap=0, l1_cache_bytes=64, cache="pipt", dma_coherent=True,
        needs_kmap_high_get=False, page_offset=0xFFFF888000000000,
        pkmap_base=0, fixaddr_end=0xFFFFFFFFFF600000,
        pte_array_linear=True, has_pks=True, force_map_ok=True,
        mem_map_base=0xFFFFEA0000000000, lowmem_pfn_base=0x100,
        highmem_pfn_base=0x100000, devmap_pfn_base=0x800000,
        user_base=0x00400000),
    "arm": ArchPreset(
        name="arm", bits=32, highmem=True, highmem_possible=True,
        last_pkmap=512, l1_cache_bytes=32, cache="vivt", dma_coherent=False,
        needs_kmap_high_get=True, page_offset=0xC0000000,
        pkmap_base=0xBFE00000, fixaddr_end=0xFFF00000,
        pte_array_linear=False, has_pks=False, force_map_ok=False,
        mem_map_base=0xEF000000, lowmem_pfn_base=0x60000,
        highmem_pfn_base=0x90000, devmap_pfn_base=0x80000,
        user_base=0x00010000),
}

DEFAULT_ARCH = "x86"
FIX_KMAP_BEGIN = 1
STRUCT_PAGE_SIZE = 32


@dataclass(frozen=True, slots=True)
class Config:
    """The resolved configuration of one scenario."""

    ARCH: str
    NR_CPUS: int
    CONFIG_HIGHMEM: bool
    CONFIG_PREEMPTION: bool
    CONFIG_PREEMPT_RT: bool
    CONFIG_DEBUG_PREEMPT: bool
    CONFIG_DEBUG_KMAP_LOCAL: bool
    CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP: bool
    CONFIG_DEVMAP_ACCESS_PROTECTION: bool
    ARCH_NEEDS_KMAP_HIGH_GET: bool
    LAST_PKMAP: int
    KM_MAX_IDX: int
    PAGE_SIZE: int
    L1_CACHE_BYTES: int
    CACHE: str
    DMA_COHERENT: bool
    PKS_FAULT_MODE: str

    @property
    def preset(self) -> ArchPreset:
        return PRESETS[self.ARCH]

    @property
    def km_incr(self) -> int:
        """KM_INCR of mm/highmem.c: 2 with DEBUG_KMAP_LOCAL (guard slots)."""
        return 2 if self.CONFIG_DEBUG_KMAP_LOCAL else 1

    @property
    def PREEMPT_RCU(self) -> bool:
        """kernel/rcu/Kconfig: PREEMPT_RCU has no prompt, `default y if
        PREEMPTION`: the preemption model decides it."""
        return self.CONFIG_PREEMPTION

    @property
    def preempt_count_mask(self) -> int:
        """What preempt_count() can hold: x86 keeps PREEMPT_NEED_RESCHED
        folded into bit 31 of __preempt_count and masks it out
        (arch/x86/include/asm/preempt.h), the generic count is a plain int
        (include/asm-generic/preempt.h). Only an underflow, unchecked
        without DEBUG_PREEMPT, reaches the top bits."""
        return 0x7FFFFFFF if self.ARCH.startswith("x86") else 0xFFFFFFFF

    @property
    def word_mask(self) -> int:
        return (1 << self.preset.bits) - 1

    @property
    def fixaddr_top(self) -> int:
        return self.preset.fixaddr_end - self.PAGE_SIZE

    def fix_to_virt(self, idx: int) -> int:
        """__fix_to_virt(): a larger fixmap index is a lower address."""
        return self.fixaddr_top - idx * self.PAGE_SIZE

    def kmap_local_vaddr(self, cpu: int, slot: int) -> int:
        """kmap_local_calc_idx + __fix_to_virt(FIX_KMAP_BEGIN + idx)."""
        return self.fix_to_virt(FIX_KMAP_BEGIN + slot + self.KM_MAX_IDX * cpu)

    @property
    def pkmap_end(self) -> int:
        return self.preset.pkmap_base + self.LAST_PKMAP * self.PAGE_SIZE

    def pkmap_addr(self, nr: int) -> int:
        """PKMAP_ADDR(nr)."""
        return self.preset.pkmap_base + nr * self.PAGE_SIZE

    @property
    def uses_cache(self) -> bool:
        """Whether the data cache can be observed at all.

        A physically tagged cache that DMA snoops behaves exactly like no
        cache, so the model skips it (the x86 default)."""
        if self.CACHE == "none":
            return False
        return not (self.DMA_COHERENT and self.CACHE in ("vipt", "pipt"))

    def int_value(self, name: str) -> int:
        return int(getattr(self, name))

    def describe(self) -> str:
        parts = []
        for key in KEYS:
            v = getattr(self, key)
            parts.append(f"{key}={'y' if v is True else 'n' if v is False else v}")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """A refused setting: the key to point at (None: the config block)."""

    key: str | None
    message: str
    hint: str = ""


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _check_value(key: str, value: int | str) -> ConfigProblem | None:
    if key in BOOL_KEYS:
        if value not in ("y", "n"):
            return ConfigProblem(key, f"{key} takes y or n, not {value}")
    elif key in NAME_KEYS:
        if value not in NAME_KEYS[key]:
            return ConfigProblem(key, f"{key} takes one of {', '.join(NAME_KEYS[key])}, not {value}")
    elif key in INT_KEYS:
        if not isinstance(value, int):
            return ConfigProblem(key, f"{key} takes an integer, not {value}")
        if key == "NR_CPUS" and not 1 <= value <= MAX_CPUS:
            return ConfigProblem(key, f"NR_CPUS must be 1..{MAX_CPUS}, not {value}")
        if key == "PAGE_SIZE" and not (_is_pow2(value) and 16 <= value <= 65536):
            return ConfigProblem(key, f"PAGE_SIZE must be a power of two from 16 to 65536, not {value}")
        if key == "L1_CACHE_BYTES" and not (_is_pow2(value) and 4 <= value <= 256):
            return ConfigProblem(key, f"L1_CACHE_BYTES must be a power of two from 4 to 256, not {value}")
        if key == "LAST_PKMAP" and not (_is_pow2(value) and value <= 1024):
            return ConfigProblem(key, f"LAST_PKMAP must be a power of two up to 1024 "
                                 f"(LAST_PKMAP_MASK = LAST_PKMAP - 1), not {value}")
        if key == "KM_MAX_IDX" and not 1 <= value <= 64:
            return ConfigProblem(key, f"KM_MAX_IDX must be 1..64, not {value}")
    return None


def check_value(key: str, value: int | str) -> ConfigProblem | None:
    """Whether one setting's value is acceptable on its own.

    The checker reports these as bad values (E302), apart from resolve()'s
    refusals of a combination (E303)."""
    return _check_value(key, value)


def resolve(settings: dict[str, int | str], min_cpus: int = 1) -> tuple[Config | None, list[ConfigProblem]]:
    """Apply ARCH defaults, then the settings; report every refusal.

    Unknown keys are reported by the checker (it has the spans for a
    did-you-mean); here they are ignored."""
    problems: list[ConfigProblem] = []
    for key, value in settings.items():
        if key in KEYS:
            p = _check_value(key, value)
            if p:
                problems.append(p)
    if problems:
        return None, problems
    arch = str(settings.get("ARCH", DEFAULT_ARCH))
    pre = PRESETS[arch]

    def flag(key: str, default: bool) -> bool:
        v = settings.get(key)
        return default if v is None else v == "y"

    def num(key: str, default: int) -> int:
        v = settings.get(key)
        return default if v is None else int(v)

    force = flag("CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP", False)
    # lib/Kconfig.debug: DEBUG_KMAP_LOCAL_FORCE_MAP selects DEBUG_KMAP_LOCAL.
    debug = flag("CONFIG_DEBUG_KMAP_LOCAL", force)
    rt = flag("CONFIG_PREEMPT_RT", False)
    # kernel/Kconfig.preempt: PREEMPT_RT selects PREEMPTION.
    preemption = flag("CONFIG_PREEMPTION", rt)
    # lib/Kconfig.debug: DEBUG_PREEMPT depends on PREEMPTION; on wherever
    # it can be, as the model's other debug options are.
    debug_preempt = flag("CONFIG_DEBUG_PREEMPT", preemption)
    page_size = num("PAGE_SIZE", 4096)
    cfg = Config(
        ARCH=arch,
        NR_CPUS=num("NR_CPUS", max(1, min_cpus)),
        CONFIG_HIGHMEM=flag("CONFIG_HIGHMEM", pre.highmem),
        CONFIG_PREEMPTION=preemption,
        CONFIG_PREEMPT_RT=rt,
        CONFIG_DEBUG_PREEMPT=debug_preempt,
        CONFIG_DEBUG_KMAP_LOCAL=debug,
        CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP=force,
        CONFIG_DEVMAP_ACCESS_PROTECTION=flag("CONFIG_DEVMAP_ACCESS_PROTECTION", False),
        ARCH_NEEDS_KMAP_HIGH_GET=flag("ARCH_NEEDS_KMAP_HIGH_GET", pre.needs_kmap_high_get),
        LAST_PKMAP=num("LAST_PKMAP", pre.last_pkmap),
        KM_MAX_IDX=num("KM_MAX_IDX", 33 if debug else 16),
        PAGE_SIZE=page_size,
        L1_CACHE_BYTES=num("L1_CACHE_BYTES", min(pre.l1_cache_bytes, page_size)),
        CACHE=str(settings.get("CACHE", pre.cache)),
        DMA_COHERENT=flag("DMA_COHERENT", pre.dma_coherent),
        PKS_FAULT_MODE=str(settings.get("PKS_FAULT_MODE", "relaxed")),
    )
    problems.extend(_refusals(cfg, settings))
    return (None if problems else cfg), problems


def _pkmap_window(cfg: Config, settings: dict[str, int | str]) -> list[ConfigProblem]:
    """The pkmap window, LAST_PKMAP pages from PKMAP_BASE, must fit where
    the arch puts it: on arm one page table below PAGE_OFFSET
    (arch/arm/include/asm/highmem.h: PKMAP_BASE = PAGE_OFFSET - PMD_SIZE,
    LAST_PKMAP = PTRS_PER_PTE), on x86 below the fixmap
    (arch/x86/include/asm/pgtable_32_areas.h). The model keeps PKMAP_BASE
    where the arch's 4 KiB pages put it, so a larger PAGE_SIZE or
    LAST_PKMAP would run the window into the direct map or the kmap_local
    slots."""
    pre = cfg.preset
    lowest_slot = cfg.kmap_local_vaddr(cfg.NR_CPUS - 1, cfg.KM_MAX_IDX - 1)
    if pre.pkmap_base < pre.page_offset:
        limit, what = pre.page_offset, f"PAGE_OFFSET ({pre.page_offset:#x}), into the direct map"
    else:
        limit, what = lowest_slot, f"the fixmap's kmap_local slots (the lowest at {lowest_slot:#x})"
    if cfg.pkmap_end <= limit:
        return []
    fits, n = 0, 1   # the largest power of two of pages that fits (0: none)
    while n <= 1024 and pre.pkmap_base + n * cfg.PAGE_SIZE <= limit:
        fits, n = n, 2 * n
    hint = f"with PAGE_SIZE = {cfg.PAGE_SIZE}, use LAST_PKMAP = {fits} or less" if fits else \
        (f"no LAST_PKMAP fits with PAGE_SIZE = {cfg.PAGE_SIZE}: lower PAGE_SIZE, "
         "NR_CPUS or KM_MAX_IDX")
    key = "PAGE_SIZE" if "PAGE_SIZE" in settings and "LAST_PKMAP" not in settings else "LAST_PKMAP"
    return [ConfigProblem(
        key, f"the pkmap window (LAST_PKMAP = {cfg.LAST_PKMAP} pages of {cfg.PAGE_SIZE} "
        f"bytes from PKMAP_BASE {pre.pkmap_base:#x}) runs past {what}", hint)]


def _refusals(cfg: Config, settings: dict[str, int | str]) -> list[ConfigProblem]:
    """Combinations the kernel refuses, with the kernel's reason."""
    out: list[ConfigProblem] = []
    pre = cfg.preset
    if cfg.CONFIG_HIGHMEM and not pre.highmem_possible:
        out.append(ConfigProblem(
            "CONFIG_HIGHMEM", "CONFIG_HIGHMEM=y is not possible on x86_64: arch/x86/Kconfig "
            "offers HIGHMEM4G/HIGHMEM64G only under X86_32 (64-bit kernels map all memory)",
            "use ARCH = x86 for a 32-bit kernel with highmem"))
    if cfg.CONFIG_DEVMAP_ACCESS_PROTECTION and cfg.CONFIG_HIGHMEM:
        out.append(ConfigProblem(
            "CONFIG_DEVMAP_ACCESS_PROTECTION", "DEVMAP_ACCESS_PROTECTION depends on !HIGHMEM "
            "(mm/Kconfig, PKS series V9 42/45: HIGHMEM support is mutually exclusive with "
            "PGMAP protection)", "set CONFIG_HIGHMEM = n (and ARCH = x86_64)"))
    elif cfg.CONFIG_DEVMAP_ACCESS_PROTECTION and not pre.has_pks:
        out.append(ConfigProblem(
            "CONFIG_DEVMAP_ACCESS_PROTECTION", "DEVMAP_ACCESS_PROTECTION depends on "
            f"ARCH_HAS_SUPERVISOR_PKEYS, which {cfg.ARCH} does not select (PKS is x86_64 only)",
            "use ARCH = x86_64"))
    if cfg.CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP and not pre.force_map_ok:
        out.append(ConfigProblem(
            "CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP", "DEBUG_KMAP_LOCAL_FORCE_MAP depends on "
            f"ARCH_SUPPORTS_KMAP_LOCAL_FORCE_MAP, which {cfg.ARCH} does not select "
            "(aliasing-cache arches cannot force lowmem through kmap_local)"))
    if cfg.CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP and settings.get("CONFIG_DEBUG_KMAP_LOCAL") == "n":
        out.append(ConfigProblem(
            "CONFIG_DEBUG_KMAP_LOCAL", "DEBUG_KMAP_LOCAL_FORCE_MAP selects DEBUG_KMAP_LOCAL "
            "(lib/Kconfig.debug), so it cannot be n"))
    if cfg.CONFIG_PREEMPT_RT and settings.get("CONFIG_PREEMPTION") == "n":
        out.append(ConfigProblem(
            "CONFIG_PREEMPTION", "PREEMPT_RT selects PREEMPTION (kernel/Kconfig.preempt), "
            "so it cannot be n"))
    if cfg.CONFIG_DEBUG_PREEMPT and not cfg.CONFIG_PREEMPTION:
        out.append(ConfigProblem(
            "CONFIG_DEBUG_PREEMPT", "DEBUG_PREEMPT depends on PREEMPTION (lib/Kconfig.debug): "
            "a non-preemptible kernel has the unchecked smp_processor_id() and "
            "preempt_count_sub()", "set CONFIG_PREEMPTION = y, or drop CONFIG_DEBUG_PREEMPT"))
    if cfg.ARCH_NEEDS_KMAP_HIGH_GET and cfg.ARCH != "arm":
        out.append(ConfigProblem(
            "ARCH_NEEDS_KMAP_HIGH_GET", "ARCH_NEEDS_KMAP_HIGH_GET is defined only by "
            "arch/arm/include/asm/highmem.h", "use ARCH = arm"))
    if cfg.ARCH.startswith("x86") and cfg.CACHE in ("vivt", "vipt"):
        out.append(ConfigProblem(
            "CACHE", f"x86 data caches are physically indexed and tagged; CACHE = {cfg.CACHE} "
            "does not exist there", "use CACHE = pipt or none, or ARCH = arm"))
    if cfg.ARCH.startswith("x86") and not cfg.DMA_COHERENT:
        out.append(ConfigProblem(
            "DMA_COHERENT", "x86 DMA snoops the CPU caches (arch/x86 has no "
            "ARCH_HAS_SYNC_DMA_FOR_DEVICE), so DMA_COHERENT = n does not exist there",
            "use ARCH = arm for non-coherent DMA"))
    if cfg.L1_CACHE_BYTES > cfg.PAGE_SIZE:
        out.append(ConfigProblem("L1_CACHE_BYTES", "L1_CACHE_BYTES cannot exceed PAGE_SIZE"))
    if cfg.CONFIG_HIGHMEM and pre.highmem_possible and cfg.LAST_PKMAP < 1:
        out.append(ConfigProblem("LAST_PKMAP", "CONFIG_HIGHMEM needs a pkmap pool (LAST_PKMAP >= 1)"))
    if cfg.CONFIG_HIGHMEM and pre.pkmap_base and cfg.LAST_PKMAP >= 1:
        out.extend(_pkmap_window(cfg, settings))
    if cfg.CONFIG_DEBUG_KMAP_LOCAL and cfg.KM_MAX_IDX < 2:
        out.append(ConfigProblem("KM_MAX_IDX", "with CONFIG_DEBUG_KMAP_LOCAL every mapping "
                                 "takes two slots: KM_MAX_IDX must be at least 2"))
    return out
