"""Calls of the scenario's functions: a frame per call in the context's state.

A context's ``pc`` and ``locals`` are those of the function it is in; its
``frames`` hold each caller's pc (the call instruction) and locals,
outermost first. A call and a return move between them within a step: the
kernel has no scheduling point at a call either (a call instruction and a
`ret` are ordinary instructions; preemption happens at interrupts and
explicit points, which the statements around them model). How deep calls
may nest is program.MAX_CALL_DEPTH; one call more overflows the kernel
stack, which the kernel reports and dies of (an oops).
"""

from __future__ import annotations

from kmap_scenarios.runtime.kernel import program as ir
from kmap_scenarios.runtime.kernel.ctext import value_text
from kmap_scenarios.runtime.kernel.evaluate import convert, eval_expr, word
from kmap_scenarios.runtime.kernel.memory import store_byte
from kmap_scenarios.runtime.kernel.reports import R, source_line
from kmap_scenarios.runtime.kernel.tx import Tx


def call(tx: Tx, ins: ir.CallFn) -> int:
    """Enter a function: the arguments (converted to the parameters'
    types) are its first locals, the rest zero; the caller's pc and locals
    become a frame. The pc to go on at: the callee's entry."""
    info = tx.program.functions[ins.func]
    args = tuple(convert(eval_expr(tx, a), w, s) for a, (w, s) in zip(ins.args, info.conv))
    me = tx.me
    if len(me.frames) >= ir.MAX_CALL_DEPTH:
        # handle_stack_overflow() / handle_bad_stack(): the guard page is
        # hit and the kernel dies (an oops: the context is killed)
        tx.bug(R.STACK_OVERFLOW, ins.func, len(me.frames) + 1)
    locals_ = args + (0,) * (len(info.local_names) - len(args))
    tx.set_me(frames=me.frames + ((tx.pc, me.locals),), locals=locals_)
    if tx.events is not None:
        shown = ", ".join(f"{n}={_value(tx, v)}" for n, v in zip(info.params, args))
        tx.event(f"call {info.name}({shown})")
    return ins.entry


def ret(tx: Tx, ins: ir.Ret, code: tuple[ir.Instr, ...]) -> int:
    """Leave a function: its value converted to the return type, the
    caller's frame back, the value stored where the call puts it. The pc to
    go on at: after the call."""
    value = None if ins.value is None else convert(eval_expr(tx, ins.value), ins.width,
                                                   ins.signed)
    me = tx.me
    call_pc, caller = me.frames[-1]
    callee = tx.program.contexts[tx.ci].function_at(tx.pc) if tx.ci < len(
        tx.program.contexts) else -1
    tx.set_me(frames=me.frames[:-1], locals=caller, pc=call_pc)
    tx.pc = call_pc
    site = code[call_pc]
    assert isinstance(site, ir.CallFn)
    if site.dest is not None:
        store(tx, site.dest, 0 if value is None else value)
    if tx.events is not None:
        name = tx.program.functions[callee].name if callee >= 0 else "?"
        what = "" if value is None else f" {_value(tx, value)}"
        tx.event(f"{name}() returns{what}")
    return call_pc + 1


def store(tx: Tx, dest: ir.Dest, value: int) -> None:
    """Store to a local (converted to its type), a global (a machine word)
    or a byte through an address."""
    t = type(dest)
    if t is ir.ToLocal:
        locs = tx.me.locals
        s = dest.slot  # type: ignore[union-attr]
        v = convert(value, dest.width, dest.signed)  # type: ignore[union-attr]
        tx.set_me(locals=locs[:s] + (v,) + locs[s + 1:])
    elif t is ir.ToGlobal:
        tx.globals[dest.index] = word(tx.cfg.preset.bits, value)  # type: ignore[union-attr]
    else:
        store_byte(tx, eval_expr(tx, dest.addr), value)  # type: ignore[union-attr]


def entered(tx: Tx, code: tuple[ir.Instr, ...]) -> None:
    """Trace where a call went on: the callee's first statement."""
    if tx.events is None:
        return
    line = code[tx.pc].loc.line
    f = tx.program.contexts[tx.ci].function_at(tx.pc)
    name = tx.program.functions[f].name if f >= 0 else tx.program.contexts[tx.ci].name
    tx.event(f"in {name}() at {line}: {source_line(tx.program, line)}")


def _value(tx: Tx, v: int) -> str:
    """A value in a trace, as every output prints one (ctext.value_text)."""
    return value_text(v, tx.cfg.preset.bits)
