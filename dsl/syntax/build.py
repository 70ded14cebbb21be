"""Parse tree -> AST: one method per named grammar alternative.

The builder only builds: it never validates and never raises on input
(Lark would wrap such an exception in a VisitError; validation lives in
dsl/syntax/parser.py for token shapes and in dsl/check/checker.py for meaning). It walks the
tree iteratively, so a deeply nested tree cannot exhaust the Python stack;
dsl/syntax/parser.py still caps the nesting depth for the later, recursive stages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar, Union

from lark import Token, Tree

from kmap_scenarios.dsl.syntax import nodes
from kmap_scenarios.dsl.syntax.nodes import Span

Item = Union[nodes.Scenario, nodes.Config, nodes.PageDecl, nodes.IntDecl, nodes.LockDecl,
             nodes.TaskDecl, nodes.FuncDef, nodes.Schedule, nodes.Expect]

# What a builder method receives: built children (nodes, tokens, strings,
# lists) and returns. Kept loose on purpose: the grammar fixes the shapes.
Built = object
Children = list[Built]

_T = TypeVar("_T")

_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(.)", re.S)
_INT_SUFFIX_RE = re.compile(r"[uUlL]+$")


def token_span(tok: Token) -> Span:
    """The span of one token (Lark columns are 1-based, end exclusive)."""
    return Span(_int(tok.line), _int(tok.column), _int(tok.end_line), _int(tok.end_column))


def _int(value: int | None) -> int:
    """A token position, 0 when Lark has none (virtual tokens)."""
    return value if value is not None else 0


def tree_span(tree: Tree[Token]) -> Span:
    """The span Lark propagated to a tree node, or NO_SPAN if it is empty."""
    meta = tree.meta
    if meta.empty:
        return nodes.NO_SPAN
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


def int_value(text: str) -> int:
    """The value of a C integer constant (hex, octal with a leading 0, decimal).

    Never raises: a malformed octal such as ``09`` (which dsl/syntax/parser.py
    reports) is read as decimal, and a decimal too long for Python to
    convert as 10**40 (over 64 bits, which it also reports).
    """
    digits = _INT_SUFFIX_RE.sub("", text)
    if digits[:2] in ("0x", "0X"):
        return int(digits[2:], 16)
    if len(digits) > 1 and digits[0] == "0" and all(c in "01234567" for c in digits):
        return int(digits, 8)
    if len(digits) > 40:
        # Python will not convert more than 4300 decimal digits; anything
        # over 64 bits is reported as too large (dsl/syntax/driver.py)
        return 10 ** 40
    return int(digits, 10)


def unescape(literal: str) -> str:
    """The value of a string literal token: quotes removed, escapes resolved.

    ``\\"``, ``\\\\``, ``\\n`` and ``\\t`` are resolved; any other escape is
    kept as written.
    """
    body = literal[1:-1]
    return _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)


class Builder:
    """Turns a kmap parse tree into kmap_scenarios.dsl.syntax.nodes, bottom-up, without recursion."""

    def build(self, tree: Tree[Token]) -> list[Item]:
        """The top-level items of a ``start`` tree, in source order; the
        tree is consumed (its nodes are emptied as they are built)."""
        result = self._walk(tree)
        assert isinstance(result, list)
        return result

    def _walk(self, root: Tree[Token]) -> Built:
        """Post-order walk with an explicit stack; calls one method per node."""
        stack: list[tuple[Tree[Token], bool]] = [(root, False)]
        done: list[Built] = []
        while stack:
            tree, expanded = stack.pop()
            if not expanded:
                stack.append((tree, True))
                for child in reversed(tree.children):
                    if isinstance(child, Tree):
                        stack.append((child, False))
                continue
            kids = [child for child in tree.children if isinstance(child, Tree)]
            built = done[len(done) - len(kids):] if kids else []
            del done[len(done) - len(kids):]
            it = iter(built)
            children = [next(it) if isinstance(c, Tree) else c for c in tree.children]
            done.append(self._method(str(tree.data))(children, tree))
            # the parse tree is consumed as it is built: a subtree's trees
            # and tokens go as soon as its node exists, so that a large
            # file never holds both whole
            tree.children = []
        return done[0]

    def _method(self, name: str) -> Callable[[Children, Tree[Token]], Built]:
        """The builder method for a rule or alias name."""
        method: Callable[[Children, Tree[Token]], Built] = getattr(self, name)
        return method

    # ------------------------------------------------------------ top level

    def start(self, c: Children, t: Tree[Token]) -> list[Item]:
        return [_item(x) for x in c]

    def scenario(self, c: Children, t: Tree[Token]) -> nodes.Scenario:
        return nodes.Scenario(unescape(_tok(c[0])), tree_span(t))

    def config(self, c: Children, t: Tree[Token]) -> nodes.Config:
        return nodes.Config(tuple(_cast(nodes.ConfigItem, x) for x in c), tree_span(t))

    def config_item(self, c: Children, t: Tree[Token]) -> nodes.ConfigItem:
        key, value = _tok(c[0]), _tok(c[1])
        val: int | str = int_value(value) if value.type == "NUMBER" else str(value)
        return nodes.ConfigItem(str(key), val, tree_span(t), token_span(key), token_span(value))

    def page_decl(self, c: Children, t: Tree[Token]) -> nodes.PageDecl:
        name, count, alloc = _tok(c[0]), c[1], _cast(nodes.Call, c[2])
        n = int_value(_tok(count)) if count is not None else None
        return nodes.PageDecl(str(name), n, alloc, tree_span(t), token_span(name))

    def int_decl(self, c: Children, t: Tree[Token]) -> nodes.IntDecl:
        return self._int_decl(c, t, percpu=False)

    def percpu_decl(self, c: Children, t: Tree[Token]) -> nodes.IntDecl:
        return self._int_decl(c, t, percpu=True)

    def _int_decl(self, c: Children, t: Tree[Token], percpu: bool) -> nodes.IntDecl:
        # `int G;` is zero-initialised like any C object of static storage;
        # the implicit 0 points at the name.
        name = _tok(c[0])
        init = _expr(c[1]) if c[1] is not None else nodes.IntLit(0, token_span(name))
        return nodes.IntDecl(str(name), init, percpu, tree_span(t), token_span(name))

    def lock_decl(self, c: Children, t: Tree[Token]) -> nodes.LockDecl:
        name = _tok(c[0])
        return nodes.LockDecl(str(name), tree_span(t), token_span(name))

    def mutex_decl(self, c: Children, t: Tree[Token]) -> nodes.LockDecl:
        name = _tok(c[0])
        return nodes.LockDecl(str(name), tree_span(t), token_span(name), "mutex")

    def define_mutex(self, c: Children, t: Tree[Token]) -> nodes.LockDecl:
        return self.mutex_decl(c, t)

    def task_decl(self, c: Children, t: Tree[Token]) -> nodes.TaskDecl:
        return self._task(c, t, is_irq=False)

    def irq_decl(self, c: Children, t: Tree[Token]) -> nodes.TaskDecl:
        return self._task(c, t, is_irq=True)

    def softirq_decl(self, c: Children, t: Tree[Token]) -> nodes.TaskDecl:
        return self._task(c, t, is_irq=True, is_softirq=True)

    def _task(self, c: Children, t: Tree[Token], is_irq: bool,
              is_softirq: bool = False) -> nodes.TaskDecl:
        name, cpu, body = _tok(c[0]), c[1], _cast(nodes.Block, c[2])
        cpu_tok = _tok(cpu) if cpu is not None else None
        return nodes.TaskDecl(str(name), _cpu(cpu_tok), body, is_irq, tree_span(t),
                              token_span(name), token_span(cpu_tok) if cpu_tok else None,
                              is_softirq)

    def func_def(self, c: Children, t: Tree[Token]) -> nodes.FuncDef:
        ret = _cast(CType, c[1])
        return self._func(c, t, ret.name, ret.user)

    def func_def_int(self, c: Children, t: Tree[Token]) -> nodes.FuncDef:
        return self._func(c, t, "int", False)

    def _func(self, c: Children, t: Tree[Token], ret: str, user: bool) -> nodes.FuncDef:
        name, params, body = _tok(c[-3]), c[-2], _cast(nodes.Block, c[-1])
        assert params is None or isinstance(params, tuple)
        return nodes.FuncDef(str(name), ret, params, body, c[0] is True, tree_span(t),
                             token_span(name), user)

    def static(self, c: Children, t: Tree[Token]) -> bool:
        return any(str(x) == "static" for x in c)

    def rtype(self, c: Children, t: Tree[Token]) -> CType:
        return _ctype(c)

    def void_params(self, c: Children, t: Tree[Token]) -> tuple[nodes.Param, ...]:
        return ()

    def params(self, c: Children, t: Tree[Token]) -> tuple[nodes.Param, ...]:
        return tuple(_cast(nodes.Param, x) for x in c)

    def param(self, c: Children, t: Tree[Token]) -> nodes.Param:
        ty, name = _cast(CType, c[0]), _tok(c[1])
        return nodes.Param(ty.name, str(name), tree_span(t), token_span(name), ty.const, ty.user)

    def schedule(self, c: Children, t: Tree[Token]) -> nodes.Schedule:
        return nodes.Schedule(tuple(_cast(nodes.ScheduleItem, x) for x in c), tree_span(t))

    def sched_item(self, c: Children, t: Tree[Token]) -> nodes.ScheduleItem:
        name, cpu, steps = _tok(c[0]), c[1], c[2]
        n = int_value(_tok(steps)) if steps is not None else None
        return nodes.ScheduleItem(str(name), n, _cpu(_tok(cpu) if cpu else None), tree_span(t))

    def expect(self, c: Children, t: Tree[Token]) -> nodes.Expect:
        return nodes.Expect(str(c[0]), _expr(c[1]), tree_span(t))

    def quant(self, c: Children, t: Tree[Token]) -> str:
        return str(c[0])

    # ----------------------------------------------------------- statements

    def block(self, c: Children, t: Tree[Token]) -> nodes.Block:
        return nodes.Block(tuple(_stmt(x) for x in c), tree_span(t))

    def braceless(self, c: Children, t: Tree[Token]) -> nodes.Block:
        # A body without braces is a block of its one statement (or of none,
        # for a lone `;`), so later stages only ever see blocks.
        return nodes.Block(tuple(_stmt(x) for x in c), tree_span(t))

    def ctype(self, c: Children, t: Tree[Token]) -> CType:
        return _ctype(c)

    def cast_type(self, c: Children, t: Tree[Token]) -> CType:
        return _cast(CType, c[0]) if isinstance(c[0], CType) else CType("void", False, False)

    def var_decl(self, c: Children, t: Tree[Token]) -> nodes.VarDecl | nodes.DeclList:
        ty = _cast(CType, c[0])
        parts = [_cast(tuple, x) for x in c[1:]]
        if len(parts) == 1:
            name, init, _ = parts[0]
            return nodes.VarDecl(ty.name, str(name), init, tree_span(t), token_span(name),
                                 ty.const, ty.user)
        return nodes.DeclList(tuple(nodes.VarDecl(ty.name, str(name), init, span,
                                                  token_span(name), ty.const, ty.user)
                                    for name, init, span in parts), tree_span(t))

    def declarator(self, c: Children, t: Tree[Token]) -> tuple[Token, nodes.Expr | None, Span]:
        return _tok(c[0]), _expr(c[1]) if c[1] is not None else None, tree_span(t)

    def assign(self, c: Children, t: Tree[Token]) -> nodes.Assign:
        return nodes.Assign(_expr(c[0]), str(c[1]), _expr(c[2]), tree_span(t))

    def inc_dec(self, c: Children, t: Tree[Token]) -> nodes.IncDec:
        return nodes.IncDec(_expr(c[0]), str(c[1]), tree_span(t))

    def expr_stmt(self, c: Children, t: Tree[Token]) -> nodes.ExprStmt:
        return nodes.ExprStmt(_expr(c[0]), tree_span(t))

    def if_stmt(self, c: Children, t: Tree[Token]) -> nodes.If:
        orelse = c[2]
        assert orelse is None or isinstance(orelse, (nodes.Block, nodes.If))
        return nodes.If(_expr(c[0]), _cast(nodes.Block, c[1]), orelse, tree_span(t))

    def while_stmt(self, c: Children, t: Tree[Token]) -> nodes.While:
        return nodes.While(_expr(c[0]), _cast(nodes.Block, c[1]), tree_span(t))

    def do_stmt(self, c: Children, t: Tree[Token]) -> nodes.DoWhile:
        return nodes.DoWhile(_cast(nodes.Block, c[0]), _expr(c[1]), tree_span(t))

    def switch_stmt(self, c: Children, t: Tree[Token]) -> nodes.Switch:
        return nodes.Switch(_expr(c[0]), tuple(_stmt(x) for x in c[1:]), tree_span(t))

    def case_label(self, c: Children, t: Tree[Token]) -> nodes.Case:
        return nodes.Case(_expr(c[0]), tree_span(t))

    def default_label(self, c: Children, t: Tree[Token]) -> nodes.Default:
        return nodes.Default(tree_span(t))

    def return_stmt(self, c: Children, t: Tree[Token]) -> nodes.Return:
        return nodes.Return(_expr(c[0]) if c[0] is not None else None, tree_span(t))

    def goto_stmt(self, c: Children, t: Tree[Token]) -> nodes.Goto:
        label = _tok(c[0])
        return nodes.Goto(str(label), tree_span(t), token_span(label))

    def break_stmt(self, c: Children, t: Tree[Token]) -> nodes.Break:
        return nodes.Break(tree_span(t))

    def continue_stmt(self, c: Children, t: Tree[Token]) -> nodes.Continue:
        return nodes.Continue(tree_span(t))

    def label_stmt(self, c: Children, t: Tree[Token]) -> nodes.Label:
        return nodes.Label(str(_tok(c[0])), tree_span(t))

    def for_stmt(self, c: Children, t: Tree[Token]) -> nodes.For:
        init, cond, update = c[0], c[1], c[2]
        assert init is None or isinstance(init, (nodes.VarDecl, nodes.DeclList, nodes.Assign,
                                                 nodes.IncDec))
        assert update is None or isinstance(update, (nodes.Assign, nodes.IncDec))
        return nodes.For(init, _expr(cond) if cond is not None else None, update,
                         _cast(nodes.Block, c[3]), tree_span(t))

    # ---------------------------------------------------------- expressions

    def binary(self, c: Children, t: Tree[Token]) -> nodes.Binary:
        return nodes.Binary(str(c[1]), _expr(c[0]), _expr(c[2]), tree_span(t))

    def unary(self, c: Children, t: Tree[Token]) -> nodes.Unary:
        return nodes.Unary(str(c[0]), _expr(c[1]), tree_span(t))

    def ternary(self, c: Children, t: Tree[Token]) -> nodes.Ternary:
        return nodes.Ternary(_expr(c[0]), _expr(c[1]), _expr(c[2]), tree_span(t))

    def cast(self, c: Children, t: Tree[Token]) -> nodes.Cast:
        ty = _cast(CType, c[0])
        return nodes.Cast(ty.name, _expr(c[1]), tree_span(t), ty.user)

    def sizeof_type(self, c: Children, t: Tree[Token]) -> nodes.SizeofType:
        return nodes.SizeofType(_cast(CType, c[0]).name, tree_span(t))

    def sizeof_expr(self, c: Children, t: Tree[Token]) -> nodes.SizeofExpr:
        return nodes.SizeofExpr(_expr(c[0]), tree_span(t))

    def deref(self, c: Children, t: Tree[Token]) -> nodes.Deref:
        return nodes.Deref(_expr(c[0]), tree_span(t))

    def addr_of(self, c: Children, t: Tree[Token]) -> nodes.AddrOf:
        return nodes.AddrOf(_expr(c[0]), tree_span(t))

    def index(self, c: Children, t: Tree[Token]) -> nodes.Index:
        return nodes.Index(_expr(c[0]), _expr(c[1]), tree_span(t))

    def int_lit(self, c: Children, t: Tree[Token]) -> nodes.IntLit:
        return nodes.IntLit(int_value(_tok(c[0])), tree_span(t))

    def str_lit(self, c: Children, t: Tree[Token]) -> nodes.StrLit:
        return nodes.StrLit(unescape(_tok(c[0])), tree_span(t))

    def name(self, c: Children, t: Tree[Token]) -> nodes.Name:
        return nodes.Name(str(c[0]), tree_span(t))

    def member(self, c: Children, t: Tree[Token]) -> nodes.Member:
        obj, field = _tok(c[0]), _tok(c[1])
        return nodes.Member(str(obj), str(field), tree_span(t), token_span(obj), token_span(field))

    def call(self, c: Children, t: Tree[Token]) -> nodes.Call:
        func = _tok(c[0])
        return nodes.Call(str(func), tuple(_expr(x) for x in c[1:]), tree_span(t), token_span(func))

    def typed_call(self, c: Children, t: Tree[Token]) -> nodes.Cast:
        # `min_t(size_t, a, b)`: the kernel's macro compares a and b cast to
        # the type and yields that type; so the call of F on the cast
        # arguments, cast (the checker knows which F take a type)
        func, ty = _tok(c[0]), _cast(CType, c[1])
        span = tree_span(t)
        args = tuple(nodes.Cast(ty.name, _expr(x), _expr(x).span, ty.user) for x in c[2:])
        call = nodes.Call(str(func), args, span, token_span(func))
        return nodes.Cast(ty.name, call, span, ty.user)

    def paren(self, c: Children, t: Tree[Token]) -> nodes.Expr:
        # Parentheses only group: the AST keeps the inner expression (the
        # parent's span already covers the parentheses).
        return _expr(c[0])


_ITEM_TYPES = (nodes.Scenario, nodes.Config, nodes.PageDecl, nodes.IntDecl, nodes.LockDecl,
               nodes.TaskDecl, nodes.FuncDef, nodes.Schedule, nodes.Expect)
_EXPR_TYPES = (nodes.IntLit, nodes.StrLit, nodes.Name, nodes.Index, nodes.Member, nodes.Call,
               nodes.AddrOf, nodes.Deref, nodes.Unary, nodes.Binary, nodes.Ternary, nodes.Cast,
               nodes.SizeofType, nodes.SizeofExpr)
_STMT_TYPES = (nodes.VarDecl, nodes.DeclList, nodes.Assign, nodes.IncDec, nodes.ExprStmt, nodes.Block,
               nodes.If, nodes.While, nodes.For, nodes.DoWhile, nodes.Switch, nodes.Case,
               nodes.Default, nodes.Return, nodes.Goto, nodes.Break, nodes.Continue,
               nodes.Label)


@dataclass(frozen=True)
class CType:
    """A type as written: its canonical TYPES name (or "void") and qualifiers."""

    name: str
    const: bool
    user: bool


# Spellings that name the same type as a canonical TYPES entry.
_TYPE_ALIASES = {"unsigned": "unsigned int", "long int": "long", "unsigned long int": "unsigned long",
                 "short int": "short", "unsigned short int": "unsigned short"}


def _ctype(c: Children) -> CType:
    """The canonical type of a ctype/rtype's tokens (placeholders are None)."""
    words = [str(x) for x in c if x is not None]
    # `const char *p` points to const chars: p itself is read-only only
    # when `const` follows the `*` (`char *const p`)
    star = words.index("*") if "*" in words else -1
    const = "const" in words[star + 1:]
    user = "__user" in words
    base = [w for w in words if w not in ("const", "__user", "*")]
    name = " ".join(base)
    name = _TYPE_ALIASES.get(name, name)
    if "*" in words:
        name += " *"
    return CType(name, const, user)


def _tok(x: Built) -> Token:
    """A child the grammar guarantees to be a token."""
    assert isinstance(x, Token)
    return x


def _item(x: Built) -> Item:
    """A child the grammar guarantees to be a top-level item."""
    assert isinstance(x, _ITEM_TYPES)
    return x


def _expr(x: Built) -> nodes.Expr:
    """A child the grammar guarantees to be an expression node."""
    assert isinstance(x, _EXPR_TYPES)
    return x


def _stmt(x: Built) -> nodes.Stmt:
    """A child the grammar guarantees to be a statement node."""
    assert isinstance(x, _STMT_TYPES)
    return x


def _cast(cls: type[_T], x: Built) -> _T:
    """A child the grammar guarantees to be a ``cls`` node."""
    assert isinstance(x, cls)
    return x


def _cpu(tok: Token | None) -> int | None:
    """The number of a ``cpuN`` token."""
    return int(tok[3:]) if tok is not None else None


def build_items(tree: Tree[Token]) -> list[Item]:
    """The top-level items of a parse tree, in source order."""
    return Builder().build(tree)


def make_file(path: str, items: Sequence[Item]) -> nodes.File:
    """Assemble a File; the first scenario and config win (duplicates are
    reported by dsl/syntax/parser.py)."""
    scenarios = [x for x in items if isinstance(x, nodes.Scenario)]
    configs = [x for x in items if isinstance(x, nodes.Config)]
    decls = tuple(x for x in items
                  if isinstance(x, (nodes.PageDecl, nodes.IntDecl, nodes.LockDecl, nodes.TaskDecl,
                                    nodes.FuncDef)))
    return nodes.File(
        path=path,
        scenario=scenarios[0] if scenarios else None,
        config=configs[0] if configs else None,
        decls=decls,
        schedules=tuple(x for x in items if isinstance(x, nodes.Schedule)),
        expects=tuple(x for x in items if isinstance(x, nodes.Expect)),
    )
