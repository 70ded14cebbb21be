"""Mutation testing of the kernel model: do the tests notice a changed rule?

A small ast mutator. For each module it enumerates mutation sites (see
MUTATORS below), samples a fixed number of them with a seeded generator,
writes each mutant into a temporary copy of the source tree and runs a
selection of fast tests against it in a subprocess. A mutant is killed
when the tests fail, crash or time out; it survives when they pass.
Mutants listed in EQUIVALENT behave exactly like the original and are left
out of the score.

    python tests/tools/mutate.py                       # every module, seed 12
    python tests/tools/mutate.py --module runtime/kernel/dma.py --per-module 10
    python tests/tools/mutate.py --list                # the sample, no test runs
    python tests/tools/mutate.py --show 'runtime/kernel/pkmap.py:147:7:Lt->LtE'
    python tests/tools/mutate.py --id 'runtime/kernel/pkmap.py:147:7:Lt->LtE'   # run just that one

Exit status 0 when every module kills at least THRESHOLD of its
non-equivalent mutants, 1 when one does not, 2 when the tests fail before
any mutation. docs/mutation.md has the scores and how to read them.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from overlay import PACKAGE, overlay  # noqa: E402  (tests/tools/overlay.py)

# The tests that judge each module's mutants: fast files, the most direct
# first (pytest -x stops at the first failure).
KERNEL_TESTS = ("tests/test_kernel_rules.py", "tests/test_pkmap.py", "tests/test_kmap_local.py",
                "tests/test_context.py", "tests/test_cache_dma.py", "tests/test_examples.py",
                # issue 13's kernel: softirqs, RCU, interrupt state, mutexes, the highmem helpers
                "tests/test_kmap_to_page.py", "tests/test_softirq.py", "tests/test_rcu.py",
                "tests/test_irqflags.py", "tests/test_debug_preempt.py", "tests/test_mutex.py",
                "tests/test_mapping_calls.py", "tests/test_slab.py")
MODULES: dict[str, tuple[str, ...]] = {
    "runtime/kernel/pkmap.py": KERNEL_TESTS,
    "runtime/kernel/kmap_local.py": KERNEL_TESTS,
    "runtime/kernel/sched.py": KERNEL_TESTS,
    "runtime/kernel/preempt.py": KERNEL_TESTS,   # the counters sched.py had until issue 12
    "runtime/kernel/cache.py": KERNEL_TESTS,
    "runtime/kernel/dma.py": KERNEL_TESTS,
}

SEED = 12
PER_MODULE = 40
THRESHOLD = 0.95

# Mutants that cannot change behaviour, keyed by their id
# (module:line:col:kind): (the line it changes, as it reads, stripped; why
# the change cannot alter behaviour). Only truly equivalent ones: a mutant
# that merely no test notices is a missing test, not an entry here.
# tests/test_mutate.py checks that every key still names a mutant of that
# very line, so an edit that moves lines cannot hand a reason to another
# mutant.
EQUIVALENT: dict[str, tuple[str, str]] = {
    "runtime/kernel/pkmap.py:74:12:stmt->pass": (
        "tx.bug(R.FLUSH_PTE_NONE, i)",
        "unreachable: a slot's count is above 0 only while its PTE is set (map_new_virtual sets "
        "both, flush clears both), so flush never meets count 1 with pte_none"),
    "runtime/kernel/pkmap.py:233:8:return->None": (
        "return 0",
        "the stub is reached only from the kmap_high_get built-in, which stores 0 for None "
        "(machine._store, builtins.call_value); kmap_local and dma call it only with "
        "ARCH_NEEDS_KMAP_HIGH_GET"),
    "runtime/kernel/pkmap.py:240:8:return->None": (
        "return 0",
        "every caller of kmap_high_get tests its truth or stores `0 if r is None` (builtins)"),
    "runtime/kernel/kmap_local.py:39:7:And->Or": (
        "if cfg.ARCH_NEEDS_KMAP_HIGH_GET and is_highmem(tx.program, page):",
        "past the lowmem return above it the page is highmem unless FORCE_MAP, which only x86 "
        "allows, and x86 has no ARCH_NEEDS_KMAP_HIGH_GET: the mutant only adds calls of the "
        "stub, which returns 0 at once"),
    "runtime/kernel/kmap_local.py:145:14:const+1": (
        "cleared = 0",
        "the initial value is read only when cpu is not a CPU, and then only cpu < 0 occurs, "
        "where _cleared_text does not use it"),
    "runtime/kernel/kmap_local.py:146:7:Lt->LtE#1": (
        "if 0 <= cpu < cfg.NR_CPUS:",
        "cpu is never NR_CPUS: tx.cpu or tx.cpu - 1 on linear arrays, else from fixmap_slot, "
        "whose window holds KM_MAX_IDX * NR_CPUS slots"),
    "runtime/kernel/kmap_local.py:148:36:const+1": (
        "_set_pte(tx, cpu, slot, 0, -1)",
        "_set_pte records an owner only with a PTE: with pte 0 it stores -1 whatever owner it "
        "is given"),
    "runtime/kernel/kmap_local.py:149:7:Lt->LtE#1": (
        "if 0 <= top < len(ctx.pteval):",
        "a live context's kmap_idx stays below KM_MAX_IDX (the push BUGs at KM_MAX_IDX, killing "
        "the task or panicking in an irq), so top < len(pteval) whenever top >= 0"),
    "runtime/kernel/kmap_local.py:189:52:const+1": (
        "page = tx.program.pfn_to_page.get(pte - 1, -1) if pte else -1",
        "the default is never taken: a pkmap PTE is 0 or a scenario page's pfn + 1 (only "
        "map_new_virtual sets one), so pfn_to_page always has pte - 1"),
    "runtime/kernel/preempt.py:53:15:False->True": (
        "return False",
        "no caller of preempt_count_sub uses its result (preempt_count_dec, softirq's "
        "__local_bh_enable_ip, sched.irq_return_count)"),
    "runtime/kernel/preempt.py:55:11:True->False": (
        "return True",
        "no caller of preempt_count_sub uses its result (preempt_count_dec, softirq's "
        "__local_bh_enable_ip, sched.irq_return_count)"),
    "runtime/kernel/preempt.py:53:8:return->None": (
        "return False",
        "no caller of preempt_count_sub uses its result (preempt_count_dec, softirq's "
        "__local_bh_enable_ip, sched.irq_return_count)"),
    "runtime/kernel/preempt.py:55:4:return->None": (
        "return True",
        "no caller of preempt_count_sub uses its result (preempt_count_dec, softirq's "
        "__local_bh_enable_ip, sched.irq_return_count)"),
    "runtime/kernel/kmap_local.py:247:37:const+1": (
        "_set_pte(tx, cpu, i, 0, -1)",
        "_set_pte records an owner only with a PTE: with pte 0 it stores -1 whatever owner it "
        "is given"),
    "runtime/kernel/sched.py:92:8:return->None": (
        "return True",
        "unreachable: a task stops being READY only through leave_cpu (pkmap or mutex sleep, "
        "exit, kill), so no CPU's curr is a task that is not READY"),
    "runtime/kernel/sched.py:112:7:And->Or": (
        "if old_cpu >= 0 and old_cpu != cpu and tx.cpus[old_cpu].curr == task:",
        "leave_cpu acts only when the task is curr on old_cpu, and a task is curr only on its "
        "ctx.cpu (switch_to sets both): never with old_cpu -1, nor on cpu, where switch_to is "
        "called only when it is not curr"),
    "runtime/kernel/sched.py:134:34:False->True": (
        "tx.set(task, cpu=cpu, resched=False)",
        "both callers of switch_to (machine.step, machine.switch_step) clear the incoming "
        "task's resched flag right after it, and nothing in between reads it or can raise"),
    "runtime/kernel/sched.py:271:48:Lt->LtE": (
        'holder = tx.program.contexts[owner].name if owner < len(tx.program.contexts) else "?"',
        "a spinlock's owner is the tx.ci that took it, a task, irq or softirq of the program "
        "(the checker keeps mutexes, which may be owned by `current`, out of spin_lock): "
        "idle and ksoftirqd contexts run no code, so owner == len(contexts) never occurs"),
    "runtime/kernel/sched.py:274:4:return->None": (
        "return False",
        "the only caller (spinlock.py's lock side) tests the result's truth"),
    "runtime/kernel/cache.py:39:15:Add->Sub": (
        "if buf[off:off + len(data)] == data:",
        "the test only skips rebuilding equal bytes: buf[off:off-n] is empty, or (len(buf) == "
        "2n) the same slice buf[off:off+n]; checked exhaustively for buffers up to 8 bytes"),
    "runtime/kernel/cache.py:72:16:Sub->Add": (
        "k = min(len(data) - pos, l1 - (o % l1))",
        "k only bounds the slice data[pos:pos+k], clipped at len(data), and pos, which then "
        "ends the loop either way"),
    "runtime/kernel/cache.py:134:40:const+1": (
        "base = vaddr & ~(tx.cfg.PAGE_SIZE - 1)",
        "every caller passes a page-aligned address, which the wider mask leaves as it is"),
    "runtime/kernel/cache.py:144:27:const+1": (
        "first = vaddr & ~(l1 - 1)",
        "the only caller passes a page-aligned address, whose bit 0 the mask never sees set"),
    "runtime/kernel/cache.py:156:13:Add->Sub": (
        "first = (base + off) & ~(l1 - 1)",
        "the only caller (dma.start) passes off = 0"),
    "runtime/kernel/dma.py:31:45:const+1": (
        "CLEAN, INVALIDATE, FLUSH, NOTHING = 0, 1, 2, 3",
        "NOTHING is only compared by name and never stored (start returns before the progress "
        "tuple); 4 is still distinct from CLEAN, INVALIDATE and FLUSH"),
    "runtime/kernel/dma.py:71:33:const+1": (
        "pinned = 1 if vaddr else 0",
        "with no address start returns before `pinned` is used"),
}


# ------------------------------------------------------------------ mutants

@dataclass(frozen=True)
class Mutant:
    """One change of one module: ``id`` is module:line:col:kind."""

    module: str
    line: int
    col: int
    kind: str
    original: str
    mutated: str

    @property
    def id(self) -> str:
        return f"{self.module}:{self.line}:{self.col}:{self.kind}"


CMP_SWAP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt,
    ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}
BIN_SWAP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
    ast.BitXor: ast.BitOr, ast.LShift: ast.RShift, ast.RShift: ast.LShift,
}
SIMPLE_STMTS = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Raise, ast.Delete,
                ast.Continue, ast.Break)


@dataclass
class Site:
    """Where a mutation applies: ``node`` is changed by ``change`` on a
    copy; ``splice`` is the node whose source text is replaced (the node
    itself, or the f-string around it, whose inner positions Python 3.11
    does not give reliably)."""

    node: ast.AST
    splice: ast.AST
    kind: str
    change: Callable[[ast.AST], ast.AST | None]   # None: the statement becomes `pass`


def _name(op: ast.AST) -> str:
    return type(op).__name__


def _docstring(node: ast.AST) -> ast.AST | None:
    body = getattr(node, "body", None)
    if (isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)):
        return body[0]
    return None


def _children(node: ast.AST) -> Iterator[ast.AST]:
    """Child nodes worth mutating: not annotations, docstrings or imports."""
    doc = _docstring(node)
    for field, value in ast.iter_fields(node):
        if field in ("annotation", "returns", "type_comment"):
            continue
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, ast.AST) and child is not doc and not isinstance(
                    child, (ast.Import, ast.ImportFrom)):
                yield child


def _sites_at(node: ast.AST, splice: ast.AST, in_func: bool) -> Iterator[Site]:
    """The mutations of one node (MUTATORS)."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            new = CMP_SWAP.get(type(op))
            if new is not None:
                kind = f"{_name(op)}->{new.__name__}" + (f"#{i}" if len(node.ops) > 1 else "")
                yield Site(node, splice, kind, lambda n, i=i, new=new: _set_op(n, i, new()))
    elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in BIN_SWAP:
        new_op = BIN_SWAP[type(node.op)]
        prefix = "Aug" if isinstance(node, ast.AugAssign) else ""
        yield Site(node, splice, f"{prefix}{_name(node.op)}->{prefix}{new_op.__name__}",
                   lambda n, new_op=new_op: _replace(n, op=new_op()))
    elif isinstance(node, ast.BoolOp):
        new_b = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield Site(node, splice, f"{_name(node.op)}->{new_b.__name__}",
                   lambda n, new_b=new_b: _replace(n, op=new_b()))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield Site(node, splice, "not-dropped", lambda n: n.operand)  # type: ignore[attr-defined]
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield Site(node, splice, f"{node.value}->{not node.value}",
                   lambda n: ast.Constant(not n.value))  # type: ignore[attr-defined]
    elif isinstance(node, ast.Constant) and isinstance(node.value, int):
        yield Site(node, splice, "const+1", lambda n: ast.Constant(n.value + 1))  # type: ignore[attr-defined]
    if isinstance(node, (ast.If, ast.While, ast.IfExp)) and not isinstance(
            node.test, (ast.Compare, ast.BoolOp, ast.UnaryOp)):
        yield Site(node.test, splice if splice is not node else node.test, "negated",
                   lambda n: ast.UnaryOp(ast.Not(), n))
    if in_func and isinstance(node, SIMPLE_STMTS) and splice is node:
        yield Site(node, node, "stmt->pass", lambda n: None)
    if isinstance(node, ast.Return) and node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None):
        yield Site(node, node, "return->None", lambda n: ast.Return(ast.Constant(None)))


def _set_op(node: ast.AST, i: int, op: ast.cmpop) -> ast.AST:
    new = copy.deepcopy(node)
    new.ops[i] = op  # type: ignore[attr-defined]
    return new


def _replace(node: ast.AST, **fields: object) -> ast.AST:
    new = copy.deepcopy(node)
    for k, v in fields.items():
        setattr(new, k, v)
    return new


def sites(tree: ast.Module) -> list[Site]:
    """Every mutation site of a module, in source order."""
    out: list[Site] = []

    def walk(node: ast.AST, splice: ast.AST | None, in_func: bool) -> None:
        here = splice or (node if isinstance(node, ast.JoinedStr) else None)
        out.extend(_sites_at(node, here or node, in_func))
        in_func = in_func or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for child in _children(node):
            walk(child, here, in_func)

    walk(tree, None, False)
    out.sort(key=lambda s: (s.node.lineno, s.node.col_offset, s.kind))  # type: ignore[attr-defined]
    return out


def _splice(source: str, node: ast.AST, text: str) -> str:
    """Replace node's source text (positions are UTF-8 byte offsets)."""
    lines = source.encode().splitlines(keepends=True)
    first, last = node.lineno - 1, node.end_lineno - 1  # type: ignore[attr-defined]
    head = lines[first][:node.col_offset]  # type: ignore[attr-defined]
    tail = lines[last][node.end_col_offset:]  # type: ignore[attr-defined]
    return b"".join(lines[:first] + [head + text.encode() + tail] + lines[last + 1:]).decode()


def _mutate_in(root: ast.AST, target: ast.AST, change: Callable[[ast.AST], ast.AST | None]) -> ast.AST | None:
    """A copy of root with target changed (root is target or holds it)."""
    if root is target:
        return change(root)
    twin = copy.copy(root)
    for field, value in ast.iter_fields(root):
        if isinstance(value, list):
            new_list = [_mutate_in(v, target, change) if isinstance(v, ast.AST) else v for v in value]
            setattr(twin, field, new_list)
        elif isinstance(value, ast.AST):
            setattr(twin, field, _mutate_in(value, target, change))
    return twin


def mutants(module: str, source: str | None = None) -> list[Mutant]:
    """Every mutant of a module, in source order, with unique ids."""
    source = (ROOT / module).read_text() if source is None else source
    out: list[Mutant] = []
    seen: dict[str, int] = {}
    for site in sites(ast.parse(source)):
        new = _mutate_in(site.splice, site.node, site.change)
        if new is None:
            text = "pass"
        elif isinstance(site.splice, ast.stmt):
            text = ast.unparse(new)
        else:
            text = f"({ast.unparse(new)})"
        line, col = site.node.lineno, site.node.col_offset  # type: ignore[attr-defined]
        key = f"{line}:{col}:{site.kind}"
        seen[key] = seen.get(key, 0) + 1
        kind = site.kind if seen[key] == 1 else f"{site.kind}#{seen[key]}"
        out.append(Mutant(module, line, col, kind, source, _splice(source, site.splice, text)))
    return out


def sample(module: str, seed: int, n: int) -> list[Mutant]:
    """n mutants of module drawn with a generator seeded by (seed, module)."""
    every = mutants(module)
    rng = random.Random(f"{seed}:{module}")   # str seeds are hashed with sha512: stable
    picked = rng.sample(range(len(every)), min(n, len(every))) if n > 0 else range(len(every))
    return [every[i] for i in sorted(picked)]


def diff_line(m: Mutant) -> str:
    """The first changed line, before and after."""
    old, new = m.original.splitlines(), m.mutated.splitlines()
    for i, (a, b) in enumerate(zip(old, new)):
        if a != b:
            return f"    {i + 1}: {a.strip()}\n    {' ' * len(str(i + 1))}  {b.strip()}"
    return "    (no line changed)"


# ---------------------------------------------------------------- test runs

def import_name(module: str) -> str:
    """runtime/kernel/pkmap.py -> kmap_scenarios.runtime.kernel.pkmap."""
    return f"{PACKAGE}." + module.removesuffix(".py").replace("/", ".")


OVERLAY = "_overlay"


def where_tests_run(tree: Path) -> tuple[Path, dict[str, str]]:
    """How a test subprocess finds the mutated package: (cwd, environment).

    The tests import the installed kmap_scenarios; the copy's folders are
    linked under one kmap_scenarios/ (tests/tools/overlay.py, made by
    copy_tree) put first on PYTHONPATH, ahead of any installed one (an
    editable install's finder comes after the path's)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree / OVERLAY), env.get("PYTHONPATH")]))
    return tree, env


def imported_from(tree: Path, module: str) -> str:
    """The file a test subprocess would import module from."""
    cwd, env = where_tests_run(tree)
    code = "import importlib, sys; print(importlib.import_module(sys.argv[1]).__file__)"
    out = subprocess.run([sys.executable, "-c", code, import_name(module)], cwd=cwd, env=env,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def run_tests(tree: Path, tests: Sequence[str], timeout: float) -> bool:
    """Whether the tests pass (a crash or a timeout is a failure)."""
    cwd, env = where_tests_run(tree)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def copy_tree(dest: Path) -> Path:
    tree = dest / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".hypothesis",
        "*.egg-info", "build", "dist"))
    overlay(tree / OVERLAY, root=tree)
    return tree


def write_module(tree: Path, module: str, text: str) -> None:
    """Write a module and drop its bytecode: a mutant of the same size
    written within the same second would otherwise pass for the cached
    original (pyc files are checked by mtime and size)."""
    path = tree / module
    path.write_text(text)
    for pyc in path.parent.glob(f"__pycache__/{path.stem}.*.pyc"):
        pyc.unlink()


@dataclass
class Score:
    module: str
    killed: int = 0
    total: int = 0
    equivalent: int = 0

    @property
    def ratio(self) -> float:
        return self.killed / self.total if self.total else 1.0


def run_module(tree: Path, module: str, picked: Sequence[Mutant], timeout: float) -> Score:
    score = Score(module)
    tests = MODULES.get(module, KERNEL_TESTS)
    original = (ROOT / module).read_text()
    try:
        for m in picked:
            if m.id in EQUIVALENT:
                score.equivalent += 1
                print(f"  equivalent {m.id}: {EQUIVALENT[m.id][1]}", flush=True)
                continue
            write_module(tree, module, m.mutated)
            start = time.monotonic()
            killed = not run_tests(tree, tests, timeout)
            took = time.monotonic() - start
            score.total += 1
            score.killed += killed
            print(f"  {'killed  ' if killed else 'SURVIVED'} {m.id} ({took:.1f} s)", flush=True)
            if not killed:
                print(diff_line(m), flush=True)
    finally:
        write_module(tree, module, original)
    return score


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--module", action="append", help="a module path (repeatable); default: all of MODULES")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--per-module", type=int, default=PER_MODULE, help="mutants per module; 0: all")
    ap.add_argument("--timeout", type=float, default=0.0,
                    help="seconds per test run; default: 10 times the unmutated run, at least 20")
    ap.add_argument("--list", action="store_true", help="print the sampled mutants, run nothing")
    ap.add_argument("--show", metavar="ID", help="print one mutant's changed line, run nothing")
    ap.add_argument("--id", action="append", metavar="ID",
                    help="run only this mutant, sampled or not (repeatable)")
    args = ap.parse_args(argv)
    modules = args.module or list(MODULES)
    if args.show:
        module = args.show.split(":")[0]
        found = [m for m in mutants(module) if m.id == args.show]
        print(diff_line(found[0]) if found else f"no mutant {args.show}")
        return 0 if found else 1
    if args.id:
        modules = list(dict.fromkeys(i.split(":")[0] for i in args.id))
        picks = {mod: [m for m in mutants(mod) if m.id in args.id] for mod in modules}
        unknown = set(args.id) - {m.id for ms in picks.values() for m in ms}
        if unknown:
            print(f"no mutant {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
    else:
        picks = {mod: sample(mod, args.seed, args.per_module) for mod in modules}
    if args.list:
        for mod, picked in picks.items():
            for m in picked:
                print(m.id + ("  (equivalent)" if m.id in EQUIVALENT else ""))
                print(diff_line(m))
        return 0
    # SIGTERM ends the run like Ctrl-C: the running test process is killed
    # (subprocess.run does it on any exception) and the copy removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="kmap-mutate-") as tmp:
        tree = copy_tree(Path(tmp))
        scores = []
        for mod, picked in picks.items():
            where = Path(imported_from(tree, mod))
            if tree not in where.parents:
                print(f"{mod} is imported from {where}, not from the copy {tree}", file=sys.stderr)
                return 2
            tests = MODULES.get(mod, KERNEL_TESTS)
            start = time.monotonic()
            if not run_tests(tree, tests, 600):
                print(f"the tests of {mod} fail without a mutant: {' '.join(tests)}", file=sys.stderr)
                return 2
            timeout = args.timeout or max(20.0, 10 * (time.monotonic() - start))
            print(f"{mod}: {len(picked)} mutants (seed {args.seed}), timeout {timeout:.0f} s", flush=True)
            scores.append(run_module(tree, mod, picked, timeout))
    print("\nthe chosen mutants" if args.id else
          f"\nseed {args.seed}, {args.per_module or 'all'} mutants per module")
    for s in scores:
        print(f"{s.module:24} {s.killed:3}/{s.total:<3} killed ({s.equivalent} equivalent excluded)"
              f"  {100 * s.ratio:5.1f}%")
    killed, total = sum(s.killed for s in scores), sum(s.total for s in scores)
    print(f"{'overall':24} {killed:3}/{total:<3} killed  {100 * killed / max(total, 1):5.1f}%")
    return 0 if all(s.ratio >= THRESHOLD for s in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
