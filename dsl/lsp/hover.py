"""Hover text (Markdown) for the words of the language and the file's own names.

Built-ins, config keys and report kinds show their row of the reference
manual (docs/language.md, copied into dsl/lsp/reference.py by the
generator) with the one-line summary of dsl/syntax/names.py; constants
their value; a name the file declares its declaration.
"""

from __future__ import annotations

from kmap_scenarios.dsl.lsp import reference
from kmap_scenarios.dsl.lsp.index import Symbol
from kmap_scenarios.dsl.syntax import names
from kmap_scenarios.runtime.kernel import config

WHERE = {
    "any": "anywhere in a body",
    "stmt": "may block, spin or be preempted part-way (a step of its own)",
    "expect": "anywhere in a body, and in expectations",
}


def builtin(name: str) -> str:
    """``kmap`` -> its signature, value, where it may be called, what it models."""
    call, value, where, models = reference.BUILTINS[name]
    b = names.BUILTINS[name]
    return (f"```kmap\n{call}\n```\n"
            f"{b.summary}\n\n"
            f"**value** {value} · **where** {where} ({WHERE.get(where, where)}) · "
            f"**category** {b.category}\n\n"
            f"{models}")


def config_key(key: str) -> str:
    values, x86, x86_64, arm, meaning = reference.CONFIG_KEYS[key]
    defaults = ", ".join(f"`{arch}` {d}" for arch, d in
                         (("x86", x86), ("x86_64", x86_64), ("arm", arm)) if d)
    text = f"**{key}** (config key) = {values}\n\n{meaning}"
    if defaults:
        text += f"\n\ndefaults: {defaults}"
    return text


def config_value(word: str) -> str | None:
    """A value of a config key: which keys take it."""
    keys = [k for k, vs in config.NAME_KEYS.items() if word in vs]
    if word in ("y", "n"):
        return f"**{word}**: {'yes' if word == 'y' else 'no'}, for a y/n config key"
    if keys:
        return f"**{word}**: a value of {', '.join(f'`{k}`' for k in keys)}"
    return None


def report(kind: str) -> str:
    return f"**{kind}** (report kind)\n\n{reference.REPORTS[kind]}"


def constant(name: str) -> str:
    value = names.CONSTANTS[name]
    kind = "errno" if name in names.ERRNO else "kernel constant"
    return f"**{name}** ({kind}) = {value} (`{value:#x}`)"


def symbol(s: Symbol) -> str:
    owner = f" of {s.owner}" if s.owner else ""
    return f"```kmap\n{s.detail}\n```\n{s.kind}{owner}, declared at line {s.at.start.line + 1}"


def word(word: str, call: bool) -> str | None:
    """The hover of a word of the language (not a name of the file);
    ``call``: a '(' follows it."""
    if word in names.BUILTINS and (call or word not in names.KEYWORDS):
        return builtin(word)
    if word in names.ALLOCATORS:
        return f"```kmap\npage NAME = {word}(...);\n```\nallocator of a page declaration"
    if word in names.CONSTANTS:
        return constant(word)
    if word in names.CONFIG_NAMES:
        return f"**{word}**: the configuration's value, an integer\n\n" + config_key(word)
    if word in names.REPORT_KINDS:
        return report(word)
    if word in names.USER_PAGE_STATES:
        return f"**{word}**: the state of a user page, `alloc_user_page({word})`"
    if word in names.TYPE_WORDS:
        return f"**{word}**: a C type word"
    if word in names.KEYWORDS:
        return f"**{word}**: keyword"
    return None
