"""Whether a run has entered an execution that never ends.

`kmap run` and the schedule's replay of a witness stop where the
execution may have entered a bottom component (runtime/kernel/watchdog.py): at
the end of a schedule, and at a state its policy reached again. This
explores what is reachable from there, by `step` alone, and says whether
every state of it leads back (a component) or not (an execution from here
ends, or leaves for good).
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel.machine import enabled, step
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.state import State


CLOSURE_LIMIT = 20_000   # states a run explores to tell whether it can ever leave
# where a schedule's items end (a witness of `kmap check` being replayed):
# a loop as large as a search finds must be found
WITNESS_CLOSURE_LIMIT = 500_000


def closure(program: Program, state: State, limit: int = CLOSURE_LIMIT
            ) -> tuple[list[State], list[list[tuple[int, int]]]] | None:
    """The bottom component ``state`` belongs to, as (states, enabled
    actions of each), ``state`` first; None when it belongs to none (some
    execution from it ends, or leaves for good) or when more than
    ``limit`` states are reachable from it (then a run goes on as if it
    belonged to none). `kmap run` asks this where its execution may have
    entered a component: at the end of a schedule, and at a state its
    policy reached again."""
    return closure_cost(program, state, limit)[0]


def closure_cost(program: Program, state: State, limit: int = CLOSURE_LIMIT
                 ) -> tuple[tuple[list[State], list[list[tuple[int, int]]]] | None, int]:
    """``closure``, and how many states it explored to find out."""
    index = {state: 0}
    states = [state]
    steps: list[list[tuple[int, int]]] = [[]]
    succ: list[list[int]] = [[]]
    # depth-first, so that where an execution from here ends (the common
    # answer: a run that has not ended yet) a dead end is met soon
    todo = [0]
    while todo:
        k = todo.pop()
        acts = enabled(program, states[k])
        if not acts:
            return None, len(states)     # an execution from here ends
        steps[k] = acts
        mine = succ[k]
        for a in acts:
            t = step(program, states[k], a)[0]
            j = index.get(t)
            if j is None:
                if len(states) >= limit:
                    return None, len(states)
                j = index[t] = len(states)
                states.append(t)
                steps.append([])
                succ.append([])
                todo.append(j)
            mine.append(j)
    # every state reachable from `state` must lead back to it
    back: list[list[int]] = [[] for _ in states]
    for j, mine in enumerate(succ):
        for m in mine:
            back[m].append(j)
    seen = {0}
    todo = [0]
    while todo:
        for j in back[todo.pop()]:
            if j not in seen:
                seen.add(j)
                todo.append(j)
    if len(seen) != len(states):
        return None, len(states)
    return (states, steps), len(states)
