"""kmap_local and kmap_atomic against mm/highmem.c (§6, §7, §13.12-21)."""

from __future__ import annotations

from kmaptest import after, events, final, heads, kinds, local, page, pkmap_count, program, run, texts, verdicts

from kmap_scenarios.runtime.kernel.config import FIX_KMAP_BEGIN

X86 = """
config { ARCH = x86; PAGE_SIZE = 64; LAST_PKMAP = 4; %s }
page P1 = alloc_page(GFP_HIGHUSER);
page P2 = alloc_page(GFP_HIGHUSER);
page L = alloc_page(GFP_KERNEL);
page PAGES[17] = alloc_page(GFP_HIGHUSER);
"""


def x86(body: str, cfg: str = "") -> str:
    return X86 % cfg + body


def vaddr(p, cpu: int, slot: int) -> int:  # type: ignore[no-untyped-def]
    return p.config.kmap_local_vaddr(cpu, slot)


def test_lifo_happy_path():
    """Slots grow downwards; migration disabled per mapping; no preempt or
    pagefault side effects; page_address stays NULL (§13.12)."""
    p, s = final(x86("""task t on cpu0 {
        void *a = kmap_local_page(P1);
        void *b = kmap_local_page(P2);
        int idx = kmap_local_idx();
        int pc = preempt_count();
        int pf = pagefault_disabled();
        int pa = page_address(P1) == NULL;
        kunmap_local(b);
        kunmap_local(a);
        int after = kmap_local_idx();
    }"""))
    a, b = local(p, s, "t", "a"), local(p, s, "t", "b")
    assert a == p.config.fix_to_virt(FIX_KMAP_BEGIN) == vaddr(p, 0, 0)
    assert b == a - p.config.PAGE_SIZE
    assert [local(p, s, "t", v) for v in ("idx", "pc", "pf", "pa", "after")] == [2, 0, 0, 1, 0]
    assert not s.reports
    assert s.ctxs[0].migration_disabled == 0
    assert s.cpus[0].fixmap == (0,) * p.config.KM_MAX_IDX


def test_migration_disabled_while_mapped():
    p, s = final(x86("""task t on cpu0 {
        void *a = kmap_local_page(P1);
        void *b = kmap_local_page(P2);
        int idx = kmap_local_idx();
    }"""))
    # the leak is reported at return to user; the counters show the nesting
    assert s.ctxs[0].migration_disabled == 2


def test_lowmem_needs_no_slot():
    p, s = final(x86("task t on cpu0 { void *l = kmap_local_page(L); int idx = kmap_local_idx(); kunmap_local(l); }"))
    assert local(p, s, "t", "l") == local(p, s, "t", "l")
    assert local(p, s, "t", "idx") == 0
    assert not s.reports


OOO = """task t on cpu0 {
    void *a = kmap_local_page(P1);
    void *b = kmap_local_page(P2);
    kunmap_local(a);
    int ra = a[0];
    b[0] = 1;
}"""


def test_out_of_order_unmap_x86_clears_the_top_slot():
    """x86 (linear PTE array): WARN_ON_ONCE, B's PTE cleared, A still mapped,
    an access through B hits the stale TLB entry of B (never flushed) or,
    once the TLB evicted it, oopses (§13.13; runtime/kernel/tlb.py)."""
    p, s = final(x86(OOO), "t:3, tlb1@cpu0, t")
    # a stays mapped, but its user released it: reading it is a use after
    # unmap the kernel cannot see; b lost its PTE: the write oopses.
    assert kinds(p, s) == ["WARN", "USE_AFTER_UNMAP", "OOPS"]
    assert "at kunmap_local_indexed" in heads(p, s)[0]
    assert heads(p, s)[2] == f"BUG: unable to handle page fault for address: {vaddr(p, 0, 1):08x}"
    # without the eviction the store goes through B's stale entry to P2
    p, s = final(x86(OOO))
    assert kinds(p, s) == ["WARN", "USE_AFTER_UNMAP", "WARN"]   # and kmap_assert_nomap at exit
    assert s.newest[page(p, "P2")][0] == 1


def test_out_of_order_unmap_arm_clears_the_given_slot():
    """ARM (non-linear): A's PTE cleared correctly, B's record zeroed; B
    still works until a switch (§13.13)."""
    src = x86(OOO.replace("int ra = a[0];", ""), "").replace("ARCH = x86", "ARCH = arm")
    p, s = final(src)
    # the order WARN, then B is still tracked as nothing: the leak warning at exit
    assert kinds(p, s) == ["WARN", "WARN"]
    assert "kunmap_local_indexed" in heads(p, s)[0]
    ctx = s.ctxs[0]
    assert ctx.kmap_idx == 1 and ctx.pteval[1] == 0 and ctx.pteval[0] != 0


def test_out_of_order_then_unmap_b_gives_one_warning():
    p, s = final(x86("""task t on cpu0 {
        void *a = kmap_local_page(P1);
        void *b = kmap_local_page(P2);
        kunmap_local(a);
        kunmap_local(b);
    }"""))
    assert kinds(p, s) == ["WARN"]
    assert s.ctxs[0].kmap_idx == 0
    assert s.cpus[0].fixmap == (0,) * p.config.KM_MAX_IDX


def test_arm_out_of_order_then_interrupt_kmap_hits_busy_slot():
    """ARM: B's PTE stays installed untracked; an irq pushing onto that slot
    BUGs on !pte_none, and a BUG in an irq panics (§6.5)."""
    src = X86.replace("ARCH = x86", "ARCH = arm") % "" + """
task t on cpu0 {
    void *a = kmap_local_page(P1);
    void *b = kmap_local_page(P2);
    kunmap_local(a);
    int x = 0;
}
irq i on cpu0 {
    void *c = kmap_local_page(PAGES[0]);
    kunmap_local(c);
}"""
    # kunmap_local(a) takes three steps while the irq may come
    # (runtime/kernel/kmap_window.py): t:5 is after it
    p, e = run(src, "t:5, i")
    hs = heads(p, e.final)
    assert "kernel BUG at mm/highmem.c:__kmap_local_pfn_prot!" in hs
    assert "Kernel panic - not syncing: Fatal exception in interrupt" in hs


def test_unmap_underflow_bugs():
    p, s = final(x86("task t on cpu0 { void *a = kmap_local_page(P1); kunmap_local(a); kunmap_local(a); }"))
    assert kinds(p, s) == ["WARN", "BUG"]
    assert "BUG_ON(current->kmap_ctrl.idx < 0)" in texts(p, s)[1]


def _nest(n: int, debug: bool) -> tuple[object, object]:
    maps = "\n".join(f"void *m{i} = kmap_local_page(PAGES[{i}]);" for i in range(n))
    return final(x86(f"task t on cpu0 {{ {maps} int ok = 1; }}",
                     "CONFIG_DEBUG_KMAP_LOCAL = y;" if debug else ""))


def test_depth_limit_is_15_without_debug():
    """BUG_ON(idx >= KM_MAX_IDX) after the increment: 15 fit, the 16th BUGs (§13.14)."""
    p, s = _nest(15, False)
    assert local(p, s, "t", "ok") == 1 and kinds(p, s) == ["WARN"]   # only the leak warning
    p, s = _nest(16, False)
    assert kinds(p, s)[0] == "BUG" and "idx 16, KM_MAX_IDX 16" in texts(p, s)[0]
    # do_exit's last schedule() runs __kmap_local_sched_out with idx 16:
    # slot 15 was never filled, so WARN_ON_ONCE(pte_none(pteval)) fires.
    assert kinds(p, s)[1:] == ["WARN"] and "__kmap_local_sched_out" in heads(p, s)[1]


def test_depth_limit_is_16_with_debug_guard_slots():
    p, s = _nest(16, True)
    assert local(p, s, "t", "ok") == 1
    p, s = _nest(17, True)
    assert kinds(p, s)[0] == "BUG" and "idx 34, KM_MAX_IDX 33" in texts(p, s)[0]


OVERRUN = """task t on cpu0 {
    void *a = kmap_local_page(P1);
    void *b = kmap_local_page(P2);
    b[PAGE_SIZE] = 0x77;
    kunmap_local(b);
    kunmap_local(a);
}"""


def test_overrun_lands_in_the_previous_mapping_without_debug():
    """vaddr(slot j) + PAGE_SIZE == vaddr(slot j-1): P1 is silently hit (§13.15)."""
    p, s = final(x86(OVERRUN))
    assert not s.reports
    assert s.ram[0][0] == 0x77


def test_overrun_hits_the_guard_slot_with_debug():
    p, s = final(x86(OVERRUN, "CONFIG_DEBUG_KMAP_LOCAL = y;"))
    assert kinds(p, s) == ["OOPS"]
    assert local(p, s, "t", "a") == vaddr(p, 0, 1)        # odd slots only
    assert local(p, s, "t", "b") == vaddr(p, 0, 3)


def test_context_switch_clears_and_restores_slots():
    """sched_out clears the outgoing task's PTEs; the next task gets the same
    slot address for its own page; sched_in restores (§13.16)."""
    p, e = run(x86("""
task t1 on cpu0 {
    void *a = kmap_local_page(P1);
    a[0] = 0x11;
    int v = a[0];
    kunmap_local(a);
}
task t2 on cpu0 {
    void *b = kmap_local_page(P2);
    b[0] = 0x22;
    kunmap_local(b);
}""", "CONFIG_PREEMPTION = y;"), "t1:2, t2, t1")
    s = e.final
    assert local(p, s, "t1", "v") == 0x11
    assert local(p, s, "t1", "a") == local(p, s, "t2", "b")
    assert s.ram[0][0] == 0x11 and s.ram[1][0] == 0x22
    ev = events(e)
    assert any("__kmap_local_sched_out: cleared t1's slot 0" in x for x in ev)
    assert any("__kmap_local_sched_in: restored t1's slot 0" in x for x in ev)
    assert not s.reports


def test_address_used_by_another_task_is_use_after_unmap():
    """kmap_local addresses are valid only in the mapping thread (seed 003)."""
    p, e = run(x86("""
int shared = 0;
task t1 on cpu0 {
    void *a = kmap_local_page(P1);
    shared = a;
    msleep(1);
    kunmap_local(a);
}
task t2 on cpu1 {
    int v = shared;
    int x = 0;
    if (v != 0) { x = v[0]; }
}""", "NR_CPUS = 2;"), "t1:3, t2")
    assert "USE_AFTER_UNMAP" in kinds(p, e.final)


def test_irq_nests_on_the_interrupted_stack():
    """An irq with irqs off pushes above the task's slots and pops back (§13.17)."""
    p, e = run(x86("""
task t on cpu0 {
    void *a = kmap_local_page(P1);
    void *b = kmap_local_page(P2);
    int x = a[0];
    kunmap_local(b);
    kunmap_local(a);
}
irq i on cpu0 {
    void *c = kmap_local_page(PAGES[0]);
    c[0] = 5;
    kunmap_local(c);
}"""), "t:6, i, t")   # each kmap_local_page() three steps while i may come
    s = e.final
    assert not s.reports
    assert any("idx 2 -> 3, slot 2" in x for x in events(e))
    assert s.ram[3][0] == 5


def test_irq_with_interrupts_enabled_warns_on_push():
    p, e = run(x86("""
task t on cpu0 { int x = 0; }
irq i on cpu0 {
    local_irq_enable();
    void *c = kmap_local_page(PAGES[0]);
    kunmap_local(c);
}"""), "i, t")
    # the irq interrupted the idle task: current is swapper/0, PID 0; the
    # handler returns with interrupts on: __handle_irq_event_percpu's WARN_ONCE
    assert heads(p, e.final) == ["WARNING: CPU: 0 PID: 0 at kmap_local_idx_push (mm/highmem.c)",
                                 "WARNING: CPU: 0 PID: 0 at __handle_irq_event_percpu "
                                 "(kernel/irq/handle.c)"]


def test_idle_task_slots_are_switched_out_and_back_in():
    """An irq on an idle CPU that leaks a kmap_local mapping leaves it on
    the idle task's kmap_ctrl. prepare_task_switch() runs
    kmap_local_sched_out() for whatever `current` is, the idle task too, so
    the next task finds slot 0 clear (no BUG_ON(!pte_none(*kmap_pte)) in
    __kmap_local_pfn_prot); finish_task_switch() restores it when the CPU
    goes idle again (kernel/sched/core.c, mm/highmem.c)."""
    p, e = run(x86("""
task t on cpu0 {
    void *a = kmap_local_page(P1);
    a[0] = 1;
    kunmap_local(a);
}
irq leaky on cpu0 {
    void *x = kmap_local_page(P2);
    x[0] = 3;
}""", "CONFIG_PREEMPTION = y;"), "leaky, t")
    s = e.final
    assert not s.reports
    assert s.ram[0][0] == 1 and s.ram[1][0] == 3
    ev = events(e)
    assert any("__kmap_local_sched_out: cleared idle's slot 0" in x for x in ev)
    assert any("__kmap_local_sched_in: restored idle's slot 0" in x for x in ev)
    assert s.cpus[0].fixmap[0] == p.pages[1].pfn + 1, "the idle task's leaked map is back"


def test_leak_at_return_to_user():
    """DEBUG_LOCKS_WARN_ON(current->kmap_ctrl.idx), once: lock debugging goes off (§13.18)."""
    p, s = final(x86("""
task t1 on cpu0 { void *a = kmap_local_page(P1); }
task t2 on cpu0 { void *b = kmap_local_page(P2); }"""))
    assert kinds(p, s) == ["WARN"]
    assert "DEBUG_LOCKS_WARN_ON(current->kmap_ctrl.idx)" in texts(p, s)[0]
    assert not s.debug_locks


def test_kmap_atomic_side_effects():
    """kmap_atomic: preempt +1, pagefault +1, lowmem without a slot (§13.19)."""
    p, s = final(x86("""task t on cpu0 {
        void *l = kmap_atomic(L);
        int pc = preempt_count();
        int pf = pagefault_disabled();
        int idx = kmap_local_idx();
        kunmap_atomic(l);
        int pc2 = preempt_count();
        void *h = kmap_atomic(P1);
        int idx2 = kmap_local_idx();
        kunmap_atomic(h);
    }"""))
    assert [local(p, s, "t", v) for v in ("pc", "pf", "idx", "pc2", "idx2")] == [1, 1, 0, 0, 1]
    assert not s.reports


def test_kmap_atomic_on_preempt_rt_disables_migration_only():
    """kmap_atomic_prot(): migrate_disable() instead of preempt_disable() on
    PREEMPT_RT (include/linux/highmem-internal.h); __kunmap_atomic() undoes it."""
    src = x86("""task t on cpu0 {
        void *l = kmap_atomic(L);
        int pc = preempt_count();
        kunmap_atomic(l);
    }""", "CONFIG_PREEMPT_RT = y;")
    mapped = after(src, 1).ctxs[0]
    assert (mapped.migration_disabled, mapped.preempt_count) == (1, 0)
    p, s = final(src)
    assert local(p, s, "t", "pc") == 0
    assert s.ctxs[0].migration_disabled == 0 and not s.reports


def test_sleeping_under_kmap_atomic():
    """msleep inside kmap_atomic: scheduling while atomic, count printed +1."""
    p, s = final(x86("task t on cpu0 { void *h = kmap_atomic(P1); msleep(1); kunmap_atomic(h); }"))
    hs = heads(p, s)
    assert hs[0] == "BUG: scheduling while atomic: t/1/0x00000002"


def test_arm_kmap_local_reuses_a_pkmap_mapping():
    """arch_kmap_local_high_get: the pkmap address, count +1, no slot (§13.20)."""
    src = X86.replace("ARCH = x86", "ARCH = arm") % "" + """task t on cpu0 {
        void *k = kmap(P1); kunmap(P1);
        void *a = kmap_local_page(P1);
        int idx = kmap_local_idx();
        int c = pkmap_count(P1);
        kunmap_local(a);
    }"""
    p, s = final(src)
    assert local(p, s, "t", "a") == local(p, s, "t", "k")
    assert local(p, s, "t", "idx") == 0 and local(p, s, "t", "c") == 2
    assert pkmap_count(p, s, "P1") == 1
    assert not s.reports


def test_force_map_gives_lowmem_a_slot():
    """FORCE_MAP: lowmem through a fixmap slot (by 2), migrate disabled;
    unmapping page_address instead WARNs and leaks the slot (§13.21)."""
    p, s = final(x86("""task t on cpu0 {
        void *a = kmap_local_page(L);
        int idx = kmap_local_idx();
        int differs = a != page_address(L);
        kunmap_local(page_address(L));
    }""", "CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP = y;"))
    assert local(p, s, "t", "idx") == 1 and local(p, s, "t", "differs") == 1
    assert s.ctxs[0].kmap_idx == 2            # kmap_ctrl.idx moves by KM_INCR 2
    assert kinds(p, s) == ["WARN", "WARN"]
    t = "\n".join(texts(p, s))
    assert "WARN_ON_ONCE(1)" in t and "DEBUG_LOCKS_WARN_ON(current->kmap_ctrl.idx)" in t


def test_kmap_local_pfn_always_takes_a_slot():
    p, s = final(x86("task t on cpu0 { void *a = kmap_local_pfn(page_to_pfn(L)); int idx = kmap_local_idx(); kunmap_local(a); }"))
    assert local(p, s, "t", "idx") == 1 and not s.reports


def test_memcpy_helpers_map_and_unmap():
    p, s = final(x86("""task t on cpu0 {
        void *l = page_address(L);
        memset(l, 0x42, 8);
        memcpy_to_page(P1, 4, l, 8);
        memcpy_page(P2, 0, P1, 4, 8);
        memzero_page(P1, 4, 2);
        int idx = kmap_local_idx();
    }"""))
    assert s.ram[1][:8] == b"\x42" * 8
    assert s.ram[0][4:12] == b"\x00\x00" + b"\x42" * 6
    assert local(p, s, "t", "idx") == 0 and not s.reports


def test_memcpy_to_page_past_the_end_is_vm_bug():
    p, s = final(x86("task t on cpu0 { memzero_page(P1, 60, 8); }"))
    assert kinds(p, s) == ["BUG"] and "VM_BUG_ON" in texts(p, s)[0]


def test_x86_64_has_no_highmem_and_maps_by_page_address():
    p, s = final("""config { ARCH = x86_64; PAGE_SIZE = 64; }
page P = alloc_page(GFP_HIGHUSER);
task t on cpu0 { void *a = kmap_local_page(P); int same = a == page_address(P); kunmap_local(a); }""")
    assert local(p, s, "t", "same") == 1 and not s.reports
    assert program("config { ARCH = x86_64; } task t { }").config.CONFIG_HIGHMEM is False


def test_introspection_in_expectations_reports_what_tasks_left_behind():
    """docs/language.md: introspection is usable in expectations; on a final state
    it is the largest value any task ended with, so leaks show."""
    from kmaptest import verdicts
    p, s = final(x86("""
task clean on cpu0 { void *a = kmap_local_page(P1); kunmap_local(a); }
task leaky on cpu0 { void *b = kmap_local_page(P2); preempt_disable(); }
expect always kmap_local_idx() == 1;
expect always preempt_count() == 1 && in_atomic();
expect never irqs_disabled() || pagefault_disabled();"""))
    assert verdicts(p, s) == [True, True, True]


# ------------------------------------------------------------------------
# An irq inside kmap_local's preempt-disabled windows (runtime/kernel/kmap_window.py).
# __kmap_local_pfn_prot() and kunmap_local_indexed() (mm/highmem.c) push and
# pop under preempt_disable() with interrupts on. Found by bench/crosscheck.py:
# on v6.1 the handler saw HARDIRQ_OFFSET + 1 with the task one slot deep.

WINDOW = """
task t on cpu0 {
    void *a = kmap_local_page(P1);
    kunmap_local(a);
}
irq i on cpu0 { int pc = preempt_count(); int depth = kmap_local_idx(); void *c = kmap_local_page(P2); kunmap_local(c); }
"""


def _irq_views(src: str) -> set[tuple[int, int, int]]:
    from kmaptest import check
    p, r = check(src + "expect always i.pc >= 0 && i.depth >= 0 && i.c != 0;")
    return {(int(dict(o.values)["i.pc"], 0), int(dict(o.values)["i.depth"], 0),
             int(dict(o.values)["i.c"], 0)) for o in r.outcomes}


def test_an_irq_inside_kmap_local_page_sees_the_inner_preempt_disable():
    """Before the push (count + 1, depth 0) and after it (count + 1, depth 1,
    the irq's slot above the task's), besides the moments between calls."""
    p = program(x86(WINDOW))
    s1, s3, s5 = (vaddr(p, 0, k) for k in (0, 1, 2))
    views = _irq_views(x86(WINDOW))
    assert (0x10001, 0, s1) in views and (0x10001, 1, s3) in views   # inside the map
    assert (0x10000, 1, s3) in views                                  # between the calls
    assert (0x10001, 0, s1) in views                                  # the idle task
    assert all(pc in (0x10000, 0x10001) for pc, _, _ in views) and s5 not in {c for *_, c in views}


def test_an_irq_inside_kmap_atomic_sees_both_disables():
    """kmap_atomic(): its own preempt_disable(), then __kmap_local_pfn_prot()'s."""
    src = x86(WINDOW.replace("kmap_local_page(P1)", "kmap_atomic(P1)")
              .replace("kunmap_local(a)", "kunmap_atomic(a)"))
    views = _irq_views(src)
    # 1: the idle task, or kmap_atomic()'s own disable; 2: both; 0: the task
    # on its way back to user space after kunmap_atomic() (machine.py's
    # _return_window: syscall_exit_to_user_mode() has interrupts on)
    assert {pc for pc, _, _ in views} == {0x10000, 0x10001, 0x10002}
    assert {d for pc, d, _ in views if pc == 0x10002} == {0, 1}   # before and after the push


def test_without_an_irq_to_come_a_kmap_local_call_is_one_step():
    """The windows matter only to an irq of the CPU that has not fired:
    without one, and in an expression, the call stays one step."""
    s = after(x86("task t on cpu0 { void *a = kmap_local_page(P1); kunmap_local(a); }"), 1)
    assert s.ctxs[0].kmap_idx == 1 and s.ctxs[0].pending is None
    s = after(x86(WINDOW), 1)               # stage B: the inner preempt_disable()
    assert s.ctxs[0].kmap_idx == 0 and s.ctxs[0].preempt_count == 1 and s.ctxs[0].pending
    s = after(x86(WINDOW), 2)               # stage C: pushed and mapped
    assert s.ctxs[0].kmap_idx == 1 and s.ctxs[0].preempt_count == 1
    s = after(x86(WINDOW), 3)               # stage D: the call returns
    assert s.ctxs[0].kmap_idx == 1 and s.ctxs[0].preempt_count == 0 and s.ctxs[0].pending is None
    s = after(x86(WINDOW.replace("void *a = kmap_local_page(P1);",
                                 "unsigned long a = kmap_local_page(P1) + 0;")), 1)
    assert s.ctxs[0].kmap_idx == 1 and s.ctxs[0].preempt_count == 0   # in an expression


# ------------------------------------------------------------------------
# An irq inside the highmem.h helpers (runtime/kernel/helper_window.py).
# memcpy_page() and its kin (include/linux/highmem.h), clear_highpage() and
# zero_user_segments() (mm/highmem.c) take their slots with
# kmap_local_page() and give them back with kunmap_local(), interrupts on
# all along. Found by bench/crosscheck.py on v6.1: the handler saw the
# task one and two slots deep inside memcpy_page()
# (bench/crosscheck/helper_irq_inside.kmap), which the model, running the
# helper in one step, did not allow.

HELPER_IRQ = """
irq i on cpu0 { int pc = preempt_count(); int depth = kmap_local_idx(); void *c = kmap_local_page(PAGES[0]); kunmap_local(c); }
"""


def test_an_irq_inside_memcpy_page_sees_its_two_slots():
    """memcpy_page(): map dst, map src, copy, unmap src, unmap dst; the
    handler may come between any two of them and inside each push and pop
    (count + 1), its own slot above the helper's."""
    src = x86("task t on cpu0 { memcpy_page(P2, 0, P1, 0, 8); }" + HELPER_IRQ)
    p = program(src)
    s1, s2, s3 = (vaddr(p, 0, k) for k in (0, 1, 2))
    views = _irq_views(src)
    assert {(pc, d) for pc, d, _ in views} == {
        (0x10000, 0), (0x10001, 0), (0x10001, 1), (0x10000, 1), (0x10001, 2), (0x10000, 2)}
    assert {(d, c) for _, d, c in views} == {(0, s1), (1, s2), (2, s3)}


def test_an_irq_inside_the_one_page_helpers_sees_their_slot():
    """memcpy_to_page(), memcpy_from_page(), memzero_page(), clear_highpage()
    and zero_user_segments(): one slot each, the handler at depth 1 between
    the map and the unmap."""
    for call in ("memcpy_to_page(P1, 0, page_address(L), 8)",
                 "memcpy_from_page(page_address(L), P1, 0, 8)",
                 "memzero_page(P1, 4, 8)", "clear_highpage(P1)",
                 "zero_user_segments(P1, 0, 4, 8, 12)", "zero_user(P1, 4, 4)"):
        views = _irq_views(x86(f"task t on cpu0 {{ {call}; }}" + HELPER_IRQ))
        assert {(pc, d) for pc, d, _ in views} == {
            (0x10000, 0), (0x10001, 0), (0x10001, 1), (0x10000, 1)}, call


def test_a_helper_is_one_step_where_no_irq_can_come():
    """Without an irq of the CPU to come, a helper stays one step (no other
    context can tell); with one, its first step is the inner
    preempt_disable() of the first map."""
    s = after(x86("task t on cpu0 { memcpy_page(P2, 0, P1, 0, 8); int x = 1; }"), 1)
    assert s.ctxs[0].pending is None and s.ctxs[0].kmap_idx == 0 and s.ctxs[0].preempt_count == 0
    s = after(x86("task t on cpu0 { memcpy_page(P2, 0, P1, 0, 8); }" + HELPER_IRQ), 1)
    assert s.ctxs[0].pending is not None and s.ctxs[0].kmap_idx == 0 and s.ctxs[0].preempt_count == 1
    # a lowmem page has no slot and no window
    s = after(x86("task t on cpu0 { memzero_page(L, 0, 8); }" + HELPER_IRQ), 1)
    assert s.ctxs[0].pending is None


def test_the_helpers_map_before_their_vm_bug_on():
    """include/linux/highmem.h: memcpy_to_page() maps the page, then
    VM_BUG_ON(offset + len > PAGE_SIZE): the task dies holding the slot."""
    p, s = final(x86("task t on cpu0 { memcpy_to_page(P1, 60, page_address(L), 8); }"))
    assert kinds(p, s) == ["BUG"] and s.ctxs[0].kmap_idx == 1
    p, s = final(x86("task t on cpu0 { memcpy_page(P1, 0, P2, 60, 8); }"))
    assert kinds(p, s) == ["BUG"] and s.ctxs[0].kmap_idx == 2
    # zero_user_segments()'s BUG_ON comes first (mm/highmem.c): no slot
    p, s = final(x86("task t on cpu0 { zero_user_segments(P1, 0, 4, 60, 65); }"))
    assert kinds(p, s) == ["BUG"] and s.ctxs[0].kmap_idx == 0


def test_a_pagefault_enable_too_many_leaves_faults_disabled():
    """include/linux/uaccess.h: pagefault_enable() only decrements
    current->pagefault_disabled, and pagefault_disabled() is `!= 0`: after
    a kunmap_atomic() of a kmap() address (kunmap_local_indexed() ignores
    it, then pagefault_enable() and preempt_enable() run), the count is -1
    and faults stay disabled: a copy from a not-present user page fails at
    once. Found by bench/crosscheck.py (kunmap_atomic_of_kmap.kmap): v6.1
    copied nothing where the model faulted the page in."""
    p, s = final(x86("""
page U = alloc_user_page(not_present);
task t on cpu0 {
    char *v = kmap(P1);
    kunmap_atomic(v);
    int pf = pagefault_disabled();
    int n = copy_from_user(page_address(L), U, 8);
    kunmap(P1);
}"""))
    assert local(p, s, "t", "pf") == 1 and local(p, s, "t", "n") == 8
    assert s.ctxs[0].pagefault_disabled == -1


def test_pagefault_disabled_in_an_expectation_is_not_zero_too():
    """An expectation's pagefault_disabled() is the kernel's `!= 0` as well
    (include/linux/uaccess.h): the -1 a kunmap_atomic() of a kmap() address
    leaves on the task is faults disabled, at the end as in the body."""
    p, s = final(x86("""
task t on cpu0 {
    char *v = kmap(P1);
    kunmap_atomic(v);
    kunmap(P1);
}
expect always pagefault_disabled() == 1;"""))
    assert s.ctxs[0].pagefault_disabled == -1
    assert verdicts(p, s) == [True]
