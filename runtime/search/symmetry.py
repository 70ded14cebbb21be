"""Symmetry reduction: interchangeable tasks explored once per orbit.

Tasks with the same code, the same placement (pinned CPU or none) and the
same initial locals start in the same state and run the same steps: the
model treats a context index only as a name (the same handlers run for
each, a wait queue keeps order by position, pkmap wakes every waiter).
Renaming them by a permutation g of such a class maps the reachable state
graph onto itself: ``step(g s, g a) == g step(s, a)`` and ``enabled(g s)``
is ``g enabled(s)`` in context order (tests/test_symmetry.py checks it
on every transition of every example and of the symmetric scenarios).

Phase 1 (runtime/search/explore.py) then steps only one state of each
orbit, its canonical form: the least flat tuple (runtime/search/flat.py)
among its images whose twins' records are in increasing order, every
reference to a context inside the other parts renamed (a CPU's current
task and irqs, installed kmap_local PTEs' owners, an irq's interrupted
task, lock owners, mutex wait lists, pkmap waiters, the reports'
contexts, the WARN_ON_ONCE sites of task bodies).
``Canonical`` wraps phase 1's stepper; each edge keeps the permutation
that maps the canonical successor back to the real one.

``unfold`` rebuilds from that quotient graph the real state graph, state
by state and action by action in the model's own order: a real state is
(canonical state, permutation). Every later phase (sleep sets, bottom
components, counts, witnesses, outcomes of real states) runs on it as
without symmetry, so outcomes, verdicts, execution counts, depths and
witnesses (real actions, they replay with ``kmap run --schedule``) are
the same by construction; what symmetry saves is the stepping, hashing
and memo work of phase 1 on all but one state per orbit.

Used only where the result is identical: one process (not ``--jobs``:
its workers own states by hash), and no --max-states, --max-depth or
--preemption-bound (their cuts depend on the order of the search).

Pages and CPUs (runtime/search/twins.py). Twins may also differ by
*which* page they map and *which* CPU they are pinned on, as SPIN's
kmappers do (kmapper1 on cpu1 maps Q1, kmapper2 on cpu2 maps Q2): a
permutation then renames each twin's own pages and its own CPU (with
that CPU's idle task) with it, and runtime/search/rename.py renames every
State field that names a page, a pfn or a CPU (``Group.extended``; the
canonical form is then the least of all images, and actions map both
their context and their CPU). twins.py lists the conditions (highmem
pages named only as kmap()/kunmap() arguments of one task and in no
expectation, only built-ins that show no page or CPU identity, every
context pinned, no per-CPU variable, no softirq, the twin alone on its
CPU); where one fails, the classes are today's. One step the model makes
by order, a fault naming the lowest of several released pages, is
checked on every step (``Group.check_step``): met with renamed pages, it
raises ``Unsound`` and the search runs again without symmetry
(explore.Explorer.run).
"""

from __future__ import annotations

from array import array
from dataclasses import replace
from itertools import permutations, product
from typing import Any, Callable

from kmap_scenarios.runtime.kernel.machine import Action
from kmap_scenarios.runtime.kernel.program import Loc, Program
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.state import Cpu, Ctx, Report
from kmap_scenarios.runtime.kernel.tx import FIELD
from kmap_scenarios.runtime.search import rename, twins, vacuity
from kmap_scenarios.runtime.search.flat import Codec, Flat
from kmap_scenarios.runtime.search.stepper import Stepper

# The largest group used: the product of the classes' factorials. A state
# is canonicalised by making each image (a 5-task class is 120).
MAX_GROUP = 120

_NOWHERE = Loc(0, 0)

# The unfolding looks at the limits each time it has made this many edges.
CHECK_EVERY = 4096

# Report arguments that name a context (reports.py formats them as names).
_CTX_ARGS = {int(R.FOREIGN_KMAP_LOCAL): (2,), int(R.SOFTIRQ_COUNT): (3,)}


def classes(program: Program) -> list[tuple[int, ...]]:
    """The sets of interchangeable tasks (two or more each): tasks, not
    irqs or softirqs, equal in everything but their name and pid (code,
    locals, functions, pinned CPU), their own pages and their own CPU
    (``twin_classes``). Their initial states are equal (initial_state
    gives every task zero locals at its first pc, every page zeros)."""
    return [t.members for t in twin_classes(program)]


def twin_classes(program: Program) -> list[twins.Twins]:
    """The classes with each member's own pages and CPU: tasks whose code
    is equal once their private pages are renamed (runtime/search/twins.py
    says when a page or a CPU is a task's own), on one CPU, or each alone
    on its own CPU where CPUs may be renamed."""
    own = twins.private_pages(program)
    solo = twins.private_cpus(program) if own is not None and twins.cpus_renamable(program) \
        else set()
    own = own or {}
    groups: dict[Any, list[tuple[int, Any, tuple[int, ...]]]] = {}
    for i, c in enumerate(program.contexts):
        if c.is_irq or c.is_softirq:
            continue
        code: Any = c.code
        order: tuple[int, ...] = ()
        if own.get(i):
            try:
                code, order = twins.normalised(program, i, own[i])
            except RecursionError:   # too deep to rename: compared as it is
                code, order = c.code, ()
        where = "own" if c.cpu in solo else c.cpu
        key = (where, len(code), c.local_names, c.outer_locals, c.func_at, len(order))
        groups.setdefault(key, []).append((i, code, order))
    out = []
    for key, members in groups.items():
        if len(members) < 2:
            continue
        # the code without its source places: twins are written on
        # different lines (a place names a statement in traces and
        # reports, read off the real state's context; only a function's
        # WARN_ON_ONCE site is a place, and functions are shared code)
        try:
            codes = [(i, tuple(replace(ins, loc=_NOWHERE) for ins in code), order)
                     for i, code, order in members]
        except RecursionError:
            continue
        while codes:
            (first, code, order), rest = codes[0], codes[1:]
            same = [(first, order)] + [(i, o) for i, other, o in rest if _equal(code, other)]
            if len(same) > 1:
                cpus = tuple(program.contexts[i].cpu or 0 for i, _ in same) \
                    if key[0] == "own" else None
                out.append(twins.Twins(tuple(i for i, _ in same),
                                       tuple(o for _, o in same), cpus))
            done = {i for i, _ in same}
            codes = [x for x in rest if x[0] not in done]
    return sorted(out, key=lambda t: t.members)


def _equal(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Two codes are equal; False when an expression is too deep to
    compare (a chain of thousands of operators: docs/language.md lets
    its length exceed the recursion limit): those tasks are not merged."""
    try:
        return a == b
    except RecursionError:
        return False


def group(program: Program, nctx: int) -> list[tuple[int, ...]]:
    """Every permutation of the contexts (g[i]: where context i goes)
    that permutes each class within itself, the identity first; only the
    identity when there is no class or the group is too large."""
    return [g for g, _, _ in full_group(program, nctx)]


def full_group(program: Program, nctx: int) -> list[tuple[tuple[int, ...], tuple[int, ...],
                                                         tuple[int, ...]]]:
    """``group`` with, for each permutation g of the contexts, the
    permutation of the pages and of the CPUs that goes with it: a task's
    own pages go where it goes (the j-th to the j-th), its own CPU too,
    with that CPU's idle task (the context after the scenario's)."""
    cls = twin_classes(program)
    npage, ncpu = len(program.pages), program.config.NR_CPUS
    ident = (tuple(range(nctx)), tuple(range(npage)), tuple(range(ncpu)))
    size = 1
    for c in cls:
        for k in range(2, len(c.members) + 1):
            size *= k
    if not cls or size > MAX_GROUP:
        return [ident]
    out = []
    nprog = len(program.contexts)
    for choice in product(*(permutations(range(len(c.members))) for c in cls)):
        g, pg, cg = list(ident[0]), list(ident[1]), list(ident[2])
        for c, image in zip(cls, choice):
            for a, b in enumerate(image):
                g[c.members[a]] = c.members[b]
                for p, q in zip(c.pages[a], c.pages[b]):
                    pg[p] = q
                if c.cpus is not None:
                    cg[c.cpus[a]] = c.cpus[b]
                    g[nprog + c.cpus[a]] = nprog + c.cpus[b]
        out.append((tuple(g), tuple(pg), tuple(cg)))
    return out


def applies(program: Program, opts: Any) -> bool:
    """Whether the search may use symmetry (see the module docstring)."""
    return bool(opts.symmetry and opts.jobs == 1 and opts.max_states is None
                and opts.max_depth is None and opts.preemption_bound is None
                and classes(program))


class Group:
    """The permutations, their products and the renaming of flat states."""

    def __init__(self, program: Program, codec: Codec) -> None:
        self.codec = codec
        full = full_group(program, codec.nctx)
        self.perms = [g for g, _, _ in full]
        # the pages and CPUs renamed with the tasks (twins.py): then every
        # image is made by a plan of rename.py, and canonical forms by
        # making each image (the fast path below assumes a task's record
        # names nothing that moves)
        self.extended = any(pg != full[0][1] or cg != full[0][2] for _, pg, cg in full)
        self.renamings = [rename.Renaming(program, g, pg, cg) for g, pg, cg in full]
        self._images = [rename.Image(codec, r) for r in self.renamings] if self.extended else []
        self._uaf: dict[int, list[int]] = {}   # reports part -> bases of its use-after-unmaps
        self._pfn_page = program.pfn_to_page
        self._moved_pages = {p for r in self.renamings for p, q in enumerate(r.pg) if p != q}
        self._page_size = program.config.PAGE_SIZE
        self.classes = classes(program) if len(self.perms) > 1 else []
        self._members = [m for c in self.classes for m in c]
        self._moved = self._members
        self._named = [i for i in range(codec.nctx)
                       if i >= len(program.contexts) or program.contexts[i].is_irq]
        # the task parts of every class -> the permutations that sort them
        self._sorted: dict[tuple[int, ...], list[int]] = {}
        self.index = {g: k for k, g in enumerate(self.perms)}
        n = len(self.perms)
        # compose[a][b]: the index of a∘b (b first); inverse[a]
        self.compose = [[self.index[tuple(ga[x] for x in gb)] for gb in self.perms]
                        for ga in self.perms]
        self.inverse = [next(b for b in range(n) if self.compose[a][b] == 0) for a in range(n)]
        nc = codec.nctx
        # positions whose parts name contexts, with the renaming of their values
        renamed: list[tuple[int, Callable[[tuple[int, ...], Any], Any]]] = []
        renamed += [(nc + c, _cpu) for c in range(codec.ncpu)]
        for name, fn in (("locks", _owner), ("mutex_wait", _waiters),
                         ("pkmap_waiters", _sorted_ids), ("reports", _reports),
                         ("once", _once), ("kmap_ipi", _owner)):
            renamed += [(pos, fn) for pos in codec.field_positions(name)]
        self._renamed = renamed
        # per permutation and position: part number -> renamed part number
        self._cache: list[dict[int, dict[int, int]]] = [{} for _ in self.perms]
        # a context's parts all share one kind: one table per permutation
        self._ctx_cache: list[dict[int, int]] = [{} for _ in self.perms]

    def __len__(self) -> int:
        return len(self.perms)

    def image(self, k: int, flat: Flat) -> Flat:
        """The flat form of g(s) for g = perms[k] and s = flat."""
        if not k:
            return flat
        if self.extended:
            return self._images[k](flat)
        g = self.perms[k]
        codec = self.codec
        out = list(flat)
        for i in self._moved:      # a task's record names no context: moved as it is
            out[g[i]] = flat[i]
        cache = self._ctx_cache[k]
        values = codec.ctx_values
        for i in self._named:      # irqs (the task they interrupted), idle, ksoftirqd
            n = flat[i]
            m = cache.get(n)
            if m is None:
                m = cache[n] = codec.number(i, _ctx(g, values[n]))
            out[i] = m
        pcache = self._cache[k]
        for pos, fn in self._renamed:
            n = flat[pos]
            table = pcache.get(pos)
            if table is None:
                table = pcache[pos] = {}
            m = table.get(n)
            if m is None:
                value = codec.values[codec.kind[pos]][n]
                m = table[n] = codec.number(pos, fn(g, value))
            out[pos] = m
        return tuple(out)

    def canonical(self, flat: Flat) -> tuple[Flat, int, tuple[int, ...]]:
        """(c, t, stab): the canonical form c of ``flat``, the index t of
        the permutation that maps c back to it (flat = perms[t](c)), and
        the indices of c's stabiliser (the permutations that fix c).

        c is the least image among those whose interchangeable tasks'
        parts are in increasing order within each class: a property of
        the image alone (a task's record names no context: renaming
        keeps its number), so the same set of images for every state of
        an orbit, never empty. Only the permutations that sort them are
        made: one when the tasks differ, more among equal ones.

        With pages or CPUs renamed (``extended``) a task's record is
        renamed too (its CPU, its pfns): c is then the least of all the
        images (the group is small: MAX_GROUP)."""
        if self.extended:
            return self._least(flat)
        key = tuple([flat[m] for m in self._members])
        cands = self._sorted.get(key)
        if cands is None:
            cands = self._sorted[key] = self._sorting(flat)
        if len(cands) == 1:
            k = cands[0]
            return self.image(k, flat), self.inverse[k], (0,)
        images = [self.image(k, flat) for k in cands]
        c = min(images)
        hits = [k for k, im in zip(cands, images) if im == c]
        h0 = self.inverse[hits[0]]
        return c, h0, tuple(sorted(self.compose[h][h0] for h in hits))

    def _least(self, flat: Flat) -> tuple[Flat, int, tuple[int, ...]]:
        """The least image, made whole only for the images whose context
        parts (the first positions) are least."""
        ims = self._images
        least = list(flat[:self.codec.nctx])
        cands = [0]
        for k in range(1, len(ims)):
            h = ims[k].head(flat)
            if h < least:
                least, cands = h, [k]
            elif h == least:
                cands.append(k)
        if len(cands) == 1:
            k = cands[0]
            return (ims[k](flat) if k else flat), self.inverse[k], (0,)
        images = [(ims[k](flat) if k else flat) for k in cands]
        c = min(images)
        hits = [k for k, im in zip(cands, images) if im == c]
        h0 = self.inverse[hits[0]]
        return c, h0, tuple(sorted(self.compose[h][h0] for h in hits))

    def _sorting(self, flat: Flat) -> list[int]:
        """The permutations whose image has each class's task parts in
        increasing order (ties: every order of the equal ones)."""
        choices: list[list[list[tuple[int, int]]]] = []   # per class: assignments
        for members in self.classes:
            ranked = sorted(members, key=flat.__getitem__)
            # blocks of equal parts: any order within a block
            blocks: list[list[int]] = []
            for m in ranked:
                if blocks and flat[blocks[-1][0]] == flat[m]:
                    blocks[-1].append(m)
                else:
                    blocks.append([m])
            options: list[list[tuple[int, int]]] = [[]]
            at = 0
            for b in blocks:
                slots = members[at:at + len(b)]
                at += len(b)
                if len(b) == 1:
                    options = [o + [(b[0], slots[0])] for o in options]
                else:
                    options = [o + list(zip(b, order)) for o in options
                               for order in permutations(slots)]
            choices.append(options)
        out = []
        for combo in product(*choices):
            g = list(range(self.codec.nctx))
            for assignment in combo:
                for src, to in assignment:
                    g[src] = to
            out.append(self.index[tuple(g)])
        return out

    def fixes(self, flat: Flat) -> bool:
        """Every permutation maps ``flat`` (the initial state) to itself:
        the twins start alike (the search uses symmetry only then)."""
        return all(self.image(k, flat) == flat for k in range(len(self.perms)))

    def rename_reports(self, k: int, reports: tuple[Report, ...]) -> tuple[Report, ...]:
        if not k:
            return reports
        if self.extended:
            return self.renamings[k].reports(reports)
        return _reports(self.perms[k], reports)

    def action(self, k: int, a: Action) -> Action:
        # a TLB eviction (a negative context) names no context; its CPU
        # is renamed with the CPUs (identity unless twins own CPUs)
        cpu = self.renamings[k].cpu_id(a[1])
        return (self.perms[k][a[0]], cpu) if a[0] >= 0 else (a[0], cpu)

    def check_step(self, before: Flat, after: Flat) -> None:
        """Raise Unsound when ``after`` holds a use after unmap at an
        address where ``before`` has pages of several contexts released,
        one of them renamed: runtime/kernel/memory.py's
        ``_released_somewhere`` names the lowest of those pages, which is
        not the same page after renaming them (twins.py)."""
        if not self._moved_pages:
            return
        rpos = self.codec.field_at[FIELD["reports"]]
        n = after[rpos]
        bases = self._uaf.get(n)
        if bases is None:
            ps = self._page_size
            bases = self._uaf[n] = sorted({r.args[0] - r.args[0] % ps
                                           for r in self.codec.values[self.codec.kind[rpos]][n]
                                           if r.code == R.USE_AFTER_UNMAP})
        if not bases:
            return
        ctxs = [self.codec.ctx_values[x] for x in before[:self.codec.nctx]]
        for base in bases:
            pages = {self._pfn_page.get(pfn, -1) for c in ctxs for v, pfn in c.released
                     if v == base}
            if len(pages) > 1 and pages & self._moved_pages:
                raise Unsound(f"a fault at {base:#x} names one of the renamed pages {sorted(pages)}")


# ------------------------------------------------------- renaming values
def _id(g: tuple[int, ...], i: int) -> int:
    return g[i] if 0 <= i < len(g) else i


def _ctx(g: tuple[int, ...], c: Ctx) -> Ctx:
    """A context's record: only an irq's ``owner`` (the task it
    interrupted) names another context (``pending`` holds locks, pages,
    addresses; ``held``/``released`` pfns)."""
    return c._replace(owner=_id(g, c.owner)) if c.owner >= 0 else c


def _cpu(g: tuple[int, ...], cpu: Cpu) -> Cpu:
    return cpu._replace(curr=_id(g, cpu.curr), irqs=tuple(_id(g, i) for i in cpu.irqs),
                        fix_owner=tuple(_id(g, i) for i in cpu.fix_owner))


def _owner(g: tuple[int, ...], owner: int) -> int:
    return _id(g, owner)


def _waiters(g: tuple[int, ...], w: tuple[int, ...]) -> tuple[int, ...]:
    """A mutex's (flags, waiter, ...), FIFO: renamed in place; a
    spinlock's ()."""
    return (w[0], *(_id(g, i) for i in w[1:])) if w else w


def _sorted_ids(g: tuple[int, ...], ids: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sorted(_id(g, i) for i in ids))


# runtime/kernel/builtins.py's _once_site: a WARN_ON_ONCE in a body is
# the site 1000 + context * 100000 + pc (its own per context); the others
# are report codes (below 1000) and places in functions (negative)
_BODY_SITE, _PER_CTX = 1000, 100000


def _once(g: tuple[int, ...], sites: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    for s in sites:
        if s >= _BODY_SITE:
            ci, pc = divmod(s - _BODY_SITE, _PER_CTX)
            s = _BODY_SITE + _id(g, ci) * _PER_CTX + pc
        out.append(s)
    return tuple(sorted(out))


def _reports(g: tuple[int, ...], reports: tuple[Report, ...]) -> tuple[Report, ...]:
    out = []
    for r in reports:
        args = r.args
        which = _CTX_ARGS.get(r.code)
        if which:
            args = tuple(_id(g, v) if k in which else v for k, v in enumerate(args))
        out.append(r._replace(ctx=_id(g, r.ctx), cur=_id(g, r.cur), args=args))
    # the state keeps them sorted as Tx does (runtime/kernel/tx.py)
    return tuple(sorted(out, key=lambda r: (r.ctx, r.pc, r.code, r.cpu, r.args, r.cur, r.chain)))


class Unsound(Exception):
    """The search met a step that renaming pages would not map onto a
    step (Group.check_step): it is run again without symmetry."""


# ------------------------------------------------------------- phase 1
class Canonical(Stepper):
    """Phase 1's stepper with symmetry: every successor is returned in
    its canonical form. Phase 1 makes successors in the order of its
    ``dst``; for the k-th one made, ``perm[k]`` is the permutation that
    maps it back to the real successor, ``stab[k]`` the number of its
    stabiliser (in ``stabs``) and ``reports[k]`` its reports' part
    number."""

    def __init__(self, inner: Stepper, grp: Group) -> None:   # noqa: D107 (no super(): a view)
        self.inner = inner
        self.terminals: list[Flat] = []   # the canonical states with no action
        self.p = inner.p
        self.codec = inner.codec
        self.memo = inner.memo
        self.pool = inner.pool
        self.group = grp
        self.perm = array("b")
        self.stab = array("l")
        self.reports = array("q")
        whole = tuple(range(len(grp)))
        self.stabs: list[tuple[int, ...]] = [whole]
        self._stab_ids: dict[tuple[int, ...], int] = {whole: 0}
        self._rpos = self.codec.field_at[FIELD["reports"]]

    def enabled(self, flat: Flat) -> tuple[Action, ...]:
        acts = self.inner.enabled(flat)
        if not acts:
            self.terminals.append(flat)
        return acts

    def step(self, flat: Flat, a: Action) -> Flat:
        succ = self.inner.step(flat, a)
        if self.group.extended:
            self.group.check_step(flat, succ)
        c, t, st = self.group.canonical(succ)
        k = self._stab_ids.get(st)
        if k is None:
            k = self._stab_ids[st] = len(self.stabs)
            self.stabs.append(st)
        self.perm.append(t)
        self.stab.append(k)
        self.reports.append(c[self._rpos])
        return c

    def copy_edges(self, at: int, sources: list[int]) -> None:
        """Edges written from position ``at`` without stepping (a limit
        cut phase 1 and a reduced state got its whole enabled set back:
        explore._unreduce): each is a copy of the edge at its source
        position, or cut (-1). Positions written without a record before
        (cut edges, explore._stopped) get an empty one first, so records
        stay aligned with ``dst``."""
        for arr in (self.perm, self.stab, self.reports):
            while len(arr) < at:
                arr.append(0)
        for j in sources:
            ok = 0 <= j < len(self.perm)
            self.perm.append(self.perm[j] if ok else 0)
            self.stab.append(self.stab[j] if ok else 0)
            self.reports.append(self.reports[j] if ok else 0)

    def release(self) -> None:
        """Drop the records of the quotient's edges (unfolded)."""
        self.perm, self.stab, self.reports = array("b"), array("l"), array("q")
        self.terminals = []

    def coverage(self) -> vacuity.Coverage:
        """The inner coverage, closed under the group: a statement one
        task executes in a state, its twin executes in the image state
        (the flags are about some context, whichever: the same)."""
        cov = self.inner.coverage()
        perms = self.group.perms
        cov.executed = {(g[c], pc) for c, pc in cov.executed for g in perms}
        return cov


# ------------------------------------------------------------- unfolding
def model_order(a: Action) -> tuple[int, int, int]:
    """Where machine.enabled lists an action: by context (each context's
    by CPU: kept in the quotient's order, a stable sort), then the TLB
    evictions (negative contexts) by CPU and kmap_local index."""
    return (1, a[1], -a[0]) if a[0] < 0 else (0, a[0], 0)


class Unfolded:
    """The real graph rebuilt from the quotient (``unfold``)."""

    def __init__(self) -> None:
        self.acts: list[tuple[Action, ...]] = []
        self.off = array("q")
        self.dst = array("q")
        self.quotient = array("q")   # each real state's canonical state
        self.perm = array("b")       # and the permutation mapping it to the real one
        self.depth = array("l")
        self.rep = array("q")        # the reports' part number of its canonical state
        self.cyclic = False
        self.stopped: str | None = None   # the limit that cut the unfolding
        self.partial: list[int] = []      # expanded states with successors cut by a limit

    def unexpanded(self, grp: Group, terminal: Any) -> list[tuple[int, tuple[Report, ...]]]:
        """The real states a limit left unexpanded (in phase 1 or here)
        or cut successors of, with their reports (``terminal``: the
        canonical states with no action)."""
        values = grp.codec.values[grp.codec.kind[grp.codec.field_at[FIELD["reports"]]]]
        out = []
        for sid in range(len(self.acts)):
            if (self.off[sid] < 0 and self.quotient[sid] not in terminal) or \
                    sid in self.partial:
                out.append((sid, grp.rename_reports(self.perm[sid], values[self.rep[sid]])))
        return out


def unfold(st: Canonical, acts: list[tuple[Action, ...]], off: array[int], dst: array[int],
           check: Callable[[], None]) -> Unfolded:
    """The real state graph of the quotient phase 1 built (acts, off,
    dst, and ``st``'s records of each edge), depth-first from the initial
    state as phase 1 goes. A real state is a pair (canonical state q,
    permutation g): g(q). Its actions are g of q's in the model's order
    (by context; each context's in q's order, which is by CPU), its
    successor by g(a) is g(t(q')) for q's edge by a to q' with
    permutation t. (q, g) and (q, g∘h) are one state for h in q's
    stabiliser: the least index of the coset names it. ``check`` (the
    limits) may raise Cut; the unfolding then stops, the states it did
    not expand left unexpanded (off -1), the one being expanded with its
    missing successors cut (-1): ``Unfolded.unexpanded`` lists them."""
    from kmap_scenarios.runtime.search.limits import Cut
    grp = st.group
    n = len(grp)
    compose, pool = grp.compose, st.pool
    eperm, estab, erep, stabs = st.perm, st.stab, st.reports, st.stabs
    trivial = [len(x) == 1 for x in stabs]
    u = Unfolded()
    ids: dict[int, int] = {0: 0}
    coset: dict[tuple[int, int], int] = {}
    orders: dict[tuple[int, int], tuple[tuple[int, ...], tuple[Action, ...]]] = {}
    uacts, uoff, udst, uq, uperm, udepth, urep = \
        u.acts, u.off, u.dst, u.quotient, u.perm, u.depth, u.rep
    new_state = uacts.append
    add_edge = udst.append
    uacts.append(())
    uoff.append(-1)
    uq.append(0)
    uperm.append(0)
    udepth.append(0)
    urep.append(grp.codec.number(st._rpos, ()))
    stack = [0]
    push = stack.append
    work = 0
    sid = -1
    cyclic = False
    try:
        while stack:
            sid = stack.pop()
            q = uq[sid]
            base = off[q]
            if base < 0:   # terminal, or left unexpanded by phase 1
                continue
            g, d = uperm[sid], udepth[sid]
            qa = acts[q]
            key2 = (g, id(qa))
            got = orders.get(key2)
            if got is None:
                ra_all = [grp.action(g, a) for a in qa]
                order = tuple(sorted(range(len(qa)), key=lambda i: model_order(ra_all[i])))
                ra = tuple(ra_all[i] for i in order)
                got = orders[key2] = (order, pool.setdefault(ra, ra))
            order, ra = got
            work += len(ra)
            if work >= CHECK_EVERY:
                work = 0
                check()
            uacts[sid] = ra
            uoff[sid] = len(udst)
            cg = compose[g]
            d1 = d + 1
            for i in order:
                pos = base + i
                qc = dst[pos]
                if qc < 0:   # cut by a limit in phase 1
                    add_edge(-1)
                    if not u.partial or u.partial[-1] != sid:
                        u.partial.append(sid)
                    continue
                gc = cg[eperm[pos]]
                s = estab[pos]
                if not trivial[s]:   # the least index of the coset gc∘stabiliser
                    ck = (s, gc)
                    k = coset.get(ck)
                    if k is None:
                        k = coset[ck] = min(compose[gc][h] for h in stabs[s])
                    gc = k
                key = qc * n + gc
                cid = ids.get(key)
                if cid is None:
                    cid = ids[key] = len(uacts)
                    new_state(())
                    uoff.append(-1)
                    uq.append(qc)
                    uperm.append(gc)
                    udepth.append(d1)
                    urep.append(erep[pos])
                    push(cid)
                elif udepth[cid] <= d:
                    cyclic = True
                add_edge(cid)
    except (Cut, MemoryError) as e:
        u.stopped = e.bound if isinstance(e, Cut) else "memory"
        m = min(len(uacts), len(uoff), len(uq), len(uperm), len(udepth), len(urep))
        for a in (uacts, uoff, uq, uperm, udepth, urep):
            del a[m:]
        for pos in range(len(udst)):
            if udst[pos] >= m:
                udst[pos] = -1
        if 0 <= sid < m and uoff[sid] >= 0:
            # cut while expanding sid: its successors not made are cut
            made = len(udst) - uoff[sid]
            if made < len(uacts[sid]):
                udst.extend([-1] * (len(uacts[sid]) - made))
                u.partial.append(sid)
    u.cyclic = cyclic
    return u
