"""What the expression and statement checkers share: modes, types, the sink."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from kmap_scenarios.dsl.syntax import names, nodes
from kmap_scenarios.dsl.syntax.names import Arg, Builtin
from kmap_scenarios.dsl.syntax.source import Diagnostic, Source
from kmap_scenarios.dsl.check.symbols import Symbols, Word, text_of, try_fold
from kmap_scenarios.runtime.kernel.config import Config


# Every code the checker emits, with its one-line meaning (stable: tests
# assert codes, goldens pin the prose; docs/language.md is derived from here).
CODES: dict[str, str] = {
    "E201": "unknown name",
    "E202": "unknown function, built-in or allocator",
    "E203": "unknown task or irq (task.var, schedule)",
    "E204": "task.var names no local of the task's outermost block",
    "E205": "duplicate declaration, or a name reserved by a built-in or constant",
    "E301": "unknown config key",
    "E302": "bad config value",
    "E303": "a configuration the kernel refuses (Kconfig)",
    "E304": "config key set twice",
    "E305": "CPU number beyond NR_CPUS",
    "E401": "wrong number of arguments",
    "E402": "wrong kind of argument (page, &lock, percpu, flags, user pointer)",
    "E404": "not usable in an expectation",
    "E405": "assignment to something not assignable (or const)",
    "E406": "page memory read or written directly in a task body",
    "E407": "constant page-array index or page offset out of range",
    "E408": "task.var, report kind or string outside expectations",
    "E409": "string literal other than a report kind's message",
    "E410": "void built-in or function (or a cast to void) used as a value",
    "E411": "allocator misuse",
    "E412": "top-level initialiser is not a constant expression",
    "E413": "expression or block nesting too deep",
    "E414": "statement has no effect",
    "E415": "name or operand of the wrong kind used as a value",
    "E416": "struct page * local, parameter or cast given something that is not a page",
    "E417": "page array size out of range",
    "E418": "irq without `on cpuN`",
    "E419": "a built-in or page kind the chosen ARCH does not have",
    "E420": "a softirq raised where it does not run, or softirqs under PREEMPT_RT (not modelled)",
    "E421": "`break` outside a loop or switch, `continue` outside a loop",
    "E422": "`goto` to a label the function does not have",
    "E423": "a label defined twice in one function",
    "E424": "`return` with a value in a void function or a task, or without one in a "
            "function that returns a value",
    "E425": "control reaches the end of a function that returns a value",
    "E426": "a case label that is not a constant, or is repeated; a second default",
    "E427": "a function defined without a prototype: `f()` for `f(void)`",
    "E501": "more than one schedule line",
    "E502": "schedule step count below 1",
    "E503": "schedule puts a pinned task or irq on another CPU",
    "E504": "a TLB eviction (`tlbS@cpuN`) in the schedule without its CPU, or of more than one step",
}


class Mode(Enum):
    BODY = "body"          # a task or irq body
    EXPECT = "expect"      # an expectation's condition
    CONST = "const"        # a top-level initialiser or allocator argument


class Pos(Enum):
    """Where a call sits, which decides whether it may block or be void."""

    STMT = "statement"     # a whole expression statement
    WHOLE = "whole"        # a declaration initialiser or the RHS of '='
    NESTED = "nested"      # anywhere inside a larger expression


class Ty(Enum):
    INT = "int"            # any integer, kernel virtual addresses included
    PAGE = "page"          # a struct page *
    BAD = "bad"            # already reported


@dataclass
class Env:
    """What every check needs: the source, the tables, the config, the sink."""

    source: Source
    symbols: Symbols
    config: Config
    nr_cpus: int | None                 # None: NR_CPUS itself is invalid
    config_ok: bool = True              # False: ``config`` is only the default
    diags: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: nodes.Span, hint: str = "") -> None:
        self.diags.append(Diagnostic(code, message, span, hint))

    def text(self, expr: nodes.Expr) -> str:
        return text_of(self.source, expr)

    @property
    def word(self) -> Word:
        return Word(self.config.preset.bits, self.config.ARCH)

    def fold(self, expr: nodes.Expr) -> int | None:
        """The value of a constant expression (constants, config values,
        sizeof, casts), or None."""
        return try_fold(expr, self.config.int_value, self.word)


def signature(b: Builtin) -> str:
    """'(page, offset, from, len)' from the summary, or from the arg kinds."""
    if b.summary.startswith(b.name + "("):
        return b.summary[len(b.name):b.summary.index(")") + 1]
    words = {Arg.VALUE: "value", Arg.PAGE: "page", Arg.LOCK: "&lock",
             Arg.PERCPU: "var", Arg.DIR: "dir", Arg.FLAGS: "flags", Arg.COND: "condition",
             Arg.USER: "user", Arg.MUTEX: "&mutex", Arg.SOFTIRQ: "softirq",
             Arg.FOLIO: "folio", Arg.TARGET: "x"}
    args = [words[a] for a in b.args]
    required = len(args) - b.optional
    text = ", ".join(args[:required])
    if b.optional:
        text += "[, " + ", ".join(args[required:]) + "]"
    return f"({text})"


def arity_message(b: Builtin, got: int) -> str:
    """'`memcpy_to_page` takes 4 arguments (page, offset, from, len), got 3'."""
    n = names.arity_text(b)
    if n == "0":
        return f"`{b.name}` takes no arguments, got {got}"
    plural = "argument" if n == "1" else "arguments"
    return f"`{b.name}` takes {n} {plural} {signature(b)}, got {got}"
