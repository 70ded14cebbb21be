"""The language of issue 13, front end: functions, control flow and the C
types, casts and operators kernel code uses (docs/language.md sections
4 to 6). Parser shapes, checker codes and messages, and what the lowering
makes of them; tests/test_calls.py runs them.
"""

from __future__ import annotations

import pytest

from kmap_scenarios.dsl.lower.load import load_text
from kmap_scenarios.dsl.syntax import nodes as n
from kmap_scenarios.dsl.syntax.parser import parse_text
from kmap_scenarios.dsl.syntax.source import Diagnostic, InputError
from kmap_scenarios.runtime.kernel import program as ir

HEAD = """page P = alloc_page(GFP_HIGHUSER);
page U = alloc_user_page(present);
int g = 0;
"""


def diags(src: str) -> list[Diagnostic]:
    with pytest.raises(InputError) as info:
        load_text(HEAD + src, "f.kmap")
    return info.value.diagnostics


def one(src: str, code: str) -> Diagnostic:
    found = diags(src)
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]
    return found[0]


def ok(src: str) -> ir.Program:
    return load_text(HEAD + src, "f.kmap")


# ------------------------------------------------------------------ parser


def test_a_function_definition_parses_with_its_qualified_parameters() -> None:
    f = parse_text("static int my_copy(void *dst, const void __user *from, size_t len)\n"
                   "{ return 0; }\ntask t { }\n", "f.kmap")
    fn = f.decls[0]
    assert isinstance(fn, n.FuncDef)
    assert (fn.name, fn.ret, fn.static) == ("my_copy", "int", True)
    assert fn.params is not None
    assert [(p.ctype, p.name, p.const, p.user) for p in fn.params] == [
        ("void *", "dst", False, False), ("void *", "from", False, True),
        ("size_t", "len", False, False)]


def test_int_at_top_level_is_a_global_or_a_function_by_what_follows_the_name() -> None:
    f = parse_text("int g = 1;\nint f(void) { return g; }\nstruct page *pg(void) "
                   "{ return NULL; }\nvoid v(void) { }\ntask t { }\n", "f.kmap")
    kinds = [(type(d).__name__, getattr(d, "ret", None)) for d in f.decls]
    assert kinds == [("IntDecl", None), ("FuncDef", "int"), ("FuncDef", "struct page *"),
                     ("FuncDef", "void"), ("TaskDecl", None)]
    v = f.decls[3]
    assert isinstance(v, n.FuncDef) and v.params == ()


def test_an_empty_parameter_list_is_no_prototype() -> None:
    fn = parse_text("int f() { return 0; }\ntask t { }\n", "f.kmap").decls[0]
    assert isinstance(fn, n.FuncDef) and fn.params is None


@pytest.mark.parametrize("spelling, canonical", [
    ("unsigned", "unsigned int"), ("long int", "long"), ("unsigned long int", "unsigned long"),
    ("short int", "short"), ("const u8 *", "u8 *"), ("char const *", "char *"),
    ("unsigned long long", "unsigned long long"), ("dma_addr_t", "dma_addr_t"),
])
def test_type_spellings_are_canonical(spelling: str, canonical: str) -> None:
    f = parse_text(f"task t {{ {spelling} x; }}\n", "f.kmap")
    decl = f.decls[0]
    assert isinstance(decl, n.TaskDecl)
    var = decl.body.stmts[0]
    assert isinstance(var, n.VarDecl) and var.ctype == canonical
    assert not var.const      # a const pointee leaves the pointer assignable


@pytest.mark.parametrize("spelling, const", [
    ("const int", True), ("const char *", False), ("char *const", True),
    ("const void __user *const", True), ("const void __user *", False)])
def test_const_makes_the_variable_read_only_only_after_a_pointers_star(
        spelling: str, const: bool) -> None:
    f = parse_text(f"task t {{ {spelling} x; }}\n", "f.kmap")
    decl = f.decls[0]
    assert isinstance(decl, n.TaskDecl)
    var = decl.body.stmts[0]
    assert isinstance(var, n.VarDecl) and var.const == const


def test_control_flow_statements_parse() -> None:
    src = ("task t { int x = 0;\n"
           "  switch (x) { case 1: x = 2; break; case -EINVAL: default: x = 3; }\n"
           "  do { x++; } while (x < 3);\n"
           "  for (;;) { if (x) break; continue; }\n"
           "  goto out;\n"
           "out:\n"
           "  return;\n}\n")
    body = parse_text(src, "f.kmap").decls[0]
    assert isinstance(body, n.TaskDecl)
    kinds = [type(s).__name__ for s in body.body.stmts]
    assert kinds == ["VarDecl", "Switch", "DoWhile", "For", "Goto", "Label", "Return"]
    sw = body.body.stmts[1]
    assert isinstance(sw, n.Switch)
    assert [type(s).__name__ for s in sw.body] == ["Case", "Assign", "Break", "Case", "Default",
                                                  "Assign"]


def test_ternary_binds_looser_than_or_and_nests_to_the_right() -> None:
    f = parse_text("task t { int x = a || b ? 1 : c ? 2 : 3; }\n", "f.kmap")
    task = f.decls[0]
    assert isinstance(task, n.TaskDecl)
    var = task.body.stmts[0]
    assert isinstance(var, n.VarDecl) and isinstance(var.init, n.Ternary)
    assert isinstance(var.init.cond, n.Binary) and var.init.cond.op == "||"
    assert isinstance(var.init.orelse, n.Ternary)


def test_casts_and_sizeof_parse() -> None:
    f = parse_text("task t { long a = (long)(unsigned long)p + sizeof(u64) + sizeof x;\n"
                   "  (void)f(1); void __user *u = (void __user *)a; }\n", "f.kmap")
    task = f.decls[0]
    assert isinstance(task, n.TaskDecl)
    a, stmt, u = task.body.stmts
    assert isinstance(a, n.VarDecl) and isinstance(stmt, n.ExprStmt)
    assert isinstance(stmt.expr, n.Cast) and stmt.expr.ctype == "void"
    assert isinstance(u, n.VarDecl) and u.user and isinstance(u.init, n.Cast) and u.init.user


# ----------------------------------------------------------------- checker


def test_goto_to_an_unknown_label_suggests_the_one_there_is() -> None:
    d = one("task t { goto otu; out: g = 1; }\n", "E422")
    assert d.message == "`goto otu`: no label `otu` in task `t`"
    assert d.hint == "did you mean `out`?"


def test_a_label_defined_twice() -> None:
    d = one("void f(void) { out: g = 1; out: g = 2; }\ntask t { f(); }\n", "E423")
    assert "label `out` is defined twice in function `f()`" in d.message


@pytest.mark.parametrize("stmt, message", [
    ("break;", "`break` outside a loop or switch"),
    ("continue;", "`continue` outside a loop"),
    ("switch (g) { case 0: continue; }", "`continue` outside a loop"),
])
def test_break_and_continue_outside_a_loop(stmt: str, message: str) -> None:
    d = one(f"task t {{ {stmt} }}\n", "E421")
    assert d.message == message


def test_break_in_a_switch_and_continue_in_a_loop_around_it_are_fine() -> None:
    ok("task t { for (int i = 0; i < 2; i++) { switch (i) { case 0: continue; "
       "default: break; } } }\n")


@pytest.mark.parametrize("src, message", [
    ("void f(void) { return 1; }\ntask t { f(); }\n",
     "`return` with a value in `f()`, which returns void"),
    ("int f(void) { return; }\ntask t { f(); }\n",
     "`return` without a value in `f()`, which returns int"),
    ("task t { return 1; }\n",
     "`return` with a value in task `t`: a task or irq body returns nothing"),
])
def test_return_must_match_the_function(src: str, message: str) -> None:
    assert one(src, "E424").message == message


def test_control_reaching_the_end_of_a_function_that_returns_a_value() -> None:
    d = one("int f(int x)\n{\n    if (x)\n        return 1;\n}\ntask t { f(1); }\n", "E425")
    assert d.message == "control reaches the end of `f()`, which returns int"
    assert "-Werror=return-type" in d.hint
    assert d.span.line == 8   # the closing brace (after the 3 lines of HEAD)


@pytest.mark.parametrize("body", [
    "while (1) { if (g) goto out; } out: return 0;",
    "switch (g) { case 0: return 1; default: return 2; }",
    "if (g) return 1; else return 2;",
    "for (;;) { }",
    "do { return 1; } while (g);",
])
def test_every_path_returns(body: str) -> None:
    ok(f"int f(void) {{ {body} }}\ntask t {{ f(); }}\n")


def test_wrong_argument_count_names_the_signature() -> None:
    d = one("static int add(int a, const void __user *b) { return a; }\n"
            "task t { add(1); }\n", "E401")
    assert d.message == "`add` takes 2 arguments (int a, const void __user *b), got 1"
    assert d.hint == "`add` is defined at line 4"


def test_call_to_an_undefined_function_prefers_the_scenarios_own() -> None:
    d = one("static int my_copy_chunk(void) { return 0; }\ntask t { my_cpy_chunk(); }\n",
            "E202")
    assert d.message == "unknown function `my_cpy_chunk`"
    assert d.hint == "did you mean `my_copy_chunk`?"


@pytest.mark.parametrize("src, code, phrase", [
    ("void f(void) { }\ntask t { int x = f(); }\n", "E410", "`f` returns void"),
    ("int f(void) { return 1; }\ntask t { }\nexpect always f() == 1;\n", "E404",
     "function of the scenario"),
    ("int f(void) { return 1; }\nint h = f();\ntask t { }\n", "E412", "not a constant"),
    ("int f(void) { return 1; }\ntask t { int x = f; }\n", "E415", "`f` is a function"),
    ("task t { const int x = 1; x = 2; }\n", "E405", "cannot assign to `x`: it is const"),
    ("void f(const int n) { n++; }\ntask t { f(1); }\n", "E405", "it is const"),
    ("task t { const int x = 1; WRITE_ONCE(x, 2); }\n", "E405", "which is const"),
    ("void f(struct page *pg) { }\ntask t { f(g); }\n", "E416",
     "parameter `pg` of `f` is a struct page *, but `g` is not a page"),
    ("struct page *f(void) { return g; }\ntask t { f(); }\n", "E416",
     "`f()` returns a struct page *, but `g` is not a page"),
    ("void f(void *p) { }\ntask t { f(P); }\n", "E402",
     "`f` expects an address or a number for `p`, but `P` is a struct page *"),
    ("void f(const void __user *u) { }\ntask t { f(P); }\n", "E402",
     "`P` is not a user page"),
    ("task t { switch (g) { case g: break; } }\n", "E426", "is not a constant"),
    ("task t { switch (g) { case 1: case 2 - 1: break; } }\n", "E426", "duplicate case value 1"),
    ("task t { switch (g) { default: default: break; } }\n", "E426", "a second `default:`"),
    ("task t { default: g = 1; }\n", "E426", "`default:` outside a switch"),
    ("int f() { return 0; }\ntask t { f(); }\n", "E427", "write `f(void)`"),
    ("void kmap(void) { }\ntask t { }\n", "E205", "`kmap` is a built-in function"),
    ("void f(void) { }\nvoid f(void) { }\ntask t { }\n", "E205", "already declared"),
    ("void f(int a, int a) { }\ntask t { f(1, 2); }\n", "E205", "already declared in this block"),
    ("void f(int a) { int a = 1; }\ntask t { f(1); }\n", "E205", "already declared in this block"),
    ("task t { int x = sizeof(g + 1); }\n", "E415", "`sizeof` takes a type or a variable"),
    ("task t { int x = clamp_t(int, g, 1); }\n", "E202", "unknown function `clamp_t`"),
    ("task t { int x = (void)g; }\n", "E410", "cast to void"),
    ("task t { void *p = (struct page *)g; }\n", "E416", "casting it to struct page *"),
])
def test_misuse_has_its_code(src: str, code: str, phrase: str) -> None:
    d = one(src, code)
    assert phrase in d.message, d.message


def test_recursion_and_calls_before_the_definition_are_fine() -> None:
    ok("task t { g = depth(3); }\n"
       "int depth(int n) { if (n <= 0) return 0; return depth(n - 1) + 1; }\n")


def test_a_user_pointer_takes_user_pages_through_parameters_and_locals() -> None:
    ok("static int put(const void __user *from) {\n"
       "    char __user *p = (char __user *)from;\n"
       "    void *k = kmap(P);\n"
       "    int left = copy_from_user(k, p, 4);\n"
       "    kunmap(P);\n"
       "    return left;\n"
       "}\n"
       "task t { int r = put(U + 8); }\n")


def test_a_blocking_builtin_nested_in_an_expression_is_accepted() -> None:
    ok("task t { void *p = kmap_local_page(P); int r = 0;\n"
       "  if (copy_from_user(p, U, 4)) { r = -EFAULT; goto out; }\n"
       "  r = copy_to_user(U, p, 4) + 1;\n"
       "out:\n  kunmap_local(p); }\n")


# ----------------------------------------------------------------- lowering


def _code(p: ir.Program, task: str = "t") -> tuple[ir.Instr, ...]:
    ci = p.context_index(task)
    assert ci is not None
    return p.contexts[ci].code


def test_a_blocking_call_in_a_condition_runs_first_and_the_branch_is_fused() -> None:
    p = ok("task t { void *p = kmap_local_page(P); int r = 0;\n"
           "  if (copy_from_user(p, U, 4)) r = 1; }\n")
    code = _code(p)
    call, branch = code[2], code[3]
    assert isinstance(call, ir.Call) and call.name == "copy_from_user" and not call.fused
    assert isinstance(call.dest, ir.ToLocal)
    assert isinstance(branch, ir.Branch) and branch.fused
    assert branch.cond == ir.Local(call.dest.slot)
    assert p.contexts[0].local_names[call.dest.slot] == "(copy_from_user)"


def test_a_call_that_is_a_whole_value_stores_its_destination_itself() -> None:
    p = ok("int f(int x) { return x + 1; }\ntask t { int y = f(2); g = f(y); }\n")
    code = _code(p)
    first, second = code[0], code[1]
    assert isinstance(first, ir.CallFn) and first.dest == ir.ToLocal(0, 32, True)
    assert isinstance(second, ir.CallFn) and second.dest == ir.ToGlobal(0)
    assert first.entry == second.entry == 3       # after the body's End
    assert p.contexts[0].func_at == (-1, -1, -1, 0, 0)


def test_only_the_functions_a_context_calls_are_linked_into_it() -> None:
    p = ok("int a(void) { return b(); }\nint b(void) { return 1; }\nint c(void) "
           "{ return 2; }\ntask t { g = a(); }\ntask u { }\n")
    t, u = p.contexts
    assert sorted(set(t.func_at) - {-1}) == [0, 1]
    assert u.func_at == ()
    assert [f.name for f in p.functions] == ["a", "b", "c"]


def test_short_circuit_and_conditional_call_only_what_c_evaluates() -> None:
    p = ok("int f(void) { g++; return 1; }\n"
           "task t { int x = g && f(); int y = g ? 0 : f(); int z = f() + 1; }\n")
    code = _code(p)
    kinds = [type(i).__name__ + ("*" if getattr(i, "fused", False) else "") for i in code]
    assert kinds[:4] == ["Set", "Branch*", "CallFn*", "Set*"]      # x: g && f()
    assert kinds[5:10] == ["Branch", "Set*", "Jump", "CallFn*", "Set*"]   # y: g ? 0 : f()
    assert kinds[11:13] == ["CallFn", "Set*"]                      # z: f() + 1


def test_switch_compares_each_case_in_one_step() -> None:
    p = ok("task t { switch (g) { case 1: g = 2; case 2: g = 3; break; default: g = 4; } }\n")
    code = _code(p)
    assert [type(i).__name__ + ("*" if getattr(i, "fused", False) else "") for i in code[:3]] \
        == ["Branch", "Branch*", "Jump"]


def test_inline_hints_are_accepted_before_the_type() -> None:
    f = parse_text("static inline int f(void) { return 1; }\n"
                   "static __always_inline void *g(void) { return NULL; }\n"
                   "noinline void h(void) { }\ntask t { }\n", "f.kmap")
    assert [(d.name, getattr(d, "static", None)) for d in f.decls[:3]] == [
        ("f", True), ("g", True), ("h", False)]
