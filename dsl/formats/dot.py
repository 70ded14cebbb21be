"""`kmap check --dot FILE`: the explored state graph as Graphviz DOT
(docs/pictures.md); with `--dot-witness`, only the witness paths.

A node is a state, labelled ``sN`` (its number in the search; along
witness paths, in order of appearance) and one word per task or irq: the
source line it is at, or ``done``, ``dead``, ``pending`` (an irq not
fired), ``quiet`` (a softirq not raised), ``waits`` (asleep); then how
many reports the state holds. An edge is a step, labelled ``CTX@cpuN``.

- the initial state: an arrow from a point (``start``), drawn bold;
- an end of an execution (nothing can step, or a state of a set the
  execution never leaves): a double border, filled with a colour per
  outcome, labelled with the outcome as `kmap check` prints it;
- a violating state, red: one that holds a report, or an end where an
  expectation fails (an `always` whose condition is false, a `never`
  whose condition is true, one that cannot be evaluated); an edge whose
  step adds a report is red and names it;
- a state a bound left unexpanded: dashed.

States are rebuilt by stepping along a breadth-first tree from the
initial state (the search keeps none). Deterministic: nodes in state
order, edges in the order of each state's enabled actions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from kmap_scenarios.runtime.kernel import reports as rr
from kmap_scenarios.runtime.kernel.machine import Action, step
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.state import Report, State, Status, initial_state
from kmap_scenarios.runtime.search.explore import Outcome, StateGraph
from kmap_scenarios.runtime.search.schedule import context_name

MAX_STATES = 5000   # more is no picture a person reads (and dot takes minutes)

# light fills, one per outcome (in the order `kmap check` sorts them), reused past the end
PALETTE = ("#d8ecff", "#e2f5d8", "#fff2c8", "#eadcff", "#d8f5f0", "#ffe4cc", "#f0f0f0")
RED = "#d00000"
RED_FILL = "#ffe0e0"


class TooLarge(Exception):
    """More states than MAX_STATES: no picture."""

    def __init__(self, states: int) -> None:
        self.states = states
        super().__init__(f"{states} states")


def quote(text: str) -> str:
    """A DOT double-quoted string (newlines as \\n, centred lines)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def state_words(program: Program, state: State) -> str:
    """One word per task or irq: its line, or what it is doing."""
    words = []
    for ci, info in enumerate(program.contexts):
        ctx = state.ctxs[ci]
        st = Status(ctx.status)
        if st == Status.READY or (st == Status.WAIT_PKMAP or st == Status.WAIT_MUTEX):
            code = info.code
            line = code[ctx.pc].loc.line if 0 <= ctx.pc < len(code) else 0
            word = f"{line}" + (" waits" if st != Status.READY else "")
        else:
            word = {Status.DONE: "done", Status.DEAD: "dead", Status.PENDING: "pending",
                    Status.QUIET: "quiet"}.get(st, st.name.lower())
        words.append(f"{info.name}:{word}")
    return " ".join(words)


def violating_end(program: Program, out: Outcome) -> bool:
    """Whether this end has a report (its contexts stuck there included)
    or an expectation fails at it (`sometimes` never fails at one end: it
    needs them all)."""
    if out.reports:
        return True
    quants = [e.quant for e in program.expectations] or ["never"]
    for k, q in enumerate(quants):
        if out.conds[k] is None:
            return True
        if (q == "always" and out.violates(k)) or (q == "never" and out.satisfies(k)):
            return True
    return False


def _added(before: State, after: State) -> list[Report]:
    return list((Counter(after.reports) - Counter(before.reports)).elements())


class _Writer:
    """Nodes and edges as DOT lines."""

    def __init__(self, program: Program, title: str) -> None:
        self.p = program
        self.lines = [f"digraph {quote(program.name)} {{",
                      f"  label={quote(title)};",
                      "  labelloc=t;",
                      '  node [shape=box, fontname="monospace", fontsize=10];',
                      '  edge [fontname="monospace", fontsize=9];',
                      "  start [shape=point, width=0.1];",
                      "  start -> s0 [penwidth=2];"]
        self.outcomes: dict[Outcome, int] = {}

    def node(self, sid: int, state: State, end: Outcome | None, cut: bool,
             bad_end: bool = False) -> None:
        label = [f"s{sid}", state_words(self.p, state)]
        if state.reports:
            n = len(state.reports)
            label.append(f"{n} report{'s' if n != 1 else ''}")
        attrs = []
        violating = bool(state.reports) or bad_end or \
            (end is not None and violating_end(self.p, end))
        if end is not None:
            k = self.outcomes.setdefault(end, len(self.outcomes))
            label.append(("end: " if end.ends != "never" else "never ends: ") + end.text())
            fill = PALETTE[k % len(PALETTE)]
            attrs += ["peripheries=2", "style=filled", f"fillcolor={quote(fill)}"]
        elif violating:
            attrs += ["style=filled", f"fillcolor={quote(RED_FILL)}"]
        if cut:
            label.append("(cut by a bound)")
            attrs = [a for a in attrs if not a.startswith("style=")] + \
                ['style="dashed' + (',filled"' if any(a.startswith("fillcolor") for a in attrs)
                                    else '"')]
        if violating:
            attrs += [f"color={quote(RED)}", f"fontcolor={quote(RED)}", "penwidth=2"]
        if sid == 0 and not violating:
            attrs.append("penwidth=2")
        self.lines.append(f"  s{sid} [label={quote(chr(10).join(label))}"
                          + "".join(f", {a}" for a in attrs) + "];")

    def edge(self, a: int, b: int, action: Action, added: list[Report], after: State,
             extra: str = "") -> None:
        ci, cpu = action
        label = f"{context_name(self.p, ci)}@cpu{cpu}"
        attrs = []
        if added:
            label += "\n" + "\n".join(rr.label(self.p, after, r) for r in added)
            attrs += [f"color={quote(RED)}", f"fontcolor={quote(RED)}", "penwidth=2"]
        self.lines.append(f"  s{a} -> s{b} [label={quote(label)}" + "".join(f", {x}" for x in attrs)
                          + extra + "];")

    def text(self) -> str:
        return "\n".join(self.lines + ["}"]) + "\n"


def graph_dot(program: Program, g: StateGraph, title: str) -> str:
    """The whole explored graph; TooLarge past MAX_STATES states."""
    n = len(g.acts)
    if n > MAX_STATES:
        raise TooLarge(n)
    states: dict[int, State] = {0: initial_state(program)}
    order = [0]
    for sid in order:   # breadth-first: each state made from the first that reaches it
        base = g.off[sid]
        if base < 0:
            continue
        for i, a in enumerate(g.acts[sid]):
            c = g.dst[base + i]
            if c >= 0 and c not in states:
                states[c] = step(program, states[sid], a)[0]
                order.append(c)
    w = _Writer(program, title)
    for out in sorted(set(g.ends.values()), key=Outcome.text):
        w.outcomes[out] = len(w.outcomes)
    for sid in sorted(states):
        # never expanded and no end (a terminal state has no successors),
        # or with a successor a bound did not make
        base = g.off[sid]
        cut = sid not in g.ends and not g.acts[sid] if base < 0 else \
            any(g.dst[base + i] < 0 for i in range(len(g.acts[sid])))
        w.node(sid, states[sid], g.ends.get(sid), cut)
    for sid in sorted(states):
        base = g.off[sid]
        if base < 0:
            continue
        for i, a in enumerate(g.acts[sid]):
            c = g.dst[base + i]
            if c < 0 or c not in states:
                continue
            w.edge(sid, c, a, _added(states[sid], states[c]), states[c])
    return w.text()


def witness_dot(program: Program, paths: Sequence[tuple[str, list[Action], Outcome | None, bool]],
                title: str) -> str:
    """Only the witness paths, ``(label, actions, outcome at its end or
    None, whether an expectation fails there)``: states shared by two
    paths (equal states) drawn once; with several paths, each edge
    carries the numbers of the paths through it (the title lists them)."""
    ids: dict[State, int] = {}
    first = initial_state(program)
    ids[first] = 0
    nodes: list[State] = [first]
    ends: dict[int, tuple[Outcome | None, bool]] = {}
    edges: dict[tuple[int, int, Action], list[int]] = {}
    for k, (_, path, out, bad) in enumerate(paths, 1):
        s, sid = first, 0
        for a in path:
            t = step(program, s, a)[0]
            tid = ids.get(t)
            if tid is None:
                tid = ids[t] = len(nodes)
                nodes.append(t)
                if len(nodes) > MAX_STATES:
                    raise TooLarge(len(nodes))
            edges.setdefault((sid, tid, a), []).append(k)
            s, sid = t, tid
        old = ends.get(sid, (None, False))
        ends[sid] = (out or old[0], bad or old[1])
    legend = [title] + [f"path {k}: {label}" for k, (label, _, _, _) in enumerate(paths, 1)]
    w = _Writer(program, "\n".join(legend))
    for out in sorted({o for o, _ in ends.values() if o is not None}, key=Outcome.text):
        w.outcomes[out] = len(w.outcomes)
    for sid, state in enumerate(nodes):
        out, bad = ends.get(sid, (None, False))
        w.node(sid, state, out, False, bad)
    for (src, to, action), ks in edges.items():
        w.edge(src, to, action, _added(nodes[src], nodes[to]), nodes[to],
               f", taillabel={quote(','.join(map(str, ks)))}" if len(paths) > 1 else "")
    return w.text()
