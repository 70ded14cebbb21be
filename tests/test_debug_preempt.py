"""CONFIG_DEBUG_PREEMPT as its own key (lib/Kconfig.debug: it depends on
PREEMPTION), and what a kernel without it does: smp_processor_id() is the
unchecked __smp_processor_id() (include/linux/smp.h) and
preempt_count_sub() the raw __preempt_count_sub() (include/linux/preempt.h).
"""

from __future__ import annotations

from kmaptest import diags, final, heads, local, program

BODY = "task t { int c = smp_processor_id(); }\n"


def cfg(items: str) -> str:
    return f"config {{ NR_CPUS = 2; {items} }}\n" + BODY


def test_it_follows_preemption_by_default() -> None:
    assert not program(cfg("")).config.CONFIG_DEBUG_PREEMPT
    assert program(cfg("CONFIG_PREEMPTION = y;")).config.CONFIG_DEBUG_PREEMPT
    assert not program(cfg("CONFIG_PREEMPTION = y; CONFIG_DEBUG_PREEMPT = n;")
                       ).config.CONFIG_DEBUG_PREEMPT
    assert "CONFIG_DEBUG_PREEMPT=y" in program(cfg("CONFIG_PREEMPT_RT = y;")).config.describe()


def test_it_depends_on_preemption() -> None:
    d, = diags(cfg("CONFIG_DEBUG_PREEMPT = y;"))
    assert d.code == "E303"
    assert d.message.startswith("DEBUG_PREEMPT depends on PREEMPTION (lib/Kconfig.debug)")


def test_smp_processor_id_checked_only_with_it() -> None:
    p, s = final(cfg("CONFIG_PREEMPTION = y;"))
    assert heads(p, s) == ["BUG: using smp_processor_id() in preemptible [00000000] code: t/1"]
    p, s = final(cfg("CONFIG_PREEMPTION = y; CONFIG_DEBUG_PREEMPT = n;"))
    assert not s.reports
    p, s = final(cfg(""))
    assert not s.reports


def test_underflow_warns_only_with_it() -> None:
    """preempt_enable() without a preempt_disable(): DEBUG_PREEMPT refuses
    with DEBUG_LOCKS_WARN_ON(val > preempt_count()); without it the count
    wraps (x86 masks PREEMPT_NEED_RESCHED out of bit 31) and the task is
    atomic from then on: its might_sleep() splats."""
    body = "task t on cpu0 { preempt_enable(); int pc = preempt_count(); might_sleep(); }\n"
    p, s = final("config { CONFIG_PREEMPTION = y; }\n" + body)
    assert heads(p, s) == ["WARNING: CPU: 0 PID: 1 at preempt_count_sub (kernel/sched/core.c)"]
    assert local(p, s, "t", "pc") == 0
    p, s = final(body)
    assert local(p, s, "t", "pc") == 0x7FFFFFFF
    assert heads(p, s) == ["BUG: sleeping function called from invalid context at t.kmap:1"]
