"""Completion: what may be written at a position.

Inside ``config { }``: the config keys, or after ``KEY =`` that key's
values. After ``TASK.`` in an expectation: the task's outermost locals.
Elsewhere: the names in scope at the position (dsl/lsp/index.py: locals,
parameters, pages, globals, locks, functions; tasks in a schedule or an
expectation), the built-ins, allocators, constants, keywords and type
words (dsl/syntax/names.py), and in an expectation the report kinds.
Items are plain data here; dsl/lsp/server.py makes them LSP items.
"""

from __future__ import annotations

from dataclasses import dataclass

from kmap_scenarios.dsl.lsp import hover, reference
from kmap_scenarios.dsl.lsp.analysis import Pos
from kmap_scenarios.dsl.lsp.index import Index
from kmap_scenarios.dsl.lsp.words import before, config_key_before, in_config, member_before
from kmap_scenarios.dsl.syntax import names
from kmap_scenarios.runtime.kernel import config


@dataclass(frozen=True)
class Item:
    """``kind`` is one of keyword, type, function, constant, variable,
    property (a config key), value (a config value), event (a report
    kind), module (a task) and label."""

    label: str
    kind: str
    detail: str
    doc: str = ""


_TASK_KINDS = ("task", "irq", "softirq")


def complete(lines: list[str], pos: Pos, idx: Index | None) -> list[Item]:
    head = before(lines, pos)
    if in_config(head):
        key = config_key_before(head)
        return _config_values(key) if key is not None else _config_keys()
    task = member_before(head)
    if task is not None:
        if idx is None:
            return []
        return [Item(s.name, "variable", s.detail) for s in idx.symbols
                if s.owner == task and s.outer]
    items: list[Item] = []
    seen: set[str] = set()
    # by the index, or by the line's first word when the line does not parse
    first = lines[pos.line].split(None, 1)[0] if pos.line < len(lines) and lines[pos.line].strip() \
        else ""
    expect = first == "expect" or (idx is not None and idx.in_expect(pos))
    schedule = first == "schedule" or (idx is not None and idx.in_schedule(pos))
    if idx is not None:
        for s in idx.visible(pos):
            if s.name in seen or s.kind == "label":
                continue
            if s.kind in _TASK_KINDS and not (expect or schedule or s.kind == "softirq"):
                continue
            if schedule and s.kind not in _TASK_KINDS:
                continue   # a schedule names tasks, irqs and softirqs only
            seen.add(s.name)
            kind = "function" if s.kind == "function" else \
                "module" if s.kind in _TASK_KINDS else "variable"
            items.append(Item(s.name, kind, s.detail))
    if schedule:
        return items
    items += [Item(b, "function", reference.BUILTINS[b][0], hover.builtin(b))
              for b in sorted(names.BUILTINS) if b not in seen]
    items += [Item(a, "function", f"{a}(...)", "allocator") for a in names.ALLOCATORS]
    items += [Item(c, "constant", str(v)) for c, v in sorted(names.CONSTANTS.items())]
    items += [Item(c, "constant", "config value") for c in names.CONFIG_NAMES]
    if expect:
        items += [Item(r, "event", "report kind", hover.report(r)) for r in names.REPORT_KINDS]
    words = {w for w in names.KEYWORDS if w not in names.BUILTINS}
    items += [Item(k, "keyword", "keyword") for k in sorted(words)]
    items += [Item(t, "type", "type") for t in names.TYPE_WORDS]
    return items


def _config_keys() -> list[Item]:
    return [Item(k, "property", reference.CONFIG_KEYS[k][0], hover.config_key(k))
            for k in config.KEYS]


def _config_values(key: str) -> list[Item]:
    if key in config.BOOL_KEYS:
        return [Item("y", "value", "yes"), Item("n", "value", "no")]
    return [Item(v, "value", key) for v in config.NAME_KEYS.get(key, ())]
