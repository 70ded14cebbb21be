"""dsl/syntax/parser.py and dsl/syntax/build.py on valid input: every syntax form of the
language contract parses to the AST shape and values it stands for."""

from __future__ import annotations

import pytest
from lark.lexer import PatternStr

from kmap_scenarios.dsl.syntax import nodes as n
from kmap_scenarios.dsl.syntax.build import Builder, int_value, unescape
from kmap_scenarios.dsl.syntax.names import KEYWORDS, TYPE_WORDS
from kmap_scenarios.dsl.syntax.parser import parse_text, parser, read_source
from kmap_scenarios.dsl.syntax.messages import TOPLEVEL_WORDS

# docs/language.md's complete example, verbatim.
EXAMPLE = """\
// The 2009 race fixed by kmap_high_get(): dma_map_page() invalidates a
// highmem page's cache lines through page_address() while kmap_high() on
// the same CPU recycles that very pkmap slot for another page.
scenario "dma-map-vs-pkmap-slot-reuse";

config {
    ARCH = arm;                      // VIVT cache, non-coherent DMA
    NR_CPUS = 1;
    CONFIG_HIGHMEM = y;
    CONFIG_PREEMPTION = y;
    LAST_PKMAP = 2;                  // a tiny pool so that it wraps
    ARCH_NEEDS_KMAP_HIGH_GET = n;    // the kernel before the fix
    PAGE_SIZE = 128;
    L1_CACHE_BYTES = 32;
}

page P = alloc_page(GFP_HIGHUSER);
page Q = alloc_page(GFP_HIGHUSER);
page R = alloc_page(GFP_HIGHUSER);

task dma on cpu0 {
    void *p = kmap(P);                // first use of the pool: slot 1
    kunmap(P);                        // slot stays mapped: pkmap_count 1
    dma_map_page(P, DMA_FROM_DEVICE); // invalidates line by line through
                                      // page_address(P), preemptible
}

task writer on cpu0 {
    void *r = kmap(R);                // wraps: flush_all_zero_pkmaps frees
    kunmap(R);                        //   P's slot; R takes slot 0
    void *q = kmap(Q);                // Q takes slot 1: P's old address
    memset(q, 0x55, PAGE_SIZE);       // dirty lines under that address
    kunmap(Q);
}

expect sometimes DATA_LOSS;
expect never BUG;
"""


def parse(text: str) -> n.File:
    return parse_text(text, "t.kmap")


def body(src: str) -> tuple[n.Stmt, ...]:
    """The statements of a single task whose body is src."""
    f = parse(f"task t {{\n{src}\n}}\n")
    task = f.decls[0]
    assert isinstance(task, n.TaskDecl)
    return task.body.stmts


def stmt(src: str) -> n.Stmt:
    (only,) = body(src)
    return only


def expr(src: str) -> n.Expr:
    s = stmt(f"x = {src};")
    assert isinstance(s, n.Assign)
    return s.value


def shape(e: n.Expr) -> str:
    """Fully parenthesised text of an expression, to check precedence."""
    if isinstance(e, n.Binary):
        return f"({shape(e.left)} {e.op} {shape(e.right)})"
    if isinstance(e, n.Unary):
        return f"({e.op}{shape(e.operand)})"
    if isinstance(e, n.Deref):
        return f"(*{shape(e.operand)})"
    if isinstance(e, n.AddrOf):
        return f"(&{shape(e.operand)})"
    if isinstance(e, n.Index):
        return f"{shape(e.base)}[{shape(e.index)}]"
    if isinstance(e, n.Call):
        return f"{e.func}({', '.join(shape(a) for a in e.args)})"
    if isinstance(e, n.Member):
        return f"{e.obj}.{e.field}"
    if isinstance(e, n.Name):
        return e.id
    if isinstance(e, n.IntLit):
        return str(e.value)
    assert isinstance(e, n.StrLit)
    return repr(e.value)


# ------------------------------------------------------------ the example


def test_the_language_example_parses_to_its_ast() -> None:
    f = parse_text(EXAMPLE, "race.kmap")
    assert f.path == "race.kmap"
    assert f.scenario is not None and f.scenario.name == "dma-map-vs-pkmap-slot-reuse"
    assert f.config is not None
    assert [(i.key, i.value) for i in f.config.items] == [
        ("ARCH", "arm"), ("NR_CPUS", 1), ("CONFIG_HIGHMEM", "y"), ("CONFIG_PREEMPTION", "y"),
        ("LAST_PKMAP", 2), ("ARCH_NEEDS_KMAP_HIGH_GET", "n"), ("PAGE_SIZE", 128),
        ("L1_CACHE_BYTES", 32)]
    pages = [d for d in f.decls if isinstance(d, n.PageDecl)]
    assert [(p.name, p.count, p.alloc.func) for p in pages] == [
        ("P", None, "alloc_page"), ("Q", None, "alloc_page"), ("R", None, "alloc_page")]
    assert pages[0].alloc.args == (n.Name("GFP_HIGHUSER", n.Span(17, 21, 17, 33)),)
    tasks = [d for d in f.decls if isinstance(d, n.TaskDecl)]
    assert [(t.name, t.cpu, t.is_irq, len(t.body.stmts)) for t in tasks] == [
        ("dma", 0, False, 3), ("writer", 0, False, 5)]
    assert [(e.quant, e.cond) for e in f.expects] == [
        ("sometimes", n.Name("DATA_LOSS", n.Span(36, 18, 36, 27))),
        ("never", n.Name("BUG", n.Span(37, 14, 37, 17)))]
    assert f.schedules == ()


def test_example_statements_and_spans() -> None:
    f = parse_text(EXAMPLE, "race.kmap")
    dma = f.decls[3]
    assert isinstance(dma, n.TaskDecl)
    assert dma.span == n.Span(21, 1, 26, 2)
    assert dma.name_span == n.Span(21, 6, 21, 9)
    assert dma.cpu_span == n.Span(21, 13, 21, 17)
    decl, unmap, dma_map = dma.body.stmts
    assert isinstance(decl, n.VarDecl)
    assert (decl.ctype, decl.name) == ("void *", "p")
    assert decl.name_span == n.Span(22, 11, 22, 12)
    assert isinstance(decl.init, n.Call) and decl.init.func == "kmap"
    assert decl.init.span == n.Span(22, 15, 22, 22)
    assert decl.init.func_span == n.Span(22, 15, 22, 19)
    assert isinstance(dma_map, n.ExprStmt) and isinstance(dma_map.expr, n.Call)
    assert [a for a in dma_map.expr.args if isinstance(a, n.Name)][1].id == "DMA_FROM_DEVICE"
    assert isinstance(unmap, n.ExprStmt)
    writer = f.decls[4]
    assert isinstance(writer, n.TaskDecl)
    memset = writer.body.stmts[3]
    assert isinstance(memset, n.ExprStmt) and isinstance(memset.expr, n.Call)
    assert memset.expr.args[1] == n.IntLit(0x55, n.Span(32, 15, 32, 19))


# -------------------------------------------------------------- top level


def test_scenario_and_string_escapes() -> None:
    f = parse('scenario "a \\"quoted\\" \\\\ name";\ntask t { }\n')
    assert f.scenario == n.Scenario('a "quoted" \\ name', n.Span(1, 1, 1, 33))


def test_config_values_are_ints_or_names() -> None:
    f = parse("config {\n  LAST_PKMAP = 0x10;\n  CACHE = vivt;\n  PKS_FAULT_MODE = relaxed;\n}\n"
              "task t { }\n")
    assert f.config is not None
    items = f.config.items
    assert [(i.key, i.value) for i in items] == [
        ("LAST_PKMAP", 16), ("CACHE", "vivt"), ("PKS_FAULT_MODE", "relaxed")]
    assert items[0].span == n.Span(2, 3, 2, 21)  # `;` included
    assert items[0].key_span == n.Span(2, 3, 2, 13)
    assert items[0].value_span == n.Span(2, 16, 2, 20)
    assert f.config.span == n.Span(1, 1, 5, 2)


def test_empty_config() -> None:
    f = parse("config { }\ntask t { }\n")
    assert f.config is not None and f.config.items == ()


@pytest.mark.parametrize("src, name, count, func, args", [
    ("page P = alloc_page(GFP_KERNEL);", "P", None, "alloc_page", ("GFP_KERNEL",)),
    ("page A[4] = alloc_page(__GFP_HIGHMEM);", "A", 4, "alloc_page", ("__GFP_HIGHMEM",)),
    ("page D = alloc_devmap_page();", "D", None, "alloc_devmap_page", ()),
    ("page U = alloc_user_page(present);", "U", None, "alloc_user_page", ("present",)),
    ("page V = alloc_user_page(not_present);", "V", None, "alloc_user_page", ("not_present",)),
])
def test_page_declarations(src: str, name: str, count: int | None, func: str,
                           args: tuple[str, ...]) -> None:
    decl = parse(src + "\ntask t { }\n").decls[0]
    assert isinstance(decl, n.PageDecl)
    assert (decl.name, decl.count, decl.alloc.func) == (name, count, func)
    assert tuple(a.id for a in decl.alloc.args if isinstance(a, n.Name)) == args
    assert decl.name_span == n.Span(1, 6, 1, 7)


def test_page_combined_with_gfp_expression() -> None:
    decl = parse("page P = alloc_page(GFP_KERNEL | __GFP_HIGHMEM);\ntask t { }\n").decls[0]
    assert isinstance(decl, n.PageDecl)
    assert shape(decl.alloc.args[0]) == "(GFP_KERNEL | __GFP_HIGHMEM)"


def test_globals_percpu_and_locks() -> None:
    f = parse("int G = 3 + 4;\npercpu int C = 1;\nint Z;\npercpu int W;\nspinlock_t L;\n"
              "task t { }\n")
    g, c, z, w, lock, _ = f.decls
    assert isinstance(g, n.IntDecl) and (g.name, g.percpu, shape(g.init)) == ("G", False, "(3 + 4)")
    assert isinstance(c, n.IntDecl) and (c.name, c.percpu, shape(c.init)) == ("C", True, "1")
    assert c.name_span == n.Span(2, 12, 2, 13)
    # Without an initialiser a global is zero, as any C object of static storage.
    assert isinstance(z, n.IntDecl) and z.init == n.IntLit(0, n.Span(3, 5, 3, 6))
    assert isinstance(w, n.IntDecl) and w.percpu and w.init == n.IntLit(0, n.Span(4, 12, 4, 13))
    assert lock == n.LockDecl("L", n.Span(5, 1, 5, 14), n.Span(5, 12, 5, 13))


def test_tasks_and_irqs() -> None:
    f = parse("task a on cpu1 { }\ntask b { }\nirq h on cpu0 { x = 1; }\n")
    a, b, h = f.decls
    assert isinstance(a, n.TaskDecl) and (a.name, a.cpu, a.is_irq) == ("a", 1, False)
    assert isinstance(b, n.TaskDecl) and (b.cpu, b.cpu_span, b.is_irq) == (None, None, False)
    assert isinstance(h, n.TaskDecl) and (h.name, h.cpu, h.is_irq) == ("h", 0, True)
    assert h.cpu_span == n.Span(3, 10, 3, 14)
    assert h.body.span == n.Span(3, 15, 3, 25)


def test_schedule_items() -> None:
    f = parse("task a { }\ntask b { }\nschedule a, b:2, a@cpu1, b@cpu0:3;\nschedule a;\n")
    first, second = f.schedules
    assert [(i.name, i.steps, i.cpu) for i in first.items] == [
        ("a", None, None), ("b", 2, None), ("a", None, 1), ("b", 3, 0)]
    assert first.items[3].span == n.Span(3, 26, 3, 34)
    assert first.span == n.Span(3, 1, 3, 35)
    assert [i.name for i in second.items] == ["a"]


def test_expectations() -> None:
    f = parse('task writer { }\nexpect always Q[0] == 0x55;\nexpect never BUG("scheduling '
              'while atomic");\nexpect sometimes writer.v == 0 && !WARN;\n'
              "expect never per_cpu(C, 1) != pkmap_count(P);\n")
    assert [e.quant for e in f.expects] == ["always", "never", "sometimes", "never"]
    assert [shape(e.cond) for e in f.expects] == [
        "(Q[0] == 85)", "BUG('scheduling while atomic')", "((writer.v == 0) && (!WARN))",
        "(per_cpu(C, 1) != pkmap_count(P))"]
    member = f.expects[2].cond
    assert isinstance(member, n.Binary) and isinstance(member.left, n.Binary)
    m = member.left.left
    assert isinstance(m, n.Member)
    assert (m.span, m.obj_span, m.field_span) == (
        n.Span(4, 18, 4, 26), n.Span(4, 18, 4, 24), n.Span(4, 25, 4, 26))


def test_items_keep_source_order_across_kinds() -> None:
    f = parse("page P = alloc_page(GFP_KERNEL);\ntask t { }\nint G = 0;\nirq h on cpu0 { }\n")
    assert [type(d).__name__ for d in f.decls] == ["PageDecl", "TaskDecl", "IntDecl", "TaskDecl"]


# -------------------------------------------------------------- statements


@pytest.mark.parametrize("ctype", n.TYPES)
def test_every_declaration_type(ctype: str) -> None:
    spelled = ctype.replace(" *", "*") if ctype.endswith("*") else ctype
    s = stmt(f"{spelled} v = 1;")
    assert isinstance(s, n.VarDecl)
    assert (s.ctype, s.name) == (ctype, "v")


def test_declarations_with_and_without_init() -> None:
    flags, pg, v = body("unsigned long flags;\nstruct page *pg = kmap_to_page(p);\nu8 v = p[3];")
    assert flags == n.VarDecl("unsigned long", "flags", None, n.Span(2, 1, 2, 20),
                              n.Span(2, 15, 2, 20))
    assert isinstance(pg, n.VarDecl) and pg.ctype == "struct page *"
    assert isinstance(pg.init, n.Call) and pg.init.func == "kmap_to_page"
    assert isinstance(v, n.VarDecl) and shape(v.init) == "p[3]"  # type: ignore[arg-type]


@pytest.mark.parametrize("op", ["=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="])
def test_assignment_operators(op: str) -> None:
    s = stmt(f"x {op} 2;")
    assert isinstance(s, n.Assign)
    assert (shape(s.target), s.op, shape(s.value)) == ("x", op, "2")
    assert s.span == n.Span(2, 1, 2, 5 + len(op))


def test_stores_through_pointers() -> None:
    idx, deref, deref_plus = body("p[3] = 0x55;\n*p = 1;\n*(p + 1) = 2;")
    assert isinstance(idx, n.Assign) and shape(idx.target) == "p[3]" and shape(idx.value) == "85"
    assert isinstance(deref, n.Assign) and isinstance(deref.target, n.Deref)
    assert deref.target.span == n.Span(3, 1, 3, 3)
    assert isinstance(deref_plus, n.Assign) and shape(deref_plus.target) == "(*(p + 1))"


def test_increments() -> None:
    inc, dec, elem = body("x++;\ny--;\np[1]++;")
    assert inc == n.IncDec(n.Name("x", n.Span(2, 1, 2, 2)), "++", n.Span(2, 1, 2, 4))
    assert isinstance(dec, n.IncDec) and dec.op == "--"
    assert isinstance(elem, n.IncDec) and shape(elem.target) == "p[1]"


def test_calls_as_statements() -> None:
    calls = body("assert(p[0] == 0x55);\nBUG_ON(x);\nWARN_ON(x);\nWARN_ON_ONCE(x);\n"
                 "preempt_point();\nkunmap_local(p);\nspin_lock(&L);\nschedule();")
    assert [s.expr.func for s in calls if isinstance(s, n.ExprStmt)  # type: ignore[union-attr]
            ] == ["assert", "BUG_ON", "WARN_ON", "WARN_ON_ONCE", "preempt_point", "kunmap_local",
                  "spin_lock", "schedule"]
    lock = calls[6]
    assert isinstance(lock, n.ExprStmt) and isinstance(lock.expr, n.Call)
    assert isinstance(lock.expr.args[0], n.AddrOf)


def test_if_else_chains() -> None:
    s = stmt("if (v == 0x55) { a(); } else if (b) { } else { c(); }")
    assert isinstance(s, n.If)
    assert shape(s.cond) == "(v == 85)" and len(s.then.stmts) == 1
    assert isinstance(s.orelse, n.If)
    assert s.orelse.then.stmts == ()
    assert isinstance(s.orelse.orelse, n.Block) and len(s.orelse.orelse.stmts) == 1
    plain = stmt("if (x) { }")
    assert isinstance(plain, n.If) and plain.orelse is None


def test_bodies_without_braces_become_blocks() -> None:
    s = stmt("if (x) foo(); else bar();")
    assert isinstance(s, n.If)
    assert isinstance(s.then, n.Block) and len(s.then.stmts) == 1
    assert s.then.span == n.Span(2, 8, 2, 14)
    assert isinstance(s.orelse, n.Block)
    dangling = stmt("if (a) if (b) x = 1; else x = 2;")
    assert isinstance(dangling, n.If) and dangling.orelse is None  # else binds to the inner if
    inner = dangling.then.stmts[0]
    assert isinstance(inner, n.If) and inner.orelse is not None
    loop = stmt("while (x) x--;")
    assert isinstance(loop, n.While) and isinstance(loop.body.stmts[0], n.IncDec)
    empty = stmt("for (;;) ;")
    assert isinstance(empty, n.For) and empty.body.stmts == ()


def test_while() -> None:
    s = stmt("while (x < 4) { x = x - 1; }")
    assert isinstance(s, n.While)
    assert shape(s.cond) == "(x < 4)" and len(s.body.stmts) == 1


@pytest.mark.parametrize("header, init, cond, update", [
    ("int i = 0; i < 4; i++", "VarDecl", "(i < 4)", "IncDec"),
    ("i = 0; i < 4; i += 2", "Assign", "(i < 4)", "Assign"),
    ("; ; i--", None, None, "IncDec"),
    ("i++; ; ", "IncDec", None, None),
    ("; x; ", None, "x", None),
    (";;", None, None, None),
])
def test_for_headers(header: str, init: str | None, cond: str | None, update: str | None) -> None:
    s = stmt(f"for ({header}) {{ }}")
    assert isinstance(s, n.For)
    assert (type(s.init).__name__ if s.init else None) == init
    assert (shape(s.cond) if s.cond else None) == cond
    assert (type(s.update).__name__ if s.update else None) == update


def test_nested_blocks_and_empty_statements() -> None:
    outer, = body("{ int x = 1; { x++; } ; }\n;;")
    assert isinstance(outer, n.Block)
    assert [type(s).__name__ for s in outer.stmts] == ["VarDecl", "Block"]


# ------------------------------------------------------------- expressions


@pytest.mark.parametrize("src, expected", [
    ("a || b && c", "(a || (b && c))"),
    ("a && b | c", "(a && (b | c))"),
    ("a | b ^ c", "(a | (b ^ c))"),
    ("a ^ b & c", "(a ^ (b & c))"),
    ("a & b == c", "(a & (b == c))"),
    ("a == b < c", "(a == (b < c))"),
    ("a != b >= c", "(a != (b >= c))"),
    ("a < b << c", "(a < (b << c))"),
    ("a <= b >> c", "(a <= (b >> c))"),
    ("a > b + c", "(a > (b + c))"),
    ("a << b - c", "(a << (b - c))"),
    ("a + b * c", "(a + (b * c))"),
    ("a - b / c % d", "(a - ((b / c) % d))"),
    ("a - b - c", "((a - b) - c)"),
    ("-a * !b", "((-a) * (!b))"),
    ("~a + *p", "((~a) + (*p))"),
    ("-(a + b)", "(-(a + b))"),
    ("&L", "(&L)"),
    ("*p + 1", "((*p) + 1)"),
    ("p[1][0]", "p[1][0]"),
    ("PAGES[1][0] + 2", "(PAGES[1][0] + 2)"),
    ("f(a, b + 1, g())", "f(a, (b + 1), g())"),
    ("task.var", "task.var"),
    ("t.v[2]", "t.v[2]"),
    ("!!x", "(!(!x))"),
    ("- -x", "(-(-x))"),
    ("((x))", "x"),
])
def test_c_precedence(src: str, expected: str) -> None:
    assert shape(expr(src)) == expected


def test_expression_spans_cover_parentheses() -> None:
    e = expr("(a + b) * c")
    assert isinstance(e, n.Binary)
    assert e.span == n.Span(2, 5, 2, 16)
    assert e.left.span == n.Span(2, 6, 2, 11)


@pytest.mark.parametrize("text, value", [
    ("42", 42), ("0", 0), ("0x2a", 42), ("0X2A", 42), ("052", 42), ("1UL", 1), ("0x10u", 16),
    ("7ull", 7), ("3LU", 3),
])
def test_integer_literals(text: str, value: int) -> None:
    assert expr(text) == n.IntLit(value, n.Span(2, 5, 2, 5 + len(text)))


def test_int_value_never_raises_on_bad_octal() -> None:
    assert int_value("09") == 9  # dsl/syntax/parser.py reports it; the builder only builds


def test_int_value_never_raises_on_thousands_of_digits() -> None:
    """Python refuses to convert a decimal string of more than 4300 digits;
    dsl/syntax/parser.py reports any constant over 64 bits, so any value that
    big will do."""
    assert int_value("9" * 5000) > 2 ** 64 and int_value("18446744073709551615") == 2 ** 64 - 1
    assert int_value("0x" + "f" * 5000) > 2 ** 64


def test_string_literals() -> None:
    e = expr('"a\\"b\\\\c\\n\\q"')
    assert e == n.StrLit('a"b\\c\n\\q', n.Span(2, 5, 2, 18))
    assert unescape('"\\t"') == "\t"


# ------------------------------------------------------------------ lexing


def test_comments_anywhere() -> None:
    f = parse("/* head */ task /* mid */ t // tail\n{ x = /* in */ 1; // end\n}\n/**/")
    task = f.decls[0]
    assert isinstance(task, n.TaskDecl) and len(task.body.stmts) == 1


def test_keywords_are_names_where_no_keyword_fits() -> None:
    # `schedule` is a keyword at top level and a built-in in a body; `on`,
    # `page`, `config` and friends are only keywords where the grammar
    # expects them.
    calls = body("schedule();\nint on = 1;\npage = on + config;\nexpect(always);")
    assert isinstance(calls[0], n.ExprStmt) and isinstance(calls[0].expr, n.Call)
    assert isinstance(calls[1], n.VarDecl) and calls[1].name == "on"
    assert isinstance(calls[2], n.Assign) and shape(calls[2].value) == "(on + config)"
    f = parse("task schedule { }\nschedule schedule;\n")
    assert f.schedules[0].items[0].name == "schedule"


def test_cpu_words_are_names_outside_on_and_at() -> None:
    decl, use = body("int cpu0 = 1;\nx = cpu0 + cpu12;")
    assert isinstance(decl, n.VarDecl) and decl.name == "cpu0"
    assert isinstance(use, n.Assign) and shape(use.value) == "(cpu0 + cpu12)"
    f = parse("task cpu1 on cpu3 { }\nschedule cpu1@cpu3;\n")
    task = f.decls[0]
    assert isinstance(task, n.TaskDecl) and (task.name, task.cpu) == ("cpu1", 3)
    assert f.schedules[0].items[0].cpu == 3


def test_kernel_names_are_not_keywords() -> None:
    s = stmt("int kmap = kunmap;")
    assert isinstance(s, n.VarDecl) and s.name == "kmap"


def test_crlf_bom_and_tabs() -> None:
    f = parse_text(b"\xef\xbb\xbftask t {\r\n\tx = 1;\r\n}\r\n", "w.kmap")
    task = f.decls[0]
    assert isinstance(task, n.TaskDecl)
    assert task.body.stmts[0].span == n.Span(2, 2, 2, 7)


def test_old_mac_line_ends_are_line_ends() -> None:
    """A lone CR ends a line, as in a file saved with CR line ends: the
    error is on line 2 and the echoed line has no raw CR in it."""
    from kmap_scenarios.dsl.lower.load import load_text
    from kmap_scenarios.dsl.syntax.source import InputError
    with pytest.raises(InputError) as info:
        load_text(b"task t on cpu0 {\r    x = 1;\r}\r", "mac.kmap")
    d = info.value.diagnostics[0]
    assert d.span.line == 2 and "\r" not in info.value.render()


def test_read_source_is_what_spans_refer_to() -> None:
    source = read_source(b"\xef\xbb\xbftask t {\r\n}\r\n", "w.kmap")
    assert source.lines[:2] == ("task t {", "}")


def test_maximal_munch_operators() -> None:
    # C lexes the longest operator whatever the context.
    assert shape(expr("a<<b>>c")) == "((a << b) >> c)"
    assert shape(expr("a&&b||c")) == "((a && b) || c)"
    assert shape(expr("a<=b")) == "(a <= b)"


def test_grammar_words_are_the_names_module() -> None:
    # dsl/syntax/names.py is the single list of words; the grammar may not invent any.
    words = {t.pattern.value for t in parser().terminals
             if isinstance(t.pattern, PatternStr) and t.pattern.value.isidentifier()}
    assert words == set(KEYWORDS) | set(TYPE_WORDS)
    assert set(TOPLEVEL_WORDS) <= words


# ------------------------------------------------------------- the builder


def test_every_grammar_rule_has_a_builder_method() -> None:
    # A tree node is named by its alias, or by its rule unless the rule is
    # `?`-inlined; `_rules` never make nodes.
    names = {str(r.alias) if r.alias else (None if r.options.expand1 else str(r.origin.name))
             for r in parser().rules}
    built = {x for x in names if x is not None and not x.startswith("_")}
    missing = sorted(x for x in built if not hasattr(Builder, x))
    assert missing == []


def test_deep_but_allowed_nesting_builds_without_recursion() -> None:
    e = expr("(" * 250 + "1" + ")" * 250)
    assert e == n.IntLit(1, n.Span(2, 255, 2, 256))
    chain = expr(" + ".join(["1"] * 200))
    assert isinstance(chain, n.Binary)
