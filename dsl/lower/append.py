"""More statements for one task of a loaded program, in the time they take.

`kmap repl` adds each typed statement to its interactive task. Loading
the whole scenario again for each one (parse, check, lower) costs the
length of the session so far, and a session of N statements N squared.
A statement changes nothing but its task's code: here it is parsed alone,
at the lines it has in the whole text (so every span, trace line and
message is the same), checked and lowered against the symbols of the last
whole load and the scope the task had after its statements, and its
instructions are spliced into the task's code. What follows the task in
the text moves down: the line numbers of later contexts' instructions, of
the expectations and of the schedule line follow.

Anything this cannot do exactly as a whole load would (a diagnostic of
any kind) gives None: the caller loads the whole text, which says what is
wrong as it always did. tests/test_front_end.py compares the two ways,
Program for Program.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kmap_scenarios.dsl.check.checker import Checked, check
from kmap_scenarios.dsl.check.env import Env
from kmap_scenarios.dsl.check.stmt import BodyCheck
from kmap_scenarios.dsl.check.symbols import Scope
from kmap_scenarios.dsl.lower.lower import BodyLowering, Exprs, lower
from kmap_scenarios.dsl.syntax import nodes
from kmap_scenarios.dsl.syntax.parser import parse, read_source
from kmap_scenarios.dsl.syntax.source import InputError, Source
from kmap_scenarios.runtime.kernel import program as ir
from kmap_scenarios.runtime.kernel.program import Program


@dataclass(frozen=True)
class TaskScope:
    """What more statements of task ``task`` are checked and lowered
    against: the last whole load's symbols and config, and the task's
    scope after its statements (never changed: copied before use)."""

    checked: Checked
    task: int
    scope: Scope


def load_with_scope(text: str, path: str, task: str) -> tuple[Program, TaskScope]:
    """Load a whole text (InputError as load_text raises it), and keep
    what ``append`` needs to give task ``task`` more statements."""
    source = read_source(text, path)
    file = parse(source)
    checked = check(file, source)
    program = lower(checked)
    decl = next(d for d in file.decls if isinstance(d, nodes.TaskDecl) and d.name == task)
    body = BodyCheck(_env(checked, source))
    body.scope.push()
    for stmt in decl.body.stmts:
        body.stmt(stmt)
    index = program.context_index(task)
    assert index is not None
    return program, TaskScope(checked, index, body.scope)


def append(program: Program, ts: TaskScope, body: str, line: int, keep: int,
           lines: tuple[str, ...], shift: int) -> tuple[Program, TaskScope] | None:
    """The program whose task keeps its first ``keep`` instructions and
    goes on with ``body``: the statements from line ``line`` of the new
    text (``lines``) through the task's closing brace, which replace its
    instructions from ``keep`` on (they must declare nothing: the REPL's
    sentinel). Everything after the task moved down ``shift`` lines.
    None if the statements have any problem, or hold a label, goto or
    return (the whole body's), or the task calls a function (its code is
    linked after the task's End, which moves): load the whole text then."""
    info = program.contexts[ts.task]
    # the statements alone, at their own lines: spans point where they are
    text = "\n" * (line - 2) + f"task {info.name} {{\n" + body
    source = Source(program.path, text)
    try:
        decl = parse(source).decls[0]
    except InputError:
        return None
    assert isinstance(decl, nodes.TaskDecl)
    if _jumps(decl.body):
        return None   # labels belong to the whole body: a whole load resolves them
    env = _env(ts.checked, source)
    check_scope = ts.scope.copy()
    checker = BodyCheck(env, check_scope)
    for stmt in decl.body.stmts:
        checker.stmt(stmt)
    if env.diags:
        return None
    checked = replace(ts.checked, source=source)
    lowering = BodyLowering(Exprs(checked, program.pages, ts.scope.copy()))
    lowering.code = list(info.code[:keep])   # jump targets count from the task's start
    for stmt in decl.body.stmts:
        lowering.stmt(stmt)
    if info.func_at or lowering.calls:
        # the functions linked after the task's End would move with it, and
        # the pcs of reports and frames in the carried state with them
        return None
    end = decl.body.span
    lowering.emit(ir.End(ir.Loc(end.end_line, max(end.end_col - 1, 0))))
    task = replace(info, code=tuple(lowering.code), local_names=tuple(lowering.scope.slot_names),
                   outer_locals=info.outer_locals + tuple(lowering.outer))
    contexts = program.contexts
    later = tuple(_moved(c, shift) for c in contexts[ts.task + 1:])
    new = replace(program, source_lines=lines,
                  contexts=contexts[:ts.task] + (task,) + later,
                  expectations=tuple(replace(e, line=e.line + shift)
                                     for e in program.expectations),
                  schedule_line=program.schedule_line + shift if program.schedule_line else 0,
                  pfn_to_page={})
    return new, TaskScope(ts.checked, ts.task, check_scope)


def _env(checked: Checked, source: Source) -> Env:
    """A checker environment on the symbols of a load that passed."""
    return Env(source, checked.symbols, checked.config, checked.config.NR_CPUS)


def _moved(info: ir.ContextInfo, shift: int) -> ir.ContextInfo:
    """A context whose source moved down ``shift`` lines (its body: the
    functions linked into it are defined above the REPL's task)."""
    if not shift:
        return info
    code = tuple(replace(ins, loc=ir.Loc(ins.loc.line + shift, ins.loc.col))
                 if info.function_at(pc) < 0 else ins for pc, ins in enumerate(info.code))
    return replace(info, code=code)


def _jumps(body: nodes.Block) -> bool:
    """Whether statements hold a label, a goto or a return."""
    stack: list[nodes.Stmt] = list(body.stmts)
    while stack:
        s = stack.pop()
        if isinstance(s, (nodes.Label, nodes.Goto, nodes.Return)):
            return True
        if isinstance(s, nodes.Block):
            stack.extend(s.stmts)
        elif isinstance(s, nodes.If):
            stack.append(s.then)
            if s.orelse is not None:
                stack.append(s.orelse)
        elif isinstance(s, (nodes.While, nodes.DoWhile, nodes.For)):
            stack.append(s.body)
        elif isinstance(s, nodes.Switch):
            stack.extend(s.body)
    return False
