"""Static checks of expressions: names, calls, argument kinds and positions.

One checker serves the three places an expression can appear (``Mode``):
task and irq bodies, expectations, and top-level initialisers. Each check
returns the expression's type (``Ty``) so that callers can check argument
kinds; ``Ty.BAD`` means a problem was already reported, which keeps one
mistake from cascading into several diagnostics.
"""

from __future__ import annotations

from kmap_scenarios.dsl.syntax import names, nodes
from kmap_scenarios.dsl.check.args import argument, suggest_builtin
from kmap_scenarios.dsl.check.env import Env, Mode, Pos, Ty, arity_message
from kmap_scenarios.dsl.syntax.names import Builtin, Where
from kmap_scenarios.dsl.syntax.source import did_you_mean, did_you_mean_or_list
from kmap_scenarios.dsl.check.symbols import (MAX_EXPR_DEPTH, PAGE_RETURNING, PAGE_TYPES, LocalSym, PageSym, Scope,
                         chain, expr_depth, try_fold)

EXPECT_BUILTINS = tuple(n for n, b in names.BUILTINS.items() if b.where is Where.EXPECT)
RAISES = frozenset({"raise_softirq", "raise_softirq_irqoff"})
# what PREEMPT_RT does differently (kernel/softirq.c's CONFIG_PREEMPT_RT half)
SOFTIRQ_CALLS = RAISES | {"local_bh_disable", "local_bh_enable", "spin_lock_bh",
                          "spin_unlock_bh"}


# C's jump statements, which a bare name statement would otherwise call unknown
_C_CONTROL = {
    "break": ("a loop runs until its condition is false",
              "use the loop condition, or if/else around the rest"),
    "continue": ("a loop body runs to its end", "use if/else around the rest of the body"),
    "return": ("a task body runs to its closing `}`", "use if/else to skip the rest of the body"),
}


class ExprCheck:
    """Checks expressions of one mode; in bodies, names resolve in ``scope``."""

    def __init__(self, env: Env, mode: Mode, scope: Scope | None = None,
                 context: nodes.TaskDecl | None = None) -> None:
        self.env = env
        self.mode = mode
        self.scope = scope
        self.context = context     # the task, irq or softirq whose body this is

    # ------------------------------------------------------------- entry

    def root(self, expr: nodes.Expr, pos: Pos = Pos.NESTED) -> Ty:
        """Check a whole expression; ``pos`` applies if it is a call."""
        if expr_depth(expr) > MAX_EXPR_DEPTH:
            self.env.error("E413", f"expression nested deeper than {MAX_EXPR_DEPTH} levels",
                           expr.span, "split it with a local variable")
            return Ty.BAD
        if isinstance(expr, nodes.Call):
            return self.call(expr, pos)
        return self.value(expr)

    def value(self, expr: nodes.Expr) -> Ty:
        """Check a nested expression and return its type."""
        if isinstance(expr, nodes.IntLit):
            return Ty.INT
        if isinstance(expr, nodes.Name):
            return self.name(expr)
        if isinstance(expr, nodes.Index):
            return self.index(expr)
        if isinstance(expr, nodes.Call):
            return self.call(expr, Pos.NESTED)
        if isinstance(expr, (nodes.Unary, nodes.Binary)):
            if isinstance(expr, nodes.Unary):
                parts = [expr.operand]
            else:   # a chain, however long, without recursion
                first, ops = chain(expr)
                parts = [first, *(op.right for op in ops)]
            tys = [self.value(p) for p in parts]
            return Ty.BAD if Ty.BAD in tys else Ty.INT
        if isinstance(expr, nodes.Deref):
            return self.deref(expr)
        if isinstance(expr, nodes.Member):
            return self.member(expr)
        if isinstance(expr, nodes.StrLit):
            return self.string(expr)
        return self.addr_of(expr)

    # ------------------------------------------------------------- names

    def local(self, name: str) -> LocalSym | None:
        return self.scope.lookup(name) if self.scope is not None else None

    def name(self, expr: nodes.Name) -> Ty:
        """A bare name used as a value."""
        sym = self.local(expr.id)
        if sym is not None:
            return Ty.PAGE if sym.is_page else Ty.INT
        if expr.id in names.CONSTANTS or expr.id in names.CONFIG_NAMES:
            return Ty.INT
        tables = self.env.symbols
        if expr.id in tables.globals and self.mode is not Mode.CONST:
            return Ty.INT
        page = tables.pages.get(expr.id)
        if page is not None and page.count is None and self.mode is not Mode.CONST:
            return Ty.PAGE
        if expr.id in names.REPORT_KINDS and self.mode is Mode.EXPECT:
            return Ty.INT
        return self.misused_name(expr)

    def misused_name(self, expr: nodes.Name) -> Ty:
        """Report a name that exists but is not a value here, or is unknown."""
        what = self.env.symbols.kind(expr.id)
        if what is None and expr.id in names.REPORT_KINDS:
            self.env.error("E408", f"report kind `{expr.id}` can only be tested in an expectation",
                           expr.span, "a task reports with BUG_ON(cond) or WARN_ON(cond)")
        elif what is None and (expr.id in names.BUILTINS or expr.id in names.ALLOCATORS):
            self.env.error("E415", f"`{expr.id}` is a built-in function, not a value",
                           expr.span, f"call it: {expr.id}(...)")
        elif what is None:
            self.unknown(expr)
        elif self.mode is Mode.CONST:
            self.env.error("E412", f"`{expr.id}` is a {what}, not a constant", expr.span,
                           "top-level initialisers may use integers, kernel constants "
                           "and config values")
        else:
            self.env.error("E415", f"`{expr.id}` is a {what}, not a value", expr.span,
                           self.misuse_hint(expr.id, what))
        return Ty.BAD

    def misuse_hint(self, name: str, what: str) -> str:
        if what == "page array":
            return f"name one page: {name}[0]"
        if what == "per-CPU variable":
            return (f"read it with this_cpu_read({name})" if self.mode is Mode.BODY
                    else f"name one CPU's copy: per_cpu({name}, 0)")
        if what == "spinlock":
            return f"pass &{name} to spin_lock() and spin_unlock()"
        if what == "mutex":
            return f"pass &{name} to mutex_lock() and mutex_unlock()"
        if what == "softirq" and self.mode is Mode.BODY:
            return f"raise it: raise_softirq({name});"
        if what in ("task", "irq") and self.mode is Mode.EXPECT:
            return f"name one of its locals: {name}.var"
        return ""

    def visible(self) -> list[str]:
        """Every name a did-you-mean may suggest in this mode."""
        pool = list(names.CONSTANTS) + list(names.CONFIG_NAMES)
        if self.mode is not Mode.CONST:
            pool += self.env.symbols.all_names()
        if self.scope is not None:
            pool += self.scope.visible()
        if self.mode is Mode.EXPECT:
            pool += list(names.REPORT_KINDS)
        return pool

    def unknown(self, expr: nodes.Name) -> None:
        if expr.id in _C_CONTROL:
            why, hint = _C_CONTROL[expr.id]
            self.env.error("E201", f"`{expr.id}` is not supported: {why}", expr.span, hint)
            return
        hint = did_you_mean(expr.id, self.visible())
        if self.mode is Mode.EXPECT:
            owner = next((c.name for c in self.env.symbols.contexts.values()
                          if expr.id in c.outer), None)
            if owner is not None:
                hint = f"did you mean `{owner}.{expr.id}`? (a task's local is named task.var)"
        self.env.error("E201", f"unknown name `{expr.id}`", expr.span, hint)

    # ------------------------------------------------------- memory access

    def page_array(self, expr: nodes.Expr) -> PageSym | None:
        """The page array a bare name denotes, if it does (and no local hides it)."""
        page = self.named_page(expr)
        return page if page is not None and page.count is not None else None

    def named_page(self, expr: nodes.Expr) -> PageSym | None:
        """The page (or page array) a bare name denotes, unless a local hides it."""
        if not isinstance(expr, nodes.Name) or self.local(expr.id) is not None:
            return None
        return self.env.symbols.pages.get(expr.id)

    def index(self, expr: nodes.Index) -> Ty:
        """``PAGES[i]``, a byte load ``p[i]`` or (expectations) page memory ``P[off]``."""
        if self.mode is Mode.CONST:
            self.env.error("E412", f"`{self.env.text(expr)}` is not a constant", expr.span)
            return Ty.BAD
        array = self.page_array(expr.base)
        if array is not None:
            return self.element(array, expr)
        base, offset = self.value(expr.base), self.value(expr.index)
        if Ty.BAD in (base, offset):
            return Ty.BAD
        if self.mode is Mode.EXPECT:
            if base is Ty.PAGE:
                self.in_page(expr.index)
                return Ty.INT
            self.env.error("E404", f"`{self.env.text(expr)}` loads a byte through a pointer, "
                           "which only a task body can do", expr.span,
                           "an expectation reads page memory as P[offset]")
            return Ty.BAD
        if base is Ty.PAGE:
            self.page_memory(expr.base, expr.span)
            return Ty.BAD
        return Ty.INT

    def element(self, array: PageSym, expr: nodes.Index) -> Ty:
        """``PAGES[i]``: a page; a constant index must be in range (E407)."""
        if self.value(expr.index) is Ty.BAD:
            return Ty.BAD
        i = try_fold(expr.index, self.env.config.int_value)
        if i is not None and not 0 <= i < array.size:
            self.env.error("E407", f"index {i} is out of range for `{array.name}`",
                           expr.index.span, f"`{array.name}` has {array.size} pages: "
                           f"{array.name}[0] .. {array.name}[{array.size - 1}]")
            return Ty.BAD
        return Ty.PAGE

    def in_page(self, offset: nodes.Expr) -> None:
        """A constant page offset must lie inside the page (E407)."""
        off = try_fold(offset, self.env.config.int_value)
        if not self.env.config_ok:
            return
        size = self.env.config.PAGE_SIZE
        if off is not None and not 0 <= off < size:
            self.env.error("E407", f"offset {off} is outside the page", offset.span,
                           f"offsets run from 0 to PAGE_SIZE - 1 = {size - 1}")

    def page_memory(self, page: nodes.Expr, span: nodes.Span) -> None:
        text = self.env.text(page)
        self.env.error("E406", f"`{text}` is a struct page, not a mapped address: page memory "
                       "can only be read in expectations", span,
                       f"map it first: void *p = kmap_local_page({text}); p[i]")

    def deref(self, expr: nodes.Deref) -> Ty:
        if self.mode is Mode.CONST:
            self.env.error("E412", f"`{self.env.text(expr)}` is not a constant", expr.span)
            return Ty.BAD
        if self.mode is Mode.EXPECT:
            self.env.error("E404", f"`{self.env.text(expr)}` loads a byte through a pointer, "
                           "which only a task body can do", expr.span,
                           "an expectation reads page memory as P[offset]")
            return Ty.BAD
        ty = self.value(expr.operand)
        if ty is Ty.PAGE:
            self.page_memory(expr.operand, expr.span)
            return Ty.BAD
        return ty

    # ------------------------------------------------ expectation-only forms

    def member(self, expr: nodes.Member) -> Ty:
        """``task.var``: an expectation naming a local of a task's outermost block."""
        text = f"{expr.obj}.{expr.field}"
        if self.mode is not Mode.EXPECT:
            self.env.error("E408", f"`{text}` names a task's final local: only an expectation "
                           "can use it", expr.span)
            return Ty.BAD
        ctx = self.env.symbols.contexts.get(expr.obj)
        if ctx is None:
            self.env.error("E203", f"unknown task `{expr.obj}`", expr.obj_span,
                           did_you_mean_or_list(expr.obj, self.env.symbols.contexts, "tasks and irqs"))
            return Ty.BAD
        if expr.field not in ctx.outer:
            hint = did_you_mean(expr.field, ctx.outer) or (
                "only the locals declared in the outermost block of a task can be named")
            self.env.error("E204", f"{ctx.decl.kind} `{expr.obj}` declares "
                           f"no variable `{expr.field}` in its outermost block",
                           expr.field_span, hint)
            return Ty.BAD
        return Ty.PAGE if ctx.ctype(expr.field) in PAGE_TYPES else Ty.INT

    def string(self, expr: nodes.StrLit) -> Ty:
        if self.mode is Mode.EXPECT:
            self.env.error("E409", "a string can only be the message of a report kind",
                           expr.span, 'as in: expect never BUG("scheduling while atomic");')
        else:
            self.env.error("E408", "string literals are only report messages in expectations",
                           expr.span)
        return Ty.BAD

    def addr_of(self, expr: nodes.AddrOf) -> Ty:
        operand = expr.operand
        if isinstance(operand, nodes.Name) and self.env.symbols.kind(operand.id) is None \
                and self.local(operand.id) is None:
            self.unknown(operand)
        else:
            self.env.error("E415", f"`{self.env.text(expr)}` is not a value: `&` only passes a "
                           "spinlock or a mutex, as in spin_lock(&L)", expr.span)
        return Ty.BAD

    # -------------------------------------------------------------- calls

    def call(self, expr: nodes.Call, pos: Pos) -> Ty:
        """A call of a built-in, a report kind (expectations) or an allocator."""
        if expr.func in names.REPORT_KINDS:
            return self.report(expr)
        if expr.func in names.ALLOCATORS:
            self.env.error("E411", f"`{expr.func}` can only initialise a page declaration",
                           expr.span, f"page P = {expr.func}(...);")
            return Ty.BAD
        b = names.BUILTINS.get(expr.func)
        if b is None and expr.func in self.env.symbols.contexts:
            kind = self.env.symbols.contexts[expr.func].decl.kind
            what = f"an {kind}" if kind == "irq" else f"a {kind}"
            self.env.error("E202", f"`{expr.func}` is {what}, not a function", expr.func_span,
                           "tasks and irqs run on their own CPUs; order them with a "
                           "`schedule` line or kmap run --schedule")
            return Ty.BAD
        if b is None and expr.func == "DEFINE_MUTEX":
            self.env.error("E202", "`DEFINE_MUTEX` declares a mutex: it belongs at top level, "
                           "not in a body", expr.func_span,
                           f"move `{self.env.text(expr)};` above the tasks")
            return Ty.BAD
        if b is None:
            self.env.error("E202", f"unknown function `{expr.func}`", expr.func_span,
                           suggest_builtin(self, expr))
            return Ty.BAD
        if not self.placed(b, expr, pos):
            return Ty.BAD
        lo, hi = len(b.args) - b.optional, len(b.args)
        if not lo <= len(expr.args) <= hi:
            self.env.error("E401", arity_message(b, len(expr.args)), expr.span)
            return Ty.BAD
        tys = [argument(self, b, kind, arg) for kind, arg in zip(b.args, expr.args)]
        if Ty.BAD in tys:
            return Ty.BAD
        if b.name == "per_cpu":
            self.cpu_number(expr.args[1])
        if b.name in RAISES and not self.raised_here(expr):
            return Ty.BAD
        return Ty.PAGE if b.name in PAGE_RETURNING else Ty.INT

    def cpu_number(self, expr: nodes.Expr) -> None:
        """E305: a constant CPU number must name an existing CPU."""
        cpu = try_fold(expr, self.env.config.int_value)
        nr = self.env.nr_cpus
        if cpu is not None and nr is not None and not 0 <= cpu < nr:
            self.env.error("E305", f"`cpu{cpu}` does not exist: NR_CPUS = {nr} "
                           f"(cpu0 .. cpu{nr - 1})", expr.span)

    def placed(self, b: Builtin, expr: nodes.Call, pos: Pos) -> bool:
        """Whether ``b`` may be called here: E412, E404, E403, E410."""
        if self.mode is Mode.CONST:
            self.env.error("E412", f"`{b.name}(...)` is not a constant: top-level initialisers "
                           "cannot call functions", expr.span)
            return False
        if self.mode is Mode.EXPECT and b.where is not Where.EXPECT:
            self.env.error("E404", f"`{b.name}` cannot be used in an expectation: it is not a "
                           "query of the final state", expr.func_span,
                           "expectations can call " + ", ".join(EXPECT_BUILTINS))
            return False
        if b.where is Where.STATEMENT and pos is Pos.NESTED:
            self.env.error("E403", f"`{b.name}` may block or be preempted part-way, so it must be "
                           "a whole statement, a declaration's initialiser or the right-hand "
                           "side of `=`", expr.span,
                           f"store its result in a local first: x = {b.name}(...);")
            return False
        if b.name in SOFTIRQ_CALLS and self.env.config.CONFIG_PREEMPT_RT:
            self.env.error("E420", f"`{b.name}` under CONFIG_PREEMPT_RT: the model does not "
                           "cover PREEMPT_RT's softirqs (bottom halves are a per-CPU local lock "
                           "and softirqs run in threads there)", expr.func_span,
                           "set CONFIG_PREEMPT_RT = n")
            return False
        if b.name == "kmap_high_get" and self.env.config.ARCH != "arm":
            self.env.error("E419", f"`kmap_high_get` is declared only by "
                           f"arch/arm/include/asm/highmem.h: ARCH = {self.env.config.ARCH} "
                           "has no such function", expr.func_span,
                           "use ARCH = arm (with ARCH_NEEDS_KMAP_HIGH_GET = y to pin)")
            return False
        if not b.returns and pos is not Pos.STMT:
            self.env.error("E410", f"`{b.name}` returns void: it cannot be used as a value",
                           expr.span, f"call it as a statement: {b.name}(...);")
            return False
        return True

    def raised_here(self, expr: nodes.Call) -> bool:
        """E420: raise_softirq() marks the softirq pending on the CPU it runs
        on, and the model runs each softirq on its declared CPU only: the
        raising task, irq or softirq must be bound to that CPU."""
        arg = expr.args[0]
        assert isinstance(arg, nodes.Name)
        target = self.env.symbols.contexts[arg.id].decl
        here = self.context
        if here is None or here.cpu == target.cpu:
            return True
        where = f"on cpu{here.cpu}" if here.cpu is not None else "on any CPU"
        self.env.error("E420", f"{here.kind} `{here.name}` runs {where}, but softirq "
                       f"`{target.name}` runs on cpu{target.cpu}: raise_softirq() raises it on "
                       "the CPU it is called on", expr.span,
                       f"declare `{here.kind} {here.name} on cpu{target.cpu}`")
        return False

    def report(self, expr: nodes.Call) -> Ty:
        """``BUG("text")`` in an expectation: a report kind with a message substring."""
        if self.mode is not Mode.EXPECT:
            self.env.error("E408", f"report kind `{expr.func}` can only be tested in an "
                           "expectation", expr.span,
                           "a task reports with BUG_ON(cond) or WARN_ON(cond)")
            return Ty.BAD
        if len(expr.args) != 1:
            self.env.error("E401", f"`{expr.func}(...)` takes one message string, got "
                           f"{len(expr.args)} arguments", expr.span,
                           f"write `{expr.func}` alone to match any {expr.func} report")
            return Ty.BAD
        if not isinstance(expr.args[0], nodes.StrLit):
            self.env.error("E402", f"`{expr.func}(...)` takes a message string, got "
                           f"`{self.env.text(expr.args[0])}`", expr.args[0].span,
                           f'as in: {expr.func}("message substring")')
            return Ty.BAD
        return Ty.INT

    # ---------------------------------------------------------- arguments
