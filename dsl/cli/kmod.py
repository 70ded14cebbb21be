"""`kmap kmod FILE -o DIR`: the scenario as a kernel module (dsl/kmod/).

Writes DIR/Kbuild, DIR/kmap_scenario.c and the two fixed headers, and
says how to build the module. A scenario the real kernel cannot run
(docs/kmod.md, "What is refused") is refused with every reason, exit
status 65 (the input cannot be used), and nothing is written.
"""

from __future__ import annotations

import argparse
import os
import sys

from kmap_scenarios.dsl.cli.usage import EX_DATAERR, EX_OK, Usage
from kmap_scenarios.dsl.kmod.generate import MODULE, Options, generate, load_scenario, write
from kmap_scenarios.dsl.kmod.refuse import Refused
from kmap_scenarios.dsl.lower.load import read_scenario


def run(args: argparse.Namespace) -> int:
    if args.iterations < 1:
        raise Usage("--iterations must be at least 1")
    checked, program = load_scenario(read_scenario(args.file), args.file)
    try:
        files = generate(checked, program, Options(iterations=args.iterations))
    except Refused as e:
        print(e.render(), file=sys.stderr)
        return EX_DATAERR
    try:
        write(files, args.output)
    except OSError as e:
        raise Usage(f"cannot write {args.output}: {e.strerror}") from None
    print(f"{args.output}/{MODULE}.c: scenario {program.name!r}, {len(program.contexts)} "
          f"contexts, {args.iterations} iterations")
    print(f"build: make -C KERNEL_TREE ARCH=i386 M={os.path.abspath(args.output)} modules")
    return EX_OK
