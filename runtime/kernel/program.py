"""The static program the machine executes: lowered task bodies and setup.

dsl/lower/lower.py builds a ``Program`` from a checked AST. Nothing here changes
during execution; all that changes lives in runtime/kernel/state.py. Control flow is
already flattened to jumps: a context's code is a tuple of instructions and
its program counter an index into it.

Expression IR is a small tree of frozen dataclasses evaluated by
runtime/kernel/evaluate.py. Names are resolved: locals are slots, globals,
pages, locks and percpu variables are indices.

Functions of the scenario are linked into the code of each context that
calls them (directly or through another function): after the body's End,
each function's instructions once, so that a pc still names one
instruction of one context, and a call is a jump with a frame
(``CallFn``, ``Ret``; the frames live in the context's state).

A step executes one instruction and then goes on, in the same step,
through what is free: jumps, a call's entry (``CallFn``: a call is not a
scheduling point), a return without a value (the closing brace of a void
function), and the instructions marked ``fused``: the rest of a statement
whose built-in or function call the lowering moved ahead of it
(``if (copy_from_user(...))`` is the call into a hidden local, then the
branch on it, fused, so that the statement takes the steps the call
takes and no more).
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
class Cond:
    """``cond ? then : orelse``; only the chosen operand is evaluated."""

    cond: Expr
    then: Expr
    orelse: Expr


@dataclass(frozen=True, slots=True)
class Conv:
    """A cast: the operand converted to a C type of ``width`` bits (1: bool)."""

    operand: Expr
    width: int
    signed: bool


@dataclass(frozen=True, slots=True)
class ReportTest:
    """A report kind used as a boolean in an expectation, e.g. BUG("...")."""

    kind: str
    substring: str | None


Expr = (Const | Local | Global | PageRef | PageElem | LoadByte | PageMem
        | TaskLocal | PercpuVar | LockArg | Unary | Binary | CallExpr
        | ReportTest | Cond | Conv)

# The operators: nodes that only combine the values of their operands.
OPERATORS = (Unary, Binary, Cond, Conv, PageElem)


def operands(e: Unary | Binary | Cond | Conv | PageElem) -> tuple[Expr, ...]:
    """The sub-expressions an operator of OPERATORS evaluates (a page
    element's index); the walkers of runtime/search treat the other nodes'
    (a load's address, a call's arguments) each as it needs."""
    if isinstance(e, Binary):
        return (e.left, e.right)
    if isinstance(e, Cond):
        return (e.cond, e.then, e.orelse)
    if isinstance(e, PageElem):
        return (e.index,)
    return (e.operand,)

# ------------------------------------------------------------- destinations


@dataclass(frozen=True, slots=True)
class ToLocal:
    slot: int
    width: int  # bits kept: 8, 16, 32 or 64, signed if `signed`; 1: bool
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
    fused: bool = False   # the rest of the statement before it: no step of its own


@dataclass(frozen=True, slots=True)
class Call:
    """A built-in call as a statement, optionally storing its result.

    Multi-step built-ins (kmap, spin_lock, dma_*, msleep, ...) appear only as
    ``Call``; their progress lives in the context's ``pending`` field."""

    name: str
    args: tuple[Expr, ...]
    dest: Dest | None
    loc: Loc
    fused: bool = False


@dataclass(frozen=True, slots=True)
class Branch:
    """Evaluate cond (one step); fall through if true, else jump."""

    cond: Expr
    target: int
    loc: Loc
    fused: bool = False


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
    fused: bool = False


@dataclass(frozen=True, slots=True)
class End:
    """The end of a body: the task returns to user space / the irq returns."""

    loc: Loc


@dataclass(frozen=True, slots=True)
class CallFn:
    """A call of a function of the scenario: the arguments, converted to
    the parameters' types, become the callee's first locals, the caller's
    pc and locals are pushed as a frame, and the step goes on at
    ``entry`` (a call is not a scheduling point). ``dest`` receives the
    value when the callee returns."""

    func: int               # index in Program.functions
    entry: int              # the callee's first pc in this context's code
    args: tuple[Expr, ...]
    dest: Dest | None
    loc: Loc
    fused: bool = False


@dataclass(frozen=True, slots=True)
class Ret:
    """``return [value];`` or a function's closing brace: the value
    converted to the return type, the frame popped, the value stored to the
    call's ``dest`` in the caller, which goes on after its call. Without a
    value it is free, as a jump is; with one it is a step (a statement)."""

    value: Expr | None
    width: int              # the return type's conversion (ToLocal's rules)
    signed: bool
    loc: Loc
    fused: bool = False


Instr = Set | Call | Branch | Jump | Check | End | CallFn | Ret

def is_free(ins: Instr) -> bool:
    """Whether ins runs in the step that reaches it (after the instruction
    before it completes): fused to it, or a return without a value."""
    if isinstance(ins, Ret):
        return ins.value is None or ins.fused
    return isinstance(ins, (Set, Call, Branch, Check, CallFn)) and ins.fused


# How deeply calls may nest in one context. A kernel stack is THREAD_SIZE:
# 8 KiB on x86-32 and arm, 16 KiB on x86_64 (arch/*/include/asm/
# thread_info.h, page_*_types.h); a frame of real kernel code takes
# 50 to 200 bytes, so about 64 frames fit in the smallest. One more call
# overflows the stack: the kernel's guard page oopses (handle_stack_overflow,
# arch/x86/kernel/traps.c; arm's handle_bad_stack, "kernel stack overflow").
MAX_CALL_DEPTH = 64


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
    if pc >= len(code) or type(code[pc]) is not Jump:
        return pc
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
class FunctionInfo:
    """A function of the scenario; its code is linked into each context
    that calls it (ContextInfo.func_at says where)."""

    name: str
    params: tuple[str, ...]
    conv: tuple[tuple[int, bool], ...]   # each parameter's (width, signed)
    local_names: tuple[str, ...]          # slot -> name, the parameters first
    line: int                             # where it is defined
    code: tuple[Instr, ...] = ()          # as lowered, targets from 0 (unlinked)


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
    # pc -> the function (Program.functions index) whose linked code holds
    # it, -1 for the body; empty when the context calls no function
    func_at: tuple[int, ...] = ()
    # A softirq (`softirq NAME on cpuN`) is a handler too (is_irq), with its
    # vector number among the scenario's softirqs; raised_at_boot when no
    # raise_softirq() in the file raises it (runtime/kernel/softirq.py).
    softirq_nr: int = -1
    raised_at_boot: bool = False
    # pc -> is_free(code[pc]), for the step loop (made here, from code)
    free_at: tuple[bool, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "free_at", tuple(is_free(i) for i in self.code))

    @property
    def is_softirq(self) -> bool:
        return self.softirq_nr >= 0

    def function_at(self, pc: int) -> int:
        """The function whose code holds pc, or -1 for the body."""
        return self.func_at[pc] if 0 <= pc < len(self.func_at) else -1

    @property
    def body_len(self) -> int:
        """How many instructions the body has, its End included (the
        functions' code follows)."""
        if not self.func_at:
            return len(self.code)
        return next(pc for pc, f in enumerate(self.func_at) if f >= 0)


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
    functions: tuple[FunctionInfo, ...] = ()
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
