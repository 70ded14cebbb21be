"""Interrupt state: local_irq_save/restore, local_save_flags and the flags
value itself (include/linux/irqflags.h).

The flags are the arch's own word, modelled by the one bit that matters:
x86 saves EFLAGS, whose IF bit (X86_EFLAGS_IF, 0x200) is set when
interrupts were on (arch/x86/include/asm/irqflags.h); ARM saves the CPSR,
here its SVC mode bits 0x13 with PSR_I_BIT (0x80) set when interrupts were
off (arch/arm/include/asm/irqflags.h). Restoring differs too: x86's
arch_local_irq_restore() only ever enables (`if
(!arch_irqs_disabled_flags(flags)) arch_local_irq_enable()`), ARM's writes
the I bit back (`msr cpsr_c`). With CONFIG_DEBUG_IRQFLAGS (assumed on, as
the model's other debug options are) raw_local_irq_restore() first checks
that interrupts are off: raw_check_bogus_irq_restore() ->
warn_bogus_irq_restore() (kernel/locking/irqflag-debug.c).
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import preempt
from kmap_scenarios.runtime.kernel.handler import Handler, Result
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.tx import Tx

X86_EFLAGS_IF = 0x200
ARM_SVC_MODE = 0x13
ARM_PSR_I_BIT = 0x80


def save_flags(tx: Tx) -> int:
    """arch_local_save_flags(): the flags word for the current irq state."""
    off = tx.irqs_disabled()
    if tx.cfg.ARCH == "arm":
        return ARM_SVC_MODE | (ARM_PSR_I_BIT if off else 0)
    return 0 if off else X86_EFLAGS_IF


def irqs_disabled_flags(tx: Tx, flags: int) -> bool:
    """arch_irqs_disabled_flags()."""
    if tx.cfg.ARCH == "arm":
        return bool(flags & ARM_PSR_I_BIT)
    return not flags & X86_EFLAGS_IF


def local_irq_save(tx: Tx) -> int:
    """local_irq_save(): the flags, then interrupts off (one step: the
    save and the disable are one arch_local_irq_save())."""
    flags = save_flags(tx)
    preempt.local_irq_disable(tx)
    return flags


def local_irq_restore(tx: Tx, flags: int) -> None:
    """local_irq_restore() -> raw_local_irq_restore(): DEBUG_IRQFLAGS's
    check, then the arch's restore (x86 only enables; ARM sets the I bit
    as the flags say)."""
    if not tx.irqs_disabled():
        tx.warn_once(R.IRQ_RESTORE_BOGUS)
    disabled = irqs_disabled_flags(tx, flags)
    if tx.cfg.ARCH == "arm":
        tx.set_cpu(tx.cpu, irqs_off=disabled)
    elif not disabled:
        preempt.local_irq_enable(tx)


def _save(tx: Tx, argv: list[int] | None) -> Result:
    """local_irq_save(flags): the flags go to the caller's local."""
    return local_irq_save(tx)


def _restore(tx: Tx, argv: list[int] | None) -> Result:
    """local_irq_restore(flags)."""
    assert argv is not None
    local_irq_restore(tx, argv[0])
    return None


HANDLERS: dict[str, Handler] = {
    "local_irq_save": _save,
    "local_irq_restore": _restore,
    "local_save_flags": lambda tx, a: save_flags(tx),
}
