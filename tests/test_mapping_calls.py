"""The mapping calls of include/linux/highmem.h and highmem-internal.h
(v6.1) that converted code meets: folios, kmap_atomic_pfn/_prot,
clear_highpage, the zero_user family, and the raw user copies of
include/linux/uaccess.h. kmap_local_page_try_from_panic() does not exist
in v6.1 (8702048bb831 added it in v6.16), so the model has none."""

from __future__ import annotations

from kmaptest import diags, final, heads, kinds, local, program

HEAD = """config { ARCH = x86; PAGE_SIZE = 64; LAST_PKMAP = 4; NR_CPUS = 1; %s }
page H = alloc_page(GFP_HIGHUSER);
page J = alloc_page(GFP_HIGHUSER);
page L = alloc_page(GFP_KERNEL);
page U = alloc_user_page(present);
page N = alloc_user_page(not_present);
"""


def src(body: str, cfg: str = "") -> str:
    return HEAD % cfg + body


def test_no_try_from_panic_in_v6_1() -> None:
    d, = diags(src("task t on cpu0 { void *a = kmap_local_page_try_from_panic(H); }"))
    assert d.code == "E202"


def test_kmap_local_folio() -> None:
    """kmap_local_folio(folio, offset): folio_page(folio, offset / PAGE_SIZE)
    mapped through kmap_local, plus offset % PAGE_SIZE. The model's pages
    are order-0 folios: page_folio(H) is H's struct page, and
    folio_page(f, 1) the next struct page (here J's)."""
    p, s = final(src("""task t on cpu0 {
    struct folio *f = page_folio(H);
    u8 *a = kmap_local_folio(f, 5);
    a[0] = 7;
    int depth = kmap_local_idx();
    kunmap_local(a);
    u8 *b = kmap_local_folio(f, 64 + 2);
    b[0] = 9;
    kunmap_local(b);
    struct page *pg = folio_page(f, 1);
    int same = pg == J;
}
expect always H[5] == 7 && J[2] == 9;
"""))
    assert not s.reports
    assert local(p, s, "t", "depth") == 1 and local(p, s, "t", "same") == 1
    p, s = final("""config { ARCH = x86_64; PAGE_SIZE = 64; }
page L = alloc_page(GFP_KERNEL);
task t on cpu0 { struct folio *f = page_folio(L); u8 *a = kmap_local_folio(f, 3); a[0] = 1; int d = kmap_local_idx(); kunmap_local(a); }
expect always L[3] == 1;
""")
    assert not s.reports and local(p, s, "t", "d") == 0


def test_folios_and_pages_are_not_mixed_up() -> None:
    d, = diags(src("task t on cpu0 { void *a = kmap_local_folio(H, 0); kunmap_local(a); }"))
    assert d.code == "E402" and d.message == "`kmap_local_folio` expects a struct folio *, got `H`"
    assert d.hint == "a page's folio is page_folio(H)"
    d, = diags(src("task t on cpu0 { struct folio *f = H; }"))
    assert d.code == "E416" and d.hint == "its folio is page_folio(H)"
    d, = diags(src("task t on cpu0 { struct folio *f = page_folio(H); void *a = kmap_local_page(f); }"))
    assert d.code == "E402" and d.hint == "its page is folio_page(f, 0)"


def test_kmap_atomic_pfn_and_prot() -> None:
    """kmap_atomic_pfn(): preempt_disable, pagefault_disable and
    __kmap_local_pfn_prot(): a fixmap slot even for a lowmem pfn with
    HIGHMEM; kmap_atomic_prot() is kmap_atomic() with a pgprot."""
    p, s = final(src("""task t on cpu0 {
    u8 *a = kmap_atomic_pfn(page_to_pfn(L));
    int pc = preempt_count(); int pf = pagefault_disabled(); int depth = kmap_local_idx();
    a[1] = 3;
    kunmap_atomic(a);
    u8 *b = kmap_atomic_prot(H, PAGE_KERNEL);
    int pc2 = preempt_count();
    b[0] = 4;
    kunmap_atomic(b);
    int after = preempt_count();
}
expect always L[1] == 3 && H[0] == 4;
"""))
    assert not s.reports
    assert [local(p, s, "t", v) for v in ("pc", "pf", "depth", "pc2", "after")] == [1, 1, 1, 1, 0]


def test_raw_user_copies_neither_check_nor_zero() -> None:
    """__copy_from_user_inatomic() has no might_fault() and no zero fill:
    with preemption disabled (faulthandler_disabled()) and a not-present
    page it returns the bytes not copied and leaves the buffer;
    copy_from_user() splats (__might_fault: page faults are enabled) and
    zeroes."""
    body = """task t on cpu0 {
    preempt_disable();
    u8 *k = kmap_local_page(L);
    k[0] = 0x11; k[1] = 0x22;
    int left = %s(k, N, 2);
    int a = k[0];
    kunmap_local(k);
    preempt_enable();
}
"""
    p, s = final(src(body % "__copy_from_user_inatomic"))
    assert not s.reports
    assert (local(p, s, "t", "left"), local(p, s, "t", "a")) == (2, 0x11)
    p, s = final(src(body % "copy_from_user"))
    assert heads(p, s) == ["BUG: sleeping function called from invalid context at "
                           "include/linux/uaccess.h (copy_from_user)"]
    assert (local(p, s, "t", "left"), local(p, s, "t", "a")) == (2, 0)
    p, s = final(src("""task t on cpu0 {
    u8 *k = kmap_atomic(L); k[0] = 5; int left = __copy_to_user_inatomic(U, k, 1); kunmap_atomic(k);
}
expect always U[0] == 5;
"""))
    assert not s.reports and local(p, s, "t", "left") == 0


def test_clear_highpage_and_zero_user() -> None:
    p, s = final(src("""task t on cpu0 {
    void *a = kmap_local_page(H); memset(a, 0xff, PAGE_SIZE); kunmap_local(a);
    zero_user_segments(H, 2, 4, 60, 64);
    zero_user(H, 10, 2);
    zero_user_segment(H, 20, 21);
    void *j = kmap_local_page(J); memset(j, 0xff, PAGE_SIZE); kunmap_local(j);
    clear_highpage(J);
}
expect always H[1] == 0xff && H[2] == 0 && H[3] == 0 && H[4] == 0xff && H[59] == 0xff && H[63] == 0;
expect always H[10] == 0 && H[11] == 0 && H[12] == 0xff && H[20] == 0 && H[21] == 0xff;
expect always J[0] == 0 && J[63] == 0;
"""))
    assert not s.reports


def test_zero_user_segments_bug_on() -> None:
    """BUG_ON(end1 > page_size(page) || end2 > page_size(page)): in
    mm/highmem.c with HIGHMEM, the inline of include/linux/highmem.h
    without."""
    p, s = final(src("task t on cpu0 { zero_user_segments(H, 0, 65, 0, 0); }"))
    assert heads(p, s) == ["kernel BUG at mm/highmem.c:zero_user_segments!"]
    p, s = final("""config { ARCH = x86_64; PAGE_SIZE = 64; }
page L = alloc_page(GFP_KERNEL);
task t on cpu0 { zero_user(L, 60, 8); }""")
    assert heads(p, s) == ["kernel BUG at include/linux/highmem.h:zero_user_segments!"]
    assert kinds(p, s) == ["BUG"]


def test_names_exist() -> None:
    p = program(src("task t on cpu0 { int a = 0; }"))
    assert p.contexts[0].name == "t"
