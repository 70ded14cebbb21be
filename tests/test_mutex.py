"""Sleeping locks: `struct mutex m;` / `DEFINE_MUTEX(m);`, mutex_lock,
mutex_unlock, mutex_trylock (kernel/locking/mutex.c, v6.1, with
CONFIG_DEBUG_MUTEXES)."""

from __future__ import annotations

from kmaptest import check, diags, events, final, heads, local, run, texts

HEAD = "config { NR_CPUS = %d; %s }\nDEFINE_MUTEX(M);\nstruct mutex N;\nspinlock_t L;\nint g = 0;\n"


def src(body: str, cpus: int = 1, cfg: str = "") -> str:
    return HEAD % (cpus, cfg) + body


MIGHT_SLEEP = "BUG: sleeping function called from invalid context at kernel/locking/mutex.c (mutex_lock)"


def test_both_declarations_and_a_plain_lock() -> None:
    p, s = final(src("""task t on cpu0 {
    mutex_lock(&M); int held = mutex_is_locked(&M); mutex_unlock(&M);
    int got = mutex_trylock(&N); int again = mutex_trylock(&N); mutex_unlock(&N);
    int free = mutex_is_locked(&N);
}"""))
    assert not s.reports
    assert [local(p, s, "t", v) for v in ("held", "got", "again", "free")] == [1, 1, 0, 0]


def test_mutex_lock_in_atomic_context() -> None:
    """mutex_lock() begins with might_sleep(): under a spinlock that is the
    splat even when the mutex is free; a contended one then sleeps:
    "scheduling while atomic"."""
    p, s = final(src("task t on cpu0 { spin_lock(&L); mutex_lock(&M); mutex_unlock(&M); spin_unlock(&L); }"))
    assert heads(p, s) == [MIGHT_SLEEP]
    assert "in_atomic(): 1, irqs_disabled(): 0" in texts(p, s)[0]
    p, s = final(src("""task h on cpu1 { mutex_lock(&M); g = 1; while (g == 1) cond_resched(); mutex_unlock(&M); }
task t on cpu0 { while (g == 0) cond_resched(); g = 2; spin_lock(&L); mutex_lock(&M); mutex_unlock(&M); spin_unlock(&L); }
""", 2), "h:2, t")
    assert heads(p, s) == [MIGHT_SLEEP, "BUG: scheduling while atomic: t/2/0x00000002"]


def test_a_waiter_sleeps_and_is_woken() -> None:
    """A contended mutex_lock() sleeps (TASK_UNINTERRUPTIBLE) until the
    owner's mutex_unlock() wakes it; every execution ends with both done."""
    p, r = check(src("""task a { mutex_lock(&M); int v = g; g = v + 1; mutex_unlock(&M); }
task b { mutex_lock(&M); int v = g; g = v + 1; mutex_unlock(&M); }
expect always g == 2;
expect never BUG || WARN || DEADLOCK;
""", 1, "CONFIG_PREEMPTION = y;"))
    assert all(o.conds[0] for o in r.outcomes) and not any(o.conds[1] for o in r.outcomes)
    p, e = run(src("""task a on cpu0 { mutex_lock(&M); g = 1; mutex_unlock(&M); }
task b on cpu1 { mutex_lock(&M); g = 2; mutex_unlock(&M); }
""", 2), "a:1, b:1, a, b")
    ev = events(e)
    assert "mutex_lock: M held by a; sleeps" in ev and "mutex_unlock: wakes b" in ev


def test_handoff_after_a_steal() -> None:
    """The first waiter, woken, finds the mutex stolen by a newcomer: it
    sets MUTEX_FLAG_HANDOFF, and the newcomer's unlock gives the mutex to
    it directly (__mutex_handoff)."""
    p, e = run(src("""task a on cpu0 { mutex_lock(&M); mutex_unlock(&M); }
task b on cpu1 { mutex_lock(&M); g = 1; mutex_unlock(&M); }
task c on cpu2 { mutex_lock(&M); int x = 0; mutex_unlock(&M); }
""", 3), "a:1, b:1, a, c:1, b:1, c, b")
    ev = events(e)
    assert "mutex_lock: M was taken first: MUTEX_FLAG_HANDOFF set" in ev
    assert "mutex_unlock: M handed off to b" in ev
    assert e.final is not None and not e.final.reports


def test_unlock_by_another_task_warns() -> None:
    """DEBUG_MUTEXES: MUTEX_WARN_ON(__owner_task(owner) != current) in
    __mutex_unlock_slowpath(), and the unlock happens anyway."""
    p, s = final(src("""task a on cpu0 { mutex_lock(&M); g = 1; while (g == 1) cond_resched(); }
task b on cpu0 { while (g == 0) cond_resched(); mutex_unlock(&M); int locked = mutex_is_locked(&M); g = 2; }
"""), "a:4, b")
    hs = heads(p, s)
    assert "WARNING: CPU: 0 PID: 2 at __mutex_unlock_slowpath (kernel/locking/mutex.c)" in hs
    assert any("DEBUG_LOCKS_WARN_ON(__owner_task(owner) != current): M" in t for t in texts(p, s))
    assert local(p, s, "b", "locked") == 0


def test_relocking_sleeps_for_ever() -> None:
    """Without lockdep nothing catches the recursion: the task sleeps in
    mutex_lock() for ever, which khungtaskd reports."""
    p, e = run(src("task t on cpu0 { mutex_lock(&M); mutex_lock(&M); }"))
    assert e.final is not None
    assert heads(p, e.final) == ["INFO: task t:1 blocked for more than 120 seconds."]
    assert "t:1 sleeps on M in mutex_lock()" in texts(p, e.final)[0]


def test_returning_with_a_mutex_held() -> None:
    p, s = final(src("task t on cpu0 { mutex_lock(&M); }"))
    assert heads(p, s) == ["WARNING: lock held when returning to user space!"]
    assert "1 lock held by t/1: M" in texts(p, s)[0]


def test_the_checker_keeps_spinlocks_and_mutexes_apart() -> None:
    d, = diags(src("task t on cpu0 { spin_lock(&M); }"))
    assert d.code == "E402"
    assert d.message == "`spin_lock` expects &LOCK of a spinlock_t, but `M` is a struct mutex"
    assert d.hint == "a struct mutex is taken with mutex_lock(&M) and mutex_unlock(&M)"
    d, = diags(src("task t on cpu0 { mutex_lock(&L); }"))
    assert d.message == "`mutex_lock` expects &LOCK of a struct mutex, but `L` is a spinlock_t"
    d, = diags(src("task t on cpu0 { mutex_lock(M); }"))
    assert d.message == "`mutex_lock` expects the address of a struct mutex, got `M`"
    d, = diags(src("task t on cpu0 { int x = 1; }") + "DEFINE_MUTEX(M);\n")
    assert d.code == "E205"
