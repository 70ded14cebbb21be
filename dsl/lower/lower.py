"""Lowering: a checked AST to the runtime's Program.

Names become slots and indices, control flow becomes jumps, and every
built-in call that is a whole statement, initialiser or right-hand side of
``=`` becomes a ``Call`` instruction, so that the runtime executes it as a
step of its own. A call that cannot be evaluated inside an expression (a
function of the scenario, or a built-in that may block or be preempted
part-way) is moved ahead of its statement into a hidden local, and the
rest of the statement is marked ``fused`` so that it runs in the step
where the call completes (runtime/kernel/program.py). Functions are
lowered once and linked into the code of every context that calls them.
The checker has refused everything this module does not expect; meeting
such a node here is an internal error.
"""

from __future__ import annotations

import os
from dataclasses import replace

from kmap_scenarios.dsl.syntax import names, nodes
from kmap_scenarios.dsl.check.checker import Checked
from kmap_scenarios.dsl.syntax.names import Arg, Where
from kmap_scenarios.dsl.check.symbols import (CHECK_KINDS, PAGE_TYPES, FuncSym, PageSym, Scope,
                                              Word, chain, ctype_width, sizeof, text_of,
                                              try_fold, walk)
from kmap_scenarios.runtime.kernel import program as ir, tlb


def lower(checked: Checked) -> ir.Program:
    """Build the Program of a file that passed check()."""
    file, cfg = checked.file, checked.config
    calls = builtin_calls(file)
    pages, slab = lower_pages(checked, calls)
    functions = tuple(BodyLowering(Exprs(checked, pages, Scope()), func).function()
                      for func in checked.symbols.functions.values())
    contexts: list[ir.ContextInfo] = []
    pid = 0
    raised = {a.id for c in calls if c.func in RAISES for a in c.args[:1]
              if isinstance(a, nodes.Name)}
    softirqs = 0
    for decl in file.decls:
        if isinstance(decl, nodes.TaskDecl):
            pid += 0 if decl.is_irq else 1
            body = BodyLowering(Exprs(checked, pages, Scope()))
            info = link(body.context(decl, 0 if decl.is_irq else pid), functions)
            if decl.is_softirq:
                info = replace(info, softirq_nr=softirqs, raised_at_boot=decl.name not in raised)
                softirqs += 1
            contexts.append(info)
    expect = Exprs(checked, pages, None, tuple(contexts))
    expectations = tuple(
        ir.Expectation(e.quant, expect.expr(e.cond), text_of(checked.source, e.cond), e.span.line)
        for e in file.expects)
    schedule = file.schedules[0] if file.schedules else None
    sym = checked.symbols
    return ir.Program(
        name=program_name(file),
        path=file.path,
        source_lines=checked.source.lines,
        config=cfg,
        pages=pages,
        globals=tuple((v.name, v.value) for v in sym.globals.values()),
        percpus=tuple((v.name, v.value) for v in sym.percpus.values()),
        locks=tuple(sym.locks),
        contexts=tuple(contexts),
        expectations=expectations,
        schedule=None if schedule is None else tuple(
            ir.ScheduleStep(sym.contexts[i.name].index if i.name in sym.contexts
                            else tlb.evict_action(int(i.name[3:])), i.steps, i.cpu)
            for i in schedule.items),
        schedule_line=0 if schedule is None else schedule.span.line,
        functions=functions,
        mutexes=frozenset(sym.locks[m] for m in sym.mutexes),
        slab_pages=slab,
    )


def program_name(file: nodes.File) -> str:
    """The scenario's name, or the file's base name without its extension."""
    if file.scenario is not None:
        return file.scenario.name
    return os.path.splitext(os.path.basename(file.path))[0]


# ------------------------------------------------------------------- pages


RAISES = ("raise_softirq", "raise_softirq_irqoff")
ALLOCS = ("kmalloc", "kzalloc")
SLAB_MAX = 16        # kmalloc objects at most, whatever the call sites


def builtin_calls(file: nodes.File) -> list[nodes.Call]:
    """Every call in the bodies of the file, its functions' included (for
    the softirqs it raises and the kmalloc call sites)."""
    out: list[nodes.Call] = []
    stack: list[nodes.Stmt] = [d.body for d in file.decls
                               if isinstance(d, (nodes.TaskDecl, nodes.FuncDef))]
    while stack:
        st = stack.pop()
        exprs: list[nodes.Expr | None] = []
        if isinstance(st, nodes.Block):
            stack.extend(st.stmts)
        elif isinstance(st, nodes.VarDecl):
            exprs.append(st.init)
        elif isinstance(st, nodes.DeclList):
            stack.extend(st.decls)
        elif isinstance(st, nodes.Assign):
            exprs += [st.target, st.value]
        elif isinstance(st, nodes.IncDec):
            exprs.append(st.target)
        elif isinstance(st, nodes.ExprStmt):
            exprs.append(st.expr)
        elif isinstance(st, nodes.If):
            exprs.append(st.cond)
            stack += [st.then] + ([st.orelse] if st.orelse is not None else [])
        elif isinstance(st, (nodes.While, nodes.DoWhile)):
            exprs.append(st.cond)
            stack.append(st.body)
        elif isinstance(st, nodes.For):
            exprs.append(st.cond)
            stack += [s for s in (st.init, st.update) if s is not None] + [st.body]
        elif isinstance(st, nodes.Switch):
            exprs.append(st.cond)
            stack.extend(st.body)
        elif isinstance(st, nodes.Case):
            exprs.append(st.value)
        elif isinstance(st, nodes.Return):
            exprs.append(st.value)
        out += [n for e in exprs if e is not None for n in walk(e) if isinstance(n, nodes.Call)]
    return out


def lower_pages(checked: Checked, calls: list[nodes.Call]) -> tuple[tuple[ir.PageInfo, ...],
                                                                     tuple[int, ...]]:
    """One PageInfo per page, arrays expanded; pfns sequential per zone;
    then the kmalloc arena's pages (and their indices).

    Lowmem and user pages share the lowmem pfn range; a highmem request
    without CONFIG_HIGHMEM falls back to lowmem, as the page allocator does.
    The arena has a page per object, as many objects as kmalloc/kzalloc
    call sites times tasks and irqs (SLAB_MAX at most): runtime/kernel/slab.py."""
    cfg = checked.config
    pre = cfg.preset
    next_pfn = {ir.PageKind.LOWMEM: pre.lowmem_pfn_base, ir.PageKind.HIGHMEM: pre.highmem_pfn_base,
                ir.PageKind.DEVMAP: pre.devmap_pfn_base}
    users = 0
    out: list[ir.PageInfo] = []
    for sym in checked.symbols.pages.values():
        kind = page_kind(sym, cfg.CONFIG_HIGHMEM)
        zone = ir.PageKind.LOWMEM if kind is ir.PageKind.USER else kind
        for i in range(sym.size):
            name = sym.name if sym.count is None else f"{sym.name}[{i}]"
            vaddr = 0
            if kind is ir.PageKind.USER:
                vaddr = pre.user_base + users * cfg.PAGE_SIZE
                users += 1
            out.append(ir.PageInfo(name, kind, next_pfn[zone], sym.present, vaddr))
            next_pfn[zone] += 1
    sites = sum(c.func in ALLOCS for c in calls)
    contexts = sum(isinstance(d, nodes.TaskDecl) for d in checked.file.decls)
    slab = []
    for i in range(min(SLAB_MAX, sites * contexts)):
        slab.append(len(out))
        out.append(ir.PageInfo(f"kmalloc-{i}", ir.PageKind.LOWMEM,
                               next_pfn[ir.PageKind.LOWMEM], True, 0))
        next_pfn[ir.PageKind.LOWMEM] += 1
    return tuple(out), tuple(slab)


def page_kind(sym: PageSym, highmem: bool) -> ir.PageKind:
    if sym.alloc == "alloc_devmap_page":
        return ir.PageKind.DEVMAP
    if sym.alloc == "alloc_user_page":
        return ir.PageKind.USER
    if sym.gfp & names.GFP_HIGHMEM_BIT and highmem:
        return ir.PageKind.HIGHMEM
    return ir.PageKind.LOWMEM


# ----------------------------------------------------------------- linking


def link(ctx: ir.ContextInfo, functions: tuple[ir.FunctionInfo, ...]) -> ir.ContextInfo:
    """A context (its body's code alone) with the code of every function it
    calls, directly or not, after its body (in the order the functions are
    defined): jump targets moved to where each function lands, every call
    pointed at its entry."""
    needed: set[int] = set()
    todo = [i.func for i in ctx.code if isinstance(i, ir.CallFn)]
    while todo:
        f = todo.pop()
        if f not in needed:
            needed.add(f)
            todo.extend(i.func for i in functions[f].code if isinstance(i, ir.CallFn))
    if not needed:
        return replace(ctx, func_at=())
    code = list(ctx.code)
    func_at = [-1] * len(code)
    entry: dict[int, int] = {}
    for f in sorted(needed):
        entry[f] = len(code)
        code += functions[f].code
        func_at += [f] * len(functions[f].code)
    for pc, ins in enumerate(code):
        base = entry[func_at[pc]] if func_at[pc] >= 0 else 0
        if isinstance(ins, (ir.Branch, ir.Jump)) and base:
            code[pc] = replace(ins, target=ins.target + base)
        elif isinstance(ins, ir.CallFn):
            code[pc] = replace(ins, entry=entry[ins.func])
    return replace(ctx, code=tuple(code), func_at=tuple(func_at))


# ------------------------------------------------------------- expressions


def loc(span: nodes.Span) -> ir.Loc:
    return ir.Loc(span.line, span.col)


# The width of a hidden local: wide enough that storing any value the model
# computes (64-bit, signed or not) changes nothing.
UNCONVERTED = 128


def must_hoist(checked: Checked, e: nodes.Expr) -> bool:
    """A call that cannot be evaluated inside an expression: a function of
    the scenario, or a value-returning built-in that may block or be
    preempted part-way (names.Where.STATEMENT)."""
    return isinstance(e, nodes.Call) and (
        e.func in checked.symbols.functions
        or (e.func in names.BUILTINS and names.BUILTINS[e.func].where is Where.STATEMENT))


class Exprs:
    """Lowers expressions of a body (with ``scope``) or of expectations."""

    def __init__(self, checked: Checked, pages: tuple[ir.PageInfo, ...], scope: Scope | None,
                 contexts: tuple[ir.ContextInfo, ...] = ()) -> None:
        self.checked = checked
        self.sym = checked.symbols
        self.pages = pages
        self.scope = scope
        self.contexts = contexts
        self.user = False    # lowering a `__user` pointer argument
        # In a body: the lowering that emits the calls moved ahead of a statement.
        self.body: BodyLowering | None = None

    @property
    def bits(self) -> int:
        return self.checked.config.preset.bits

    def conv(self, ctype: str) -> tuple[int, bool]:
        """(width, signed) of a C type on the configured arch."""
        return ctype_width(ctype, self.bits, self.checked.config.ARCH)

    def expr(self, e: nodes.Expr) -> ir.Expr:
        if self.body is not None and self.body.takes(e):
            return self.body.hoist(e)
        if isinstance(e, nodes.IntLit):
            return ir.Const(e.value)
        if isinstance(e, nodes.Name):
            return self.name(e.id)
        if isinstance(e, nodes.Index):
            return self.index(e)
        if isinstance(e, nodes.Deref):
            return ir.LoadByte(self.expr(e.operand))
        if isinstance(e, nodes.Unary):
            return ir.Unary(e.op, self.expr(e.operand))
        if isinstance(e, nodes.Binary):
            first, ops = chain(e)   # however long, without recursion
            value = self.expr(first)
            for op in ops:
                if self.body is not None and op.op in ("&&", "||") \
                        and self.body.holds_call(op.right):
                    value = self.body.short_circuit(op.op, value, op.right)
                else:
                    value = ir.Binary(op.op, value, self.expr(op.right))
            return value
        if isinstance(e, nodes.Call):
            return self.call(e)
        if isinstance(e, nodes.Member):
            return self.member(e)
        if isinstance(e, nodes.Ternary):
            return ir.Cond(self.expr(e.cond), self.expr(e.then), self.expr(e.orelse))
        if isinstance(e, nodes.Cast):
            return self.cast(e)
        if isinstance(e, nodes.SizeofType):
            return ir.Const(sizeof(e.ctype, self.bits))
        if isinstance(e, nodes.SizeofExpr):
            return ir.Const(self.sizeof_name(e.operand))
        raise AssertionError(f"lower: unchecked {type(e).__name__} at line {e.span.line}")

    def cast(self, e: nodes.Cast) -> ir.Expr:
        """A conversion to the cast's type; a struct page * stays what it is."""
        if e.user:
            inner = self.argument(e.operand, True)
        else:
            inner = self.expr(e.operand)
        if e.ctype == "void" or e.ctype in PAGE_TYPES:
            return inner
        width, signed = self.conv(e.ctype)
        return ir.Conv(inner, width, signed)

    def sizeof_name(self, e: nodes.Expr) -> int:
        """sizeof of a variable: its declared type's size."""
        assert isinstance(e, nodes.Name)
        local = self.scope.lookup(e.id) if self.scope is not None else None
        if local is not None:
            return sizeof(local.ctype, self.bits)
        if e.id in self.sym.globals:
            return 4                      # a top-level `int`
        return self.bits // 8             # a page name: a struct page *

    def name(self, name: str) -> ir.Expr:
        local = self.scope.lookup(name) if self.scope is not None else None
        if local is not None:
            return ir.Local(local.slot)
        if name in self.sym.globals:
            return ir.Global(self.sym.globals[name].index)
        if name in self.sym.pages:
            first = self.sym.pages[name].first
            if self.user:
                return ir.Const(self.pages[first].user_vaddr)
            return ir.PageRef(first)
        if name in self.sym.percpus:
            return ir.PercpuVar(self.sym.percpus[name].index)
        if name in names.CONSTANTS:
            return ir.Const(names.CONSTANTS[name])
        if name in names.CONFIG_NAMES:
            return ir.Const(self.checked.config.int_value(name))
        if name in names.REPORT_KINDS:
            return ir.ReportTest(name, None)
        raise AssertionError(f"lower: unresolved name `{name}`")

    def index(self, e: nodes.Index) -> ir.Expr:
        """PAGES[i]; page memory P[off] in expectations; else a byte load."""
        base = e.base
        is_local = isinstance(base, nodes.Name) and self.scope is not None \
            and self.scope.lookup(base.id) is not None
        if isinstance(base, nodes.Name) and not is_local and base.id in self.sym.pages:
            page = self.sym.pages[base.id]
            if page.count is not None and self.user:
                # A user page array's pages have consecutive user addresses.
                step = ir.Binary("*", self.expr(e.index), ir.Const(self.checked.config.PAGE_SIZE))
                return ir.Binary("+", ir.Const(self.pages[page.first].user_vaddr), step)
            if page.count is not None:
                return ir.PageElem(page.first, page.size, self.expr(e.index))
        lowered = self.expr(base)
        if self.scope is None:
            # In an expectation the checker allows only page memory: P[off],
            # PAGES[i][off] or t.pg[off] with pg a struct page *.
            return ir.PageMem(lowered, self.expr(e.index))
        return ir.LoadByte(ir.Binary("+", lowered, self.expr(e.index)))

    def member(self, e: nodes.Member) -> ir.Expr:
        ctx = self.sym.contexts[e.obj].index
        slot = dict(reversed(self.contexts[ctx].outer_locals))[e.field]
        return ir.TaskLocal(ctx, slot)

    def call(self, e: nodes.Call) -> ir.Expr:
        if e.func in names.REPORT_KINDS:
            arg = e.args[0]
            assert isinstance(arg, nodes.StrLit)
            return ir.ReportTest(e.func, arg.value)
        if e.func == "READ_ONCE":
            return self.expr(e.args[0])   # one load, as any read of a variable is here
        return ir.CallExpr(e.func, self.args(e))

    def args(self, e: nodes.Call) -> tuple[ir.Expr, ...]:
        """Arguments by kind: &L is a LockArg, a percpu name a PercpuVar, a
        user page's name in an ``Arg.USER`` position its user address."""
        out: list[ir.Expr] = []
        for kind, arg in zip(names.BUILTINS[e.func].args, e.args):
            if kind in (Arg.LOCK, Arg.MUTEX):
                assert isinstance(arg, nodes.AddrOf) and isinstance(arg.operand, nodes.Name)
                out.append(ir.LockArg(self.sym.locks[arg.operand.id]))
            elif kind is Arg.SOFTIRQ:
                assert isinstance(arg, nodes.Name)
                out.append(ir.Const(self.sym.contexts[arg.id].index))
            else:
                out.append(self.argument(arg, kind is Arg.USER))
        return tuple(out)

    def fn_args(self, func: FuncSym, e: nodes.Call) -> tuple[ir.Expr, ...]:
        """A function call's arguments; for a `__user` parameter, user
        pages' names stand for their user addresses."""
        return tuple(self.argument(a, p.user) for p, a in zip(func.params, e.args))

    def argument(self, arg: nodes.Expr, user: bool) -> ir.Expr:
        """One argument; in a `__user` pointer, user pages' names stand for
        their user addresses (but not inside a nested call's arguments)."""
        outer, self.user = self.user, user
        try:
            return self.expr(arg)
        finally:
            self.user = outer

    def dest(self, target: nodes.Expr) -> ir.Dest:
        """An assignment target: a local or global, or a byte store."""
        if isinstance(target, nodes.Name):
            local = self.scope.lookup(target.id) if self.scope is not None else None
            if local is not None:
                width, signed = self.conv(local.ctype)
                return ir.ToLocal(local.slot, width, signed)
            return ir.ToGlobal(self.sym.globals[target.id].index)
        if isinstance(target, nodes.Index):
            return ir.ToByte(ir.Binary("+", self.expr(target.base), self.expr(target.index)))
        if isinstance(target, nodes.Deref):
            return ir.ToByte(self.expr(target.operand))
        raise AssertionError(f"lower: unassignable target at line {target.span.line}")


# -------------------------------------------------------------- statements


class _Loop:
    """Where `break` and `continue` go: jumps patched when the targets are
    known (a `for` loop's update and its end come after its body)."""

    def __init__(self, is_loop: bool) -> None:
        self.is_loop = is_loop          # False: a switch (`continue` passes through)
        self.breaks: list[int] = []
        self.continues: list[int] = []


class BodyLowering:
    """Lowers one task, irq or function body to a flat instruction tuple."""

    def __init__(self, exprs: Exprs, func: FuncSym | None = None) -> None:
        assert exprs.scope is not None
        self.checked = exprs.checked
        self.scope = exprs.scope
        self.ex = exprs
        exprs.body = self
        self.func = func
        self.code: list[ir.Instr] = []
        self.outer: list[tuple[str, int]] = []
        self.calls: set[int] = set()            # functions called
        self.fresh = True                       # the next instruction starts a statement
        self.here = ir.Loc(0, 0)                # the statement being lowered
        self.loops: list[_Loop] = []
        self.labels: dict[str, int] = {}
        self.gotos: list[tuple[int, str]] = []
        self.returns: list[int] = []            # `return;` in a task body: to its End

    # ------------------------------------------------------------- bodies

    def context(self, decl: nodes.TaskDecl, pid: int) -> ir.ContextInfo:
        """The whole body, ending with End at its closing brace."""
        self.block(decl.body)
        end = decl.body.span
        for at in self.returns:
            self.patch(at)
        self.emit(ir.End(ir.Loc(end.end_line, max(end.end_col - 1, 0))))
        self.resolve_gotos()
        return ir.ContextInfo(decl.name, decl.is_irq, decl.cpu, tuple(self.code),
                              tuple(self.scope.slot_names), tuple(self.outer), pid)

    def function(self) -> ir.FunctionInfo:
        """A function's code, its targets counted from its first instruction;
        its closing brace is a return without a value."""
        func = self.func
        assert func is not None
        decl = func.decl
        self.scope.push()
        for p in func.params:
            self.scope.declare(p.name, p.ctype, p.name_span, p.const, p.user)
        for stmt in decl.body.stmts:
            self.stmt(stmt)
        self.scope.pop()
        end = decl.body.span
        width, signed = self.ret_conv()
        self.fresh = True
        self.emit(ir.Ret(None, width, signed, ir.Loc(end.end_line, max(end.end_col - 1, 0))))
        self.resolve_gotos()
        conv = tuple(self.ex.conv(p.ctype) for p in func.params)
        return ir.FunctionInfo(decl.name, tuple(p.name for p in func.params), conv,
                               tuple(self.scope.slot_names), decl.span.line, tuple(self.code))

    def ret_conv(self) -> tuple[int, bool]:
        """(width, signed) of the function's return type; (0, False) for void."""
        assert self.func is not None
        return (0, False) if self.func.ret == "void" else self.ex.conv(self.func.ret)

    def resolve_gotos(self) -> None:
        for at, label in self.gotos:
            instr = self.code[at]
            assert isinstance(instr, ir.Jump)
            self.code[at] = replace(instr, target=self.labels[label])

    # ------------------------------------------------------- instructions

    def emit(self, instr: ir.Instr) -> int:
        """Append an instruction; one that does not start its statement is
        fused to the one before (no step boundary between them)."""
        if not isinstance(instr, (ir.Jump, ir.End)):
            if not self.fresh and hasattr(instr, "fused"):
                instr = replace(instr, fused=True)
            self.fresh = False
        self.code.append(instr)
        return len(self.code) - 1

    def begin(self, span: nodes.Span) -> None:
        """A statement starts: its first instruction will be a step's."""
        self.fresh = True
        self.here = loc(span)

    def patch(self, at: int, target: int | None = None) -> None:
        """Point the Branch or Jump at ``at`` to ``target`` (the next instruction)."""
        instr = self.code[at]
        assert isinstance(instr, (ir.Branch, ir.Jump))
        self.code[at] = replace(instr, target=len(self.code) if target is None else target)

    # --------------------------------------------------- calls moved ahead

    def takes(self, e: nodes.Expr) -> bool:
        """Whether lowering ``e`` emits instructions: a call moved ahead, or
        `?:` whose later operand holds one (`&&` and `||`: Exprs.expr)."""
        if must_hoist(self.checked, e):
            return True
        if isinstance(e, nodes.Ternary):
            return self.holds_call(e.then) or self.holds_call(e.orelse)
        return False

    def holds_call(self, e: nodes.Expr) -> bool:
        return any(must_hoist(self.checked, x) for x in walk(e))

    def hoist(self, e: nodes.Expr) -> ir.Expr:
        """Emit what ``e`` needs ahead of its statement; its value."""
        if isinstance(e, nodes.Call):
            slot = self.scope.temporary(e.func)
            self.emit_call(e, ir.ToLocal(slot, UNCONVERTED, True))
            return ir.Local(slot)
        assert isinstance(e, nodes.Ternary)
        return self.conditional(e)

    def emit_call(self, e: nodes.Call, dest: ir.Dest | None) -> None:
        """A function call (CallFn) or a built-in (Call) into ``dest``."""
        self.emit(self.call_instr(e, dest))

    def call_instr(self, e: nodes.Call, dest: ir.Dest | None) -> ir.CallFn | ir.Call:
        """The instruction of a call, its arguments lowered (and what they
        need emitted ahead)."""
        func = self.checked.symbols.functions.get(e.func)
        if func is None:
            return self.builtin(e, dest)
        args = self.ex.fn_args(func, e)
        self.calls.add(func.index)
        return ir.CallFn(func.index, -1, args, dest, self.here)

    def short_circuit(self, op: str, left: ir.Expr, right_node: nodes.Expr) -> ir.Expr:
        """`a && b` / `a || b` (a lowered already) with a call in b: b's
        call runs only when C would evaluate b."""
        slot = self.scope.temporary(op)
        t = ir.Local(slot)
        dest = ir.ToLocal(slot, 32, True)
        self.emit(ir.Set(dest, ir.Binary("!=", left, ir.Const(0)), self.here))
        # &&: go on to b when a holds; ||: when it does not
        skip = self.emit(ir.Branch(t if op == "&&" else ir.Unary("!", t), -1, self.here))
        right = self.ex.expr(right_node)
        self.emit(ir.Set(dest, ir.Binary("!=", right, ir.Const(0)), self.here))
        self.patch(skip)
        return t

    def conditional(self, e: nodes.Ternary) -> ir.Expr:
        """`c ? a : b` with a call in a or b: only the chosen one runs."""
        slot = self.scope.temporary("?:")
        dest = ir.ToLocal(slot, UNCONVERTED, True)
        cond = self.ex.expr(e.cond)
        branch = self.emit(ir.Branch(cond, -1, self.here))
        self.emit(ir.Set(dest, self.ex.expr(e.then), self.here))
        jump = self.emit(ir.Jump(-1, self.here))
        self.patch(branch)
        self.emit(ir.Set(dest, self.ex.expr(e.orelse), self.here))
        self.patch(jump)
        return ir.Local(slot)

    # ---------------------------------------------------------- statements

    def block(self, block: nodes.Block) -> None:
        self.scope.push()
        for stmt in block.stmts:
            self.stmt(stmt)
        self.scope.pop()

    def stmt(self, stmt: nodes.Stmt) -> None:
        self.begin(stmt.span)
        if isinstance(stmt, nodes.VarDecl):
            self.var_decl(stmt)
        elif isinstance(stmt, nodes.DeclList):
            for decl in stmt.decls:         # one statement: the rest fused to the first
                self.var_decl(decl)
        elif isinstance(stmt, nodes.Assign):
            self.assign(stmt)
        elif isinstance(stmt, nodes.IncDec):
            op = "+" if stmt.op == "++" else "-"
            dest, old = self.target_once(stmt.target)
            self.emit(ir.Set(dest, ir.Binary(op, old, ir.Const(1)), self.here))
        elif isinstance(stmt, nodes.ExprStmt):
            self.expr_stmt(stmt)
        elif isinstance(stmt, nodes.Block):
            self.block(stmt)
        elif isinstance(stmt, nodes.If):
            self.if_stmt(stmt)
        elif isinstance(stmt, nodes.While):
            self.while_stmt(stmt)
        elif isinstance(stmt, nodes.For):
            self.for_stmt(stmt)
        elif isinstance(stmt, nodes.DoWhile):
            self.do_stmt(stmt)
        elif isinstance(stmt, nodes.Switch):
            self.switch(stmt)
        else:
            self.jump(stmt)

    def value(self, e: nodes.Expr, user: bool) -> ir.Expr:
        """A value stored, passed or returned; in a `__user` pointer, user
        pages' names are their user addresses."""
        return self.ex.argument(e, user)

    def var_decl(self, stmt: nodes.VarDecl) -> None:
        """The initialiser is lowered before the name exists (it reads outer names).

        A declaration without initialiser is zeroed: C would leave it
        indeterminate, which the model does not represent."""
        init = stmt.init
        call: ir.CallFn | ir.Call | None = None
        value: ir.Expr = ir.Const(0)
        if isinstance(init, nodes.Call) and self.whole_call(init):
            call = self.call_instr(init, None)   # it stores the local itself
        elif init is not None:
            value = self.value(init, stmt.user)
        sym = self.scope.declare(stmt.name, stmt.ctype, stmt.name_span, stmt.const, stmt.user)
        if self.scope.depth == 1 and self.func is None:
            self.outer.append((stmt.name, sym.slot))
        width, signed = self.ex.conv(stmt.ctype)
        dest = ir.ToLocal(sym.slot, width, signed)
        if call is not None:
            self.emit(replace(call, dest=dest))
        else:
            self.emit(ir.Set(dest, value, self.here))

    def whole_call(self, e: nodes.Call) -> bool:
        """A call that is a statement's whole value becomes its own
        instruction storing the result (a built-in's Call, a CallFn)."""
        return is_builtin_call(e) or e.func in self.checked.symbols.functions

    def assign(self, stmt: nodes.Assign) -> None:
        if stmt.op == "=" and isinstance(stmt.value, nodes.Call) and self.whole_call(stmt.value):
            self.emit_call(stmt.value, self.ex.dest(stmt.target))
            return
        dest = self.ex.dest(stmt.target)
        user = isinstance(stmt.target, nodes.Name) and (
            (sym := self.scope.lookup(stmt.target.id)) is not None and sym.user)
        value: ir.Expr
        if stmt.op != "=":
            dest, old = self.target_once(stmt.target)
            value = ir.Binary(stmt.op[:-1], old, self.value(stmt.value, user))
        else:
            value = self.value(stmt.value, user)
        self.emit(ir.Set(dest, value, self.here))

    def target_once(self, target: nodes.Expr) -> tuple[ir.Dest, ir.Expr]:
        """An assignment target that is also read (`x++`, `x += v`): its
        destination and its value, a call in its address made once."""
        dest = self.ex.dest(target)
        if isinstance(dest, ir.ToByte) and self.holds_call(target):
            slot = self.scope.temporary("&")
            self.emit(ir.Set(ir.ToLocal(slot, UNCONVERTED, True), dest.addr, self.here))
            return ir.ToByte(ir.Local(slot)), ir.LoadByte(ir.Local(slot))
        if isinstance(dest, ir.ToByte):
            return dest, ir.LoadByte(dest.addr)
        return dest, self.ex.expr(target)

    def expr_stmt(self, stmt: nodes.ExprStmt) -> None:
        call = stmt.expr
        if isinstance(call, nodes.Cast):
            call = call.operand           # `(void)f(x);`
        assert isinstance(call, nodes.Call), "check() refuses other expression statements"
        if call.func in CHECK_KINDS:
            cond = call.args[0]
            text = text_of(self.checked.source, cond)
            self.emit(ir.Check(call.func, self.ex.expr(cond), text, self.here))
        elif call.func == "WRITE_ONCE":
            value = self.ex.expr(call.args[1])
            self.emit(ir.Set(self.ex.dest(call.args[0]), value, self.here))
        else:
            self.emit_call(call, None)

    def builtin(self, call: nodes.Call, dest: ir.Dest | None) -> ir.Call:
        """A built-in as an instruction; the flags local that a saving
        macro assigns (spin_lock_irqsave, local_irq_save, local_save_flags)
        becomes its dest."""
        args = self.ex.args(call)
        at = SAVES_FLAGS.get(call.func)
        if at is not None and len(call.args) > at:
            dest = self.ex.dest(call.args[at])
            args = args[:at]
        return ir.Call(call.func, args, dest, self.here)

    # ----------------------------------------------------------- control flow

    def if_stmt(self, stmt: nodes.If) -> None:
        """Branch(cond, else) ; then ; Jump(end) ; else."""
        branch = self.emit(ir.Branch(self.ex.expr(stmt.cond), -1, self.here))
        self.block(stmt.then)
        if stmt.orelse is None:
            self.patch(branch)
            return
        jump = self.emit(ir.Jump(-1, loc(stmt.span)))
        self.patch(branch)
        if isinstance(stmt.orelse, nodes.If):
            self.begin(stmt.orelse.span)
            self.if_stmt(stmt.orelse)
        else:
            self.block(stmt.orelse)
        self.patch(jump)

    def loop_body(self, body: nodes.Block, is_loop: bool = True) -> _Loop:
        loop = _Loop(is_loop)
        self.loops.append(loop)
        self.block(body)
        self.loops.pop()
        return loop

    def close(self, loop: _Loop, cont: int, end: int) -> None:
        for at in loop.continues:
            self.patch(at, cont)
        for at in loop.breaks:
            self.patch(at, end)

    def while_stmt(self, stmt: nodes.While) -> None:
        """L: Branch(cond, end) ; body ; Jump(L)."""
        top = len(self.code)
        branch = self.emit(ir.Branch(self.ex.expr(stmt.cond), -1, self.here))
        loop = self.loop_body(stmt.body)
        self.emit(ir.Jump(top, loc(stmt.span)))
        self.patch(branch)
        self.close(loop, top, len(self.code))

    def do_stmt(self, stmt: nodes.DoWhile) -> None:
        """L: body ; C: Branch(!cond, end) -> L ; the condition is a step."""
        top = len(self.code)
        loop = self.loop_body(stmt.body)
        cond_at = len(self.code)
        self.begin(stmt.cond.span)
        self.here = self.while_of(stmt.cond.span)
        self.emit(ir.Branch(ir.Unary("!", self.ex.expr(stmt.cond)), top, self.here))
        self.close(loop, cond_at, len(self.code))

    def while_of(self, cond: nodes.Span) -> ir.Loc:
        """Where the `while` of a do-while's condition is (its statement in
        traces), found on the condition's line."""
        text = self.checked.source.line(cond.line)[:max(cond.col - 1, 0)]
        at = text.rfind("while")
        return ir.Loc(cond.line, at + 1 if at >= 0 else cond.col)

    def for_stmt(self, stmt: nodes.For) -> None:
        """init ; L: Branch(cond, end) ; body ; update ; Jump(L), in the loop's scope."""
        self.scope.push()
        if stmt.init is not None:
            self.stmt(stmt.init)
        top = len(self.code)
        branch = None
        if stmt.cond is not None:
            self.begin(stmt.span)
            branch = self.emit(ir.Branch(self.ex.expr(stmt.cond), -1, self.here))
        loop = self.loop_body(stmt.body)
        update = len(self.code)
        if stmt.update is not None:
            self.stmt(stmt.update)
        self.emit(ir.Jump(top, loc(stmt.span)))
        if branch is not None:
            self.patch(branch)
        self.close(loop, update, len(self.code))
        self.scope.pop()

    def switch(self, stmt: nodes.Switch) -> None:
        """The condition once (a step), then a fused compare per case, in
        order, to its label; no match goes to `default:` or past the end.
        The body runs on from the label matched (C's fallthrough)."""
        cond = stmt.cond
        plain = isinstance(cond, (nodes.IntLit, nodes.Name)) and not self.takes(cond)
        value = self.ex.expr(cond)
        if not plain or not any(isinstance(x, nodes.Case) for x in stmt.body):
            slot = self.scope.temporary("switch")
            self.emit(ir.Set(ir.ToLocal(slot, UNCONVERTED, True), value, self.here))
            value = ir.Local(slot)
        compares: list[tuple[int, nodes.Case]] = []
        for item in stmt.body:
            if isinstance(item, nodes.Case):
                case = ir.Const(self.fold(item.value))
                compares.append((self.emit(ir.Branch(ir.Binary("!=", value, case), -1,
                                                     self.here)), item))
        no_match = self.emit(ir.Jump(-1, self.here))
        loop = _Loop(False)
        self.loops.append(loop)
        self.scope.push()
        default = None
        for item in stmt.body:
            if isinstance(item, nodes.Case):
                at = next(pc for pc, case in compares if case is item)
                self.patch(at)
            elif isinstance(item, nodes.Default):
                default = len(self.code)
            else:
                self.stmt(item)
        self.scope.pop()
        self.loops.pop()
        end = len(self.code)
        self.patch(no_match, end if default is None else default)
        for at in loop.breaks:
            self.patch(at, end)

    def fold(self, e: nodes.Expr) -> int:
        """A case label's value (the checker made sure it has one)."""
        cfg = self.checked.config
        value = try_fold(e, cfg.int_value, Word(cfg.preset.bits, cfg.ARCH))
        assert value is not None, "check() refuses a case label that is not a constant"
        return value

    def innermost_loop(self) -> _Loop:
        return next(x for x in reversed(self.loops) if x.is_loop)

    def jump(self, stmt: nodes.Stmt) -> None:
        """return, goto, break, continue and labels."""
        if isinstance(stmt, nodes.Label):
            self.labels[stmt.name] = len(self.code)
        elif isinstance(stmt, nodes.Goto):
            self.gotos.append((self.emit(ir.Jump(-1, self.here)), stmt.label))
        elif isinstance(stmt, nodes.Break):
            self.loops[-1].breaks.append(self.emit(ir.Jump(-1, self.here)))
        elif isinstance(stmt, nodes.Continue):
            self.innermost_loop().continues.append(self.emit(ir.Jump(-1, self.here)))
        elif isinstance(stmt, nodes.Return):
            self.return_stmt(stmt)
        else:
            raise AssertionError(f"lower: unexpected {type(stmt).__name__}")

    def return_stmt(self, stmt: nodes.Return) -> None:
        if self.func is None:                     # a task or irq: to its closing brace
            self.returns.append(self.emit(ir.Jump(-1, self.here)))
            return
        width, signed = self.ret_conv()
        if stmt.value is None:
            self.emit(ir.Ret(None, width, signed, self.here))
            return
        value = self.value(stmt.value, self.func.decl.ret_user)
        self.emit(ir.Ret(value, width, signed, self.here))


# the macros that assign their flags argument, and where it is
SAVES_FLAGS = {"spin_lock_irqsave": 1, "local_irq_save": 0, "local_save_flags": 0}


def is_builtin_call(e: nodes.Expr) -> bool:
    """A built-in call (not a report kind) as a whole RHS becomes a Call instruction."""
    return isinstance(e, nodes.Call) and e.func in names.BUILTINS and e.func not in (
        "READ_ONCE", "WRITE_ONCE")
