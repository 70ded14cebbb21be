"""Static checks of expressions: names, calls, argument kinds and positions.

One checker serves the three places an expression can appear (``Mode``):
task and irq bodies, expectations, and top-level initialisers. Each check
returns the expression's type (``Ty``) so that callers can check argument
kinds; ``Ty.BAD`` means a problem was already reported, which keeps one
mistake from cascading into several diagnostics.
"""

from __future__ import annotations

from kmap_scenarios.dsl.syntax import names, nodes
from kmap_scenarios.dsl.check.args import argument, is_folio, suggest_builtin
from kmap_scenarios.dsl.check.env import Env, Mode, Pos, Ty, arity_message
from kmap_scenarios.dsl.syntax.names import Builtin, Where
from kmap_scenarios.dsl.syntax.source import did_you_mean, did_you_mean_or_list
from kmap_scenarios.dsl.check.symbols import (FOLIO_TYPE, MAX_EXPR_DEPTH, PAGE_RETURNING,
                                              PAGE_TYPES, FuncSym, LocalSym, PageSym, Scope, chain,
                                              expr_depth, walk)

EXPECT_BUILTINS = tuple(n for n, b in names.BUILTINS.items() if b.where is Where.EXPECT)
RAISES = frozenset({"raise_softirq", "raise_softirq_irqoff"})
# what PREEMPT_RT does differently (kernel/softirq.c's CONFIG_PREEMPT_RT half)
SOFTIRQ_CALLS = RAISES | {"local_bh_disable", "local_bh_enable", "spin_lock_bh",
                          "spin_unlock_bh"}


class ExprCheck:
    """Checks expressions of one mode; in bodies, names resolve in ``scope``."""

    def __init__(self, env: Env, mode: Mode, scope: Scope | None = None,
                 context: nodes.TaskDecl | None = None,
                 callers: tuple[nodes.TaskDecl, ...] = ()) -> None:
        self.env = env
        self.mode = mode
        self.scope = scope
        self.context = context     # the task, irq or softirq whose body this is
        self.callers = callers     # in a function: the contexts that call it

    # ------------------------------------------------------------- entry

    def root(self, expr: nodes.Expr, pos: Pos = Pos.NESTED) -> Ty:
        """Check a whole expression; ``pos`` applies if it is a call."""
        if expr_depth(expr) > MAX_EXPR_DEPTH:
            self.env.error("E413", f"expression nested deeper than {MAX_EXPR_DEPTH} levels",
                           expr.span, "split it with a local variable")
            return Ty.BAD
        if isinstance(expr, nodes.Call):
            return self.call(expr, pos)
        if isinstance(expr, nodes.Cast) and expr.ctype == "void" and pos is Pos.STMT:
            # `(void)f(x);`: the value is thrown away, as kernel code writes it
            if isinstance(expr.operand, nodes.Call):
                return self.call(expr.operand, Pos.STMT)
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
        if isinstance(expr, nodes.Ternary):
            return self.ternary(expr)
        if isinstance(expr, nodes.Cast):
            return self.cast(expr)
        if isinstance(expr, nodes.SizeofType):
            return Ty.INT
        if isinstance(expr, nodes.SizeofExpr):
            return self.sizeof_expr(expr)
        return self.addr_of(expr)

    # ------------------------------------------------------- C operators

    def ternary(self, expr: nodes.Ternary) -> Ty:
        """``c ? a : b``: a page if both are pages (or one is NULL)."""
        tys = [self.value(e) for e in (expr.cond, expr.then, expr.orelse)]
        if Ty.BAD in tys:
            return Ty.BAD
        a, b = tys[1], tys[2]
        if a is Ty.PAGE and (b is Ty.PAGE or self.is_null(expr.orelse)) or \
                b is Ty.PAGE and self.is_null(expr.then):
            return Ty.PAGE
        return Ty.INT

    def is_null(self, expr: nodes.Expr) -> bool:
        return self.env.fold(expr) == 0

    def cast(self, expr: nodes.Cast) -> Ty:
        """``(TYPE)x``: a value converted; a struct page * only from a page
        or NULL (E416); ``(void)x`` has no value (E410)."""
        if self.mode is Mode.CONST:
            ty = self.value(expr.operand)
            return ty if expr.ctype != "void" and expr.ctype not in PAGE_TYPES \
                else self.not_constant(expr)
        ty = self.user_value(expr.operand) if expr.user else self.value(expr.operand)
        if ty is Ty.BAD:
            return ty
        if expr.ctype == "void":
            self.env.error("E410", f"`{self.env.text(expr)}` is cast to void: it has no value",
                           expr.span, "drop the cast to use the value")
            return Ty.BAD
        if expr.ctype in PAGE_TYPES:
            if self.is_null(expr.operand) or ty is Ty.PAGE and (
                    expr.ctype == FOLIO_TYPE) == is_folio(self, expr.operand):
                return Ty.PAGE
            self.env.error("E416", f"`{self.env.text(expr.operand)}` is not a "
                           f"{'folio' if expr.ctype == FOLIO_TYPE else 'page'}: casting it to "
                           f"{expr.ctype} does not make it one", expr.span,
                           f"the page behind a mapped address is kmap_to_page("
                           f"{self.env.text(expr.operand)})")
            return Ty.BAD
        return Ty.INT

    def not_constant(self, expr: nodes.Expr) -> Ty:
        self.env.error("E412", f"`{self.env.text(expr)}` is not a constant", expr.span)
        return Ty.BAD

    def sizeof_expr(self, expr: nodes.SizeofExpr) -> Ty:
        """``sizeof x``: x names a variable (it is not evaluated)."""
        operand = expr.operand
        if isinstance(operand, nodes.Name):
            if self.local(operand.id) is not None or (
                    self.mode is not Mode.CONST and (operand.id in self.env.symbols.globals
                                                     or operand.id in self.env.symbols.pages)):
                return Ty.INT
            if self.env.symbols.kind(operand.id) is None and operand.id not in names.CONSTANTS:
                self.unknown(operand)
                return Ty.BAD
        self.env.error("E415", f"`sizeof` takes a type or a variable's name here, not "
                       f"`{self.env.text(operand)}`", expr.span,
                       "values have no C type in the model: write sizeof(TYPE)")
        return Ty.BAD

    def user_value(self, expr: nodes.Expr) -> Ty:
        """A `__user` pointer's value: a number, or user pages' names (each
        stands for its user address, as in copy_from_user's argument)."""
        ty = self.value(expr)
        if ty is Ty.BAD:
            return ty
        for node in walk(expr, into_calls=False):
            page = self.named_page(node)
            if page is not None and page.alloc != "alloc_user_page":
                self.env.error("E402", f"a `__user` pointer holds a user address, but "
                               f"`{page.name}` is not a user page", node.span,
                               "declare the user buffer with: page U = alloc_user_page(present);")
                return Ty.BAD
            if not isinstance(node, nodes.Name):
                continue
            sym = self.local(node.id)
            if sym is not None and sym.is_page:
                self.env.error("E402", f"a `__user` pointer holds a user address, but "
                               f"`{node.id}` is a struct page *", node.span,
                               "pass the user page's name")
                return Ty.BAD
        return Ty.INT

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
        elif what == "function":
            self.env.error("E415", f"`{expr.id}` is a function, not a value", expr.span,
                           f"call it: {expr.id}(...)")
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
        i = self.env.fold(expr.index)
        if i is not None and not 0 <= i < array.size:
            self.env.error("E407", f"index {i} is out of range for `{array.name}`",
                           expr.index.span, f"`{array.name}` has {array.size} pages: "
                           f"{array.name}[0] .. {array.name}[{array.size - 1}]")
            return Ty.BAD
        return Ty.PAGE

    def in_page(self, offset: nodes.Expr) -> None:
        """A constant page offset must lie inside the page (E407)."""
        off = self.env.fold(offset)
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
        func = self.env.symbols.functions.get(expr.func)
        if func is not None:
            return self.function_call(func, expr, pos)
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

    def function_call(self, func: FuncSym, expr: nodes.Call, pos: Pos) -> Ty:
        """A call of a function of the scenario: where (E404, E412, E410),
        how many arguments (E401), and each against its parameter (E402,
        E416; a `__user` parameter takes user pages' names)."""
        if self.mode is Mode.CONST:
            self.env.error("E412", f"`{func.name}(...)` is not a constant: top-level "
                           "initialisers cannot call functions", expr.span)
            return Ty.BAD
        if self.mode is Mode.EXPECT:
            self.env.error("E404", f"`{func.name}` cannot be used in an expectation: it is a "
                           "function of the scenario, not a query of the final state",
                           expr.func_span, "store its result in a task's local and expect on "
                           "task.var")
            return Ty.BAD
        if func.ret == "void" and pos is not Pos.STMT:
            self.env.error("E410", f"`{func.name}` returns void: it cannot be used as a value",
                           expr.span, f"call it as a statement: {func.name}(...);")
            return Ty.BAD
        params = func.params
        if len(expr.args) != len(params):
            n = len(params)
            what = "no arguments" if n == 0 else f"{n} argument{'s' if n != 1 else ''}"
            signature = func.signature(self.env.source)
            self.env.error("E401", f"`{func.name}` takes {what} {signature}, got "
                           f"{len(expr.args)}", expr.span,
                           f"`{func.name}` is defined at line {func.decl.span.line}")
            return Ty.BAD
        tys = [self.parameter(func, p, a) for p, a in zip(params, expr.args)]
        if Ty.BAD in tys:
            return Ty.BAD
        return Ty.PAGE if func.ret in PAGE_TYPES else Ty.INT

    def parameter(self, func: FuncSym, param: nodes.Param, arg: nodes.Expr) -> Ty:
        """One argument of a function call against its parameter."""
        if param.user:
            return self.user_value(arg)
        array = self.page_array(arg)
        if array is not None:
            self.env.error("E402", f"`{func.name}` takes one value for `{param.name}`, but "
                           f"`{array.name}` is an array of {array.size} pages", arg.span,
                           f"pass one element: {array.name}[0]")
            return Ty.BAD
        ty = self.value(arg)
        if ty is Ty.BAD:
            return ty
        text = self.env.text(arg)
        if param.ctype in PAGE_TYPES:
            folio = param.ctype == FOLIO_TYPE
            if self.is_null(arg) or ty is Ty.PAGE and folio == is_folio(self, arg):
                return Ty.PAGE
            want = "a folio" if folio else "a page"
            self.env.error("E416", f"parameter `{param.name}` of `{func.name}` is a "
                           f"{param.ctype}, but `{text}` is not {want}", arg.span,
                           "pass a page name, PAGES[i], a struct page * or kmap_to_page(addr)"
                           if not folio else "pass a folio: page_folio(page)")
            return Ty.BAD
        if ty is Ty.PAGE:
            self.env.error("E402", f"`{func.name}` expects an address or a number for "
                           f"`{param.name}`, but `{text}` is a struct page *", arg.span,
                           f"map it first: void *p = kmap_local_page({text});")
            return Ty.BAD
        return ty

    def cpu_number(self, expr: nodes.Expr) -> None:
        """E305: a constant CPU number must name an existing CPU."""
        cpu = self.env.fold(expr)
        nr = self.env.nr_cpus
        if cpu is not None and nr is not None and not 0 <= cpu < nr:
            self.env.error("E305", f"`cpu{cpu}` does not exist: NR_CPUS = {nr} "
                           f"(cpu0 .. cpu{nr - 1})", expr.span)

    def placed(self, b: Builtin, expr: nodes.Call, pos: Pos) -> bool:
        """Whether ``b`` may be called here: E412, E404, E420, E419, E410."""
        if self.mode is Mode.CONST:
            self.env.error("E412", f"`{b.name}(...)` is not a constant: top-level initialisers "
                           "cannot call functions", expr.span)
            return False
        if self.mode is Mode.EXPECT and b.where is not Where.EXPECT:
            self.env.error("E404", f"`{b.name}` cannot be used in an expectation: it is not a "
                           "query of the final state", expr.func_span,
                           "expectations can call " + ", ".join(EXPECT_BUILTINS))
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
        # in a function, every context that calls it raises it where it runs
        for here in (self.context,) if self.context is not None else self.callers:
            if here.cpu == target.cpu:
                continue
            where = f"on cpu{here.cpu}" if here.cpu is not None else "on any CPU"
            via = "" if self.context is not None else " (it calls this function)"
            self.env.error("E420", f"{here.kind} `{here.name}` runs {where}{via}, but softirq "
                           f"`{target.name}` runs on cpu{target.cpu}: raise_softirq() raises it "
                           "on the CPU it is called on", expr.span,
                           f"declare `{here.kind} {here.name} on cpu{target.cpu}`")
            return False
        return True

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
