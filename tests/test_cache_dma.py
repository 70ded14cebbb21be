"""VIVT cache, streaming DMA and the 2009 kmap_high_get race (§9), PKS (§10)."""

from __future__ import annotations

from pathlib import Path

from kmaptest import check, events, final, heads, kinds, local, program, run

ROOT = Path(__file__).resolve().parent.parent
SLOT_REUSE = (ROOT / "examples" / "dma" / "slot_reuse.kmap").read_text()


def test_language_example_loses_data_without_the_fix():
    """docs/language.md's example: sometimes DATA_LOSS, never BUG (seed 002)."""
    p, r = check(SLOT_REUSE)
    assert any(o.conds[0] for o in r.outcomes)          # DATA_LOSS in some execution
    assert all(not o.conds[1] for o in r.outcomes)      # never BUG


def test_language_example_is_safe_with_kmap_high_get():
    """With ARCH_NEEDS_KMAP_HIGH_GET the slot is pinned: never DATA_LOSS."""
    p, r = check(SLOT_REUSE.replace("ARCH_NEEDS_KMAP_HIGH_GET = n", "ARCH_NEEDS_KMAP_HIGH_GET = y"))
    assert not any(o.conds[0] for o in r.outcomes)
    assert all(not o.conds[1] for o in r.outcomes)


def test_the_race_needs_the_preemption_inside_the_loop():
    p, e = run(SLOT_REUSE, "dma:3, writer, dma")
    assert "DATA_LOSS" in kinds(p, e.final)
    assert e.final.ram[1] == bytes(128)                  # Q's 0x55 never reached RAM
    p, e = run(SLOT_REUSE, "dma, writer")
    assert not e.final.reports and e.final.ram[1] == b"\x55" * 128


ARM = """
config { ARCH = arm; PAGE_SIZE = 64; L1_CACHE_BYTES = 16; LAST_PKMAP = 4; %s }
page B = alloc_page(GFP_KERNEL);
page H = alloc_page(GFP_HIGHUSER);
"""


def arm(body: str, cfg: str = "") -> str:
    return ARM % cfg + body


def test_dma_to_device_without_cleaning_reads_stale_ram():
    """The CPU's data sits in a dirty VIVT line: the device sees old RAM."""
    p, s = final(arm("task t on cpu0 { void *b = page_address(B); b[0] = 7; int d = device_read(B, 0); }"))
    assert kinds(p, s) == ["STALE_READ"] and local(p, s, "t", "d") == 0
    p, s = final(arm("""task t on cpu0 {
        void *b = page_address(B); b[0] = 7;
        dma_map_page(B, DMA_TO_DEVICE);
        int d = device_read(B, 0);
    }"""))
    assert not s.reports and local(p, s, "t", "d") == 7


def test_dma_from_device_needs_invalidation_before_the_cpu_reads():
    """A line cached while the device owns the buffer hides the device's
    data (STALE_READ); dma_unmap_page invalidates it on a v6/v7 cache
    (v7_dma_unmap_area; the VIVT cores' unmap does nothing, see
    test_kernel_rules.py)."""
    racy = """task t on cpu0 {
        void *b = page_address(B);
        dma_map_page(B, DMA_FROM_DEVICE);
        int during = b[0];          // the CPU touches the buffer the device owns
        device_write(B, 0, 0x5a, 4);
        %s
        int after = b[0];
    }"""
    p, s = final(arm(racy % ""))
    assert kinds(p, s) == ["STALE_READ"] and local(p, s, "t", "after") == 0
    p, s = final(arm(racy % "dma_unmap_page(B, DMA_FROM_DEVICE);"))
    assert kinds(p, s) == ["STALE_READ"] and local(p, s, "t", "after") == 0
    p, s = final(arm(racy % "dma_sync_single_for_cpu(B, DMA_FROM_DEVICE);"))
    assert kinds(p, s) == ["STALE_READ"] and local(p, s, "t", "after") == 0
    p, s = final(arm(racy % "dma_unmap_page(B, DMA_FROM_DEVICE);", "CACHE = vipt;"))
    assert not s.reports and local(p, s, "t", "after") == 0x5A


def test_dma_from_device_discards_the_buffers_own_lines_silently():
    """DMA_FROM_DEVICE hands the buffer to the device: the CPU's earlier
    stores to it are meant to go (not DATA_LOSS, which is another page's
    data lost through an alias)."""
    p, s = final(arm("""task t on cpu0 {
        void *b = page_address(B);
        b[0] = 1;
        dma_map_page(B, DMA_FROM_DEVICE);
        device_write(B, 0, 9, 1);
        dma_unmap_page(B, DMA_FROM_DEVICE);
        int got = b[0];
    }"""))
    assert not s.reports and local(p, s, "t", "got") == 9


def test_coherent_dma_needs_no_maintenance():
    p, s = final("""config { ARCH = x86; PAGE_SIZE = 64; }
page B = alloc_page(GFP_KERNEL);
task t on cpu0 { void *b = page_address(B); b[0] = 7; int d = device_read(B, 0); }""")
    assert not s.reports and local(p, s, "t", "d") == 7


def test_vivt_alias_after_kunmap_local_is_flushed():
    """ARM VIVT kunmap_local flushes the page's lines (pre_unmap), so RAM has
    the data once the mapping is gone."""
    p, e = run(arm("task t on cpu0 { void *h = kmap_local_page(H); h[0] = 3; kunmap_local(h); int d = device_read(H, 0); }"))
    assert not e.final.reports and local(p, e.final, "t", "d") == 3


def test_flush_cache_all_and_flush_dcache_page_write_back():
    for call in ("flush_cache_all();", "flush_dcache_page(B);"):
        p, s = final(arm(f"task t on cpu0 {{ void *b = page_address(B); b[0] = 9; {call} int d = device_read(B, 0); }}"))
        assert not s.reports and local(p, s, "t", "d") == 9, call


def test_bad_dma_direction_bugs():
    p, s = final(arm("task t on cpu0 { dma_map_page(B, 3); }"))
    assert kinds(p, s) == ["BUG"] and "valid_dma_direction" in "\n".join(
        __import__("kmaptest").texts(p, s))


PKS = """
config { ARCH = x86_64; PAGE_SIZE = 64; CONFIG_DEVMAP_ACCESS_PROTECTION = y; NR_CPUS = 2; %s }
page D1 = alloc_devmap_page();
page D2 = alloc_devmap_page();
"""


def pks(body: str, cfg: str = "") -> str:
    return PKS % cfg + body


def test_pks_kmap_local_grants_access_to_this_thread_only():
    """Thread A maps D1: A may access it, B (another CPU) faults (§13.23)."""
    p, e = run(pks("""
int shared = 0;
task a on cpu0 {
    void *d = kmap_local_page(D1);
    shared = d;
    d[0] = 1;
    msleep(1);
    kunmap_local(d);
}
task b on cpu1 {
    void *v = shared;
    if (v != 0) { v[1] = 2; }
}""", "PKS_FAULT_MODE = strict;"), "a:4, b, a")
    assert kinds(p, e.final) == ["OOPS"]
    assert "protection key" in "\n".join(__import__("kmaptest").texts(p, e.final))


def test_pks_nesting_counter():
    """pgmap_prot_count: RW on 0 -> 1 only, AD on 1 -> 0 only."""
    p, s = final(pks("""task a on cpu0 {
        void *x = kmap_local_page(D1);
        void *y = kmap_local_page(D2);
        kunmap_local(x);
        y[0] = 1;
        kunmap_local(y);
    }""", "PKS_FAULT_MODE = strict;"))
    assert not s.reports


def test_pks_trace_shows_every_count_change_and_whether_pkrs_was_written():
    """kmap run names each pgmap_prot_count change: PKRS is written on
    0 -> 1 and 1 -> 0 only; a nested change and the irq's increment over
    the interrupted thread's count leave it as it is (§10.4)."""
    _, e = run(pks("""task a on cpu0 {
        void *x = kmap_local_page(D1);
        void *y = kmap_local_page(D2);
        kunmap_local(y);
        kunmap_local(x);
    }"""))
    pgmap = [ev for ev in events(e) if ev.startswith("pgmap_set")]
    assert pgmap == [
        "pgmap_set_readwrite: pgmap_prot_count 0 -> 1, PKRS grants the pgmap key",
        "pgmap_set_readwrite: pgmap_prot_count 1 -> 2, PKRS unchanged (access already granted)",
        "pgmap_set_noaccess: pgmap_prot_count 2 -> 1, PKRS unchanged (access still granted)",
        "pgmap_set_noaccess: pgmap_prot_count 1 -> 0, PKRS denies the pgmap key",
    ]
    _, e = run(pks("""
task a on cpu0 { void *x = kmap_local_page(D1); x[0] = 1; kunmap_local(x); }
irq i on cpu0 { void *y = kmap_local_page(D2); kunmap_local(y); }"""), "a:2, i")
    assert "pgmap_set_readwrite: pgmap_prot_count 1 -> 2, PKRS unchanged "\
        "(the exception entry reset it: the pgmap key stays denied)" in events(e)
    _, e = run(pks("task a on cpu0 { kunmap_local(page_address(D1)); void *x = kmap_local_page(D1); }"))
    assert "pgmap_set_noaccess: pgmap_prot_count 0 -> 4294967295 (no underflow check), "\
        "PKRS unchanged" in events(e)
    assert "pgmap_set_readwrite: pgmap_prot_count 4294967295 -> 0 (the u32 wraps back), "\
        "PKRS unchanged (the pgmap key stays denied)" in events(e)


def test_pks_kmap_is_unsupported_and_relaxed_mode_warns_once():
    """kmap() does not grant access (V9); relaxed mode: WARN_ONCE, then RW (§13.24)."""
    p, s = final(pks("task a on cpu0 { void *x = kmap(D1); x[0] = 1; x[1] = 2; }"))
    assert kinds(p, s) == ["WARN"]
    assert heads(p, s)[0].startswith("WARNING: CPU: 0 PID: 1 at pgmap_pks_fault_callback")
    p, s = final(pks("task a on cpu0 { void *x = kmap(D1); x[0] = 1; }", "PKS_FAULT_MODE = strict;"))
    assert kinds(p, s) == ["OOPS"]


def test_pks_irq_kmap_while_thread_holds_one_faults():
    """Derived (§10.4): the irq only increments the count; PKRS stays AD."""
    p, e = run(pks("""
task a on cpu0 { void *x = kmap_local_page(D1); x[0] = 1; kunmap_local(x); }
irq i on cpu0 { void *y = kmap_local_page(D2); y[0] = 2; kunmap_local(y); }""",
                   "PKS_FAULT_MODE = strict;"), "a:2, i")
    hs = heads(p, e.final)
    assert any(h.startswith("BUG: unable to handle page fault") for h in hs)
    assert "Kernel panic - not syncing: Fatal exception in interrupt" in hs


def test_pks_config_constraints():
    """§13.25: DEVMAP_ACCESS_PROTECTION needs !HIGHMEM and x86_64."""
    import pytest
    from kmap_scenarios.dsl.syntax.source import InputError
    for cfg in ("ARCH = x86; CONFIG_DEVMAP_ACCESS_PROTECTION = y;",
                "ARCH = arm; CONFIG_HIGHMEM = n; CONFIG_DEVMAP_ACCESS_PROTECTION = y;"):
        with pytest.raises(InputError) as err:
            program(f"config {{ {cfg} }} task t {{ }}")
        assert "E303" in err.value.codes


def test_device_access_outside_the_page_is_reported():
    p, s = final(arm("task t on cpu0 { device_write(B, 60, 1, 8); int after = 1; }"))
    assert kinds(p, s) == ["ASSERT"] and local(p, s, "t", "after") == 0
    assert "bytes 60..67 are outside the 64-byte page B" in "\n".join(__import__("kmaptest").texts(p, s))


def test_vivt_flushes_at_kunmap_local_are_traced():
    from kmaptest import events
    p, e = run(arm("task t on cpu0 { void *h = kmap_local_page(H); h[0] = 3; kunmap_local(h); }",
                   "ARCH_NEEDS_KMAP_HIGH_GET = n;"))
    assert any("VIVT __cpuc_flush_dcache_area" in x and "1 line cleaned" in x for x in events(e))


def test_arch_specific_apis_are_refused_elsewhere():
    """E419: kmap_high_get is ARM's; ZONE_DEVICE needs a 64-bit kernel."""
    import pytest
    from kmap_scenarios.dsl.syntax.source import InputError
    for src in ("config { ARCH = x86; } page P = alloc_page(GFP_HIGHUSER); task t { void *v = kmap_high_get(P); }",
                "config { ARCH = arm; } page D = alloc_devmap_page(); task t { }"):
        with pytest.raises(InputError) as err:
            program(src)
        assert err.value.codes == ["E419"]
