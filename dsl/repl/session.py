"""The REPL's command interpreter, with no terminal in sight.

``Session`` holds the undo stack of frames (dsl/repl/execute.py): states are
immutable values, so going back is dropping frames and the earlier state
object comes back as it was. ``handle(line)`` runs one input and returns a
``Reply``; it never raises (but KeyboardInterrupt) and never changes the
session when a command fails. The prompt_toolkit front end and the stdin
loop live in dsl/repl/shell.py.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, replace
from pathlib import Path

from kmap_scenarios.dsl.syntax import names
from kmap_scenarios.dsl.formats import run_text as report
from kmap_scenarios.dsl.repl import view as repl_view
from kmap_scenarios.dsl.lower.load import FileError
from kmap_scenarios.dsl.repl.commands import (COMMANDS, Command, Item, Refused, Unknown, classify, help_text)
from kmap_scenarios.dsl.repl.execute import (STATEMENT_STEPS, Frame, ReplError, TypedError, blocked_on, extend,
                           first_line, open_scenario, user_actions, waiting)
from kmap_scenarios.dsl.repl.run import RUN_STEPS, Run, complete
from kmap_scenarios.dsl.repl.source import (DEFAULT_SUMMARY, Kind, closes_unopened, first_unclosed,
                             open_brackets, unterminated_comment)
from kmap_scenarios.dsl.syntax.source import InputError, did_you_mean
from kmap_scenarios.runtime.kernel import reports as rr
from kmap_scenarios.runtime.kernel.machine import Action, final_state, step
from kmap_scenarios.runtime.kernel.program import Program, ScheduleStep
from kmap_scenarios.runtime.search.schedule import (MAX_DIGITS, TraceStep, decimal, default_choice, encode,
                                                 items_text, parse_items)
from kmap_scenarios.runtime.kernel.state import State, Status, initial_state

# A command's trace shows this many steps at each end (`trace` shows all).
TRACE_EDGE = 50


@dataclass(frozen=True)
class Reply:
    """What one input produced: text to print, and how it went."""

    text: str
    ok: bool = True          # False: the input was wrong or the command refused
    internal: bool = False   # a bug of ours (the replay schedule is in text)


class Session:
    """One REPL session: a stack of frames and the commands that move it."""

    def __init__(self, path: str | None = None) -> None:
        """Open FILE, or the default scenario; FileError/InputError if the
        file cannot be loaded."""
        self.frames: list[Frame] = [open_scenario(path)]
        self.finished = False

    # ------------------------------------------------------------ accessors
    @property
    def frame(self) -> Frame:
        """The current frame."""
        return self.frames[-1]

    @property
    def start(self) -> Frame:
        """The initial frame of the scenario loaded last (undo included)."""
        return next(f for f in reversed(self.frames) if f.what.startswith(("load ", "reset")))

    @property
    def program(self) -> Program:
        """The current version of the scenario."""
        return self.frame.program

    @property
    def state(self) -> State:
        """The current machine state."""
        return self.frame.state

    @property
    def typed(self) -> bool:
        """Whether the path runs on a scenario changed by typed input (an
        added expectation changes no execution)."""
        items = self.frame.source.items
        return any(items.get(k) for k in (Kind.STATEMENT, Kind.DECLARATION, Kind.CONTEXT))

    @property
    def actions(self) -> list[Action]:
        """The path from the initial state to the current one."""
        return self.frame.actions

    @property
    def states(self) -> list[State]:
        """The undo stack's states, oldest first."""
        return [f.state for f in self.frames]

    def banner(self) -> str:
        """What the REPL says when it starts."""
        p = self.program
        where = DEFAULT_SUMMARY if self.frame.source.path == "<repl>" else \
            f"scenario {p.name} ({p.path})"
        lines = [f"kmap repl: {where}", f"config: {p.config.describe()}"]
        if p.schedule is not None:
            # the items as parsed: the line itself may hold comments, or
            # go on over several lines
            lines.append(f"the file's schedule: `run {items_text(p, p.schedule)}` follows it")
        lines.append(f"Type `help` for commands; a statement runs as task {self.frame.source.task}"
                     " on cpu0.")
        return "\n".join(lines)

    # -------------------------------------------------------------- inputs
    def needs_more(self, text: str) -> bool:
        """Whether the input so far continues on the next line."""
        stripped = text.strip()
        if not stripped or stripped.startswith(":"):
            return False
        return open_brackets(text) > 0 or unterminated_comment(text)

    def handle(self, line: str) -> Reply:
        """Run one input: a command, or kmap source."""
        try:
            return self._dispatch(line)
        except (ReplError, FileError) as e:
            return Reply(str(e), ok=False)
        except TypedError as e:
            return Reply(e.render(), ok=False)
        except InputError as e:
            return Reply(e.render(), ok=False)
        except KeyboardInterrupt:
            raise
        except Exception as e:  # the interpreter is wrong: say so, with a replay handle
            return Reply(self._internal(e), ok=False, internal=True)

    def _dispatch(self, line: str) -> Reply:
        parsed = classify(line)
        if parsed is None:
            return Reply("")
        if isinstance(parsed, Command):
            return self._command(parsed)
        if isinstance(parsed, Item):
            unclosed = first_unclosed(line)
            if unclosed is not None:   # the input ended (EOF, Ctrl-D) before its `}`
                tok, closer, ln, col = unclosed
                return Reply(f"the input ends inside an open `{tok}` (line {ln}, column {col} "
                             f"of what was typed): nothing was run; close it with `{closer}`",
                             ok=False)
            return self._typed(parsed)
        if isinstance(parsed, Refused):
            return Reply(parsed.message, ok=False)
        assert isinstance(parsed, Unknown)
        hint = did_you_mean(parsed.word, [*COMMANDS, "exit"])
        return Reply(f"unknown command `{parsed.word}`" + (f"; {hint}" if hint else "")
                     + " (a statement ends with `;`; `help` lists the commands)", ok=False)

    def _command(self, c: Command) -> Reply:
        method = getattr(self, f"cmd_{c.name}", None)
        if c.name not in COMMANDS or method is None:
            hint = did_you_mean(c.name, [*COMMANDS, "exit"])
            return Reply(f"unknown command `{c.name}`" + (f"; {hint}" if hint else ""), ok=False)
        text: str = method(c.args)
        return Reply(text)

    def _internal(self, e: BaseException) -> str:
        """An internal error's message: where, what, and the replay schedule."""
        tb = traceback.extract_tb(e.__traceback__)
        where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno} in {tb[-1].name}" if tb else ""
        out = [f"internal error (a bug in kmap-scenarios, not in your scenario){where}:",
               f"  {type(e).__name__}: {e}"]
        try:
            path = encode(self.program, self.actions)
            if path and self.typed:
                out.append(f"  replay with: `save FILE` here, then kmap run FILE --schedule "
                           f"\"{path}\"")
            elif path:
                out.append(f"  replay with: kmap run {self.program.path} --schedule \"{path}\"")
        except Exception:
            out.append("  (the replay schedule cannot be computed either)")
        out.append("The session is unchanged.")
        return "\n".join(out)

    def _push(self, frames: list[Frame]) -> None:
        self.frames.extend(frames)

    # ---------------------------------------------------------- typed input
    def _typed(self, item: Item) -> Reply:
        unopened = closes_unopened(item.text)
        if unopened:
            raise ReplError(f"`{unopened}` closes a bracket the input did not open; "
                            "nothing was changed")
        before = self.frame
        frame, trace = extend(before, item.kind, item.text, item.added_semicolon)
        self._push([frame])
        out = self._trace_and_reports(before, frame, trace)
        if item.kind is Kind.STATEMENT:
            out += self._statement_end(frame)
        else:
            out.append(f"added to the scenario: {first_line(item.text)}")
        return Reply("\n".join(out))

    def _statement_end(self, frame: Frame) -> list[str]:
        """What became of the interactive task after its statement."""
        if waiting(frame):
            return []
        task = frame.source.task
        if frame.state.ctxs[frame.repl].status == Status.DEAD:
            return [f"{task} was killed by this statement; `undo` removes it"]
        if any(a[0] == frame.repl for a in user_actions(frame)):
            return [f"{task} is still running the statement after {STATEMENT_STEPS} steps; "
                    f"`step {task} N` or `run` continues it, `undo` removes it"]
        return [f"{task} has not finished the statement: {blocked_on(frame, frame.repl)}; "
                f"`step {task}` continues it once it can"]

    def _trace_and_reports(self, before: Frame, after: Frame, trace: list[TraceStep]) -> list[str]:
        """Trace lines of some steps, then the full text of new reports."""
        if len(trace) > 2 * TRACE_EDGE:
            hidden = len(trace) - 2 * TRACE_EDGE
            trace = [*trace[:TRACE_EDGE], *trace[-TRACE_EDGE:]]
        else:
            hidden = 0
        out = [report.trace_line(after.program, t) for t in trace]
        if hidden:
            out.insert(TRACE_EDGE, f"  ... {hidden} more steps (`trace` shows every step)")
        new = after.state.reports[len(before.state.reports):]
        for rep in new:
            out += ["  " + ln for ln in rr.render(after.program, after.state, rep).split("\n")]
        return out

    # ------------------------------------------------------------- commands
    def cmd_help(self, args: str) -> str:
        """help [COMMAND]"""
        try:
            return help_text(self.frame.source.task, args.strip())
        except KeyError:
            raise ReplError(f"no command `{args.strip()}`; `help` lists them") from None

    def cmd_quit(self, args: str) -> str:
        """quit: the front end stops reading."""
        self.finished = True
        return ""

    def cmd_enabled(self, args: str) -> str:
        """enabled: the actions the user can take."""
        self._no_args("enabled", args)
        acts = user_actions(self.frame)
        default = self._default(acts) if acts else None
        return "\n".join(repl_view.enabled_view(self.frame, default))

    def cmd_step(self, args: str) -> str:
        """step [NAME[@cpuN]] [N]"""
        item, count = self._step_args(args)
        run = Run(self.frame)
        stop = run.steps(item, count)
        if not run.frames:
            raise ReplError(stop)
        return self._commit(run, [stop] if stop else [])

    def cmd_run(self, args: str) -> str:
        """run [SCHEDULE]"""
        items = self._parse_schedule(args) if args.strip() else ()
        labels = [part.strip() for part in args.split(",")]
        run = Run(self.frame)
        for k, item in enumerate(items):
            run.follow(item, f"{k + 1} (`{labels[k]}`)")
        if not run.finish():
            return self._commit(run, [f"stopped after {RUN_STEPS} steps: the execution did "
                                      "not finish"])
        ended = f"nothing can run: {repl_view.ended_text(run.frame)}"
        return self._commit(run, [ended + "; `expect` gives the verdicts"])

    def _commit(self, run: Run, notes: list[str]) -> str:
        """Push a command's frames; its trace, new reports and notes."""
        before = self.frame
        self._push(run.frames)
        return "\n".join(self._trace_and_reports(before, self.frame, run.trace) + notes)

    def cmd_undo(self, args: str) -> str:
        """undo [N]"""
        n = self._count(args, "undo")
        if len(self.frames) == 1:
            raise ReplError("nothing to undo")
        gone = self.frames[len(self.frames) - min(n, len(self.frames) - 1):]
        del self.frames[len(self.frames) - len(gone):]
        typed = [f.what for f in gone if f.what not in ("step", "run")]
        out = [f"undid {len(gone)} step{'s' if len(gone) != 1 else ''}"
               + (f" ({'; '.join(typed)})" if typed else "")
               + f"; now after {self.frame.steps} step{'s' if self.frame.steps != 1 else ''}"]
        if len(gone) < n:
            out.append("(that is the beginning of the session)")
        return "\n".join(out)

    def cmd_reset(self, args: str) -> str:
        """reset: the initial frame again (undo brings the session back)."""
        self._no_args("reset", args)
        self._push([replace(self.start, what="reset")])
        return f"back to the initial state of {self.program.name}; `undo` returns"

    def cmd_state(self, args: str) -> str:
        """state: everything (show all)."""
        self._no_args("state", args)
        return "\n".join(repl_view.show(self.frame, "all"))

    def cmd_show(self, args: str) -> str:
        """show WHAT"""
        subject = args.strip() or "all"
        if subject not in repl_view.SUBJECTS:
            hint = did_you_mean(subject, repl_view.SUBJECTS)
            raise ReplError(f"show what? {' | '.join(repl_view.SUBJECTS)}"
                            + (f" ({hint})" if hint else ""))
        return "\n".join(repl_view.show(self.frame, subject))

    def cmd_trace(self, args: str) -> str:
        """trace: every step of the path, replayed with events."""
        self._no_args("trace", args)
        state = initial_state(self.program)
        out = []
        for n, a in enumerate(self.actions, 1):
            pc = state.ctxs[a[0]].pc
            state, events = step(self.program, state, a, trace=True)
            out.append(report.trace_line(self.program, TraceStep(n, a, pc, events)))
        return "\n".join(out) or "no step yet"

    def cmd_schedule(self, args: str) -> str:
        """schedule: the path in schedule notation."""
        self._no_args("schedule", args)
        if not self.actions:
            return "no step yet"
        text = encode(self.program, self.actions)
        src = self.frame.source
        if self.typed:
            return (f"{text}\n(the path runs on the scenario with what was typed: `save FILE`, "
                    f"then kmap run FILE --schedule \"{text}\")")
        return f"{text}\n(replay: kmap run {src.path} --schedule \"{text}\")"

    def cmd_expect(self, args: str) -> str:
        """expect: verdicts on the finalised execution, once it has ended."""
        if args.strip():
            raise ReplError("`expect` takes no argument; to add an expectation, end it with `;`"
                            f": expect {args.strip()};")
        acts = user_actions(self.frame)
        if acts:
            return (f"the execution has not finished: {len(acts)} action"
                    f"{'s' if len(acts) != 1 else ''} can run (`enabled` lists them; `run` "
                    "finishes with the default policy)")
        state, lines = complete(self.frame)
        final = final_state(self.program, state)
        verdicts = report.verdicts_for(self.program, final)
        out = lines + report.reports_text(self.program, final)
        out += ["expectations:", *report.verdict_lines(verdicts), report.result_line(verdicts)]
        return "\n".join(out)

    def cmd_source(self, args: str) -> str:
        """source: the scenario text the session runs."""
        self._no_args("source", args)
        return self.frame.rendered.text.rstrip("\n")

    def cmd_save(self, args: str) -> str:
        """save FILE [--force]: never replaces a file unless told to (the
        scenario the session started from included)."""
        words = args.split()
        force = "--force" in words
        names = [w for w in words if w != "--force"]
        if not words:
            raise ReplError("save where? save FILE")
        if len(names) != 1 or names[0].startswith("-") or words.count("--force") > 1:
            raise ReplError("usage: save FILE [--force] (a file name without spaces)")
        path = names[0]
        target = Path(path)
        if target.is_dir():
            raise ReplError(f"{path} is a directory: save FILE names a file")
        if target.exists() and not force:
            raise ReplError(f"{path} already exists: `save {path} --force` replaces it")
        try:
            target.write_text(self.frame.rendered.text, encoding="utf-8")
        except OSError as e:
            raise ReplError(f"{path}: cannot write: {e.strerror}") from None
        return f"wrote {path}"

    def cmd_load(self, args: str) -> str:
        """load FILE"""
        path = args.strip()
        if not path:
            raise ReplError("load what? load FILE")
        self._push([open_scenario(path)])
        return self.banner()

    # -------------------------------------------------------------- helpers
    @staticmethod
    def _no_args(name: str, args: str) -> None:
        if args.strip():
            raise ReplError(f"`{name}` takes no argument")

    @staticmethod
    def _count(text: str, name: str) -> int:
        t = text.strip() or "1"
        n = decimal(t)
        if n is None or n < 1:
            shown = t if len(t) <= 40 else f"{t[:30]}..."
            raise ReplError(f"{name}: N must be a positive integer of at most "
                            f"{MAX_DIGITS} digits, not `{shown}`")
        return n

    def _default(self, acts: list[Action]) -> Action:
        return default_choice(self.program, self.state, acts, self.frame.last)

    def _step_args(self, args: str) -> tuple[ScheduleStep | None, int]:
        """``[NAME[@cpuN][:N]] [N]`` -> (the context, or None, and N)."""
        words = args.split()
        if not words:
            return None, 1
        if len(words) == 1 and words[0].isdigit():
            return None, self._count(words[0], "step")
        if len(words) > 2:
            raise ReplError("usage: step [NAME[@cpuN]] [N]")
        item = self._parse_schedule(words[0])[0]
        count = self._count(words[1], "step") if len(words) == 2 else (item.steps or 1)
        return item, count

    def _parse_schedule(self, text: str) -> tuple[ScheduleStep, ...]:
        try:
            return parse_items(self.program, text)
        except ValueError as e:
            raise ReplError(str(e)) from None

    def completions(self) -> list[str]:
        """Words for the completer: commands, the language, this scenario."""
        p = self.program
        words = set(COMMANDS) | {"exit"} | set(repl_view.SUBJECTS) | set(names.ALL_NAMES)
        words |= {pg.name.split("[")[0] for pg in p.pages} | {c.name for c in p.contexts}
        words |= {n for n, _ in p.globals} | {n for n, _ in p.percpus} | set(p.locks)
        words |= {n for c in p.contexts for n in c.local_names}
        words |= {f"cpu{i}" for i in range(p.config.NR_CPUS)}
        return sorted(words)

