"""The tokens of a concrete parse tree, in source order, each with where
it sits: its rule, the rule around that, its nesting level and whether
it starts a statement or a top-level item.

The walk keeps its own stack: a chain of binary operators thousands long
is a tree as deep, and must not exhaust Python's.
"""

from __future__ import annotations

from dataclasses import dataclass

from lark import Token, Tree

# Statements that end with a `;` of the enclosing block (the grammar's _simple).
SIMPLE = frozenset({"var_decl", "assign", "inc_dec", "expr_stmt", "return_stmt", "goto_stmt",
                    "break_stmt", "continue_stmt"})
# Trees whose children are statements, one a line, a level deeper.
BODIES = frozenset({"block", "braceless", "switch_stmt"})
LABELS = frozenset({"case_label", "default_label"})


@dataclass
class Tok:
    """One token of the file and its place in the tree."""

    text: str
    kind: str                 # the Lark terminal type (NAME, NUMBER, LPAR, ...)
    start: int                # character offsets in the source
    end: int
    rule: str                 # the tree it is a child of
    parent: Tree[Token]
    grand: Tree[Token] | None  # the tree around that
    level: int                # indentation level of a line it would start
    stmt: bool = False        # it starts a statement of a body
    item: bool = False        # it starts a top-level item
    label: bool = False       # it starts a goto label (printed in column 1)


def flatten(tree: Tree[Token]) -> list[Tok]:
    """Every token of ``tree`` in order."""
    out: list[Tok] = []
    stack = [_Frame(tree, 0, None)]
    starts: list[str] = []   # what the next token starts: "stmt", "item", "label"
    while stack:
        frame = stack[-1]
        node, i = frame.node, frame.next
        if i >= len(node.children):
            stack.pop()
            continue
        frame.next += 1
        child = node.children[i]
        if child is None:
            continue
        rule = frame.rule
        body = frame.lo < i < frame.hi   # inside the braces of a body
        if isinstance(child, Tree):
            sub = str(child.data)
            if rule == "start":
                starts.append("item")
            elif body:
                starts.append("label" if sub == "label_stmt" else "stmt")
            deeper = (body or rule == "config") and sub not in LABELS
            stack.append(_Frame(child, frame.level + deeper, node))
            continue
        tok = Tok(str(child), child.type, _pos(child.start_pos), _pos(child.end_pos), rule, node,
                  frame.up, frame.level + body)
        before = node.children[i - 1]
        if body and str(child) == ";" and not (isinstance(before, Tree)
                                               and str(before.data) in SIMPLE):
            starts.append("stmt")   # an empty statement
        tok.stmt = "stmt" in starts or "label" in starts
        tok.item = "item" in starts
        tok.label = "label" in starts
        starts = []
        out.append(tok)
    return out


class _Frame:
    """A tree being walked: the next child, its level, and the range of
    children inside its body's braces (none for other trees)."""

    __slots__ = ("node", "rule", "next", "level", "up", "lo", "hi")

    def __init__(self, node: Tree[Token], level: int, up: Tree[Token] | None) -> None:
        self.node, self.rule, self.next, self.level, self.up = node, str(node.data), 0, level, up
        self.lo, self.hi = 0, 0
        kids = node.children
        if self.rule == "braceless":
            self.lo, self.hi = -1, len(kids)
        elif self.rule in ("block", "switch_stmt", "config"):
            self.lo = next(k for k, c in enumerate(kids) if isinstance(c, Token) and str(c) == "{")
            self.hi = len(kids) - 1


def _pos(value: int | None) -> int:
    assert value is not None
    return value
