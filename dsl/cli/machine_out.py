"""Where `run`, `check`, `lint` and `test` put their machine-readable
reports: `--format json` and `--format sarif` on standard output (once,
after every file), `--junit-xml FILE` to a file.

With one file, `--format json` prints that file's object, as it always
did; with several, an array of them, in the order given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kmap_scenarios.dsl.cli import colour
from kmap_scenarios.dsl.cli.usage import Usage
from kmap_scenarios.dsl.formats import machine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                   help="json: docs/check-json.md; sarif: SARIF 2.1.0")
    p.add_argument("--junit-xml", metavar="FILE", default=None,
                   help="also write a JUnit XML report to FILE (for CI)")
    colour.add_argument(p)   # of the text, which these commands share too


def wanted(args: argparse.Namespace) -> bool:
    """Whether the command must make its JSON documents."""
    return args.format != "text" or bool(getattr(args, "junit_xml", None))


def collect(args: argparse.Namespace, doc: dict[str, Any]) -> None:
    """Keep one file's document for emit()."""
    docs: list[dict[str, Any]] = getattr(args, "docs", None) or []
    docs.append(doc)
    args.docs = docs


def emit(docs: list[dict[str, Any]], args: argparse.Namespace, status: int) -> None:
    """Print the JSON or SARIF of ``docs``; write the JUnit file."""
    # the SARIF and JUnit writers (and the version) only when asked for
    if args.format == "json" and docs:
        sys.stdout.write(machine.dumps(docs[0] if len(docs) == 1 else docs))
    elif args.format == "sarif":
        from kmap_scenarios import __version__
        from kmap_scenarios.dsl.formats import sarif
        sys.stdout.write(machine.dumps(sarif.to_sarif(docs, __version__)))
    if getattr(args, "junit_xml", None):
        from kmap_scenarios.dsl.formats import junit
        try:
            Path(args.junit_xml).write_text(junit.to_junit(docs), encoding="utf-8")
        except OSError as e:   # checked before the run; gone since
            raise Usage(f"--junit-xml {args.junit_xml}: cannot write: {e.strerror or e}") from None
