"""Benchmark: `kmap check` on a ladder of growing scenarios, and beside SPIN.

Prints, for each rung: states, transitions, executions, wall time and
states per second, with and without partial-order reduction. Then the rows
of the SPIN comparison (../shared/bench/README.md): the same race as a
.kmap scenario and as SPIN's kmap_dma.pml, `kmap check` under each column
of COLUMNS beside SPIN's whole pipeline (spin -a, gcc -O2, ./pan; compile
time included), with the ratio of wall times. Needs Debian's `spin` and
gcc for the SPIN side (`apt-get install -y spin gcc`; skipped with a note
when missing).

`--side-by-side` runs every rung as a user does, `kmap check --format
json` in a fresh process timed whole (the time to a verdict), under each
column of COLUMNS: the default search, without symmetry, without the
state-level reduction, without either, without any reduction. Options the
installed kmap does not know yet make their column "n/a".
`--ten-million` adds the 10 M-state rung (rate and peak memory).

    python bench/ladder.py [--quick] [--no-spin] [--timeout S] [--memory N]
    python bench/ladder.py --side-by-side [--quick] [--no-spin] [--ten-million]
    python bench/ladder.py --jobs-only [--instructions]

Short searches are timed as the best of three runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing.pool import ThreadPool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from kmap_scenarios.dsl.lower.load import load_text  # noqa: E402
from kmap_scenarios.runtime.search import explore as ex  # noqa: E402

SPIN_PML = ROOT / "bench" / "spin" / "kmap_dma.pml"


# ----------------------------------------------------------------- scenarios
def spin_equivalent(nk: int, iters: int, pin: bool, nslots: int = 2, nlines: int = 4) -> str:
    """kmap_dma.pml as a .kmap file: one DMA task, nk kmap tasks, every task
    on its own CPU (SPIN interleaves processes freely), a pool of nslots
    whose slots 1.. are held by a long-lived kmap, nlines lines a page."""
    line = 32
    cpus = 1 + nk
    holders = "\n".join(f"page R{i} = alloc_page(GFP_HIGHUSER);" for i in range(1, nslots))
    hold = "\n    ".join(f"void *r{i} = kmap(R{i});" for i in range(1, nslots))
    writes = "\n        ".join(f"v[{k * line}] = it;" for k in range(nlines))
    tasks = []
    for k in range(1, nk + 1):
        tasks.append(f"""
page Q{k} = alloc_page(GFP_HIGHUSER);
task kmapper{k} on cpu{k} {{
    for (int it = 1; it <= {iters}; it++) {{
        void *v = kmap(Q{k});
        {writes.replace('v[', 'v[')}
        kunmap(Q{k});
    }}
}}""")
    return f"""// SPIN kmap_dma.pml equivalent: NSLOTS={nslots} NLINES={nlines} ITER={iters} NK={nk} {'PIN' if pin else 'racy'}
config {{
    ARCH = arm; NR_CPUS = {cpus}; CONFIG_PREEMPTION = y;
    LAST_PKMAP = {nslots}; PAGE_SIZE = {nlines * line}; L1_CACHE_BYTES = {line};
    ARCH_NEEDS_KMAP_HIGH_GET = {'y' if pin else 'n'};
}}
page P = alloc_page(GFP_HIGHUSER);
{holders}
task dma on cpu0 {{
    {hold}
    for (int it = 1; it <= {iters}; it++) {{
        void *v = kmap(P);
        {writes}
        kunmap(P);
        dma_map_page(P, DMA_FROM_DEVICE);
    }}
}}
{''.join(tasks)}
expect never DATA_LOSS;
"""


def pkmap_rung(tasks: int, pool: int) -> str:
    """Tasks on one preemptible CPU, each kmaps its page twice and writes."""
    body = []
    for t in range(tasks):
        body.append(f"""page P{t} = alloc_page(GFP_HIGHUSER);
task t{t} on cpu0 {{
    void *a = kmap(P{t});
    a[0] = {t + 1};
    kunmap(P{t});
    void *b = kmap(P{t});
    kunmap(P{t});
}}""")
    return f"""config {{ ARCH = x86; LAST_PKMAP = {pool}; PAGE_SIZE = 64; CONFIG_PREEMPTION = y; }}
{chr(10).join(body)}
expect never BUG;
"""


def kmap_local_rung(tasks: int, depth: int, cpus: int) -> str:
    """Tasks nesting kmap_local mappings, preemptible, on `cpus` CPUs."""
    body = []
    for t in range(tasks):
        maps = "\n    ".join(f"void *m{d} = kmap_local_page(P{t}_{d}); m{d}[0] = {d + 1};"
                             for d in range(depth))
        unmaps = "\n    ".join(f"kunmap_local(m{d});" for d in reversed(range(depth)))
        pages = "\n".join(f"page P{t}_{d} = alloc_page(GFP_HIGHUSER);" for d in range(depth))
        body.append(f"""{pages}
task t{t} on cpu{t % cpus} {{
    {maps}
    {unmaps}
}}""")
    return f"""config {{ ARCH = x86; PAGE_SIZE = 64; NR_CPUS = {cpus}; CONFIG_PREEMPTION = y; }}
{chr(10).join(body)}
expect never WARN || OOPS;
"""


def _smp(tasks: int, pool: int) -> str:
    body = []
    for t in range(tasks):
        body.append(f"""page P{t} = alloc_page(GFP_HIGHUSER);
task t{t} on cpu{t} {{
    void *a = kmap(P{t});
    a[0] = {t + 1};
    kunmap(P{t});
}}""")
    return f"""config {{ ARCH = x86; LAST_PKMAP = {pool}; PAGE_SIZE = 64; NR_CPUS = {tasks}; }}
{chr(10).join(body)}
expect never BUG;
"""


def twins_rung(tasks: int, cpus: int, local: bool = False) -> str:
    """Interchangeable tasks (runtime/search/symmetry.py): the same body on
    one page, unpinned (on cpu0 with one CPU); pkmap with a lock, or two
    nested kmap_local mappings."""
    if local:
        body = ("void *m0 = kmap_local_page(P); m0[0] = 1;\n"
                "    void *m1 = kmap_local_page(Q); m1[0] = 2;\n"
                "    kunmap_local(m1);\n    kunmap_local(m0);")
    else:
        body = ("void *a = kmap(P);\n    spin_lock(&L);\n    a[0] = a[0] + 1;\n"
                "    spin_unlock(&L);\n    kunmap(P);")
    where = " on cpu0" if cpus == 1 else ""
    tasks_text = "\n".join(f"task t{t}{where} {{\n    {body}\n}}" for t in range(tasks))
    return f"""config {{ ARCH = x86; LAST_PKMAP = 4; PAGE_SIZE = 64; NR_CPUS = {cpus}; CONFIG_PREEMPTION = y; }}
page P = alloc_page(GFP_HIGHUSER);
page Q = alloc_page(GFP_HIGHUSER);
spinlock_t L;
{tasks_text}
expect never BUG || WARN || OOPS;
"""


def pinned_twins_rung(per_cpu: int, cpus: int = 2) -> str:
    """Interchangeable tasks pinned on each CPU (a class per CPU), each
    nesting two kmap_local mappings of its CPU's pages: symmetry and the
    state-level reduction's CPU sets both apply."""
    body = ("void *m0 = kmap_local_page(P{c}); m0[0] = 1;\n"
            "    void *m1 = kmap_local_page(Q{c}); m1[0] = 2;\n"
            "    kunmap_local(m1);\n    kunmap_local(m0);")
    tasks = "\n".join(f"task t{c}_{k} on cpu{c} {{\n    {body.format(c=c)}\n}}"
                      for c in range(cpus) for k in range(per_cpu))
    pages = "\n".join(f"page P{c} = alloc_page(GFP_HIGHUSER);\n"
                      f"page Q{c} = alloc_page(GFP_HIGHUSER);" for c in range(cpus))
    return f"""config {{ ARCH = x86; PAGE_SIZE = 64; NR_CPUS = {cpus}; CONFIG_PREEMPTION = y; }}
{pages}
{tasks}
expect never BUG || WARN || OOPS;
"""


# Rungs with interchangeable tasks: with and without symmetry reduction.
SYMMETRIC_LADDER = [
    ("1 cpu: pkmap 3 twins", lambda: twins_rung(3, 1)),
    ("1 cpu: pkmap 4 twins", lambda: twins_rung(4, 1)),
    ("1 cpu: kmap_local 4 twins x 2 maps", lambda: twins_rung(4, 1, local=True)),
    ("smp: pkmap 3 twins, 2 cpus", lambda: twins_rung(3, 2)),
    ("smp: pkmap 4 twins, 2 cpus", lambda: twins_rung(4, 2)),
    ("smp: kmap_local 4 twins x 2 maps, 2 cpus", lambda: twins_rung(4, 2, local=True)),
    ("smp: kmap_local 5 twins x 2 maps, 2 cpus", lambda: twins_rung(5, 2, local=True)),
    ("smp: kmap_local 2 pinned twins a cpu x 2 maps, 2 cpus", lambda: pinned_twins_rung(2)),
    ("smp: kmap_local 3 pinned twins a cpu x 2 maps, 2 cpus", lambda: pinned_twins_rung(3)),
]


# One CPU: every pair of actions competes for the CPU, so reduction has
# nothing to prune; these rungs measure raw speed. Several CPUs: the
# largest rung is last, and is where reduction is measured.
LADDER = [
    ("1 cpu: pkmap 2 tasks, pool 4", lambda: pkmap_rung(2, 4)),
    ("1 cpu: pkmap 3 tasks, pool 4", lambda: pkmap_rung(3, 4)),
    ("1 cpu: pkmap 3 tasks, pool 2", lambda: pkmap_rung(3, 2)),
    ("1 cpu: kmap_local 2 tasks x 2 maps", lambda: kmap_local_rung(2, 2, 1)),
    ("1 cpu: kmap_local 3 tasks x 2 maps", lambda: kmap_local_rung(3, 2, 1)),
    ("1 cpu: kmap_local 4 tasks x 4 maps", lambda: kmap_local_rung(4, 4, 1)),
    ("1 cpu: pkmap 4 tasks, pool 4", lambda: pkmap_rung(4, 4)),
    ("smp: pkmap 2 tasks on 2 cpus", lambda: _smp(2, 4)),
    ("smp: kmap_local 2 tasks x 3 maps, 2 cpus", lambda: kmap_local_rung(2, 3, 2)),
    ("smp: pkmap 3 tasks on 3 cpus", lambda: _smp(3, 4)),
    ("smp: kmap_local 3 tasks x 2 maps, 2 cpus", lambda: kmap_local_rung(3, 2, 2)),
    ("smp: kmap_local 4 tasks x 2 maps, 2 cpus", lambda: kmap_local_rung(4, 2, 2)),
    ("smp: kmap_local 5 tasks x 2 maps, 2 cpus", lambda: kmap_local_rung(5, 2, 2)),
    ("smp: pkmap 4 tasks on 4 cpus", lambda: _smp(4, 4)),
]
QUICK = [LADDER[0], LADDER[3], LADDER[7], LADDER[8]]
LARGEST_ONE_CPU = "1 cpu: pkmap 4 tasks, pool 4"

SPIN_ROWS = [
    # label, kmap scenario, spin -D flags, gcc flags, pan flags
    ("racy, DFS", (1, 1, False), "", "", ""),
    ("racy, shortest (BFS)", (1, 1, False), "", "-DBFS", ""),
    ("fixed", (1, 1, True), "-DPIN", "", ""),
    ("fixed, no POR", (1, 1, True), "-DPIN", "-DNOREDUCE", ""),
    ("fixed, 2 kmap tasks x 2 iterations", (2, 2, True), "-DPIN -DITER=2 -DNK=2", "", ""),
    ("same, no POR", (2, 2, True), "-DPIN -DITER=2 -DNK=2", "-DNOREDUCE", ""),
]


# ------------------------------------------------------- Mazurkiewicz traces
def mazurkiewicz_traces(program: object, limit: int) -> int | None:
    """The number of Mazurkiewicz traces: classes of maximal executions
    under swapping adjacent independent steps (the explorer's relation:
    different contexts on different CPUs whose steps commute in that
    state). Every execution is enumerated, and executions one valid swap
    apart are joined (union-find); None past `limit` executions."""
    from kmap_scenarios.runtime.kernel.machine import enabled, step
    from kmap_scenarios.runtime.kernel.state import initial_state
    p = program
    paths: list[tuple[tuple[int, int], ...]] = []
    stack = [(initial_state(p), ())]  # type: ignore[arg-type]
    while stack:
        s, path = stack.pop()
        acts = enabled(p, s)  # type: ignore[arg-type]
        if not acts:
            paths.append(path)
            if len(paths) > limit:
                return None
            continue
        for a in acts:
            stack.append((step(p, s, a)[0], path + (a,)))  # type: ignore[arg-type]
    index = {path: i for i, path in enumerate(paths)}
    parent = list(range(len(paths)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, path in enumerate(paths):
        s = initial_state(p)  # type: ignore[arg-type]
        for k in range(len(path) - 1):
            a, b = path[k], path[k + 1]
            if a[0] != b[0] and a[1] != b[1]:
                sa, sb = step(p, s, a)[0], step(p, s, b)[0]  # type: ignore[arg-type]
                if b in enabled(p, sa) and a in enabled(p, sb) and \
                        step(p, sa, b)[0] == step(p, sb, a)[0]:  # type: ignore[arg-type]
                    j = index.get(path[:k] + (b, a) + path[k + 2:])
                    if j is not None:
                        parent[find(i)] = find(j)
            s = step(p, s, a)[0]  # type: ignore[arg-type]
    return len({find(i) for i in range(len(paths))})


# -------------------------------------------------------------------- runs
ONE_PROBE = """
import json, sys, time
from kmap_scenarios.dsl.lower.load import load_text
from kmap_scenarios.runtime.search import explore as ex
p = load_text(sys.stdin.read(), 'bench.kmap')
t0 = time.perf_counter()
r = ex.explore(p, ex.Options(reduce={reduce!r}, por={por!r}, timeout={timeout!r}, jobs={jobs!r},
                             symmetry={symmetry!r}))
wall = time.perf_counter() - t0
print(json.dumps(dict(states=r.states, transitions=r.transitions, executions=r.executions,
                      bounded=r.bounded, wall=wall, violated=any(o.conds[0] for o in r.outcomes),
                      stepped=r.symmetric_states or r.states,
                      outcomes=sorted([o.text(), c] for o, c in r.outcomes.items()))))
"""


class Run:
    """What one search printed: its counts, bounds, verdict and wall time."""

    def __init__(self, d: dict[str, object]) -> None:
        self.states = int(d["states"])  # type: ignore[call-overload]
        self.transitions = int(d["transitions"])  # type: ignore[call-overload]
        self.executions = int(d["executions"])  # type: ignore[call-overload]
        self.bounded = list(d["bounded"])  # type: ignore[call-overload]
        self.violated = bool(d["violated"])
        self.stepped = int(d.get("stepped", self.states))  # type: ignore[call-overload]
        self.outcomes = d.get("outcomes")


def check(src: str, reduce: bool, timeout: float, repeat: int = 1,
          jobs: int = 1, por: bool = True, symmetry: bool = True) -> tuple[Run, float]:
    """One search, each run in a fresh interpreter (a heap left over from
    the rung before changes timings by a third); the best wall time of
    `repeat` runs for short ones (a shared machine adds noise, never speed).
    ``por``: the state-level reduction (runtime/search/por.py) with ``reduce``."""
    code = ONE_PROBE.format(root=str(ROOT), reduce=reduce, por=por, timeout=timeout, jobs=jobs,
                            symmetry=symmetry)
    best = None
    r = None
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], input=src, capture_output=True,
                             text=True, check=True).stdout
        d = json.loads(out)
        r = Run(d)
        best = d["wall"] if best is None else min(best, d["wall"])
        if d["wall"] > 2.0:
            break
    assert r is not None and best is not None
    return r, best


# ------------------------------------------ side by side: option sets
# The columns of the side-by-side tables: a name and the `kmap check`
# options that make it. An option may have alternative spellings ("a|b":
# the first one the installed `kmap check --help` lists is used), so the
# list works before and after the state-level reduction and symmetry
# options land; a column with an option the installed kmap does not know
# is printed as "n/a" with a note, the others run as usual. Edit this list
# to compare other searches.
COLUMNS: list[tuple[str, tuple[str, ...]]] = [
    ("default", ()),
    ("no symmetry", ("--no-symmetry",)),
    ("no state POR", ("--no-por|--no-state-por|--no-persistent",)),
    ("neither", ("--no-por|--no-state-por|--no-persistent", "--no-symmetry")),
    ("no reduction", ("--no-reduce", "--no-por|--no-state-por|--no-persistent?",
                      "--no-symmetry?")),
]
# (a trailing "?": used when known, left out otherwise)

TEN_MILLION = 10_000_000
TEN_MILLION_COLUMNS = ("default", "neither")   # minutes each


def known_options() -> set[str]:
    """The options the installed `kmap check` takes (read off its --help)."""
    out = subprocess.run([sys.executable, "-m", "kmap_scenarios", "check", "--help"],
                         capture_output=True, text=True).stdout
    return set(re.findall(r"--[a-z][a-z-]*", out))


def resolve(options: tuple[str, ...], known: set[str]) -> list[str] | None:
    """The flags of a column, or None when one is not known to this kmap."""
    flags = []
    for option in options:
        optional = option.endswith("?")
        spelled = [o for o in option.rstrip("?").split("|") if o in known]
        if spelled:
            flags.append(spelled[0])
        elif not optional:
            return None
    return flags


class CliRun:
    """One `kmap check --format json` run as a user runs it: the whole
    process timed (start-up, search, verdicts and witnesses: the time to a
    verdict), its peak resident memory, and what its JSON says."""

    def __init__(self, doc: dict[str, object], wall: float, peak: int, status: int) -> None:
        stats = doc.get("statistics") or {}
        assert isinstance(stats, dict)
        self.states = int(stats.get("states", 0))
        self.transitions = int(stats.get("transitions", 0))
        self.executions = int(stats.get("executions", 0))
        self.bounded = list(doc.get("bounded_by") or [])  # type: ignore[call-overload]
        exps = doc.get("expectations") or []
        assert isinstance(exps, list)
        self.violated = any(e.get("verdict") == "fails" for e in exps)
        self.verdict = "violation" if self.violated else \
            ("no violation" if status == 0 else f"unproven (exit {status})")
        self.wall = wall
        self.peak = peak   # bytes


# as an installed package runs: with its bytecode cached (pip writes it at
# install; PYTHONDONTWRITEBYTECODE would make every run compile every module)
INSTALLED_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def cli_check(src: str, flags: list[str], timeout: float, repeat: int = 1) -> CliRun:
    """`kmap check FILE --format json FLAGS` in a fresh process, the best
    wall time of `repeat` runs (a run over 2 s is not repeated)."""
    best: CliRun | None = None
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "bench.kmap"
        path.write_text(src, encoding="utf-8")
        for _ in range(repeat):
            with open(Path(work) / "out.json", "w+") as out:
                t0 = time.perf_counter()
                proc = subprocess.Popen(
                    [sys.executable, "-m", "kmap_scenarios", "check", str(path), "--format",
                     "json", "--timeout", str(timeout), *flags],
                    stdout=out, stderr=subprocess.DEVNULL, env=INSTALLED_ENV)
                _, status, usage = os.wait4(proc.pid, 0)
                wall = time.perf_counter() - t0
                proc.returncode = os.waitstatus_to_exitcode(status)
                out.seek(0)
                text = out.read()
            if proc.returncode not in (0, 1, 3):
                raise RuntimeError(f"kmap check {' '.join(flags)}: exit {proc.returncode}")
            run = CliRun(json.loads(text), wall, usage.ru_maxrss * 1024, proc.returncode)
            if best is None or run.wall < best.wall:
                best = run
            if wall > 2.0:
                break
    assert best is not None
    return best


def side_by_side(rows: list[tuple[str, str, list[str]]], timeout: float,
                 spin_rows: dict[str, tuple[str, str, str]] | None = None) -> None:
    """One table: each row's states and whole-process wall time under each
    column of COLUMNS, then (spin_rows) SPIN's states, verdict and whole
    pipeline time beside the default column, with the ratio."""
    known = known_options()
    cols = [(name, resolve(options, known)) for name, options in COLUMNS]
    missing = [name for name, flags in cols if flags is None]
    head = "| row | " + " | ".join(f"{name}: states | {name}: s" for name, _ in cols)
    sep = "| --- | " + " | ".join("--- | ---" for _ in cols)
    if spin_rows is not None:
        head += " | kmap verdict | SPIN states | SPIN verdict | SPIN s (spin -a, gcc -O2, ./pan) " \
                "| SPIN s / kmap s"
        sep += " | --- | --- | --- | --- | ---"
    print(head + " |")
    print(sep + " |", flush=True)
    for label, src, extra in rows:
        cells = []
        default: CliRun | None = None
        for name, flags in cols:
            if flags is None:
                cells.append("n/a | n/a")
                continue
            r = cli_check(src, flags + extra, timeout, repeat=3)
            if default is None:
                default = r
            cut = " (cut)" if r.bounded else ""
            cells.append(f"{r.states:,}{cut} | {r.wall:.2f}")
        line = f"| {label} | " + " | ".join(cells)
        if spin_rows is not None:
            assert default is not None
            s = spin(*spin_rows[label])
            if s is None:
                line += f" | {default.verdict} | (spin or gcc missing) | | |"
            else:
                stored, sverdict, swall = s
                line += (f" | {default.verdict} | {stored} | {sverdict} | {swall:.2f} | "
                         f"{swall / default.wall:.2f}")
        print(line + " |", flush=True)
    if missing:
        print(f"\n(n/a: this kmap has no option for {', '.join(missing)}; "
              f"`kmap check --help` lists {len(known)} options)")


def ten_million(timeout: float) -> None:
    """The 10 M-state rung (1 cpu: pkmap 5 tasks, pool 4, cut by
    --max-states) under each column: rate and peak memory of the whole
    `kmap check` process."""
    known = known_options()
    src = pkmap_rung(5, 4)
    print("| search | states | wall s | states/s | peak GiB |")
    print("| --- | --- | --- | --- | --- |")
    for name, options in COLUMNS:
        if name not in TEN_MILLION_COLUMNS:
            continue
        flags = resolve(options, known)
        if flags is None:
            print(f"| {name} | n/a | | | |")
            continue
        r = cli_check(src, flags + ["--max-states", str(TEN_MILLION)], timeout)
        print(f"| {name} | {r.states:,} | {r.wall:.0f} | {r.states / r.wall:,.0f} | "
              f"{r.peak / 2**30:.2f} |", flush=True)


def spin_section(quick: bool, timeout: float) -> None:
    print("\n# beside SPIN (bench/spin/kmap_dma.pml; `kmap check` and SPIN's whole pipeline "
          "timed as processes; SPIN's \"no POR\" rows beside kmap's columns alike)\n")
    if not shutil.which("spin"):
        print("(spin not found: `apt-get install -y spin` for the SPIN columns; "
              "kmap's columns are measured anyway)\n")
    rows = []
    spin_rows = {}
    for label, (nk, iters, pin), dflags, cflags, pflags in SPIN_ROWS[: 4 if quick else None]:
        rows.append((label, spin_equivalent(nk, iters, pin), []))
        spin_rows[label] = (dflags, cflags, pflags)
    side_by_side(rows, timeout, spin_rows)


# --jobs: the largest one-CPU rung (the workers count), and an SMP rung
# with and without reduction (with sleep sets the parent runs phase 2).
JOBS_ROWS = [
    (LARGEST_ONE_CPU, True, 5),
    ("smp: kmap_local 5 tasks x 2 maps, 2 cpus", False, 3),
    ("smp: kmap_local 5 tasks x 2 maps, 2 cpus", True, 3),
]


def jobs_row(label: str, reduce: bool, runs: int, timeout: float) -> str:
    """`runs` searches with 1 and with 2 jobs, alternating (the machine's
    speed drifts over minutes), each in a fresh interpreter."""
    src = dict(LADDER)[label]()
    walls: dict[int, list[float]] = {1: [], 2: []}
    states = {}
    for _ in range(runs):
        for jobs in (1, 2):
            # --jobs reduces no states: one process builds the whole graph too
            r, wall = check(src, reduce, timeout, jobs=jobs, por=False)
            walls[jobs].append(wall)
            states[jobs] = r.states
    assert states[1] == states[2], states
    lo = {j: min(w) for j, w in walls.items()}
    med = {j: sorted(w)[len(w) // 2] for j, w in walls.items()}
    name = f"{label}, {'POR' if reduce else 'no POR'}"
    return (f"| {name} | {runs} | {states[1]:,} | {lo[1]:.2f} | {med[1]:.2f} | {lo[2]:.2f} | "
            f"{med[2]:.2f} | {lo[1] / lo[2]:.2f}x | {med[1] / med[2]:.2f}x |")


def row(label: str, r: Run, wall: float) -> str:
    rate = r.states / wall if wall else 0.0
    cut = " (timeout)" if r.bounded else ""
    return (f"| {label} | {r.states:,} | {r.transitions:,} | {r.executions:,} | "
            f"{wall:.2f} | {rate:,.0f}{cut} |")


CONCURRENT_PROBE = """
import sys, time
sys.path.insert(0, {bench!r})
import ladder
from kmap_scenarios.dsl.lower.load import load_text
from kmap_scenarios.runtime.search import explore as ex
p = load_text(dict(ladder.LADDER)[{label!r}](), 'bench.kmap')
t0 = time.perf_counter()
ex.explore(p)
print(time.perf_counter() - t0)
"""


def concurrent(label: str, n: int) -> list[float]:
    """Wall times of n copies of one `--jobs 1` search run at once, each in
    its own process: what the machine gives two processes, whatever the
    search does (shared caches and memory bandwidth)."""
    code = CONCURRENT_PROBE.format(root=str(ROOT), bench=str(ROOT / "bench"), label=label)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
             for _ in range(n)]
    return [float(proc.communicate()[0]) for proc in procs]


MEMORY_PROBE = """
import sys, time
sys.path.insert(0, {bench!r})
import ladder
from kmap_scenarios.dsl.lower.load import load_text
from kmap_scenarios.runtime.search import explore as ex
def hwm():
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith('VmHWM'))
p = load_text(ladder.pkmap_rung(5, 4), 'memory.kmap')
base = hwm()
t0 = time.perf_counter()
r = ex.explore(p, ex.Options(max_states={states}))
wall = time.perf_counter() - t0
print(r.states, r.transitions, base, hwm(), wall)
"""


def memory(states: int) -> str:
    """Peak memory of a search of `states` states (1 cpu, pkmap 5 tasks,
    pool 4, cut at `states`), in a fresh process: bytes per state."""
    code = MEMORY_PROBE.format(root=str(ROOT), bench=str(ROOT / "bench"), states=states)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    n, trans, base, peak, wall = int(out[0]), int(out[1]), int(out[2]), int(out[3]), float(out[4])
    per = (peak - base) / n
    return (f"| {n:,} | {trans:,} | {wall:.0f} | {n / wall:,.0f} | {peak / 2**30:.2f} | "
            f"{per:.0f} | {per * 10_000_000 / 2**30:.2f} |")


def spin(dflags: str, cflags: str, pflags: str) -> tuple[str, str, float] | None:
    """(states stored, verdict, wall incl. compile) of one SPIN run."""
    if not (shutil.which("spin") and shutil.which("gcc") and SPIN_PML.exists()):
        return None
    with tempfile.TemporaryDirectory() as work:
        shutil.copy(SPIN_PML, work)
        t0 = time.perf_counter()
        subprocess.run(["spin", *dflags.split(), "-a", "kmap_dma.pml"], cwd=work,
                       check=True, capture_output=True)
        subprocess.run(["gcc", "-O2", *cflags.split(), "-o", "pan", "pan.c"], cwd=work,
                       check=True, capture_output=True)
        out = subprocess.run(["./pan", *pflags.split()], cwd=work, capture_output=True,
                             text=True).stdout
        wall = time.perf_counter() - t0
    m = re.search(r"([\d.e+]+) states, stored", out)
    stored = m.group(1) if m else "?"
    verdict = "violation" if "assertion violated" in out else "no violation"
    return stored, verdict, wall


def jobs_section(timeout: float) -> None:
    print("\n# --jobs (runs alternate between 1 and 2 jobs; min and median wall s)\n")
    print("| scenario | runs | states | jobs 1 min | jobs 1 median | jobs 2 min | jobs 2 median "
          "| speed-up (min) | speed-up (median) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, reduce, runs in JOBS_ROWS:
        print(jobs_row(label, reduce, runs, timeout), flush=True)
    alone = concurrent(LARGEST_ONE_CPU, 1)[0]
    pair = concurrent(LARGEST_ONE_CPU, 2)
    print(f"\nThe machine's ceiling: one `--jobs 1` search alone {alone:.2f} s; two at once "
          f"{pair[0]:.2f} s and {pair[1]:.2f} s, so two processes do "
          f"{2 * alone / max(pair):.2f}x the work of one.", flush=True)


# --jobs in instructions: callgrind counts what each process executes, the
# same whatever else the machine is doing, so the split of the work can be
# measured apart from the machine's speed, which drifts by 40% here.
INSTR_PROBE = """
import sys
from kmap_scenarios.dsl.lower.load import load_text
from kmap_scenarios.runtime.search import explore as ex
p = load_text(sys.stdin.read(), 'bench.kmap')
if {jobs!r}:
    ex.explore(p, ex.Options(jobs={jobs!r}))
"""


def instructions(src: str, jobs: int, work: str) -> tuple[int, list[int]]:
    """Instructions executed by one run under callgrind (jobs 0: load the
    scenario only): the first process's count and its workers' counts. A
    forked worker's count starts from its parent's at the fork."""
    tag = f"j{jobs}"
    code = INSTR_PROBE.format(root=str(ROOT), jobs=jobs)
    # a fixed hash seed: the split of the states between workers follows it
    env = dict(os.environ, PYTHONHASHSEED="1")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--log-file={work}/{tag}.%p.log",
                             f"--callgrind-out-file={work}/{tag}.%p.out",
                             sys.executable, "-c", code], stdin=subprocess.PIPE, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    proc.communicate(src)
    counts: dict[int, int] = {}
    for log in Path(work).glob(f"{tag}.*.log"):
        m = re.search(r"Collected : (\d+)", log.read_text())
        if m:
            counts[int(log.name.split(".")[1])] = int(m.group(1))
    first = counts.pop(proc.pid)
    return first, sorted(counts.values())


def instructions_section() -> None:
    """The largest rung's --jobs 2 split in instructions: the one-process
    search, and the longest path through the two-process one (the busier
    worker plus everything the parent did after loading; both counted from
    the end of loading, so the path is overstated by the parent's setup
    before the fork)."""
    if not shutil.which("valgrind"):
        print("\n(valgrind not found: no instruction counts)")
        return
    src = dict(LADDER)[LARGEST_ONE_CPU]()
    with tempfile.TemporaryDirectory() as work:
        # the three runs at once: their counts do not depend on the machine
        with ThreadPool(3) as pool:
            (load, _), (one, _), (parent, workers) = pool.map(
                lambda j: instructions(src, j, work), (0, 1, 2))
    seq = one - load
    path = max(workers) - load + parent - load
    total = sum(workers) - len(workers) * load + parent - load
    print("\n# --jobs in instructions (callgrind; billions, counted from the end of loading)\n")
    print("| scenario | jobs 1 | jobs 2: workers | jobs 2: parent | jobs 2: all | "
          "jobs 2: longest path | speed-up in instructions |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    shown = " and ".join(f"{(w - load) / 1e9:.2f}" for w in workers)
    print(f"| {LARGEST_ONE_CPU} | {seq / 1e9:.2f} | {shown} | {(parent - load) / 1e9:.2f} | "
          f"{total / 1e9:.2f} | {path / 1e9:.2f} | {seq / path:.2f}x |", flush=True)


def symmetry_section(timeout: float, quick: bool = False) -> None:
    """States stepped and wall time on rungs of interchangeable tasks
    (sleep sets on): the whole graph, symmetry alone (--no-por: the real
    graph unfolded is the whole one, so its outcomes and counts must be
    the same), the state-level reduction alone (--no-symmetry) and both
    (the default); the outcomes must be the same in all four."""
    print("\n# symmetry: interchangeable tasks (runtime/search/symmetry.py)\n")
    print("| scenario | states | stepped: symmetry | POR | both | fewer (both) | wall s both "
          "| wall s neither | speed-up | same outcomes |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, make in SYMMETRIC_LADDER[:3 if quick else None]:
        src = make()
        neither, wn = check(src, True, timeout, repeat=3, symmetry=False, por=False)
        sym, _ = check(src, True, timeout, repeat=1, por=False)
        por, _ = check(src, True, timeout, repeat=1, symmetry=False)
        both, wb = check(src, True, timeout, repeat=3)
        runs = (neither, sym, por, both)
        same = all(not r.bounded for r in runs) and \
            sym.outcomes == neither.outcomes and sym.states == neither.states and \
            sym.executions == neither.executions and \
            len({tuple(o for o, _ in r.outcomes or ()) for r in runs}) == 1
        print(f"| {label} | {neither.states:,} | {sym.stepped:,} | {por.stepped:,} | "
              f"{both.stepped:,} | {neither.states / both.stepped:.1f}x | {wb:.2f} | {wn:.2f} | "
              f"{wn / wb:.2f}x | {'yes' if same else 'NO'} |", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short ladder (CI smoke run)")
    ap.add_argument("--no-spin", action="store_true")
    ap.add_argument("--timeout", type=float, default=120.0, help="per search, seconds")
    ap.add_argument("--memory", type=int, default=0, metavar="N",
                    help="also measure peak memory of an N-state search")
    ap.add_argument("--symmetry-only", action="store_true",
                    help="only the rungs of interchangeable tasks, with and without symmetry")
    ap.add_argument("--jobs-only", action="store_true",
                    help="only the --jobs rows and the machine's two-process ceiling")
    ap.add_argument("--side-by-side", action="store_true",
                    help="only the option-set columns (COLUMNS) on every rung and beside SPIN")
    ap.add_argument("--ten-million", action="store_true",
                    help="also the 10 M-state rung under each column (minutes each)")
    ap.add_argument("--instructions", action="store_true",
                    help="also the --jobs split in instructions (valgrind; about 5 minutes)")
    args = ap.parse_args()
    if args.symmetry_only:
        symmetry_section(args.timeout, args.quick)
        return 0
    if args.jobs_only:
        jobs_section(args.timeout)
        if args.instructions:
            instructions_section()
        return 0
    print(f"# kmap check ladder ({os.cpu_count()} cores, Python {sys.version.split()[0]})\n")
    if args.side_by_side:
        print("# each rung under each column (whole `kmap check` processes, time to verdict)\n")
        side_by_side([(label, make(), []) for label, make in (QUICK if args.quick else LADDER)],
                     args.timeout)
        if not args.no_spin:
            spin_section(args.quick, args.timeout)
        if args.ten_million:
            print("\n# the 10 M-state rung (whole `kmap check` processes)\n")
            ten_million(max(args.timeout, 1800.0))
        return 0
    print("| scenario | states | transitions | executions | wall s | states/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    quality = []
    for label, make in (QUICK if args.quick else LADDER):
        src = make()
        runs = {}
        for reduce in (True, False):
            r, wall = check(src, reduce, args.timeout, repeat=3)
            runs[reduce] = r
            print(row(f"{label}, {'POR' if reduce else 'no POR'}", r, wall), flush=True)
            if reduce and label.startswith("smp"):
                # the sleep sets alone, over the whole graph (--no-por)
                r, wall = check(src, True, args.timeout, repeat=3, por=False)
                print(row(f"{label}, sleep sets only", r, wall), flush=True)
        traces = mazurkiewicz_traces(load_text(src, "bench.kmap"), 2_000)
        quality.append((label, runs[True].executions, runs[False].executions, traces))
    print("\n# reduction: executions explored vs Mazurkiewicz traces\n")
    print("| scenario | traces | executions with POR | ratio | without POR | POR gain |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, red, full, traces in quality:
        ratio = f"{red / traces:.2f}" if traces else "(too many to enumerate)"
        print(f"| {label} | {traces if traces is not None else '-'} | {red:,} | {ratio} | "
              f"{full:,} | {full / max(red, 1):,.0f}x |")
    symmetry_section(args.timeout, args.quick)
    if not args.quick:
        jobs_section(args.timeout)
    if args.instructions:
        instructions_section()
    if args.memory:
        print("\n# memory (1 cpu: pkmap 5 tasks, pool 4, cut at the state bound)\n")
        print("| states | transitions | wall s | states/s | peak GiB | bytes/state | 10M states, GiB |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        print(memory(args.memory), flush=True)
    if not args.no_spin:
        spin_section(args.quick, args.timeout)
    if args.ten_million:
        print("\n# the 10 M-state rung (whole `kmap check` processes)\n")
        ten_million(max(args.timeout, 1800.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
