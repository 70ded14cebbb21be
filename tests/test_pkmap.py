"""The pkmap pool against mm/highmem.c (docs/kernel-semantics.md §4, §13.1-9)."""

from __future__ import annotations

from kmaptest import events, final, heads, kinds, local, pkmap_count, program, run, slot_of

ARM = """
config { ARCH = arm; LAST_PKMAP = 4; PAGE_SIZE = 64; L1_CACHE_BYTES = 16; %s }
page P = alloc_page(GFP_HIGHUSER);
page Q = alloc_page(GFP_HIGHUSER);
page R = alloc_page(GFP_HIGHUSER);
page S = alloc_page(GFP_HIGHUSER);
page L = alloc_page(GFP_KERNEL);
"""


def arm(body: str, cfg: str = "") -> str:
    return ARM % cfg + body


def test_first_allocation_uses_slot_1():
    """map_new_virtual pre-increments last_pkmap_nr: slot 0 only by wrapping (§4.5)."""
    p, s = final(arm("task t on cpu0 { void *v = kmap(P); }"))
    assert slot_of(p, s, "P") == 1
    assert pkmap_count(p, s, "P") == 2
    assert s.last_pkmap_nr == 1
    assert local(p, s, "t", "v") == 0xBFE00000 + 64


def test_cache_hit_and_idle_reuse():
    """A second kmap of a mapped page is a hit; kunmap to count 1 keeps the slot (§4.7)."""
    p, s = final(arm("""task t on cpu0 {
        void *a = kmap(P); void *b = kmap(P);
        int c3 = pkmap_count(P);
        kunmap(P); kunmap(P);
        int idle = pkmap_count(P);
        void *c = kmap(P);
        int same = a == b && b == c;
    }"""))
    assert local(p, s, "t", "c3") == 3
    assert local(p, s, "t", "idle") == 1
    assert local(p, s, "t", "same") == 1
    assert pkmap_count(p, s, "P") == 2
    assert not s.reports


def test_wrap_flushes_idle_slots_once():
    """Passing slot 0 runs flush_all_zero_pkmaps: count-1 slots freed, one TLB flush (§13.3)."""
    p, e = run(arm("""task t on cpu0 {
        void *a = kmap(P); kunmap(P);
        void *b = kmap(Q); kunmap(Q);
        void *c = kmap(R); kunmap(R);
        void *d = kmap(S);
        void *again = kmap(P);
    }"""))
    s = e.final
    ev = events(e)
    assert sum("flush_tlb_kernel_range" in x for x in ev) == 1
    assert slot_of(p, s, "S") == 0          # wrapped: S took slot 0
    assert slot_of(p, s, "P") == 1          # P was freed and maps anew at slot 1
    assert slot_of(p, s, "Q") == -1 and slot_of(p, s, "R") == -1


def test_flush_with_nothing_reclaimable_has_no_tlb_flush():
    """flush_all_zero_pkmaps only flushes the TLB if it freed a slot (§13.4)."""
    p, e = run(arm("""task t on cpu0 {
        void *a = kmap(P); void *b = kmap(Q); void *c = kmap(R); void *d = kmap(S);
    }"""))
    ev = events(e)
    assert any("nothing to free, no TLB flush" in x for x in ev)
    assert not any("flush_tlb_kernel_range" in x for x in ev)
    assert slot_of(p, e.final, "S") == 0


EXHAUST = """
config { ARCH = x86; LAST_PKMAP = 2; PAGE_SIZE = 64; CONFIG_PREEMPTION = y; }
page A = alloc_page(GFP_HIGHUSER);
page B = alloc_page(GFP_HIGHUSER);
page C = alloc_page(GFP_HIGHUSER);
task holder on cpu0 {
    void *a = kmap(A);
    void *b = kmap(B);
    msleep(1);
    kunmap(B);
    kunmap(A);
}
task t on cpu0 {
    void *c = kmap(C);
    kunmap(C);
}
"""


def test_full_pool_sleeps_and_kunmap_wakes():
    """Every slot >= 2: kmap sleeps on pkmap_map_wait; kunmap to 1 wakes it (§13.5)."""
    p, e = run(EXHAUST, "holder:3, t, holder, t")
    ev = events(e)
    assert any("sleeping on pkmap_map_wait" in x for x in ev)
    assert any("wake_up(pkmap_map_wait) wakes t" in x for x in ev)
    assert not e.final.reports
    assert slot_of(p, e.final, "C") >= 0


def test_wakeup_only_when_count_drops_to_one():
    """kunmap_high wakes only on count 2 -> 1, not 3 -> 2 (§4.7)."""
    src = EXHAUST.replace("void *b = kmap(B);", "void *b = kmap(B); void *b2 = kmap(B);").replace(
        "kunmap(B);", "kunmap(B); kunmap(B);")
    p, e = run(src, "holder:4, t, holder:3")
    steps = [t.events for t in e.trace]
    first, second = [ev for ev in steps if any("kunmap_high" in x for x in ev)][:2]
    drop = [x for x in first + second if x.startswith("kunmap_high: pkmap_count")]
    assert drop[0].endswith("3 -> 2") and not any("wake_up" in x for x in first)
    assert drop[1].endswith("2 -> 1") and any("wakes t" in x for x in second)


def test_pool_full_forever_is_a_deadlock():
    """Nobody unmaps: the sleeper never wakes (hung task)."""
    src = EXHAUST.replace("kunmap(B);\n    kunmap(A);", "")
    p, e = run(src, "holder:3, t")
    assert "DEADLOCK" in kinds(p, e.final)
    assert any("INFO: task t:2 blocked for more than 120 seconds." == h for h in heads(p, e.final))


def test_somebody_else_mapped_it_while_we_slept():
    """Two sleepers for the same page: the second finds it mapped (§13.6)."""
    src = EXHAUST.replace("task t on cpu0 {", """task t2 on cpu0 {
        void *c2 = kmap(C);
        kunmap(C);
    }
    task t on cpu0 {""")
    p, e = run(src, "holder:3, t:1, t2:1, holder, t:1, t2:1")
    ev = events(e)
    assert any("somebody else mapped C while we slept" in x for x in ev)
    assert sum("C mapped at" in x for x in ev) == 1


def test_double_kunmap_is_a_kernel_bug():
    """count 1 -> 0 in kunmap_high: BUG() (§13.7)."""
    p, s = final(arm("task t on cpu0 { void *a = kmap(P); kunmap(P); kunmap(P); int after = 1; }"))
    assert kinds(p, s) == ["BUG"]
    assert heads(p, s)[0].startswith("kernel BUG at mm/highmem.c")
    assert local(p, s, "t", "after") == 0     # killed at the BUG


def test_kunmap_of_unmapped_page_bugs():
    """BUG_ON(!vaddr) in kunmap_high (§13.7)."""
    p, s = final(arm("task t on cpu0 { kunmap(Q); }"))
    assert "BUG_ON(!vaddr)" in "\n".join(__import__("kmaptest").texts(p, s))


def test_kunmap_of_lowmem_does_nothing():
    p, s = final(arm("task t on cpu0 { void *l = kmap(L); kunmap(L); kunmap(L); }"))
    assert not s.reports


def test_kmap_in_atomic_context_splats_but_continues():
    """might_sleep() before the PageHighMem test: lowmem too (§13.8)."""
    p, s = final(arm("task t on cpu0 { preempt_disable(); void *l = kmap(L); preempt_enable(); int ok = 1; }"))
    assert kinds(p, s) == ["BUG"]
    assert heads(p, s)[0].startswith("BUG: sleeping function called from invalid context at "
                                     "include/linux/highmem-internal.h")
    assert "in_atomic(): 1, irqs_disabled(): 0" in __import__("kmaptest").texts(p, s)[0]
    assert local(p, s, "t", "ok") == 1


def test_arm_kmap_reenables_interrupts():
    """lock_kmap/unlock_kmap are spin_lock_irq/spin_unlock_irq on ARM (§4.2)."""
    p, s = final(arm("task t on cpu0 { local_irq_disable(); void *a = kmap(P); int off = irqs_disabled(); }"))
    assert local(p, s, "t", "off") == 0


def test_kmap_high_get_pins_without_mapping():
    """NULL when not in the pool; count++ when it is (§13.9)."""
    p, s = final(arm("""task t on cpu0 {
        void *none = kmap_high_get(P);
        void *a = kmap(P); kunmap(P);
        void *pin = kmap_high_get(P);
        int c = pkmap_count(P);
        kunmap_high(P);
    }"""))
    assert local(p, s, "t", "none") == 0
    assert local(p, s, "t", "pin") == local(p, s, "t", "a")
    assert local(p, s, "t", "c") == 2
    assert pkmap_count(p, s, "P") == 1


def test_kmap_high_get_is_null_without_arch_support():
    p, s = final(arm("task t on cpu0 { void *a = kmap(P); void *g = kmap_high_get(P); }",
                     "ARCH_NEEDS_KMAP_HIGH_GET = n;"))
    assert local(p, s, "t", "g") == 0


def test_pinned_slot_survives_a_wrap():
    """flush_all_zero_pkmaps frees only count-1 slots (§4.6)."""
    p, s = final(arm("""task t on cpu0 {
        void *a = kmap(P); kunmap(P);
        void *pin = kmap_high_get(P);
        void *b = kmap(Q); kunmap(Q);
        void *c = kmap(R); kunmap(R);
        void *d = kmap(S);
        int still = page_address(P) == pin;
    }"""))
    assert local(p, s, "t", "still") == 1


def test_kmap_flush_unused_frees_idle_slots():
    p, s = final(arm("task t on cpu0 { void *a = kmap(P); kunmap(P); kmap_flush_unused(); int gone = page_address(P) == NULL; }"))
    assert local(p, s, "t", "gone") == 1


def test_page_address_and_kmap_to_page():
    """kmap_to_page on a pkmap address WARNs once (since 2022) and returns the page."""
    p, s = final(arm("""task t on cpu0 {
        int before = page_address(P) == NULL;
        void *a = kmap(P);
        struct page *pg = kmap_to_page(a);
        int same = pg == P;
        int low = page_address(L) != NULL;
    }"""))
    assert [local(p, s, "t", v) for v in ("before", "same", "low")] == [1, 1, 1]
    assert kinds(p, s) == ["WARN"] and "__kmap_to_page" in heads(p, s)[0]


def test_program_without_highmem_falls_back_to_lowmem():
    p = program("config { ARCH = x86; CONFIG_HIGHMEM = n; } page P = alloc_page(GFP_HIGHUSER); task t on cpu0 { }")
    assert p.pages[0].kind.name == "LOWMEM"


# ------------------------------------------------------------------------
# The TLB flush of a wrap waits for every other CPU (runtime/kernel/pkmap.py).
# flush_all_zero_pkmaps() (mm/highmem.c) ends with flush_tlb_kernel_range(),
# which on x86 is on_each_cpu(..., wait = 1) (arch/x86/mm/tlb.c): an IPI to
# every other CPU, waited for with kmap_lock held. Found by bench/crosscheck.py:
# bench/crosscheck/pkmap_flush_ipi_lockup.kmap locked up v6.1 (a CPU spinning
# with interrupts off on a lock the kmap() caller held), where the model
# finished.

SMP = """
config { ARCH = x86; NR_CPUS = 2; LAST_PKMAP = 4; PAGE_SIZE = 64; }
page PG[4] = alloc_page(GFP_HIGHUSER);
spinlock_t lock;
int go = 0;
int done = 0;
task a on cpu0 {
    for (int i = 0; i < 3; i++) {
        void *v = kmap(PG[i]);
        kunmap(PG[i]);
    }
    %s
    WRITE_ONCE(go, 1);
    void *w = kmap(PG[3]);          // wraps: frees slots 1-3, flushes
    kunmap(PG[3]);
    %s
    WRITE_ONCE(done, 1);
}
"""


def _ends(src: str) -> set[tuple[str, ...]]:
    from kmaptest import check
    p, r = check(src + "expect never DEADLOCK;")
    return {tuple(o.reports) for o in r.outcomes}


def test_the_wrap_s_flush_waits_for_a_cpu_with_interrupts_off():
    """cpu1 spins with interrupts off on the lock the kmap() caller holds:
    the IPI is never taken, a hard lockup (with kmap()'s might_sleep splat)."""
    src = SMP % ("spin_lock(&lock);", "spin_unlock(&lock);") + """
task b on cpu1 {
    unsigned long flags;
    while (!READ_ONCE(go))
        cpu_relax();
    spin_lock_irqsave(&lock, flags);
    spin_unlock_irqrestore(&lock, flags);
}
"""
    ends = _ends(src)
    assert any(any(r.startswith("DEADLOCK") for r in e) for e in ends), ends
    assert any(not any(r.startswith("DEADLOCK") for r in e) for e in ends), ends   # b first
    # with interrupts on, cpu1 takes the IPI while it spins: no lockup
    ends = _ends(src.replace("spin_lock_irqsave(&lock, flags);", "spin_lock(&lock);")
                 .replace("spin_unlock_irqrestore(&lock, flags);", "spin_unlock(&lock);"))
    assert not any(any(r.startswith("DEADLOCK") for r in e) for e in ends), ends


def test_the_flush_completes_once_the_other_cpu_enables_interrupts():
    """The IPI waits, with kmap_lock held (the waiting CPU's count raised),
    until cpu1 turns interrupts back on; kunmap() there meanwhile spins on
    kmap_lock (lock_kmap_any()), with interrupts on, and goes on after."""
    src = SMP % ("", "") + """
task b on cpu1 {
    void *x = kmap(PG[0]);
    local_irq_disable();
    while (!READ_ONCE(go))
        cpu_relax();
    int w = 0;
    for (int k = 0; k < 3; k++)
        w = w + 1;
    local_irq_enable();
    kunmap(PG[0]);
}
expect always PG[0][0] == 0;
"""
    ends = _ends(src)
    assert all(not any(r.startswith("DEADLOCK") for r in e) for e in ends), ends
    from kmap_scenarios.runtime.kernel import machine
    from kmap_scenarios.runtime.kernel.handler import PENDING_KMAP_IPI, PENDING_KMAP_LOCK
    from kmap_scenarios.runtime.kernel.state import initial_state
    p = program(src)
    s = initial_state(p)

    def step(name: str) -> None:
        nonlocal s
        ci = p.context_index(name)
        act = next(a for a in machine.enabled(p, s) if a[0] == ci)
        s, _ = machine.step(p, s, act)

    while not s.cpus[1].irqs_off:          # b: kmap(PG[0]), local_irq_disable()
        step("b")
    while not (s.ctxs[0].pending and s.ctxs[0].pending[0] == PENDING_KMAP_IPI):
        step("a")                          # a: up to its wrapping kmap(), which waits
    assert s.ctxs[0].preempt_count == 1 and s.last_pkmap_nr == 0
    step("a")
    assert s.ctxs[0].pending[0] == PENDING_KMAP_IPI   # still waiting
    while s.cpus[1].irqs_off:              # b turns interrupts back on
        step("b")
    step("b")                              # kunmap(PG[0]): kmap_lock is held
    assert s.ctxs[1].pending == (PENDING_KMAP_LOCK, 0) and s.ctxs[1].preempt_count == 1
    step("a")                              # the IPI is taken: the scan goes on
    assert s.ctxs[0].pending is None and s.ctxs[0].preempt_count == 0
    step("b")                              # the lock is free: kunmap_high()
    assert s.ctxs[1].pending is None and s.ctxs[1].preempt_count == 0


def test_a_kmap_step_reads_the_ipi_waiter_not_every_context():
    """Whether kmap_lock is held by a flush waiting for its IPI is one
    position of the state (State.kmap_ipi), set and cleared by the waiting
    context: a kmap() step reads it and not the other contexts, so the
    memo serves it whatever they do (a scan of every context's pending made
    the one-CPU pkmap rung of bench/ladder.py 5x slower)."""
    from kmap_scenarios.runtime.kernel import machine
    from kmap_scenarios.runtime.kernel.state import initial_state
    from kmap_scenarios.runtime.kernel.tx import CTXS, FIELD
    p = program("""config { ARCH = x86; NR_CPUS = 2; LAST_PKMAP = 4; PAGE_SIZE = 64; }
page P = alloc_page(GFP_HIGHUSER);
task a on cpu0 { void *v = kmap(P); kunmap(P); }
task b on cpu1 { void *x = kmap(P); kunmap(P); }
""")
    s = initial_state(p)
    for a, other in (((0, 0), 1), ((1, 1), 0)):
        reads: list[tuple[int, int]] = []
        machine.step(p, s, a, reads=reads)
        assert (FIELD["kmap_ipi"], -1) in reads
        # the idle task it switches from is read (its kmap_local slots), the other task not
        assert (CTXS, other) not in reads and (CTXS, -1) not in reads, reads
