"""GFP_KERNEL vs GFP_ATOMIC inside atomic sections: kmalloc()/kzalloc()/kfree()
and might_alloc() (include/linux/slab.h, mm/slab.h slab_pre_alloc_hook, mm/slab_common.c __do_kmalloc_node,
include/linux/sched/mm.h might_alloc, include/linux/gfp_types.h of v6.1)."""

from __future__ import annotations

from kmaptest import final, heads, kinds, local, program, texts

HEAD = """config { ARCH = x86; PAGE_SIZE = 64; LAST_PKMAP = 4; NR_CPUS = 1; }
page H = alloc_page(GFP_HIGHUSER);
spinlock_t L;
"""
SPLAT = ("BUG: sleeping function called from invalid context at include/linux/sched/mm.h "
         "(kmalloc)")


def src(body: str) -> str:
    return HEAD + body


def test_gfp_kernel_in_atomic_context_splats_gfp_atomic_does_not() -> None:
    """might_alloc(): might_sleep_if(gfpflags_allow_blocking(gfp)):
    __GFP_DIRECT_RECLAIM is in GFP_KERNEL, not in GFP_ATOMIC or GFP_NOWAIT."""
    p, s = final(src("task t on cpu0 { spin_lock(&L); char *b = kmalloc(8, GFP_KERNEL); kfree(b); spin_unlock(&L); }"))
    assert heads(p, s) == [SPLAT]
    for gfp in ("GFP_ATOMIC", "GFP_NOWAIT"):
        p, s = final(src(f"task t on cpu0 {{ spin_lock(&L); char *b = kmalloc(8, {gfp}); kfree(b); spin_unlock(&L); }}"))
        assert not s.reports, gfp


def test_kmalloc_of_nothing_asks_no_slab() -> None:
    """__do_kmalloc_node() returns ZERO_SIZE_PTR for 0 bytes before any
    slab_pre_alloc_hook(): no might_alloc() check."""
    p, s = final(src("task t on cpu0 { spin_lock(&L); char *b = kmalloc(0, GFP_KERNEL); kfree(b); "
                     "spin_unlock(&L); }"))
    assert not s.reports and local(p, s, "t", "b") == 16


def test_the_conversion_makes_gfp_kernel_legal() -> None:
    """Under kmap_atomic() GFP_KERNEL splats; after the conversion to
    kmap_local_page() the section is preemptible and it is fine."""
    body = """task t on cpu0 {
    u8 *v = %s(H);
    char *b = kmalloc(16, GFP_KERNEL);
    memcpy(b, v, 16);
    kfree(b);
    %s(v);
}
"""
    p, s = final(src(body % ("kmap_atomic", "kunmap_atomic")))
    assert heads(p, s) == [SPLAT]
    p, s = final(src(body % ("kmap_local_page", "kunmap_local")))
    assert not s.reports


def test_objects_are_memory() -> None:
    """kmalloc gives a usable object, kfree returns it, the next kmalloc
    may get it back with its old bytes; kzalloc (and __GFP_ZERO) zero it;
    kmalloc(0) is ZERO_SIZE_PTR."""
    p, s = final(src("""task t on cpu0 {
    char *a = kmalloc(8, GFP_KERNEL); a[0] = 5; kfree(a);
    char *b = kmalloc(8, GFP_KERNEL); int old = b[0]; int same = a == b; kfree(b);
    char *c = kzalloc(8, GFP_KERNEL); int zero = c[0]; kfree(c);
    char *d = kmalloc(8, GFP_KERNEL | __GFP_ZERO); int zero2 = d[0]; kfree(d);
    char *e = kmalloc(0, GFP_KERNEL); kfree(e); kfree(NULL);
}"""))
    assert not s.reports
    assert [local(p, s, "t", v) for v in ("old", "same", "zero", "zero2", "e")] == [5, 1, 0, 0, 16]


def test_the_model_says_where_it_stops() -> None:
    """One call site, one task: one object. A second live one, or more than
    a page, is the model's limit, said as such (ASSERT), not a wrong answer;
    so is a kfree() the model cannot follow."""
    p, s = final(src("task t on cpu0 { for (int i = 0; i < 2; i++) { char *a = kmalloc(8, GFP_KERNEL); } }"))
    assert kinds(p, s) == ["ASSERT"]
    assert texts(p, s)[0].split("\n")[:2] == [
        "ASSERT: t.kmap:4: kmalloc() beyond the model's arena",
        "the model's kmalloc objects are one page (64 bytes) each and it has 1: 8 bytes asked, "
        "1 allocated"]
    p, s = final(src("task t on cpu0 { char *a = kmalloc(65, GFP_KERNEL); }"))
    assert kinds(p, s) == ["ASSERT"]
    p, s = final(src("task t on cpu0 { char *a = kmalloc(8, GFP_KERNEL); kfree(a); kfree(a); }"))
    assert kinds(p, s) == ["ASSERT"]
    assert heads(p, s) == ["ASSERT: t.kmap:4: kfree() of an address the model did not allocate"]


def test_arena_size() -> None:
    """A page per object, as many as kmalloc call sites times contexts."""
    p = program(src("task t on cpu0 { char *a = kmalloc(8, GFP_KERNEL); kfree(a); }\n"
                    "task u on cpu0 { char *a = kzalloc(8, GFP_ATOMIC); kfree(a); }\n"))
    assert [p.pages[i].name for i in p.slab_pages] == ["kmalloc-0", "kmalloc-1", "kmalloc-2",
                                                        "kmalloc-3"]
