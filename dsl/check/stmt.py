"""Static checks of task and irq bodies: declarations, assignments, control flow.

Declarations are block-scoped as in C (a ``for`` header's declaration
belongs to the loop). A declaration's initialiser is checked before the
name is declared, so ``int x = x;`` reads an outer ``x``: the lowering does
the same, and the model never reads an uninitialised local.
"""

from __future__ import annotations

from kmap_scenarios.dsl.syntax import names, nodes
from kmap_scenarios.dsl.check.env import Env, Mode, Pos, Ty
from kmap_scenarios.dsl.check.expr import ExprCheck
from kmap_scenarios.dsl.check.args import is_folio
from kmap_scenarios.dsl.check.symbols import (FOLIO_TYPE, MAX_BLOCK_DEPTH, PAGE_TYPES, LocalSym,
                                              Scope, try_fold)

# Names a local may not take: C macros in the kernel, so a declaration with
# that name would not compile.
RESERVED_LOCAL = {**{n: "a kernel constant" for n in names.CONSTANTS},
                  **{n: "a config value" for n in names.CONFIG_NAMES}}


def check_body(env: Env, decl: nodes.TaskDecl) -> None:
    """Check one task, irq or softirq body."""
    BodyCheck(env, decl=decl).block(decl.body)


class BodyCheck:
    """Walks one body with its scopes; expressions go to an ExprCheck."""

    def __init__(self, env: Env, scope: Scope | None = None,
                 decl: nodes.TaskDecl | None = None) -> None:
        self.env = env
        self.scope = Scope() if scope is None else scope
        self.expr = ExprCheck(env, Mode.BODY, self.scope, decl)

    def block(self, block: nodes.Block) -> None:
        if self.scope.depth >= MAX_BLOCK_DEPTH:
            self.env.error("E413", f"blocks nested deeper than {MAX_BLOCK_DEPTH} levels",
                           block.span, "move the inner part into another task")
            return
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
            self.inc_dec(stmt)
        elif isinstance(stmt, nodes.ExprStmt):
            self.expr_stmt(stmt)
        elif isinstance(stmt, nodes.Block):
            self.block(stmt)
        elif isinstance(stmt, nodes.If):
            self.if_stmt(stmt)
        elif isinstance(stmt, nodes.While):
            self.expr.root(stmt.cond)
            self.block(stmt.body)
        else:
            self.for_stmt(stmt)

    # ------------------------------------------------------- declarations

    def var_decl(self, stmt: nodes.VarDecl) -> None:
        """``CTYPE name [= init];``: E205 for a reserved or same-block name."""
        if stmt.init is not None:
            ty = self.expr.root(stmt.init, Pos.WHOLE)
            if stmt.ctype in PAGE_TYPES:
                self.page_store(stmt.name, stmt.init, ty, stmt.ctype)
        if stmt.name in RESERVED_LOCAL:
            self.env.error("E205", f"`{stmt.name}` is {RESERVED_LOCAL[stmt.name]}: it cannot be "
                           "declared", stmt.name_span, "choose another name")
            return
        previous = self.scope.in_block(stmt.name)
        if previous is not None:
            self.env.error("E205", f"`{stmt.name}` is already declared in this block",
                           stmt.name_span, f"first declared at line {previous.span.line}")
            return
        self.scope.declare(stmt.name, stmt.ctype, stmt.name_span, stmt.init)

    def page_store(self, name: str, value: nodes.Expr, ty: Ty, ctype: str) -> None:
        """A ``struct page *`` local holds a page or NULL, nothing else, and a
        ``struct folio *`` a folio or NULL (E416)."""
        if ty is Ty.PAGE and (ctype == FOLIO_TYPE) != is_folio(self.expr, value):
            text = self.env.text(value)
            if ctype == FOLIO_TYPE:
                msg, hint = "a struct page *", f"its folio is page_folio({text})"
            else:
                msg, hint = "a struct folio *", f"its page is folio_page({text}, 0)"
            self.env.error("E416", f"`{name}` is a {ctype}, but `{text}` is {msg}",
                           value.span, hint)
            return
        if ty is not Ty.INT or try_fold(value, self.env.config.int_value) == 0:
            return
        text = self.env.text(value)
        hint = (f"a mapped address gives its page back with kmap_to_page({text})"
                if isinstance(value, (nodes.Name, nodes.Call)) else
                "assign a page name, PAGES[i], kmap_to_page(addr) or NULL")
        self.env.error("E416", f"`{name}` is a {ctype}, but `{text}` is not a page",
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
        whole = stmt.op == "=" and (isinstance(dest, LocalSym) or dest == "global")
        ty = self.expr.root(stmt.value, Pos.WHOLE if whole else Pos.NESTED)
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
        if isinstance(stmt.expr, nodes.Call):
            self.expr.root(stmt.expr, Pos.STMT)
            return
        if self.expr.root(stmt.expr) is not Ty.BAD:
            self.env.error("E414", f"statement `{self.env.text(stmt.expr)}` has no effect",
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
        self.block(stmt.body)
        self.scope.pop()
