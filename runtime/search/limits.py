"""The limits of one `kmap check`: its wall time, a first Ctrl-C, its memory.

One ``Limits`` per command, shared by every phase of the search
(runtime/search/explore.py, runtime/search/parallel.py). Each loop that can run long
calls ``check()`` every so many units of work (a state, a successor, a
queued state); ``check()`` raises ``Cut`` with the bound reached, and
the phase in progress stops where it is, leaving what it finished.

The budget of ``--timeout S`` (docs/language.md section 12, "Limits"):
the whole command, the counting and the witnesses included,
ends within S plus a few tenths of a second (the printing of what was
found, the program's exit). Building the graph (phase 1) is cut early
enough (``build_share``) for the later phases to end by ``COUNT_SHARE``
of S, from what they cost against phase 1 on the benchmark's largest
rungs (docs/performance.md, "Limits"). The components, the sleep-set
search and the counting are cut at ``COUNT_SHARE`` of S, so that the
witnesses still have time; they and everything else at S. A first
Ctrl-C stops phase 1 at once and leaves the later phases ``GRACE``
seconds. Memory: phase 1 stops at ``BUILD_MEMORY`` of the ceiling (the
visited set, freed after it, is larger than what the later phases
allocate); the later phases are cut at the ceiling itself.
"""

from __future__ import annotations

import os
import resource
import time

COUNT_SHARE = 0.85     # of --timeout: phase 1, components, sleep sets and counting
# What the later phases cost against phase 1, in processor time, on the
# benchmark's largest rungs cut at 300,000 to 750,000 states: 1.02 to 1.05
# with sleep sets (several CPUs, reduction: the sleep-set search is a
# search of its own), 0.31 to 0.39 without (one CPU, or --no-reduce).
LATER_SLEEP = 1.1
LATER_PLAIN = 0.5
GRACE = 0.4            # seconds the later phases have after a first Ctrl-C
BUILD_MEMORY = 0.8     # of the memory ceiling: phase 1
DEFAULT_MEMORY = 0.8   # of the machine's (or the cgroup's) memory: the default ceiling
ADDRESS_SPACE = 0.9    # of RLIMIT_AS (ulimit -v), compared with the virtual size
MEMORY_EVERY = 0.05    # seconds between two reads of /proc/self/statm
PAGE = os.sysconf("SC_PAGE_SIZE")


def build_share(sleep_sets: bool) -> float:
    """The share of --timeout phase 1 may use, so that the later phases
    end by COUNT_SHARE: 0.40 with sleep sets, 0.57 without."""
    return COUNT_SHARE / (1 + (LATER_SLEEP if sleep_sets else LATER_PLAIN))


class Cut(Exception):
    """A limit was reached: the phase in progress stops where it is.
    ``bound`` is what the result says cut it: "time", "interrupt" or
    "memory"."""

    def __init__(self, bound: str) -> None:
        super().__init__(bound)
        self.bound = bound


def parse_size(text: str) -> int:
    """A size in bytes from ``500M``, ``2G``, ``1.5G``, ``800000K`` or
    plain bytes (binary units: K is 1024). ValueError when malformed."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = 1
    if t and t[-1] in "KMGT":
        scale = 1024 ** ("KMGT".index(t[-1]) + 1)
        t = t[:-1]
    value = float(t)   # ValueError on anything else
    if not 0 < value * scale <= 1 << 62:   # NaN too
        raise ValueError(text)
    return int(value * scale)


def machine_memory() -> int:
    """The memory this process may use: the physical memory, or the
    cgroup's limit when it is lower (a container)."""
    total = PAGE * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def address_space() -> int | None:
    """The soft RLIMIT_AS (``ulimit -v``) in bytes, or None when unlimited."""
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def memory_used() -> tuple[int, int]:
    """(virtual size, resident size) of this process, in bytes."""
    with open("/proc/self/statm", "rb") as f:
        size, resident = f.read().split()[:2]
    return int(size) * PAGE, int(resident) * PAGE


class Limits:
    """The deadline, the interrupt flag and the memory ceiling of one
    command. ``phase()`` sets what the next phase may use; ``check()``
    raises ``Cut`` past it."""

    def __init__(self, timeout: float | None = None, memory: int | None = None,
                 start: float | None = None) -> None:
        self.start = time.monotonic() if start is None else start
        self.timeout = timeout
        self.memory = memory   # resident bytes (--max-memory), None: no ceiling
        space = address_space()
        self.space = None if space is None else int(space * ADDRESS_SPACE)
        self.interrupted: float | None = None   # when the first Ctrl-C came
        self.share = 1.0          # of the timeout and the memory, for this phase
        self.memory_share = 1.0
        self.grace = GRACE
        self.until: float | None = None   # the current phase's deadline
        self.next_memory = 0.0

    def phase(self, share: float = 1.0, memory_share: float = 1.0, grace: float = GRACE) -> None:
        """The next phase may run until ``share`` of the timeout, use
        ``memory_share`` of the ceiling, and ``grace`` seconds after a
        first Ctrl-C."""
        self.share, self.memory_share, self.grace = share, memory_share, grace
        self.until = None if self.timeout is None else self.start + share * self.timeout
        if self.interrupted is not None:
            end = self.interrupted + grace
            self.until = end if self.until is None else min(self.until, end)

    def interrupt(self) -> None:
        """A first Ctrl-C: the phase in progress ends at its next check
        unless it has grace left (async-signal safe: sets two fields)."""
        now = time.monotonic()
        self.interrupted = now
        end = now + self.grace
        self.until = end if self.until is None or end < self.until else self.until

    def check(self) -> None:
        """Raise Cut when the current phase is past its deadline, was
        interrupted, or the process uses more memory than it may."""
        now = time.monotonic()
        until = self.until
        if until is not None and now >= until:
            raise Cut("interrupt" if self.interrupted is not None else "time")
        if now >= self.next_memory:
            self.next_memory = now + MEMORY_EVERY
            what = self.over_memory()
            if what:
                raise Cut(what)

    def reached(self) -> str | None:
        """The bound check() would raise, or None."""
        try:
            self.check()
        except Cut as c:
            return c.bound
        return None

    def over_memory(self) -> str | None:
        """"memory" when this process is past its share of the ceiling."""
        if self.memory is None and self.space is None:
            return None
        size, resident = memory_used()
        if self.memory is not None and resident > self.memory * self.memory_share:
            return "memory"
        if self.space is not None and size > self.space * self.memory_share:
            return "memory"
        return None

    def left(self) -> float | None:
        """Seconds left in the current phase (None: no deadline)."""
        return None if self.until is None else self.until - time.monotonic()
