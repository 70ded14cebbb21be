"""Helpers for tests that run small scenarios written inline."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from kmap_scenarios.dsl.lower.load import load_text
from kmap_scenarios.dsl.formats import run_text as report
from kmap_scenarios.runtime.search import explore as ex
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.reports import Kind, headline, kind_of, render
from kmap_scenarios.runtime.search.schedule import Execution, encode, execute, parse_items
from kmap_scenarios.runtime.kernel.state import State, body_locals


def program(src: str, path: str = "t.kmap") -> Program:
    return load_text(src, path)


def run(src: str, schedule: str | None = None) -> tuple[Program, Execution]:
    p = program(src)
    items = parse_items(p, schedule) if schedule else p.schedule
    return p, execute(p, items)


def final(src: str, schedule: str | None = None) -> tuple[Program, State]:
    p, e = run(src, schedule)
    assert e.final is not None
    return p, e.final


def after(src: str, steps: int) -> State:
    """The state after the first ``steps`` enabled actions, each the first
    of its state (with one task: that task's first steps)."""
    from kmap_scenarios.runtime.kernel import machine
    from kmap_scenarios.runtime.kernel.state import initial_state
    p = program(src)
    s = initial_state(p)
    for _ in range(steps):
        s, _ = machine.step(p, s, machine.enabled(p, s)[0])
    return s


def kinds(p: Program, s: State) -> list[str]:
    """Report kinds in order of the sorted report multiset."""
    return [kind_of(r.code).name for r in s.reports]


def texts(p: Program, s: State) -> list[str]:
    return [render(p, s, r) for r in s.reports]


def heads(p: Program, s: State) -> list[str]:
    return [headline(p, s, r) for r in s.reports]


def events(e: Execution) -> list[str]:
    return [ev for t in e.trace for ev in t.events]


def local(p: Program, s: State, task: str, var: str) -> int:
    ci = p.context_index(task)
    assert ci is not None
    slot = dict(p.contexts[ci].outer_locals)[var]
    return body_locals(s.ctxs[ci])[slot]


def page(p: Program, name: str) -> int:
    return next(i for i, pg in enumerate(p.pages) if pg.name == name)


def pkmap_count(p: Program, s: State, name: str) -> int:
    pfn = p.pages[page(p, name)].pfn
    return s.pkmap_count[s.pkmap_pte.index(pfn + 1)] if pfn + 1 in s.pkmap_pte else 0


def slot_of(p: Program, s: State, name: str) -> int:
    pfn = p.pages[page(p, name)].pfn
    return s.pkmap_pte.index(pfn + 1) if pfn + 1 in s.pkmap_pte else -1


def check(src: str, reduce: bool = True, **kw: object) -> tuple[Program, ex.Result]:
    p = program(src)
    return p, ex.explore(p, ex.Options(reduce=reduce, **kw))  # type: ignore[arg-type]


def verdicts(p: Program, s: State) -> list[bool | None]:
    return [h for _, h, _ in report.verdicts_for(p, s)]


__all__ = ["Kind"]


def diags(src: str, path: str = "t.kmap") -> list:  # type: ignore[type-arg]
    """The diagnostics of a file the front end refuses."""
    import pytest
    from kmap_scenarios.dsl.syntax.source import InputError
    with pytest.raises(InputError) as info:
        program(src, path)
    return list(info.value.diagnostics)


def replays(p: Program, r: ex.Result) -> None:
    """Every witness, as `kmap check` prints its schedule, replays through
    `kmap run --schedule`'s path to its outcome: a final state's, or the
    loop it never leaves."""
    observer = ex.Explorer(p, ex.Options()).observer
    for outcome, path in r.witnesses.items():
        text = encode(p, path)
        e = execute(p, parse_items(p, text), trace=False)
        assert e.actions == path, text
        assert e.final is not None, text
        if outcome.ends == "never":
            assert e.endless is not None and observer.endless(e.endless) == outcome, text
        else:
            assert e.endless is None and observer.outcome(e.final) == outcome, text


def cut_searches(monkeypatch: Any, p: Program, opts: ex.Options,
                 at: Iterable[int]) -> Iterator[tuple[int, ex.Result]]:
    """The search of ``p`` under ``opts`` cut by a time limit at the k-th
    look at the limits, for each k of ``at`` (the limits looked at after
    every successor: explore.CHECK_WORK 1), with its result; a search
    that ends before it is not cut (``bounded`` empty)."""
    from kmap_scenarios.runtime.search import explore as explore_mod
    from kmap_scenarios.runtime.search.limits import Cut, Limits
    for k in at:
        calls = [0]

        def check(self: Limits, k: int = k) -> None:
            calls[0] += 1
            if calls[0] == k:
                raise Cut("time")

        with monkeypatch.context() as m:
            m.setattr(explore_mod, "CHECK_WORK", 1)
            m.setattr(Limits, "check", check)
            r = ex.explore(p, opts)
        yield k, r
