"""The language of issue 13 at run time: calls as frames, returns, the
control flow kernel code uses, casts and the C types, built-ins that may
block inside expressions, and what reports and traces say about them.
Every outcome asserted is a final state or a report's text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kmaptest import check, events, final, heads, kinds, local, program, run, texts

from kmap_scenarios.dsl.formats import run_text as report
from kmap_scenarios.dsl.formats.check_text import verdicts_of
from kmap_scenarios.runtime.kernel.program import MAX_CALL_DEPTH
from kmap_scenarios.runtime.search import explore as ex

X86 = "config { ARCH = x86; NR_CPUS = 1; PAGE_SIZE = 64; LAST_PKMAP = 4; }\n"

# fs/-style helper with the kernel's error path: a user copy into a kmap()ed
# page; the copy fails with faults disabled on a page that is not present.
COPY_CHUNK = X86 + """page P = alloc_page(GFP_HIGHUSER);
page U = alloc_user_page(not_present);
int copied = 0;

static int my_copy_chunk(struct page *page, const void __user *from, size_t len)
{
    int ret = 0;
    char *kaddr = kmap(page);

    if (copy_from_user(kaddr, from, len)) {
        ret = -EFAULT;
        goto out;
    }
    copied = copied + len;
out:
    kunmap(page);
    return ret;
}
"""


def test_an_error_path_with_goto_returns_the_errno() -> None:
    """copy_from_user() with page faults disabled fails on a page that is
    not present (faulthandler_disabled()): the function takes its `goto
    out` path and returns -EFAULT, having unmapped the page."""
    p, s = final(COPY_CHUNK + "task t on cpu0 { pagefault_disable(); "
                 "int err = my_copy_chunk(P, U, 4); pagefault_enable(); }\n")
    assert local(p, s, "t", "err") == -14
    assert s.globals == (0,)
    assert s.reports == ()
    assert s.pkmap_count[1] == 1          # kmap()'s reference dropped by kunmap()


def test_the_same_path_without_the_error_copies_and_returns_zero() -> None:
    """With faults enabled the fault sleeps, brings the page in, and the
    copy succeeds: ret stays 0, `copied` is updated."""
    p, s = final(COPY_CHUNK + "task t on cpu0 { int err = my_copy_chunk(P, U, 4); }\n")
    assert local(p, s, "t", "err") == 0
    assert s.globals == (4,)


def test_a_condition_on_a_blocking_call_takes_the_calls_steps_and_no_more() -> None:
    """`if (copy_from_user(...))` is the steps of the copy itself: one
    without a fault (the branch runs in the step where the copy
    completes), two with one (the fault's sleep, then the copy), as
    `n = copy_from_user(...);` is."""
    head = X86 + "page U = alloc_user_page(%s);\npage P = alloc_page(GFP_KERNEL);\n"
    cond = head + ("task t on cpu0 { int r = 0; if (copy_from_user(page_address(P), U, 4)) "
                   "r = 1; }\n")
    assign = head + ("task t on cpu0 { int r = 0; int n = copy_from_user(page_address(P), U, "
                     "4); }\n")
    for state in ("present", "not_present"):
        _, a = run(cond % state)
        _, b = run(assign % state)
        assert len(a.actions) == len(b.actions) == (2 if state == "present" else 3)


def test_a_call_takes_no_step_of_its_own() -> None:
    """Calling and returning take no separate step: a task calling a
    two-statement void function takes the steps the statements take, and
    the outcomes are those of the statements written in place."""
    inline = "int x = 0; int y = 0;\ntask a { x = 1; y = x + 1; }\ntask b { x = 5; }\n"
    called = ("int x = 0; int y = 0;\nvoid f(void) { x = 1; y = x + 1; }\n"
              "task a { f(); }\ntask b { x = 5; }\n")
    cfg = "config { NR_CPUS = 2; }\n"
    _, e1 = run(cfg + inline, "a, b")
    _, e2 = run(cfg + called, "a, b")
    assert len(e1.actions) == len(e2.actions) == 3
    p1, r1 = check(cfg + inline)
    p2, r2 = check(cfg + called)
    labels = lambda r: sorted(str(o) for o in r.outcomes)   # noqa: E731
    assert labels(r1) == labels(r2)
    assert r1.executions == r2.executions


def test_a_task_preempted_inside_a_function_resumes_there() -> None:
    """The frame is in the state: another task runs between the two
    statements of f, and t goes on in f, then after its call."""
    src = ("config { NR_CPUS = 1; CONFIG_PREEMPTION = y; }\nint x = 0; int seen = 0;\n"
           "void f(void) { x = 1; x = x + 1; }\n"
           "task t on cpu0 { f(); seen = x; }\ntask u on cpu0 { x = 10; }\n")
    p, e = run(src, "t:1, u, t")
    assert e.final is not None
    assert e.final.globals == (11, 11)
    frames_after_first = e.trace[0]
    assert frames_after_first.pc == 0


def test_recursion_returns_its_value() -> None:
    p, s = final("int depth(int n) { if (n <= 0) return 0; return depth(n - 1) + 1; }\n"
                 "task t { int d = depth(10); }\n")
    assert local(p, s, "t", "d") == 10


def test_recursion_past_the_bound_overflows_the_kernel_stack() -> None:
    """The 65th nested call is a kernel stack overflow: an OOPS that kills
    the task there, with the call trace (its middle left out)."""
    p, s = final("config { ARCH = arm; }\nint down(int n) { return down(n + 1); }\n"
                 "task t { int d = down(0); }\n")
    assert kinds(p, s) == ["OOPS"]
    assert heads(p, s) == [f"kernel stack overflow: down() called {MAX_CALL_DEPTH + 1} calls "
                           f"deep (the model's bound is {MAX_CALL_DEPTH})"]
    text = texts(p, s)[0].split("\n")
    assert "Insufficient stack space to handle exception!" in text[1]
    assert text[2] == "  in down() at t.kmap:2: int down(int n) { return down(n + 1); }"
    assert text[10] == "  ... 49 more calls ..."
    assert text[-1] == "  called from t on cpu0 at t.kmap:3: task t { int d = down(0); }"
    assert len(text) == 2 + 16 + 1


def test_a_report_in_a_function_names_it_and_its_callers() -> None:
    p, s = final("int g = 0;\n"
                 "void check_it(int v)\n"
                 "{\n"
                 "    BUG_ON(v == 2);\n"
                 "}\n"
                 "void outer(void) { check_it(g + 2); }\n"
                 "task t on cpu0 {\n"
                 "    outer();\n"
                 "}\n")
    assert texts(p, s) == [
        "kernel BUG at t.kmap:4!\n"
        "BUG_ON(v == 2)\n"
        "  in check_it() at t.kmap:4: BUG_ON(v == 2);\n"
        "  called from outer() at t.kmap:6: void outer(void) { check_it(g + 2); }\n"
        "  called from t on cpu0 at t.kmap:8: outer();"]


def test_a_warning_in_a_function_names_the_function_and_fires_once_for_all_callers() -> None:
    """WARN_ON_ONCE's flag is the statement's, whichever context calls it:
    two tasks calling one function warn once; the same statement in each
    task's body warns twice (two sites)."""
    shared = "int g = 1;\nvoid f(void) { WARN_ON_ONCE(g); }\ntask a { f(); }\ntask b { f(); }\n"
    p, s = final(shared)
    assert heads(p, s) == ["WARNING: CPU: 0 PID: 1 at t.kmap:2 f"]
    p, s = final("int g = 1;\ntask a { WARN_ON_ONCE(g); }\ntask b { WARN_ON_ONCE(g); }\n")
    assert kinds(p, s) == ["WARN", "WARN"]


def test_an_oops_in_a_function_called_from_an_irq_panics() -> None:
    p, s = final("int z = 0;\nint div(int a) { return a / z; }\n"
                 "task t on cpu0 { }\nirq h on cpu0 { int q = div(4); }\n")
    assert sorted(kinds(p, s)) == ["BUG", "OOPS"]
    oops, panic = texts(p, s)
    assert "Fatal exception in interrupt" in panic
    assert oops.split("\n")[-2:] == [
        "  in div() at t.kmap:2: int div(int a) { return a / z; }",
        "  called from h on cpu0 at t.kmap:4: irq h on cpu0 { int q = div(4); }"]
    assert s.panicked


def test_a_task_killed_in_a_function_keeps_its_body_locals_for_task_var() -> None:
    p, s = final("int f(int x) { BUG_ON(x); return 0; }\n"
                 "task t { int before = 7; int r = f(1); }\nexpect always t.before == 7;\n")
    assert local(p, s, "t", "before") == 7
    assert report.verdicts_for(p, s)[0][1] is True


def test_kmap_sleeping_inside_a_function_resumes_in_its_frame() -> None:
    """A full pool makes kmap() sleep on pkmap_map_wait inside f; kunmap()
    by the other task wakes it, and f returns the address it got."""
    src = ("config { ARCH = x86; NR_CPUS = 2; LAST_PKMAP = 1; PAGE_SIZE = 64; }\n"
           "page A = alloc_page(GFP_HIGHUSER);\npage B = alloc_page(GFP_HIGHUSER);\n"
           "void *map_it(struct page *pg) { void *p = kmap(pg); return p; }\n"
           "task holder on cpu0 { void *a = kmap(A); kunmap(A); kmap_flush_unused(); }\n"
           "task t on cpu1 { void *b = map_it(B); kunmap(B); }\n")
    p, e = run(src, "holder:1, t:1, holder, t")
    assert e.final is not None
    assert any("sleeps" in ev or "pkmap_map_wait" in ev for ev in events(e))
    assert local(p, e.final, "t", "b") != 0
    assert e.final.reports == ()


# ------------------------------------------------------------ control flow


@pytest.mark.parametrize("value, expected", [(0, 11), (1, 111), (2, 101), (7, 1)])
def test_switch_falls_through_until_break(value: int, expected: int) -> None:
    p, s = final(f"int g = {value};\nint r = 0;\n"
                 "task t { switch (g) {\n"
                 "  case 1: r = r + 100;\n"
                 "  case 0: r = r + 10;\n"
                 "  default: r = r + 1; break;\n"
                 "  case 2: r = r + 101;\n"
                 "} }\n")
    assert s.globals[1] == expected


def test_loops_with_break_continue_and_do_while() -> None:
    p, s = final("task t { int sum = 0; int i;\n"
                 "  for (i = 0; i < 10; i++) { if (i == 2) continue; if (i == 5) break; "
                 "sum += i; }\n"
                 "  int n = 0; do { n++; } while (n < 3);\n"
                 "  int m = 5; do m++; while (0);\n"
                 "  int w = 0; while (1) { w++; if (w == 4) break; } }\n")
    assert [local(p, s, "t", v) for v in ("sum", "i", "n", "m", "w")] == [8, 5, 3, 6, 4]


def test_a_backward_goto_is_a_loop() -> None:
    p, s = final("task t { int tries = 0;\nretry:\n  tries++;\n  if (tries < 3) goto retry; }\n")
    assert local(p, s, "t", "tries") == 3


def test_return_in_a_task_body_returns_to_user_space() -> None:
    p, s = final("int g = 0;\ntask t { g = 1; if (g) return; g = 2; }\n")
    assert s.globals == (1,)


def test_short_circuit_and_the_conditional_operator_evaluate_what_c_does() -> None:
    p, s = final("int calls = 0;\nint f(int v) { calls++; return v; }\n"
                 "task t { int a = 0 && f(1); int b = 1 || f(1); int c = 1 ? 5 : f(1);\n"
                 "  int d = f(0) ? 1 : f(2); int e = (f(1) && f(0)) ? 7 : 8; }\n")
    assert [local(p, s, "t", v) for v in "abcde"] == [0, 1, 5, 2, 8]
    assert s.globals == (4,)


# ------------------------------------------------------- types and values


@pytest.mark.parametrize("arch, decl, expected", [
    ("x86", "int v = (u8)0x1ff;", 255),
    ("x86", "int v = (bool)5;", 1),
    ("x86", "bool v = 4;", 1),
    ("x86", "int v = (int)(unsigned long)-1;", -1),
    ("x86", "char v = 200;", -56),       # signed char on x86
    ("arm", "char v = 200;", 200),       # unsigned char on arm (v6.1)
    ("x86", "long v = sizeof(long) + sizeof(u64) + sizeof(bool);", 13),
    ("x86_64", "long v = sizeof(long) + sizeof(void *) + sizeof(dma_addr_t);", 24),
    ("x86", "s8 v = 0x80;", -128),
    ("x86", "u64 v = -1;", (1 << 64) - 1),
    ("x86", "dma_addr_t v = -1;", (1 << 32) - 1),
    ("x86", "int v = -EFAULT + -ENOMEM * 100 + EINVAL * 10000;", -14 - 1200 + 220000),
    ("x86", "int v = EIO + EAGAIN + EBUSY + ENOSPC + EPERM + ENOENT;", 5 + 11 + 16 + 28 + 1 + 2),
    ("x86", "unsigned v = 3; v = v ? 2 : 9;", 2),
    ("x86", "size_t v = min_t(size_t, 10, -1);", 10),     # -1 is SIZE_MAX as a size_t
    ("x86", "int v = min(3, -2) + max_t(u8, 0x1ff, 3) * 10;", -2 + 2550),
])
def test_casts_types_and_constants(arch: str, decl: str, expected: int) -> None:
    p, s = final(f"config {{ ARCH = {arch}; }}\ntask t {{ {decl} }}\n")
    assert local(p, s, "t", "v") == expected


def test_arguments_and_return_values_are_converted_to_their_types() -> None:
    p, s = final("u8 low(int x) { return x; }\nint pass(u8 b) { return b; }\n"
                 "task t { int a = low(0x1234); int b = pass(0x3ff); }\n")
    assert (local(p, s, "t", "a"), local(p, s, "t", "b")) == (0x34, 0xff)


def test_read_once_write_once_and_barriers() -> None:
    p, e = run("int flag = 0; int data = 0;\n"
               "task t { data = 42; smp_wmb(); WRITE_ONCE(flag, 1); barrier(); "
               "int v = READ_ONCE(flag); smp_mb(); smp_rmb(); cpu_relax(); "
               "if (likely(v) && !unlikely(!v)) data++; }\n")
    assert e.final is not None and e.final.globals == (1, 43)
    assert len(e.actions) == 10        # one step per statement, barriers included


def test_user_pointer_parameters_take_the_user_address() -> None:
    p, s = final(X86 + "page U = alloc_user_page(present);\npage K = alloc_page(GFP_KERNEL);\n"
                 "int fill(const void __user *from) { void *k = page_address(K);\n"
                 "  return copy_from_user(k, from, 8); }\n"
                 "task t { int left = fill(U + 60); }\n")
    assert local(p, s, "t", "left") == 4      # U has 64 bytes: 4 of 8 past its end


# ------------------------------------------------------ traces and searches


def test_the_trace_shows_calls_returns_and_the_function_of_each_step() -> None:
    p, e = run("int g = 0;\nint add(int a)\n{\n    g = g + a;\n    return g;\n}\n"
               "task t on cpu0 {\n    int r = add(3);\n}\n")
    lines = report.trace_lines(p, e.trace)
    assert lines[0].split("\n")[0].endswith("8  int r = add(3);")
    assert "call add(a=3)" in lines[0] and "in add() at 4: g = g + a;" in lines[0]
    assert lines[1].split("\n")[0].endswith("5  in add(): return g;")
    assert "add() returns 3" in lines[1]


SEARCHED = """config { NR_CPUS = 2; CONFIG_PREEMPTION = y; }
page P = alloc_page(GFP_HIGHUSER);
int f = 0; int g = 0;
static int wait_for(int limit)
{
    int n = 0;
    while (1) {
        if (READ_ONCE(f) != 0 || n >= limit)
            break;
        n++;
        cpu_relax();
    }
    return n;
}
static int touch(struct page *pg)
{
    int ret = 0;
    void *p = kmap(pg);
    switch (g) {
    case 1: ret = -EINVAL; goto out;
    default: p[0] = 1;
    }
out:
    kunmap(pg);
    return ret;
}
task a { int w = wait_for(2); g = g + 1; }
task b { WRITE_ONCE(f, 1); int r = touch(P); if (r) g = 5; }
expect sometimes a.w == 0;
expect sometimes g == 5;
expect never BUG;
"""


def test_check_agrees_with_no_reduce_no_memo_and_jobs_on_functions() -> None:
    p = program(SEARCHED)
    results = [ex.explore(p, opts) for opts in (ex.Options(), ex.Options(reduce=False),
                                                ex.Options(memo=False), ex.Options(jobs=2))]
    first = results[0]
    assert first.states > 50 and not first.bounded
    for r in results[1:]:
        assert set(r.outcomes) == set(first.outcomes)
        assert r.states >= first.states   # the default reduces states, the others do not
        assert [v.holds for v in verdicts_of(p, r)] == [v.holds for v in verdicts_of(p, first)]
    assert [v.holds for v in verdicts_of(p, first)] == [True, True, True]


def test_unreached_statements_of_a_function_are_warned_about() -> None:
    from kmap_scenarios.runtime.search.vacuity import warnings
    p = program("int g = 0;\nint f(int x)\n{\n    if (x > 5)\n        g = 9;\n    return x;\n}\n"
                "int unused(void) { return 1; }\ntask t { int r = f(1); }\n")
    r = ex.explore(p, ex.Options())
    msgs = [w.message for w in warnings(p, r.coverage, r.bounded, [])]
    assert msgs == ["function f(): no execution reaches `g = 9;`",
                    "function unused(): no execution reaches `return 1;`"]


# --------------------------------------------------------------------- REPL


def test_the_repl_shows_where_in_which_function_a_task_is(tmp_path: Path) -> None:
    from kmap_scenarios.dsl.repl.session import Session
    path = tmp_path / "f.kmap"
    path.write_text("int g = 0;\nstatic void bump(int n)\n{\n    g = g + n;\n    g = g * 2;\n}\n"
                    "task t on cpu0 {\n    bump(3);\n    g++;\n}\n")
    s = Session(str(path))
    assert s.handle("step t").ok
    shown = s.handle("show tasks").text
    assert "next: line 5  in bump() (called from line 8): g = g * 2;" in shown
    assert "t@cpu0  line 5    in bump() (called from line 8): g = g * 2;" in \
        s.handle("enabled").text


def test_a_function_typed_at_the_repl_is_added_and_called() -> None:
    from kmap_scenarios.dsl.repl.commands import Item, classify
    from kmap_scenarios.dsl.repl.session import Session
    from kmap_scenarios.dsl.repl.source import Kind
    text = "static int twice(int x) { return 2 * x; }"
    assert classify(text) == Item(Kind.DECLARATION, text)
    assert classify("x = twice(2)") == Item(Kind.STATEMENT, "x = twice(2);", added_semicolon=True)
    s = Session(None)
    assert s.handle(text).ok
    reply = s.handle("int y = twice(21);")
    assert reply.ok and "call twice(x=21)" in reply.text and "twice() returns 42" in reply.text
    assert "y=42" in s.handle("show tasks").text


COPY_STRINGS = """config { ARCH = x86; NR_CPUS = 1; CONFIG_PREEMPTION = y; LAST_PKMAP = 4; PAGE_SIZE = 64; }
page ARG[2] = alloc_page(GFP_HIGHUSER);
page UP[2] = alloc_user_page(not_present);
page SRC = alloc_page(GFP_KERNEL);

static int copy_strings(const char __user *str, int len, unsigned long pos)
{
	struct page *kmapped_page = NULL;
	char *kaddr = NULL;
	unsigned long kpos = 0;
	int ret;

	str += len;
	while (len > 0) {
		int offset, bytes_to_copy;

		cond_resched();

		offset = pos % PAGE_SIZE;
		if (offset == 0)
			offset = PAGE_SIZE;

		bytes_to_copy = offset;
		if (bytes_to_copy > len)
			bytes_to_copy = len;

		offset -= bytes_to_copy;
		pos -= bytes_to_copy;
		str -= bytes_to_copy;
		len -= bytes_to_copy;

		if (!kmapped_page || kpos != (pos & ~(PAGE_SIZE - 1))) {
			struct page *page;

			page = ARG[pos / PAGE_SIZE];
			if (!page) {
				ret = -E2BIG;
				goto out;
			}

			if (kmapped_page) {
				flush_dcache_page(kmapped_page);
				kunmap_local(kaddr);
			}
			kmapped_page = page;
			kaddr = kmap_local_page(kmapped_page);
			kpos = pos & ~(PAGE_SIZE - 1);
		}
		if (copy_from_user(kaddr + offset, str, bytes_to_copy)) {
			ret = -EFAULT;
			goto out;
		}
	}
	ret = 0;
out:
	if (kmapped_page) {
		flush_dcache_page(kmapped_page);
		kunmap_local(kaddr);
	}
	return ret;
}

task exec on cpu0 {
	void *s = page_address(SRC);
	memset(s, 0x41, 64);
	copy_to_user(UP[0], s, 64);
	int ret = copy_strings(UP[0] + 10, 40, 100);
}
task other on cpu0 { int x = 1; }
expect always exec.ret == 0;
expect always ARG[0][60] == 0x41 && ARG[1][35] == 0x41 && ARG[1][36] == 0;
expect never BUG || WARN;
"""


def test_copy_strings_of_fs_exec_as_the_kernel_writes_it() -> None:
    """fs/exec.c copy_strings() (v6.1), its copying loop as written: the
    user string copied backwards into the argument pages under
    kmap_local_page() while copy_from_user() faults and sleeps, the task
    preempted anywhere: every execution copies the 40 bytes and returns 0."""
    p, r = check(COPY_STRINGS)
    assert not r.bounded
    assert [v.holds for v in verdicts_of(p, r)] == [True, True, True]
    assert r.states == 178


def test_kmap_run_leaves_a_wait_loop_inside_a_function_and_sees_one_that_never_ends() -> None:
    """The run's fairness around cycles (runtime/search/revisits.py) keeps
    the states of a call as one loop of the body: a wait in a function is
    left when the flag is set, and a wait nobody ends is an execution that
    never ends."""
    waits = ("int f = 0;\nvoid wait_flag(void) { while (!READ_ONCE(f)) cpu_relax(); }\n"
             "int depth(int n) { if (n) return depth(n - 1); wait_flag(); return 0; }\n")
    p, e = run("config { NR_CPUS = 1; CONFIG_PREEMPTION = y; }\n" + waits
               + "task a on cpu0 { int r = depth(3); }\ntask b on cpu0 { f = 1; }\n")
    assert e.final is not None and e.endless is None
    assert local(p, e.final, "a", "r") == 0
    p, e = run("config { NR_CPUS = 1; }\n" + waits + "task a on cpu0 { int r = depth(2); }\n")
    assert e.endless is not None


# ------------------------------------------- with the kernel of issue 13


def test_a_softirq_calls_functions_and_each_run_starts_without_frames() -> None:
    """A softirq handler's run that stops at a failed assert inside a
    function leaves its frames; the next run starts at the handler's first
    statement with none (runtime/kernel/softirq.py _enter)."""
    src = ("config { NR_CPUS = 1; }\nint runs = 0;\n"
           "void count(void) { runs++; assert(runs != 1); }\n"
           "softirq net on cpu0 { count(); }\n"
           "task t on cpu0 { local_bh_disable(); raise_softirq(net); local_bh_enable(); "
           "local_bh_disable(); raise_softirq(net); local_bh_enable(); }\n")
    p, s = final(src)
    assert s.globals == (2,)
    assert kinds(p, s) == ["ASSERT"]
    assert "  in count() at t.kmap:3:" in texts(p, s)[0]


def test_a_function_raising_a_softirq_is_checked_against_its_callers() -> None:
    from kmap_scenarios.dsl.syntax.source import InputError
    src = ("config { NR_CPUS = 2; }\nsoftirq net on cpu0 { }\n"
           "void kick(void) { raise_softirq(net); }\n"
           "task a on cpu0 { kick(); }\ntask b on cpu1 { kick(); }\n")
    with pytest.raises(InputError) as info:
        program(src)
    d, = info.value.diagnostics
    assert d.code == "E420"
    assert d.message.startswith("task `b` runs on cpu1 (it calls this function), but softirq "
                                "`net` runs on cpu0")


def test_folios_pass_through_parameters_and_return_values() -> None:
    from kmap_scenarios.dsl.syntax.source import InputError
    p, s = final("page P = alloc_page(GFP_HIGHUSER);\n"
                 "struct folio *folio_of(struct page *pg) { return page_folio(pg); }\n"
                 "int first_byte(struct folio *folio) { u8 *p = kmap_local_folio(folio, 0); "
                 "int v = p[0]; kunmap_local(p); return v; }\n"
                 "task t { void *q = kmap_local_page(P); q[0] = 7; kunmap_local(q);\n"
                 "  int v = first_byte(folio_of(P)); }\n")
    assert local(p, s, "t", "v") == 7 and s.reports == ()
    with pytest.raises(InputError) as info:
        program("page P = alloc_page(GFP_HIGHUSER);\n"
                "void f(struct folio *folio) { }\ntask t { f(P); }\n")
    d, = info.value.diagnostics
    assert d.code == "E416" and "is a struct folio *, but `P` is not a folio" in d.message


def test_kmalloc_in_a_function_has_its_arena() -> None:
    p, s = final("int alloc_and_free(void) { char *m = kmalloc(8, GFP_KERNEL); "
                 "if (!m) return -ENOMEM; m[0] = 1; kfree(m); return 0; }\n"
                 "task t { int r = alloc_and_free(); }\n")
    assert local(p, s, "t", "r") == 0 and s.reports == ()
    assert p.slab_pages


def test_irq_flags_saved_in_a_function() -> None:
    p, s = final("spinlock_t L;\nint g = 0;\n"
                 "void bump(void) { unsigned long flags; spin_lock_irqsave(&L, flags); g++; "
                 "spin_unlock_irqrestore(&L, flags); local_irq_save(flags); g++; "
                 "local_irq_restore(flags); }\n"
                 "task t { bump(); int off = irqs_disabled(); }\n")
    assert s.globals == (2,) and s.reports == () and local(p, s, "t", "off") == 0
