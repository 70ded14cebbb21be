"""States as flat tuples of part numbers, for the explorer.

A State is a tree of tuples; hashing it walks every context, every CPU and
every field each time, and most of a search is fingerprints and memo
lookups of states that differ from their parent in one or two parts. The
explorer therefore works on a flat form: one int per part, numbering each
distinct value of that part the first time it is met (interning):

- one position per context and per CPU,
- one position per page of ``ram`` and of ``newest``,
- one position per element of the short fixed-length fields (the pkmap
  arrays up to 64 slots, locks, globals, user pages present),
- one position for each other State field (a long pkmap pool, per-CPU
  variables, the cache, reports, ...).

Equal states have equal flat forms and the other way round (a part's
number names its value), so a flat state's hash is a fingerprint of the
state itself, computed over a few dozen small ints. ``decode`` rebuilds
the State (from the interned parts: nothing is copied) for the handlers,
``enabled`` and the expectations.

Numbers are per process (0, 1, 2, ... in the order parts are met), except
for a search over several processes (runtime/search/parallel.py): there a part's
number is a 30-bit hash of its content, the same in every forked worker, so
a flat state and its hash mean the same thing in all of them and can be
shipped as they are. Thirty bits keep every number a one-digit int, which
CPython hashes, compares, pickles and stores on its short paths (63-bit
numbers cost the workers 10% more instructions). Two values of one kind of
part with one hash would make that unsound, so the shared codec checks every
value it numbers or is told about against the ones it holds, and raises
``NumberingClash`` (the search then runs in one process instead). With n
values of a kind that happens with odds of about n*n / 2**31: the largest
rung of bench/ladder.py has 130 values of its largest kind (1 in 127,000).
"""

from __future__ import annotations

from typing import Any

from kmap_scenarios.runtime.kernel.state import State, pool
from kmap_scenarios.runtime.kernel.tx import CPUS, CTXS, FIELD, Loc

Flat = tuple[int, ...]

_RAM, _NEWEST, _REPORTS = FIELD["ram"], FIELD["newest"], FIELD["reports"]
_PKMAP = (FIELD["pkmap_count"], FIELD["pkmap_pte"])
# Fixed-length fields laid out element by element when short (a step that
# takes one pkmap slot then keys on that slot, not on the whole pool).
_SPREAD = (FIELD["pkmap_count"], FIELD["pkmap_pte"], FIELD["locks"], FIELD["globals"],
           FIELD["user_present"], FIELD["mutex_wait"])
SHORT = 64


class NumberingClash(Exception):
    """Two part values with one content number, or one value with two
    (a shared codec cannot tell their states apart)."""


def content_number(kind: int, value: Any) -> int:
    """A part's number in a shared codec: the same in every process forked
    from one parent (they share the string-hash secret). The repr joins the
    hash because Python hashes -1 and -2 alike, inside tuples too."""
    return hash((kind, hash(value), repr(value))) & 0x3FFF_FFFF


_NONE = object()


class Codec:
    """The numbering of parts for one program's search."""

    def __init__(self, init: Any, shared: bool = False) -> None:   # init: a State
        self.shared = shared
        # shared: one int object per number, whoever made it (numbers above
        # 256 are not cached by Python, and one unpickled from another
        # worker is a new object: flats full of scattered copies miss the
        # cache on every refcount, and compare by value instead of identity)
        self.canon: dict[int, int] = {}
        self._where_of: dict[Loc, tuple[int, ...]] = {}   # positions(): location -> positions
        self.fresh: list[tuple[int, int, Any]] = []   # shared: (kind, number, value) met here
        self.nctx = len(init.ctxs)
        self.ncpu = len(init.cpus)
        self.npage = len(init.ram)
        nc, np_ = self.nctx, self.ncpu
        self.ram_at = nc + np_                     # first ram page position
        self.newest_at = self.ram_at + self.npage  # first newest page position
        at = self.newest_at + self.npage
        kinds: list[int] = [0] * nc + [1] * np_ + [2] * (2 * self.npage)
        # one table per kind of part: contexts, CPUs, pages (ram and newest
        # share one: both are page contents), the elements of each spread
        # field, and each other field. Kinds are never shared across fields:
        # a table keyed by value would take True for 1.
        self.spread: dict[int, tuple[int, int]] = {}   # field -> (first position, length)
        self.spread_kind: dict[int, int] = {}
        self.field_at: dict[int, int] = {}              # whole field -> position
        nkinds = 3
        for f in range(len(State._fields)):
            if f in (CTXS, CPUS, _RAM, _NEWEST):
                continue
            n = len(init[f]) if f in _SPREAD else -1
            if 0 <= n <= SHORT:
                self.spread[f] = (at, n)
                self.spread_kind[f] = nkinds
                kinds += [nkinds] * n
                nkinds += 1
                at += n
            else:
                self.field_at[f] = at
                kinds.append(nkinds)
                nkinds += 1
                at += 1
        self.size = at
        self.kind = kinds
        # number -> value (a list when numbers count up, a dict when shared)
        self.values: list[Any] = [{} if shared else [] for _ in range(nkinds)]
        self.numbers: list[dict[Any, int]] = [{} for _ in range(nkinds)]
        self.ctx_values = self.values[0]
        self.cpu_values = self.values[1]
        self.page_values = self.values[2]
        self._whole = [(f, pos, self.values[kinds[pos]]) for f, pos in self.field_at.items()]
        self._spread = [(f, pos, n, self.values[self.spread_kind[f]])
                        for f, (pos, n) in self.spread.items()]

    # ----------------------------------------------------------- numbering
    def number(self, pos: int, value: Any) -> int:
        """The number of ``value`` as the part at position ``pos``."""
        k = self.kind[pos]
        got = self.numbers[k].get(value)
        if got is None:
            if self.shared:
                got = content_number(k, value)
                self.learn(k, got, value)
                got = self.canon[got]
                self.fresh.append((k, got, value))
            else:
                got = self.numbers[k][value] = len(self.values[k])
                self.values[k].append(value)
        return got

    def learn(self, k: int, number: int, value: Any) -> bool:
        """Take part ``value`` of kind k as ``number`` (shared codecs: a
        part another worker met); False when it was known already."""
        held = self.values[k].get(number, _NONE)
        if held is not _NONE:
            if held != value:
                raise NumberingClash(f"two values of part kind {k} share number {number}")
            return False
        if self.numbers[k].get(value, number) != number:
            raise NumberingClash(f"a value of part kind {k} has two numbers")
        number = self.canon.setdefault(number, number)
        self.values[k][number] = value
        self.numbers[k][value] = number
        return True

    def canonical(self, flat: Flat) -> Flat:
        """``flat`` (shared codecs: from another worker) made of this
        codec's own int objects."""
        canon = self.canon
        return tuple([canon[n] for n in flat])

    def encode(self, s: Any) -> Flat:
        """The flat form of State s."""
        out = [0] * self.size
        number = self.number
        for i, c in enumerate(s.ctxs):
            out[i] = number(i, c)
        for i, p in enumerate(s.cpus):
            out[self.nctx + i] = number(self.nctx + i, p)
        for i, b in enumerate(s.ram):
            out[self.ram_at + i] = number(self.ram_at + i, b)
        for i, b in enumerate(s.newest):
            out[self.newest_at + i] = number(self.newest_at + i, b)
        for f, pos, n, _ in self._spread:
            for i, v in enumerate(s[f]):
                out[pos + i] = number(pos + i, v)
        for f, pos, _ in self._whole:
            out[pos] = number(pos, s[f])
        return tuple(out)

    def decode(self, flat: Flat) -> State:
        nc, ra, na = self.nctx, self.ram_at, self.newest_at
        cv, pv, gv = self.ctx_values, self.cpu_values, self.page_values
        vals: list[Any] = [None] * len(State._fields)
        vals[CTXS] = tuple([cv[i] for i in flat[:nc]])
        vals[CPUS] = tuple([pv[i] for i in flat[nc:ra]])
        vals[_RAM] = tuple([gv[i] for i in flat[ra:na]])
        vals[_NEWEST] = tuple([gv[i] for i in flat[na:na + self.npage]])
        for f, pos, n, iv in self._spread:
            t = tuple([iv[i] for i in flat[pos:pos + n]])
            vals[f] = pool(t) if f in _PKMAP else t
        for f, pos, table in self._whole:
            vals[f] = table[flat[pos]]
        return tuple.__new__(State, vals)

    def cpu(self, flat: Flat, c: int) -> Any:
        """CPU c's record in a flat state."""
        return self.cpu_values[flat[self.nctx + c]]

    def reports(self, flat: Flat) -> Any:
        """The reports of a flat state (a tuple of Report)."""
        pos = self.field_at[_REPORTS]
        return self.values[self.kind[pos]][flat[pos]]

    # ------------------------------------------------------------ locations
    def positions(self, reads: list[Loc]) -> tuple[int, ...]:
        """The flat positions holding what a step read (in first-read
        order, each once). An element of a context, CPU or page list is its
        own position; an element of another field is that field's; a whole
        list is every position of it."""
        out: dict[int, None] = {}
        where = self._where_of
        for loc in reads:
            got = where.get(loc)
            if got is None:
                got = where[loc] = tuple(self._where(*loc))
            for pos in got:
                out[pos] = None
        return tuple(out)

    def field_positions(self, name: str) -> tuple[int, ...]:
        """Every position of State field ``name``."""
        return tuple(self._where(FIELD[name], -1))

    def _where(self, f: int, i: int) -> range | tuple[int, ...]:
        if f == CTXS:
            return range(self.nctx) if i < 0 else (i,)
        if f == CPUS:
            return range(self.nctx, self.ram_at) if i < 0 else (self.nctx + i,)
        if f == _RAM:
            return range(self.ram_at, self.newest_at) if i < 0 else (self.ram_at + i,)
        if f == _NEWEST:
            return range(self.newest_at, self.newest_at + self.npage) if i < 0 else \
                (self.newest_at + i,)
        spread = self.spread.get(f)
        if spread is not None:
            pos, n = spread
            return range(pos, pos + n) if i < 0 else (pos + i,)
        return (self.field_at[f],)
