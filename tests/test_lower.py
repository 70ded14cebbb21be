"""dsl/lower/lower.py: instruction shapes, slots, pages and expectations."""

from __future__ import annotations

from astkit import (addr, assign, binary, block, call, config, deref, expect, file, for_, gint,
                    if_, incdec, index, lit, lock, member, name, page, sched, source_of, stmt,
                    task, text, unary, var, while_)
from kmap_scenarios.dsl.syntax import nodes as n
from kmap_scenarios.dsl.check.checker import check
from kmap_scenarios.dsl.lower.lower import lower
from kmap_scenarios.dsl.syntax.source import Source
from kmap_scenarios.runtime.kernel import program as ir


def prog(f: n.File, source: Source | None = None) -> ir.Program:
    return lower(check(f, source or source_of(f)))


def code(*stmts: n.Stmt, decls: tuple[n.Decl, ...] = (), **kw: object) -> tuple[ir.Instr, ...]:
    """The code of task `t` (on cpu0) after page P and ``decls``."""
    f = file(page("P"), *decls, task("t", *stmts), **kw)  # type: ignore[arg-type]
    return prog(f).contexts[0].code


def shapes(instrs: tuple[ir.Instr, ...]) -> list[str]:
    return [type(i).__name__ for i in instrs]


I32 = (32, True)


def to_local(slot: int, width: int = 32, signed: bool = True) -> ir.ToLocal:
    return ir.ToLocal(slot, width, signed)


# ----------------------------------------------------------------- statements


def test_declarations_with_and_without_initialiser() -> None:
    c = code(var("int", "a"), var("u8", "b", lit(300)), var("void *", "p", call("kmap", name("P"))),
             var("long", "l", lit(-1)), var("struct page *", "pg", name("P")))
    assert c[0] == ir.Set(to_local(0), ir.Const(0), c[0].loc)           # the model zeroes it
    assert c[1] == ir.Set(to_local(1, 8, False), ir.Const(300), c[1].loc)
    assert c[2] == ir.Call("kmap", (ir.PageRef(0),), to_local(2, 32, False), c[2].loc)
    assert isinstance(c[3], ir.Set) and c[3].dest == to_local(3, 32, True)   # x86: 32-bit long
    assert isinstance(c[4], ir.Set) and c[4].value == ir.PageRef(0)
    assert isinstance(c[5], ir.End)


def test_pointer_width_follows_the_arch() -> None:
    c = code(var("unsigned long", "u"), var("long", "l"), cfg=config(ARCH="x86_64"))
    assert [i.dest for i in c[:2] if isinstance(i, ir.Set)] == [to_local(0, 64, False),
                                                               to_local(1, 64, True)]


def test_assignments_compound_and_increments() -> None:
    c = code(var("int", "x"), assign(name("x"), lit(2)), assign(name("x"), lit(3), "<<="),
             incdec(name("x")), incdec(name("G"), "--"), decls=(gint("G"),))
    x = ir.Local(0)
    assert c[1] == ir.Set(to_local(0), ir.Const(2), c[1].loc)
    assert c[2] == ir.Set(to_local(0), ir.Binary("<<", x, ir.Const(3)), c[2].loc)
    assert c[3] == ir.Set(to_local(0), ir.Binary("+", x, ir.Const(1)), c[3].loc)
    assert c[4] == ir.Set(ir.ToGlobal(0), ir.Binary("-", ir.Global(0), ir.Const(1)), c[4].loc)


def test_byte_stores_and_loads() -> None:
    c = code(var("void *", "p", call("kmap_local_page", name("P"))),
             assign(index(name("p"), 3), lit(0x55)), assign(deref(name("p")), lit(1)),
             var("int", "v", index(name("p"), 3)), var("int", "w", deref(name("p"))))
    p = ir.Local(0)
    addr3 = ir.Binary("+", p, ir.Const(3))
    assert c[0] == ir.Call("kmap_local_page", (ir.PageRef(0),), to_local(0, 32, False), c[0].loc)
    assert c[1] == ir.Set(ir.ToByte(addr3), ir.Const(0x55), c[1].loc)
    assert c[2] == ir.Set(ir.ToByte(p), ir.Const(1), c[2].loc)
    assert c[3] == ir.Set(to_local(1), ir.LoadByte(addr3), c[3].loc)
    assert c[4] == ir.Set(to_local(2), ir.LoadByte(p), c[4].loc)


def test_calls_as_statements_and_right_hand_sides() -> None:
    c = code(var("int", "cpu"), stmt(call("preempt_disable")),
             assign(name("cpu"), call("smp_processor_id")),
             assign(name("cpu"), binary("+", call("smp_processor_id"), lit(1))))
    assert c[1] == ir.Call("preempt_disable", (), None, c[1].loc)
    assert c[2] == ir.Call("smp_processor_id", (), to_local(0), c[2].loc)
    assert c[3] == ir.Set(to_local(0), ir.Binary("+", ir.CallExpr("smp_processor_id", ()),
                                                 ir.Const(1)), c[3].loc)


def test_lock_percpu_and_flags_arguments() -> None:
    c = code(var("unsigned long", "flags"), stmt(call("spin_lock_irqsave", addr("L"), name("flags"))),
             stmt(call("this_cpu_inc", name("pc"))),
             stmt(call("spin_unlock_irqrestore", addr("L"), name("flags"))),
             stmt(call("spin_lock", addr("M"))),
             decls=(lock("M"), lock("L"), gint("pc", percpu=True)))
    assert c[1] == ir.Call("spin_lock_irqsave", (ir.LockArg(1),), to_local(0, 32, False), c[1].loc)
    assert c[2] == ir.Call("this_cpu_inc", (ir.PercpuVar(0),), None, c[2].loc)
    assert c[3] == ir.Call("spin_unlock_irqrestore", (ir.LockArg(1), ir.Local(0)), None, c[3].loc)
    assert c[4] == ir.Call("spin_lock", (ir.LockArg(0),), None, c[4].loc)


def test_checks_carry_the_condition_text() -> None:
    src = Source("t.kmap", "    assert(p[0] == 0x55);")
    cond = n.Binary("==", n.Index(n.Name("p", n.Span(1, 12, 1, 13)), n.IntLit(0, n.Span(1, 14, 1, 15)),
                                  n.Span(1, 12, 1, 16)),
                    n.IntLit(0x55, n.Span(1, 20, 1, 24)), n.Span(1, 12, 1, 24))
    assert_stmt = n.ExprStmt(n.Call("assert", (cond,), n.Span(1, 5, 1, 25), n.Span(1, 5, 1, 11)),
                             n.Span(1, 5, 1, 26))
    f = file(page("P"), task("t", var("u8 *", "p", call("kmap_local_page", name("P"))), assert_stmt,
                             stmt(call("WARN_ON_ONCE", unary("!", name("p"))))))
    c = prog(f, src).contexts[0].code
    assert c[1] == ir.Check("assert", ir.Binary("==", ir.LoadByte(ir.Binary("+", ir.Local(0),
                                                                           ir.Const(0))),
                                               ir.Const(0x55)), "p[0] == 0x55", ir.Loc(1, 5))
    assert isinstance(c[2], ir.Check) and c[2].kind == "WARN_ON_ONCE" and c[2].text == "!p"


# --------------------------------------------------------------- control flow


def test_if_else_shape() -> None:
    c = code(var("int", "x"), if_(name("x"), block(assign(name("x"), lit(1))),
                                  block(assign(name("x"), lit(2)))), assign(name("x"), lit(3)))
    assert shapes(c) == ["Set", "Branch", "Set", "Jump", "Set", "Set", "End"]
    assert isinstance(c[1], ir.Branch) and c[1].target == 4
    assert isinstance(c[3], ir.Jump) and c[3].target == 5


def test_if_without_else_and_else_if_chain() -> None:
    c = code(var("int", "x"), if_(name("x"), block(assign(name("x"), lit(1)))))
    assert shapes(c) == ["Set", "Branch", "Set", "End"]
    assert isinstance(c[1], ir.Branch) and c[1].target == 3
    c = code(var("int", "x"), if_(name("x"), block(), if_(lit(1), block(assign(name("x"), lit(2))))))
    assert shapes(c) == ["Set", "Branch", "Jump", "Branch", "Set", "End"]
    assert [getattr(i, "target", None) for i in c] == [None, 3, 5, 5, None, None]


def test_while_shape() -> None:
    c = code(var("int", "x"), while_(binary("<", name("x"), lit(3)), incdec(name("x"))))
    assert shapes(c) == ["Set", "Branch", "Set", "Jump", "End"]
    assert isinstance(c[1], ir.Branch) and c[1].target == 4
    assert isinstance(c[3], ir.Jump) and c[3].target == 1


def test_for_shape_and_loop_scope() -> None:
    loop = for_(var("int", "i", lit(0)), binary("<", name("i"), lit(4)), incdec(name("i")),
                stmt(call("preempt_point")))
    c = code(loop, var("int", "i", lit(9)))
    assert shapes(c) == ["Set", "Branch", "Call", "Set", "Jump", "Set", "End"]
    assert isinstance(c[1], ir.Branch) and c[1].target == 5
    assert isinstance(c[4], ir.Jump) and c[4].target == 1
    assert c[5] == ir.Set(to_local(1), ir.Const(9), c[5].loc)    # a fresh slot after the loop


def test_for_without_condition_has_no_branch() -> None:
    c = code(for_(None, None, None, stmt(call("cond_resched"))))
    assert shapes(c) == ["Call", "Jump", "End"]
    assert isinstance(c[1], ir.Jump) and c[1].target == 0


def test_branch_loc_is_the_keyword_and_end_is_the_closing_brace() -> None:
    body = n.Block((), n.Span(5, 10, 7, 2))
    f = file(n.TaskDecl("t", 0, body, False, n.Span(5, 1, 7, 2), n.Span(5, 6, 5, 7), None))
    assert prog(f).contexts[0].code == (ir.End(ir.Loc(7, 1)),)
    stmt_if = if_(lit(1), block())
    c = code(stmt_if)
    assert isinstance(c[0], ir.Branch) and c[0].loc == ir.Loc(stmt_if.span.line, stmt_if.span.col)


# --------------------------------------------------------------------- slots


def test_slots_shadowing_and_outer_locals() -> None:
    f = file(page("P"), gint("x", 5),
             task("a", var("int", "x", lit(1)), if_(lit(1), block(var("int", "x", lit(2)),
                                                                  assign(name("x"), lit(3)))),
                  assign(name("x"), lit(4)), var("int", "y"), cpu=0),
             task("b", assign(name("x"), lit(6)), cpu=None),
             task("h", var("int", "z"), irq=True, cpu=0))
    p = prog(f)
    a, b, h = p.contexts
    assert a.local_names == ("x", "x", "y") and a.outer_locals == (("x", 0), ("y", 2))
    assert [i.dest for i in a.code if isinstance(i, ir.Set)][2:4] == [to_local(1), to_local(0)]
    assert b.code[0] == ir.Set(ir.ToGlobal(0), ir.Const(6), b.code[0].loc)
    assert (a.pid, b.pid, h.pid) == (1, 2, 0)
    assert (a.cpu, b.cpu, h.cpu, h.is_irq) == (0, None, 0, True)


def test_initialiser_reads_the_outer_name() -> None:
    c = code(var("int", "v", lit(1)), block(var("int", "v", binary("+", name("v"), lit(1)))))
    assert c[1] == ir.Set(to_local(1), ir.Binary("+", ir.Local(0), ir.Const(1)), c[1].loc)


# --------------------------------------------------------------------- pages


def test_pages_pfns_kinds_and_arrays() -> None:
    f = file(page("L0"), page("H", call("alloc_page", name("GFP_HIGHUSER")), count=2),
             page("U", call("alloc_user_page", name("present"))),
             page("V", call("alloc_user_page", name("not_present"))),
             page("L1", call("alloc_page", binary("|", name("GFP_KERNEL"), lit(0)))),
             cfg=config(CONFIG_HIGHMEM="y", ARCH="arm", PAGE_SIZE=256))
    p = prog(f)
    K = ir.PageKind
    assert [(pg.name, pg.kind, pg.pfn, pg.present, pg.user_vaddr) for pg in p.pages] == [
        ("L0", K.LOWMEM, 0x60000, True, 0),
        ("H[0]", K.HIGHMEM, 0x90000, True, 0),
        ("H[1]", K.HIGHMEM, 0x90001, True, 0),
        ("U", K.USER, 0x60001, True, 0x10000),
        ("V", K.USER, 0x60002, False, 0x10100),
        ("L1", K.LOWMEM, 0x60003, True, 0),
    ]


def test_devmap_pages_on_x86_64() -> None:
    """ZONE_DEVICE needs SPARSEMEM_VMEMMAP: devmap pages exist on x86_64 only (E419 elsewhere)."""
    f = file(page("D", call("alloc_devmap_page")), cfg=config(ARCH="x86_64"))
    (pg,) = prog(f).pages
    assert pg.kind is ir.PageKind.DEVMAP and pg.pfn == 0x800000


def test_highmem_request_falls_back_to_lowmem_without_config_highmem() -> None:
    f = file(page("H", call("alloc_page", name("__GFP_HIGHMEM"))), cfg=config(CONFIG_HIGHMEM="n"))
    (pg,) = prog(f).pages
    assert pg.kind is ir.PageKind.LOWMEM and pg.pfn == 0x100


def test_page_array_elements_in_code() -> None:
    c = code(var("int", "i", lit(1)), stmt(call("kmap", index(name("A"), name("i")))),
             decls=(page("A", count=3),))
    assert c[1] == ir.Call("kmap", (ir.PageElem(1, 3, ir.Local(0)),), None, c[1].loc)


# ------------------------------------------------------- globals, expectations


def test_globals_percpus_locks_and_constant_folding() -> None:
    f = file(gint("a", binary("/", unary("-", lit(7)), lit(2))),
             gint("b", binary("%", unary("-", lit(7)), lit(2))),
             gint("c", binary("&&", lit(2), binary("<", lit(1), name("NR_CPUS")))),
             gint("d", lit(0xFFFFFFFF)), gint("pc", name("PAGE_SIZE"), percpu=True),
             lock("L"), lock("M"), task("t", cpu=1))
    p = prog(f)
    assert p.globals == (("a", -3), ("b", -1), ("c", 1), ("d", -1))
    assert p.percpus == (("pc", 4096),) and p.locks == ("L", "M")


def test_expectations_lower_to_final_state_queries() -> None:
    f = file(page("P"), page("A", count=2), gint("G"), gint("pc", percpu=True),
             task("w", var("int", "v", lit(1)), var("int", "u", lit(2))),
             expects=(expect("always", binary("==", index(name("P"), 3), lit(0x55))),
                      expect("never", binary("&&", member("w", "u"), index(index(name("A"), 1), 0))),
                      expect("sometimes", binary("||", name("DATA_LOSS"),
                                                 call("WARN", text("kunmap_local")))),
                      expect("always", binary("==", call("per_cpu", name("pc"), lit(0)), name("G")))))
    e = prog(f).expectations
    assert e[0].quant == "always"
    assert e[0].cond == ir.Binary("==", ir.PageMem(ir.PageRef(0), ir.Const(3)), ir.Const(0x55))
    assert e[1].cond == ir.Binary("&&", ir.TaskLocal(0, 1),
                                  ir.PageMem(ir.PageElem(1, 2, ir.Const(1)), ir.Const(0)))
    assert e[2].cond == ir.Binary("||", ir.ReportTest("DATA_LOSS", None),
                                  ir.ReportTest("WARN", "kunmap_local"))
    assert e[3].cond == ir.Binary("==", ir.CallExpr("per_cpu", (ir.PercpuVar(0), ir.Const(0))),
                                  ir.Global(0))
    assert e[0].text == "P[3] == 85"            # unparsed: these nodes have no source
    assert e[1].line == f.expects[1].span.line


def test_schedule_name_and_source() -> None:
    f = file(task("a", cpu=None), task("b", cpu=1), schedules=(sched(("b", 2, None), ("a", None, 1)),),
             path="dir/race.kmap")
    p = prog(f)
    assert p.schedule == (ir.ScheduleStep(1, 2, None), ir.ScheduleStep(0, None, 1))
    assert p.schedule_line == f.schedules[0].span.line
    assert p.name == "race" and p.path == "dir/race.kmap"
    assert prog(file(scenario="named")).name == "named"
    assert prog(file()).schedule is None


def test_user_page_names_are_user_addresses_in_uaccess() -> None:
    U = page("U", call("alloc_user_page", name("present")))
    V = page("V", call("alloc_user_page", name("not_present")), count=2)
    c = code(var("void *", "p", call("kmap_local_page", name("P"))),
             stmt(call("copy_from_user", name("p"), name("U"), lit(4))),
             stmt(call("copy_to_user", index(name("V"), 1), name("p"), lit(4))),
             stmt(call("copy_to_user", call("page_address", name("U")), name("p"), lit(4))),
             decls=(U, V))
    base = 0x08048000                       # x86's preset.user_base
    assert c[1] == ir.Call("copy_from_user", (ir.Local(0), ir.Const(base), ir.Const(4)), None,
                           c[1].loc)
    assert isinstance(c[2], ir.Call) and c[2].args[0] == ir.Binary(
        "+", ir.Const(base + 4096), ir.Binary("*", ir.Const(1), ir.Const(4096)))
    assert isinstance(c[3], ir.Call) and c[3].args[0] == ir.CallExpr("page_address", (ir.PageRef(1),))


def test_struct_page_task_local_in_expectation() -> None:
    f = file(page("P"), task("t", var("struct page *", "pg", name("P"))),
             expects=(expect("always", binary("==", index(member("t", "pg"), 1), lit(0))),
                      expect("always", call("pkmap_count", member("t", "pg")))))
    e = prog(f).expectations
    assert e[0].cond == ir.Binary("==", ir.PageMem(ir.TaskLocal(0, 0), ir.Const(1)), ir.Const(0))
    assert e[1].cond == ir.CallExpr("pkmap_count", (ir.TaskLocal(0, 0),))
