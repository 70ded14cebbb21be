"""Static checks of task, irq and function bodies: declarations,
assignments, control flow (loops, switch, goto, return).

Declarations are block-scoped as in C (a ``for`` header's declaration
belongs to the loop; a function's parameters share its outermost block). A
declaration's initialiser is checked before the name is declared, so
``int x = x;`` reads an outer ``x``: the lowering does the same, and the
model never reads an uninitialised local. Labels belong to the whole body
(C's label namespace is the function), so a ``goto`` may jump forward or
back.
"""

from __future__ import annotations

from kmap_scenarios.dsl.syntax import names, nodes
from kmap_scenarios.dsl.check.env import Env, Mode, Pos, Ty
from kmap_scenarios.dsl.check.expr import ExprCheck
from kmap_scenarios.dsl.check.args import is_folio
from kmap_scenarios.dsl.check.flow import completes
from kmap_scenarios.dsl.check.symbols import (FOLIO_TYPE, MAX_BLOCK_DEPTH, PAGE_TYPES, FuncSym,
                                              LocalSym, Scope)
from kmap_scenarios.dsl.syntax.source import did_you_mean

# Names a local may not take: C macros in the kernel, so a declaration with
# that name would not compile.
RESERVED_LOCAL = {**{n: "a kernel constant" for n in names.CONSTANTS},
                  **{n: "a config value" for n in names.CONFIG_NAMES}}


def check_body(env: Env, decl: nodes.TaskDecl) -> None:
    """Check one task, irq or softirq body."""
    check = BodyCheck(env, decl=decl, what=f"{decl.kind} `{decl.name}`")
    check.block(decl.body)
    check.finish()


def check_function(env: Env, func: FuncSym, callers: tuple[nodes.TaskDecl, ...] = ()) -> None:
    """Check one function: its parameters, body, returns and its end;
    ``callers``: the tasks, irqs and softirqs that call it (directly or
    not), for the checks that depend on where code runs."""
    decl = func.decl
    if decl.params is None:
        env.error("E427", f"`{decl.name}()` declares no prototype: write `{decl.name}(void)`",
                  decl.name_span, "the kernel builds with -Werror=strict-prototypes")
    check = BodyCheck(env, func=func, callers=callers, what=f"function `{decl.name}()`")
    check.scope.push()
    for param in func.params:
        check.declare(param.name, param.ctype, param.name_span, param.const, param.user)
    check.statements(decl.body.stmts)
    check.scope.pop()
    check.finish()
    if decl.ret != "void" and completes(decl.body.stmts, env.fold):
        end = decl.body.span
        env.error("E425", f"control reaches the end of `{decl.name}()`, which returns "
                  f"{decl.ret}", nodes.Span(end.end_line, max(end.end_col - 1, 1), end.end_line,
                                            end.end_col),
                  "return a value on every path (the kernel builds with -Werror=return-type)")


class BodyCheck:
    """Walks one body with its scopes; expressions go to an ExprCheck."""

    def __init__(self, env: Env, scope: Scope | None = None,
                 decl: nodes.TaskDecl | None = None, func: FuncSym | None = None,
                 callers: tuple[nodes.TaskDecl, ...] = (), what: str = "the body") -> None:
        self.env = env
        self.func = func          # None: a task or irq body
        self.what = what          # "function `f()`", "task `t`", for messages
        self.scope = Scope() if scope is None else scope
        self.expr = ExprCheck(env, Mode.BODY, self.scope, decl, callers)
        self.loops = 0            # enclosing loops (`continue`)
        self.breakable = 0        # enclosing loops and switches (`break`)
        self.labels: dict[str, nodes.Span] = {}
        self.gotos: list[nodes.Goto] = []

    def finish(self) -> None:
        """E422 for each goto whose label the body does not have."""
        for goto in self.gotos:
            if goto.label not in self.labels:
                hint = did_you_mean(goto.label, list(self.labels)) or (
                    f"{self.what} has no label `{goto.label}:`" if self.labels else
                    f"{self.what} has no labels")
                self.env.error("E422", f"`goto {goto.label}`: no label `{goto.label}` in "
                               f"{self.what}", goto.label_span, hint)

    def block(self, block: nodes.Block) -> None:
        if self.scope.depth >= MAX_BLOCK_DEPTH:
            self.env.error("E413", f"blocks nested deeper than {MAX_BLOCK_DEPTH} levels",
                           block.span, "move the inner part into a function")
            return
        self.scope.push()
        self.statements(block.stmts)
        self.scope.pop()

    def statements(self, stmts: tuple[nodes.Stmt, ...]) -> None:
        for stmt in stmts:
            self.stmt(stmt)

    def stmt(self, stmt: nodes.Stmt) -> None:
        if isinstance(stmt, nodes.VarDecl):
            self.var_decl(stmt)
        elif isinstance(stmt, nodes.DeclList):
            for decl in stmt.decls:
                self.var_decl(decl)
        elif isinstance(stmt, nodes.Assign):
            self.assign(stmt)
        elif isinstance(stmt, nodes.IncDec):
            self.inc_dec(stmt)
        elif isinstance(stmt, nodes.ExprStmt):
            self.expr_stmt(stmt)
        elif isinstance(stmt, nodes.Block):
            self.block(stmt)
        elif isinstance(stmt, nodes.If):
            self.if_stmt(stmt)
        elif isinstance(stmt, (nodes.While, nodes.DoWhile)):
            self.expr.root(stmt.cond)
            self.loop_body(stmt.body)
        elif isinstance(stmt, nodes.For):
            self.for_stmt(stmt)
        elif isinstance(stmt, nodes.Switch):
            self.switch(stmt)
        else:
            self.jump(stmt)

    def loop_body(self, body: nodes.Block) -> None:
        self.loops += 1
        self.breakable += 1
        self.block(body)
        self.loops -= 1
        self.breakable -= 1

    # ------------------------------------------------------- declarations

    def declare(self, name: str, ctype: str, span: nodes.Span, const: bool = False,
                user: bool = False, init: nodes.Expr | None = None) -> None:
        """Declare a local or parameter: E205 for a reserved or same-block name."""
        if name in RESERVED_LOCAL:
            self.env.error("E205", f"`{name}` is {RESERVED_LOCAL[name]}: it cannot be "
                           "declared", span, "choose another name")
            return
        previous = self.scope.in_block(name)
        if previous is not None:
            self.env.error("E205", f"`{name}` is already declared in this block",
                           span, f"first declared at line {previous.span.line}")
            return
        self.scope.declare(name, ctype, span, const, user, init)

    def var_decl(self, stmt: nodes.VarDecl) -> None:
        """``CTYPE name [= init];``."""
        if stmt.init is not None:
            ty = self.value(stmt.init, stmt.user, Pos.WHOLE)
            if stmt.ctype in PAGE_TYPES:
                self.page_store(stmt.name, stmt.init, ty, stmt.ctype)
        self.declare(stmt.name, stmt.ctype, stmt.name_span, stmt.const, stmt.user, stmt.init)

    def value(self, expr: nodes.Expr, user: bool, pos: Pos = Pos.NESTED) -> Ty:
        """A value stored to a local, passed or returned: in a `__user`
        pointer, user pages' names stand for their user addresses."""
        return self.expr.user_value(expr) if user else self.expr.root(expr, pos)

    def page_store(self, name: str, value: nodes.Expr, ty: Ty, ctype: str,
                   subject: str = "") -> None:
        """A ``struct page *`` local holds a page or NULL, nothing else, and a
        ``struct folio *`` a folio or NULL (E416); ``subject``: what holds
        it, if not the local ``name`` ("`f()` returns")."""
        subject = subject or f"`{name}` is"
        if ty is Ty.PAGE and (ctype == FOLIO_TYPE) != is_folio(self.expr, value):
            text = self.env.text(value)
            if ctype == FOLIO_TYPE:
                msg, hint = "a struct page *", f"its folio is page_folio({text})"
            else:
                msg, hint = "a struct folio *", f"its page is folio_page({text}, 0)"
            self.env.error("E416", f"{subject} a {ctype}, but `{text}` is {msg}",
                           value.span, hint)
            return
        if ty is not Ty.INT or self.env.fold(value) == 0:
            return
        text = self.env.text(value)
        hint = (f"a mapped address gives its page back with kmap_to_page({text})"
                if isinstance(value, (nodes.Name, nodes.Call)) else
                "assign a page name, PAGES[i], kmap_to_page(addr) or NULL")
        self.env.error("E416", f"{subject} a {ctype}, but `{text}` is not a page",
                       value.span, hint)

    # -------------------------------------------------------- assignments

    def target(self, target: nodes.Expr) -> LocalSym | str | None:
        """Check an assignment target: a local, 'global', 'byte', or None (bad)."""
        if isinstance(target, nodes.Name):
            return self.name_target(target)
        if isinstance(target, nodes.Index) and self.expr.page_array(target.base) is not None:
            self.env.error("E405", f"cannot assign to `{self.env.text(target)}`: it is a page",
                           target.span)
            return None
        if isinstance(target, (nodes.Index, nodes.Deref)):
            base = target.base if isinstance(target, nodes.Index) else target.operand
            tys = [self.expr.root(base)]
            if isinstance(target, nodes.Index):
                tys.append(self.expr.root(target.index))
            if tys[0] is Ty.PAGE:
                self.expr.page_memory(base, target.span)
                return None
            return None if Ty.BAD in tys else "byte"
        what = "a task's local (read-only, in expectations)" if isinstance(
            target, nodes.Member) else "not a variable"
        self.env.error("E405", f"cannot assign to `{self.env.text(target)}`: it is {what}",
                       target.span)
        return None

    def name_target(self, target: nodes.Name) -> LocalSym | str | None:
        sym = self.scope.lookup(target.id)
        if sym is not None:
            if sym.const:
                self.env.error("E405", f"cannot assign to `{target.id}`: it is const",
                               target.span, f"`{target.id}` is declared const at line "
                               f"{sym.span.line}")
                return None
            return sym
        if target.id in self.env.symbols.globals:
            return "global"
        what = self.env.symbols.kind(target.id) or RESERVED_LOCAL.get(target.id)
        if what is None and target.id in names.REPORT_KINDS:
            what = "a report kind"
        if what is None:
            self.expr.unknown(target)
            return None
        article = "" if what.startswith("a ") else "a "
        self.env.error("E405", f"cannot assign to `{target.id}`: it is {article}{what}",
                       target.span, "only locals and top-level ints can be assigned")
        return None

    def assign(self, stmt: nodes.Assign) -> None:
        dest = self.target(stmt.target)
        user = isinstance(dest, LocalSym) and dest.user
        whole = stmt.op == "=" and (isinstance(dest, LocalSym) or dest == "global")
        ty = self.value(stmt.value, user, Pos.WHOLE if whole else Pos.NESTED)
        if isinstance(dest, LocalSym) and dest.is_page:
            if stmt.op != "=":
                self.page_arith(dest, stmt.span)
            else:
                self.page_store(dest.name, stmt.value, ty, dest.ctype)

    def inc_dec(self, stmt: nodes.IncDec) -> None:
        dest = self.target(stmt.target)
        if isinstance(dest, LocalSym) and dest.is_page:
            self.page_arith(dest, stmt.span)

    def page_arith(self, sym: LocalSym, span: nodes.Span) -> None:
        self.env.error("E416", f"`{sym.name}` is a struct page *: it can only be assigned a page",
                       span, "the model has no struct page arithmetic; use a page array")

    # --------------------------------------------------------- statements

    def expr_stmt(self, stmt: nodes.ExprStmt) -> None:
        e = stmt.expr
        if isinstance(e, nodes.Call) or (isinstance(e, nodes.Cast) and e.ctype == "void"
                                         and isinstance(e.operand, nodes.Call)):
            self.expr.root(e, Pos.STMT)
            return
        if self.expr.root(e) is not Ty.BAD:
            self.env.error("E414", f"statement `{self.env.text(e)}` has no effect",
                           stmt.span, "only calls, assignments and declarations stand alone")

    def if_stmt(self, stmt: nodes.If) -> None:
        self.expr.root(stmt.cond)
        self.block(stmt.then)
        if isinstance(stmt.orelse, nodes.If):
            self.if_stmt(stmt.orelse)
        elif stmt.orelse is not None:
            self.block(stmt.orelse)

    def for_stmt(self, stmt: nodes.For) -> None:
        # The header's declaration lives in a scope around the loop body.
        self.scope.push()
        if stmt.init is not None:
            self.stmt(stmt.init)
        if stmt.cond is not None:
            self.expr.root(stmt.cond)
        if stmt.update is not None:
            self.stmt(stmt.update)
        self.loop_body(stmt.body)
        self.scope.pop()

    def switch(self, stmt: nodes.Switch) -> None:
        """``switch``: constant, distinct case labels and one default (E426);
        its body is a block whose statements the labels sit among."""
        self.expr.root(stmt.cond)
        seen: dict[int, nodes.Span] = {}
        default: nodes.Span | None = None
        self.breakable += 1
        self.scope.push()
        for item in stmt.body:
            if isinstance(item, nodes.Case):
                self.case(item, seen)
            elif isinstance(item, nodes.Default):
                if default is not None:
                    self.env.error("E426", "a second `default:` in this switch", item.span,
                                   f"the first is at line {default.line}")
                default = default or item.span
            else:
                self.stmt(item)
        self.scope.pop()
        self.breakable -= 1

    def case(self, item: nodes.Case, seen: dict[int, nodes.Span]) -> None:
        if self.expr.root(item.value) is Ty.BAD:
            return
        value = self.env.fold(item.value)
        if value is None:
            self.env.error("E426", f"case label `{self.env.text(item.value)}` is not a constant",
                           item.value.span, "case labels are integers, kernel constants, "
                           "config values and sizeof")
        elif value in seen:
            self.env.error("E426", f"duplicate case value {value}", item.value.span,
                           f"the first `case {value}:` is at line {seen[value].line}")
        else:
            seen[value] = item.span

    def jump(self, stmt: nodes.Stmt) -> None:
        """return, goto, break, continue, labels (and case labels out of place)."""
        if isinstance(stmt, nodes.Return):
            self.return_stmt(stmt)
        elif isinstance(stmt, nodes.Goto):
            self.gotos.append(stmt)
        elif isinstance(stmt, nodes.Label):
            if stmt.name == "default":
                self.env.error("E426", "`default:` outside a switch", stmt.span,
                               "`default:` goes directly in a switch body")
            elif stmt.name in self.labels:
                self.env.error("E423", f"label `{stmt.name}` is defined twice in {self.what}",
                               stmt.span, f"the first `{stmt.name}:` is at line "
                               f"{self.labels[stmt.name].line}")
            else:
                self.labels[stmt.name] = stmt.span
        elif isinstance(stmt, nodes.Break):
            if not self.breakable:
                self.env.error("E421", "`break` outside a loop or switch", stmt.span,
                               "use `goto` to leave the body, or `return`")
        elif isinstance(stmt, nodes.Continue):
            if not self.loops:
                self.env.error("E421", "`continue` outside a loop", stmt.span,
                               "`continue` goes to the next iteration of the enclosing loop")
        else:
            raise AssertionError(f"check: unexpected {type(stmt).__name__}")

    def return_stmt(self, stmt: nodes.Return) -> None:
        """`return [value];`: a value exactly when the function returns one
        (E424; the kernel builds with -Werror=return-type)."""
        func = self.func
        if stmt.value is None:
            if func is not None and func.ret != "void":
                self.env.error("E424", f"`return` without a value in `{func.name}()`, which "
                               f"returns {func.ret}", stmt.span, "return a value, e.g. "
                               "`return 0;` or `return -EINVAL;`")
            return
        if func is None:
            self.env.error("E424", f"`return` with a value in {self.what}: a task or irq body "
                           "returns nothing", stmt.value.span,
                           "write `return;`, or store the value in a local for task.var")
            self.expr.root(stmt.value)
            return
        if func.ret == "void":
            self.env.error("E424", f"`return` with a value in `{func.name}()`, which returns "
                           "void", stmt.value.span, "write `return;`, or declare the function "
                           "with a return type")
            self.expr.root(stmt.value)
            return
        ty = self.value(stmt.value, func.decl.ret_user, Pos.WHOLE)
        if func.ret in PAGE_TYPES:
            self.page_store(func.name, stmt.value, ty, func.ret, f"`{func.name}()` returns")
