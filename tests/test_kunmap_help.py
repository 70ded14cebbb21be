"""kunmap(addr) is a common slip: the help suggests kunmap(page), not
kmap_to_page(), which WARNs on pkmap addresses since v6.2 (mm/highmem.c)."""

from __future__ import annotations

from kmaptest import diags

HEAD = "page P = alloc_page(GFP_HIGHUSER);\n"


def test_kunmap_of_the_address_suggests_the_page() -> None:
    d, = diags(HEAD + "task t on cpu0 { void *p = kmap(P); p[0] = 1; kunmap(p); }\n")
    assert d.code == "E402"
    assert d.message == "`kunmap` expects a page (struct page *), got `p`"
    assert d.hint == ("kunmap() takes the struct page * that was given to kmap(): kunmap(P), "
                      "not the address kmap() returned")
    assert "kmap_to_page" not in d.hint


def test_kunmap_of_an_address_from_elsewhere_names_no_page() -> None:
    d, = diags(HEAD + "task t on cpu0 { void *p; p = kmap(P); kunmap(p); }\n")
    assert d.hint.startswith("kunmap() takes the struct page * that was given to kmap(): "
                             "kunmap(page)")


def test_other_page_calls_keep_the_kmap_to_page_hint() -> None:
    d, = diags(HEAD + "task t on cpu0 { void *p = kmap_local_page(P); flush_dcache_page(p); "
               "kunmap_local(p); }\n")
    assert d.hint == "flush_dcache_page() takes a struct page *; did you mean kmap_to_page(p)?"
