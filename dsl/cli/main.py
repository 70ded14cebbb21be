"""The `kmap` command: run | check | lint | test | fmt | repl | examples | kmod | lsp.

Exit status (docs/language.md, BSD sysexits): 0 every expectation holds, 1 an
expectation fails, 2 usage error, 3 none fails but one is unproven (a
bounded or cut search; out of memory), 65 invalid input (syntax, names, config, an
impossible schedule in the file), 70 an internal error (a bug of ours:
the replay schedule is printed).
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import traceback
from typing import Sequence

from kmap_scenarios.dsl.cli.usage import EX_DATAERR, EX_SOFTWARE, EX_USAGE, Usage
from kmap_scenarios.dsl.lower.load import FileError
from kmap_scenarios.dsl.syntax.source import InputError, did_you_mean


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise Usage(message)


class _Version(argparse.Action):
    """--version: the version is read (importlib.metadata) only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0,
                         help=help or "show program's version number and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from kmap_scenarios import __version__
        parser._print_message(f"kmap {__version__}\n", sys.stdout)
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kmap", description="Run and model-check Linux kmap scenarios (.kmap files).")
    p.add_argument("--version", action=_Version)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    from kmap_scenarios.dsl.cli import arguments, machine_out
    run = sub.add_parser("run", help="one execution, with its trace")
    run.add_argument("file", nargs="+")
    machine_out.add_arguments(run)
    g = run.add_mutually_exclusive_group()
    g.add_argument("--schedule", metavar="ITEMS", help='e.g. "dma:2, writer, dma"')
    g.add_argument("--random", metavar="SEED", type=int, help="random schedule from this seed")
    run.add_argument("--max-steps", type=int, default=100_000, metavar="N")
    run.add_argument("--no-trace", action="store_true", help="omit the step-by-step trace")
    from kmap_scenarios.dsl.cli import pictures
    pictures.add_run_arguments(run)
    chk = sub.add_parser("check", help="every execution: outcomes, verdicts, witnesses")
    chk.add_argument("file", nargs="+")
    from kmap_scenarios.dsl.cli import check as check_cli
    check_cli.add_arguments(chk)
    pictures.add_check_arguments(chk)
    machine_out.add_arguments(chk)
    lint = sub.add_parser("lint", help="parse and check a file without running it")
    lint.add_argument("file", nargs="+")
    machine_out.add_arguments(lint)
    test = sub.add_parser("test", help="check .kmap files against their // Result: blocks")
    arguments.test(test)
    machine_out.add_arguments(test)
    fmt = sub.add_parser("fmt", help="rewrite .kmap files in the canonical layout, comments kept")
    from kmap_scenarios.dsl.cli import fmt as fmt_cli
    fmt_cli.add_arguments(fmt)
    repl = sub.add_parser("repl", help="interactive: type statements, step tasks, undo")
    repl.add_argument("file", nargs="?")
    examples = sub.add_parser("examples", help="list the example scenarios, or copy them to start from")
    examples.add_argument("--copy", metavar="DIR", help="copy the .kmap files under DIR")
    kmod = sub.add_parser("kmod", help="the scenario as a kernel module, to run on a real kernel")
    arguments.kmod(kmod)
    sub.add_parser("lsp", help="the language server, on stdio (the `lsp` extra: pygls)")
    return p


def _option_hint(parser: argparse.ArgumentParser, message: str,
                 argv: Sequence[str]) -> str:
    """' (did you mean `--max-states`?)' for the first unrecognized option
    close to one the command takes, else ''."""
    if not message.startswith("unrecognized arguments:"):
        return ""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command = next((a for a in argv if a in sub.choices), None)
    parsers = [sub.choices[command]] if command else list(sub.choices.values())
    known = sorted({o[2:] for p in parsers for o in p._option_string_actions if o.startswith("--")})
    for word in message.split(":", 1)[1].split():
        if word.startswith("--"):
            # compared without the dashes, which every option shares
            hint = did_you_mean(word.split("=", 1)[0][2:], known)
            if hint:
                return f" ({hint.replace('`', '`--', 1)})"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    command = argv is None   # the command itself, not a call from Python
    if command:
        _default_sigpipe()
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except Usage as e:
        print(f"kmap: {e}{_option_hint(parser, str(e), argv)}\n"
              "usage: kmap run|check|lint FILE... [options], kmap test [PATH...], kmap repl [FILE], "
              "kmap fmt [--check] FILE..., kmap kmod FILE -o DIR, kmap examples; see kmap --help",
              file=sys.stderr)
        return EX_USAGE
    except SystemExit as e:  # --help
        return int(e.code or 0)
    if args.command is None:
        build_parser().print_help()
        return EX_USAGE
    try:
        if command and args.command == "check":
            # A search makes millions of objects and no garbage cycles
            # (runtime/search/explore.py turns the collector off while it runs).
            # Turned on again, the collector's first pass would walk them
            # all (a third of a second for a few million states, after a
            # --timeout or a Ctrl-C), and so would the collection at exit:
            # it stays off, and they are frozen before the exit (finally).
            gc.disable()
        return _dispatch(args)
    except Usage as e:
        print(f"kmap: {e}", file=sys.stderr)
        return EX_USAGE
    except FileError as e:
        print(f"kmap: {e}", file=sys.stderr)
        return EX_USAGE
    except InputError as e:
        print(e.render(), file=sys.stderr)
        return EX_DATAERR
    except KeyboardInterrupt:
        print("kmap: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _closed_stdout()
    except MemoryError:
        # outside a search (which reports a MemoryError as its bound):
        # nothing was decided, and it is not a bug of ours
        print("kmap: out of memory", file=sys.stderr)
        return 3
    except RecursionError:
        return _internal(args, "recursion too deep")
    except Exception:  # the interpreter is wrong: say so, with a replay handle
        return _internal(args, traceback.format_exc())
    finally:
        if command:
            gc.freeze()


def _default_sigpipe() -> None:
    """A closed standard output ends the command quietly, as it ends any
    Unix tool (`kmap check FILE | head -1`): Python ignores SIGPIPE and
    raises BrokenPipeError instead; the default action is put back."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def _closed_stdout() -> int:
    """Standard output was closed under us (SIGPIPE ignored): nothing
    more can be said there, and nothing is said elsewhere. Later writes
    and the flush at exit go to /dev/null. 141 is what a shell reports
    for a command that SIGPIPE ended."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 128 + 13


def _internal(args: argparse.Namespace, detail: str) -> int:
    from kmap_scenarios.runtime.search.schedule import in_progress_schedule
    print("kmap: internal error (a bug in kmap-scenarios, not in your scenario)", file=sys.stderr)
    replay = in_progress_schedule()
    if replay and getattr(args, "file", None):
        print(f"kmap: replay with: kmap run {args.file} --schedule \"{replay}\"", file=sys.stderr)
    print(detail.rstrip(), file=sys.stderr)
    return EX_SOFTWARE


def _dispatch(args: argparse.Namespace) -> int:
    from kmap_scenarios.dsl.cli import multi, pictures
    if args.command in ("run", "check"):
        pictures.check_options(args)
    if getattr(args, "junit_xml", None):   # before anything runs, as the pictures' FILEs
        files = getattr(args, "file", None) or getattr(args, "paths", None) or [""]
        pictures.writable("--junit-xml", args.junit_xml, str(files[0]))
    if args.command == "run":
        from kmap_scenarios.dsl.cli import run as run_cli
        return multi.each(args, run_cli.run)
    if args.command == "check":
        from kmap_scenarios.dsl.cli import check as check_cli
        return multi.each(args, check_cli.check)
    if args.command == "lint":
        return multi.lint(args)
    if args.command == "test":
        from kmap_scenarios.dsl.cli import kmaptest
        return kmaptest.test(args)
    if args.command == "fmt":
        from kmap_scenarios.dsl.cli import fmt as fmt_cli
        return fmt_cli.run(args)
    if args.command == "examples":
        from kmap_scenarios.dsl.cli import examples
        return examples.run(args.copy)
    if args.command == "kmod":
        from kmap_scenarios.dsl.cli import kmod as kmod_cli
        return kmod_cli.run(args)
    if args.command == "lsp":
        return lsp()
    from kmap_scenarios.dsl.repl import shell as repl
    return repl.main(args.file)


def lsp() -> int:
    """`kmap lsp` (and the `kmap-lsp` command): serve until the client exits."""
    try:
        from kmap_scenarios.dsl.lsp.server import main as serve
    except ImportError as e:
        if e.name is None or e.name.split(".")[0] not in ("pygls", "lsprotocol"):
            raise
        print("kmap: the language server needs pygls: pip install 'kmap-scenarios[lsp]'",
              file=sys.stderr)
        return EX_USAGE
    return serve()


if __name__ == "__main__":
    sys.exit(main())
