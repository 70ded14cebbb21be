"""Phase 1's view of the model, shared by the explorer and its --jobs
workers (runtime/search/explore.py, runtime/search/parallel.py): flat states and their
steps (``Stepper``), the limits' check intervals, the progress line.
"""

from __future__ import annotations

import sys
import time

from kmap_scenarios.runtime.search import vacuity
from kmap_scenarios.runtime.search.flat import Codec, Flat
from kmap_scenarios.runtime.kernel.machine import Action, enabled, step
from kmap_scenarios.runtime.search.memo import EnabledMemo, StepMemo
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.state import initial_state


# A state is expanded in the tight loop of Explorer._build when it has at
# most FANOUT enabled actions; one with more (a thousand tasks) takes the
# loop that looks at the limits every CHECK_FANOUT successors, since its
# expansion alone can take seconds. The tight loop looks at them when
# CHECK_WORK successors have been made since the last look.
FANOUT = 64
CHECK_FANOUT = 32
CHECK_WORK = 256
# The later phases look at the limits every CHECK_LOOP turns of their
# loops (a turn: about a microsecond), and array passes go CHUNK at a time.
CHECK_LOOP = 4096
CHECK_STEPS = 64   # where each turn is a step() (tens of microseconds)
CHUNK = 1 << 20


class Stepper:
    """Phase 1's view of the model: flat states (runtime/search/flat.py), their
    enabled actions and successors, memoized unless ``memo`` is off (then
    every step runs the handlers on the decoded state)."""

    def __init__(self, program: Program, memo: bool,
                 pool: dict[tuple[Action, ...], tuple[Action, ...]], shared: bool = False) -> None:
        self.p = program
        self.codec = Codec(initial_state(program), shared)
        self.memo = StepMemo(program, self.codec) if memo else None
        self._enabled = EnabledMemo(program, self.codec, pool) if memo else None
        self.pool = pool
        self._cover = vacuity.Coverage()   # without the memo: noted step by step

    def enabled(self, flat: Flat) -> tuple[Action, ...]:
        """The enabled actions, one shared tuple per distinct set."""
        if self._enabled is not None:
            return self._enabled.enabled(flat)
        s = self.codec.decode(flat)
        acts = tuple(enabled(self.p, s))
        vacuity.note(self.p, self._cover, s.ctxs, acts)
        return self.pool.setdefault(acts, acts)

    def step(self, flat: Flat, a: Action) -> Flat:
        if self.memo is not None:
            return self.memo.step(flat, a)
        s = self.codec.decode(flat)
        ran: list[int] = []
        if a[0] >= 0:   # not a TLB eviction (runtime/kernel/tlb.py): no code runs
            self._cover.executed.add((a[0], s.ctxs[a[0]].pc))
        t = step(self.p, s, a, ran=ran)[0]
        self._cover.executed.update((a[0], pc) for pc in ran)
        return self.codec.encode(t)

    def coverage(self) -> vacuity.Coverage:
        """What the steps taken so far executed and the states met did
        (runtime/search/vacuity.py), read off the memos when there are."""
        if self.memo is None or self._enabled is None:
            return self._cover
        e = self._enabled
        return vacuity.Coverage(set(self.memo.ran),
                                vacuity.from_enabled_memo(self.p, e.table, e.views))


FAR = 1 << 62   # the distance to an end no execution from here reaches


def show_progress(states: int, start: float, about: bool = False) -> None:
    """The progress line on stderr (asked for only on a terminal), over
    itself each time; ``about``: a count estimated from one worker's."""
    rate = states / max(time.monotonic() - start, 1e-9)
    sys.stderr.write(f"\rkmap check: {'about ' if about else ''}{states} states, "
                     f"{rate:,.0f} states/s ")
    sys.stderr.flush()
