"""Softirqs (kernel/softirq.c, v6.1, !PREEMPT_RT): `softirq NAME on cpuN`,
raise_softirq(), the three paths that run a pending softirq with their
preempt-count offsets, local_bh_disable/enable, spin_lock_bh and the raw
in_*() macros (include/linux/preempt.h)."""

from __future__ import annotations

from kmaptest import check, diags, events, final, heads, kinds, local, run

HEAD = "config { NR_CPUS = 1; %s }\nspinlock_t L;\nint ran = 0;\nint seen = 0;\n"


def src(body: str, cfg: str = "") -> str:
    return HEAD % cfg + body


def outcomes_hold(p, r, n: int) -> list[bool]:  # type: ignore[no-untyped-def]
    """Whether expectation n's condition holds in each outcome."""
    return [bool(o.conds[n]) for o in r.outcomes]


LOCK_VS_SOFTIRQ = """task t on cpu0 {
    spin_lock%s(&L);
    int x = 1;
    spin_unlock%s(&L);
}
softirq s on cpu0 {
    spin_lock(&L);
    ran = 1;
    spin_unlock(&L);
}
"""


def test_a_softirq_interrupts_a_spinlock_holder() -> None:
    """A softirq runs at the exit of any interrupt (a timer's at any moment
    interrupts are on), even while the task holds a plain spinlock with
    preemption disabled: in_interrupt() looks only at the hardirq and
    softirq bits. Taking the task's lock there is DEBUG_SPINLOCK's
    "spinlock recursion" (lock->owner == current) and a lockup;
    spin_lock_bh() keeps the softirq out until spin_unlock_bh() runs it."""
    p, r = check(src(LOCK_VS_SOFTIRQ % ("", "") + 'expect sometimes BUG("spinlock recursion");'))
    assert any(outcomes_hold(p, r, 0))
    p, r = check(src(LOCK_VS_SOFTIRQ % ("_bh", "_bh") + "expect never BUG;\nexpect always ran == 1;"))
    assert not any(outcomes_hold(p, r, 0)) and all(outcomes_hold(p, r, 1))


def test_counts_on_each_path() -> None:
    """handle_softirqs() adds SOFTIRQ_OFFSET to the count it runs with: the
    interrupted context's at an irq exit (0x100), the caller's at
    local_bh_enable() after __preempt_count_sub(cnt - 1) (0x101), and
    ksoftirqd's own (0x100). The in_*() macros are raw counts."""
    probe = """softirq s on cpu0 {
    int pc = preempt_count(); int sc = in_softirq(); int serving = in_serving_softirq();
    int intr = in_interrupt(); int hard = in_irq(); int atomic = in_atomic(); int task = in_task();
    ran = 1;
}
"""
    # irq exit: an irq raises it
    p, s = final(src(probe + "task t on cpu0 { int a = 0; }\nirq i on cpu0 { raise_softirq(s); }\n"),
                 "i, s, t")
    got = [local(p, s, "s", v) for v in ("pc", "sc", "serving", "intr", "hard", "atomic", "task")]
    assert got == [0x100, 0x100, 0x100, 0x100, 0, 1, 0]
    # local_bh_enable: raised inside the bh-disabled section
    p, s = final(src(probe + """task t on cpu0 {
    local_bh_disable(); int bh = preempt_count(); int bsc = in_softirq(); int bserv = in_serving_softirq();
    raise_softirq(s); int before = ran; local_bh_enable(); int after = ran; int pc = preempt_count();
}
"""))
    assert [local(p, s, "t", v) for v in ("bh", "bsc", "bserv", "before", "after", "pc")] == \
        [0x200, 0x200, 0, 0, 1, 0]
    assert local(p, s, "s", "pc") == 0x101
    # ksoftirqd: raised from process context with bottom halves enabled
    p, s = final(src(probe + "task t on cpu0 { raise_softirq(s); int after = ran; }\n"))
    assert local(p, s, "t", "after") == 0 and local(p, s, "s", "pc") == 0x100


def test_an_irq_exit_runs_it_before_the_interrupted_task_resumes() -> None:
    """__irq_exit_rcu() runs the pending softirqs in the irq's own exit:
    the task never sees the irq's effect without the softirq's."""
    p, r = check(src("""int h = 0;
task t on cpu0 { int a = h; int b = ran; }
irq i on cpu0 { h = 1; raise_softirq(s); }
softirq s on cpu0 { ran = 1; }
expect never t.a == 1 && t.b == 0;
expect sometimes t.a == 1;
"""))
    assert not any(outcomes_hold(p, r, 0)) and any(outcomes_hold(p, r, 1))


def test_ksoftirqd_takes_them_once_woken() -> None:
    """A raise from process context wakes ksoftirqd; while it is
    TASK_RUNNING, v6.1's invoke_softirq() and do_softirq() leave the
    pending softirqs to it (ksoftirqd_running()), so an irq exit does not
    run them; ksoftirqd runs when the CPU schedules, with `current`
    ksoftirqd/0 (PID after the scenario's tasks)."""
    p, r = check(src("""task t on cpu0 { raise_softirq(s); int a = 1; int b = ran; }
irq i on cpu0 { int z = 0; }
softirq s on cpu0 { might_sleep(); ran = 1; }
expect never t.b == 1;
expect always BUG("name: ksoftirqd/0");
"""))
    assert not any(outcomes_hold(p, r, 0)) and all(outcomes_hold(p, r, 1))
    p, r = check(src("""task t on cpu0 { raise_softirq(s); int a = 1; int b = ran; }
softirq s on cpu0 { ran = 1; }
expect sometimes t.b == 1;
""", "CONFIG_PREEMPTION = y;"))
    assert any(outcomes_hold(p, r, 0))      # a preemptible task gives ksoftirqd the CPU


def test_pending_from_the_start_waits_for_bottom_halves() -> None:
    """A softirq no raise_softirq() raises is pending from the start: it
    never runs inside a bh-disabled section and has run when
    local_bh_enable() returns."""
    p, r = check(src("""task t on cpu0 {
    local_bh_disable(); int a = ran; int b = ran; local_bh_enable(); int c = ran;
}
softirq s on cpu0 { ran = 1; }
expect never t.a != t.b;
expect always t.c == 1;
"""))
    assert not any(outcomes_hold(p, r, 0)) and all(outcomes_hold(p, r, 1))


def test_restarts_then_ksoftirqd() -> None:
    """handle_softirqs() restarts with what was raised meanwhile, at most
    MAX_SOFTIRQ_RESTART - 1 times, then wakes ksoftirqd for the rest."""
    p, e = run(src("""int n = 0;
task t on cpu0 { int a = 0; }
irq i on cpu0 { raise_softirq(s); }
softirq s on cpu0 { n = n + 1; if (n < 12) raise_softirq(s); }
expect always n == 12;
"""), "i")
    ev = events(e)
    woken = ev.index("wakeup_softirqd: ksoftirqd/0 is woken")
    assert ev[:woken].count("handle_softirqs on cpu0: restart") == 9
    assert ev[woken + 2] == "ksoftirqd/0: handle_softirqs on cpu0 runs s"
    assert e.final is not None and not e.final.reports


def test_a_handler_that_leaks_a_count() -> None:
    """handle_softirqs(): "huh, entered softirq %u %s %p with preempt_count
    %08x, exited with %08x?" and preempt_count_set(prev_count)."""
    p, s = final(src("""task t on cpu0 { int a = 0; int pc = preempt_count(); }
softirq s on cpu0 { preempt_disable(); }
"""), "s, t")
    assert heads(p, s) == ["huh, entered softirq 0 s s with preempt_count 00000100, exited with 00000101?"]
    assert local(p, s, "t", "pc") == 0


def test_local_bh_enable_in_hardirq_warns() -> None:
    p, s = final(src("task t on cpu0 { int a = 0; }\nirq i on cpu0 { local_bh_disable(); local_bh_enable(); }\n"))
    assert heads(p, s) == ["WARNING: CPU: 0 PID: 0 at __local_bh_enable_ip (kernel/softirq.c)"]


def test_sleeping_in_a_softirq() -> None:
    """A softirq is atomic: might_sleep() splats with in_atomic() 1 and the
    interrupted task's name; kmap() likewise."""
    p, s = final(src("""page P = alloc_page(GFP_HIGHUSER);
task t on cpu0 { int a = 0; int b = 0; }
softirq s on cpu0 { void *v = kmap(P); kunmap(P); }
"""), "t:1, s")
    assert kinds(p, s) == ["BUG"]
    assert heads(p, s)[0].startswith("BUG: sleeping function called from invalid context at "
                                     "include/linux/highmem-internal.h")


def test_kmap_local_in_a_softirq_does_not_warn() -> None:
    """mm/highmem.c kmap_local_idx_push(): WARN_ON_ONCE(in_hardirq() &&
    !irqs_disabled()). A softirq run at irq exit has left hardirq context
    (__irq_exit_rcu() subtracts HARDIRQ_OFFSET before invoke_softirq()), so
    its mapping, interrupts on, is no warning."""
    p, s = final(src("""page P = alloc_page(GFP_HIGHUSER);
task t on cpu0 { int a = 0; }
softirq s on cpu0 { void *v = kmap_local_page(P); kunmap_local(v); }
irq i on cpu0 { raise_softirq(s); }
"""), "i, s, t")
    assert kinds(p, s) == []


def test_never_run_is_a_deadlock() -> None:
    """Raised with interrupts off for ever: no irq exit, no bh enable, and
    the woken ksoftirqd never gets the CPU: "DEADLOCK: softirq s never
    runs", beside the spinning task's own report."""
    p, e = run(src("""task t on cpu0 { local_irq_disable(); raise_softirq_irqoff(s); while (1) seen = 1; }
softirq s on cpu0 { ran = 1; }
"""))
    assert e.final is not None
    assert heads(p, e.final) == ["NMI watchdog: Watchdog detected hard LOCKUP on cpu 0",
                                 "DEADLOCK: softirq s never runs"]


def test_checker_refuses_a_raise_from_another_cpu_and_preempt_rt() -> None:
    d, = diags("config { NR_CPUS = 2; }\ntask t on cpu1 { raise_softirq(s); }\nsoftirq s on cpu0 { int a = 0; }\n")
    assert d.code == "E420" and "softirq `s` runs on cpu0" in d.message
    assert d.hint == "declare `task t on cpu0`"
    d, = diags("config { NR_CPUS = 2; }\ntask t { raise_softirq(s); }\nsoftirq s on cpu0 { int a = 0; }\n")
    assert d.code == "E420" and "runs on any CPU" in d.message
    ds = diags("config { CONFIG_PREEMPT_RT = y; }\nspinlock_t L;\ntask t on cpu0 { spin_lock_bh(&L); spin_unlock_bh(&L); }\n"
               "softirq s on cpu0 { int a = 0; }\n")
    assert [d.code for d in ds] == ["E420", "E420", "E420"]
    d, = diags("task t on cpu0 { raise_softirq(t); }\n")
    assert d.code == "E402" and d.message == "`raise_softirq` expects the name of a softirq, got `t`"
