"""Static checks of built-in call arguments against the kernel signatures.

Each argument kind of dsl/syntax/names.py (``Arg``) has its rule here (E402), and
so has the did-you-mean for a misspelt built-in, which prefers the built-ins
whose signature the call's arguments fit.
"""

from __future__ import annotations

import difflib
from typing import Protocol

from kmap_scenarios.dsl.syntax import names, nodes
from kmap_scenarios.dsl.check.env import Env, Ty
from kmap_scenarios.dsl.syntax.names import Arg, Builtin
from kmap_scenarios.dsl.syntax.source import did_you_mean
from kmap_scenarios.dsl.check.symbols import (FOLIO_RETURNING, FOLIO_TYPE, PAGE_RETURNING,
                                              POINTER_TYPES, LocalSym, PageSym, walk)


class ExprCheck(Protocol):
    """What an argument's rule asks of the expression checker
    (dsl/check/expr.py, which calls these rules: the import goes one way)."""

    env: Env

    def value(self, expr: nodes.Expr) -> Ty: ...

    def local(self, name: str) -> LocalSym | None: ...

    def unknown(self, expr: nodes.Name) -> None: ...

    def page_array(self, expr: nodes.Expr) -> PageSym | None: ...

    def named_page(self, expr: nodes.Expr) -> PageSym | None: ...


def suggest_builtin(ex: ExprCheck, expr: nodes.Call) -> str:
    """'did you mean ...?' preferring built-ins the call's arguments fit.

    `kmap_local(P)` is closest in spelling to kunmap_local, but only
    kmap_local_page completes the word (and takes a page); a one-typo
    spelling (kunmap_locl) beats a signature that merely fits (kunmap)."""
    word = expr.func
    functions = ex.env.symbols.functions
    mine = did_you_mean(word, list(functions))
    if mine:
        return mine   # the scenario's own functions first
    # Close spellings, and names the word truncates (kmap_local -> kmap_local_page).
    # Not names that are a prefix of the word: `kmap` is no fix for kmap_locl_page.
    pool = set(difflib.get_close_matches(word, names.BUILTINS, n=8, cutoff=0.6))
    pool |= {b for b in names.BUILTINS if b.startswith(word)}
    if not pool:
        return did_you_mean(word, names.BUILTINS)

    def rank(b: str) -> tuple[bool, bool, bool, float]:
        ratio = difflib.SequenceMatcher(None, word, b).ratio()
        # a completion first, then a near-exact spelling (one typo), then
        # the signature the arguments fit, then plain spelling distance
        return (b.startswith(word), ratio >= 0.85, fits(ex, names.BUILTINS[b], expr.args), ratio)
    return f"did you mean `{max(sorted(pool), key=rank)}`?"


def fits(ex: ExprCheck, b: Builtin, args: tuple[nodes.Expr, ...]) -> bool:
    """Whether ``args`` plausibly match ``b``'s signature (no diagnostics)."""
    if not len(b.args) - b.optional <= len(args) <= len(b.args):
        return False
    for kind, arg in zip(b.args, args):
        page = looks_like_page(ex, arg)
        if (kind in (Arg.PAGE, Arg.FOLIO)) != page and kind not in (Arg.COND, Arg.USER,
                                                                    Arg.TARGET):
            return False
        if (kind in (Arg.LOCK, Arg.MUTEX)) != isinstance(arg, nodes.AddrOf):
            return False
    return True


def looks_like_page(ex: ExprCheck, arg: nodes.Expr) -> bool:
    """Whether an argument denotes a page, judged from its shape alone."""
    if isinstance(arg, nodes.Name):
        sym = ex.local(arg.id)
        if sym is not None:
            return sym.is_page
        return arg.id in ex.env.symbols.pages
    if isinstance(arg, nodes.Index):
        return ex.page_array(arg.base) is not None
    return isinstance(arg, nodes.Call) and arg.func in PAGE_RETURNING


def is_folio(ex: ExprCheck, arg: nodes.Expr) -> bool:
    """Whether an expression is a struct folio *: a folio local, page_folio(),
    a function of the scenario that returns one, or a cast to one."""
    if isinstance(arg, nodes.Name):
        sym = ex.local(arg.id)
        return sym is not None and sym.ctype == FOLIO_TYPE
    if isinstance(arg, nodes.Cast):
        return arg.ctype == FOLIO_TYPE
    if isinstance(arg, nodes.Call):
        func = ex.env.symbols.functions.get(arg.func)
        return arg.func in FOLIO_RETURNING or func is not None and func.ret == FOLIO_TYPE
    return False


def argument(ex: ExprCheck, b: Builtin, kind: Arg, arg: nodes.Expr) -> Ty:
    """Check one argument against the kind the kernel signature wants (E402)."""
    if kind is Arg.PAGE:
        return page_arg(ex, b, arg)
    if kind is Arg.FOLIO:
        return folio_arg(ex, b, arg)
    if kind is Arg.LOCK:
        return lock_arg(ex, b, arg, "spinlock")
    if kind is Arg.MUTEX:
        return lock_arg(ex, b, arg, "mutex")
    if kind is Arg.SOFTIRQ:
        return softirq_arg(ex, b, arg)
    if kind is Arg.PERCPU:
        return named_arg(ex, b, arg, "percpu", "a per-CPU variable (percpu int)")
    if kind is Arg.FLAGS:
        return named_arg(ex, b, arg, "flags", "a local variable to hold the irq flags")
    if kind is Arg.USER:
        return user_arg(ex, b, arg)
    if kind is Arg.TARGET:
        return target_arg(ex, b, arg)
    ty = ex.value(arg)
    if ty is not Ty.PAGE or kind is Arg.COND:
        return ty
    # C converts a struct page * to void * silently; here it is always a
    # mistake, since the model's addresses are kernel virtual addresses.
    text = ex.env.text(arg)
    if kind is Arg.DIR:
        what, hint = "a DMA direction", "use DMA_TO_DEVICE, DMA_FROM_DEVICE or DMA_BIDIRECTIONAL"
    else:
        what, hint = "an address or a number", f"map it first: void *p = kmap_local_page({text});"
    ex.env.error("E402", f"`{b.name}` expects {what} here, but `{text}` is a struct page *",
                 arg.span, hint)
    return Ty.BAD


def target_arg(ex: ExprCheck, b: Builtin, arg: nodes.Expr) -> Ty:
    """WRITE_ONCE's first argument: a local (not const), a global, or a
    byte through an address, `*p` or `p[i]` (E405 otherwise)."""
    if isinstance(arg, nodes.Name):
        sym = ex.local(arg.id)
        if sym is not None and not sym.const:
            return Ty.INT
        if sym is None and arg.id in ex.env.symbols.globals:
            return Ty.INT
        if sym is None and ex.env.symbols.kind(arg.id) is None and not is_constant_name(arg.id):
            ex.unknown(arg)
            return Ty.BAD
    elif isinstance(arg, (nodes.Deref, nodes.Index)) and ex.page_array(
            arg.base if isinstance(arg, nodes.Index) else arg.operand) is None:
        base = arg.operand if isinstance(arg, nodes.Deref) else arg.base
        tys = [ex.value(base)] + ([ex.value(arg.index)] if isinstance(arg, nodes.Index) else [])
        if Ty.BAD in tys:
            return Ty.BAD
        if tys[0] is not Ty.PAGE:
            return Ty.INT
    what = "const" if isinstance(arg, nodes.Name) and ex.local(arg.id) is not None else \
        "not a variable or a byte through an address"
    ex.env.error("E405", f"`{b.name}` stores to `{ex.env.text(arg)}`, which is {what}",
                 arg.span, f"{b.name}(x, value) takes a local, a global, *p or p[i]")
    return Ty.BAD


def user_arg(ex: ExprCheck, b: Builtin, arg: nodes.Expr) -> Ty:
    """An ``Arg.USER`` argument (copy_{from,to}_user): a number, or user pages' names.

    Every page named in it must come from alloc_user_page(): it stands for
    that page's user-space address."""
    ty = ex.value(arg)
    if ty is Ty.BAD:
        return ty
    for node in walk(arg, into_calls=False):
        page = ex.named_page(node)
        if page is not None and page.alloc != "alloc_user_page":
            ex.env.error("E402", f"`{b.name}` expects a user address, but `{page.name}` is not a "
                         "user page", node.span,
                         "declare the user buffer with: page U = alloc_user_page(present);")
            return Ty.BAD
        if isinstance(node, nodes.Name) and (sym := ex.local(node.id)) is not None and sym.is_page:
            ex.env.error("E402", f"`{b.name}` expects a user address, but `{node.id}` is a "
                         "struct page *", node.span, "pass the user page's name")
            return Ty.BAD
    return Ty.INT


def page_arg(ex: ExprCheck, b: Builtin, arg: nodes.Expr) -> Ty:
    """A page name, ``PAGES[i]``, a ``struct page *`` local or kmap_to_page()."""
    array = ex.page_array(arg)
    if array is not None:
        ex.env.error("E402", f"`{b.name}` takes one page, but `{array.name}` is an array of "
                     f"{array.size} pages", arg.span, f"pass one element: {array.name}[0]")
        return Ty.BAD
    ty = ex.value(arg)
    if ty is Ty.PAGE and is_folio(ex, arg):
        text = ex.env.text(arg)
        ex.env.error("E402", f"`{b.name}` expects a struct page *, but `{text}` is a struct "
                     "folio *", arg.span, f"its page is folio_page({text}, 0)")
        return Ty.BAD
    if ty is not Ty.INT:
        return ty
    text = ex.env.text(arg)
    sym = ex.local(arg.id) if isinstance(arg, nodes.Name) else None
    if b.name == "kunmap":
        # kunmap() takes the page, not kmap()'s address; kmap_to_page() of a
        # pkmap address WARNs since v6.2 (mm/highmem.c __kmap_to_page)
        init = sym.init if sym is not None else None
        page = ex.env.text(init.args[0]) if isinstance(init, nodes.Call) and \
            init.func == "kmap" and len(init.args) == 1 else "page"
        hint = (f"kunmap() takes the struct page * that was given to kmap(): kunmap({page}), "
                "not the address kmap() returned")
    elif sym is not None and sym.ctype in POINTER_TYPES:
        hint = f"{b.name}() takes a struct page *; did you mean kmap_to_page({text})?"
    else:
        hint = "pass a page name, an element PAGES[i], or a `struct page *` local"
    ex.env.error("E402", f"`{b.name}` expects a page (struct page *), got `{text}`",
                 arg.span, hint)
    return Ty.BAD


def folio_arg(ex: ExprCheck, b: Builtin, arg: nodes.Expr) -> Ty:
    """A struct folio *: a folio local or page_folio(page)."""
    ty = ex.value(arg)
    if ty is Ty.BAD or (ty is Ty.PAGE and is_folio(ex, arg)):
        return ty
    text = ex.env.text(arg)
    hint = (f"a page's folio is page_folio({text})" if ty is Ty.PAGE else
            "pass a `struct folio *` local or page_folio(page)")
    ex.env.error("E402", f"`{b.name}` expects a struct folio *, got `{text}`", arg.span, hint)
    return Ty.BAD


_LOCK_WORDS = {"spinlock": ("spinlock_t", "spinlock_t L;", "spin_lock(&{0}) and spin_unlock(&{0})"),
               "mutex": ("struct mutex", "DEFINE_MUTEX(M); or struct mutex M;",
                         "mutex_lock(&{0}) and mutex_unlock(&{0})")}


def lock_arg(ex: ExprCheck, b: Builtin, arg: nodes.Expr, want: str) -> Ty:
    """``&L`` with L a spinlock_t (or, for the mutex calls, a struct mutex);
    a bare ``L`` gets the kernel's spelling."""
    ctype, decl, calls = _LOCK_WORDS[want]
    inner = arg.operand if isinstance(arg, nodes.AddrOf) else arg
    if isinstance(inner, nodes.Name) and ex.local(inner.id) is None:
        kind = ex.env.symbols.kind(inner.id)
        if kind == want and inner is not arg:
            return Ty.INT
        if kind == want:
            ex.env.error("E402", f"`{b.name}` expects the address of a {ctype}, "
                         f"got `{inner.id}`", arg.span, f"{b.name} takes &{inner.id}")
            return Ty.BAD
        if kind in _LOCK_WORDS:
            other = _LOCK_WORDS[kind]
            ex.env.error("E402", f"`{b.name}` expects &LOCK of a {ctype}, but `{inner.id}` is a "
                         f"{other[0]}", arg.span,
                         f"a {other[0]} is taken with " + other[2].format(inner.id))
            return Ty.BAD
        if kind is None and not is_constant_name(inner.id):
            ex.unknown(inner)
            return Ty.BAD
    ex.env.error("E402", f"`{b.name}` expects &LOCK of a {ctype}, got `{ex.env.text(arg)}`",
                 arg.span, f"declare one at top level: {decl} then pass &{decl[-2] if want == 'spinlock' else 'M'}")
    return Ty.BAD


def softirq_arg(ex: ExprCheck, b: Builtin, arg: nodes.Expr) -> Ty:
    """The name of a `softirq NAME on cpuN { ... }` declaration (its vector)."""
    if isinstance(arg, nodes.Name) and ex.local(arg.id) is None:
        ctx = ex.env.symbols.contexts.get(arg.id)
        if ctx is not None and ctx.decl.is_softirq:
            return Ty.INT
        if ex.env.symbols.kind(arg.id) is None and not is_constant_name(arg.id):
            ex.unknown(arg)
            return Ty.BAD
    ex.env.error("E402", f"`{b.name}` expects the name of a softirq, got `{ex.env.text(arg)}`",
                 arg.span, "declare one at top level: softirq NAME on cpu0 { ... }")
    return Ty.BAD


def named_arg(ex: ExprCheck, b: Builtin, arg: nodes.Expr, want: str, words: str) -> Ty:
    """A PERCPU argument (a percpu int) or a FLAGS argument (a local)."""
    if isinstance(arg, nodes.Name):
        is_local = ex.local(arg.id) is not None
        if want == "flags" and is_local:
            return Ty.INT
        if want == "percpu" and not is_local and arg.id in ex.env.symbols.percpus:
            return Ty.INT
        if not is_local and ex.env.symbols.kind(arg.id) is None \
                and not is_constant_name(arg.id):
            ex.unknown(arg)
            return Ty.BAD
    hint = ("declare it at top level: percpu int X = 0;" if want == "percpu"
            else "declare one in the task: unsigned long flags;")
    ex.env.error("E402", f"`{b.name}` expects {words}, got `{ex.env.text(arg)}`", arg.span, hint)
    return Ty.BAD


def is_constant_name(name: str) -> bool:
    return name in names.CONSTANTS or name in names.CONFIG_NAMES
