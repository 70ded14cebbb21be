"""Formatting one text: parse, print again, check the result.

The text is parsed first exactly as `kmap check` parses it: a file with a
syntax error raises the usual InputError and nothing is printed. The
printed text is parsed again and must give the same AST without
positions and the same comments; a difference is a bug of ours
(``FormatBug``), never a file rewritten into something else.
"""

from __future__ import annotations

from kmap_scenarios.dsl.fmt import same
from kmap_scenarios.dsl.fmt.printer import Printer, comments_in
from kmap_scenarios.dsl.fmt.tokens import flatten
from kmap_scenarios.dsl.syntax.parser import concrete_parser, parse, read_source
from kmap_scenarios.dsl.syntax.source import Source


class FormatBug(Exception):
    """The formatted text would not mean what the file means."""


def format_text(text: str | bytes, path: str) -> str:
    """The canonical text of a .kmap file (docs/formatting.md); raises
    InputError for a file that is not valid."""
    source = read_source(text, path)
    tree = parse(source)
    out = Printer(source.text, flatten(concrete_parser().parse(source.text))).run()
    check(source, same.shape(tree), out)
    return out


def check(source: Source, shape: object, out: str) -> None:
    """FormatBug unless ``out`` has the AST shape and comments of ``source``."""
    try:
        again = parse(Source(source.path, out))
    except Exception as e:
        raise FormatBug(f"{source.path}: the formatted text does not parse: {e}") from None
    if same.shape(again) != shape:
        raise FormatBug(f"{source.path}: the formatted text parses to another AST")
    if comments(out) != comments(source.text):
        raise FormatBug(f"{source.path}: the formatted text lost or changed a comment")


def comments(text: str) -> list[str]:
    """Every comment of a parsed text, each line stripped (the formatter
    moves comments and their lines, never their words)."""
    toks = flatten(concrete_parser().parse(text))
    bounds = [0, *[x for t in toks for x in (t.start, t.end)], len(text)]
    found: list[str] = []
    for lo, hi in zip(bounds[::2], bounds[1::2]):
        found += ["\n".join(line.strip() for line in c.text.split("\n"))
                  for c in comments_in(text, lo, hi)[0]]
    return found
