"""Interrupt state: local_irq_save/restore, spin_lock_irqsave/irqrestore and
spin_lock_irq/unlock_irq (include/linux/irqflags.h,
include/linux/spinlock_api_smp.h, arch/x86 and arch/arm irqflags.h), with
CONFIG_DEBUG_IRQFLAGS's check (kernel/locking/irqflag-debug.c)."""

from __future__ import annotations

from kmaptest import final, heads, local, texts

NESTED = """config { ARCH = %s; NR_CPUS = 1; %s }
spinlock_t L;
task t on cpu0 {
    unsigned long f1;
    unsigned long f2;
    local_irq_save(f1);
    local_irq_save(f2);
    local_irq_restore(f1);
    int mid = irqs_disabled();
    local_irq_restore(f2);
    int after = irqs_disabled();
}
"""
BOGUS = "WARNING: CPU: 0 PID: 1 at warn_bogus_irq_restore (kernel/locking/irqflag-debug.c)"


def test_flags_are_the_arch_word() -> None:
    """x86 saves EFLAGS (X86_EFLAGS_IF 0x200 when interrupts were on), ARM
    the CPSR (SVC mode 0x13, PSR_I_BIT 0x80 when they were off)."""
    p, s = final(NESTED % ("x86", ""))
    assert (local(p, s, "t", "f1"), local(p, s, "t", "f2")) == (0x200, 0)
    p, s = final(NESTED % ("arm", ""))
    assert (local(p, s, "t", "f1"), local(p, s, "t", "f2")) == (0x13, 0x93)


def test_restores_out_of_order_warn_and_differ_by_arch() -> None:
    """Restoring the outer flags first turns interrupts on; the inner
    restore then meets raw_check_bogus_irq_restore(): "raw_local_irq_restore()
    called with IRQs enabled". x86's arch_local_irq_restore() only ever
    enables, so interrupts stay on; ARM's writes the I bit back: off."""
    p, s = final(NESTED % ("x86", ""))
    assert local(p, s, "t", "mid") == 0 and local(p, s, "t", "after") == 0
    assert heads(p, s) == [BOGUS]
    assert 'WARN_ONCE(1, "raw_local_irq_restore() called with IRQs enabled")' in texts(p, s)[0]
    p, s = final(NESTED % ("arm", ""))
    assert local(p, s, "t", "mid") == 0 and local(p, s, "t", "after") == 1
    assert heads(p, s) == [BOGUS]


def test_in_order_restores_are_silent() -> None:
    p, s = final(NESTED.replace("local_irq_restore(f1);\n    int mid", "local_irq_restore(f2);\n    int mid")
                 .replace("local_irq_restore(f2);\n    int after", "local_irq_restore(f1);\n    int after")
                 % ("x86", ""))
    assert not s.reports
    assert local(p, s, "t", "mid") == 1 and local(p, s, "t", "after") == 0


def test_spin_lock_irq_disables_and_unlock_irq_enables_unconditionally() -> None:
    """spin_unlock_irq() is local_irq_enable(), whatever the state was:
    inside a local_irq_save() section it turns interrupts on."""
    p, s = final("""config { NR_CPUS = 1; }
spinlock_t L;
task t on cpu0 {
    unsigned long flags;
    local_irq_save(flags);
    spin_lock_irq(&L);
    int in_lock = irqs_disabled();
    int pc = preempt_count();
    spin_unlock_irq(&L);
    int after = irqs_disabled();
    local_irq_restore(flags);
}
""")
    assert (local(p, s, "t", "in_lock"), local(p, s, "t", "pc"), local(p, s, "t", "after")) == (1, 1, 0)
    assert heads(p, s) == [BOGUS]


def test_irqrestore_checks_too() -> None:
    """spin_unlock_irqrestore() goes through local_irq_restore()."""
    p, s = final("""config { NR_CPUS = 1; }
spinlock_t L;
task t on cpu0 {
    unsigned long flags;
    spin_lock_irqsave(&L, flags);
    local_irq_enable();
    spin_unlock_irqrestore(&L, flags);
}
""")
    assert heads(p, s) == [BOGUS]


def test_preempt_rt_irqsave_leaves_interrupts_alone() -> None:
    """include/linux/spinlock_rt.h: spin_lock_irqsave() sets flags to 0 and
    takes the sleeping lock; interrupts stay on; spin_lock_irq() likewise."""
    p, s = final("""config { NR_CPUS = 1; CONFIG_PREEMPT_RT = y; }
spinlock_t L;
task t on cpu0 {
    unsigned long flags = 7;
    spin_lock_irqsave(&L, flags);
    int off = irqs_disabled();
    spin_unlock_irqrestore(&L, flags);
    spin_lock_irq(&L);
    int off2 = irqs_disabled();
    spin_unlock_irq(&L);
}
""")
    assert not s.reports
    assert (local(p, s, "t", "flags"), local(p, s, "t", "off"), local(p, s, "t", "off2")) == (0, 0, 0)


IRQ_ENABLES = """config { NR_CPUS = 1; }
int seen;
task t on cpu0 {
    preempt_point();
}
irq h on cpu0 {
    local_irq_enable();
    seen = irqs_disabled();
}
irq h2 on cpu0 {
    local_irq_enable();
}
"""
ENABLED = "WARNING: CPU: 0 PID: 0 at __handle_irq_event_percpu (kernel/irq/handle.c)"


def test_a_handler_that_returns_with_interrupts_on_warns_once() -> None:
    """__handle_irq_event_percpu() (kernel/irq/handle.c) checks after each
    handler: WARN_ONCE(!irqs_disabled(), "irq %u handler %pS enabled
    interrupts"), then local_irq_disable(). Once per boot: the second
    handler that does it is silent. The handler itself ran with them on.
    Both fire before t starts: `current` is cpu0's idle task, PID 0."""
    p, s = final(IRQ_ENABLES, "h, h2, t")
    assert heads(p, s) == [ENABLED]
    text = texts(p, s)[0]
    assert 'WARN_ONCE(!irqs_disabled(), "irq %u handler %pS enabled interrupts"): handler h' in text
    assert s.globals[0] == 0          # seen: irqs_disabled() inside h, after its enable
    assert not s.cpus[0].irqs_off


def test_a_handler_that_disables_again_is_silent() -> None:
    src = IRQ_ENABLES.replace("seen = irqs_disabled();", "local_irq_disable();")
    p, s = final(src.replace("    local_irq_enable();\n}", "    local_irq_enable();\n    local_irq_disable();\n}"))
    assert heads(p, s) == []
