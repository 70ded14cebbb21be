"""__kmap_to_page() as mm/highmem.c writes it (ef6e06b2ef87, v6.2 and
6.1.y): WARN_ON_ONCE on pkmap and kmap_local addresses, and the kernel's
quirk that `base < __fix_to_virt(FIX_KMAP_BEGIN)` leaves slot 0 of CPU 0
out, so that address goes to virt_to_page()."""

from __future__ import annotations

from kmaptest import events, final, heads, kinds, local, run

BASE = """config { ARCH = x86; PAGE_SIZE = 64; LAST_PKMAP = 4; NR_CPUS = 2; }
page H = alloc_page(GFP_HIGHUSER);
page G = alloc_page(GFP_HIGHUSER);
"""
LOCAL_WARN = ("WARNING: CPU: {cpu} PID: 1 at __kmap_to_page (mm/highmem.c)")


def test_slot_0_of_cpu_0_is_no_kmap_local_address_to_it() -> None:
    """The first kmap_local slot of CPU 0 is FIX_KMAP_BEGIN itself: no WARN,
    and virt_to_page() of a fixmap address is a struct page of no page, so
    mapping it oopses."""
    p, e = run(BASE + """task t on cpu0 {
        void *a = kmap_local_page(H);
        struct page *pg = kmap_to_page(a);
        int same = pg == H;
        void *b = kmap_local_page(pg);
    }""")
    s = e.final
    assert local(p, s, "t", "same") == 0
    assert kinds(p, s) == ["OOPS"]
    assert heads(p, s)[0].startswith("BUG: unable to handle page fault for address: ")
    assert any("slot 0 of cpu0 is not below __fix_to_virt(FIX_KMAP_BEGIN)" in ev for ev in events(e))


def test_any_other_kmap_local_slot_warns_and_gives_the_page() -> None:
    p, s = final(BASE + """task t on cpu0 {
        void *a = kmap_local_page(H);
        void *b = kmap_local_page(G);
        struct page *pg = kmap_to_page(b);
        int same = pg == G;
        kunmap_local(b);
        kunmap_local(a);
    }""")
    assert local(p, s, "t", "same") == 1
    assert heads(p, s) == [LOCAL_WARN.format(cpu=0)]
    p, s = final(BASE + """task t on cpu1 {
        void *a = kmap_local_page(H);
        struct page *pg = kmap_to_page(a);
        int same = pg == H;
        kunmap_local(a);
    }""")
    assert local(p, s, "t", "same") == 1
    assert heads(p, s) == [LOCAL_WARN.format(cpu=1)]


def test_without_highmem_it_is_virt_to_page() -> None:
    p, s = final("""config { ARCH = x86_64; PAGE_SIZE = 64; }
page L = alloc_page(GFP_KERNEL);
task t on cpu0 { void *a = kmap_local_page(L); struct page *pg = kmap_to_page(a + 3); int same = pg == L; }""")
    assert local(p, s, "t", "same") == 1 and not s.reports


def test_a_free_pkmap_slot_gives_the_struct_page_of_pfn_0() -> None:
    """__kmap_to_page() of a pkmap address: WARN_ON_ONCE, then
    pte_page(pkmap_page_table[PKMAP_NR(addr)]) (mm/highmem.c). A free
    slot's PTE is 0, and pte_page() of it is pfn_to_page(0), on x86's
    FLATMEM mem_map itself (include/asm-generic/memory_model.h,
    __pfn_to_page, with ARCH_PFN_OFFSET 0)."""
    p, s = final(BASE + """task t on cpu0 {
        void *a = kmap(H);
        struct page *pg = kmap_to_page(a + 64);
        kunmap(H);
    }""")
    assert local(p, s, "t", "pg") == p.config.preset.mem_map_base
    assert heads(p, s) == [LOCAL_WARN.format(cpu=0)]
