"""Algorithms over the explored state graph, in its compact layout.

The graph (runtime/search/explore.py) is three arrays: ``acts[s]`` the enabled
actions of state s, ``off[s]`` the position of its first successor in
``dst`` (-1: not expanded: a terminal state, or one a bound left), and
``dst[off[s] + i]`` the successor by ``acts[s][i]`` (-1: the transition
was cut by a bound). No recursion: graphs have millions of states.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Sequence

CHECK_EVERY = 4096   # states between two calls of a ``check`` (runtime/search/limits.py)


def bottom_components(acts: Sequence[tuple[object, ...]], off: Sequence[int],
                      dst: Sequence[int], check: Callable[[], None] | None = None
                      ) -> list[list[int]]:
    """The bottom strongly connected components that are not dead ends:
    sets of states with at least one transition, every transition of
    every member staying inside, none cut by a bound and no member left
    unexpanded. Tarjan's algorithm, iterative; each component's states in
    increasing order, components in order of their lowest state.

    A component is closed when its root's search ends, after every
    component its members lead to: a member with an edge into a component
    closed before (or a cut edge, or no expansion) is marked, and a
    component with a marked member is not bottom. ``check`` is called
    every CHECK_EVERY states met (runtime/search/limits.py: it raises to stop)."""
    n = len(acts)
    index = array("q", [-1]) * n
    low = array("q", [0]) * n
    on_stack = bytearray(n)
    leaves = bytearray(n)       # 1: some edge from here leaves the component or is cut
    comp_stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        index[root] = low[root] = counter
        counter += 1
        comp_stack.append(root)
        on_stack[root] = 1
        o = off[root]
        work = [[root, o, o + len(acts[root]) if o >= 0 else o]]
        while work:
            f = work[-1]
            v, pos, end = f
            if off[v] < 0:
                leaves[v] = 1          # a dead end or unexpanded: nothing to follow
            pushed = False
            while pos < end:
                w = dst[pos]
                pos += 1
                if w < 0:
                    leaves[v] = 1      # cut by a bound
                    continue
                if index[w] < 0:
                    f[1] = pos
                    index[w] = low[w] = counter
                    counter += 1
                    if not counter % CHECK_EVERY and check is not None:
                        check()
                    comp_stack.append(w)
                    on_stack[w] = 1
                    ow = off[w]
                    work.append([w, ow, ow + len(acts[w]) if ow >= 0 else ow])
                    pushed = True
                    break
                if on_stack[w]:
                    if index[w] < low[v]:
                        low[v] = index[w]
                else:
                    leaves[v] = 1      # into a component closed before: not bottom
            if pushed:
                continue
            f[1] = pos
            work.pop()
            if low[v] == index[v]:
                members = []
                bottom = True
                while True:
                    w = comp_stack.pop()
                    on_stack[w] = 0
                    members.append(w)
                    if leaves[w]:
                        bottom = False
                    if w == v:
                        break
                if bottom:
                    out.append(sorted(members))
                if work:
                    leaves[work[-1][0]] = 1   # the edge into v left its parent's component
            else:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
    out.sort(key=lambda c: c[0])
    return out


def acyclic(acts: Sequence[tuple[object, ...]], off: Sequence[int], dst: Sequence[int],
            check: Callable[[], None] | None = None) -> bool:
    """Whether the graph has no cycle (a self-loop is one): depth-first
    with three colours, iterative, stopping at the first edge back to a
    state on the stack. Cheaper than bottom_components (no low links, no
    component stack), which a graph without a cycle does not need: phase
    1's test (an edge to a state first met no deeper) also flags the
    graphs where interleavings of different lengths meet, and is only
    a "maybe". ``check`` is called every CHECK_EVERY states met."""
    n = len(acts)
    colour = bytearray(n)   # 0 not met, 1 on the stack, 2 done
    met = 0
    for root in range(n):
        if colour[root]:
            continue
        colour[root] = 1
        o = off[root]
        work = [[root, o, o + len(acts[root]) if o >= 0 else o]]
        while work:
            f = work[-1]
            v, pos, end = f
            while pos < end:
                w = dst[pos]
                pos += 1
                if w < 0:
                    continue       # cut by a bound
                c = colour[w]
                if c == 1:
                    return False   # back to the stack: a cycle
                if not c:
                    f[1] = pos
                    colour[w] = 1
                    met += 1
                    if not met % CHECK_EVERY and check is not None:
                        check()
                    ow = off[w]
                    work.append([w, ow, ow + len(acts[w]) if ow >= 0 else ow])
                    break
            else:
                colour[v] = 2
                work.pop()
    return True


def bfs_parents(acts: Sequence[tuple[object, ...]], off: Sequence[int], dst: Sequence[int],
                wanted: set[int] | None = None, check: Callable[[], None] | None = None
                ) -> tuple[array[int], array[int], bytearray]:
    """Breadth-first from state 0 over every transition: for each state
    reached, the state it was first reached from and the position of that
    action in its enabled actions (the lexicographically first shortest
    path, by action positions). Stops once every state of ``wanted`` is
    reached. Returns (parent, via, seen). ``check`` is called every
    CHECK_EVERY states dequeued."""
    n = len(acts)
    parent = array("q", bytes(8 * n))
    via = array("q", bytes(8 * n))
    seen = bytearray(n)
    if not n:
        return parent, via, seen
    seen[0] = 1
    left = set(wanted) if wanted is not None else None
    if left is not None:
        left.discard(0)
    queue = deque([0])
    done = 0
    while queue and (left is None or left):
        sid = queue.popleft()
        done += 1
        if not done % CHECK_EVERY and check is not None:
            check()
        base = off[sid]
        if base < 0:
            continue
        for i in range(len(acts[sid])):
            child = dst[base + i]
            if child >= 0 and not seen[child]:
                seen[child] = 1
                parent[child] = sid
                via[child] = i
                queue.append(child)
                if left is not None:
                    left.discard(child)
    return parent, via, seen


def path_to(acts: Sequence[tuple[object, ...]], parent: Sequence[int], via: Sequence[int],
            sid: int) -> list[object]:
    """The actions from state 0 to ``sid`` along ``parent``."""
    path = []
    while sid:
        prev = parent[sid]
        path.append(acts[prev][via[sid]])
        sid = prev
    return path[::-1]
