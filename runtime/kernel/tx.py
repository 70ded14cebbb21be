"""The working copy of one step: read the old State, write a new one.

``step`` never mutates its input: a ``Tx`` copies the parts of the state a
step may change into lists, the handlers edit those, and ``commit`` freezes
them into a new ``State``. Reports are appended here; a BUG or oops that
kills the running context raises ``Killed`` after recording its report,
which ``step`` catches (it never escapes).
"""

from __future__ import annotations

from typing import Any

from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.reports import FUNC_INDEX, R, Kind, kind_of
from kmap_scenarios.runtime.kernel.state import Cpu, Ctx, Line, Report, State, pool


class Killed(Exception):
    """The running context was killed by a BUG, an oops or a failed assert."""


# State field numbers, for read locations (runtime/search/memo.py).
FIELD = {name: i for i, name in enumerate(State._fields)}
CTXS, CPUS = FIELD["ctxs"], FIELD["cpus"]
# Fixed-length fields whose elements are noted one by one when recording.
ELEMENTWISE = frozenset({"pkmap_count", "pkmap_pte", "locks", "globals", "user_present",
                         "ram", "newest", "mutex_wait"})
Loc = tuple[int, int]   # (State field, element) or (State field, -1): the whole field


_LOCS: dict[tuple[int, int], tuple[Loc, ...]] = {}


def _locs(field: int, n: int) -> tuple[Loc, ...]:
    got = _LOCS.get((field, n))
    if got is None:
        got = _LOCS[(field, n)] = tuple((field, i) for i in range(n))
    return got


class _Reads(list):  # type: ignore[type-arg]
    """A working copy of a fixed-length state field (contexts, CPUs, pages,
    the pkmap arrays, locks, globals) that notes which elements a step
    touches.

    Used only when runtime/search/memo.py records a step's footprint: every read or
    write of element i (a write reads first: the step's result may keep the
    old value) appends (field, i) to ``log`` the first time. Whole-list reads
    (iteration, membership, index) note the whole field once."""

    __slots__ = ("field", "log", "seen", "locs", "whole")

    def __init__(self, items: tuple[Any, ...], field: int, log: list[Loc], seen: set[Loc]) -> None:
        super().__init__(items)
        self.field, self.log, self.seen = field, log, seen
        self.locs = _locs(field, len(items))   # locs[i] is (field, i); negative i works
        self.whole = (field, -1)

    def _first(self, loc: Loc) -> None:
        seen = self.seen
        if self.whole not in seen:
            seen.add(loc)
            self.log.append(loc)

    def _note_all(self) -> None:
        """A scan reads the whole list: one location, the whole field (the
        memo's key then holds the field's value, not each element's)."""
        if self.whole not in self.seen:
            self.seen.add(self.whole)
            self.log.append(self.whole)

    # element i (an int) or a slice of them is read or written; inlined in
    # both accessors (a call less per element, on every first-time step)
    def __getitem__(self, i: Any) -> Any:
        if type(i) is int:
            loc = self.locs[i]
            if loc not in self.seen:
                self._first(loc)
        else:
            self._note_all()
        return list.__getitem__(self, i)

    def __setitem__(self, i: Any, v: Any) -> None:
        if type(i) is int:
            loc = self.locs[i]
            if loc not in self.seen:
                self._first(loc)
        else:
            self._note_all()
        list.__setitem__(self, i, v)

    def __iter__(self) -> Any:
        self._note_all()
        return list.__iter__(self)

    def __reversed__(self) -> Any:
        self._note_all()
        return list.__reversed__(self)

    def __contains__(self, v: object) -> bool:
        self._note_all()
        return list.__contains__(self, v)

    def index(self, *a: Any) -> int:
        self._note_all()
        return list.index(self, *a)

    def count(self, v: Any) -> int:
        self._note_all()
        return list.count(self, v)

    def copy(self) -> list[Any]:
        self._note_all()
        return list.copy(self)


_CTX = {name: i for i, name in enumerate(Ctx._fields)}
_CPU = {name: i for i, name in enumerate(Cpu._fields)}


class Tx:
    """Mutable copy of a State for the duration of one step (parts are
    copied on first use; a part never touched is reused as it was)."""

    def __init__(self, program: Program, state: State, ci: int, cpu: int, trace: bool,
                 reads: list[Loc] | None = None) -> None:
        self.program = program
        self.cfg = program.config
        self.base = state
        self.ci = ci            # executing context
        self.cpu = cpu          # its CPU
        self.pc = state.ctxs[ci].pc if ci < len(state.ctxs) else -1
        # With ``reads``, every part of the state the step touches is noted
        # there in first-touch order (runtime/search/memo.py); the executing
        # context and its CPU are the memo's key and are not noted.
        self.reads = reads
        self.ctxs: list[Ctx]
        self.cpus: list[Cpu]
        if reads is None:
            self.ctxs = list(state.ctxs)
            self.cpus = list(state.cpus)
        else:
            seen = {(CTXS, ci), (CPUS, cpu)}
            self.ctxs = _Reads(state.ctxs, CTXS, reads, seen)
            self.cpus = _Reads(state.cpus, CPUS, reads, seen)
            self._seen = seen
        self._last_pkmap_nr = state.last_pkmap_nr
        self._copies: dict[str, list[Any]] = {}
        self._percpu: list[list[int]] | None = None
        self._ram: list[bytes] | None = None
        self._newest: list[bytes] | None = None
        self._cache: dict[int, Line] | None = None
        self._once: set[int] | None = None
        self.debug_locks = state.debug_locks
        self.panicked = state.panicked
        self._slab = state.slab
        self._kmap_ipi = state.kmap_ipi
        self.events: list[str] | None = [] if trace else None
        self.ran: list[int] | None = None   # pcs executed (machine.step's ``ran``)
        # (cpu, slot) of the TLB entries the step used (runtime/kernel/tlb.py)
        self.tlb_used: set[tuple[int, int]] | None = None

    def _lazy(self, name: str) -> list[Any]:
        got = self._copies.get(name)
        if got is None:
            got = self._copies[name] = self._copy(name)
        return got

    def _copy(self, name: str) -> list[Any]:
        """A working copy of a state field; when recording, noted per
        element for the fixed-length ones, else as a whole."""
        if self.reads is None:
            return list(getattr(self.base, name))
        if name in ELEMENTWISE:
            return _Reads(getattr(self.base, name), FIELD[name], self.reads, self._seen)
        self._note(name)
        return list(getattr(self.base, name))

    def _note(self, name: str) -> None:
        """A whole state field is read (and may be written) by this step."""
        if self.reads is not None:
            loc = (FIELD[name], -1)
            if loc not in self._seen:
                self._seen.add(loc)
                self.reads.append(loc)

    @property
    def last_pkmap_nr(self) -> int:
        self._note("last_pkmap_nr")
        return self._last_pkmap_nr

    @last_pkmap_nr.setter
    def last_pkmap_nr(self, nr: int) -> None:
        self._note("last_pkmap_nr")
        self._last_pkmap_nr = nr

    @property
    def kmap_ipi(self) -> int:
        self._note("kmap_ipi")
        return self._kmap_ipi

    @kmap_ipi.setter
    def kmap_ipi(self, ci: int) -> None:
        self._note("kmap_ipi")
        self._kmap_ipi = ci

    @property
    def slab(self) -> int:
        self._note("slab")
        return self._slab

    @slab.setter
    def slab(self, bits: int) -> None:
        self._note("slab")
        self._slab = bits

    @property
    def mutex_wait(self) -> list[tuple[int, ...]]:
        return self._lazy("mutex_wait")

    @property
    def pkmap_count(self) -> list[int]:
        return self._lazy("pkmap_count")

    @property
    def pkmap_pte(self) -> list[int]:
        return self._lazy("pkmap_pte")

    @property
    def pkmap_waiters(self) -> list[int]:
        return self._lazy("pkmap_waiters")

    @property
    def locks(self) -> list[int]:
        return self._lazy("locks")

    @property
    def globals(self) -> list[int]:
        return self._lazy("globals")

    @property
    def user_present(self) -> list[bool]:
        return self._lazy("user_present")

    @property
    def reports(self) -> list[Report]:
        return self._lazy("reports")

    @property
    def percpu(self) -> list[list[int]]:
        if self._percpu is None:
            self._note("percpu")
            self._percpu = [list(v) for v in self.base.percpu]
        return self._percpu

    @property
    def once(self) -> set[int]:
        if self._once is None:
            self._note("once")
            self._once = set(self.base.once)
        return self._once

    # ------------------------------------------------------------ lazy parts
    @property
    def ram(self) -> list[bytes]:
        if self._ram is None:
            self._ram = self._copy("ram")
        return self._ram

    @property
    def newest(self) -> list[bytes]:
        if self._newest is None:
            self._newest = self._copy("newest")
        return self._newest

    @property
    def cache(self) -> dict[int, Line]:
        if self._cache is None:
            self._note("cache")
            self._cache = {ln.tag: ln for ln in self.base.cache}
        return self._cache

    # -------------------------------------------------------------- contexts
    @property
    def me(self) -> Ctx:
        return self.ctxs[self.ci]

    def set(self, ci: int, **kw: Any) -> None:
        # a direct rebuild: NamedTuple._replace is several times slower
        vals = list(self.ctxs[ci])
        for k, v in kw.items():
            vals[_CTX[k]] = v
        self.ctxs[ci] = tuple.__new__(Ctx, vals)

    def set_me(self, **kw: Any) -> None:
        ci = self.ci
        vals = list(self.ctxs[ci])
        for k, v in kw.items():
            vals[_CTX[k]] = v
        self.ctxs[ci] = tuple.__new__(Ctx, vals)

    def current(self) -> int:
        """`current`: the task an irq interrupted, else the context itself."""
        ctx = self.ctxs[self.ci]
        return ctx.owner if ctx.owner >= 0 else self.ci

    def in_irq(self) -> bool:
        return self.program_is_irq(self.ci)

    def program_is_irq(self, ci: int) -> bool:
        return ci < len(self.program.contexts) and self.program.contexts[ci].is_irq

    def set_cpu(self, c: int, **kw: Any) -> None:
        vals = list(self.cpus[c])
        for k, v in kw.items():
            vals[_CPU[k]] = v
        self.cpus[c] = tuple.__new__(Cpu, vals)

    def irqs_disabled(self) -> bool:
        return self.cpus[self.cpu].irqs_off

    # --------------------------------------------------------------- reports
    def report(self, code: R, *args: int, cur: int | None = None) -> None:
        """Report code at this step; ``cur``: the `current` the kernel
        prints, when it is not this context's (the idle task's schedule)."""
        who = self.current() if cur is None else cur
        me = self.ctxs[self.ci] if self.ci < len(self.ctxs) else None
        chain = tuple(pc for pc, _ in me.frames) if me is not None and me.frames else ()
        rep = Report(int(code), self.ci, self.cpu, self.pc, tuple(args), who, chain)
        # The state keeps each distinct report once: a WARN_ON in a loop
        # prints on every pass (the trace shows each), but a state that
        # counted them would never repeat, and the loop could not be seen
        # to go on for ever (nothing reads how often a report came).
        if rep not in self.reports:
            self.reports.append(rep)
        if self.events is not None:
            from kmap_scenarios.runtime.kernel.reports import label
            self.events.append(f"report {label(self.program, self.base, rep)}")

    def first_time(self, site: int) -> bool:
        """WARN_ON_ONCE bookkeeping: True the first time a site fires."""
        if site in self.once:
            return False
        self.once.add(site)
        return True

    def warn_once(self, code: R, *args: int) -> None:
        if self.first_time(int(code)):
            self.report(code, *args)

    def debug_locks_warn(self, code: R, *args: int) -> None:
        """DEBUG_LOCKS_WARN_ON(): warns only while lock debugging is on, and
        switches it off (debug_locks_off()), as lib/debug_locks.c does.
        The flag is noted as read (runtime/search/por.py: a step that never
        looks at it does the same whatever its value)."""
        self._note("debug_locks")
        if self.debug_locks:
            self.debug_locks = False
            self.report(code, *args)

    def bug(self, code: R, *args: int) -> None:
        """A kernel BUG()/oops: report it and kill the running context."""
        self.report(code, *args)
        raise Killed()

    def event(self, text: str) -> None:
        if self.events is not None:
            self.events.append(text)

    @staticmethod
    def func(name: str) -> int:
        return FUNC_INDEX[name]

    # ---------------------------------------------------------------- commit
    def commit(self) -> State:
        b = self.base
        c = self._copies
        waiters = c.get("pkmap_waiters")
        reports = c.get("reports")
        cache = b.cache if self._cache is None else tuple(
            self._cache[t] for t in sorted(self._cache))
        return tuple.__new__(State, (
            _freeze(self.ctxs), _freeze(self.cpus),
            b.pkmap_count if "pkmap_count" not in c else pool(_freeze(c["pkmap_count"])),
            b.pkmap_pte if "pkmap_pte" not in c else pool(_freeze(c["pkmap_pte"])),
            self._last_pkmap_nr,
            b.pkmap_waiters if waiters is None else tuple(sorted(waiters)),
            b.locks if "locks" not in c else _freeze(c["locks"]),
            b.globals if "globals" not in c else _freeze(c["globals"]),
            b.percpu if self._percpu is None else tuple(tuple(v) for v in self._percpu),
            b.ram if self._ram is None else _freeze(self._ram),
            b.newest if self._newest is None else _freeze(self._newest),
            cache,
            b.user_present if "user_present" not in c else _freeze(c["user_present"]),
            # Reports are a multiset: sorted, so that two independent steps
            # that each report commute to the same state (partial-order
            # reduction compares states). The trace keeps their order.
            b.reports if reports is None else tuple(sorted(reports, key=_report_key)),
            b.once if self._once is None else tuple(sorted(self._once)),
            self.debug_locks, self.panicked,
            b.mutex_wait if "mutex_wait" not in c else _freeze(c["mutex_wait"]),
            self._slab, self._kmap_ipi))


def _freeze(items: list[Any]) -> tuple[Any, ...]:
    """A working copy as a tuple; a recording list is read without noting."""
    return tuple(list.__iter__(items)) if type(items) is _Reads else tuple(items)


def _report_key(r: Report) -> tuple[int, int, int, int, tuple[int, ...], int, tuple[int, ...]]:
    return (r.ctx, r.pc, r.code, r.cpu, r.args, r.cur, r.chain)




