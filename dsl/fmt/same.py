"""A file's AST without positions, to compare two texts' meaning.

Spans and the path are dropped; everything else (names, values, types,
the order of items and statements) is kept. Iterative: an expression
chain thousands of operators long is a tree as deep.
"""

from __future__ import annotations

import dataclasses

from kmap_scenarios.dsl.syntax import nodes

_DROPPED = frozenset({"path"})


def shape(tree: nodes.File) -> object:
    """Nested tuples of the AST's fields but its spans and path."""
    # post-order over (value, done) with an explicit stack
    out: list[object] = []
    stack: list[tuple[object, bool]] = [(tree, False)]
    while stack:
        value, expanded = stack.pop()
        if isinstance(value, nodes.Span):
            continue
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = [f.name for f in dataclasses.fields(value)
                      if f.name not in _DROPPED and not isinstance(getattr(value, f.name), nodes.Span)]
            if expanded:
                kids = [out.pop() for _ in fields][::-1]
                out.append((type(value).__name__, tuple(zip(fields, kids))))
            else:
                stack.append((value, True))
                stack.extend((getattr(value, f), False) for f in reversed(fields))
            continue
        if isinstance(value, tuple):
            if expanded:
                n = len(value)
                kids = [out.pop() for _ in range(n)][::-1]
                out.append(("tuple", tuple(kids)))
            else:
                stack.append((value, True))
                stack.extend((v, False) for v in reversed(value))
            continue
        out.append(value)
    assert len(out) == 1
    return out[0]
