"""dsl/check/checker.py and dsl/lower/lower.py from source text, through the real parser."""

from __future__ import annotations

import pytest

from kmap_scenarios.dsl.check.checker import check
from kmap_scenarios.dsl.lower.lower import lower
from kmap_scenarios.dsl.syntax.source import InputError, Source
from kmap_scenarios.dsl.syntax.parser import parse
from kmap_scenarios.runtime.kernel import program as ir

LANGUAGE_EXAMPLE = """\
scenario "dma-map-vs-pkmap-slot-reuse";
config {
    ARCH = arm; NR_CPUS = 1; CONFIG_HIGHMEM = y; CONFIG_PREEMPTION = y;
    LAST_PKMAP = 2; ARCH_NEEDS_KMAP_HIGH_GET = n; PAGE_SIZE = 128; L1_CACHE_BYTES = 32;
}
page P = alloc_page(GFP_HIGHUSER);
page Q = alloc_page(GFP_HIGHUSER);
page R = alloc_page(GFP_HIGHUSER);
task dma on cpu0 {
    void *p = kmap(P);
    kunmap(P);
    dma_map_page(P, DMA_FROM_DEVICE);
}
task writer on cpu0 {
    void *r = kmap(R);
    kunmap(R);
    void *q = kmap(Q);
    memset(q, 0x55, PAGE_SIZE);
    kunmap(Q);
}
expect sometimes DATA_LOSS;
expect never BUG;
"""


def load(text: str) -> ir.Program:
    source = Source("t.kmap", text)
    return lower(check(parse(source), source))


def diagnose(text: str) -> InputError:
    source = Source("t.kmap", text)
    with pytest.raises(InputError) as info:
        check(parse(source), source)
    return info.value


def test_the_language_example_checks_and_lowers() -> None:
    p = load(LANGUAGE_EXAMPLE)
    assert p.name == "dma-map-vs-pkmap-slot-reuse"
    assert [pg.kind for pg in p.pages] == [ir.PageKind.HIGHMEM] * 3
    assert [c.name for c in p.contexts] == ["dma", "writer"]
    assert p.contexts[1].code[3] == ir.Call("memset", (ir.Local(1), ir.Const(0x55), ir.Const(128)),
                                            None, ir.Loc(18, 5))
    assert p.contexts[0].code[-1] == ir.End(ir.Loc(13, 1))


def test_misspelt_builtin_points_at_the_name_with_a_caret() -> None:
    err = diagnose("page P = alloc_page(GFP_KERNEL);\n"
                   "task t on cpu0 {\n    void *p = kmap_local(P);\n}\n")
    assert err.codes == ["E202"]
    text = err.render()
    assert "t.kmap:3:15: error[E202]: unknown function `kmap_local`" in text
    assert "              ^^^^^^^^^^" in text
    assert "did you mean `kmap_local_page`?" in text


def test_three_problems_in_three_stages_at_once() -> None:
    err = diagnose("config { CONFIG_HIGHMEN = y; }\n"
                   "page P = alloc_page(GFP_KERNEL);\n"
                   "task writer on cpu0 { kmap(PP); spin_lock(L); }\n"
                   "spinlock_t L;\n"
                   "expect always wrtier.v == 0;\n")
    assert err.codes == ["E301", "E201", "E402", "E203"]
    assert [d.hint for d in err.diagnostics] == [
        "did you mean `CONFIG_HIGHMEM`?", "did you mean `P`?", "spin_lock takes &L",
        "did you mean `writer`?"]


def test_kernel_refusal_points_at_the_setting() -> None:
    err = diagnose("config {\n    ARCH = x86_64;\n    CONFIG_HIGHMEM = y;\n}\ntask t { }\n")
    (d,) = err.diagnostics
    assert (d.code, d.span.line, d.span.col) == ("E303", 3, 5)
    assert "arch/x86/Kconfig" in d.message


def test_check_text_is_the_exact_source() -> None:
    p = load("page P = alloc_page(GFP_KERNEL);\n"
             "task t on cpu0 {\n    u8 *p = kmap_local_page(P);\n"
             "    BUG_ON(p[0]   !=  0);\n    kunmap_local(p);\n}\n"
             "expect always   P[0] == 0 ;\n")
    check_instr = p.contexts[0].code[1]
    assert isinstance(check_instr, ir.Check) and check_instr.text == "p[0]   !=  0"
    assert p.expectations[0].text == "P[0] == 0"


def test_did_you_mean_prefers_the_closest_spelling_over_a_prefix():
    """Review: `kmap_locl_page` suggested `kmap` (a prefix of the typo)."""
    import pytest as _pytest
    from kmap_scenarios.dsl.lower.load import load_text
    from kmap_scenarios.dsl.syntax.source import InputError
    cases = {"kmap_locl_page": "kmap_local_page", "kunmap_locl": "kunmap_local",
             "kmap_atomc": "kmap_atomic", "memcpy_to_pgae": "memcpy_to_page",
             "kmap_local": "kmap_local_page"}
    for typo, want in cases.items():
        with _pytest.raises(InputError) as err:
            load_text(f"page P = alloc_page(GFP_HIGHUSER);\ntask t on cpu0 {{ void *a = {typo}(P); }}", "t.kmap")
        assert f"did you mean `{want}`?" in err.value.render(), typo
