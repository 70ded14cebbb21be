"""Exhaustive exploration: every execution the model allows, through step().

Search: depth-first over states, deduplicated by value (a 64-bit
fingerprint, Python's hash of the immutable state, as SPIN's hash
compaction), with sleep-set partial-order reduction (Godefroid 1996):
after exploring action ``a`` from a state, ``a`` sleeps in the subtrees of
later siblings it is independent with, so equivalent interleavings are not
explored twice. Independence is checked on the model itself: two actions
of different contexts are independent in a state when each leaves the
other enabled and both orders reach the same state. With state caching, a
state revisited with a smaller sleep set explores the actions that slept
the first time (Godefroid's condition), so no outcome is lost; sleep sets
never prune states, only transitions.

Executions are the maximal paths of the explored graph (a cycle, a busy
loop that revisits a state, is cut where it closes): counted per outcome by
dynamic programming after the search. Shortest witnesses come from a
breadth-first pass over the explored graph; equivalent interleavings have
equal length, so reduction keeps the shortest length of every outcome.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import dataclass, field

from runtime import program as ir
from runtime.expect import ExpectError, evaluate
from runtime.machine import Action, enabled, final_state, step
from runtime.program import Program
from runtime.reports import label
from runtime.state import State, initial_state


@dataclass
class Options:
    reduce: bool = True
    max_states: int | None = None
    max_depth: int | None = None
    preemption_bound: int | None = None
    timeout: float | None = None
    progress: bool = False


@dataclass(frozen=True)
class Outcome:
    """What an execution ends with: named values, reports, verdict inputs."""

    values: tuple[tuple[str, str], ...]
    reports: tuple[str, ...]
    conds: tuple[bool | None, ...]   # each expectation's condition (None: error)

    def text(self) -> str:
        vals = "; ".join(f"{k}={v}" for k, v in self.values)
        reps = "; ".join(self.reports) if self.reports else "no reports"
        return f"{vals}; {reps}" if vals else reps


@dataclass
class Result:
    outcomes: dict[Outcome, int] = field(default_factory=dict)   # -> executions
    witnesses: dict[Outcome, list[Action]] = field(default_factory=dict)  # shortest
    states: int = 0
    transitions: int = 0
    executions: int = 0
    max_depth: int = 0
    bounded: list[str] = field(default_factory=list)              # which bounds cut
    seconds: float = 0.0


EMPTY: frozenset[tuple[int, int]] = frozenset()


class _Frame:
    __slots__ = ("state", "sid", "depth", "todo", "next", "sleep", "succ", "pre", "acts")

    def __init__(self, state: State, sid: int, depth: int, todo: list[Action],
                 sleep: frozenset[Action], pre: int, acts: list[Action]) -> None:
        self.state = state
        self.sid = sid
        self.depth = depth
        self.todo = todo
        self.next = 0
        self.sleep = sleep
        # successor -> (state, its enabled actions): each computed once
        self.succ: dict[Action, tuple[State, list[Action]]] = {}
        self.pre = pre
        self.acts = acts            # every enabled action of state


class Explorer:
    def __init__(self, program: Program, opts: Options) -> None:
        self.p = program
        self.o = opts
        self.ids: dict[object, int] = {}
        self.edges: list[list[tuple[Action, int]]] = []
        self.slept: list[frozenset[Action]] = []
        self.best_pre: list[int] = []
        self.terminal: dict[int, Outcome] = {}
        self.on_stack: set[int] = set()
        self.result = Result()
        self.atoms = collect_atoms(program)
        self.loop: tuple[int, State] | None = None   # where a cycle first closed
        self._start = time.monotonic()
        self._last_progress = self._start

    # ------------------------------------------------------------ search
    def run(self) -> Result:
        init = initial_state(self.p)
        stack = [self._frame(init, enabled(self.p, init), self._new_id(init, frozenset(), 0), 0,
                             frozenset(), 0)]
        tick = 0
        reduce = self.o.reduce
        bounded_pre = self.o.preemption_bound is not None
        while stack:
            tick += 1
            if tick & 1023 == 0 and self._out_of_time():
                break
            f = stack[-1]
            if f.next >= len(f.todo):
                self.on_stack.discard(f.sid)
                stack.pop()
                continue
            a = f.todo[f.next]
            f.next += 1
            if a in f.sleep:
                continue
            child, child_acts = self._succ(f, a)
            pre = f.pre + self._preempts(f, a) if bounded_pre else 0
            if reduce:
                child_sleep = self._child_sleep(f, a) if f.sleep else EMPTY
                f.sleep = f.sleep | {a}
            else:
                child_sleep = EMPTY
            self.result.transitions += 1
            nxt = self._visit(child, child_acts, child_sleep, f.depth + 1, pre)
            if nxt is not None:
                self.edges[f.sid].append((a, nxt[1]))
                if nxt[0] is not None:
                    stack.append(nxt[0])
        self.result.seconds = time.monotonic() - self._start
        self.result.states = len(self.edges)
        if not self.terminal and self.loop is not None and not self.result.bounded:
            self._no_execution_ends(*self.loop)
        self._count()
        self._shortest()
        return self.result

    def _no_execution_ends(self, sid: int, s: State) -> None:
        """Every execution loops forever: judge the expectations where the
        loop closes, with a report naming the contexts that never finish."""
        from runtime.machine import is_final
        from runtime.reports import R
        from runtime.state import Report, Status
        final = final_state(self.p, s)
        extra = tuple(Report(int(R.LIVELOCK), i, max(c.cpu, 0), c.pc, (), i)
                      for i, c in enumerate(s.ctxs[:len(self.p.contexts)])
                      if c.status == Status.READY and not self.p.contexts[i].is_irq)
        assert not is_final(self.p, s)
        self.terminal[sid] = self.outcome(final._replace(reports=final.reports + extra))

    def _key(self, s: State, pre: int) -> object:
        h = hash(s)
        return h if self.o.preemption_bound is None else (h, pre)

    def _new_id(self, s: State, sleep: frozenset[Action], pre: int) -> int:
        sid = len(self.edges)
        self.ids[self._key(s, pre)] = sid
        self.edges.append([])
        self.slept.append(sleep)
        self.best_pre.append(pre)
        return sid

    def _frame(self, s: State, all_acts: list[Action], sid: int, depth: int,
               sleep: frozenset[Action], pre: int,
               only: frozenset[Action] | None = None) -> _Frame:
        acts = all_acts
        self.result.max_depth = max(self.result.max_depth, depth)
        if not acts:
            self.terminal[sid] = self.outcome(final_state(self.p, s))
        if self.o.max_depth is not None and depth >= self.o.max_depth and acts:
            self._cut("depth")
            acts = []
        if only is not None:
            acts = [a for a in acts if a in only]
        self.on_stack.add(sid)
        return _Frame(s, sid, depth, acts, sleep, pre, all_acts)

    def _visit(self, s: State, acts: list[Action], sleep: frozenset[Action], depth: int,
               pre: int) -> tuple[_Frame | None, int] | None:
        """A new state gets a frame; a cached one may need its slept actions."""
        if self.o.preemption_bound is not None and pre > self.o.preemption_bound:
            self._cut("preemptions")
            return None
        key = self._key(s, pre)
        sid = self.ids.get(key)
        if sid is None:
            if self.o.max_states is not None and len(self.edges) >= self.o.max_states:
                self._cut("states")
                return None
            sid = self._new_id(s, sleep, pre)
            return self._frame(s, acts, sid, depth, sleep, pre), sid
        old = self.slept[sid]
        missing = old - sleep
        if sid in self.on_stack and self.loop is None:
            self.loop = (sid, s)
        if not missing or sid in self.on_stack:
            return None, sid
        self.slept[sid] = old & sleep
        return self._frame(s, acts, sid, depth, sleep, pre, only=missing), sid

    def _succ(self, f: _Frame, a: Action) -> tuple[State, list[Action]]:
        got = f.succ.get(a)
        if got is None:
            s = step(self.p, f.state, a)[0]
            got = (s, enabled(self.p, s))
            f.succ[a] = got
        return got

    def _child_sleep(self, f: _Frame, a: Action) -> frozenset[Action]:
        """Sleeping actions that stay asleep after a: those independent of it."""
        return frozenset(b for b in f.sleep if self._independent(f, a, b))

    def _independent(self, f: _Frame, a: Action, b: Action) -> bool:
        """Different contexts on different CPUs whose steps commute.

        Two actions on one CPU compete for it (who runs next), so they are
        never independent; the check runs both orders only across CPUs."""
        if a[0] == b[0] or a[1] == b[1]:
            return False
        (sa, ea), (sb, eb) = self._succ(f, a), self._succ(f, b)
        if b not in ea or a not in eb:
            return False
        return step(self.p, sa, b)[0] == step(self.p, sb, a)[0]

    def _preempts(self, f: _Frame, a: Action) -> int:
        """1 when a takes a CPU from a task that could have continued."""
        ci, cpu = a
        cur = f.state.cpus[cpu].curr
        if cur < 0 or cur == ci or self.p.contexts[ci].is_irq:
            return 0
        return 1 if (cur, cpu) in f.acts else 0

    def _cut(self, what: str) -> None:
        if what not in self.result.bounded:
            self.result.bounded.append(what)

    def _out_of_time(self) -> bool:
        now = time.monotonic()
        if self.o.progress and now - self._last_progress >= 1.0:
            self._last_progress = now
            rate = len(self.edges) / max(now - self._start, 1e-9)
            sys.stderr.write(f"\rkmap check: {len(self.edges)} states, {rate:,.0f} states/s ")
            sys.stderr.flush()
        if self.o.timeout is not None and now - self._start > self.o.timeout:
            self._cut("time")
            return True
        return False

    # ----------------------------------------------------------- outcomes
    def outcome(self, final: State) -> Outcome:
        values = []
        for name, atom in self.atoms:
            try:
                v = evaluate(self.p, final, atom)
                values.append((name, _show(name, v)))
            except ExpectError:
                values.append((name, "?"))
        reps = sorted({label(self.p, final, r) for r in final.reports})
        conds: list[bool | None] = []
        for e in self.p.expectations:
            try:
                conds.append(bool(evaluate(self.p, final, e.cond)))
            except ExpectError:
                conds.append(None)
        if not self.p.expectations:
            conds.append(bool(final.reports))
        return Outcome(tuple(values), tuple(reps), tuple(conds))

    def _count(self) -> None:
        """Maximal paths per outcome, post-order over the explored graph."""
        n = len(self.edges)
        counts: list[dict[Outcome, int] | None] = [None] * n
        state = bytearray(n)  # 0 new, 1 on stack, 2 done
        if not n:
            return
        stack: list[tuple[int, int]] = [(0, 0)]
        state[0] = 1
        while stack:
            sid, i = stack[-1]
            edges = self.edges[sid]
            if i < len(edges):
                stack[-1] = (sid, i + 1)
                child = edges[i][1]
                if state[child] == 0:
                    state[child] = 1
                    stack.append((child, 0))
                continue
            acc: dict[Outcome, int] = {}
            if sid in self.terminal:
                acc[self.terminal[sid]] = 1
            for _, child in edges:
                if state[child] == 2:
                    for o, c in counts[child].items():  # type: ignore[union-attr]
                        acc[o] = acc.get(o, 0) + c
            counts[sid] = acc
            state[sid] = 2
            stack.pop()
        root = counts[0] or {}
        for o in sorted(set(self.terminal.values()), key=Outcome.text):
            self.result.outcomes[o] = root.get(o, 0)
        self.result.executions = sum(root.values())

    def _shortest(self) -> None:
        """BFS over the explored graph: one shortest path per outcome."""
        n = len(self.edges)
        if not n:
            return
        parent: list[tuple[int, Action] | None] = [None] * n
        seen = bytearray(n)
        seen[0] = 1
        queue = deque([0])
        while queue:
            sid = queue.popleft()
            o = self.terminal.get(sid)
            if o is not None and o not in self.result.witnesses:
                self.result.witnesses[o] = self._path(parent, sid)
            for a, child in self.edges[sid]:
                if not seen[child]:
                    seen[child] = 1
                    parent[child] = (sid, a)
                    queue.append(child)

    @staticmethod
    def _path(parent: list[tuple[int, Action] | None], sid: int) -> list[Action]:
        path = []
        while parent[sid] is not None:
            prev, a = parent[sid]  # type: ignore[misc]
            path.append(a)
            sid = prev
        return path[::-1]


def _show(name: str, v: int) -> str:
    """Page bytes as 0x55, big numbers (addresses) in hex, small ones decimal."""
    if name.endswith("]"):
        return f"{v:#04x}"
    return f"{v:#x}" if abs(v) > 9 else str(v)


def explore(program: Program, opts: Options | None = None) -> Result:
    return Explorer(program, opts or Options()).run()


# ------------------------------------------------------------------ atoms
def collect_atoms(program: Program) -> list[tuple[str, ir.Expr]]:
    """The final-state values the expectations name, with printable labels."""
    seen: dict[str, ir.Expr] = {}
    for e in program.expectations:
        _atoms(program, e.cond, seen)
    return sorted(seen.items())


def _atoms(program: Program, e: ir.Expr, out: dict[str, ir.Expr]) -> None:
    t = type(e)
    if t in (ir.PageMem, ir.Global, ir.TaskLocal):
        out[describe(program, e)] = e
    elif t is ir.CallExpr:
        out[describe(program, e)] = e
    elif t is ir.Unary:
        _atoms(program, e.operand, out)  # type: ignore[union-attr]
    elif t is ir.Binary:
        _atoms(program, e.left, out)  # type: ignore[union-attr]
        _atoms(program, e.right, out)  # type: ignore[union-attr]


def describe(program: Program, e: ir.Expr) -> str:
    """Source-like text of an IR expression (for outcome labels)."""
    if isinstance(e, ir.Const):
        return str(e.value)
    if isinstance(e, ir.Global):
        return program.globals[e.index][0]
    if isinstance(e, ir.TaskLocal):
        info = program.contexts[e.ctx]
        name = next((n for n, s in info.outer_locals if s == e.slot), "?")
        return f"{info.name}.{name}"
    if isinstance(e, ir.PageRef):
        return program.pages[e.page].name
    if isinstance(e, ir.PageElem):
        base = program.pages[e.first].name.split("[")[0]
        return f"{base}[{describe(program, e.index)}]"
    if isinstance(e, ir.PageMem):
        return f"{describe(program, e.page)}[{describe(program, e.offset)}]"
    if isinstance(e, ir.PercpuVar):
        return program.percpus[e.index][0]
    if isinstance(e, ir.CallExpr):
        return f"{e.name}({', '.join(describe(program, a) for a in e.args)})"
    if isinstance(e, ir.Unary):
        return f"{e.op}{describe(program, e.operand)}"
    if isinstance(e, ir.Binary):
        return f"{describe(program, e.left)} {e.op} {describe(program, e.right)}"
    return "?"
