"""`kmap kmod`: the generated module of every scenario is stable, or its
refusal is; the module compiles against the cross-check's kernel tree
when one is built; the outcomes of the model and of the kernel compare
in one vocabulary (dsl/kmod/compare.py).

Goldens: NAME.kmod.out beside every example and every cross-check
scenario (bench/crosscheck/): the generated kmap_scenario.c, or the
refusal, then `exit status N`. `pytest --update-goldens` rewrites them.
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kmap_scenarios.dsl.cli.main import main
from kmap_scenarios.dsl.kmod import cexpr, compare
from kmap_scenarios.dsl.kmod.generate import MODULE, generate, load_scenario, write
from kmap_scenarios.dsl.kmod.refuse import Refused
from kmap_scenarios.dsl.syntax import names

ROOT = Path(__file__).resolve().parent.parent
REAL = sorted((ROOT / "bench" / "crosscheck").glob("*.kmap"))
EVERY = ROOT / "tests" / "kmod" / "every_builtin.kmap"
KNOWN = sorted((ROOT / "bench" / "crosscheck" / "known").glob("*.kmap"))
SCENARIOS = sorted((ROOT / "examples").rglob("*.kmap")) + REAL + KNOWN + [EVERY]
# Compiling one module costs most of a second (the kernel headers): the
# default run compiles the scenario that uses every built-in and a few
# cross-check scenarios; KMAP_KMOD_COMPILE_ALL=1 compiles them all.
COMPILED = [EVERY] + (REAL if os.environ.get("KMAP_KMOD_COMPILE_ALL") else REAL[::9])

HEAD = """\
config { CONFIG_PREEMPTION = y; CONFIG_DEBUG_KMAP_LOCAL = y; }
page P = alloc_page(GFP_HIGHUSER);
"""


def kmap(*argv: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return out.getvalue(), err.getvalue(), code


def _id(p: Path) -> str:
    return str(p.relative_to(ROOT))


@pytest.mark.parametrize("path", SCENARIOS, ids=_id)
def test_golden(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                update_goldens: bool) -> None:
    monkeypatch.chdir(ROOT)
    out, err, code = kmap("kmod", _id(path), "-o", str(tmp_path / "m"))
    if code == 0:
        assert err == ""
        text = (tmp_path / "m" / f"{MODULE}.c").read_text()
    else:
        assert out == "" and code == 65, (out, err)
        text = err
    text += f"exit status {code}\n"
    golden = path.with_suffix(".kmod.out")
    if update_goldens:
        golden.write_text(text)
    assert golden.exists(), f"no golden {golden.name}: run pytest --update-goldens"
    assert text == golden.read_text()


@pytest.mark.parametrize("path", REAL, ids=_id)
def test_every_cross_check_scenario_becomes_a_module(path: Path) -> None:
    checked, program = load_scenario(path.read_bytes(), str(path))
    files = generate(checked, program)
    assert set(files) == {"Kbuild", f"{MODULE}.c", "kmap_runtime.h", "kmap_controller.h"}
    assert files["Kbuild"] == f"obj-m := {MODULE}.o\n"


def _refusal(text: str) -> list[str]:
    checked, program = load_scenario(text, "t.kmap")
    with pytest.raises(Refused) as e:
        generate(checked, program)
    return e.value.reasons


def test_a_tiny_page_is_refused_with_the_kernel_reason() -> None:
    reasons = _refusal("config { PAGE_SIZE = 64; CONFIG_PREEMPTION = y; CONFIG_DEBUG_KMAP_LOCAL = y; }\n"
                       "page P = alloc_page(GFP_HIGHUSER);\ntask t on cpu0 { void *v = kmap(P); kunmap(P); }\n")
    assert reasons == ["PAGE_SIZE = 64: an i386 kernel's pages are 4096 bytes "
                       "(arch/x86/include/asm/page_types.h: PAGE_SHIFT 12); set PAGE_SIZE = 4096 "
                       "or leave it out"]


def test_every_reason_at_once() -> None:
    reasons = _refusal("page P = alloc_page(GFP_HIGHUSER);\ntask t on cpu0 { kmap_flush_unused(); }\n")
    assert [r.split(":")[0] for r in reasons] == ["CONFIG_PREEMPTION = n", "CONFIG_DEBUG_KMAP_LOCAL = n"]
    reasons = _refusal(HEAD + "task t on cpu0 { kmap_flush_unused(); }\n")
    assert reasons == ["t, line 3: `kmap_flush_unused()` is not exported to modules "
                       "(__kmap_flush_unused has no EXPORT_SYMBOL in mm/highmem.c)"]


@pytest.mark.parametrize("text, words", [
    ("config { ARCH = arm; CONFIG_PREEMPTION = y; }\npage P = alloc_page(GFP_HIGHUSER);\n"
     "task t on cpu0 { void *v = kmap(P); }\n", "VIVT cache"),
    ("config { ARCH = x86_64; CONFIG_DEVMAP_ACCESS_PROTECTION = y; CONFIG_PREEMPTION = y; }\n"
     "page D = alloc_devmap_page();\ntask t on cpu0 { void *v = kmap_local_page(D); kunmap_local(v); }\n",
     "PKS was never merged"),
    (HEAD + "task t on cpu0 { dma_map_page(P, DMA_TO_DEVICE); }\n", "needs a device"),
    ("config { CONFIG_PREEMPTION = y; CONFIG_DEBUG_KMAP_LOCAL = y; NR_CPUS = 8; }\n"
     "task t on cpu0 { preempt_disable(); preempt_enable(); }\n", "controller needs one"),
])
def test_what_a_real_kernel_cannot_give(text: str, words: str) -> None:
    assert any(words in r for r in _refusal(text))


def _module(text: str) -> str:
    checked, program = load_scenario(text, "dir/s.kmap")
    return generate(checked, program)[f"{MODULE}.c"]


def test_what_a_kernel_module_can_do_is_translated_not_refused() -> None:
    """Functions, softirqs, mutexes, kmalloc and user pages: a module has
    them all (kmap_runtime.h), so none is refused any more."""
    text = (HEAD + "DEFINE_MUTEX(m);\npage U = alloc_user_page(present);\n"
            "static int f(int x)\n{\n    return x + 1;\n}\n"
            "softirq s on cpu0 { char *k = kmalloc(8, GFP_ATOMIC); kfree(k); }\n"
            "irq i on cpu0 { raise_softirq(s); }\n"
            "task t on cpu0 { mutex_lock(&m); int y = f(1); mutex_unlock(&m);\n"
            "  char *b = kmalloc(4, GFP_KERNEL); int n = copy_from_user(b, U + 4, 4); }\n")
    c = _module(text)
    assert "#define KM_NR_SIRQ 1\n#define KM_NR_USER 1\n" in c
    assert '{ "s", 0, true, km_body_0, 0, false },' in c
    assert "km_raise(0, 0, 0);" in c
    assert "mutex_lock(&km_mutex[0]);" in c
    assert "km_kmalloc(8, 2592, false)" in c
    # the model's user address of U + 4 is the module's mapping + 4
    assert "(const void __user *)KM_VA((km_uaddr(0) + 4))" in c


def test_a_call_is_a_frame_and_a_jump_and_its_return_a_switch() -> None:
    """A call runs its callee's first statement in the same step
    (runtime/kernel/machine.py): no km_step() where the call enters."""
    text = HEAD + "static int f(int x)\n{\n    return x + 1;\n}\ntask t on cpu0 {\n    int y = f(1);\n    y++;\n}\n"
    c = _module(text)
    assert ('\tkm_step(r); { s64 km_a[1] = { 1 }; if (km_call(r, 0, "f")) return 1; '
            'r->L[0] = (s32)(km_a[0]); } goto pc3_in;') in c
    assert "pc1: \tkm_step(r); r->L[0] = (s32)((r->L[0] + 1));" in c
    assert ('\tkm_step(r); pc3_in: { s64 km_v = (s32)((r->L[0] + 1)); (void)km_v; '
            'switch (km_ret(r)) { case 0: r->L[0] = (s32)(km_v); goto pc1; default: return 1; } }') in c


def test_a_fused_instruction_takes_no_step_of_its_own() -> None:
    """`if (copy_from_user(...))`: the call into a hidden local, then the
    branch fused to it: one step, one km_step()."""
    text = (HEAD + "page U = alloc_user_page(present);\ntask t on cpu0 {\n"
            "    char *b = kmalloc(4, GFP_KERNEL);\n"
            "    if (copy_from_user(b, U, 4))\n        b[0] = 1;\n}\n")
    c = _module(text)
    assert "\tif (!r->L[1]) goto pc" in c and "km_step(r); if (!r->L[1])" not in c


def test_the_ordering_vocabulary_is_the_kernel_s_own() -> None:
    """cpu_relax(), barrier() and the smp_*mb() barriers are the kernel's
    calls (a spin-wait on a flag is how scenarios hand over between CPUs;
    the globals are volatile, so the loop reloads); likely()/unlikely()
    give 0 or 1 as the model's do; min/max compare the values as s64, as
    the model's mathematical integers (a min_t's type is the cast around
    it). READ_ONCE and WRITE_ONCE are a load and a store already."""
    c = _module(HEAD + "int go = 0;\ntask t on cpu0 {\n    while (!READ_ONCE(go))\n        cpu_relax();\n"
                "    barrier();\n    smp_mb();\n    smp_rmb();\n    smp_wmb();\n"
                "    int x = min(go, 3) + max_t(int, go, 1);\n    if (likely(x > 1))\n        x++;\n}\n")
    for call in ("cpu_relax();", "barrier();", "smp_mb();", "smp_rmb();", "smp_wmb();"):
        assert f"km_step(r); {call}" in c, call
    assert "min_t(s64, (s64)km_g[0], 3)" in c
    assert "(s32)(max_t(s64, (s64)(s32)((s64)km_g[0]), (s64)(s32)(1)))" in c   # max_t(int, ...)
    assert "(s64)!!likely((r->L[0] > 1))" in c


def test_a_construct_not_translated_yet_is_refused_not_guessed() -> None:
    c = cexpr.CExpr(cexpr.Names(()))
    with pytest.raises(cexpr.Untranslated, match="`dma_map_page\\(\\)` needs a device"):
        c.call("dma_map_page", ())
    with pytest.raises(cexpr.Untranslated, match="`no_such` has no kernel translation yet"):
        c.call("no_such", ())
    with pytest.raises(cexpr.Untranslated, match="has no C translation yet"):
        c.expr(object())  # type: ignore[arg-type]


def test_the_translation_tables_name_only_built_ins() -> None:
    assert set(cexpr.BUILTIN_C) <= set(names.BUILTINS)
    assert set(cexpr.REFUSED_BUILTINS) <= set(names.BUILTINS)
    assert not set(cexpr.BUILTIN_C) & set(cexpr.REFUSED_BUILTINS)


def test_the_cli_refuses_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "t.kmap"
    src.write_text("task t on cpu0 { preempt_disable(); preempt_enable(); }\n")
    out, err, code = kmap("kmod", str(src), "-o", str(tmp_path / "m"))
    assert code == 65 and out == ""
    assert err.startswith(f"kmap kmod: {src}: cannot run on a real kernel:\n  - CONFIG_PREEMPTION = n")
    assert not (tmp_path / "m").exists()


def test_the_cli_needs_an_output_directory(tmp_path: Path) -> None:
    assert kmap("kmod", str(ROOT / "bench/crosscheck/pkmap_first_slot.kmap"))[2] == 2
    assert kmap("kmod", str(tmp_path / "missing.kmap"), "-o", str(tmp_path))[2] == 2
    assert kmap("kmod", str(ROOT / "bench/crosscheck/pkmap_first_slot.kmap"), "-o",
                str(tmp_path), "--iterations", "0")[2] == 2


def test_the_cli_writes_the_module(tmp_path: Path) -> None:
    out, err, code = kmap("kmod", str(ROOT / "bench/crosscheck/pkmap_first_slot.kmap"),
                          "-o", str(tmp_path / "m"), "--iterations", "7")
    assert code == 0 and err == ""
    assert sorted(os.listdir(tmp_path / "m")) == sorted(
        ["Kbuild", f"{MODULE}.c", "kmap_runtime.h", "kmap_controller.h"])
    assert "#define KM_ITERATIONS 7\n" in (tmp_path / "m" / f"{MODULE}.c").read_text()
    assert "1 contexts, 7 iterations" in out


def test_statements_keep_the_scenario_lines() -> None:
    """#line before each statement: the kernel's BUG_ON/WARN_ON/might_sleep
    reports name FILE.kmap:LINE, as the model's do."""
    text = HEAD + "task t on cpu0 {\n    preempt_disable();\n    WARN_ON(1);\n    preempt_enable();\n}\n"
    checked, program = load_scenario(text, "dir/w.kmap")
    c = generate(checked, program)[f"{MODULE}.c"]
    assert '#line 5 "w.kmap"\n\tkm_step(r); WARN_ON(1);\t/* WARN_ON(1); */' in c


# ------------------------------------------------------------ compiling


def _kernel_tree() -> Path | None:
    """A built i386 tree: $KMAP_KERNEL_TREE, or the cross-check's cache."""
    env = os.environ.get("KMAP_KERNEL_TREE")
    cands = [env] if env else sorted(glob.glob(os.path.expanduser(
        "~/.cache/kmap-crosscheck/linux-*-pkmap1024")))
    for c in cands:
        if c and (Path(c) / ".kmap-built").exists():
            return Path(c)
    return None


@pytest.fixture(scope="module")
def cflags(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The compiler command kbuild uses for a module, read once from a
    real build of one scenario (then each file is only parsed)."""
    tree = _kernel_tree()
    if tree is None or shutil.which("make") is None:
        pytest.skip("no built i386 kernel tree (bench/crosscheck.py --build-only builds one)")
    d = tmp_path_factory.mktemp("probe")
    checked, program = load_scenario((ROOT / "bench/crosscheck/pkmap_first_slot.kmap").read_bytes(),
                                     "pkmap_first_slot.kmap")
    write(generate(checked, program), d)
    r = subprocess.run(["make", "-C", str(tree), "ARCH=i386", f"M={d}", "modules"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    cmd = (d / f".{MODULE}.o.cmd").read_text().splitlines()[0].split(":=", 1)[1].strip()
    words = cmd.split()
    out = words.index("-o")
    flags = words[:out] + words[out + 2:-1]      # without `-o FILE` and the source
    return ["sh", "-c", f"cd {tree} && {' '.join(flags)} -fsyntax-only \"$0\""]


def test_one_scenario_uses_every_translated_built_in() -> None:
    text = EVERY.read_text()
    assert [n for n in cexpr.BUILTIN_C if f"{n}(" not in text] == []


@pytest.mark.parametrize("path", COMPILED, ids=_id)
def test_the_module_compiles(path: Path, tmp_path: Path, cflags: list[str]) -> None:
    checked, program = load_scenario(path.read_bytes(), str(path))
    files = generate(checked, program)
    # the stock tree's pool: a patched kernel's LAST_PKMAP changes only the #if
    files[f"{MODULE}.c"] = files[f"{MODULE}.c"].replace(
        f"#define KM_LAST_PKMAP {program.config.LAST_PKMAP}\n", "#define KM_LAST_PKMAP 1024\n")
    write(files, tmp_path)
    r = subprocess.run(cflags + [str(tmp_path / f"{MODULE}.c")], capture_output=True, text=True)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr


# ------------------------------------------------------------ comparing


def _program(text: str):  # type: ignore[no-untyped-def]
    return load_scenario(text, "dir/s.kmap")[1]


REAL_LAYOUT = ("layout page_offset=0xc0000000 pkmap_base=0xff800000 last_pkmap=1024 "
               "fix_kmap_begin=0xfffbb000 km_max_idx=33 km_incr=2 page_size=4096 nr_cpus=8")


def test_values_are_named_by_what_they_are_in_both_layouts() -> None:
    p = _program(HEAD + "page L = alloc_page(GFP_KERNEL);\ntask t on cpu0 { void *v = kmap(P); }\n")
    m = compare.model_layout(p)
    cfg = p.config
    assert m.show(cfg.pkmap_addr(1)) == "pkmap(1)"
    assert m.show(cfg.pkmap_addr(1) + 0x10) == "pkmap(1)+0x10"
    assert m.show(cfg.kmap_local_vaddr(0, 1)) == "kmap_local(cpu0,1)"
    assert m.show(cfg.pkmap_addr(3) - (1 << 32)) == "pkmap(3)"   # an address in an int
    assert m.show(0x55) == "85" and m.show(-1) == "-1"
    pfn = p.pages[1].pfn
    assert m.show(pfn) == str(pfn) and m.show(pfn, pfn=True) == "pfn(L)"
    from kmap_scenarios.runtime.kernel.memory import direct_map, page_pointer
    assert m.show(page_pointer(p, 0)) == "page(P)"
    assert m.show(direct_map(cfg, pfn) + 4) == "lowmem(L)+0x4"
    r = compare.real_layout(REAL_LAYOUT)
    assert r.show(0xff801000) == "pkmap(1)" and r.show(0xfffba000) == "kmap_local(cpu0,1)"
    assert r.show(0xfffba000 - 33 * 4096) == "kmap_local(cpu1,1)"


def test_reports_compare_by_the_kernel_wording() -> None:
    p = _program(HEAD + "task before on cpu0 { void *a = kmap_atomic(P); msleep(1); kunmap_atomic(a); }\n")
    m, r = compare.model_layout(p), compare.real_layout(REAL_LAYOUT)
    n = compare.Namer(p)
    pairs = [
        ("BUG: scheduling while atomic: before/1/0x00000002",
         "BUG: scheduling while atomic: before/@/0x00000002"),
        ("BUG: sleeping function called from invalid context at include/linux/highmem-internal.h (kmap)",
         "BUG: sleeping function called from invalid context at include/linux/highmem-internal.h:44"),
        ("WARN: WARNING: CPU: 0 PID: 1 at kunmap_local_indexed (mm/highmem.c)",
         "WARNING: CPU: 0 PID: @before at mm/highmem.c:610 kunmap_local_indexed+0x8b/0xb0"),
        ("BUG: kernel BUG at mm/highmem.c:kunmap_high!", "kernel BUG at mm/highmem.c:332!"),
        ("BUG: kernel BUG at dir/s.kmap:7!", "kernel BUG at s.kmap:7!"),
        (f"OOPS: BUG: unable to handle page fault for address: {p.config.kmap_local_vaddr(0, 3):08x}",
         "BUG: unable to handle page fault for address: fffb8000"),
        ("WARN: WARNING: CPU: 0 PID: 0 at dir/s.kmap:9 h", "WARNING: CPU: 0 PID: 0 at s.kmap:9 km_body_1+0x1/0x2"),
        ("BUG: using smp_processor_id() in preemptible [00000000] code: before/1",
         "BUG: using smp_processor_id() in preemptible [00000000] code: before/@"),
        ("ASSERT: dir/s.kmap:4: assert(x == 1) failed", "ASSERT: s.kmap:4"),
        ("DEADLOCK: INFO: task before:1 blocked for more than 120 seconds.", "DEADLOCK: before"),
        ("OOPS: kernel stack overflow: f() called 65 calls deep (the model's bound is 64)",
         "OOPS: kernel stack overflow: f()"),
    ]
    for model, real in pairs:
        assert compare.canon_model(model, p, m, n) == compare.canon_real(real, r, n), (model, real)
    assert compare.canon_model("STALE_READ: a load returned a stale value", p, m, n) is None
    assert compare.canon_model("WARN: WARNING: lock held when returning to user space!", p, m, n) is None


def _seen(values: dict[str, str], *reports: str) -> compare.Seen:
    return compare.Seen(tuple(sorted((k, frozenset({v})) for k, v in values.items())), frozenset(reports))


MS = "BUG: sleeping function called from invalid context at include/linux/highmem-internal.h"
WARN = "WARN: WARNING: CPU: 0 PID: t at mm/highmem.c"


def test_the_rule_every_kernel_outcome_among_the_model_s() -> None:
    model = [_seen({"t.v": "pkmap(1)"}, MS), _seen({"t.v": "pkmap(2)"})]
    assert compare.allowed(_seen({"t.v": "pkmap(1)"}, MS), model, set()) == model[0]
    assert compare.allowed(_seen({"t.v": "pkmap(2)"}), model, set()) == model[1]
    assert compare.allowed(_seen({"t.v": "pkmap(3)"}), model, set()) is None        # a value
    assert compare.allowed(_seen({"t.v": "pkmap(2)"}, WARN), model, set()) is None  # a report
    # might_sleep() is rate-limited: missing only when the boot printed it before
    assert compare.allowed(_seen({"t.v": "pkmap(1)"}), model, set()) is None
    assert compare.allowed(_seen({"t.v": "pkmap(1)"}), model, {MS}) == model[0]
    # a never-ending outcome shows every value its component takes
    endless = [compare.Seen((("x", frozenset({"0", "1"})),), frozenset({"DEADLOCK: t"}))]
    assert compare.allowed(_seen({"x": "1"}, "DEADLOCK: t"), endless, set()) == endless[0]


def test_a_scenario_s_own_warn_on_is_never_suppressed() -> None:
    once = frozenset({"s.kmap:5"})
    assert compare.suppressible("WARN: WARNING: CPU: 0 PID: t at s.kmap:5", once)
    assert not compare.suppressible("WARN: WARNING: CPU: 0 PID: t at s.kmap:6", once)
    assert compare.suppressible(WARN, once)
    assert not compare.suppressible("BUG: scheduling while atomic: t/0x00000002", once)
    p = _program(HEAD + "task t on cpu0 {\n WARN_ON_ONCE(1);\n WARN_ON(1);\n}\n")
    assert compare.once_lines(p) == frozenset({"s.kmap:4"})


CONSOLE = f"""\
[    1.0] random noise
kmap: begin s iterations=3 cpus=1
kmap: {REAL_LAYOUT}
kmap: outcome 2
kmap: | v t.v=pkmap(1)
kmap: outcome 1
kmap: | v t.v=pkmap(1)
kmap: | r BUG: sleeping function called from invalid context at include/linux/highmem-internal.h:44
kmap: end iterations=3 time_ms=12 lost=0
"""


def test_the_console_is_read_back() -> None:
    p = _program(HEAD + "task t on cpu0 { void *v = kmap(P); }\n")
    run = compare.parse_console(CONSOLE, p)
    assert run.finished and run.iterations == 3 and run.time_ms == 12
    assert run.outcomes == [(_seen({"t.v": "pkmap(1)"}), 2), (_seen({"t.v": "pkmap(1)"}, MS), 1)]
    model = compare.model_outcomes(p, {"outcomes": [
        {"values": {"t.v": f"{p.config.pkmap_addr(1):#x}"},
         "reports": ["BUG: sleeping function called from invalid context at "
                     "include/linux/highmem-internal.h (kmap)"], "executions": 1}]})
    assert model == [(_seen({"t.v": "pkmap(1)"}, MS), 1)]


def test_a_hard_lockup_is_the_deadlock_of_the_context_stuck_there() -> None:
    """The model's hard-lockup headline names a CPU, not a task: the
    outcome's report details name the context, which is what the module
    prints (`DEADLOCK: NAME`). Found running
    bench/crosscheck/pkmap_flush_ipi_lockup.kmap: the kernel's `DEADLOCK:
    b` did not match the model's `NMI watchdog: ... on cpu 1`."""
    p = _program(HEAD.replace("}", "NR_CPUS = 2; }", 1)
                 + "task a on cpu0 { }\ntask b on cpu1 { local_irq_disable(); }\n")
    hard = "DEADLOCK: NMI watchdog: Watchdog detected hard LOCKUP on cpu 1"
    soft = "DEADLOCK: watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [a:1]"
    model = compare.model_outcomes(p, {"outcomes": [
        {"values": {}, "reports": [hard, soft], "executions": 2,
         "report_details": [{"context": "b", "kind": "DEADLOCK", "message": hard},
                            {"context": "a", "kind": "DEADLOCK", "message": soft}]}]})
    assert model == [(compare.Seen((), frozenset({"DEADLOCK: a", "DEADLOCK: b"})), 2)]


def test_a_read_modify_write_statement_is_one_atomic_step_as_in_the_model() -> None:
    """A statement is one step of the model (LANGUAGE.md), so `g = g + 1`
    on two CPUs never loses an update there; C's load, add and store
    can. A statement that stores to a global, or to a byte, it also
    loads (and calls nothing) is a cmpxchg loop, atomic as the model's
    step. Found by the cross-check: kmap_to_page_foreign.kmap's `done =
    done + 1` on two CPUs lost an update on v6.1 and its waiter hung."""
    c = _module(HEAD + "int g = 0;\ntask t on cpu0 {\n    g = g + 1;\n    g++;\n    int x = g + 1;\n"
                "    char *p = kmap_local_page(P);\n    p[1] = p[1] * 2 + g;\n    p[2] = p[1];\n"
                "    g = g + kmap_local_idx();\n    kunmap_local(p);\n}\n")
    assert ("km_step(r); { long km_o, km_n; do { km_o = km_g[0]; km_n = (long)(((s64)km_o + 1)); } "
            "while (cmpxchg((long *)&km_g[0], km_o, km_n) != km_o); }") in c
    assert ("km_step(r); { u8 *km_p = (u8 *)(unsigned long)((r->L[1] + 1)); u8 km_o, km_n; do { "
            "km_o = READ_ONCE(*km_p); km_n = (u8)((((s64)km_o * 2) + (s64)km_g[0])); } "
            "while (cmpxchg(km_p, km_o, km_n) != km_o); }") in c
    assert "km_st((r->L[1] + 2), km_ld((r->L[1] + 1)));" in c          # no read of p[2]: a plain store
    assert "r->L[0] = (s32)(((s64)km_g[0] + 1));" in c                 # a local: nobody else writes it
    assert "km_g[0] = (long)(((s64)km_g[0] + km_kmap_local_idx()));" in c   # a call: not repeated
