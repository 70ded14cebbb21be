"""RCU readers (kernel/rcu/tree_plugin.h, include/linux/rcupdate.h): PREEMPT_RCU
follows the preemption model (kernel/rcu/Kconfig), __might_resched()'s "RCU
nest depth" (kernel/sched/core.c), rcu_note_context_switch()'s voluntary
switch warning, and PREEMPT_RT's spin_lock() taking rcu_read_lock()
(kernel/locking/spinlock_rt.c)."""

from __future__ import annotations

from kmaptest import check, final, heads, local, texts

HEAD = """config { ARCH = x86; PAGE_SIZE = 64; LAST_PKMAP = 4; NR_CPUS = 1; %s }
page P = alloc_page(GFP_HIGHUSER);
spinlock_t L;
spinlock_t K;
int g = 0;
"""
KMAP_SPLAT = "BUG: sleeping function called from invalid context at include/linux/highmem-internal.h (kmap)"
VOLUNTARY = "WARNING: CPU: 0 PID: 1 at rcu_note_context_switch (kernel/rcu/tree_plugin.h)"


def src(body: str, cfg: str = "") -> str:
    return HEAD % cfg + body


def test_preempt_rcu_reader_and_might_sleep() -> None:
    """PREEMPT_RCU: the reader counts rcu_read_lock_nesting, the preempt
    count stays 0, and __might_resched() compares preempt_count() +
    (rcu_preempt_depth() << 8) with the expected 0: the splat prints the
    RCU line."""
    p, s = final(src("""task t on cpu0 {
    rcu_read_lock(); int pc = preempt_count(); int d = rcu_preempt_depth();
    void *v = kmap(P); kunmap(P); rcu_read_unlock(); int d2 = rcu_preempt_depth();
}""", "CONFIG_PREEMPTION = y;"))
    assert [local(p, s, "t", v) for v in ("pc", "d", "d2")] == [0, 1, 0]
    assert heads(p, s) == [KMAP_SPLAT]
    assert texts(p, s)[0].split("\n")[1:4] == [
        "might_sleep(): in_atomic(): 0, irqs_disabled(): 0, non_block: 0, pid: 1, name: t",
        "preempt_count: 0, expected: 0", "RCU nest depth: 1, expected: 0"]


def test_non_preempt_rcu_reader_disables_preemption() -> None:
    """Without PREEMPT_RCU rcu_read_lock() is preempt_disable(): the splat
    is the preempt count's, without an RCU line; rcu_preempt_depth() is 0."""
    p, s = final(src("""task t on cpu0 {
    rcu_read_lock(); int pc = preempt_count(); int d = rcu_preempt_depth();
    void *v = kmap(P); kunmap(P); rcu_read_unlock(); int after = preempt_count();
}"""))
    assert [local(p, s, "t", v) for v in ("pc", "d", "after")] == [1, 0, 0]
    assert heads(p, s) == [KMAP_SPLAT]
    assert "RCU nest depth" not in texts(p, s)[0]
    assert "preempt_count: 1, expected: 0" in texts(p, s)[0]


def test_voluntary_switch_in_a_reader() -> None:
    """schedule() (and msleep()) in a PREEMPT_RCU reader: __schedule()'s
    rcu_note_context_switch(false) warns once; cond_resched() only gets
    might_sleep's splat (a preemption, not a voluntary switch)."""
    for call in ("schedule();", "msleep(1);"):
        p, s = final(src(f"task t on cpu0 {{ rcu_read_lock(); {call} rcu_read_unlock(); }}",
                         "CONFIG_PREEMPTION = y;"))
        assert heads(p, s) == [VOLUNTARY], call
        assert 'Voluntary context switch within RCU read-side critical section!' in texts(p, s)[0]
    p, s = final(src("task t on cpu0 { rcu_read_lock(); cond_resched(); rcu_read_unlock(); }",
                     "CONFIG_PREEMPTION = y;"))
    assert heads(p, s) == ["BUG: sleeping function called from invalid context at t.kmap:6"]
    p, s = final(src("task t on cpu0 { rcu_read_lock(); schedule(); rcu_read_unlock(); }"))
    assert heads(p, s) == ["BUG: scheduling while atomic: t/1/0x00000002"]


def test_a_preempt_rcu_reader_may_be_preempted() -> None:
    p, r = check(src("""task a on cpu0 { rcu_read_lock(); int x = g; int y = g; rcu_read_unlock(); }
task b on cpu0 { g = 1; }
expect sometimes a.x != a.y;
expect never BUG || WARN;
""", "CONFIG_PREEMPTION = y;"))
    assert any(o.conds[0] for o in r.outcomes) and not any(o.conds[1] for o in r.outcomes)


def test_preempt_rt_spin_lock_is_a_reader() -> None:
    """PREEMPT_RT: rt_spin_lock() = rtlock_might_resched() (expecting the
    caller's own RCU depth), the rtmutex, rcu_read_lock(), migrate_disable().
    kmap() under it is the RCU-depth splat; nested RT spinlocks are not."""
    rt = "CONFIG_PREEMPT_RT = y;"
    p, s = final(src("task t on cpu0 { spin_lock(&L); int d = rcu_preempt_depth(); "
                     "void *v = kmap(P); kunmap(P); spin_unlock(&L); int d2 = rcu_preempt_depth(); }", rt))
    assert (local(p, s, "t", "d"), local(p, s, "t", "d2")) == (1, 0)
    assert heads(p, s) == [KMAP_SPLAT]
    assert texts(p, s)[0].split("\n")[2:4] == ["preempt_count: 0, expected: 0",
                                                "RCU nest depth: 1, expected: 0"]
    p, s = final(src("task t on cpu0 { rcu_read_lock(); spin_lock(&L); spin_lock(&K); "
                     "spin_unlock(&K); spin_unlock(&L); rcu_read_unlock(); }", rt))
    assert not s.reports
    p, s = final(src("task t on cpu0 { preempt_disable(); spin_lock(&L); spin_unlock(&L); "
                     "preempt_enable(); }", rt))
    assert heads(p, s) == ["BUG: sleeping function called from invalid context at "
                           "kernel/locking/spinlock_rt.c (spin_lock)"]
    assert "preempt_count: 1, expected: 0" in texts(p, s)[0]


def test_returning_inside_a_reader() -> None:
    """lockdep_sys_exit() sees rcu_read_lock's lock map still held."""
    p, s = final(src("task t on cpu0 { rcu_read_lock(); }", "CONFIG_PREEMPTION = y;"))
    assert heads(p, s) == ["WARNING: lock held when returning to user space!"]
    assert "1 lock held by t/1: rcu_read_lock" in texts(p, s)[0]
