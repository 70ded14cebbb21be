"""A scenario as the C source of a kernel module, with its Kbuild file.

The translation works on the lowered program (runtime/kernel/program.py),
one C statement per instruction, so that what the model takes as one
step is one statement of the module too, and a random delay
(``km_step``) can go between any two of them. Control flow is already
jumps there: a branch is ``if (!(c)) goto pcN;``. ``#line`` directives
name the scenario's file and line, so that the kernel's own reports of a
scenario's ``BUG_ON``, ``WARN_ON`` and ``might_sleep`` say
``FILE.kmap:LINE`` as the model's do.

The files written (docs/kmod.md):

    Kbuild              obj-m := kmap_scenario.o
    kmap_scenario.c     the scenario: pages, globals, per-CPU ints, bodies, atoms
    kmap_runtime.h      the fixed helpers (GPL-2.0 OR MIT, copied from this package)
    kmap_controller.h   the fixed controller (GPL-2.0 OR MIT, copied from this package)

The generated kmap_scenario.c is GPL-2.0: the module it makes uses
GPL-only kernel symbols and declares MODULE_LICENSE("GPL") (docs/kmod.md,
"Licence").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from kmap_scenarios.dsl.check.checker import Checked, check
from kmap_scenarios.dsl.kmod import cexpr
from kmap_scenarios.dsl.kmod.cexpr import CExpr, Names, Untranslated, narrow
from kmap_scenarios.dsl.kmod.refuse import Refused, config_reasons, instr_reasons, page_reasons
from kmap_scenarios.dsl.lower.load import _source_of
from kmap_scenarios.dsl.lower.lower import lower
from kmap_scenarios.dsl.syntax import nodes
from kmap_scenarios.dsl.syntax.parser import parse_text
from kmap_scenarios.runtime.kernel import program as ir
from kmap_scenarios.runtime.kernel.program import PageKind, Program
from kmap_scenarios.runtime.search.outcome import collect_atoms

MODULE = "kmap_scenario"
FIXED_FILES = ("kmap_runtime.h", "kmap_controller.h")
DEFAULT_ITERATIONS = 1000


@dataclass(frozen=True)
class Options:
    iterations: int = DEFAULT_ITERATIONS


def load_scenario(data: bytes | str, path: str) -> tuple[Checked, Program]:
    """Parse, check and lower (InputError on bad input), keeping the AST."""
    tree = parse_text(data, path)
    checked = check(tree, _source_of(tree, data, path))
    return checked, lower(checked)


def generate(checked: Checked, program: Program, options: Options = Options()) -> dict[str, str]:
    """The module's files by name; Refused with every reason it cannot be."""
    reasons = config_reasons(program) + page_reasons(program) + instr_reasons(program)
    if reasons:
        raise Refused(program.path, reasons)
    gen = _Module(checked, program, options)
    try:
        source = gen.source()
    except Untranslated:
        raise Refused(program.path, gen.untranslated) from None
    if gen.untranslated:
        raise Refused(program.path, gen.untranslated)
    files = {"Kbuild": f"obj-m := {MODULE}.o\n", f"{MODULE}.c": source}
    for name in FIXED_FILES:
        files[name] = resources.files("kmap_scenarios.dsl.kmod").joinpath(name).read_text()
    return files


def write(files: dict[str, str], outdir: str | Path) -> list[Path]:
    """Write the files into outdir (created if needed); the paths written."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        (out / name).write_text(text)
        written.append(out / name)
    return written


def c_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def c_comment(s: str) -> str:
    return s.replace("*/", "* /")


class _Module:
    """The generated kmap_scenario.c, line by line."""

    def __init__(self, checked: Checked, program: Program, options: Options) -> None:
        self.checked = checked
        self.p = program
        self.opt = options
        self.lines: list[str] = []
        self.untranslated: list[str] = []
        self.file = os.path.basename(program.path)
        percpu = tuple(f"km_pcpu_{name}" for name, _ in program.percpus)
        softirqs = tuple((i, c.softirq_nr, c.cpu or 0) for i, c in enumerate(program.contexts)
                         if c.is_softirq)
        users = [info for info in program.pages if info.kind == PageKind.USER]
        base = program.config.preset.user_base
        user = (base, base + len(users) * program.config.PAGE_SIZE) if users else None
        self.names = Names(percpu, softirqs=softirqs, user=user)
        # the kmalloc arena's pages are the model's (runtime/kernel/slab.py):
        # the module has the kernel's own kmalloc; they come last
        self.nr_pages = len(program.pages) - len(program.slab_pages)
        assert all(i >= self.nr_pages for i in program.slab_pages)

    def emit(self, line: str = "") -> None:
        self.lines.append(line)

    def resync(self) -> None:
        """Number the generated lines again after a body's #line directives."""
        self.emit(f'#line {len(self.lines) + 2} "{MODULE}.c"')

    def source(self) -> str:
        p = self.p
        nslots = max([len(c.local_names) for c in p.contexts]
                     + [len(f.local_names) for f in p.functions] + [1])
        self.emit(f"// SPDX-License-Identifier: GPL-2.0")
        self.emit(f"// Generated by `kmap kmod` from {c_comment(self.file)}: scenario "
                  f"{c_comment(repr(p.name))}. Do not edit: generate it again.")
        self.emit(f"#define KM_SCENARIO {c_string(p.name)}")
        self.emit(f"#define KM_FILE {c_string(self.file)}")
        self.emit(f"#define KM_NR_CPUS {p.config.NR_CPUS}")
        self.emit(f"#define KM_NR_PAGES {max(self.nr_pages, 1)}")
        self.emit(f"#define KM_NR_CTX {len(p.contexts)}")
        self.emit(f"#define KM_NR_SLOTS {nslots}")
        self.emit(f"#define KM_NR_GLOBALS {max(len(p.globals), 1)}")
        self.emit(f"#define KM_NR_LOCKS {max(len(p.locks), 1)}")
        self.emit(f"#define KM_LAST_PKMAP {p.config.LAST_PKMAP}")
        self.emit(f"#define KM_ITERATIONS {self.opt.iterations}")
        highmem = any(info.kind == PageKind.HIGHMEM for info in p.pages)
        self.emit(f"#define KM_USES_PKMAP {int(highmem)}")
        nsirq = sum(c.is_softirq for c in p.contexts)
        if nsirq:
            self.emit(f"#define KM_NR_SIRQ {nsirq}")
        nuser = sum(info.kind == PageKind.USER for info in p.pages)
        if nuser:
            self.emit(f"#define KM_NR_USER {nuser}")
        if self.uses(("device_write", "device_read")):
            self.emit("#define KM_USES_DEVICE 1")
        self.emit('#include "kmap_runtime.h"')
        self.emit()
        self.pages()
        self.state()
        for i, ctx in enumerate(p.contexts):
            self.body(i, ctx)
        self.contexts()
        self.atoms()
        self.emit('#include "kmap_controller.h"')
        return "\n".join(self.lines) + "\n"

    def uses(self, names: tuple[str, ...]) -> bool:
        """Whether any context calls one of these built-ins."""
        text = repr([c.code for c in self.p.contexts])
        return any(f"name='{n}'" in text for n in names)

    # -------------------------------------------------------------- setup
    def pages(self) -> None:
        self.emit("/* the pages, allocated afresh (and zeroed, as the model's) each iteration */")
        self.emit("static const struct km_page_spec km_page_spec[KM_NR_PAGES] = {")
        gfp = self.gfp_by_page()
        for i, info in enumerate(self.p.pages[:self.nr_pages]):
            user = ", true" if info.kind == PageKind.USER else ""
            present = ", true" if info.kind == PageKind.USER and info.present else ""
            self.emit(f"\t{{ {c_string(info.name)}, {gfp[i]}{user}{present} }},")
        if not self.nr_pages:
            self.emit('\t{ "", 0 },')
        self.emit("};")
        self.emit()

    def gfp_by_page(self) -> list[str]:
        """Each page's GFP flags as the scenario wrote them (the kernel's names)."""
        out: list[str] = []
        for sym in self.checked.symbols.pages.values():
            args = sym.decl.alloc.args
            user = sym.alloc == "alloc_user_page"
            text = self.gfp_text(args[0]) if args and not user else "GFP_KERNEL"
            out += [text] * sym.size
        return out

    def gfp_text(self, e: nodes.Expr) -> str:
        if isinstance(e, nodes.Name):
            return e.id
        if isinstance(e, nodes.IntLit):
            return f"(__force gfp_t){e.value:#x}"
        if isinstance(e, nodes.Binary) and e.op in ("|", "&"):
            return f"({self.gfp_text(e.left)} {e.op} {self.gfp_text(e.right)})"
        if isinstance(e, nodes.Unary) and e.op == "~":
            return f"(~{self.gfp_text(e.operand)})"
        self.untranslated.append(f"the GFP expression at line {e.span.line} is not translated")
        return "GFP_KERNEL"

    def state(self) -> None:
        p = self.p
        for (name, _), cname in zip(p.percpus, self.names.percpu):
            self.emit(f"static DEFINE_PER_CPU(long, {cname});\t/* percpu int {name} */")
        self.emit()
        self.emit("/* the model's initial state of the globals and per-CPU ints */")
        self.emit("static void km_init_scenario(void)")
        self.emit("{")
        if p.percpus:
            self.emit("\tint cpu;")
            self.emit()
        for i, (name, value) in enumerate(p.globals):
            self.emit(f"\tkm_g[{i}] = {cexpr.c_int(value)};\t/* int {name} */")
        if p.percpus:
            self.emit("\tfor_each_possible_cpu(cpu) {")
            for (name, value), cname in zip(p.percpus, self.names.percpu):
                self.emit(f"\t\tper_cpu({cname}, cpu) = {cexpr.c_int(value)};")
            self.emit("\t}")
        self.emit("}")
        self.emit()

    # -------------------------------------------------------------- bodies
    def body(self, index: int, ctx: ir.ContextInfo) -> None:
        """One context's code, a C statement per instruction. A step is a
        statement that begins with km_step() (the random delay, a place
        for an irq); what the model runs in the same step (a jump, a call's
        entry, a return without a value, an instruction fused to the one
        before: program.py's ``free_at``) has none. The scenario's
        functions are linked into the code after the body's End
        (program.py), so a call is a jump with a frame pushed
        (``km_call()``) and a return a jump back to the statement after
        its call site (``km_ret()`` and a switch over the call sites)."""
        where = f"on cpu{ctx.cpu}" if ctx.cpu is not None else "on any of the scenario's CPUs"
        if ctx.is_softirq:
            kind = f"softirq {ctx.name} (the model's vector {ctx.softirq_nr})"
        elif ctx.is_irq:
            kind = f"irq {ctx.name}"
        else:
            kind = f"task {ctx.name} (pid {ctx.pid} in the model)"
        code = ctx.code
        sites = [pc for pc, ins in enumerate(code) if isinstance(ins, ir.CallFn)]
        self.emit(f"/* {kind} {where} */")
        self.emit(f"static int km_body_{index}(struct km_run *r)")
        self.emit("{")
        targets = {ins.target for ins in code if isinstance(ins, (ir.Branch, ir.Jump))}
        targets |= {pc + 1 for pc in sites}
        entries = {ins.entry for ins in code if isinstance(ins, ir.CallFn)}
        c = CExpr(self.names)
        last_line = 0
        for pc, ins in enumerate(code):
            if ins.loc.line != last_line:
                last_line = ins.loc.line
                self.emit(f'#line {ins.loc.line} {c_string(self.file)}')
            label = f"pc{pc}: " if pc in targets else ""
            try:
                stmt = self.instr(c, ctx, pc, ins)
            except Untranslated as e:
                self.untranslated.append(f"{ctx.name}, line {ins.loc.line}: {e}")
                stmt = ";"
            step = not ctx.free_at[pc] and not isinstance(ins, (ir.Jump, ir.End))
            pre = ""
            if step:
                pre = "km_step(r); "
            if pc in entries:
                pre += f"pc{pc}_in: "
            src = self.source_line(ins.loc.line)
            comment = f"\t/* {c_comment(src)} */" if src and not isinstance(ins, (ir.Jump, ir.End)) else ""
            self.emit(f"{label}\t{pre}{stmt}{comment}")
        self.resync()
        self.emit("}")
        self.emit()

    def source_line(self, line: int) -> str:
        lines = self.p.source_lines
        return lines[line - 1].strip() if 0 < line <= len(lines) else ""

    def instr(self, c: CExpr, ctx: ir.ContextInfo, pc: int, ins: ir.Instr) -> str:
        if isinstance(ins, ir.Set):
            return self.atomic_rmw(c, ins) or self.store(c, ins.dest, c.expr(ins.value))
        if isinstance(ins, ir.Call):
            call = c.call(ins.name, ins.args)
            if ins.dest is None:
                return f"{call};"
            return self.store(c, ins.dest, call)
        if isinstance(ins, ir.Branch):
            return f"if (!{c.expr(ins.cond)}) goto pc{ins.target};"
        if isinstance(ins, ir.Jump):
            return f"goto pc{ins.target};"
        if isinstance(ins, ir.Check):
            cond = c.expr(ins.cond)
            if ins.kind == "assert":
                at = c_string(f"{self.file}:{ins.loc.line}")
                return f"if (!{cond}) {{ km_assert_failed(r, {at}); return 1; }}"
            return f"{ins.kind}({cond});"
        if isinstance(ins, ir.End):
            return "return 0;"
        if isinstance(ins, ir.CallFn):
            return self.call_fn(c, pc, ins)
        if isinstance(ins, ir.Ret):
            return self.ret(c, ctx, pc, ins)
        raise Untranslated(f"{type(ins).__name__} is not translated yet")

    def call_fn(self, c: CExpr, pc: int, ins: ir.CallFn) -> str:
        """The arguments are evaluated in the caller's locals, the frame
        pushed, and the parameters set (converted to their types); the
        callee's first statement runs in the same step (machine.py)."""
        info = self.p.functions[ins.func]
        name = c_string(info.name)
        if not ins.args:
            return f"if (km_call(r, {pc}, {name})) return 1; goto pc{ins.entry}_in;"
        vals = ", ".join(c.expr(a) for a in ins.args)
        params = " ".join(f"r->L[{i}] = ({narrow(w, s)})(km_a[{i}]);"
                          for i, (w, s) in enumerate(info.conv))
        return (f"{{ s64 km_a[{len(ins.args)}] = {{ {vals} }}; if (km_call(r, {pc}, {name})) "
                f"return 1; {params} }} goto pc{ins.entry}_in;")

    def ret(self, c: CExpr, ctx: ir.ContextInfo, pc: int, ins: ir.Ret) -> str:
        """The value converted to the return type, the caller's frame
        back, the value stored where its call site puts it, and on after
        the call site."""
        func = ctx.function_at(pc)
        value = "0" if ins.value is None else f"({narrow(ins.width, ins.signed)})({c.expr(ins.value)})"
        cases = []
        for site, s in enumerate(ctx.code):
            if isinstance(s, ir.CallFn) and s.func == func:
                store = "" if s.dest is None else self.store(c, s.dest, "km_v") + " "
                cases.append(f"case {site}: {store}goto pc{site + 1};")
        return (f"{{ s64 km_v = {value}; (void)km_v; switch (km_ret(r)) {{ {' '.join(cases)} "
                f"default: return 1; }} }}")

    def atomic_rmw(self, c: CExpr, ins: ir.Set) -> str | None:
        """A store to a global or a byte whose value loads that same place
        (`g = g + 1`, `p[0] = p[0] + 1`), calling nothing: one step of the
        model (LANGUAGE.md: a statement is atomic), so a cmpxchg loop
        here, or another CPU's update between C's load and store would be
        lost where the model cannot lose it. None for any other store."""
        if _calls(ins.value):
            return None
        dest = ins.dest
        if isinstance(dest, ir.ToGlobal):
            load = f"(s64)km_g[{dest.index}]"
            value = c.expr(ins.value)
            if load not in value:
                return None
            value = value.replace(load, "(s64)km_o")
            return (f"{{ long km_o, km_n; do {{ km_o = km_g[{dest.index}]; km_n = (long)({value}); }} "
                    f"while (cmpxchg((long *)&km_g[{dest.index}], km_o, km_n) != km_o); }}")
        if isinstance(dest, ir.ToByte):
            addr = c.expr(dest.addr)
            load = f"km_ld({addr})"
            value = c.expr(ins.value)
            if load not in value:
                return None
            value = value.replace(load, "(s64)km_o")
            return (f"{{ u8 *km_p = (u8 *)(unsigned long)({addr}); u8 km_o, km_n; do {{ "
                    f"km_o = READ_ONCE(*km_p); km_n = (u8)({value}); }} "
                    f"while (cmpxchg(km_p, km_o, km_n) != km_o); }}")
        return None

    def store(self, c: CExpr, dest: ir.Dest, value: str) -> str:
        if isinstance(dest, ir.ToLocal):
            return f"r->L[{dest.slot}] = ({narrow(dest.width, dest.signed)})({value});"
        if isinstance(dest, ir.ToGlobal):
            return f"km_g[{dest.index}] = (long)({value});"
        return f"km_st({c.expr(dest.addr)}, {value});"

    # -------------------------------------------------------------- tables
    def contexts(self) -> None:
        self.emit("static const struct km_ctx_spec km_ctx_spec[KM_NR_CTX] = {")
        for i, ctx in enumerate(self.p.contexts):
            cpu = ctx.cpu if ctx.cpu is not None else -1
            irq = "true" if ctx.is_irq else "false"
            sirq = f", {ctx.softirq_nr}, {'true' if ctx.raised_at_boot else 'false'}" \
                if ctx.is_softirq else ", -1"
            self.emit(f"\t{{ {c_string(ctx.name)}, {cpu}, {irq}, km_body_{i}{sirq} }},")
        self.emit("};")
        self.emit()

    def atoms(self) -> None:
        """The values the expectations name, keyed as `kmap check` keys them."""
        self.emit("/* the final-state values the expectations name (kmap check's outcome keys) */")
        self.emit("static void km_atoms(struct km_key *k)")
        self.emit("{")
        c = _ExpectC(self.names)
        for name, e in collect_atoms(self.p):
            try:
                value = c.expr(e)
            except Untranslated as err:
                self.untranslated.append(f"the expectation value `{name}`: {err}")
                continue
            pfn = "true" if name.startswith("page_to_pfn(") else "false"
            self.emit(f"\tkm_value(k, {c_string(name)}, {value}, {pfn});")
        self.emit("}")
        self.emit()


class _ExpectC(CExpr):
    """Expectations: task locals from km_run[], introspection from what
    the tasks left behind."""

    def __init__(self, names: Names) -> None:
        super().__init__(names, lambda ctx, slot: f"km_run[{ctx}].L[{slot}]")

    def call(self, name: str, args: tuple[ir.Expr, ...]) -> str:
        if name in cexpr.LEFT_BEHIND_C:
            return cexpr.LEFT_BEHIND_C[name]
        return super().call(name, args)


def _calls(e: object) -> bool:
    """The expression calls a built-in (which a retried loop would repeat)."""
    if isinstance(e, ir.CallExpr):
        return True
    fields = getattr(e, "__dataclass_fields__", None)
    if not fields:
        return False
    for name in fields:
        v = getattr(e, name)
        if isinstance(v, tuple):
            if any(_calls(x) for x in v):
                return True
        elif _calls(v):
            return True
    return False
