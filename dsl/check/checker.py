"""Static checks of a whole .kmap file: every problem at once.

``check(file, source)`` either returns a ``Checked`` (the file, its resolved
Config and the symbol tables the lowering needs) or raises ``InputError``
with every diagnostic found. Codes: E2xx names, E3xx config, E4xx types,
arity and usage, E5xx schedules (dsl/check/env.py's CODES lists them all).

The order of the passes matters only for what each one can rely on: the
config comes first (config values are constants everywhere), then the
top-level declarations (their tables serve every body), then bodies,
expectations and the schedule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kmap_scenarios.dsl.syntax import names, nodes
from kmap_scenarios.dsl.check.env import Env, Mode, Ty
from kmap_scenarios.dsl.check.expr import ExprCheck
from kmap_scenarios.dsl.check.flow import called
from kmap_scenarios.dsl.check.stmt import check_body, check_function
from kmap_scenarios.dsl.syntax.source import Diagnostic, InputError, Source, did_you_mean, did_you_mean_or_list
from kmap_scenarios.dsl.check.symbols import (MAX_PAGES, ContextSym, FuncSym, NotConstant, PageSym,
                                              Symbols, VarSym, constant_lookup, fold, outer_locals,
                                              wrap)
from kmap_scenarios.runtime.kernel.config import KEYS, MAX_CPUS, Config, check_value, resolve


@dataclass(frozen=True)
class Checked:
    """A file that passed every check, with what the lowering needs."""

    file: nodes.File
    source: Source
    config: Config
    symbols: Symbols


def check(file: nodes.File, source: Source) -> Checked:
    """Check ``file``; raise InputError listing every problem if there is any."""
    diags: list[Diagnostic] = []
    config, nr_cpus = check_config(file, diags)
    env = Env(source, Symbols(), config, nr_cpus, config_ok=not diags, diags=diags)
    declare(file, env)
    callers = callers_of(file, env.symbols)
    for decl in file.decls:
        if isinstance(decl, nodes.TaskDecl):
            check_body(env, decl)
        elif isinstance(decl, nodes.FuncDef) and env.symbols.functions.get(decl.name) is not None \
                and env.symbols.functions[decl.name].decl is decl:
            check_function(env, env.symbols.functions[decl.name], callers.get(decl.name, ()))
    for expect in file.expects:
        ExprCheck(env, Mode.EXPECT).root(expect.cond)
    check_schedules(file, env)
    if diags:
        raise InputError(source, diags)
    return Checked(file, source, config, env.symbols)


def callers_of(file: nodes.File, symbols: Symbols) -> dict[str, tuple[nodes.TaskDecl, ...]]:
    """For each function, the tasks, irqs and softirqs that call it,
    directly or through other functions, in source order."""
    calls = {d.name: called(d.body.stmts) & set(symbols.functions) for d in file.decls
             if isinstance(d, nodes.FuncDef)}
    out: dict[str, list[nodes.TaskDecl]] = {}
    for decl in file.decls:
        if not isinstance(decl, nodes.TaskDecl):
            continue
        seen: set[str] = set()
        todo = sorted(called(decl.body.stmts) & set(symbols.functions))
        while todo:
            f = todo.pop()
            if f not in seen:
                seen.add(f)
                out.setdefault(f, []).append(decl)
                todo.extend(calls.get(f, ()))
    return {f: tuple(ds) for f, ds in out.items()}


# ------------------------------------------------------------------ config


def highest_cpu(file: nodes.File) -> int:
    """The highest CPU number the file mentions (on cpuN, schedule @cpuN)."""
    cpus = [d.cpu for d in file.decls if isinstance(d, nodes.TaskDecl) and d.cpu is not None]
    cpus += [i.cpu for s in file.schedules for i in s.items if i.cpu is not None]
    return max(cpus, default=0)


def check_config(file: nodes.File, diags: list[Diagnostic]) -> tuple[Config, int | None]:
    """E301-E305's config part; the resolved Config and NR_CPUS (None if bad).

    With problems, the Config returned is a stand-in (the valid settings, or
    the defaults) that lets the other checks run. Without an explicit
    NR_CPUS the default grows to fit the CPUs the file uses, so that
    `task t on cpu1` needs no config block."""
    items = settings_of(file, diags)
    settings = {key: item.value for key, item in items.items()}
    bad: set[str] = set()
    for key, item in items.items():
        problem = check_value(key, item.value)
        if problem is not None:
            bad.add(key)
            diags.append(Diagnostic("E302", problem.message, item.value_span, problem.hint))
    min_cpus = min(1 + highest_cpu(file), MAX_CPUS)
    nr_cpus = None if "NR_CPUS" in items and check_value("NR_CPUS", settings["NR_CPUS"]) \
        else int(settings.get("NR_CPUS", min_cpus))
    config = None
    if "ARCH" not in bad:
        # Refusals of the other settings are reported too (every problem at
        # once); without a valid ARCH they would be judged on the wrong arch.
        good = {key: value for key, value in settings.items() if key not in bad}
        config, problems = resolve(good, min_cpus)
        for problem in problems:
            span = refusal_span(file, items, problem.key)
            diags.append(Diagnostic("E303", problem.message, span, problem.hint))
    if config is None:
        config = resolve({}, min_cpus)[0]
        assert config is not None, "the default configuration must resolve"
    return config, nr_cpus


def settings_of(file: nodes.File, diags: list[Diagnostic]) -> dict[str, nodes.ConfigItem]:
    """The config items by key: E301 unknown key, E304 a key set twice."""
    items: dict[str, nodes.ConfigItem] = {}
    for item in file.config.items if file.config is not None else ():
        if item.key not in KEYS:
            diags.append(Diagnostic("E301", f"unknown config key `{item.key}`", item.key_span,
                                    did_you_mean(item.key, KEYS)))
        elif item.key in items:
            diags.append(Diagnostic("E304", f"config key `{item.key}` is set twice", item.key_span,
                                    f"first set at line {items[item.key].key_span.line}"))
        else:
            items[item.key] = item
    return items


def refusal_span(file: nodes.File, items: dict[str, nodes.ConfigItem],
                 key: str | None) -> nodes.Span:
    """Where a refused combination points: its key's item, else ARCH, else the block."""
    item = items.get(key or "") or items.get("ARCH")
    if item is not None:
        return nodes.Span(item.key_span.line, item.key_span.col,
                          item.value_span.end_line, item.value_span.end_col)
    return file.config.span if file.config is not None else nodes.NO_SPAN


def check_cpu(env: Env, cpu: int, span: nodes.Span) -> None:
    """E305: cpuN must exist."""
    if env.nr_cpus is None or cpu < env.nr_cpus:
        return
    if env.nr_cpus == MAX_CPUS and cpu >= MAX_CPUS:
        hint = f"the model has at most {MAX_CPUS} CPUs"
    else:
        hint = f"set NR_CPUS = {cpu + 1} in the config block"
    env.error("E305", f"`cpu{cpu}` does not exist: NR_CPUS = {env.nr_cpus} "
              f"(cpu0 .. cpu{env.nr_cpus - 1})", span, hint)


# ------------------------------------------------------------ declarations

RESERVED_TOP = {**{n: "a built-in function" for n in names.BUILTINS},
                **{n: "an allocator" for n in names.ALLOCATORS},
                **{n: "a kernel constant" for n in names.CONSTANTS},
                **{n: "a config value" for n in names.CONFIG_NAMES},
                **{n: "a report kind" for n in names.REPORT_KINDS}}


def declare(file: nodes.File, env: Env) -> None:
    """Build the symbol tables; E205 for a duplicate or reserved top-level name.

    All top-level names share one namespace. A rejected declaration is still
    checked inside, so that its other problems are reported too."""
    seen: dict[str, nodes.Span] = {}
    for decl in file.decls:
        fresh = True
        if decl.name in RESERVED_TOP:
            env.error("E205", f"`{decl.name}` is {RESERVED_TOP[decl.name]}: it cannot be "
                      "declared", decl.name_span, "choose another name")
            fresh = False
        elif decl.name in seen:
            env.error("E205", f"`{decl.name}` is already declared", decl.name_span,
                      f"first declared at line {seen[decl.name].line}")
            fresh = False
        seen.setdefault(decl.name, decl.name_span)
        if isinstance(decl, nodes.PageDecl):
            declare_page(env, decl, fresh)
        elif isinstance(decl, nodes.IntDecl):
            declare_int(env, decl, fresh)
        elif isinstance(decl, nodes.LockDecl):
            if fresh:
                env.symbols.locks[decl.name] = len(env.symbols.locks)
                if decl.kind == "mutex":
                    env.symbols.mutexes.add(decl.name)
        elif isinstance(decl, nodes.FuncDef):
            if fresh:
                functions = env.symbols.functions
                functions[decl.name] = FuncSym(decl.name, len(functions), decl)
        else:
            declare_context(env, decl, fresh)


def const_value(env: Env, expr: nodes.Expr) -> int | None:
    """Fold a top-level constant expression, reporting why it cannot be (E412)."""
    if ExprCheck(env, Mode.CONST).root(expr) is Ty.BAD:
        return None
    try:
        return fold(expr, constant_lookup(env.config.int_value), env.word)
    except NotConstant as e:
        env.error("E412", e.message, e.node.span)
        return None


def declare_int(env: Env, decl: nodes.IntDecl, fresh: bool) -> None:
    """``[percpu] int NAME = EXPR;``: the initialiser folds to an int (32-bit, signed).

    A bad initialiser still declares the name, so that its uses are not
    reported as unknown too."""
    value = const_value(env, decl.init)
    if not fresh:
        return
    table = env.symbols.percpus if decl.percpu else env.symbols.globals
    table[decl.name] = VarSym(decl.name, len(table), wrap(value or 0, 32, True), decl)


def declare_context(env: Env, decl: nodes.TaskDecl, fresh: bool) -> None:
    """A task, irq or softirq: E418 an irq or softirq needs a CPU, E305 the
    CPU must exist."""
    if decl.is_softirq and decl.cpu is None:
        env.error("E418", f"softirq `{decl.name}` needs a CPU: `softirq {decl.name} on cpuN "
                  "{ ... }`", decl.name_span,
                  "raise_softirq() raises it on the CPU it runs on, and it runs there: name it, "
                  "e.g. `on cpu0`")
    elif decl.is_irq and decl.cpu is None:
        env.error("E418", f"irq `{decl.name}` needs a CPU: `irq {decl.name} on cpuN {{ ... }}`",
                  decl.name_span, "an interrupt handler fires on one CPU, so name it, e.g. `on cpu0`")
    if decl.cpu is not None:
        check_cpu(env, decl.cpu, decl.cpu_span or decl.name_span)
    if decl.is_softirq and env.config.CONFIG_PREEMPT_RT:
        env.error("E420", f"softirq `{decl.name}` under CONFIG_PREEMPT_RT: the model does not "
                  "cover PREEMPT_RT's softirqs (they run in threads there)", decl.name_span,
                  "set CONFIG_PREEMPT_RT = n")
    if fresh:
        contexts = env.symbols.contexts
        contexts[decl.name] = ContextSym(decl.name, len(contexts), decl, outer_locals(decl.body))


# ------------------------------------------------------------------- pages


def declare_page(env: Env, decl: nodes.PageDecl, fresh: bool) -> None:
    """``page NAME[N] = ALLOC(...);``: E417 array size, E411 allocator use.

    A page with a bad size or allocator is still declared (one page, or an
    array of one), so that its uses are not reported as unknown too."""
    count = decl.count
    room = MAX_PAGES - env.symbols.page_total
    if count is not None and not 1 <= count <= room:
        env.error("E417", f"page array `{decl.name}` of {count} pages: the size must be 1 .. "
                  f"{room} ({MAX_PAGES} pages in all)", decl.span)
        count = 1
    gfp, present = check_alloc(env, decl.alloc) or (0, True)
    if not fresh:
        return
    env.symbols.pages[decl.name] = PageSym(decl.name, env.symbols.page_total, count,
                                           decl.alloc.func, gfp, present, decl)
    env.symbols.page_total += 1 if count is None else count


def check_alloc(env: Env, call: nodes.Call) -> tuple[int, bool] | None:
    """The allocator call of a page declaration: (gfp, present) or None (E411)."""
    args = call.args
    if call.func == "alloc_page":
        if len(args) != 1:
            env.error("E411", f"`alloc_page` takes one GFP mask, got {len(args)} arguments",
                      call.span, "page P = alloc_page(GFP_KERNEL); or GFP_HIGHUSER for highmem")
            return None
        gfp = const_value(env, args[0])
        return None if gfp is None else (gfp, True)
    if call.func == "alloc_devmap_page":
        if args:
            env.error("E411", f"`alloc_devmap_page` takes no arguments, got {len(args)}",
                      call.span, "page D = alloc_devmap_page();")
            return None
        if env.config.ARCH != "x86_64":
            # mm/Kconfig: ZONE_DEVICE depends on SPARSEMEM_VMEMMAP, 64-bit only
            env.error("E419", "ZONE_DEVICE pages need a 64-bit kernel (ZONE_DEVICE depends on "
                      f"SPARSEMEM_VMEMMAP): ARCH = {env.config.ARCH} has none", call.func_span,
                      "use ARCH = x86_64 for devmap pages")
            return None
        return 0, True
    if call.func == "alloc_user_page":
        return user_page_state(env, call)
    allocators = ", ".join(f"{a}(...)" for a in names.ALLOCATORS)
    if call.func in names.BUILTINS:
        env.error("E411", f"`{call.func}` is not an allocator", call.func_span,
                  f"a page is declared with {allocators}")
    else:
        env.error("E202", f"unknown allocator `{call.func}`", call.func_span,
                  did_you_mean(call.func, names.ALLOCATORS) or f"use one of {allocators}")
    return None


def user_page_state(env: Env, call: nodes.Call) -> tuple[int, bool] | None:
    """``alloc_user_page(present)`` or ``(not_present)``."""
    arg = call.args[0] if len(call.args) == 1 else None
    if isinstance(arg, nodes.Name) and arg.id in names.USER_PAGE_STATES:
        return 0, arg.id == "present"
    hint = "page U = alloc_user_page(present); or (not_present)"
    if isinstance(arg, nodes.Name):
        hint = did_you_mean(arg.id, names.USER_PAGE_STATES) or hint
    env.error("E411", "`alloc_user_page` takes one of `present` or `not_present`",
              call.span if arg is None else arg.span, hint)
    return None


# ---------------------------------------------------------------- schedule


def check_schedules(file: nodes.File, env: Env) -> None:
    """E501 one schedule line; E203 names; E502 step counts; E305/E503 CPUs."""
    for extra in file.schedules[1:]:
        env.error("E501", "more than one `schedule` line", extra.span,
                  f"the schedule is at line {file.schedules[0].span.line}; "
                  "join the lines with commas")
    for schedule in file.schedules:
        for item in schedule.items:
            check_schedule_item(env, item)


# ``tlbI@cpuN``: CPU N's TLB evicts its entry of kmap_local index I (slot +
# KM_MAX_IDX * cpu: runtime/kernel/tlb.py), where no context has that name.
EVICT_NAME = re.compile(r"tlb[0-9]{1,4}")


def check_schedule_item(env: Env, item: nodes.ScheduleItem) -> None:
    ctx = env.symbols.contexts.get(item.name)
    if ctx is None and EVICT_NAME.fullmatch(item.name):
        if item.cpu is None or (item.steps is not None and item.steps != 1):
            env.error("E504", f"`{item.name}` is a TLB eviction: one step, on the CPU it names",
                      item.span, f"write `{item.name}@cpu0` (the CPU whose TLB evicts its entry "
                      f"of kmap_local index {item.name[3:]})")
        if item.cpu is not None:
            check_cpu(env, item.cpu, item.span)
        return
    if ctx is None:
        env.error("E203", f"unknown task `{item.name}` in the schedule", item.span,
                  did_you_mean_or_list(item.name, env.symbols.contexts, "tasks and irqs"))
    if item.steps is not None and item.steps < 1:
        env.error("E502", f"`{item.name}:{item.steps}` runs no step: a count must be at least 1",
                  item.span, f"write `{item.name}` alone to run it until it finishes or blocks")
    if item.cpu is None:
        return
    check_cpu(env, item.cpu, item.span)
    pinned = ctx.decl.cpu if ctx is not None else None
    if pinned is not None and pinned != item.cpu:
        kind = ctx.decl.kind if ctx is not None else "task"
        env.error("E503", f"{kind} `{item.name}` runs on cpu{pinned}, not cpu{item.cpu}",
                  item.span, f"drop `@cpu{item.cpu}` or write `@cpu{pinned}`")
