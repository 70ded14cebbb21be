"""Execution context: preemption, sleeping in atomic, locks, irqs, user copies.

Kernel facts from docs/kernel-semantics.md §3 and seed 003 (the
conversion notes): code converted from kmap_atomic() may have relied on
its implicit preempt and pagefault disabling.
"""

from __future__ import annotations

from kmaptest import check, final, heads, kinds, local, run, texts

BASE = """
config { ARCH = x86; PAGE_SIZE = 64; LAST_PKMAP = 4; NR_CPUS = 2; %s }
page P = alloc_page(GFP_HIGHUSER);
page L = alloc_page(GFP_KERNEL);
page U = alloc_user_page(not_present);
page V = alloc_user_page(present);
percpu int cnt = 0;
int g = 0;
spinlock_t lock;
"""


def src(body: str, cfg: str = "") -> str:
    return BASE % cfg + body


def test_might_sleep_splat_once_and_goes_on():
    p, s = final(src("""task t on cpu0 {
        spin_lock(&lock);
        might_sleep();
        might_sleep();
        spin_unlock(&lock);
        int ok = 1;
    }"""))
    assert kinds(p, s) == ["BUG"] and local(p, s, "t", "ok") == 1


SCHED_ATOMIC = """task t on cpu0 {
        preempt_disable();
        schedule();
        int pc = preempt_count();
        preempt_enable();
        int after = preempt_count();
    }"""


def test_scheduling_while_atomic_resets_the_count():
    """schedule_debug prints count+1 then preempt_count_set(PREEMPT_DISABLED):
    the task's own disable is lost, so its preempt_enable underflows, which
    DEBUG_PREEMPT (a preemptible kernel's) refuses with its warning."""
    p, s = final(src(SCHED_ATOMIC, "CONFIG_PREEMPTION = y;"))
    hs = heads(p, s)
    assert "BUG: scheduling while atomic: t/1/0x00000002" in hs
    assert local(p, s, "t", "pc") == 0
    assert any("DEBUG_LOCKS_WARN_ON(val > preempt_count())" in t for t in texts(p, s))
    assert local(p, s, "t", "after") == 0


def test_preempt_count_underflow_wraps_without_debug_preempt():
    """Without DEBUG_PREEMPT (a non-preemptible kernel) preempt_count_sub()
    is the raw __preempt_count_sub(): nothing warns and the count wraps.
    x86 masks PREEMPT_NEED_RESCHED (bit 31) out of preempt_count()
    (arch/x86/include/asm/preempt.h); ARM's is a plain int."""
    p, s = final(src(SCHED_ATOMIC))
    assert heads(p, s) == ["BUG: scheduling while atomic: t/1/0x00000002"]
    assert local(p, s, "t", "after") == 0x7FFFFFFF
    p, s = final(src(SCHED_ATOMIC).replace("ARCH = x86;", "ARCH = arm;"))
    assert local(p, s, "t", "after") == -1   # an int local: 0xffffffff


def test_cond_resched_in_atomic_context():
    p, s = final(src("task t on cpu0 { preempt_disable(); cond_resched(); preempt_enable(); }"))
    assert heads(p, s)[0].startswith("BUG: sleeping function called from invalid context")


def test_smp_processor_id_in_preemptible_code():
    """DEBUG_PREEMPT (on by default in a preemptible kernel): a migratable
    task with preemption on gets the BUG splat; pinned or with preemption
    disabled: fine."""
    pre = "CONFIG_PREEMPTION = y;"
    p, s = final(src("task t { int c = smp_processor_id(); }", pre))
    assert heads(p, s) == ["BUG: using smp_processor_id() in preemptible [00000000] code: t/1"]
    p, s = final(src("task t { int c = get_cpu(); put_cpu(); } task u on cpu1 { int d = smp_processor_id(); }",
                     pre))
    assert not s.reports


def test_smp_processor_id_unchecked_without_preemption():
    """lib/Kconfig.debug: DEBUG_PREEMPT depends on PREEMPTION, so a
    non-preemptible kernel (the default) has the unchecked
    __smp_processor_id() (include/linux/smp.h): no report."""
    p, s = final(src("task t { int c = smp_processor_id(); }"))
    assert not s.reports


def test_spinlock_contention_and_deadlock():
    p, r = check(src("""
task a on cpu0 { spin_lock(&lock); g = g + 1; spin_unlock(&lock); }
task b on cpu1 { spin_lock(&lock); g = g + 1; spin_unlock(&lock); }
expect always g == 2;"""))
    assert r.outcomes and all(o.conds[0] and not o.reports for o in r.outcomes)
    p, s = final(src("task a on cpu0 { spin_lock(&lock); spin_lock(&lock); }"))
    hs = heads(p, s)
    assert "BUG: spinlock recursion on CPU#0, a/1" in hs
    assert any(h.startswith("watchdog: BUG: soft lockup - CPU#0") for h in hs)


def test_irq_taking_a_lock_held_by_the_interrupted_task_deadlocks():
    """The classic: spin_lock without irqsave, and an irq on the same CPU."""
    body = """
task t on cpu0 { spin_lock(&lock); g = 1; spin_unlock(&lock); }
irq i on cpu0 { spin_lock(&lock); g = 2; spin_unlock(&lock); }
expect never DEADLOCK;"""
    p, r = check(src(body))
    assert any("DEADLOCK" in x for o in r.outcomes for x in o.reports)
    # DEBUG_SPINLOCK's debug_spin_lock_before(): lock->owner == current, and
    # in the irq `current` is the task it interrupted, the owner
    p, e = run(src(body), "t:1, i")
    assert "BUG: spinlock recursion on CPU#0, t/1" in heads(p, e.final)
    p, r = check(src(body.replace("spin_lock(&lock); g = 1; spin_unlock(&lock);",
                                  "spin_lock_irqsave(&lock); g = 1; spin_unlock_irqrestore(&lock);")))
    assert not any("DEADLOCK" in x for o in r.outcomes for x in o.reports)


def test_irq_leaving_preemption_disabled_leaks_into_the_interrupted_task():
    """__irq_exit_rcu() (kernel/softirq.c) only subtracts HARDIRQ_OFFSET: a
    handler's unbalanced preempt_disable() stays in the count the task
    resumes with (per-CPU on x86, the shared thread_info on ARM), so the
    task's next sleep is "scheduling while atomic" (schedule_debug)."""
    body = """
task t on cpu0 { int a = 0; int pc = preempt_count(); msleep(1); }
irq i on cpu0 { %s }"""
    p, e = run(src(body % "preempt_disable();"), "t:1, i, t")
    assert local(p, e.final, "t", "pc") == 1
    assert "BUG: scheduling while atomic: t/1/0x00000002" in heads(p, e.final)
    p, e = run(src(body % "preempt_disable(); preempt_enable();"), "t:1, i, t")
    assert local(p, e.final, "t", "pc") == 0 and not e.final.reports


def test_schedule_in_an_irq_drops_its_hardirq_count_and_the_exit_refuses_to_underflow():
    """schedule() in a handler: schedule_debug's preempt_count_set(PREEMPT_DISABLED)
    drops the HARDIRQ bits; __irq_exit_rcu's preempt_count_sub(HARDIRQ_OFFSET)
    then hits DEBUG_LOCKS_WARN_ON(val > preempt_count()) and subtracts
    nothing (DEBUG_PREEMPT): the task resumes with 0, never a negative count.
    Without DEBUG_PREEMPT (a non-preemptible kernel) the raw subtraction
    wraps: x86's preempt_count() reads 0x7fff0000 and the task's next sleep
    is "scheduling while atomic" with that count + 1."""
    body = """
task t on cpu0 { int a = 0; int pc = preempt_count(); msleep(1); }
irq i on cpu0 { schedule(); }"""
    p, e = run(src(body, "CONFIG_PREEMPTION = y;"), "t:1, i, t")
    assert local(p, e.final, "t", "pc") == 0
    hs = heads(p, e.final)
    assert "BUG: scheduling while atomic: t/1/0x00010001" in hs
    assert any("DEBUG_LOCKS_WARN_ON(val > preempt_count())" in x for x in texts(p, e.final))
    p, e = run(src(body), "t:1, i, t")
    assert local(p, e.final, "t", "pc") == 0x7FFF0000
    assert heads(p, e.final) == ["BUG: scheduling while atomic: t/1/0x7fff0001",
                                 "BUG: scheduling while atomic: t/1/0x00010001"]


def test_a_count_leaked_onto_the_idle_task_is_scheduling_while_atomic_at_the_next_switch():
    """An irq on an idle CPU that leaks a preempt_disable() leaves it on the
    idle task (the CPU's count). When a task is switched in, the idle
    task's __schedule() (schedule_idle) runs schedule_debug: its count is 2
    where PREEMPT_DISABLED is expected, "BUG: scheduling while atomic:
    swapper/0/0/0x00000002", and the count is reset (kernel/sched/core.c)."""
    p, e = run(src("""
irq timer on cpu0 { preempt_disable(); }
task t on cpu0 { int pc = preempt_count(); msleep(1); }"""), "timer, t")
    assert heads(p, e.final) == ["BUG: scheduling while atomic: swapper/0/0/0x00000002"]
    assert local(p, e.final, "t", "pc") == 0
    p, r = check(src("""
irq timer on cpu0 { preempt_disable(); }
task t on cpu0 { int pc = preempt_count(); msleep(1); }
expect always t.pc == 0;"""))
    assert all(o.conds[0] for o in r.outcomes)


def test_nested_irq_leak_goes_to_the_irq_it_interrupted():
    """A nested handler's leak lands in the outer handler's count (one
    count per CPU), and from there in the task's."""
    p, e = run(src("""
task t on cpu0 { int a = 0; int pc = preempt_count(); }
irq outer on cpu0 { local_irq_enable(); int q = preempt_count(); local_irq_disable(); }
irq inner on cpu0 { preempt_disable(); }"""), "t:1, outer:1, inner, outer, t")
    assert local(p, e.final, "outer", "q") == 0x10001
    assert local(p, e.final, "t", "pc") == 1


def test_schedule_with_interrupts_off_switches_and_returns_with_them_on():
    """schedule_debug() checks only the preempt count; __schedule() switches
    and finish_lock_switch() (or, with no switch, the rq unlock) is
    raw_spin_rq_unlock_irq(): the task resumes with interrupts on
    (kernel/sched/core.c). cond_resched() does not schedule with them off
    (__cond_resched: should_resched(0) && !irqs_disabled())."""
    body = """
config { ARCH = x86; PAGE_SIZE = 64; CONFIG_PREEMPTION = n; }
int started = 0;
int order = 0;
task t on cpu0 { local_irq_disable(); started = 1; %s; int d = irqs_disabled(); int o = order; }
task other on cpu0 { int s = started; if (s == 1) { order = 1; } }
expect sometimes t.o == 1;
expect always t.d == 0;
expect never BUG || WARN;"""
    from kmap_scenarios.dsl.formats.check_text import verdicts_of
    for call in ("schedule()", "msleep(1)"):
        p, r = check(body % call)
        assert [v.holds for v in verdicts_of(p, r)] == [True, True, True], call
    p, r = check(body % "cond_resched()")
    # might_sleep's splat (irqs_disabled(): 1), no switch, interrupts still off
    assert [v.holds for v in verdicts_of(p, r)] == [False, False, False]
    _, e = run(body % "schedule()", "t")
    assert any("interrupts on" in ev and "raw_spin_rq_unlock_irq" in ev
               for t in e.trace for ev in t.events)


def test_schedule_cannot_fire_irq_while_disabled():
    import pytest
    from kmap_scenarios.runtime.search.schedule import ScheduleError
    with pytest.raises(ScheduleError, match="interrupts disabled"):
        run(src("""task t on cpu0 { local_irq_disable(); g = 1; local_irq_enable(); }
irq i on cpu0 { g = 5; }"""), "t:1, i")


def test_copy_from_user_with_pagefaults_disabled_fails_at_once():
    """kmap_atomic disabled page faults: a not-present page is not copied."""
    p, s = final(src("""task t on cpu0 {
        void *a = kmap_atomic(P);
        int n = copy_from_user(a, U, 8);
        kunmap_atomic(a);
    }"""))
    assert local(p, s, "t", "n") == 8 and not s.reports


def test_copy_from_user_after_conversion_sleeps_and_succeeds():
    """After the conversion to kmap_local_page the fault is served (and sleeps)."""
    p, e = run(src("""task t on cpu0 {
        void *a = kmap_local_page(P);
        int n = copy_from_user(a, U, 8);
        kunmap_local(a);
    }"""))
    assert local(p, e.final, "t", "n") == 0
    assert any("the fault handler sleeps" in x for t in e.trace for x in t.events)


def test_a_huge_length_faults_where_the_mapping_ends():
    """memset() and copy_from_user()'s zeroing of what it could not copy
    store page by page: SIZE_MAX for memset (x86-32), INT_MAX for the copy
    (the most check_copy_size lets through) oops at the first address past
    the kmap_local slot, after filling the mapped page, without the model
    building all the bytes first."""
    p, s = final(src("""task t on cpu0 {
        void *a = kmap_local_page(P);
        memset(a, 0x11, 0xffffffff);
    }"""))
    assert kinds(p, s) == ["OOPS"] and s.newest[0] == b"\x11" * 64
    p, s = final(src("""task t on cpu0 {
        void *a = kmap_local_page(P);
        int n = copy_from_user(a, V + 0, 0x7fffffff);
    }"""))
    assert kinds(p, s) == ["OOPS"]


def test_copy_user_refuses_a_length_over_int_max_and_lengths_are_size_t():
    """check_copy_size() (include/linux/thread_info.h): WARN_ON_ONCE(bytes >
    INT_MAX) and copy_{from,to}_user return n, nothing copied or zeroed. A
    negative length is a huge size_t: the same WARN, and memset() of one
    oopses past the mapping. On 32 bits, 1 << 32 is a size_t of 0."""
    for length in ("-1", "0x80000000"):
        p, s = final(src(f"""task t on cpu0 {{
            void *a = kmap_local_page(P);
            a[0] = 7;
            int n = copy_from_user(a, V + 0, {length});
            kunmap_local(a);
        }}"""))
        assert heads(p, s) == ["WARNING: CPU: 0 PID: 1 at check_copy_size "
                               "(include/linux/thread_info.h)"], length
        assert s.newest[0][0] == 7, length      # nothing zeroed
        assert local(p, s, "t", "n") != 0, length
    p, s = final(src("task t on cpu0 { void *a = kmap_local_page(P); memset(a, 1, -1); }"))
    assert kinds(p, s) == ["OOPS"]
    p, s = final(src("""task t on cpu0 { void *a = kmap_local_page(P);
        memset(a, 1, 1 << 32); int n = copy_to_user(V + 0, a, 1 << 32); kunmap_local(a); }"""))
    assert not s.reports and local(p, s, "t", "n") == 0 and s.newest[0] == bytes(64)


def test_copy_to_user_copies_through_the_mapping():
    p, s = final(src("""task t on cpu0 {
        void *a = kmap_local_page(P);
        a[1] = 0x99;
        int n = copy_to_user(V + 0, a, 4);
        kunmap_local(a);
    }"""))
    assert local(p, s, "t", "n") == 0 and s.ram[3][1] == 0x99


def test_percpu_lost_update_after_conversion():
    """Without kmap_atomic's preempt_disable, a read-modify-write of per-CPU
    data can be preempted (seed 003)."""
    racy = """
task conv on cpu0 {
    void *p = kmap_local_page(P);
    int c = this_cpu_read(cnt);
    this_cpu_write(cnt, c + 1);
    kunmap_local(p);
}
task other on cpu0 { this_cpu_inc(cnt); }
expect always per_cpu(cnt, 0) == 2;"""
    p, r = check(src(racy, "CONFIG_PREEMPTION = y;"))
    assert any(not o.conds[0] for o in r.outcomes)
    fixed = racy.replace("void *p = kmap_local_page(P);", "void *p = kmap_local_page(P); preempt_disable();") \
                .replace("kunmap_local(p);", "preempt_enable(); kunmap_local(p);")
    p, r = check(src(fixed, "CONFIG_PREEMPTION = y;"))
    assert all(o.conds[0] for o in r.outcomes)
    atomic = racy.replace("kmap_local_page(P)", "kmap_atomic(P)").replace("kunmap_local(p)", "kunmap_atomic(p)")
    p, r = check(src(atomic, "CONFIG_PREEMPTION = y;"))
    assert all(o.conds[0] for o in r.outcomes)


def test_no_preemption_without_config_preemption():
    racy = """
task conv on cpu0 { int c = this_cpu_read(cnt); this_cpu_write(cnt, c + 1); }
task other on cpu0 { this_cpu_inc(cnt); }
expect always per_cpu(cnt, 0) == 2;"""
    p, r = check(src(racy))
    assert all(o.conds[0] for o in r.outcomes)
    p, r = check(src(racy.replace("int c = this_cpu_read(cnt);", "int c = this_cpu_read(cnt); cond_resched();")))
    assert any(not o.conds[0] for o in r.outcomes)


def test_migration_of_an_unpinned_task():
    """A migratable task can resume on another CPU at a preemption point;
    while it holds a kmap_local mapping it cannot."""
    body = """
task m { int a = raw_smp_processor_id(); msleep(1); int b = raw_smp_processor_id(); }
expect sometimes m.a != m.b;"""
    p, r = check(src(body))
    assert any(o.conds[0] for o in r.outcomes)
    pinned = body.replace("msleep(1);", "void *x = kmap_local_page(P); msleep(1);").replace(
        "int b = raw_smp_processor_id();", "int b = raw_smp_processor_id(); kunmap_local(x);")
    p, r = check(src(pinned))
    assert not any(o.conds[0] for o in r.outcomes)


def test_bug_on_and_warn_on_in_scenarios():
    p, s = final(src("""task t on cpu0 {
        for (int i = 0; i < 3; i++) { WARN_ON_ONCE(1); }
        WARN_ON(g == 0);
        BUG_ON(1);
        int after = 1;
    }"""))
    assert kinds(p, s) == ["WARN", "WARN", "BUG"]   # the once-site fired once
    assert heads(p, s)[2] == "kernel BUG at t.kmap:13!"


def test_assert_stops_the_task():
    p, s = final(src("task t on cpu0 { assert(g == 1); int after = 1; }"))
    assert kinds(p, s) == ["ASSERT"] and local(p, s, "t", "after") == 0
    assert heads(p, s)[0] == "ASSERT: t.kmap:10: assert(g == 1) failed"


def test_division_by_zero_oopses():
    p, s = final(src("task t on cpu0 { int z = 0; int x = 1 / z; }"))
    assert kinds(p, s) == ["OOPS"] and heads(p, s)[0].startswith("divide error")


def test_returning_to_user_space_with_a_lock_held():
    """lockdep_sys_exit(): WARNING: lock held when returning to user space!"""
    p, s = final(src("task t on cpu0 { spin_lock(&lock); }"))
    assert heads(p, s) == ["WARNING: lock held when returning to user space!"]
    assert "t/1 is leaving the kernel with locks still held!" in texts(p, s)[0]


def test_copy_from_user_in_atomic_context_is_might_fault_splat():
    """__might_fault(): with page faults enabled, copy_from_user may sleep, so
    __might_sleep() complains under a spinlock (present page or not)."""
    for state in ("present", "not_present"):
        p, s = final(src(f"""page W = alloc_user_page({state});
task t on cpu0 {{
    void *b = kmap_local_page(P);
    spin_lock(&lock);
    int n = copy_from_user(b, W, 8);
    spin_unlock(&lock);
    kunmap_local(b);
}}"""))
        assert heads(p, s) == ["BUG: sleeping function called from invalid context at "
                               "include/linux/uaccess.h (copy_from_user)"], state
        # in_atomic(): faulthandler_disabled(), so a missing page is not copied
        assert local(p, s, "t", "n") == (8 if state == "not_present" else 0), state


def test_scenario_might_sleep_names_the_scenario_line():
    p, s = final(src("task t on cpu0 { preempt_disable(); might_sleep(); preempt_enable(); }"))
    assert heads(p, s) == ["BUG: sleeping function called from invalid context at t.kmap:10"]


def test_kunmap_without_highmem_is_the_empty_inline():
    """!CONFIG_HIGHMEM kunmap()/kunmap_high() have no might_sleep and no BUG."""
    p, s = final("""config { ARCH = x86; CONFIG_HIGHMEM = n; PAGE_SIZE = 64; }
page L = alloc_page(GFP_KERNEL);
task t on cpu0 { void *l = kmap(L); preempt_disable(); kunmap(L); kunmap_high(L); preempt_enable(); }""")
    assert not s.reports


def test_spin_unlock_of_an_unlocked_lock_prints_only_spin_bug():
    """spin_bug() turns lock debugging off, silencing preempt_count_sub()."""
    p, s = final(src("task t on cpu0 { spin_unlock(&lock); }"))
    assert heads(p, s) == ["BUG: spinlock already unlocked on CPU#0, t/1"]


def test_user_copies_cross_pages_and_zero_fill_what_they_could_not_copy():
    """The kernel copies across user pages; _copy_from_user() zeroes the
    uncopied tail of the kernel buffer."""
    p, s = final("""config { ARCH = x86; PAGE_SIZE = 64; }
page K = alloc_page(GFP_KERNEL);
page U0 = alloc_user_page(present);
page U1 = alloc_user_page(present);
page U2 = alloc_user_page(not_present);
task t on cpu0 {
    void *k = page_address(K);
    memset(k, 0x77, 64);
    int across = copy_to_user(U0 + 60, k, 8);
    pagefault_disable();
    int short = copy_from_user(k, U1 + 60, 8);
    pagefault_enable();
}""")
    assert local(p, s, "t", "across") == 0
    assert s.ram[1][60:] == b"\x77" * 4 and s.ram[2][:4] == b"\x77" * 4
    assert local(p, s, "t", "short") == 4           # U2 is not present
    # bytes 0..3 copied (U1[60..63] is zero), 4..7 zero-filled, 8.. untouched
    assert s.ram[0][:8] == bytes(8) and s.ram[0][8:12] == b"\x77" * 4


def test_an_irq_on_an_idle_cpu_sees_the_idle_task_s_preempt_disabled():
    """The idle task runs with preemption disabled: init_idle() sets its
    count to PREEMPT_DISABLED (init_idle_preempt_count(), kernel/sched/core.c)
    and do_idle() never enables it. A handler that interrupts it reads
    HARDIRQ_OFFSET + 1; one that interrupts a task reads the task's count
    on top of HARDIRQ_OFFSET. Found by bench/crosscheck.py on v6.1
    (bench/crosscheck/irq_on_idle.kmap: the kernel showed 0x10001)."""
    body = """
task t on cpu0 { int a = 0; msleep(1); }
irq i on cpu0 { int pc = preempt_count(); int at = in_atomic(); }"""
    p, e = run(src(body), "i, t")
    assert local(p, e.final, "i", "pc") == 0x10001
    p, e = run(src(body), "t:1, i, t")
    assert local(p, e.final, "i", "pc") == 0x10000
    # what the handler leaves unbalanced still goes to the idle task alone
    p, e = run(src("""
irq timer on cpu0 { preempt_disable(); int pc = preempt_count(); }
task t on cpu0 { int pc = preempt_count(); msleep(1); }"""), "timer, t")
    assert local(p, e.final, "timer", "pc") == 0x10002
    assert heads(p, e.final) == ["BUG: scheduling while atomic: swapper/0/0/0x00000002"]


def test_an_irq_can_come_between_a_task_s_last_statement_and_its_return_to_user():
    """The return to user space is not part of the last statement: a
    syscall returns through syscall_exit_to_user_mode() (kernel/entry/
    common.c), whose syscall_exit_to_user_mode_prepare() runs with
    interrupts on and only then local_irq_disable_exit_to_user() and
    exit_to_user_mode_prepare() (kmap_assert_nomap()). A handler that comes
    in between interrupts the task itself, with the counts its last
    statement left: HARDIRQ_OFFSET + 0 here, where the idle task's CPU
    gives HARDIRQ_OFFSET + 1. Found by bench/crosscheck.py on v6.1
    (bench/crosscheck/kmap_atomic_irq.kmap: 0x10001 after the last
    kunmap_atomic(), 4 times in 1000)."""
    body = """
task t on cpu0 { int a = 1; }
irq i on cpu0 { int pc = preempt_count(); }"""
    p, e = run(src(body), "t:1, i, t")
    assert local(p, e.final, "i", "pc") == 0x10000
    # the task that is returning is `current` for the handler
    p, e = run(src("""
task t on cpu0 { int a = 1; }
irq i on cpu0 { msleep(1); }"""), "t:1, i, t")
    assert heads(p, e.final) == ["BUG: scheduling while atomic: t/1/0x00010001"]
    # without an irq to come the return is still the last statement's step
    p, e = run(src("task t on cpu0 { int a = 1; }"), "t:1")
    assert any(ev.startswith("t returns") for ev in e.trace[0].events)
    p, e = run(src(body), "t:1")
    assert not any(ev.startswith("t returns") for ev in e.trace[0].events)
