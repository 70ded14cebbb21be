"""A deliberately naive explorer: the oracle `kmap check` is compared with.

Nothing here comes from the checker's search (runtime/search/explore.py,
graph.py, memo.py, flat.py, parallel.py). It uses only the model's
public semantics: ``machine.enabled`` and ``machine.step`` from
``state.initial_state``, ``machine.final_state``, ``endless.stuck_reports``
(which contexts a never-ending execution leaves stuck, and the kernel
detector that speaks: model semantics, not search), ``expect.evaluate``,
``reports.label`` and ``outcome.collect_atoms``.

The search is the textbook one: breadth-first, every state kept as a
``State`` value in a dict, every enabled action taken, no reduction, no
memo, no fingerprints. Its ends are

- terminal states: no action is enabled;
- bottom strongly connected components: sets of states with at least
  one transition, strongly connected, that no transition leaves
  (Kosaraju's two depth-first passes, written iteratively).

Each end gets the outcome the language contract describes (runtime/
outcome.py's docstring is the specification; this is a second, plain
implementation of it), and each expectation its verdict over the set of
outcomes, as herd7 judges a litmus test's final states.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from kmap_scenarios.runtime.kernel import machine, program as ir, tlb
from kmap_scenarios.runtime.kernel.watchdog import stuck_reports
from kmap_scenarios.runtime.search.expect import ExpectError, evaluate
from kmap_scenarios.runtime.kernel.machine import Action
from kmap_scenarios.runtime.search.outcome import MIXED, Outcome, collect_atoms
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.reports import Kind, R, kind_of, label
from kmap_scenarios.runtime.kernel.state import State, initial_state


class TooBig(Exception):
    """More reachable states than the oracle was allowed to visit."""


@dataclass
class Graph:
    """The reachable state graph: state k, its enabled actions, the
    successor (a state number) of each, and its distance from the
    initial state."""

    states: list[State]
    actions: list[list[Action]]
    succ: list[list[int]]
    depth: list[int]


def naive_enabled(program: Program, s: State) -> list[Action]:
    """The contexts' actions of ``machine.enabled``, and an eviction of
    every TLB entry of every CPU whenever a context can step: the textbook
    rule that the hardware may evict at any moment (runtime/kernel/tlb.py),
    without machine._evictions' argument that only the moment before a
    step that uses the entry matters."""
    acts = [a for a in machine.enabled(program, s) if a[0] >= 0]
    if acts:
        acts += [(tlb.evict_action(slot), c)
                 for c, cpu in enumerate(s.cpus) for slot, _ in cpu.tlb]
    return acts


def reachable(program: Program, cap: int | None = None, anywhere: bool = False) -> Graph:
    """Every reachable state, breadth-first, every transition taken;
    ``anywhere``: with TLB evictions at every moment (``naive_enabled``)."""
    first = initial_state(program)
    number: dict[State, int] = {first: 0}
    g = Graph([first], [], [], [0])
    queue = deque([0])
    while queue:
        k = queue.popleft()
        s = g.states[k]
        acts = naive_enabled(program, s) if anywhere else machine.enabled(program, s)
        targets = []
        for a in acts:
            t, _ = machine.step(program, s, a)
            j = number.get(t)
            if j is None:
                if cap is not None and len(g.states) >= cap:
                    raise TooBig(f"more than {cap} states")
                j = number[t] = len(g.states)
                g.states.append(t)
                g.depth.append(g.depth[k] + 1)
                queue.append(j)
            targets.append(j)
        # states are numbered in the order they are first met, and BFS
        # dequeues them in that order: actions/succ line up with states
        assert len(g.actions) == k
        g.actions.append(list(acts))
        g.succ.append(targets)
    return g


def strongly_connected(succ: list[list[int]]) -> list[list[int]]:
    """Kosaraju: a depth-first pass records states in order of finishing;
    a second pass over the reversed graph, in reverse finishing order,
    collects one component per tree. Both passes use explicit stacks."""
    n = len(succ)
    done = [False] * n
    finished: list[int] = []
    for root in range(n):
        if done[root]:
            continue
        done[root] = True
        stack = [(root, 0)]
        while stack:
            v, i = stack.pop()
            if i < len(succ[v]):
                stack.append((v, i + 1))
                w = succ[v][i]
                if not done[w]:
                    done[w] = True
                    stack.append((w, 0))
            else:
                finished.append(v)
    pred: list[list[int]] = [[] for _ in range(n)]
    for v in range(n):
        for w in succ[v]:
            pred[w].append(v)
    comp = [-1] * n
    out: list[list[int]] = []
    for root in reversed(finished):
        if comp[root] >= 0:
            continue
        members = []
        comp[root] = len(out)
        todo = [root]
        while todo:
            v = todo.pop()
            members.append(v)
            for w in pred[v]:
                if comp[w] < 0:
                    comp[w] = len(out)
                    todo.append(w)
        out.append(sorted(members))
    return out


def bottom_components(g: Graph) -> list[list[int]]:
    """Components with at least one transition that no transition leaves."""
    out = []
    for members in strongly_connected(g.succ):
        inside = set(members)
        if not any(g.succ[v] for v in members):
            continue   # a terminal state, alone
        if all(w in inside for v in members for w in g.succ[v]):
            out.append(members)
    return out


def shown(name: str, v: int | None, bits: int) -> str:
    """A value as `kmap check` prints it: page bytes as 0x55, numbers
    above 9 in magnitude in hex, a large negative word as the unsigned
    address it holds, small ones in decimal; '?' when it cannot be
    evaluated."""
    if v is None:
        return "?"
    if name.endswith("]"):
        return "0x%02x" % v
    if v <= -0x10000:
        v &= (1 << bits) - 1
    if abs(v) > 9:
        return hex(v)
    return str(v)


def _value(program: Program, final: State, e: ir.Expr) -> int | None:
    try:
        return evaluate(program, final, e)
    except ExpectError:
        return None


def _conds(program: Program, final: State) -> list[bool | None]:
    if not program.expectations:
        return [bool(final.reports)]
    out: list[bool | None] = []
    for e in program.expectations:
        try:
            out.append(bool(evaluate(program, final, e.cond)))
        except ExpectError:
            out.append(None)
    return out


def _labels(program: Program, final: State) -> set[tuple[int, str]]:
    """(rank, label) of each report: the spec orders an outcome's reports
    by what the kernel printed (0), then the stuck contexts a detector
    names (1), then the ones no detector names (2), then by text."""
    return {(_rank(r.code), label(program, final, r)) for r in final.reports}


_QUIET = {int(R.LIVELOCK), int(R.STARVED), int(R.DEADLOCK_IRQ)}


def _rank(code: int) -> int:
    if kind_of(code) != Kind.DEADLOCK:
        return 0
    return 2 if code in _QUIET else 1


def _in_order(labels: set[tuple[int, str]]) -> tuple[str, ...]:
    out: list[str] = []
    for _, text in sorted(labels):
        if text not in out:
            out.append(text)
    return tuple(out)


def terminal_outcome(program: Program, s: State) -> Outcome:
    """The outcome of an execution that ends in terminal state ``s``."""
    final = machine.final_state(program, s)
    bits = program.config.preset.bits
    values = tuple((name, shown(name, _value(program, final, e), bits))
                   for name, e in collect_atoms(program))
    return Outcome(values, _in_order(_labels(program, final)),
                   tuple(_conds(program, final)), "final")


def component_outcome(program: Program, states: list[State],
                      steps: list[list[Action]]) -> Outcome:
    """The outcome of the executions that enter a bottom component: every
    value an atom takes at one of its states, every report, and each
    condition judged at every state."""
    stuck = stuck_reports(program, states, steps)
    finals = [machine.final_state(program, s, stuck) for s in states]
    bits = program.config.preset.bits
    values = []
    for name, e in collect_atoms(program):
        seen = {_value(program, f, e) for f in finals}
        known = sorted(v for v in seen if v is not None)
        parts = [shown(name, v, bits) for v in known]
        if None in seen:
            parts.append("?")
        values.append((name, "|".join(parts)))
    labels: set[tuple[int, str]] = set()
    for f in finals:
        labels |= _labels(program, f)
    per_state = [_conds(program, f) for f in finals]
    conds: list[bool | int | None] = []
    for k in range(len(per_state[0])):
        at = [c[k] for c in per_state]
        if any(c is None for c in at):
            conds.append(None)
        elif all(c is True for c in at):
            conds.append(True)
        elif all(c is False for c in at):
            conds.append(False)
        else:
            conds.append(MIXED)
    return Outcome(tuple(values), _in_order(labels), tuple(conds), "never")


def verdicts(program: Program, outcomes: set[Outcome]) -> list[bool]:
    """Each expectation over every outcome (no expect line: never any
    report). A condition that cannot be evaluated at some outcome fails."""
    quants = [e.quant for e in program.expectations] or ["never"]
    out = []
    for k, quant in enumerate(quants):
        conds = [o.conds[k] for o in outcomes]
        if any(c is None for c in conds):
            out.append(False)
            continue
        some_true = any(c is True or c == MIXED for c in conds)
        some_false = any(c is False or c == MIXED for c in conds)
        if quant == "sometimes":
            out.append(some_true)
        elif quant == "always":
            out.append(not some_false)
        else:
            assert quant == "never"
            out.append(not some_true)
    return out


@dataclass
class Judgement:
    """What the oracle found."""

    graph: Graph
    terminal: list[int]
    bottoms: list[list[int]]
    outcomes: set[Outcome]
    end_outcome: dict[int, Outcome]     # every end state -> its outcome
    reached: set[str]                   # labels of every report of every state
    verdicts: list[bool]


def judge(program: Program, cap: int | None = None, anywhere: bool = False) -> Judgement:
    """Explore naively and judge every expectation (``anywhere``: see
    ``reachable``)."""
    g = reachable(program, cap, anywhere)
    terminal = [k for k, acts in enumerate(g.actions) if not acts]
    bottoms = bottom_components(g)
    end_outcome: dict[int, Outcome] = {}
    for k in terminal:
        end_outcome[k] = terminal_outcome(program, g.states[k])
    for members in bottoms:
        o = component_outcome(program, [g.states[k] for k in members],
                              [g.actions[k] for k in members])
        for k in members:
            end_outcome[k] = o
    outcomes = set(end_outcome.values())
    reached = {label(program, s, r) for s in g.states for r in s.reports}
    return Judgement(g, terminal, bottoms, outcomes, end_outcome, reached,
                     verdicts(program, outcomes))


def reports_are_reachability(program: Program, j: Judgement) -> None:
    """Every report reached in a reachable state is part of the outcome of
    every execution through that state: reports never go away along a
    transition, each end's outcome holds its states' reports, and every
    state leads to an end (the graph is finite). Raises AssertionError."""
    g = j.graph
    for v, targets in enumerate(g.succ):
        mine = set(g.states[v].reports)
        for w in targets:
            lost = mine - set(g.states[w].reports)
            assert not lost, f"a transition drops reports {lost}"
    for k, o in j.end_outcome.items():
        missing = {label(program, g.states[k], r) for r in g.states[k].reports} - set(o.reports)
        assert not missing, f"an end's outcome lacks its reports {missing}"
    everywhere: set[str] = set()
    for o in j.outcomes:
        everywhere |= set(o.reports)
    assert j.reached <= everywhere, f"reached but in no outcome: {j.reached - everywhere}"


def check_witness(program: Program, j: Judgement, outcome: Outcome, path: list[Action],
                  shortest: bool = True) -> None:
    """``path`` is a shortest execution to an end with ``outcome``: each
    action enabled where it is taken, ending at a terminal state or at
    the first state it meets of a bottom component, with that outcome,
    in as few steps as any. Raises AssertionError."""
    g = j.graph
    number = {s: k for k, s in enumerate(g.states)}
    k = 0
    for n, a in enumerate(path):
        assert k not in j.end_outcome, f"the witness goes on after an end, at step {n}"
        assert a in g.actions[k], f"step {n}: {a} is not enabled"
        k = number[machine.step(program, g.states[k], a)[0]]
    assert j.end_outcome.get(k) == outcome, "the witness does not end with its outcome"
    nearest = min(g.depth[e] for e, o in j.end_outcome.items() if o == outcome)
    assert len(path) == nearest or not shortest and len(path) > nearest, f"a witness of {len(path)} steps, the shortest has {nearest}"
