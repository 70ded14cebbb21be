"""Whether a command colours its text (dsl/formats/colour.py says how).

``--color auto`` (the default) colours what goes to a terminal, unless
the environment variable NO_COLOR is set to anything but the empty
string (no-color.org) or TERM is ``dumb``; ``--color always`` colours
even into a pipe or a file (``| less -R``), NO_COLOR notwithstanding, as
no-color.org lets a command-line option override it; ``--color never``
never colours. JSON, SARIF and JUnit are never coloured.
"""

from __future__ import annotations

import argparse
import os
from typing import TextIO

CHOICES = ("auto", "always", "never")


def add_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--color", choices=CHOICES, default="auto",
                   help="colour the text: auto (on a terminal, unless NO_COLOR is set), "
                        "always, never")


def wanted(args: argparse.Namespace, stream: TextIO) -> bool:
    """Whether the text written to ``stream`` is coloured."""
    mode = getattr(args, "color", "auto")
    if mode != "auto":
        return bool(mode == "always")
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):   # no isatty, or a closed stream
        return False
