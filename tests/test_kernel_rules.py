"""Kernel rules pinned one by one, each from the v6.1 source it cites.

Each test here was written from the kernel first (the file and function in
its docstring), then run against the model. They pin the rules that
mutation testing (tests/tools/mutate.py, docs/mutation.md) found no other
test noticing when changed.
"""

from __future__ import annotations

from kmaptest import after, events, final, heads, kinds, local, run, slot_of, texts

ARM = """
config { ARCH = arm; LAST_PKMAP = 4; PAGE_SIZE = 64; L1_CACHE_BYTES = 16; %s }
page P = alloc_page(GFP_HIGHUSER);
page Q = alloc_page(GFP_HIGHUSER);
page R = alloc_page(GFP_HIGHUSER);
page S = alloc_page(GFP_HIGHUSER);
page L = alloc_page(GFP_KERNEL);
"""

X86 = """
config { ARCH = x86; LAST_PKMAP = 4; PAGE_SIZE = 64; %s }
page P = alloc_page(GFP_HIGHUSER);
page Q = alloc_page(GFP_HIGHUSER);
page L = alloc_page(GFP_KERNEL);
"""


def arm(body: str, cfg: str = "") -> str:
    return ARM % cfg + body


def x86(body: str, cfg: str = "") -> str:
    return X86 % cfg + body


# ------------------------------------------------------------ pkmap pool


def test_pkmap_count_of_slot_0_and_of_an_unmapped_page():
    """pkmap_count[] is indexed by PKMAP_NR(vaddr) (mm/highmem.c); slot 0
    is reached only by the wrap of map_new_virtual()'s pre-incremented
    last_pkmap_nr, and a page with no slot has no count (0)."""
    p, s = final(arm("""task t on cpu0 {
        void *a = kmap(P); void *b = kmap(Q); void *c = kmap(R); void *d = kmap(S);
        int slot0 = pkmap_count(S);
        int none = pkmap_count(L);
        kunmap(S);
        int idle0 = pkmap_count(S);
    }"""))
    assert slot_of(p, s, "S") == 0
    assert local(p, s, "t", "slot0") == 2
    assert local(p, s, "t", "none") == 0
    assert local(p, s, "t", "idle0") == 1


def test_a_nested_kmap_stays_valid_after_one_kunmap():
    """kunmap_high() only decrements pkmap_count[] (mm/highmem.c): with two
    kmap() of the same page the mapping stays and the task may still use
    it; after the last kunmap() the address is released (the slot stays
    mapped at count 1, so the kernel does not fault: the model names it)."""
    p, s = final(arm("""task t on cpu0 {
        void *a = kmap(P); void *b = kmap(P);
        kunmap(P);
        a[0] = 1;
        int still = a[0];
        kunmap(P);
        int after = a[0];
    }"""))
    assert local(p, s, "t", "still") == 1
    assert local(p, s, "t", "after") == 1        # the PTE is still there
    assert kinds(p, s) == ["USE_AFTER_UNMAP"]
    assert f"read of {local(p, s, 't', 'a'):#x} (P) after its mapping was released" in texts(p, s)[0]


def test_kmap_again_at_the_same_address_is_a_new_mapping():
    """kmap() of an idle page (count 1) finds it by page_address() and
    takes a new reference (kmap_high, mm/highmem.c): the earlier release is
    forgotten, at slot 1 as at any slot."""
    p, s = final(arm("""task t on cpu0 {
        void *a = kmap(P); kunmap(P);
        void *b = kmap(P);
        b[0] = 2;
        int v = b[0];
        kunmap(P);
    }"""))
    assert local(p, s, "t", "a") == local(p, s, "t", "b") == p.config.pkmap_addr(1)
    assert local(p, s, "t", "v") == 2
    assert not s.reports


def test_kmap_high_get_takes_its_own_reference():
    """kmap_high_get() increments pkmap_count[] (mm/highmem.c): a
    kunmap_high() matching it leaves the kmap() reference, still usable."""
    p, s = final(arm("""task t on cpu0 {
        void *a = kmap(P);
        void *g = kmap_high_get(P);
        kunmap_high(P);
        int c = pkmap_count(P);
        a[0] = 3;
        kunmap(P);
    }"""))
    assert local(p, s, "t", "g") == local(p, s, "t", "a")
    assert local(p, s, "t", "c") == 2
    assert not s.reports


def test_kmap_high_get_of_a_page_not_in_the_pool_says_null():
    """kmap_high_get(): page_address() is NULL, nothing is pinned
    (mm/highmem.c); the trace says so."""
    p, e = run(arm("task t on cpu0 { void *g = kmap_high_get(P); }"))
    assert local(p, e.final, "t", "g") == 0
    assert "kmap_high_get: P not in the pool: NULL" in events(e)


def test_kmap_flush_unused_reenables_interrupts_on_arm_only():
    """__kmap_flush_unused() is lock_kmap(); flush_all_zero_pkmaps();
    unlock_kmap() (mm/highmem.c); with ARCH_NEEDS_KMAP_HIGH_GET unlock_kmap()
    is spin_unlock_irq(): interrupts are on afterwards. Without it,
    spin_unlock() leaves them as they were."""
    body = "task t on cpu0 { local_irq_disable(); kmap_flush_unused(); int off = irqs_disabled(); }"
    p, e = run(arm(body))
    assert local(p, e.final, "t", "off") == 0
    assert "unlock_kmap: spin_unlock_irq() re-enabled interrupts" in events(e)
    p, s = final(arm(body, "ARCH_NEEDS_KMAP_HIGH_GET = n;"))
    assert local(p, s, "t", "off") == 1


def test_a_count_left_at_0_by_a_kunmap_bug_trips_the_later_bug_ons():
    """kunmap_high() BUG()s when the count drops to 0 and leaves the slot
    mapped at count 0. A later kmap_high_get() finds page_address() set and
    hits BUG_ON(pkmap_count[PKMAP_NR(vaddr)] < 1); a later kmap() takes the
    count to 1 and hits BUG_ON(pkmap_count[PKMAP_NR(vaddr)] < 2)
    (mm/highmem.c). The model has no kmap_lock, so these run as on a UP
    kernel, where spinlocks do not spin (include/linux/spinlock_up.h); on SMP
    the killed task would still hold kmap_lock."""
    p, s = final(arm("""task t on cpu0 { void *a = kmap(P); kunmap(P); kunmap(P); }
task u on cpu0 { void *g = kmap_high_get(P); int after = 1; }
task w on cpu0 { void *k = kmap(P); int after = 1; }"""))
    assert kinds(p, s) == ["BUG", "BUG", "BUG"]
    assert sorted(heads(p, s)) == ["kernel BUG at mm/highmem.c:kmap_high!",
                                   "kernel BUG at mm/highmem.c:kmap_high_get!",
                                   "kernel BUG at mm/highmem.c:kunmap_high!"]
    text = "\n".join(texts(p, s))
    assert "BUG_ON(pkmap_count[PKMAP_NR(vaddr)] < 1)" in text
    assert "BUG_ON(pkmap_count[PKMAP_NR(vaddr)] < 2)" in text
    assert local(p, s, "u", "after") == 0 and local(p, s, "w", "after") == 0


def test_kunmap_high_of_a_lowmem_page_indexes_out_of_the_pool():
    """kunmap_high() (mm/highmem.c) takes page_address(page), which for a
    lowmem page is its direct-map address, not NULL: BUG_ON(!vaddr) does not
    fire and PKMAP_NR(vaddr) indexes far past pkmap_count[]. The model
    stops there; it does so for every lowmem page, the first one included."""
    p, s = final("""config { ARCH = arm; LAST_PKMAP = 4; PAGE_SIZE = 64; }
page L = alloc_page(GFP_KERNEL);
page P = alloc_page(GFP_HIGHUSER);
task t on cpu0 { kunmap_high(L); int after = 1; }""")
    assert heads(p, s) == ["kernel BUG at mm/highmem.c:kunmap_high!"]
    assert "pkmap_count[PKMAP_NR(vaddr)] of the lowmem page L is out of bounds" in texts(p, s)[0]
    assert local(p, s, "t", "after") == 0


def test_kmap_high_get_is_a_new_mapping_of_the_address():
    """kmap_high_get() (mm/highmem.c) pins the page at its pkmap address
    until the matching kunmap_high(): for the task it is a new mapping of
    that address, like kmap(). A stale pointer to the address, faulting
    once the slot is freed (flush_all_zero_pkmaps), is named after the page
    the task last had there: Q from kmap_high_get(), not P from its older
    kmap()."""
    p, s = final("""config { ARCH = arm; LAST_PKMAP = 4; PAGE_SIZE = 64; CONFIG_PREEMPTION = y; }
page P = alloc_page(GFP_HIGHUSER);
page Q = alloc_page(GFP_HIGHUSER);
page R = alloc_page(GFP_HIGHUSER);
page S = alloc_page(GFP_HIGHUSER);
page T = alloc_page(GFP_HIGHUSER);
task t on cpu0 {
    void *a = kmap(P); kunmap(P);
    void *b = kmap(R); kunmap(R);
    void *c = kmap(S); kunmap(S);
    void *d = kmap(T); kunmap(T);
    void *g = kmap_high_get(Q);
    g[0] = 1;
    kunmap_high(Q);
    kmap_flush_unused();
    int x = a[0];
}
task u on cpu0 { void *q = kmap(Q); kunmap(Q); }""", "t:8, u:1, t:3, u, t")
    a = local(p, s, "t", "a")
    assert local(p, s, "t", "g") == a == p.config.pkmap_addr(1)
    assert kinds(p, s) == ["OOPS", "USE_AFTER_UNMAP"]
    assert f"read of {a:#x} (Q) after its mapping was released" in texts(p, s)[1]

# ------------------------------------------------------------ kmap_local


def test_vivt_flush_in_kunmap_local_for_a_slot_other_than_0():
    """arch_kmap_local_pre_unmap() on ARM VIVT is
    __cpuc_flush_dcache_area(vaddr, PAGE_SIZE) (arch/arm/include/asm/highmem.h),
    called by kunmap_local_indexed() (mm/highmem.c) for whatever slot:
    the nested mapping's dirty line reaches RAM and leaves the cache."""
    p, e = run(arm("""task t on cpu0 {
        void *a = kmap_local_page(P);
        void *b = kmap_local_page(Q);
        b[0] = 7;
        kunmap_local(b);
        kunmap_local(a);
    }"""))
    s = e.final
    b = local(p, s, "t", "b")
    assert b == p.config.kmap_local_vaddr(0, 1)
    assert s.ram[1][0] == 7
    assert f"kunmap_local_indexed: VIVT __cpuc_flush_dcache_area({b:#x}): 1 line cleaned and " \
           "invalidated" in events(e)
    assert not s.reports


def test_vivt_flush_in_kmap_local_sched_out():
    """__kmap_local_sched_out() runs arch_kmap_local_pre_unmap() on every
    slot it clears (mm/highmem.c): on ARM VIVT the outgoing task's dirty
    lines are written back before the next task reuses the address."""
    p, e = run(arm("""
task t1 on cpu0 { void *a = kmap_local_page(P); a[0] = 0x11; msleep(1); kunmap_local(a); }
task t2 on cpu0 { void *b = kmap_local_page(Q); int seen = b[0]; kunmap_local(b); }""",
                   "CONFIG_PREEMPTION = y;"), "t1:3, t2, t1")
    s = e.final
    assert local(p, s, "t1", "a") == local(p, s, "t2", "b")
    assert local(p, s, "t2", "seen") == 0
    assert s.ram[0][0] == 0x11
    a = local(p, s, "t1", "a")
    assert f"__kmap_local_sched_out: VIVT __cpuc_flush_dcache_area({a:#x}): 1 line cleaned " \
           "and invalidated" in events(e)
    assert not s.reports


def test_kmap_local_slots_mapped_again_are_new_mappings():
    """__kmap_local_pfn_prot() installs a fresh PTE at the pushed slot
    (mm/highmem.c): an address released by kunmap_local() and mapped again,
    at slot 0 or slot 1, is valid again."""
    p, s = final(x86("""task t on cpu0 {
        void *a = kmap_local_page(P); void *b = kmap_local_page(Q);
        kunmap_local(b); kunmap_local(a);
        void *a2 = kmap_local_page(Q); void *b2 = kmap_local_page(P);
        a2[0] = 1; b2[0] = 2;
        kunmap_local(b2); kunmap_local(a2);
    }"""))
    assert local(p, s, "t", "a2") == local(p, s, "t", "a")
    assert local(p, s, "t", "b2") == local(p, s, "t", "b")
    assert (s.ram[0][0], s.ram[1][0]) == (2, 1)
    assert not s.reports


def test_kunmap_local_clears_the_saved_pteval():
    """kunmap_local_indexed(): current->kmap_ctrl.pteval[kmap_local_idx()] =
    __pte(0) before the pop (mm/highmem.c), so nothing stale is restored."""
    p, s = final(x86("""task t on cpu0 {
        void *a = kmap_local_page(P);
        kunmap_local(a);
    }"""))
    assert s.ctxs[0].pteval == (0,) * p.config.KM_MAX_IDX
    assert s.ctxs[0].kmap_idx == 0


def test_kunmap_local_of_a_user_address_warns():
    """kunmap_local_indexed() of an address outside the fixmap window that
    kmap_high_unmap_local() does not take: WARN_ON_ONCE(addr < PAGE_OFFSET)
    (mm/highmem.c)."""
    p, s = final(x86("task t on cpu0 { kunmap_local(0x1000); kunmap_local(0x2000); }"))
    assert heads(p, s) == ["WARNING: CPU: 0 PID: 1 at kunmap_local_indexed (mm/highmem.c)"]
    assert "WARN_ON_ONCE(addr < PAGE_OFFSET): addr 0x1000" in texts(p, s)[0]


def test_kunmap_local_of_a_user_pointer_warns_with_its_page():
    """kunmap_local_indexed() masks the pointer first (addr = vaddr &
    PAGE_MASK, mm/highmem.c): an odd user pointer is checked, and printed,
    as the address of its page."""
    p, s = final(x86("task t on cpu0 { kunmap_local(0x1001); }"))
    assert "WARN_ON_ONCE(addr < PAGE_OFFSET): addr 0x1000" in texts(p, s)[0]


def test_kunmap_local_of_a_pkmap_address():
    """kmap_high_unmap_local() (mm/highmem.c) calls kunmap_high() for a
    pkmap address only with ARCH_NEEDS_KMAP_HIGH_GET. On x86 the address is
    above PAGE_OFFSET: no warning and nothing released; on ARM the count
    drops."""
    body = "task t on cpu0 { void *a = kmap(P); kunmap_local(a); int c = pkmap_count(P); }"
    p, s = final(x86(body))
    assert local(p, s, "t", "c") == 2 and not s.reports
    p, s = final(arm(body))
    assert local(p, s, "t", "c") == 1 and not s.reports


def test_kmap_atomic_on_preempt_rt_disables_migration_not_preemption():
    """kmap_atomic_prot() with PREEMPT_RT: migrate_disable() instead of
    preempt_disable(), then pagefault_disable() (include/linux/highmem-internal.h);
    __kmap_local_pfn_prot() disables migration once more for a highmem
    page (mm/highmem.c); __kunmap_atomic() undoes both."""
    s = after(x86("task t on cpu0 { void *l = kmap_atomic(L); kunmap_atomic(l); }",
                  "CONFIG_PREEMPT_RT = y;"), 1)
    t = s.ctxs[0]
    assert (t.migration_disabled, t.preempt_count, t.pagefault_disabled) == (1, 0, 1)
    s = after(x86("task t on cpu0 { void *h = kmap_atomic(P); kunmap_atomic(h); }",
                  "CONFIG_PREEMPT_RT = y;"), 1)
    t = s.ctxs[0]
    assert (t.migration_disabled, t.preempt_count, t.pagefault_disabled, t.kmap_idx) == (2, 0, 1, 1)
    p, s = final(x86("""task t on cpu0 {
        void *h = kmap_atomic(P); void *l = kmap_atomic(L);
        kunmap_atomic(l); kunmap_atomic(h);
    }""", "CONFIG_PREEMPT_RT = y;"))
    t = s.ctxs[0]
    assert (t.migration_disabled, t.preempt_count, t.pagefault_disabled) == (0, 0, 0)
    assert not s.reports


def test_kmap_to_page_of_kmap_local_addresses():
    """__kmap_to_page() (mm/highmem.c): for an address in the kmap_local
    window, WARN_ON_ONCE, then the page whose kmap_ctrl.pteval[] maps that
    slot's address, looking at every slot of the task. Not for slot 0 of
    CPU 0, which the window's `base < __fix_to_virt(FIX_KMAP_BEGIN)` leaves
    out (tests/test_kmap_to_page.py): a, mapped there, goes to
    virt_to_page(), which is no page of the scenario."""
    p, s = final(x86("""task t on cpu0 {
        void *a = kmap_local_page(P);
        void *b = kmap_local_page(Q);
        void *c = kmap_local_page(P);
        int pa = kmap_to_page(a + 5) == P;
        int pb = kmap_to_page(b) == Q;
        int pc = kmap_to_page(c + 5) == P;
        kunmap_local(c);
        kunmap_local(b);
        kunmap_local(a);
    }"""))
    assert local(p, s, "t", "pa") == 0
    assert local(p, s, "t", "pb") == 1
    assert local(p, s, "t", "pc") == 1
    assert heads(p, s) == ["WARNING: CPU: 0 PID: 1 at __kmap_to_page (mm/highmem.c)"]
    assert "FIX_KMAP_END" in texts(p, s)[0]


def test_a_kunmap_local_underflow_on_cpu1_clears_the_slot_below_its_range():
    """kunmap_local_indexed() (mm/highmem.c) with kmap_ctrl.idx 0: the
    unmap index is kmap_local_idx() = -1, plus KM_MAX_IDX * cpu
    (arch_kmap_local_unmap_idx -> kmap_local_calc_idx), so on x86's linear
    PTE array (kmap_get_pte: __kmap_pte[-idx]) cpu1 clears cpu0's last
    slot, and cpu0 an entry below the kmap_local range; the WARN_ON_ONCE
    on the address comes first and kmap_local_idx_pop()'s BUG_ON(idx < 0)
    after the PTE is cleared."""
    body = "task t on cpu%d { void *c = kmap_local_page(P); kunmap_local(c); kunmap_local(c); }"
    for cpu, cleared in (
            (1, "cleared slot 15 of cpu0 (no PTE there; kmap_local_calc_idx(-1) on cpu1 is "
                "cpu0's last slot)"),
            (0, "pte_clear() of fixmap index FIX_KMAP_BEGIN - 1 (kmap_local_calc_idx(-1) on "
                "cpu0: the entry below the kmap_local slots, not a slot of any CPU)")):
        p, e = run(smp(body % cpu))
        assert heads(p, e.final) == [f"WARNING: CPU: {cpu} PID: 1 at kunmap_local_indexed (mm/highmem.c)",
                                     "kernel BUG at mm/highmem.c:kmap_local_idx_pop!"]
        assert f"kunmap_local: idx 0 -> -1, {cleared}" in events(e)


def test_kmap_to_page_of_a_direct_map_address_is_virt_to_page():
    """__kmap_to_page() (mm/highmem.c): an address outside the pkmap and
    kmap_local windows is virt_to_page(vaddr), with no warning: a lowmem
    page's page_address(), anywhere in the page, gives the page back, on
    ARM too, where the direct map starts at PHYS_PFN_OFFSET
    (arch/arm/include/asm/memory.h, __virt_to_phys)."""
    body = """task t on cpu0 {
        void *l = page_address(L);
        int same = kmap_to_page(l) == L;
        int inside = kmap_to_page(l + 5) == L;
    }"""
    for src in (x86(body), arm(body)):
        p, e = run(src)
        s = e.final
        assert (local(p, s, "t", "same"), local(p, s, "t", "inside")) == (1, 1)
        assert not s.reports
        assert not [ev for ev in events(e) if "__kmap_to_page" in ev]


def test_kmap_local_of_a_page_in_the_pkmap_pool_on_arm_pins_it():
    """__kmap_local_page_prot() (mm/highmem.c) first tries
    arch_kmap_local_high_get(), on ARM kmap_high_get()
    (arch/arm/include/asm/highmem.h): a page kmap()ed already is pinned at
    its pkmap address, no fixmap slot is pushed, and the trace says so."""
    p, e = run(arm("""task t on cpu0 {
        void *k = kmap(P);
        void *l = kmap_local_page(P);
        int c = pkmap_count(P);
        kunmap_local(l);
        kunmap(P);
    }"""))
    s = e.final
    assert local(p, s, "t", "l") == local(p, s, "t", "k") and local(p, s, "t", "c") == 3
    assert s.ctxs[0].kmap_idx == 0 and not s.reports
    assert "arch_kmap_local_high_get: P already in the pkmap pool, pinned instead of a fixmap " \
           "slot" in events(e)


def test_an_out_of_order_kunmap_local_on_arm_leaves_the_top_pte_for_the_next_push():
    """On ARM (KMAP_LOCAL_NON_LINEAR_PTE_ARRAY) kunmap_local_indexed()
    clears the PTE of the address given (kmap_get_pte: virt_to_kpte(vaddr),
    mm/highmem.c) but pops the top index: unmapping a before b leaves b's
    PTE in slot 1, and the next kmap_local_page() pushes slot 1 again and
    hits BUG_ON(!pte_none(*kmap_pte)) in __kmap_local_pfn_prot(), naming the
    pfn still mapped there: Q's."""
    p, s = final(arm("""task t on cpu0 {
        void *a = kmap_local_page(P); void *b = kmap_local_page(Q);
        kunmap_local(a);
        void *c = kmap_local_page(R);
        int after = 1;
    }"""))
    q = p.pages[1].pfn
    assert heads(p, s)[:2] == ["WARNING: CPU: 0 PID: 1 at kunmap_local_indexed (mm/highmem.c)",
                               "kernel BUG at mm/highmem.c:__kmap_local_pfn_prot!"]
    assert texts(p, s)[1].splitlines()[1] == \
        f"BUG_ON(!pte_none(*kmap_pte)): slot 1 of CPU 0 still maps pfn {q:#x}"
    assert local(p, s, "t", "after") == 0


def test_a_read_after_kunmap_local_faults_and_names_the_page_unmapped():
    """kunmap_local_indexed() clears the slot's PTE (pte_clear, mm/highmem.c):
    a later read through the pointer faults, the x86 oops of
    page_fault_oops() (arch/x86/mm/fault.c) or ARM's __do_kernel_fault()
    (arch/arm/mm/fault.c); the model names the page that was mapped there,
    Q, not its neighbour P."""
    for arch, oops in (("x86", "BUG: unable to handle page fault for address: ffffff80"),
                       ("arm", "Unable to handle kernel paging request at virtual address ffefff80")):
        p, s = final(f"""config {{ ARCH = {arch}; PAGE_SIZE = 64; LAST_PKMAP = 4; }}
page P = alloc_page(GFP_HIGHUSER);
page Q = alloc_page(GFP_HIGHUSER);
task t on cpu0 {{ void *a = kmap_local_page(Q); kunmap_local(a); int x = a[0]; }}""")
        a = local(p, s, "t", "a")
        assert kinds(p, s) == ["OOPS", "USE_AFTER_UNMAP"]
        assert texts(p, s)[0].splitlines()[0] == oops
        assert f"read of {a:#x} (Q) after its mapping was released" in texts(p, s)[1]


def test_kmap_to_page_warns_down_to_fix_kmap_end():
    """__kmap_to_page() (mm/highmem.c) WARNs for base >=
    __fix_to_virt(FIX_KMAP_END), FIX_KMAP_END = FIX_KMAP_BEGIN + KM_MAX_IDX *
    NR_CPUS - 1 (arch/x86/include/asm/fixmap.h): the last slot of the last
    CPU is inside the kmap_local range, the page below it is not."""
    body = """task t on cpu0 {
        void *a = kmap_local_page(P);
        void *last = a - %d * 64;
        kunmap_local(a);
        int r = kmap_to_page(last);
    }"""
    p, s = final(smp(body % 31))          # KM_MAX_IDX 16 * NR_CPUS 2 - 1 below slot 0 of cpu0
    assert heads(p, s) == ["WARNING: CPU: 0 PID: 1 at __kmap_to_page (mm/highmem.c)"]
    p, s = final(smp(body % 32))
    assert not s.reports


def test_a_softirq_maps_with_kmap_local_without_the_hardirq_warning():
    """kmap_local_idx_push() warns on in_hardirq() && !irqs_disabled()
    (mm/highmem.c); in_hardirq() is hardirq_count() (include/linux/preempt.h),
    0 in a softirq handler, which handle_softirqs() runs with interrupts on
    (kernel/softirq.c): no warning, whichever path runs it. Run by
    ksoftirqd/0, a leaked mapping is on ksoftirqd's kmap_ctrl, and
    __kmap_local_sched_out() clears its slot when ksoftirqd sleeps: the
    next task maps slot 0 afresh."""
    p, e = run(smp("""int ran = 0;
task t on cpu0 { raise_softirq(s); int a = 1; void *b = kmap_local_page(P); b[0] = 1; kunmap_local(b); }
softirq s on cpu0 { void *m = kmap_local_page(P); m[1] = 2; ran = 1; }""", "CONFIG_PREEMPTION = y;"),
               "t:1, s, t")
    assert not e.final.reports
    ev = events(e)
    assert ev[ev.index("ksoftirqd/0: handle_softirqs on cpu0 runs s"):] == [
        "ksoftirqd/0: handle_softirqs on cpu0 runs s",
        "kmap_local: idx 0 -> 1, slot 0 of cpu0 at 0xffffff80 maps pfn 0x38000",
        "softirq s returns",
        "__kmap_local_sched_out: cleared ksoftirqd/0's slot 0 on cpu0",
        "ksoftirqd/0 sleeps",
        "cpu0 runs t",
        "kmap_local: idx 0 -> 1, slot 0 of cpu0 at 0xffffff80 maps pfn 0x38000",
        "kunmap_local: idx 1 -> 0, cleared slot 0 of cpu0 (pfn 0x38000)",
        "t returns to user space"]


def test_kmap_local_pfn_of_no_page_of_the_scenario_oopses_before_the_push():
    """__kmap_local_pfn_prot() maps whatever pfn it is given (mm/highmem.c);
    the model has no memory behind a pfn of no page of the scenario, so it
    stops there (docs/language.md, kmap_local_pfn), before any slot is
    pushed: the task dies with its kmap_ctrl untouched."""
    p, s = final(x86("task t on cpu0 { void *a = kmap_local_pfn(0x1234); int after = 1; }"))
    assert texts(p, s) == ["OOPS: __kmap_local_pfn_prot\npfn 0x1234 is not a page of this "
                           "scenario\n  in t on cpu0 at t.kmap:6: task t on cpu0 { void *a = "
                           "kmap_local_pfn(0x1234); int after = 1; }"]
    assert local(p, s, "t", "after") == 0 and s.ctxs[0].kmap_idx == 0


def test_kunmap_local_takes_any_address_inside_the_page():
    """kunmap_local_indexed() masks the address with PAGE_MASK
    (mm/highmem.c): a pointer into the middle of the mapping, odd or even,
    unmaps its slot with no warning."""
    p, s = final(x86("""task t on cpu0 {
        void *a = kmap_local_page(P); void *b = kmap_local_page(Q);
        kunmap_local(b + 5); kunmap_local(a + 62);
    }"""))
    assert not s.reports and s.ctxs[0].kmap_idx == 0
    assert s.cpus[0].fixmap[:2] == (0, 0)


def test_only_a_vivt_cache_is_flushed_at_kunmap_local():
    """arch_kmap_local_pre_unmap() flushes the page only if cache_is_vivt()
    (arch/arm/include/asm/highmem.h); a physically tagged cache (VIPT
    non-aliasing) and x86 have nothing to do there."""
    body = "task t on cpu0 { void *a = kmap_local_page(P); a[0] = 1; kunmap_local(a); }"
    _, e = run(arm(body))
    assert [ev for ev in events(e) if "__cpuc_flush_dcache_area" in ev] == [
        "kunmap_local_indexed: VIVT __cpuc_flush_dcache_area(0xffefff80): 1 line cleaned and "
        "invalidated"]
    for src in (arm(body, "CACHE = vipt;"), x86(body)):
        _, e = run(src)
        assert not [ev for ev in events(e) if "__cpuc_flush_dcache_area" in ev]


# ------------------------------------------------------- scheduler, locks

SMP = """
config { ARCH = x86; PAGE_SIZE = 64; LAST_PKMAP = 4; NR_CPUS = 2; %s }
page P = alloc_page(GFP_HIGHUSER);
page U = alloc_user_page(not_present);
page V = alloc_user_page(present);
int g = 0;
spinlock_t lock;
"""


def smp(body: str, cfg: str = "") -> str:
    return SMP % cfg + body


def test_unbalanced_migrate_enable_warns_once():
    """migrate_enable(): if (WARN_ON_ONCE(!p->migration_disabled)) return;
    (kernel/sched/core.c): the count stays 0."""
    p, s = final(smp("task t on cpu0 { migrate_enable(); migrate_enable(); }"))
    assert heads(p, s) == ["WARNING: CPU: 0 PID: 1 at migrate_enable (kernel/sched/core.c)"]
    assert s.ctxs[0].migration_disabled == 0


def test_the_idle_tasks_count_is_reset_after_its_schedule_bug():
    """schedule_debug() on the idle task's __schedule() prints "scheduling
    while atomic" and preempt_count_set(PREEMPT_DISABLED) resets the count
    (kernel/sched/core.c): the next switch away from idle is quiet."""
    p, e = run(smp("""
irq timer on cpu0 { preempt_disable(); }
task t on cpu0 { int a = 1; }
task u on cpu0 { int b = 1; }"""), "timer, t, u")
    assert heads(p, e.final) == ["BUG: scheduling while atomic: swapper/0/0/0x00000002"]


def test_a_task_that_migrates_leaves_its_old_cpu_idle():
    """A running task moved to another CPU (the stopper thread's
    migration, kernel/sched/core.c migration_cpu_stop -> move_queued_task)
    leaves its old CPU to run its idle task: once done, the machine is as if
    the task had run on cpu1 from the start; the trace names the move."""
    src = """config { ARCH = x86; PAGE_SIZE = 64; NR_CPUS = 2; CONFIG_PREEMPTION = y; }
int g = 0;
task t { g = 1; g = 2; }"""
    _, moved = run(src, "t@cpu0:1, t@cpu1")
    _, there = run(src, "t@cpu1")
    assert events(moved) == ["cpu0 runs t", "t migrates cpu0 -> cpu1", "t returns to user space"]
    assert moved.final == there.final
    assert [c.curr for c in moved.final.cpus] == [-1, -1]


def test_ksoftirqd_takes_the_cpu_from_a_task_and_from_the_idle_task():
    """ksoftirqd/N is a kthread: __schedule() switches to it like to any
    task (kernel/sched/core.c, prepare_task_switch), from the running task
    or from the idle task, whose schedule_debug() first reports a count an
    irq leaked on it ("scheduling while atomic" for swapper/0, the count
    + 1); run_ksoftirqd() (kernel/softirq.c) runs the pending softirqs and
    the thread sleeps again."""
    p, e = run(smp("""int ran = 0;
task t on cpu0 { raise_softirq(s); int a = 1; }
softirq s on cpu0 { ran = 1; }""", "CONFIG_PREEMPTION = y;"), "t:1, s, t")
    ev = events(e)
    assert ev[ev.index("wakeup_softirqd: ksoftirqd/0 is woken"):] == [
        "wakeup_softirqd: ksoftirqd/0 is woken", "context switch on cpu0: t -> ksoftirqd/0",
        "ksoftirqd/0: handle_softirqs on cpu0 runs s", "softirq s returns", "ksoftirqd/0 sleeps",
        "cpu0 runs t", "t returns to user space"]
    p, e = run(smp("""int ran = 0;
task t on cpu0 { raise_softirq(s); }
irq timer on cpu0 { preempt_disable(); }
softirq s on cpu0 { ran = 1; }"""), "t, timer, s")
    assert heads(p, e.final) == ["BUG: scheduling while atomic: swapper/0/0/0x00000002"]
    assert e.final.cpus[0].curr == -1          # the idle task again, as before ksoftirqd ran
    ev = events(e)
    assert ev[ev.index("irq timer returns"):] == [
        "irq timer returns", "report BUG: scheduling while atomic: swapper/0/0/0x00000002",
        "cpu0 runs ksoftirqd/0", "ksoftirqd/0: handle_softirqs on cpu0 runs s",
        "softirq s returns", "ksoftirqd/0 sleeps"]


def test_ksoftirqd_switches_the_idle_tasks_kmap_local_slots_out_and_back_in():
    """An irq on an idle CPU that leaks a kmap_local mapping leaves it on
    the idle task's kmap_ctrl (mm/highmem.c: `current` is the idle task).
    __schedule() to ksoftirqd/0 and back runs __kmap_local_sched_out() and
    __kmap_local_sched_in() for the idle task as for any (kernel/sched/core.c
    prepare_task_switch, finish_task_switch): the slot is cleared while
    ksoftirqd runs and its PTE is back once it sleeps."""
    p, e = run(smp("""int ran = 0;
task t on cpu0 { raise_softirq(s); }
irq i on cpu0 { void *m = kmap_local_page(P); m[0] = 5; }
softirq s on cpu0 { ran = 1; }"""), "t, i, s")
    ev = events(e)
    assert ev[ev.index("irq i returns"):] == [
        "irq i returns", "__kmap_local_sched_out: cleared idle's slot 0 on cpu0",
        "cpu0 runs ksoftirqd/0", "ksoftirqd/0: handle_softirqs on cpu0 runs s",
        "softirq s returns", "__kmap_local_sched_in: restored idle's slot 0 on cpu0",
        "ksoftirqd/0 sleeps"]
    assert e.final.cpus[0].fixmap[0] == p.pages[0].pfn + 1
    assert not e.final.reports


def test_an_irq_leaves_its_unbalanced_count_to_the_task_and_keeps_its_own():
    """__irq_exit_rcu() subtracts HARDIRQ_OFFSET from the one count
    (kernel/softirq.c): a preempt_disable() the handler left stays with the
    task it interrupted, 0x1. The handler's own record in the model keeps
    the count it returned with, 0x10001 (runtime/kernel/sched.py
    irq_return_count)."""
    p, e = run(smp("""task t on cpu0 { int a = 1; int b = preempt_count(); preempt_enable(); }
irq i on cpu0 { preempt_disable(); }""", "CONFIG_PREEMPTION = y;"), "t:1, i, t")
    s = e.final
    assert local(p, s, "t", "b") == 1
    assert s.ctxs[p.context_index("i")].preempt_count == 0x10001
    assert "__irq_exit_rcu: preempt_count 0x00000001 is left to t" in events(e)
    assert not s.reports


def test_spinlock_contention_on_two_cpus_is_no_bug():
    """do_raw_spin_lock() (kernel/locking/spinlock_debug.c): the checks of
    debug_spin_lock_before() are against lock->owner == current and
    owner_cpu == this CPU; a lock held by a task on another CPU is only
    spun on, and taken once released."""
    p, e = run(smp("""
task a on cpu0 { spin_lock(&lock); g = g + 1; spin_unlock(&lock); }
task b on cpu1 { spin_lock(&lock); g = g + 1; spin_unlock(&lock); }"""), "a:1, b:1, a:2, b")
    assert not e.final.reports
    assert e.final.globals[0] == 2
    ev = events(e)
    assert ev.count("spin_lock: lock taken") == 2
    assert "spin_lock: lock held by a; spinning" in ev
    assert ev.count("spin_unlock: lock released") == 2


def test_a_task_spinning_on_its_own_lock_is_a_soft_lockup_on_that_lock():
    """spin_lock() of a lock the task holds: debug_spin_lock_before()'s
    spin_bug(lock, "recursion") (kernel/locking/spinlock_debug.c), then
    arch_spin_lock() spins for ever with preemption off, and
    watchdog_timer_fn() (kernel/watchdog.c) reports the soft lockup; the
    model names the lock it spins on."""
    p, s = final(smp("task a on cpu0 { spin_lock(&lock); spin_lock(&lock); }"))
    assert heads(p, s) == ["BUG: spinlock recursion on CPU#0, a/1",
                           "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [a:1]"]
    assert texts(p, s)[1].splitlines()[1] == "a:1 spins on lock"


def test_copy_from_user_under_spin_lock_returns_the_bytes_not_copied():
    """copy_from_user() under spin_lock(): __might_fault() splats
    (include/linux/kernel.h), the fault handler sees faulthandler_disabled()
    (in_atomic(), include/linux/uaccess.h; arch/x86/mm/fault.c) and the copy
    fails for a page that is not present; _copy_from_user() returns the
    bytes not copied and zeroes them in the kernel buffer. A present page
    is copied whole."""
    body = """task t on cpu0 {
        void *b = kmap_local_page(P);
        memset(b, 0x77, 8);
        spin_lock(&lock);
        int n = copy_from_user(b, %s, 8);
        spin_unlock(&lock);
        int first = b[0];
        kunmap_local(b);
    }"""
    p, s = final(smp(body % "U"))
    assert local(p, s, "t", "n") == 8 and local(p, s, "t", "first") == 0
    assert heads(p, s) == ["BUG: sleeping function called from invalid context at "
                           "include/linux/uaccess.h (copy_from_user)"]
    p, s = final(smp(body % "V"))
    assert local(p, s, "t", "n") == 0


# ----------------------------------------------------------- cache, DMA

CACHED = """
config { ARCH = arm; PAGE_SIZE = 64; L1_CACHE_BYTES = 16; LAST_PKMAP = 4; %s }
page B = alloc_page(GFP_KERNEL);
page C = alloc_page(GFP_KERNEL);
page H = alloc_page(GFP_HIGHUSER);
"""


def cached(body: str, cfg: str = "") -> str:
    return CACHED % cfg + body


def test_a_store_anywhere_in_a_line_is_cleaned_by_dma_map():
    """dma_map_page(DMA_TO_DEVICE) cleans the buffer line by line
    (arm926_dma_map_area -> arm926_dma_clean_range, arch/arm/mm/proc-arm926.S):
    a byte stored in the middle of a line reaches RAM with its line."""
    p, s = final(cached("""task t on cpu0 {
        void *b = page_address(B);
        b[5] = 7; b[17] = 8;
        dma_map_page(B, DMA_TO_DEVICE);
        int d5 = device_read(B, 5);
        int d17 = device_read(B, 17);
    }"""))
    assert (local(p, s, "t", "d5"), local(p, s, "t", "d17")) == (7, 8)
    assert not s.reports


def test_a_line_is_filled_from_its_start():
    """A miss fills the whole line that holds the address, so every byte
    read back is the byte at its own offset."""
    p, s = final(cached("""task t on cpu0 {
        void *b = page_address(B);
        b[5] = 5; b[6] = 6; b[20] = 20;
        flush_cache_all();
        int x = b[5]; int y = b[6]; int z = b[20];
    }"""))
    assert [local(p, s, "t", v) for v in ("x", "y", "z")] == [5, 6, 20]
    assert not s.reports


def test_a_read_across_lines_and_a_copy_across_lines():
    """memcpy() of 24 bytes from offset 8 reads three lines of 16 bytes."""
    p, s = final(cached("""task t on cpu0 {
        void *b = page_address(B);
        void *c = page_address(C);
        for (int i = 0; i < 40; i++) { b[i] = i; }
        memcpy(c, b + 8, 24);
        flush_cache_all();
    }"""))
    assert s.ram[1][:24] == bytes(range(8, 32))
    assert not s.reports


def test_flush_cache_all_invalidates_as_well_as_cleans():
    """flush_cache_all() cleans and invalidates the whole D-cache
    (arm926_flush_kern_cache_all, arch/arm/mm/proc-arm926.S): what the device
    writes afterwards is what the CPU reads."""
    p, s = final(cached("""task t on cpu0 {
        void *b = page_address(B);
        b[0] = 1;
        flush_cache_all();
        device_write(B, 0, 9, 1);
        int got = b[0];
    }"""))
    assert local(p, s, "t", "got") == 9
    assert not s.reports


def test_a_clean_line_is_dropped_not_written_back():
    """A line filled by a load is clean; flush_cache_all()
    (arm926_flush_kern_cache_all, arch/arm/mm/proc-arm926.S: clean and
    invalidate) writes back only dirty lines, so what the device wrote to
    RAM meanwhile stays there."""
    p, s = final(cached("""task t on cpu0 {
        void *b = page_address(B);
        int before = b[0];
        device_write(B, 0, 9, 1);
        flush_cache_all();
        int dev = device_read(B, 0);
        int cpu = b[0];
    }"""))
    assert [local(p, s, "t", v) for v in ("before", "dev", "cpu")] == [0, 9, 9]
    assert s.ram[0][0] == 9
    assert not s.reports


def test_an_unaligned_store_across_lines_updates_both_lines():
    """memset() of 8 bytes from offset 12 with 16-byte lines stores into
    two lines; the second, already cached, holds the new bytes, and both
    reach RAM when flushed."""
    p, s = final(cached("""task t on cpu0 {
        void *b = page_address(B);
        int warm = b[16];
        memset(b + 12, 7, 8);
        int first = b[12];
        int second = b[19];
        int past = b[20];
        flush_cache_all();
    }"""))
    assert [local(p, s, "t", v) for v in ("first", "second", "past")] == [7, 7, 0]
    assert s.ram[0][:24] == bytes(12) + b"\x07" * 8 + bytes(4)
    assert not s.reports


def test_data_loss_names_only_the_bytes_lost():
    """The 2009 race (examples/dma/slot_reuse.kmap): dma_map_page(DMA_FROM_DEVICE)
    invalidates through a pkmap address recycled for another page
    (dma_cache_maint_page, arch/arm/mm/dma-mapping.c, before kmap_high_get()).
    Of the discarded dirty lines, lost are the bytes whose newest value was
    only in the line: Q[5]; the line where Q[20] was stored with the value
    RAM already holds loses nothing."""
    p, e = run("""config { ARCH = arm; NR_CPUS = 1; CONFIG_PREEMPTION = y; LAST_PKMAP = 2;
    ARCH_NEEDS_KMAP_HIGH_GET = n; PAGE_SIZE = 64; L1_CACHE_BYTES = 16; }
page P = alloc_page(GFP_HIGHUSER);
page Q = alloc_page(GFP_HIGHUSER);
page R = alloc_page(GFP_HIGHUSER);
task dma on cpu0 { void *p = kmap(P); kunmap(P); dma_map_page(P, DMA_FROM_DEVICE); }
task writer on cpu0 {
    void *r = kmap(R); kunmap(R);
    void *q = kmap(Q);
    q[5] = 0x55; q[20] = 0;
    kunmap(Q);
}""", "dma:3, writer, dma")
    s = e.final
    assert kinds(p, s) == ["DATA_LOSS"]
    assert texts(p, s)[0].splitlines()[:2] == [
        "DATA_LOSS: dma_map_page discarded a dirty cache line holding the newest data", "Q[5..5]"]


PHYS = "CACHE = vipt;"


def test_a_physically_tagged_cache_has_no_aliases():
    """A non-aliasing VIPT cache tags lines by physical address: a store
    through one mapping of a page is seen through another. A VIVT cache
    tags by virtual address: the second alias misses and reads stale RAM
    (the reason for flush_dcache_page(), Documentation/core-api/cachetlb.rst)."""
    body = """task t on cpu0 {
        void *l = kmap_local_page(H);
        l[3] = 0x42;
        void *k = kmap(H);
        int v = k[3];
        kunmap(H);
        kunmap_local(l);
    }"""
    p, s = final(cached(body, PHYS))
    assert local(p, s, "t", "v") == 0x42 and not s.reports
    p, s = final(cached(body))
    assert local(p, s, "t", "v") == 0 and kinds(p, s) == ["STALE_READ"]


def test_dma_on_a_physically_tagged_cache_maintains_that_page_only():
    """With a physically tagged cache dma_map_page() maintains the buffer by
    physical address (the model's one step; arch/arm/mm/dma-mapping.c
    __dma_page_cpu_to_dev): the buffer's lines are cleaned, and the lines of
    the next page, C, are left alone, dirty data and all."""
    p, e = run(cached("""task t on cpu0 {
        void *b = page_address(B);
        void *c = page_address(C);
        b[0] = 7; b[5] = 5;
        dma_map_page(B, DMA_TO_DEVICE);
        int d = device_read(B, 0);
        int d5 = device_read(B, 5);
        c[0] = 8;
        dma_map_page(B, DMA_FROM_DEVICE);
        int keep = c[0];
    }""", PHYS))
    s = e.final
    assert p.pages[1].pfn == p.pages[0].pfn + 1
    assert [local(p, s, "t", v) for v in ("d", "d5", "keep")] == [7, 5, 8]
    assert not s.reports
    assert "dma_map_page(B): clean by physical address" in events(e)
    assert "dma_map_page(B): invalidate by physical address" in events(e)


def test_dma_bidirectional_map_cleans_and_invalidates():
    """arm926_dma_map_area: DMA_BIDIRECTIONAL -> arm926_dma_flush_range,
    clean and invalidate (arch/arm/mm/proc-arm926.S)."""
    p, s = final(cached("""task t on cpu0 {
        void *b = page_address(B);
        b[0] = 7;
        dma_map_page(B, DMA_BIDIRECTIONAL);
        int d = device_read(B, 0);
    }"""))
    assert local(p, s, "t", "d") == 7
    assert not s.reports
    assert not [ln for ln in s.cache if ln.page == 0]


COHERENT = "DMA_COHERENT = y;"


def test_a_coherent_device_snoops_the_vivt_cache():
    """A coherent device sees the CPU's dirty lines when it reads and
    replaces them when it writes (the model's DMA_COHERENT: no maintenance
    is needed, kernel/dma/direct.h dev_is_dma_coherent). It touches only the
    lines of the bytes it reads."""
    p, s = final(cached("""task t on cpu0 {
        void *b = page_address(B);
        b[0] = 7; b[15] = 5; b[16] = 6;
        int d0 = device_read(B, 0);
        int d15 = device_read(B, 15);
        device_write(B, 16, 9, 1);
        int c16 = b[16];
    }""", COHERENT))
    assert [local(p, s, "t", v) for v in ("d0", "d15", "c16")] == [7, 5, 9]
    assert not s.reports
    # before the end (which writes everything back): line 1 is still dirty
    s = after(cached("""task t on cpu0 {
        void *b = page_address(B);
        b[15] = 5; b[16] = 6;
        int d15 = device_read(B, 15);
    }""", COHERENT), 4)
    assert {ln.index: ln.dirty for ln in s.cache if ln.page == 0} == {0: False, 1: True}


def test_dma_events_say_when_no_maintenance_is_done():
    """No maintenance: a coherent device (dma_direct_map_page skips
    arch_sync_dma_for_device when dev_is_dma_coherent, kernel/dma/direct.h),
    unmapping DMA_TO_DEVICE (__dma_page_dev_to_cpu: dir != DMA_TO_DEVICE,
    arch/arm/mm/dma-mapping.c), and on VIVT a highmem page that is not
    mapped (dma_cache_maint_page: no kmap_high_get() address)."""
    _, e = run(cached("task t on cpu0 { dma_map_page(B, DMA_TO_DEVICE); }", COHERENT))
    assert "dma_map_page(B, DMA_TO_DEVICE): no CPU cache maintenance needed" in events(e)
    _, e = run(cached("task t on cpu0 { dma_unmap_page(B, DMA_TO_DEVICE); }"))
    assert "dma_unmap_page(B, DMA_TO_DEVICE): no CPU cache maintenance needed" in events(e)
    _, e = run(cached("task t on cpu0 { dma_map_page(H, DMA_TO_DEVICE); }"))
    assert "dma_map_page(H): not mapped, no L1 maintenance (VIVT lines were flushed when it " \
           "was unmapped)" in events(e)


def test_device_write_writes_exactly_its_bytes():
    """device_write(page, offset, value, len): len bytes of value & 0xff at
    offset, in RAM; nothing else changes."""
    p, e = run(cached("task t on cpu0 { device_write(B, 8, 0x15a, 4); }"))
    assert e.final.ram[0] == bytes(8) + b"\x5a" * 4 + bytes(52)
    assert e.final.newest[0] == e.final.ram[0]     # the newest value of every byte
    assert "device writes 0x5a x 4 to B[8..] in RAM" in events(e)


def test_a_device_write_of_no_bytes_writes_nothing():
    """device_write(page, offset, value, 0): a transfer of no bytes, inside
    the page at any offset up to PAGE_SIZE; RAM is unchanged."""
    p, s = final(cached("task t on cpu0 { device_write(B, 8, 0x11, 0); device_write(B, 64, 0x11, 0); }"))
    assert s.ram[0] == bytes(64) and not s.reports


def test_the_device_reaches_the_last_byte_of_its_page():
    """The page's last bytes are the page's: offset + len == PAGE_SIZE."""
    p, s = final(cached("task t on cpu0 { device_write(B, 60, 0x33, 4); int d = device_read(B, 63); }"))
    assert local(p, s, "t", "d") == 0x33 and s.ram[0][60:] == b"\x33" * 4
    assert not s.reports


def test_device_read_outside_its_page_stops_the_task():
    """The modelled device works on one page; reading past it is the
    scenario's mistake, reported like a failed assert."""
    p, s = final(cached("task t on cpu0 { int d = device_read(B, 64); int after = 1; }"))
    assert kinds(p, s) == ["ASSERT"]
    assert "bytes 64..64 are outside the 64-byte page B" in texts(p, s)[0]
    assert local(p, s, "t", "after") == 0


def test_maintenance_of_a_page_stops_at_its_neighbours():
    """flush_dcache_page() flushes the page's own kernel alias,
    __cpuc_flush_dcache_area(page_address(page), PAGE_SIZE) (arch/arm/mm/flush.c),
    and DMA maintenance covers the buffer only (dma_cache_maint_page,
    arch/arm/mm/dma-mapping.c): with pages as small as a line, the line of
    the page below is left alone."""
    small = """
config { ARCH = arm; PAGE_SIZE = 16; L1_CACHE_BYTES = 16; LAST_PKMAP = 4; %s }
page A = alloc_page(GFP_KERNEL);
page B = alloc_page(GFP_KERNEL);
task t on cpu0 {
    void *a = page_address(A);
    void *b = page_address(B);
    a[0] = 1; b[0] = 2;
    %s
    int da = device_read(A, 0);
    int db = device_read(B, 0);
}"""
    p, s = final(small % ("", "flush_dcache_page(B);"))
    assert p.pages[1].pfn == p.pages[0].pfn + 1
    assert (local(p, s, "t", "da"), local(p, s, "t", "db")) == (0, 2)
    assert texts(p, s) == ["STALE_READ: the device read stale data\nA[0] read 0x00 from RAM, "
                           "newest value 0x01 is still in a dirty cache line\n  in t on cpu0 at "
                           "t.kmap:10: int da = device_read(A, 0);"]
    # invalidating A's dirty line would be DATA_LOSS; it is still there
    p, s = final(small % ("CACHE = vipt;", "dma_map_page(B, DMA_FROM_DEVICE);"))
    assert "DATA_LOSS" not in kinds(p, s)
    assert any(t.startswith("STALE_READ: the device read stale data\nA[0] read 0x00 from RAM")
               for t in texts(p, s))


def test_a_fault_names_the_page_last_released_at_that_address():
    """A stale pkmap pointer whose slot was freed oopses (mm/highmem.c
    flush_all_zero_pkmaps clears the PTE); the model names the page the
    task last mapped and released at that address: a new kmap() there
    replaces the record of the older one."""
    p, s = final(arm("""task t on cpu0 {
        void *a = kmap(P); kunmap(P);
        void *b = kmap(Q); kunmap(Q);
        void *c = kmap(R); kunmap(R);
        void *d = kmap(S); kunmap(S);
        void *q = kmap(Q); kunmap(Q);
        kmap_flush_unused();
        int same = a == q;
        int x = a[0];
    }"""))
    assert local(p, s, "t", "same") == 1
    assert kinds(p, s) == ["OOPS", "USE_AFTER_UNMAP"]
    a = local(p, s, "t", "a")
    assert f"read of {a:#x} (Q) after its mapping was released" in "\n".join(texts(p, s))


def test_dma_unmap_invalidates_on_v7_only_not_on_a_vivt_core():
    """__dma_page_dev_to_cpu() calls dmac_unmap_area unless DMA_TO_DEVICE
    (arch/arm/mm/dma-mapping.c). On the write-back VIVT cores that is
    `ret lr`: arm926_dma_unmap_area (arch/arm/mm/proc-arm926.S), likewise
    v4wb, fa, xscale, feroceon, arm920, arm1020; they do not prefetch into
    the D-cache, so the invalidate at map time suffices. v6 and v7
    (cache-v7.S v7_dma_unmap_area) invalidate. A line the CPU pulled in
    while the device owned the buffer therefore stays stale on ARM926."""
    racy = """task t on cpu0 {
        void *b = page_address(B);
        dma_map_page(B, DMA_FROM_DEVICE);
        int during = b[0];
        device_write(B, 0, 0x5a, 4);
        dma_unmap_page(B, DMA_FROM_DEVICE);
        int after = b[0];
    }"""
    p, e = run(cached(racy))
    assert local(p, e.final, "t", "after") == 0 and kinds(p, e.final) == ["STALE_READ"]
    assert "dma_unmap_page(B, DMA_FROM_DEVICE): no CPU cache maintenance needed" in events(e)
    p, e = run(cached(racy, PHYS))
    assert local(p, e.final, "t", "after") == 0x5A and not e.final.reports
    assert "dma_unmap_page(B): invalidate by physical address" in events(e)


def test_kmap_to_page_of_an_address_kept_in_an_int():
    """kmap_to_page() takes a `void *`: an address kept in a signed int or
    global (negative above 0x80000000 on x86) is the same address once
    converted (docs/language.md: a signed int holding an address counts as
    the address), so __kmap_to_page() (mm/highmem.c) finds the pkmap and
    kmap_local pages with their WARN_ON_ONCEs. Found by the cross-check:
    bench/crosscheck/kmap_to_page_foreign.kmap passed a kmap_local address
    through a global `int`, and v6.1 found the page."""
    p, s = final(x86("""
int g = 0;
task t on cpu0 {
    void *v = kmap(P);
    int iv = (int)v;
    int pv = kmap_to_page(iv) == P;
    void *a = kmap_local_page(Q);
    void *b = kmap_local_page(P);
    g = (int)b;
    int pb = kmap_to_page(g + 5) == P;
    kunmap_local(b);
    kunmap_local(a);
    kunmap(P);
}"""))
    assert local(p, s, "t", "iv") < 0 and local(p, s, "t", "pv") == 1 and local(p, s, "t", "pb") == 1
    assert [h.split(" at ")[1] for h in heads(p, s)] == ["__kmap_to_page (mm/highmem.c)"] * 2
