"""dsl/check/checker.py: one test per diagnostic code at least, asserting codes and
the key phrases of messages and hints (goldens pin the full prose)."""

from __future__ import annotations

import pytest

from astkit import (addr, assign, binary, block, call, config, deref, expect, file, for_, gint,
                    if_, incdec, index, lit, lock, member, name, page, sched, source_of, stmt,
                    task, text, unary, var, while_)
from kmap_scenarios.dsl.syntax import nodes as n
from kmap_scenarios.dsl.check.checker import Checked, check
from kmap_scenarios.dsl.lower.lower import lower
from kmaptest import local, verdicts
from kmap_scenarios.runtime.search.schedule import execute
from kmap_scenarios.dsl.syntax.source import Diagnostic, InputError


def ok(f: n.File) -> Checked:
    return check(f, source_of(f))


def errors(f: n.File) -> list[Diagnostic]:
    with pytest.raises(InputError) as info:
        check(f, source_of(f))
    return info.value.diagnostics


def codes(f: n.File) -> list[str]:
    return [d.code for d in errors(f)]


def one(f: n.File, code: str) -> Diagnostic:
    diags = errors(f)
    assert [d.code for d in diags] == [code], [d.message for d in diags]
    return diags[0]


P = page("P")


def body(*stmts: n.Stmt, decls: tuple[n.Decl, ...] = (), **kw: object) -> n.File:
    """A file with page P, the given declarations and one task `t` on cpu0."""
    return file(P, *decls, task("t", *stmts), **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------ accepted


def test_a_well_formed_file_is_accepted_with_tables() -> None:
    f = file(page("Q", call("alloc_page", name("GFP_HIGHUSER"))),
             page("A", count=3), gint("x", binary("+", lit(1), name("PAGE_SIZE"))),
             gint("pc", 7, percpu=True), lock("L"),
             task("w", var("void *", "p", call("kmap_local_page", name("Q"))),
                  assign(index(name("p"), 0), lit(0x55)),
                  stmt(call("kunmap_local", name("p"))), cpu=0),
             task("v", var("int", "y", index(name("A"), 2)), cpu=None),
             cfg=config(CONFIG_HIGHMEM="y"),
             expects=(expect("always", binary("==", index(name("Q"), 0), lit(0x55))),
                      expect("never", call("BUG", text("scheduling while atomic")))))
    c = ok(f)
    assert c.config.CONFIG_HIGHMEM
    assert c.symbols.pages["A"].first == 1 and c.symbols.pages["A"].size == 3
    assert c.symbols.globals["x"].value == 4097
    assert c.symbols.percpus["pc"].value == 7
    assert c.symbols.contexts["w"].outer == ("p",)
    assert c.symbols.contexts["v"].index == 1


def test_block_scoping_and_shadowing_are_c_like() -> None:
    f = body(var("int", "i", lit(0)),
             for_(var("int", "i", lit(0)), binary("<", name("i"), lit(4)), incdec(name("i")),
                  var("int", "i", lit(1))),
             if_(lit(1), block(var("int", "P", lit(3)), assign(name("P"), lit(4)))))
    c = ok(f)
    # only the outermost block's `i` is the task's; the loop's `i` and the
    # block's `P` (shadowing the page) are locals of their own blocks
    assert c.symbols.contexts["t"].outer == ("i",)
    p = lower(c)
    s = execute(p, p.schedule).final
    assert s is not None and local(p, s, "t", "i") == 0


# ------------------------------------------------------------------- names


def test_E201_unknown_name_suggests_a_visible_name() -> None:
    d = one(body(var("int", "count", lit(0)), assign(name("count"), name("cuont"))), "E201")
    assert "`cuont`" in d.message and "`count`" in d.hint


def test_E201_misspelt_page_gets_did_you_mean() -> None:
    d = one(body(stmt(call("kmap", name("PP")))), "E201")
    assert d.hint == "did you mean `P`?"


def test_E201_local_out_of_scope_after_its_block() -> None:
    f = body(if_(lit(1), block(var("int", "v", lit(1)))), assign(name("v"), lit(2)))
    assert codes(f) == ["E201"]


def test_E201_for_header_declaration_belongs_to_the_loop() -> None:
    f = body(for_(var("int", "i", lit(0)), binary("<", name("i"), lit(2)), incdec(name("i"))),
             assign(name("i"), lit(0)))
    assert codes(f) == ["E201"]


def test_E201_bare_task_local_in_expectation_hints_task_var() -> None:
    f = body(var("int", "v", lit(1)), expects=(expect("always", binary("==", name("v"), lit(1))),))
    d = one(f, "E201")
    assert "`t.v`" in d.hint


def test_E201_in_top_level_initialiser() -> None:
    d = one(file(gint("x", name("PAGE_SZIE"))), "E201")
    assert "`PAGE_SIZE`" in d.hint


def test_E202_unknown_builtin_suggests_kernel_name() -> None:
    d = one(body(var("void *", "p", call("kmap_local", name("P")))), "E202")
    assert d.message == "unknown function `kmap_local`"
    assert d.hint == "did you mean `kmap_local_page`?"


def test_E203_unknown_task_in_expectation_and_schedule() -> None:
    f = file(task("writer", var("int", "v", lit(0))),
             expects=(expect("always", binary("==", member("wrtier", "v"), lit(0))),),
             schedules=(sched("writr"),))
    diags = errors(f)
    assert [d.code for d in diags] == ["E203", "E203"]
    assert all("did you mean `writer`?" == d.hint for d in diags)


def test_E203_with_nothing_close_lists_the_tasks_and_irqs() -> None:
    f = file(task("writer", var("int", "v", lit(0))), task("reader", var("int", "w", lit(0))),
             expects=(expect("always", binary("==", member("nobody", "v"), lit(0))),),
             schedules=(sched("zzz"),))
    diags = errors(f)
    assert [d.code for d in diags] == ["E203", "E203"]
    assert all(d.hint == "the tasks and irqs are: writer, reader" for d in diags)


def test_E204_task_var_must_be_in_outermost_block() -> None:
    f = file(task("w", var("int", "value", lit(0)), if_(lit(1), block(var("int", "inner", lit(1))))),
             expects=(expect("always", member("w", "valeu")),
                      expect("always", member("w", "inner"))))
    diags = errors(f)
    assert [d.code for d in diags] == ["E204", "E204"]
    assert "did you mean `value`?" == diags[0].hint
    assert "outermost block" in diags[1].hint


def test_E204_irq_locals_can_be_named() -> None:
    c = ok(file(task("h", var("int", "seen", lit(1)), irq=True, cpu=0),
                expects=(expect("always", member("h", "seen")),)))
    assert c.symbols.contexts["h"].decl.is_irq and c.symbols.contexts["h"].outer == ("seen",)


def test_E205_duplicate_top_level_names_share_one_namespace() -> None:
    f = file(page("X"), gint("X"), lock("L"), task("L"))
    diags = errors(f)
    assert [d.code for d in diags] == ["E205", "E205"]
    assert "already declared" in diags[0].message and "first declared at line" in diags[0].hint


def test_E205_top_level_name_equal_to_builtin_or_constant() -> None:
    f = file(gint("kmap"), gint("NULL"), lock("PAGE_SIZE"))
    diags = errors(f)
    assert [d.code for d in diags] == ["E205"] * 3
    assert "built-in function" in diags[0].message
    assert "kernel constant" in diags[1].message


def test_E205_local_declared_twice_in_one_block() -> None:
    d = one(body(var("int", "a"), var("int", "a")), "E205")
    assert "already declared in this block" in d.message


# ------------------------------------------------------------------ config


def test_E301_unknown_config_key_did_you_mean() -> None:
    d = one(file(cfg=config(CONFIG_HIGHMEN="y")), "E301")
    assert "`CONFIG_HIGHMEN`" in d.message and d.hint == "did you mean `CONFIG_HIGHMEM`?"


def test_E302_bad_config_value() -> None:
    d = one(file(cfg=config(PAGE_SIZE=1000)), "E302")
    assert "power of two" in d.message


def test_E303_highmem_refused_on_x86_64() -> None:
    d = one(file(cfg=config(ARCH="x86_64", CONFIG_HIGHMEM="y")), "E303")
    assert "arch/x86/Kconfig" in d.message and "ARCH = x86" in d.hint


def test_E303_devmap_protection_refused_with_highmem() -> None:
    d = one(file(cfg=config(CONFIG_HIGHMEM="y", CONFIG_DEVMAP_ACCESS_PROTECTION="y",
                            ARCH="x86")), "E303")
    assert "depends on !HIGHMEM" in d.message and "mm/Kconfig" in d.message


def test_E303_pkmap_window_must_fit_below_page_offset_on_arm() -> None:
    """arch/arm/include/asm/highmem.h: PKMAP_BASE = PAGE_OFFSET - PMD_SIZE,
    one page table of LAST_PKMAP = PTRS_PER_PTE entries: the window is 2 MiB
    and the direct map starts right above it."""
    d = one(file(cfg=config(ARCH="arm", LAST_PKMAP=1024)), "E303")
    assert "PAGE_OFFSET" in d.message and "LAST_PKMAP = 512" in d.hint
    d = one(file(cfg=config(ARCH="arm", PAGE_SIZE=8192)), "E303")
    assert "LAST_PKMAP = 256" in d.hint


def test_E303_pkmap_window_must_end_below_the_fixmap_on_x86() -> None:
    d = one(file(cfg=config(ARCH="x86", PAGE_SIZE=16384)), "E303")
    assert "fixmap" in d.message and "LAST_PKMAP = 256" in d.hint


def test_E303_when_no_pkmap_window_fits_the_hint_says_so() -> None:
    """x86, 64 KiB pages, 8 CPUs of 33 debug slots: the kmap_local slots
    alone reach below PKMAP_BASE, so no LAST_PKMAP fits."""
    d = one(file(cfg=config(ARCH="x86", PAGE_SIZE=65536, NR_CPUS=8, LAST_PKMAP=1,
                            CONFIG_DEBUG_KMAP_LOCAL="y", KM_MAX_IDX=33)), "E303")
    assert "no LAST_PKMAP fits" in d.hint and "PAGE_SIZE" in d.hint


def test_pkmap_window_that_fits_is_accepted() -> None:
    for cfg in (config(ARCH="arm"), config(ARCH="arm", PAGE_SIZE=64, LAST_PKMAP=1024),
                config(ARCH="x86"), config(ARCH="x86", PAGE_SIZE=4096, NR_CPUS=8)):
        c = ok(file(cfg=cfg)).config
        # below PAGE_OFFSET on arm, below the lowest kmap_local slot on x86
        limit = c.preset.page_offset if c.ARCH == "arm" else \
            c.kmap_local_vaddr(c.NR_CPUS - 1, c.KM_MAX_IDX - 1)
        assert c.pkmap_addr(0) < c.pkmap_end <= limit, cfg


def test_E304_duplicate_config_key() -> None:
    items = config(CONFIG_HIGHMEM="y").items + config(CONFIG_HIGHMEM="n").items
    d = one(file(cfg=n.Config(items, n.NO_SPAN)), "E304")
    assert "set twice" in d.message and "first set at line" in d.hint


def test_E305_cpu_beyond_explicit_nr_cpus() -> None:
    d = one(file(task("t", cpu=2), cfg=config(NR_CPUS=2)), "E305")
    assert "`cpu2` does not exist" in d.message and "NR_CPUS = 3" in d.hint


def test_default_nr_cpus_grows_to_fit_the_cpus_used() -> None:
    c = ok(file(task("a", cpu=0), task("b", cpu=3), schedules=(sched(("b", None, 3)),)))
    assert c.config.NR_CPUS == 4


def test_E305_schedule_cpu_and_too_many_cpus() -> None:
    f = file(task("a", cpu=None), task("b", cpu=9), schedules=(sched(("a", 1, 2)),),
             cfg=config(NR_CPUS=2))
    assert codes(f) == ["E305", "E305"]
    assert codes(file(task("z", cpu=8))) == ["E305"]


# --------------------------------------------------------- calls and usage


def test_E401_wrong_number_of_arguments_names_the_signature() -> None:
    f = body(stmt(call("memcpy_to_page", name("P"), lit(0), lit(0))))
    d = one(f, "E401")
    assert "`memcpy_to_page` takes 4 arguments (page, offset, from, len), got 3" == d.message


def test_E401_optional_arguments() -> None:
    d = one(body(stmt(call("spin_unlock_irqrestore")), decls=(lock("L"),)), "E401")
    assert "takes 1 or 2 arguments (&lock[, flags]), got 0" in d.message


def test_E402_void_pointer_passed_as_page_hints_kmap_to_page() -> None:
    f = body(var("void *", "p", call("kmap_local_page", name("P"))), stmt(call("kmap", name("p"))))
    d = one(f, "E402")
    assert d.hint == "kmap() takes a struct page *; did you mean kmap_to_page(p)?"


def test_E402_struct_page_local_and_kmap_to_page_are_pages() -> None:
    c = ok(body(var("void *", "p", call("kmap_local_page", name("P"))),
            var("struct page *", "pg", call("kmap_to_page", name("p"))),
            stmt(call("flush_dcache_page", name("pg"))),
            stmt(call("flush_dcache_page", call("kmap_to_page", name("p"))))))
    assert c.symbols.contexts["t"].outer == ("p", "pg")
    p = lower(c)
    s = execute(p, p.schedule).final
    assert s is not None and not s.reports


def test_E402_lock_without_ampersand() -> None:
    d = one(body(stmt(call("spin_lock", name("L"))), decls=(lock("L"),)), "E402")
    assert d.hint == "spin_lock takes &L"


def test_E402_percpu_flags_and_page_array_arguments() -> None:
    f = body(var("int", "x", lit(0)),
             stmt(call("this_cpu_inc", name("x"))),                      # not percpu
             stmt(call("spin_lock_irqsave", addr("L"), name("G"))),      # global as flags
             stmt(call("kmap", name("A"))),                              # array, no index
             decls=(lock("L"), gint("G"), page("A", count=2)))
    assert codes(f) == ["E402", "E402", "E402"]


def test_E402_page_passed_as_an_address() -> None:
    d = one(body(stmt(call("memset", name("P"), lit(0), lit(4)))), "E402")
    assert "kmap_local_page(P)" in d.hint


def test_blocking_builtin_nested_in_expression_is_accepted() -> None:
    """kmap() in a condition, copy_from_user() in a sum: the lowering runs
    the call ahead of its statement (tests/test_functions.py); E403 is gone."""
    ok(body(if_(call("kmap", name("P")), block()),
            var("int", "r", binary("+", call("copy_from_user", lit(0), lit(0), lit(1)), lit(1)))))


def test_blocking_builtin_allowed_as_statement_initialiser_and_assignment() -> None:
    c = ok(body(var("void *", "p", call("kmap", name("P"))), assign(name("p"), call("kmap", name("P"))),
            assign(name("G"), call("dma_map_page", name("P"), name("DMA_TO_DEVICE"))),
            stmt(call("kmap", name("P"))), decls=(gint("G"),)))
    assert c.symbols.contexts["t"].outer == ("p",) and "G" in c.symbols.globals
    p = lower(c)
    s = execute(p, p.schedule).final
    # dma_map_page's value, the bus address, was assigned
    assert s is not None and s.globals[0] == p.pages[0].pfn * p.config.PAGE_SIZE


def test_E404_task_only_builtin_and_pointer_load_in_expectation() -> None:
    f = file(gint("G"), expects=(expect("never", call("smp_processor_id")),
                                 expect("always", index(name("G"), 0)),
                                 expect("always", deref(name("G")))))
    assert codes(f) == ["E404", "E404", "E404"]


def test_E404_expectation_queries_are_fine() -> None:
    c = ok(file(P, gint("pc", percpu=True),
            expects=(expect("always", binary("==", call("pkmap_count", name("P")), lit(0))),
                     expect("always", binary("==", call("per_cpu", name("pc"), lit(0)), lit(0))),
                     expect("sometimes", binary("&&", unary("!", name("WARN")),
                                                call("page_address", name("P")))))))
    # lowered and evaluated on the final state: no task maps the lowmem P
    p = lower(c)
    s = execute(p, p.schedule).final
    assert s is not None and verdicts(p, s) == [True, True, True]


def test_E405_assignment_to_non_assignable() -> None:
    f = body(assign(name("NULL"), lit(1)), assign(name("P"), lit(1)),
             assign(name("PAGE_SIZE"), lit(1)), assign(call("get_cpu"), lit(1)),
             incdec(name("L")), decls=(lock("L"),))
    assert codes(f) == ["E405"] * 5


def test_E406_page_memory_in_task_body() -> None:
    d = one(body(var("int", "v", index(name("P"), 3))), "E406")
    assert d.hint == "map it first: void *p = kmap_local_page(P); p[i]"
    assert codes(body(assign(deref(name("P")), lit(1)))) == ["E406"]


def test_E407_constant_page_array_index_out_of_range() -> None:
    f = body(stmt(call("kmap", index(name("A"), 4))), decls=(page("A", count=4),),
             expects=(expect("always", binary("==", index(index(name("A"), 0), name("PAGE_SIZE")),
                                                lit(0))),))
    diags = errors(f)
    assert [d.code for d in diags] == ["E407", "E407"]
    assert "A[0] .. A[3]" in diags[0].hint


def test_E408_expectation_only_forms_in_a_body() -> None:
    f = body(stmt(call("BUG", text("x"))), var("int", "v", member("t", "v")),
             var("int", "w", name("WARN")))
    assert codes(f) == ["E408", "E408", "E408"]


def test_E409_string_outside_report_kind() -> None:
    f = file(expects=(expect("never", binary("==", text("a"), lit(1))),))
    assert codes(f) == ["E409"]


def test_E410_void_builtin_used_as_value() -> None:
    d = one(body(var("int", "r", call("kunmap", name("P")))), "E410")
    assert "returns void" in d.message


def test_E411_allocator_misuse() -> None:
    f = file(page("A", call("alloc_page")), page("B", call("alloc_devmap_page", lit(1))),
             page("C", call("alloc_user_page", name("presnt"))),
             task("t", var("int", "x", call("alloc_page", name("GFP_KERNEL")))))
    diags = errors(f)
    assert [d.code for d in diags] == ["E411"] * 4
    assert diags[2].hint == "did you mean `present`?"


def test_E411_non_allocator_and_unknown_allocator() -> None:
    assert codes(file(page("A", call("kmap", name("GFP_KERNEL"))))) == ["E411"]
    d = one(file(page("A", call("alloc_pages", name("GFP_KERNEL")))), "E202")
    assert d.hint == "did you mean `alloc_page`?"


def test_E412_top_level_initialiser_must_be_constant() -> None:
    f = file(gint("a", 1), gint("b", name("a")), gint("c", binary("/", lit(1), lit(0))),
             gint("d", call("smp_processor_id")))
    assert codes(f) == ["E412", "E412", "E412"]


def test_E413_expression_nesting_limit() -> None:
    deep: n.Expr = lit(0)
    for _ in range(250):
        deep = unary("-", deep)
    d = one(body(var("int", "x", deep)), "E413")
    assert "deeper than 200" in d.message


def test_E414_statement_without_effect() -> None:
    assert codes(body(var("int", "x"), stmt(name("x")))) == ["E414"]


def test_E415_names_that_are_not_values() -> None:
    f = body(var("int", "a", name("A")), var("int", "b", name("pc")), var("int", "c", addr("L")),
             decls=(page("A", count=2), gint("pc", percpu=True), lock("L")))
    assert codes(f) == ["E415"] * 3


def test_E416_struct_page_local_holds_only_pages() -> None:
    f = body(var("void *", "p", call("kmap_local_page", name("P"))),
             var("struct page *", "pg", name("p")), var("struct page *", "ok", name("NULL")),
             incdec(name("ok")))
    assert codes(f) == ["E416", "E416"]


def test_E417_page_array_size() -> None:
    assert codes(file(page("A", count=0))) == ["E417"]


def test_E418_irq_needs_a_cpu() -> None:
    assert codes(file(task("h", irq=True, cpu=None))) == ["E418"]


# ---------------------------------------------------------------- schedule


def test_E501_one_schedule_line() -> None:
    f = file(task("a"), schedules=(sched("a"), sched("a")))
    assert codes(f) == ["E501"]


def test_E502_step_count_at_least_one() -> None:
    assert codes(file(task("a"), schedules=(sched(("a", 0, None)),))) == ["E502"]


def test_E503_schedule_cpu_of_pinned_task() -> None:
    f = file(task("a", cpu=0), task("b", cpu=None), schedules=(sched(("a", None, 1), ("b", 1, 1)),),
             cfg=config(NR_CPUS=2))
    assert codes(f) == ["E503"]


# ------------------------------------------------------------- all at once


def test_every_problem_is_reported_at_once() -> None:
    f = file(P, task("t", stmt(call("kmap_locl_page", name("P"))),
                     stmt(call("kmap", name("Q")))),
             cfg=config(CONFIG_HIGHMEN="y"))
    assert sorted(codes(f)) == ["E201", "E202", "E301"]


def test_only_input_error_is_raised_for_garbage() -> None:
    # Nonsense everywhere: the checker reports, never crashes.
    weird: list[n.Expr] = [addr("x"), deref(lit(1)), member("a", "b"), text("s"),
                           index(lit(1), lit(2)), call("BUG"), call("WARN", lit(1)),
                           call("per_cpu", lit(1), lit(2)), call("spin_lock", addr("P")),
                           call("this_cpu_read", name("P")), call("kmap", lit(0))]
    decls = tuple(task(f"t{i}", var("int", "v", e), stmt(e), assign(e, e)) for i, e in enumerate(weird))
    expects = tuple(expect("always", e) for e in weird)
    with pytest.raises(InputError):
        check(file(*decls, expects=expects), source_of(file()))


def test_while_and_for_conditions_are_nested_positions() -> None:
    f = body(while_(call("cond_resched")), for_(None, call("schedule"), None))
    assert codes(f) == ["E410", "E410"]


def test_E402_uaccess_user_pointer_takes_user_pages_only() -> None:
    U = page("U", call("alloc_user_page", name("present")))
    ok(body(var("void *", "p", call("kmap_local_page", name("P"))),
            var("int", "left", call("copy_from_user", name("p"), name("U"), lit(4))),
            assign(name("left"), call("copy_to_user", binary("+", name("U"), lit(8)), name("p"),
                                      lit(4))),
            decls=(U,)))
    d = one(body(var("void *", "p", call("kmap_local_page", name("P"))),
                 stmt(call("copy_from_user", name("p"), name("P"), lit(4)))), "E402")
    assert "not a user page" in d.message and "alloc_user_page" in d.hint


def test_E305_per_cpu_constant_cpu() -> None:
    f = file(gint("pc", percpu=True), task("t", cpu=0), cfg=config(NR_CPUS=2),
             expects=(expect("always", call("per_cpu", name("pc"), lit(2))),))
    assert codes(f) == ["E305"]


def test_every_emitted_code_is_listed_in_CODES() -> None:
    import re
    from pathlib import Path

    from kmap_scenarios.dsl import check
    from kmap_scenarios.dsl.check.env import CODES
    root = Path(check.__file__).parent   # the installed checker's source
    used = set()
    for module in ("checker.py", "expr.py", "args.py", "stmt.py"):
        used |= set(re.findall(r'"(E\d{3})"', (root / module).read_text()))
    assert used == set(CODES)


def test_E404_task_pointer_local_is_not_page_memory() -> None:
    f = file(P, task("t", var("void *", "p", call("kmap_local_page", name("P")))),
             expects=(expect("always", index(member("t", "p"), 0)),))
    assert codes(f) == ["E404"]


# ------------------------------------------------- C that is not supported
def _diags(src: str) -> list[Diagnostic]:
    from kmap_scenarios.dsl.lower.load import load_text
    with pytest.raises(InputError) as info:
        load_text(src, "c.kmap")
    return info.value.diagnostics


def test_calling_a_task_says_tasks_are_not_functions() -> None:
    d, = _diags("task t on cpu0 { int x = 1; }\ntask u on cpu0 { t(); }\n")
    assert d.code == "E202" and "`t` is a task, not a function" in d.message
    assert "this_cpu" not in d.hint
