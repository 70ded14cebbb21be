"""The static program the machine executes: lowered task bodies and setup.

dsl/lower/lower.py builds a ``Program`` from a checked AST. Nothing here changes
during execution; all that changes lives in runtime/kernel/state.py. Control flow is
already flattened to jumps: a context's code is a tuple of instructions and
its program counter an index into it.

Expression IR is a small tree of frozen dataclasses evaluated by
runtime/kernel/evaluate.py. Names are resolved: locals are slots, globals,
pages, locks and percpu variables are indices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from kmap_scenarios.runtime.kernel.config import Config

# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Const:
    value: int


@dataclass(frozen=True, slots=True)
class Local:
    slot: int


@dataclass(frozen=True, slots=True)
class Global:
    index: int


@dataclass(frozen=True, slots=True)
class PageRef:
    """The value of a page name: its struct page pointer."""

    page: int


@dataclass(frozen=True, slots=True)
class PageElem:
    """``PAGES[i]`` of a page array: pages first .. first+count-1."""

    first: int
    count: int
    index: Expr


@dataclass(frozen=True, slots=True)
class LoadByte:
    """``p[i]`` / ``*p``: a byte load through a kernel virtual address."""

    addr: Expr


@dataclass(frozen=True, slots=True)
class PageMem:
    """``P[off]`` in expectations: the page's final memory byte."""

    page: Expr  # evaluates to a struct page pointer
    offset: Expr


@dataclass(frozen=True, slots=True)
class TaskLocal:
    """``task.var`` in expectations."""

    ctx: int
    slot: int


@dataclass(frozen=True, slots=True)
class PercpuVar:
    """A percpu variable passed to this_cpu_*/per_cpu."""

    index: int


@dataclass(frozen=True, slots=True)
class LockArg:
    """``&L`` passed to spin_lock and friends."""

    index: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # '-', '!', '~'
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # C binary operators; '&&' and '||' short-circuit
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class CallExpr:
    """A built-in call inside an expression (single-step built-ins only)."""

    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class ReportTest:
    """A report kind used as a boolean in an expectation, e.g. BUG("...")."""

    kind: str
    substring: str | None


Expr = (Const | Local | Global | PageRef | PageElem | LoadByte | PageMem
        | TaskLocal | PercpuVar | LockArg | Unary | Binary | CallExpr
        | ReportTest)

# ------------------------------------------------------------- destinations


@dataclass(frozen=True, slots=True)
class ToLocal:
    slot: int
    width: int  # bits kept: 8, 16, 32 or 64; signed if `signed`
    signed: bool


@dataclass(frozen=True, slots=True)
class ToGlobal:
    index: int


@dataclass(frozen=True, slots=True)
class ToByte:
    """A byte store through a kernel virtual address."""

    addr: Expr


Dest = ToLocal | ToGlobal | ToByte

# ------------------------------------------------------------- instructions


@dataclass(frozen=True, slots=True)
class Loc:
    """Where an instruction comes from: source line and column (1-based)."""

    line: int
    col: int


@dataclass(frozen=True, slots=True)
class Set:
    """``dest = expr`` (declarations with initialiser, assignments, i++)."""

    dest: Dest
    value: Expr
    loc: Loc


@dataclass(frozen=True, slots=True)
class Call:
    """A built-in call as a statement, optionally storing its result.

    Multi-step built-ins (kmap, spin_lock, dma_*, msleep, ...) appear only as
    ``Call``; their progress lives in the context's ``pending`` field."""

    name: str
    args: tuple[Expr, ...]
    dest: Dest | None
    loc: Loc


@dataclass(frozen=True, slots=True)
class Branch:
    """Evaluate cond (one step); fall through if true, else jump."""

    cond: Expr
    target: int
    loc: Loc


@dataclass(frozen=True, slots=True)
class Jump:
    """Unconditional jump; free (taken as part of the previous step)."""

    target: int
    loc: Loc


@dataclass(frozen=True, slots=True)
class Check:
    """assert / BUG_ON / WARN_ON / WARN_ON_ONCE as a statement."""

    kind: str  # 'assert' | 'BUG_ON' | 'WARN_ON' | 'WARN_ON_ONCE'
    cond: Expr
    text: str  # the condition's source text, for the report
    loc: Loc


@dataclass(frozen=True, slots=True)
class End:
    """The end of a body: the task returns to user space / the irq returns."""

    loc: Loc


Instr = Set | Call | Branch | Jump | Check | End


def chain(e: Binary) -> tuple[Expr, list[Binary]]:
    """A chain of binary operators as its first operand and its operators
    in the order they apply (`a - b + c`: a, then `- b`, then `+ c`): the
    evaluators walk it with a loop, however long it is, instead of
    recursing down the left operands (docs/language.md: a chain is one
    level of nesting)."""
    ops: list[Binary] = []
    node: Expr = e
    while isinstance(node, Binary):
        ops.append(node)
        node = node.left
    ops.reverse()
    return node, ops


def follow_jumps(code: tuple[Instr, ...], pc: int) -> int:
    """The first real step at or after pc: jumps are free (a loop of
    jumps stops where it closes)."""
    seen = set()
    while pc < len(code) and isinstance(code[pc], Jump) and pc not in seen:
        seen.add(pc)
        pc = code[pc].target  # type: ignore[union-attr]
    return pc

# ------------------------------------------------------------------- program


class PageKind(IntEnum):
    LOWMEM = 0
    HIGHMEM = 1
    DEVMAP = 2
    USER = 3


@dataclass(frozen=True, slots=True)
class PageInfo:
    name: str          # "P", or "PAGES[3]" for an array element
    kind: PageKind
    pfn: int
    present: bool      # user pages: present at start; others: True
    user_vaddr: int    # user pages: their user-space address; else 0


@dataclass(frozen=True, slots=True)
class ContextInfo:
    """A task or irq: its code and the names of its locals."""

    name: str
    is_irq: bool
    cpu: int | None            # pinned CPU; None for a migratable task
    code: tuple[Instr, ...]
    local_names: tuple[str, ...]  # slot -> name (for traces)
    outer_locals: tuple[tuple[str, int], ...]  # names visible as task.var
    pid: int                   # tasks 1..; irqs print the interrupted pid
    # A softirq (`softirq NAME on cpuN`) is a handler too (is_irq), with its
    # vector number among the scenario's softirqs; raised_at_boot when no
    # raise_softirq() in the file raises it (runtime/kernel/softirq.py).
    softirq_nr: int = -1
    raised_at_boot: bool = False

    @property
    def is_softirq(self) -> bool:
        return self.softirq_nr >= 0


@dataclass(frozen=True, slots=True)
class Expectation:
    quant: str                 # 'always' | 'sometimes' | 'never'
    cond: Expr
    text: str                  # source text after the quantifier
    line: int


@dataclass(frozen=True, slots=True)
class ScheduleStep:
    """One item of a schedule: run ``ctx`` for ``steps`` steps (None: until
    it finishes or blocks), on ``cpu`` if given."""

    ctx: int
    steps: int | None
    cpu: int | None


@dataclass(frozen=True)
class Program:
    name: str                   # scenario name
    path: str
    source_lines: tuple[str, ...]
    config: Config
    pages: tuple[PageInfo, ...]
    globals: tuple[tuple[str, int], ...]   # (name, initial value)
    percpus: tuple[tuple[str, int], ...]   # (name, initial value on every CPU)
    locks: tuple[str, ...]
    contexts: tuple[ContextInfo, ...]      # tasks and irqs in source order
    expectations: tuple[Expectation, ...]
    schedule: tuple[ScheduleStep, ...] | None
    schedule_line: int = 0
    mutexes: frozenset[int] = frozenset()  # indices in ``locks`` that are struct mutex
    slab_pages: tuple[int, ...] = ()       # pages of the kmalloc arena (runtime/kernel/slab.py)
    # derived lookups
    pfn_to_page: dict[int, int] = field(default_factory=dict, compare=False)
    softirqs: list[int] = field(default_factory=list, compare=False)  # vector -> context

    def __post_init__(self) -> None:
        self.pfn_to_page.update({p.pfn: i for i, p in enumerate(self.pages)})
        self.softirqs.extend(i for _, i in sorted((c.softirq_nr, i) for i, c
                                                  in enumerate(self.contexts)
                                                  if c.softirq_nr >= 0))

    def context_index(self, name: str) -> int | None:
        for i, c in enumerate(self.contexts):
            if c.name == name:
                return i
        return None
