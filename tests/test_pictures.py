"""The pictures (docs/pictures.md): `kmap run --trace-out`, `kmap check
--witness-trace` (Chrome trace JSON) and `kmap check --dot [--dot-witness]`
(Graphviz DOT), from the command line.

Perfetto's trace processor is not used: the `perfetto` package on PyPI
(0.59.1) downloads its `trace_processor_shell` binary from Google's
storage when first asked (perfetto/prebuilts/perfetto_prebuilts.py runs
curl), which fails offline (curl exit 6, tried on this machine). So a
trace is checked against the JSON Schema shipped in the package
(dsl/formats/schemas/chrome-trace.schema.json, itself checked as a
Draft 2020-12 schema) and for its structure: one process named after the
scenario, a thread per CPU; the context stretches of a CPU tile the
execution and never overlap; each step slice lies in its context's
stretch and carries the lines `kmap run` prints for it; every report of
the final state is an instant with its kernel-style text; each counter
ends at the final state's value; and exact events for small examples.
The DOT files are parsed (a node per state, an edge per transition, the
ends, the red states and edges) and rendered with `dot -Tsvg` where
Graphviz is installed (skipped otherwise; .ci/run installs it).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from kmap_scenarios.dsl.cli.main import main
from kmap_scenarios.dsl.formats import chrome_trace, dot
from kmap_scenarios.dsl.formats.chrome_trace import STEP_US
from kmap_scenarios.dsl.lower.load import load
from kmap_scenarios.runtime.kernel import reports as rr
from kmap_scenarios.runtime.search import schedule as sch

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*/*.kmap"))
NESTING = str(ROOT / "examples/kmap_local/irq_nesting.kmap")
SLOT_REUSE = str(ROOT / "examples/dma/slot_reuse.kmap")
HANDSHAKE = str(ROOT / "examples/spin/handshake.kmap")
FIRST = str(ROOT / "examples/pkmap/first_slot.kmap")


def kmap(*argv: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return out.getvalue(), err.getvalue(), code


def valid(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(chrome_trace.schema()).validate(doc)
    return doc


def of(doc: dict[str, Any], ph: str, cat: str | None = None, pid: int = 1) -> list[dict[str, Any]]:
    return [e for e in doc["traceEvents"]
            if e["ph"] == ph and e["pid"] == pid and (cat is None or e.get("cat") == cat)]


STRETCH = {"task", "irq", "softirq", "idle", "ksoftirqd"}


def stretches(doc: dict[str, Any], pid: int = 1) -> dict[int, list[tuple[str, int, int]]]:
    """(name, start, end) of each context stretch, per tid, in time order."""
    out: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    for e in of(doc, "X", pid=pid):
        if e["cat"] in STRETCH:
            out[e["tid"]].append((e["name"], e["ts"], e["ts"] + e["dur"]))
    return {t: sorted(v, key=lambda s: s[1]) for t, v in out.items()}


def counters(doc: dict[str, Any], pid: int = 1) -> dict[str, list[tuple[float, int]]]:
    out: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for e in of(doc, "C", pid=pid):
        out[e["name"]].append((e["ts"], e["args"]["value"]))
    return dict(out)


# ------------------------------------------------------------------ schema

def test_the_trace_schema_is_a_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(chrome_trace.schema())


def test_the_schema_refuses_what_a_viewer_cannot_read() -> None:
    v = jsonschema.Draft202012Validator(chrome_trace.schema())
    good = {"traceEvents": [{"name": "t", "cat": "task", "ph": "X", "ts": 1000, "dur": 1000,
                             "pid": 1, "tid": 1, "args": {}}],
            "displayTimeUnit": "ms",
            "otherData": {"scenario": "s", "path": "p", "microseconds_per_step": 1000}}
    v.validate(good)
    for broken in ({"dur": 0}, {"ph": "B"}, {"tid": 0}, {"cat": "elsewhere"}):
        doc = json.loads(json.dumps(good))
        doc["traceEvents"][0].update(broken)
        assert not v.is_valid(doc), broken
    counter = {"name": "c", "ph": "C", "ts": 0, "pid": 1, "tid": 0, "args": {"value": "1"}}
    assert not v.is_valid({**good, "traceEvents": [counter]})   # a number, not a string


# ------------------------------------------------------------ kmap run

def test_run_trace_out_of_the_irq_nesting_example(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)   # the golden's path, as typed
    f = tmp_path / "t.json"
    nesting = "examples/kmap_local/irq_nesting.kmap"
    out, err, code = kmap("run", nesting, "--trace-out", str(f))
    assert (code, err) == (0, "")
    assert out == (ROOT / "examples/kmap_local/irq_nesting.run.out").read_text() \
        .removesuffix("exit status 0\n")   # the report is printed as without the option
    doc = valid(f)
    assert doc["displayTimeUnit"] == "ms"
    assert doc["otherData"] == {"scenario": "kmap-local-irq-nesting", "path": nesting,
                                "schedule": "t, timer", "steps": 18,
                                "microseconds_per_step": 1000}
    meta = [(e["name"], e["tid"], e["args"]) for e in of(doc, "M")]
    assert meta == [("process_name", 0, {"name": "kmap-local-irq-nesting"}),
                    ("process_sort_index", 0, {"sort_index": 1}),
                    ("thread_name", 1, {"name": "cpu0"}),
                    ("thread_sort_index", 1, {"sort_index": 0})]
    # t runs steps 1-15 (the 15th its return to user space, a step of its
    # own while an irq may come), then the irq fires on the idle CPU for 16-18
    assert stretches(doc) == {1: [("t", 1000, 16000), ("timer", 16000, 19000)]}
    assert [e["cat"] for e in of(doc, "X") if e["cat"] in STRETCH] == ["task", "irq"]
    steps = of(doc, "X", "step")
    assert [e["args"]["step"] for e in steps] == list(range(1, 19))
    assert steps[1]["name"] == "void *a = kmap_local_page(P1);"
    assert steps[1]["args"] == {"step": 2, "context": "t", "line": 11, "kernel": [
        "kmap_local: idx 0 -> 1, slot 0 of cpu0 at 0xffffff80 maps pfn 0x38000"]}
    assert [(e["name"], e["ts"]) for e in of(doc, "i", "kmap_local")] == [
        ("kmap_local P1 (cpu0 slot 0)", 2500), ("kmap_local P2 (cpu0 slot 1)", 5500),
        ("kunmap_local P2 (cpu0 slot 1)", 10500), ("kunmap_local P1 (cpu0 slot 0)", 13500),
        ("kmap_local I (cpu0 slot 0)", 16500), ("kunmap_local I (cpu0 slot 0)", 18500)]
    c = counters(doc)
    assert c["t kmap_ctrl.idx"] == [(0, 0), (2500, 1), (5500, 2), (10500, 1), (13500, 0)]
    # the irq interrupts the idle task: its kmap_local pushes on swapper/0's kmap_ctrl
    assert c["swapper/0 kmap_ctrl.idx"] == [(0, 0), (16500, 1), (18500, 0)]
    assert c["t preempt_count"][:3] == [(0, 0), (1500, 1), (3500, 0)]
    assert c["timer preempt_count"] == [(0, 0), (16500, 0x10001)]
    # the CPU's view: the task's count, then the irq's (HARDIRQ_OFFSET and its
    # kmap_local_page()), then the idle task's when the irq returns
    assert c["cpu0 preempt_count"][-3:] == [(14500, 0), (16500, 0x10001), (18500, 0)]
    assert c["cpu0 kmap_ctrl.idx"] == c["t kmap_ctrl.idx"] + [(16500, 1), (18500, 0)]
    assert of(doc, "i", "report") == [] and of(doc, "i", "end") == []


def test_run_trace_of_an_smp_execution_that_never_ends(tmp_path: Path) -> None:
    f = tmp_path / "h.json"
    _, _, code = kmap("run", HANDSHAKE, "--trace-out", str(f))
    assert code == 0
    doc = valid(f)
    names = {e["tid"]: e["args"]["name"] for e in of(doc, "M") if e["name"] == "thread_name"}
    assert names == {1: "cpu0", 2: "cpu1"}
    # cpu0 idles while the responder runs on cpu1; then the waiter spins
    assert stretches(doc) == {1: [("idle", 1000, 2000), ("waiter", 2000, 9000)],
                              2: [("responder", 1000, 2000), ("idle", 2000, 9000)]}
    [end] = of(doc, "i", "end")
    assert end["name"] == ("the execution never ends: after step 8 it stays among 2 states "
                           "it cannot leave")
    assert end["ts"] == 9 * STEP_US
    [rep] = of(doc, "i", "report")   # added at the end: the stuck context
    assert (rep["name"], rep["ts"], rep["tid"]) == (
        "DEADLOCK: waiter:1 never returns to user space", 9 * STEP_US, 1)
    assert rep["args"]["text"].split("\n")[1] == "waiter:1 runs on in a loop no execution leaves"


def test_run_trace_of_pkmap_slots(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    assert kmap("run", FIRST, "--trace-out", str(f))[2] == 0
    doc = valid(f)
    assert [e["name"] for e in of(doc, "i", "pkmap")] == [
        "pkmap slot 1: P mapped, pkmap_count 0 -> 2", "pkmap slot 1: P, pkmap_count 2 -> 1"]
    assert counters(doc)["pkmap slots in use"] == [(0, 0), (1500, 1)]


def test_run_trace_of_a_run_cut_at_max_steps(tmp_path: Path) -> None:
    f = tmp_path / "c.json"
    assert kmap("run", NESTING, "--max-steps", "5", "--no-trace", "--trace-out", str(f))[2] == 3
    doc = valid(f)
    assert len(of(doc, "X", "step")) == 5   # the trace does not depend on --no-trace
    [end] = of(doc, "i", "end")
    assert end["name"] == "stopped after 5 steps (--max-steps): the execution did not finish"


def _run_doc(path: str) -> tuple[Any, sch.Execution, dict[str, Any]]:
    program = load(str(ROOT / path))
    ex = sch.execute(program, program.schedule, trace=True)
    assert ex.final is not None
    return program, ex, chrome_trace.run_trace(program, ex.actions, ex.final, "", [])


@pytest.mark.parametrize("path", EXAMPLES)
def test_every_example_trace_is_valid_and_whole(path: str) -> None:
    program, ex, doc = _run_doc(path)
    jsonschema.Draft202012Validator(chrome_trace.schema()).validate(doc)
    ncpu = program.config.NR_CPUS
    n = len(ex.actions)
    # one thread per CPU, whose context stretches tile steps 1..n without overlapping
    tiles = stretches(doc)
    assert set(tiles) == (set(range(1, ncpu + 1)) if n else set())
    for tid, spans in tiles.items():
        assert spans[0][1] == STEP_US and spans[-1][2] == (n + 1) * STEP_US
        for (_, _, end), (_, start, _) in zip(spans, spans[1:]):
            assert end == start, (tid, spans)
    # each step in its context's stretch on its CPU, with kmap run's lines
    steps = of(doc, "X", "step")
    assert len(steps) == n
    for e, t in zip(sorted(steps, key=lambda e: e["ts"]), ex.trace):
        assert e["args"]["kernel"] == list(t.events)
        assert e["tid"] == t.action[1] + 1
        if t.action[0] < 0:   # a TLB eviction: inside whatever runs on that CPU
            assert e["args"]["context"] == f"tlb{-1 - t.action[0]}" and e["name"] == "TLB eviction"
            continue
        assert any(name == program.contexts[t.action[0]].name and s <= e["ts"]
                   and e["ts"] + e["dur"] <= end for name, s, end in tiles[e["tid"]])
    # every report of the final state is an instant with its text
    got = Counter(e["args"]["text"] for e in of(doc, "i", "report"))
    assert got == Counter(rr.render(program, ex.final, r) for r in ex.final.reports)
    # each counter ends at the final state's value; one that never moved is 0 there
    c = counters(doc)
    names = chrome_trace.Names(program)
    for ci, ctx in enumerate(ex.final.ctxs):
        for what, value in (("preempt_count", ctx.preempt_count),
                            ("kmap_ctrl.idx", ctx.kmap_idx)):
            series = c.get(f"{names.counter[ci]} {what}", [(0, 0)])
            assert series[-1][1] == value, (names.counter[ci], what)
            assert series == sorted(series)
    for cpu in range(ncpu):
        values = chrome_trace.cpu_counters(program, ex.final, cpu)
        assert c.get(f"cpu{cpu} preempt_count", [(0, 0)])[-1][1] == values[0]
        assert c.get(f"cpu{cpu} kmap_ctrl.idx", [(0, 0)])[-1][1] == values[1]


WARN_LOOP = """scenario "warn-loop"; config { NR_CPUS = 1; }
int stop;
task t on cpu0 { while (!stop) { WARN_ON(1); preempt_point(); } }
task u on cpu0 { stop = 1; }
schedule t:6, u, t;
"""


def test_a_warn_in_a_loop_is_an_instant_each_pass(tmp_path: Path) -> None:
    """The state keeps a report once; the kernel prints it on every pass,
    and so does the trace (as `kmap run`'s text does)."""
    s = tmp_path / "warn.kmap"
    s.write_text(WARN_LOOP)
    f = tmp_path / "w.json"
    out, _, code = kmap("run", str(s), "--trace-out", str(f))
    assert code == 1 and out.count("report WARN: WARNING") == 2
    warns = of(valid(f), "i", "report")
    assert [e["ts"] for e in warns] == [2500, 5500]
    assert warns[0]["args"] == warns[1]["args"] and warns[0]["args"]["kind"] == "WARN"
    assert warns[0]["args"]["text"].startswith("------------[ cut here ]------------\n")


# ---------------------------------------------------------- kmap check

def test_witness_trace_of_a_witness(tmp_path: Path) -> None:
    f = tmp_path / "w.json"
    out, err, code = kmap("check", SLOT_REUSE, "--witness-trace", str(f))
    assert (code, err) == (0, "")
    assert "witness: dma:6, writer:4, dma, writer" in out
    doc = valid(f)
    assert doc["otherData"]["witnesses"] == ["witness of expect sometimes DATA_LOSS"]
    [name] = [e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "process_name"]
    assert name == "dma-map-vs-pkmap-slot-reuse: witness of expect sometimes DATA_LOSS"
    steps = of(doc, "X", "step")
    assert [e["args"]["context"] for e in steps] == ["dma"] * 6 + ["writer"] * 4 + ["dma",
                                                                                 "writer"]
    [rep] = of(doc, "i", "report")
    assert rep["name"] == "DATA_LOSS: dma_map_page discarded a dirty cache line holding the " \
                          "newest data"
    assert rep["ts"] == 11 * STEP_US + STEP_US // 2   # the 11th step: dma_map_page


SHARED = """\
scenario "shared";
config { NR_CPUS = 1; }
int x = 0;
task t on cpu0 { x = 1; }
task u on cpu0 { BUG_ON(x == 1); }
expect never BUG;
expect always x == 0;
"""


def test_witness_trace_a_process_per_distinct_path(tmp_path: Path) -> None:
    s = tmp_path / "shared.kmap"
    s.write_text(SHARED)
    f = tmp_path / "w.json"
    out, err, code = kmap("check", str(s), "--witness-trace", str(f))
    assert code == 1, out + err
    doc = valid(f)
    procs = {e["pid"]: e["args"]["name"] for e in doc["traceEvents"]
             if e["name"] == "process_name"}
    paths = re.findall(r"counterexample: (.*)", out)
    assert len(paths) == 2
    # check prints a path shared by two expectations once, the second
    # referring to the first
    if paths[0] == paths[1] or paths[1].startswith("the same execution as"):
        assert procs == {1: "shared: counterexample of expect never BUG; counterexample of "
                            "expect always x == 0"}
    else:
        assert procs == {1: "shared: counterexample of expect never BUG",
                         2: "shared: counterexample of expect always x == 0"}
        for pid in procs:
            assert stretches(doc, pid)   # each process has its CPU tracks


def test_witness_trace_with_nothing_to_show(tmp_path: Path) -> None:
    f = tmp_path / "w.json"
    out, err, code = kmap("check", NESTING, "--witness-trace", str(f))
    assert code == 0 and "Result: all 2 expectations hold" in out
    assert err == (f"kmap: --witness-trace {f}: no expectation has a witness or "
                   "counterexample to show: the file holds no execution\n")
    doc = valid(f)
    assert doc["traceEvents"] == [] and doc["otherData"]["witnesses"] == []


def test_witness_trace_of_random_shows_the_shrunk_counterexample(tmp_path: Path) -> None:
    s = tmp_path / "shared.kmap"
    s.write_text(SHARED)
    f = tmp_path / "w.json"
    out, _, code = kmap("check", str(s), "--random", "20", "--witness-trace", str(f))
    assert code == 1
    doc = valid(f)
    shown = re.findall(r"counterexample: (.*)", out)
    assert shown and len(of(doc, "M")) >= 3
    assert of(doc, "i", "report")[0]["args"]["kind"] == "BUG"


# ------------------------------------------------------------------ DOT

NODE = re.compile(r'^  s(\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
EDGE = re.compile(r'^  s(\d+) -> s(\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')


def parse_dot(text: str) -> tuple[dict[int, tuple[str, str]], list[tuple[int, int, str, str]]]:
    """Nodes (id -> label, attributes) and edges (from, to, label, attributes)."""
    lines = text.split("\n")
    assert lines[0].startswith("digraph ") and lines[-2:] == ["}", ""]
    nodes: dict[int, tuple[str, str]] = {}
    edges = []
    for line in lines[1:-2]:
        if m := NODE.match(line):
            nodes[int(m[1])] = (m[2].replace("\\n", "\n"), m[3])
        elif m := EDGE.match(line):
            edges.append((int(m[1]), int(m[2]), m[3].replace("\\n", "\n"), m[4]))
        else:
            assert re.match(r"^  (label=|labelloc=|node |edge |start )", line) or \
                line == "  start -> s0 [penwidth=2];", line
    return nodes, edges


def red(attrs: str) -> bool:
    return f'color="{dot.RED}"' in attrs


def statistics(out: str) -> tuple[int, int]:
    m = re.search(r"^States (\d+), transitions (\d+)", out, re.M)
    assert m is not None
    return int(m[1]), int(m[2])


def test_dot_of_a_one_cpu_search(tmp_path: Path) -> None:
    f = tmp_path / "g.dot"
    out, err, code = kmap("check", NESTING, "--dot", str(f))
    assert (code, err) == (0, "")
    nodes, edges = parse_dot(f.read_text())
    states, transitions = statistics(out)
    # one CPU: no reduction, the search takes every transition of the graph
    assert (len(nodes), len(edges)) == (states, transitions)
    assert sorted(nodes) == list(range(states))
    assert nodes[0][0] == "s0\nt:11 timer:pending" and "penwidth=2" in nodes[0][1]
    ends = [k for k, (_, a) in nodes.items() if "peripheries=2" in a]
    assert ends and all(nodes[k][0].endswith("\nend: I[0]=0x03; P1[0]=0x01; P2[0]=0x02; "
                                             "no reports") for k in ends)
    assert all(nodes[k][0].split("\n")[1] == "t:done timer:done" for k in ends)
    assert not any(red(a) for _, a in nodes.values())
    assert {lab for _, _, lab, _ in edges} == {"t@cpu0", "timer@cpu0"}


def test_dot_marks_reports_and_failing_ends_red(tmp_path: Path) -> None:
    s = tmp_path / "shared.kmap"
    s.write_text(SHARED)
    f = tmp_path / "g.dot"
    out, _, code = kmap("check", str(s), "--dot", str(f))
    assert code == 1
    nodes, edges = parse_dot(f.read_text())
    assert (len(nodes), len(edges)) == statistics(out)
    for a, b, label, attrs in edges:
        adds = "BUG" in label
        assert red(attrs) == adds
        if adds:   # the step that reports: into a state with one report more
            assert "1 report" in nodes[b][0].split("\n") and \
                not any(x.endswith((" report", " reports")) for x in nodes[a][0].split("\n"))
            assert label.startswith("u@cpu0\n")
    for label, attrs in nodes.values():
        ends = "peripheries=2" in attrs
        # a report, or an end where `always x == 0` is false
        bad = "1 report" in label.split("\n") or (ends and "\nend: x=1" in label)
        assert red(attrs) == bad, label
    assert sum(red(a) for _, a in nodes.values()) >= 2


def test_dot_witness_is_the_path_check_prints(tmp_path: Path) -> None:
    f = tmp_path / "w.dot"
    out, _, code = kmap("check", SLOT_REUSE, "--dot", str(f), "--dot-witness")
    assert code == 0
    nodes, edges = parse_dot(f.read_text())
    assert len(nodes) == 13 and [(a, b) for a, b, _, _ in edges] == [(k, k + 1) for k in range(12)]
    assert [lab.split("\n")[0] for _, _, lab, _ in edges] == \
        ["dma@cpu0"] * 6 + ["writer@cpu0"] * 4 + ["dma@cpu0", "writer@cpu0"]
    assert [red(a) for _, _, _, a in edges] == [False] * 10 + [True, False]
    end, attrs = nodes[12]
    assert "peripheries=2" in attrs and red(attrs)
    assert end.endswith("\nend: DATA_LOSS: dma_map_page discarded a dirty cache line holding "
                        "the newest data")
    assert "path 1: witness of expect sometimes DATA_LOSS" in f.read_text().split("\n")[1]


def test_dot_of_a_bounded_search_dashes_the_cut_states(tmp_path: Path) -> None:
    f = tmp_path / "g.dot"
    out, _, code = kmap("check", SLOT_REUSE, "--max-states", "20", "--dot", str(f))
    assert code == 3 and "Bounded by: states" in out
    nodes, _ = parse_dot(f.read_text())
    assert len(nodes) == 20
    cut = [label for label, a in nodes.values() if "dashed" in a]
    assert cut and all(label.endswith("(cut by a bound)") for label in cut)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
@pytest.mark.parametrize("witness", [False, True])
def test_dot_renders_with_graphviz(tmp_path: Path, witness: bool) -> None:
    f = tmp_path / "g.dot"
    extra = ["--dot-witness"] if witness else []
    assert kmap("check", SLOT_REUSE, "--dot", str(f), *extra)[2] == 0
    svg = subprocess.run(["dot", "-Tsvg", str(f)], capture_output=True, text=True, timeout=120)
    assert svg.returncode == 0 and svg.stderr == ""
    assert svg.stdout.count('class="node"') == (13 if witness else 311) + 1   # and start
    assert "DATA_LOSS" in svg.stdout


def _grid(n: int) -> str:
    """Two tasks of n steps each on two CPUs: (n + 1)^2 states."""
    body = " ".join(f"x = {k};" for k in range(n))
    return (f'scenario "grid"; config {{ NR_CPUS = 2; }} int x = 0; int y = 0;\n'
            f"task a on cpu0 {{ {body} }}\ntask b on cpu1 {{ {body.replace('x', 'y')} }}\n")


def test_dot_refuses_a_graph_too_large(tmp_path: Path) -> None:
    s = tmp_path / "grid.kmap"
    s.write_text(_grid(80))   # 6561 states (--no-por: one CPU's steps first would leave 161)
    f = tmp_path / "g.dot"
    out, err, code = kmap("check", str(s), "--dot", str(f), "--no-por")
    assert (out, code) == ("", 2)
    assert err == ("kmap: --dot: 5001 states or more, too many to draw (at most 5000); --dot "
                   "FILE --dot-witness draws only the witness paths, --max-states N "
                   "(N <= 5000) a part of the graph\n")
    assert not f.exists()
    # the same search draws a part, or its (empty) witness paths
    assert kmap("check", str(s), "--dot", str(f), "--max-states", "100", "--no-por")[2] == 3
    assert len(parse_dot(f.read_text())[0]) == 100
    assert kmap("check", str(s), "--dot", str(f), "--dot-witness")[2] == 0
    assert parse_dot(f.read_text())[0].keys() == {0}


# ------------------------------------------------------------ bad input

@pytest.mark.parametrize("argv, message", [
    (["check", NESTING, "--dot", "G", "--random", "5"],
     "kmap: --dot draws the explored state graph, and --random explores none "
     "(--witness-trace FILE shows its counterexample)\n"),
    (["check", NESTING, "--dot", "G", "--jobs", "2"],
     "kmap: --dot needs the state graph, which the --jobs workers keep to themselves: drop "
     "--jobs (a graph small enough to draw is searched quickly by one process), or add "
     "--dot-witness for the witness paths\n"),
    (["check", NESTING, "--dot-witness"], "kmap: --dot-witness only applies to --dot FILE\n"),
    (["run", NESTING, FIRST, "--trace-out", "T"],
     "kmap: --trace-out draws one scenario: give one FILE, not 2\n"),
    (["check", NESTING, "--dot", "G", "--witness-trace", "G"],
     "kmap: --witness-trace and --dot name the same file: G\n"),
])
def test_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str],
                      message: str) -> None:
    monkeypatch.chdir(tmp_path)
    out, err, code = kmap(*argv)
    assert (out, err, code) == ("", message, 2)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_files(tmp_path: Path) -> None:
    scenario = tmp_path / "s.kmap"
    scenario.write_bytes(Path(NESTING).read_bytes())
    before = scenario.read_bytes()
    for target, why in ((tmp_path / "no" / "t.json", f"no such directory: {tmp_path / 'no'}"),
                        (tmp_path, "is a directory"),
                        (scenario, "is the scenario itself (it would be overwritten)")):
        out, err, code = kmap("run", str(scenario), "--trace-out", str(target))
        assert (out, err, code) == ("", f"kmap: --trace-out {target}: {why}\n", 2)
    assert scenario.read_bytes() == before


def test_a_write_that_fails_later(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: Path, *args: Any, **kwargs: Any) -> int:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(Path, "write_text", full)
    out, err, code = kmap("check", NESTING, "--dot", str(tmp_path / "g.dot"))
    assert (out, code) == ("", 2)
    assert err == f"kmap: --dot {tmp_path / 'g.dot'}: cannot write: No space left on device\n"


def test_the_help_names_the_options() -> None:
    run_help, _, code = kmap("run", "--help")
    assert code == 0 and "--trace-out FILE" in run_help
    check_help, _, _ = kmap("check", "--help")
    for option in ("--witness-trace FILE", "--dot FILE", "--dot-witness"):
        assert option in check_help


def test_the_docs_name_the_options() -> None:
    language = (ROOT / "docs/language.md").read_text()
    for option in ("--trace-out FILE", "--witness-trace FILE", "--dot FILE [--dot-witness]"):
        assert f"[{option}]" in language
    assert "docs/pictures.md" in (ROOT / "README.md").read_text()
    pictures = (ROOT / "docs/pictures.md").read_text()
    assert f"one step is **{STEP_US // 1000} millisecond**" in pictures
    assert f"up to **{dot.MAX_STATES} states**" in pictures
