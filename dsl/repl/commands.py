"""The REPL's input language: commands, kmap source, and how to tell them apart.

A line is a **command** when it starts with ``:`` (always), or when its
first word is a command name and the line has none of the punctuation of
source (``; { } ( ) = [ ]``). Everything else is **kmap source**: a
top-level item (``page``, ``percpu int``, ``spinlock_t``, ``task``, ``irq``,
``expect QUANT COND;``, or ``global`` before an ``int`` declaration) is added
to the scenario; any other text is a statement for the interactive task.
So ``schedule`` prints the path while ``schedule();`` calls the built-in,
and ``expect`` gives verdicts while ``expect never BUG;`` adds a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kmap_scenarios.dsl.repl.source import Kind
from kmap_scenarios.dsl.syntax.names import TYPE_WORDS

# name -> (arguments, summary); the order is the order of `help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "help": ("[COMMAND]", "this list, or one command's details"),
    "enabled": ("", "what can run now: NAME@cpuN and the line each would execute"),
    "step": ("[NAME[@cpuN]] [N]", "N steps (default 1) of NAME, or of the default policy's choice"),
    "run": ("[SCHEDULE]", "follow SCHEDULE (like \"dma:2, writer\"), then finish with the "
                          "default policy"),
    "undo": ("[N]", "go back N steps (default 1); a typed statement or declaration is one step"),
    "reset": ("", "back to the initial state of the file, without typed input (undo brings "
                  "it back)"),
    "state": ("", "the whole current state (the same as `show all`)"),
    "show": ("pkmap|tasks|cpus|pages|globals|reports|all", "one part of the current state"),
    "trace": ("", "the trace of every step so far"),
    "schedule": ("", "the path so far in schedule notation, for kmap run --schedule"),
    "expect": ("", "the expectations' verdicts, once the execution has finished"),
    "source": ("", "the scenario as the REPL runs it: the file plus what was typed"),
    "save": ("FILE [--force]", "write that scenario to FILE (an existing file only with --force)"),
    "load": ("FILE", "start over on another scenario file (undo goes back)"),
    "quit": ("", "leave (also `exit` and end of input, Ctrl-D)"),
}
ALIASES = {"exit": "quit", "?": "help"}

DETAILS: dict[str, str] = {
    "step": ("step            one step of the default policy's choice (the task that stepped\n"
             "                last keeps running while it can, else the first in source order)\n"
             "step 5          five such steps\n"
             "step dma        one step of task dma, where it runs (or last ran)\n"
             "step dma@cpu1 3 three steps of dma on cpu1 (a start or a migration)\n"
             "step dma:3      the same as `step dma 3`\n"
             "Each step prints its trace line: number, CPU, context, source line, events."),
    "run": ("run                     finish the execution with the default policy\n"
            "run dma:2, writer, dma  follow the schedule (docs/language.md notation), then finish\n"
            "Nothing is run if the schedule cannot be followed. The interactive task is\n"
            "never chosen while it waits for input."),
    "undo": ("undo [N] goes back N steps, restoring the exact earlier state. A typed\n"
             "statement (all the steps it took), declaration or expectation counts as one\n"
             "step and is removed from the scenario; `load` and `reset` can be undone too."),
    "expect": ("Once nothing can run, the interactive task (if it ever ran) returns to user\n"
               "space as the end of its body would (a leaked kmap_local gets the kernel's\n"
               "warning), the "
               "default policy finishes whatever that lets run, dirty cache lines\n"
               "are written back, and the expectations are evaluated, as `kmap run` does.\n"
               "The session itself is not changed."),
    "schedule": ("Prints the path as `kmap run FILE --schedule \"...\"` replays it. If statements\n"
                 "or declarations were typed, the path runs on the scenario the REPL built:\n"
                 "`save FILE` writes it."),
}

SOURCE_HELP = """\
Anything else is kmap source (docs/language.md):
  a statement       runs at once as the next statement of task {task} on cpu0:
                      void *p = kmap_local_page(P);
                      p[0] = 0x55;
                    a missing final `;` is added; an open bracket continues the
                    input on the next line. Between two typed statements {task}
                    waits at a preemption point, so the other tasks can run.
  page Q2 = alloc_page(GFP_HIGHUSER);   a declaration added to the scenario
  percpu int / spinlock_t / task / irq  likewise
  global int g = 0;                     a global int (`int x = 1;` alone is a
                                        local of {task})
  static int f(int x) {{ return x; }}     a function added to the scenario
  expect never BUG;                     an expectation added to the scenario
A line that starts with `:` is always a command (`:step` when a local is
named `step`). An input error points at what you typed; nothing changes."""

TOP_LEVEL = {"page": Kind.DECLARATION, "percpu": Kind.DECLARATION,
             "spinlock_t": Kind.DECLARATION, "global": Kind.DECLARATION,
             "task": Kind.CONTEXT, "irq": Kind.CONTEXT, "expect": Kind.EXPECTATION}
REFUSED = {"scenario": "the scenario's name", "config": "the configuration",
           "schedule": "the file's schedule"}

_SOURCE_PUNCT = re.compile(r"[;{}()=\[\]]")
# `[static] TYPE NAME(PARAMS) {`: a function definition
_FUNCTION = re.compile(r"^[A-Za-z_][\w\s]*?[\s*]+[A-Za-z_]\w*\s*\([^;{}]*\)\s*\{")
_SPECIFIERS = ("static", "inline", "__always_inline", "noinline")
_WORDS = re.compile(r"^[A-Za-z_]\w*(\s+[\w@:,./-]+)*$")  # words, no operators
_WORD = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class Command:
    name: str
    args: str


@dataclass(frozen=True)
class Item:
    kind: Kind
    text: str
    added_semicolon: bool = False   # text ends with a `;` the user did not type


@dataclass(frozen=True)
class Refused:
    message: str


@dataclass(frozen=True)
class Unknown:
    word: str


Parsed = Command | Item | Refused | Unknown | None


def classify(line: str) -> Parsed:
    """What an input line (or several, for a continued input) is."""
    text = line.strip()
    if not text:
        return None
    if text.startswith(":"):
        return _command(text[1:].strip())
    m = _WORD.match(text)
    first = m.group() if m else ""
    rest = text[len(first):].lstrip()
    if not _SOURCE_PUNCT.search(text) and ";" not in text:
        if first in COMMANDS or first in ALIASES or text in ALIASES:
            return _command(text)
        if _WORDS.match(text) and first not in TOP_LEVEL:
            return Unknown(first)
    if first in REFUSED and not rest.startswith("("):
        return Refused(f"{REFUSED[first]} cannot change in a session: edit the file and "
                       f"`load` it{'; `run SCHEDULE` follows a schedule' if first == 'schedule' else ''}")
    if first in TOP_LEVEL and _is_top_level(first, rest):
        item = rest if first == "global" else text
        done = _with_semicolon(item)
        return Item(TOP_LEVEL[first], done, done != item.strip())
    if (first in _SPECIFIERS or first in TYPE_WORDS) and _FUNCTION.match(text):
        return Item(Kind.DECLARATION, text)
    done = _with_semicolon(text)
    return Item(Kind.STATEMENT, done, done != text.strip())


def _command(text: str) -> Command:
    name, _, args = text.partition(" ")
    return Command(ALIASES.get(name, name), args.strip())


def _is_top_level(first: str, rest: str) -> bool:
    """``page X ...`` is a declaration; ``page = 3;`` assigns a local."""
    if first == "expect":
        return rest.split(" ")[0] in ("always", "sometimes", "never")
    if first == "global":
        return True
    return bool(_WORD.match(rest))


def _with_semicolon(text: str) -> str:
    """The item with a forgotten final ``;`` added (not after a block)."""
    s = text.strip()
    last = s.split("\n")[-1]
    if s.endswith((";", "}")) or "//" in last or s.endswith("*/"):
        return s
    return s + ";"


def help_text(task: str, topic: str = "") -> str:
    """The command list, or one command's details."""
    if topic:
        name = ALIASES.get(topic.lstrip(":"), topic.lstrip(":"))
        if name not in COMMANDS:
            raise KeyError(name)
        args, summary = COMMANDS[name]
        head = f"{name} {args}".rstrip() + f": {summary}"
        return head + ("\n" + DETAILS[name] if name in DETAILS else "")
    width = max(len(f"{n} {a}".rstrip()) for n, (a, _) in COMMANDS.items())
    lines = ["Commands (a leading `:` is optional):"]
    lines += [f"  {f'{n} {a}'.rstrip():<{width}}  {s}" for n, (a, s) in COMMANDS.items()]
    return "\n".join(lines) + "\n\n" + SOURCE_HELP.format(task=task)
