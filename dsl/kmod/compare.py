"""The model's outcomes and the real kernel's, in one vocabulary.

The module (kmap_controller.h) prints each outcome it saw as the values
the expectations name and the kernel's report headlines. The model's
(`kmap check --format json`) are in the model's own layout and words.
Both are brought to canonical outcomes here:

- values: kernel addresses named by what they are, since the model's
  layout differs from the kernel's (``pkmap(1)``, ``kmap_local(cpu0,1)``,
  ``page(P)``, ``lowmem(P)+0x10``, ``pfn(P)``), other values in decimal;
- reports: the kernel's wording without what differs from run to run or
  between versions: line numbers of kernel files, function offsets,
  PIDs (a task is named by its comm, the idle task ``swapper``), fault
  addresses named as values are. The model's own kinds, which a kernel
  never prints (DATA_LOSS, STALE_READ, USE_AFTER_UNMAP), and lockdep's
  report (the test kernel has no lockdep) are left out.

``allowed()`` is the comparison rule of bench/crosscheck.py: a real
outcome must be among the model's, except that a report the kernel
rate-limits or prints once (WARN_ON_ONCE, DEBUG_LOCKS_WARN_ON,
might_sleep()'s once a second, smp_processor_id()'s printk_ratelimit)
may be missing from a real outcome when the same boot printed it before.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from kmap_scenarios.runtime.kernel import program as ir
from kmap_scenarios.runtime.kernel.config import FIX_KMAP_BEGIN
from kmap_scenarios.runtime.kernel.memory import direct_map, page_pointer
from kmap_scenarios.runtime.kernel.program import PageKind, Program

COMM_LEN = 15          # TASK_COMM_LEN - 1: the kernel truncates a kthread's name
MODEL_ONLY = ("DATA_LOSS:", "STALE_READ:", "USE_AFTER_UNMAP:")


# ------------------------------------------------------------------ values


@dataclass(frozen=True)
class Layout:
    """Where a kernel (the model's or the real one) puts what a value can name."""

    page_offset: int
    page_size: int
    pkmap_base: int
    last_pkmap: int
    fix_kmap_begin: int      # __fix_to_virt(FIX_KMAP_BEGIN): slot 0 of CPU 0
    km_max_idx: int
    nr_cpus: int             # CPUs whose slots the fixmap holds
    # (name, struct page pointer, pfn, direct-map address or None)
    pages: tuple[tuple[str, int, int, int | None], ...] = ()

    def show(self, v: int, pfn: bool = False) -> str:
        """A value as kmap_controller.h's km_show() prints it."""
        if pfn:
            for name, _, p, _ in self.pages:
                if v == p:
                    return f"pfn({name})"
        if -(1 << 32) <= v <= -0x10000:
            v &= 0xFFFFFFFF          # an address kept in a signed int
        if v < self.page_offset or v > 0xFFFFFFFF:
            return str(v)
        off = v % self.page_size
        plus = f"+{off:#x}" if off else ""
        if self.pkmap_base <= v < self.pkmap_base + self.last_pkmap * self.page_size:
            return f"pkmap({(v - self.pkmap_base) // self.page_size}){plus}"
        top = self.fix_kmap_begin + self.page_size
        lowest = self.fix_kmap_begin - (self.km_max_idx * self.nr_cpus - 1) * self.page_size
        if lowest <= v < top:
            idx = (self.fix_kmap_begin - (v - off)) // self.page_size
            return f"kmap_local(cpu{idx // self.km_max_idx},{idx % self.km_max_idx}){plus}"
        for name, ptr, _, low in self.pages:
            if v == ptr:
                return f"page({name})"
            if low is not None and low <= v < low + self.page_size:
                return f"lowmem({name}){plus}"
        return str(v)


def model_layout(program: Program) -> Layout:
    cfg = program.config
    pages = tuple((info.name, page_pointer(program, i), info.pfn,
                   direct_map(cfg, info.pfn) if info.kind != PageKind.HIGHMEM else None)
                  for i, info in enumerate(program.pages))
    return Layout(cfg.preset.page_offset, cfg.PAGE_SIZE, cfg.preset.pkmap_base,
                  cfg.LAST_PKMAP, cfg.fix_to_virt(FIX_KMAP_BEGIN), cfg.KM_MAX_IDX,
                  cfg.NR_CPUS, pages)


def real_layout(line: str) -> Layout:
    """The module's `kmap: layout k=v ...` line (addresses of kernel areas
    only: its pages change with every iteration, and the module names
    them itself)."""
    kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
    return Layout(int(kv["page_offset"], 0), int(kv["page_size"], 0), int(kv["pkmap_base"], 0),
                  int(kv["last_pkmap"], 0), int(kv["fix_kmap_begin"], 0),
                  int(kv["km_max_idx"], 0), int(kv.get("nr_cpus", "8"), 0))


def model_value(layout: Layout, atom: str, text: str) -> frozenset[str]:
    """`kmap check`'s value text (``0x55``, ``12``, ``0|1`` for an
    execution that never ends, ``?``) as the set of canonical values."""
    out = set()
    for part in text.split("|"):
        if part == "?":
            out.add("?")
        else:
            out.add(layout.show(int(part, 0), pfn=atom.startswith("page_to_pfn(")))
    return frozenset(out)


# ----------------------------------------------------------------- reports


def _file(where: str) -> str:
    """A kernel source file without its line, a scenario's as NAME.kmap:LINE."""
    where = where.split(" (")[0]
    m = re.match(r"(.*?\.kmap):(\d+)", where)
    if m:
        return f"{os.path.basename(m.group(1))}:{m.group(2)}"
    return re.sub(r":\d+$", "", where)


def _comm(name: str) -> str:
    return name[:COMM_LEN]


class Namer:
    """PIDs to names: the model's tasks have PIDs 1, 2, ...; the module
    writes a task's PID as @NAME; PID 0 is the idle task."""

    def __init__(self, program: Program) -> None:
        self.by_pid = {c.pid: c.name for c in program.contexts if not c.is_irq}

    def pid(self, text: str) -> str:
        if text.startswith("@"):
            return _comm(text[1:])
        if text == "0":
            return "swapper"
        if text.isdigit() and int(text) in self.by_pid:
            return _comm(self.by_pid[int(text)])
        return "?"


def canon_model(label: str, program: Program, layout: Layout, namer: Namer) -> str | None:
    """A model report label (``KIND: HEADLINE``) canonical, or None for
    what no kernel prints."""
    if label.startswith(MODEL_ONLY) or "lock held when returning to user space" in label:
        return None
    kind, _, rest = label.partition(": ")
    # reports.label(): "KIND: HEADLINE", or the headline alone when it
    # starts with its kind ("BUG: scheduling while atomic: ...")
    head = rest if kind in ("WARN", "OOPS", "DEADLOCK", "ASSERT") or (
        kind == "BUG" and rest.startswith(("kernel BUG", "Kernel panic", "BUG: "))) else label
    if kind == "DEADLOCK":
        return f"DEADLOCK: {_stuck_name(head)}"
    if kind == "ASSERT":
        m = re.match(r"(?:ASSERT: )?(.*?\.kmap):(\d+)", head)
        return f"ASSERT: {os.path.basename(m.group(1))}:{m.group(2)}" if m else f"ASSERT: {head}"
    return canon_headline(head, layout, namer, kind)


def _stuck_name(head: str) -> str:
    for pat in (r"INFO: task (.+):\d+ blocked", r"\[(.+):\d+\]$", r"DEADLOCK: irq (\S+)",
                r"DEADLOCK: (.+):\d+ never"):
        m = re.search(pat, head)
        if m:
            return _comm(m.group(1))
    return head


def canon_real(line: str, layout: Layout, namer: Namer) -> str:
    """A headline the module read from the kernel's log, canonical."""
    if line.startswith(("DEADLOCK: ", "ASSERT: ")):
        return line
    return canon_headline(line, layout, namer, "")


def canon_headline(head: str, layout: Layout, namer: Namer, kind: str) -> str:
    m = re.match(r"WARNING: CPU: (\d+) PID: (\S+) at \S+ \((\S+)\)$", head)   # the model's
    if m is None:
        m = re.match(r"WARNING: CPU: (\d+) PID: (\S+) at (\S+)", head)
    if m:
        return f"WARN: WARNING: CPU: {m.group(1)} PID: {namer.pid(m.group(2))} at {_file(m.group(3))}"
    m = re.match(r"kernel BUG at (.+?)(?::[A-Za-z_]\w*)?!$", head)
    if m:
        return f"BUG: kernel BUG at {_file(m.group(1))}!"
    m = re.match(r"BUG: sleeping function called from invalid context at (.+)$", head)
    if m:
        return f"BUG: sleeping function called from invalid context at {_file(m.group(1))}"
    m = re.match(r"BUG: scheduling while atomic: (.+)/([^/]+)/(0x[0-9a-f]+)$", head)
    if m:
        return f"BUG: scheduling while atomic: {_comm(m.group(1))}/{m.group(3)}"
    m = re.match(r"BUG: using smp_processor_id\(\) in preemptible \[(\w+)\] code: (.+)/(\S+)$", head)
    if m:
        return f"BUG: using smp_processor_id() in preemptible [{m.group(1)}] code: {_comm(m.group(2))}"
    m = re.match(r"BUG: (spinlock \w+(?: \w+)?) on CPU#(\d+), (.+)/(\S+)$", head)
    if m:
        return f"BUG: {m.group(1)} on CPU#{m.group(2)}, {_comm(m.group(3))}"
    m = re.match(r"BUG: unable to handle page fault for address: ([0-9a-f]+)", head)
    if m:
        return f"OOPS: unable to handle page fault at {layout.show(int(m.group(1), 16))}"
    m = re.match(r"(?:OOPS: )?kernel stack overflow: (\S+\(\))", head)
    if m:   # the model's bound, kept by the module's own frames (kmap_runtime.h km_call)
        return f"OOPS: kernel stack overflow: {m.group(1)}"
    if head.startswith("divide error"):
        return "OOPS: divide error"
    if head.startswith("Kernel panic - not syncing:"):
        return head
    return f"{kind}: {head}" if kind else head


# -------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Seen:
    """An outcome in canonical form: each value a set (an execution that
    never ends shows every value it takes), and the reports."""

    values: tuple[tuple[str, frozenset[str]], ...]
    reports: frozenset[str]

    def text(self) -> str:
        vals = "; ".join(f"{k}={'|'.join(sorted(v))}" for k, v in self.values)
        reps = "; ".join(sorted(self.reports)) if self.reports else "no reports"
        return f"{vals}; {reps}" if vals else reps


def model_outcomes(program: Program, check: dict[str, object]) -> list[tuple[Seen, int | None]]:
    """`kmap check --format json`'s outcomes, canonical, with their counts."""
    layout = model_layout(program)
    namer = Namer(program)
    out: list[tuple[Seen, int | None]] = []
    for o in check["outcomes"]:  # type: ignore[attr-defined]
        values = tuple(sorted((k, model_value(layout, k, v)) for k, v in o["values"].items()))
        # a DEADLOCK headline that names a CPU (the hard-lockup detector's)
        # is the context the outcome's details say is stuck there
        stuck = {d["message"]: d["context"] for d in o.get("report_details", ())
                 if d.get("kind") == "DEADLOCK" and d.get("context")}
        reps = {f"DEADLOCK: {_comm(stuck[r])}" if r in stuck and _stuck_name(r.partition(": ")[2])
                == r.partition(": ")[2] else canon_model(r, program, layout, namer) for r in o["reports"]}
        out.append((Seen(values, frozenset(r for r in reps if r is not None)), o["executions"]))
    return out


@dataclass
class RealRun:
    """What one boot printed: its outcomes with counts, and how it went."""

    outcomes: list[tuple[Seen, int]] = field(default_factory=list)
    iterations: int = 0
    time_ms: int = 0
    lost: int = 0
    errors: list[str] = field(default_factory=list)
    panic: str = ""
    finished: bool = False


def parse_console(text: str, program: Program) -> RealRun:
    """The `kmap: ...` lines of a boot's serial console (kmap_controller.h)."""
    run = RealRun()
    namer = Namer(program)
    layout: Layout | None = None
    current: tuple[list[tuple[str, frozenset[str]]], set[str], int] | None = None

    def close() -> None:
        if current is not None:
            vals, reps, n = current
            run.outcomes.append((Seen(tuple(sorted(vals)), frozenset(reps)), n))

    for raw in text.splitlines():
        if "Kernel panic - not syncing" in raw and not run.panic and layout is not None:
            run.panic = raw[raw.index("Kernel panic"):].strip()
        at = raw.find("kmap: ")
        if at < 0:
            continue
        line = raw[at + len("kmap: "):].rstrip("\r")
        if line.startswith("layout "):
            layout = real_layout(line)
        elif line.startswith("outcome "):
            close()
            current = ([], set(), int(line.split()[1]))
        elif line.startswith("| v ") and current is not None:
            atom, _, value = line[4:].rpartition("=")
            current[0].append((atom, frozenset({value})))
        elif line.startswith("| r ") and current is not None and layout is not None:
            current[1].add(canon_real(line[4:], layout, namer))
        elif line.startswith("end "):
            close()
            current = None
            kv = dict(w.split("=", 1) for w in line.split()[1:])
            run.iterations, run.time_ms = int(kv["iterations"]), int(kv["time_ms"])
            run.lost, run.finished = int(kv["lost"]), True
        elif line.startswith("error "):
            run.errors.append(line[6:])
    if not run.finished:
        close()
    return run


# ------------------------------------------------------------- the rule


def _once_key(report: str) -> str:
    """What a once-only or rate-limited report is suppressed by."""
    if report.startswith("BUG: sleeping function called"):
        return "might_sleep"            # one prev_jiffy for every call site
    if report.startswith("BUG: using smp_processor_id()"):
        return "smp_processor_id"       # printk_ratelimit()
    if report.startswith("WARN: "):
        return re.sub(r"CPU: \d+ PID: \S+ ", "", report)
    return ""


def suppressible(report: str, once_lines: frozenset[str]) -> bool:
    """Whether the kernel may stay silent the second time: might_sleep()'s
    and smp_processor_id()'s splats are rate-limited, the kernel's WARNs
    in mm/highmem.c, kernel/sched/core.c and highmem-internal.h are
    WARN_ON_ONCE or DEBUG_LOCKS_WARN_ON (once per boot), a scenario's own
    WARN_ON_ONCE (``once_lines``: FILE.kmap:LINE) too."""
    key = _once_key(report)
    if not key:
        return False
    if key.startswith("WARN: ") and ".kmap:" in key:
        return key.rsplit(" at ", 1)[1] in once_lines
    return True


def allowed(real: Seen, model: Iterable[Seen], seen_in_boot: set[str],
            once_lines: frozenset[str] = frozenset()) -> Seen | None:
    """The model outcome that allows ``real``, or None (a model bug).

    Values must be among the model's values; every real report must be in
    the model's outcome; a report of the model's outcome may be missing
    only when the kernel suppresses it and this boot printed it before."""
    printed = {_once_key(r) for r in seen_in_boot} - {""}
    for m in model:
        mv = dict(m.values)
        if any(k not in mv or not v <= mv[k] for k, v in real.values):
            continue
        if not real.reports <= m.reports:
            continue
        missing = m.reports - real.reports
        if all(suppressible(r, once_lines) and _once_key(r) in printed for r in missing):
            return m
    return None


def once_lines(program: Program) -> frozenset[str]:
    """FILE.kmap:LINE of the scenario's WARN_ON_ONCE statements."""
    base = os.path.basename(program.path)
    out = set()
    for ctx in program.contexts:
        for ins in ctx.code:
            if isinstance(ins, ir.Check) and ins.kind == "WARN_ON_ONCE":
                out.add(f"{base}:{ins.loc.line}")
            elif isinstance(ins, (ir.Set, ir.Call, ir.Branch)) and "WARN_ON_ONCE" in repr(ins):
                out.add(f"{base}:{ins.loc.line}")
    return frozenset(out)


def load_check_json(text: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(text)
    return data
