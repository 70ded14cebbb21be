"""Lowering: a checked AST to the runtime's Program.

Names become slots and indices, control flow becomes jumps, and every
built-in call that is a whole statement, initialiser or right-hand side of
``=`` becomes a ``Call`` instruction, so that the runtime executes it as a
step of its own. The checker has refused everything this module does not
expect; meeting such a node here is an internal error.
"""

from __future__ import annotations

import os
from dataclasses import replace

from kmap_scenarios.dsl.syntax import names, nodes
from kmap_scenarios.dsl.check.checker import Checked
from kmap_scenarios.dsl.syntax.names import Arg
from kmap_scenarios.dsl.check.symbols import (CHECK_KINDS, PageSym, Scope, chain, ctype_width, text_of,
                                              walk)
from kmap_scenarios.runtime.kernel import program as ir


def lower(checked: Checked) -> ir.Program:
    """Build the Program of a file that passed check()."""
    file, cfg = checked.file, checked.config
    calls = builtin_calls(file)
    pages, slab = lower_pages(checked, calls)
    contexts: list[ir.ContextInfo] = []
    pid = 0
    raised = {a.id for c in calls if c.func in RAISES for a in c.args[:1]
              if isinstance(a, nodes.Name)}
    softirqs = 0
    for decl in file.decls:
        if isinstance(decl, nodes.TaskDecl):
            pid += 0 if decl.is_irq else 1
            body = BodyLowering(Exprs(checked, pages, Scope()))
            info = body.context(decl, 0 if decl.is_irq else pid)
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
            ir.ScheduleStep(sym.contexts[i.name].index, i.steps, i.cpu) for i in schedule.items),
        schedule_line=0 if schedule is None else schedule.span.line,
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
    """Every call in the bodies of the file (for the softirqs it raises and
    the kmalloc call sites)."""
    out: list[nodes.Call] = []
    stack: list[nodes.Stmt] = [d.body for d in file.decls if isinstance(d, nodes.TaskDecl)]
    while stack:
        st = stack.pop()
        exprs: list[nodes.Expr | None] = []
        if isinstance(st, nodes.Block):
            stack.extend(st.stmts)
        elif isinstance(st, nodes.VarDecl):
            exprs.append(st.init)
        elif isinstance(st, nodes.Assign):
            exprs += [st.target, st.value]
        elif isinstance(st, nodes.IncDec):
            exprs.append(st.target)
        elif isinstance(st, nodes.ExprStmt):
            exprs.append(st.expr)
        elif isinstance(st, nodes.If):
            exprs.append(st.cond)
            stack += [st.then] + ([st.orelse] if st.orelse is not None else [])
        elif isinstance(st, nodes.While):
            exprs.append(st.cond)
            stack.append(st.body)
        else:
            exprs.append(st.cond)
            stack += [s for s in (st.init, st.update) if s is not None] + [st.body]
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


# ------------------------------------------------------------- expressions


def loc(span: nodes.Span) -> ir.Loc:
    return ir.Loc(span.line, span.col)


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

    def expr(self, e: nodes.Expr) -> ir.Expr:
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
                value = ir.Binary(op.op, value, self.expr(op.right))
            return value
        if isinstance(e, nodes.Call):
            return self.call(e)
        if isinstance(e, nodes.Member):
            return self.member(e)
        raise AssertionError(f"lower: unchecked {type(e).__name__} at line {e.span.line}")

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
                width, signed = ctype_width(local.ctype, self.checked.config.preset.bits)
                return ir.ToLocal(local.slot, width, signed)
            return ir.ToGlobal(self.sym.globals[target.id].index)
        if isinstance(target, nodes.Index):
            return ir.ToByte(ir.Binary("+", self.expr(target.base), self.expr(target.index)))
        if isinstance(target, nodes.Deref):
            return ir.ToByte(self.expr(target.operand))
        raise AssertionError(f"lower: unassignable target at line {target.span.line}")


# -------------------------------------------------------------- statements


class BodyLowering:
    """Lowers one task or irq body to a flat instruction tuple."""

    def __init__(self, exprs: Exprs) -> None:
        assert exprs.scope is not None
        self.checked = exprs.checked
        self.scope = exprs.scope
        self.ex = exprs
        self.code: list[ir.Instr] = []
        self.outer: list[tuple[str, int]] = []

    def context(self, decl: nodes.TaskDecl, pid: int) -> ir.ContextInfo:
        """The whole body, ending with End at its closing brace."""
        self.block(decl.body)
        end = decl.body.span
        self.emit(ir.End(ir.Loc(end.end_line, max(end.end_col - 1, 0))))
        return ir.ContextInfo(decl.name, decl.is_irq, decl.cpu, tuple(self.code),
                              tuple(self.scope.slot_names), tuple(self.outer), pid)

    def emit(self, instr: ir.Instr) -> int:
        self.code.append(instr)
        return len(self.code) - 1

    def patch(self, at: int) -> None:
        """Point the Branch or Jump at ``at`` to the next instruction."""
        instr = self.code[at]
        assert isinstance(instr, (ir.Branch, ir.Jump))
        self.code[at] = replace(instr, target=len(self.code))

    def block(self, block: nodes.Block) -> None:
        self.scope.push()
        for stmt in block.stmts:
            self.stmt(stmt)
        self.scope.pop()

    def stmt(self, stmt: nodes.Stmt) -> None:
        if isinstance(stmt, nodes.VarDecl):
            self.var_decl(stmt)
        elif isinstance(stmt, nodes.Assign):
            self.assign(stmt)
        elif isinstance(stmt, nodes.IncDec):
            op = "+" if stmt.op == "++" else "-"
            value = ir.Binary(op, self.ex.expr(stmt.target), ir.Const(1))
            self.emit(ir.Set(self.ex.dest(stmt.target), value, loc(stmt.span)))
        elif isinstance(stmt, nodes.ExprStmt):
            self.expr_stmt(stmt)
        elif isinstance(stmt, nodes.Block):
            self.block(stmt)
        elif isinstance(stmt, nodes.If):
            self.if_stmt(stmt)
        elif isinstance(stmt, nodes.While):
            self.while_stmt(stmt)
        else:
            self.for_stmt(stmt)

    def var_decl(self, stmt: nodes.VarDecl) -> None:
        """The initialiser is lowered before the name exists (it reads outer names).

        A declaration without initialiser is zeroed: C would leave it
        indeterminate, which the model does not represent."""
        init = stmt.init
        args: tuple[ir.Expr, ...] | None = None
        value: ir.Expr = ir.Const(0)
        if isinstance(init, nodes.Call) and is_builtin_call(init):
            args = self.ex.args(init)
        elif init is not None:
            value = self.ex.expr(init)
        sym = self.scope.declare(stmt.name, stmt.ctype, stmt.name_span)
        if self.scope.depth == 1:
            self.outer.append((stmt.name, sym.slot))
        width, signed = ctype_width(stmt.ctype, self.checked.config.preset.bits)
        dest = ir.ToLocal(sym.slot, width, signed)
        if isinstance(init, nodes.Call) and args is not None:
            self.emit(ir.Call(init.func, args, dest, loc(stmt.span)))
        else:
            self.emit(ir.Set(dest, value, loc(stmt.span)))

    def assign(self, stmt: nodes.Assign) -> None:
        dest = self.ex.dest(stmt.target)
        if stmt.op == "=" and isinstance(stmt.value, nodes.Call) and is_builtin_call(stmt.value):
            self.emit(self.call(stmt.value, dest, stmt.span))
            return
        value = self.ex.expr(stmt.value)
        if stmt.op != "=":
            value = ir.Binary(stmt.op[:-1], self.ex.expr(stmt.target), value)
        self.emit(ir.Set(dest, value, loc(stmt.span)))

    def expr_stmt(self, stmt: nodes.ExprStmt) -> None:
        call = stmt.expr
        assert isinstance(call, nodes.Call), "check() refuses other expression statements"
        if call.func in CHECK_KINDS:
            cond = call.args[0]
            text = text_of(self.checked.source, cond)
            self.emit(ir.Check(call.func, self.ex.expr(cond), text, loc(stmt.span)))
        else:
            self.emit(self.call(call, None, stmt.span))

    def call(self, call: nodes.Call, dest: ir.Dest | None, span: nodes.Span) -> ir.Call:
        """A built-in as an instruction; the flags local that a saving
        macro assigns (spin_lock_irqsave, local_irq_save, local_save_flags)
        becomes its dest."""
        args = self.ex.args(call)
        at = SAVES_FLAGS.get(call.func)
        if at is not None and len(call.args) > at:
            dest = self.ex.dest(call.args[at])
            args = args[:at]
        return ir.Call(call.func, args, dest, loc(span))

    # ----------------------------------------------------------- control flow

    def if_stmt(self, stmt: nodes.If) -> None:
        """Branch(cond, else) ; then ; Jump(end) ; else."""
        branch = self.emit(ir.Branch(self.ex.expr(stmt.cond), -1, loc(stmt.span)))
        self.block(stmt.then)
        if stmt.orelse is None:
            self.patch(branch)
            return
        jump = self.emit(ir.Jump(-1, loc(stmt.span)))
        self.patch(branch)
        if isinstance(stmt.orelse, nodes.If):
            self.if_stmt(stmt.orelse)
        else:
            self.block(stmt.orelse)
        self.patch(jump)

    def while_stmt(self, stmt: nodes.While) -> None:
        """L: Branch(cond, end) ; body ; Jump(L)."""
        top = len(self.code)
        branch = self.emit(ir.Branch(self.ex.expr(stmt.cond), -1, loc(stmt.span)))
        self.block(stmt.body)
        self.emit(ir.Jump(top, loc(stmt.span)))
        self.patch(branch)

    def for_stmt(self, stmt: nodes.For) -> None:
        """init ; L: Branch(cond, end) ; body ; update ; Jump(L), in the loop's scope."""
        self.scope.push()
        if stmt.init is not None:
            self.stmt(stmt.init)
        top = len(self.code)
        branch = None
        if stmt.cond is not None:
            branch = self.emit(ir.Branch(self.ex.expr(stmt.cond), -1, loc(stmt.span)))
        self.block(stmt.body)
        if stmt.update is not None:
            self.stmt(stmt.update)
        self.emit(ir.Jump(top, loc(stmt.span)))
        if branch is not None:
            self.patch(branch)
        self.scope.pop()


# the macros that assign their flags argument, and where it is
SAVES_FLAGS = {"spin_lock_irqsave": 1, "local_irq_save": 0, "local_save_flags": 0}


def is_builtin_call(e: nodes.Expr) -> bool:
    """A built-in call (not a report kind) as a whole RHS becomes a Call instruction."""
    return isinstance(e, nodes.Call) and e.func in names.BUILTINS
