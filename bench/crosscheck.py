"""The real kernel as the judge: run scenarios on an i386 highmem kernel
under QEMU and compare what it does with the outcomes `kmap check` allows.

    .venv/bin/python bench/crosscheck.py [FILE.kmap ...] [--iterations N] [--boots N]
                                         [--cache DIR] [--keep DIR] [--jobs N]

(the Python where kmap-scenarios is installed: `pip install -e .`).

Without files it runs every scenario under bench/crosscheck/. For each:

1. `kmap check FILE --format json`: the model's outcomes;
2. `kmap kmod FILE`: the scenario as a module (dsl/kmod/), built against
   the cached kernel (bench/kernel_build.py builds it the first time, a
   few minutes; a scenario with a small LAST_PKMAP gets a kernel with
   that one #define patched, built once too);
3. a boot of qemu-system-i386 (TCG) with an initramfs holding the module
   and a tiny init (bench/crosscheck_init.c) that loads it and powers
   off; one scenario per boot, NR_CPUS + 1 CPUs (the module's controller
   runs on the last one);
4. the console's `kmap:` lines parsed (dsl/kmod/compare.py): each
   outcome the kernel showed, with its count, beside the model's.

A real outcome the model does not allow is a model bug: it is printed as
`MODEL BUG` and the script exits with status 1 (2 when a scenario could
not be built or run). Reports compare by the kernel's wording; see
docs/fidelity.md for the rule, the kernel and the results.

Debian packages it needs (it installs nothing itself):

    apt-get install linux-source-6.1 qemu-system-x86 gcc make bc flex bison \\
        libelf-dev libssl-dev

gcc builds both the i386 kernel (ARCH=i386, no cross compiler) and the
32-bit init (-m32 -nostdlib: no 32-bit C library needed). Nothing is
downloaded. The kernel trees live in --cache (default
~/.cache/kmap-crosscheck), about 1 GB each.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import kernel_build  # noqa: E402

try:
    from kmap_scenarios.dsl.kmod import compare  # noqa: E402
except ImportError:
    raise SystemExit("bench/crosscheck.py: kmap-scenarios is not installed for this Python; "
                     "python3 -m venv .venv && .venv/bin/pip install -e . first") from None
from kmap_scenarios.dsl.kmod.generate import MODULE, Options, generate, load_scenario, write  # noqa: E402
from kmap_scenarios.dsl.kmod.refuse import Refused  # noqa: E402
from kmap_scenarios.dsl.syntax.source import InputError  # noqa: E402

SCENARIOS = ROOT / "bench" / "crosscheck"
INIT_C = ROOT / "bench" / "crosscheck_init.c"
QEMU = "qemu-system-i386"
MEMORY_MB = 1536      # HighTotal ~656 MiB, LowTotal ~860 MiB


# ------------------------------------------------------------------ pieces


def build_init(cache: Path) -> Path:
    """The initramfs's /init, compiled once per source text."""
    src = INIT_C.read_bytes()
    out = cache / f"init-{kernel_build.hashlib.sha256(src).hexdigest()[:12]}"
    if not out.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        subprocess.run(["gcc", "-m32", "-static", "-nostdlib", "-ffreestanding", "-fno-pic",
                        "-no-pie", "-fno-stack-protector", "-O2", "-o", str(tmp), str(INIT_C)],
                       check=True)
        tmp.rename(out)
    return out


def cpio_newc(entries: list[tuple[str, int, bytes, int]]) -> bytes:
    """A newc cpio archive of (name, mode, data, rdev) entries."""
    out = bytearray()
    for ino, (name, mode, data, rdev) in enumerate(entries + [("TRAILER!!!", 0, b"", 0)], 1):
        nm = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev >> 8, rdev & 0xFF, len(nm), 0]
        out += b"070701" + b"".join(f"{f:08x}".encode() for f in fields) + nm
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def initramfs(init: Path, ko: Path, params: str) -> bytes:
    entries = [
        ("dev", 0o040755, b"", 0),
        ("dev/console", 0o020600, b"", (5 << 8) | 1),
        ("init", 0o100755, init.read_bytes(), 0),
        (f"{MODULE}.ko", 0o100644, ko.read_bytes(), 0),
        ("params", 0o100644, params.encode() + b"\n", 0),
    ]
    return gzip.compress(cpio_newc(entries), compresslevel=1)


def model_check(path: Path, timeout: float) -> dict[str, object]:
    r = subprocess.run([sys.executable, "-m", "kmap_scenarios", "check", str(path), "--format",
                        "json", "--timeout", str(timeout)], capture_output=True, text=True)
    if r.returncode not in (0, 1, 3):
        raise RuntimeError(f"kmap check failed ({r.returncode}): {r.stderr.strip()}")
    return compare.load_check_json(r.stdout)


def build_module(files: dict[str, str], tree: Path, work: Path) -> Path:
    moddir = work / "module"
    if moddir.exists():
        shutil.rmtree(moddir)
    write(files, moddir)
    r = subprocess.run(["nice", "make", "-C", str(tree), "ARCH=i386", f"M={moddir}", "modules"],
                       capture_output=True, text=True)
    (work / "build.log").write_text(r.stdout + r.stderr)
    if r.returncode != 0:
        raise RuntimeError(f"the module did not build (see {work / 'build.log'}):\n"
                           + "\n".join(l for l in (r.stdout + r.stderr).splitlines()
                                       if "error" in l)[:2000])
    return moddir / f"{MODULE}.ko"


def boot(tree: Path, initrd: Path, cpus: int, timeout: float, verbose: bool) -> tuple[str, float]:
    """Boot the kernel with the initramfs; the console text and the time.

    QEMU is stopped a few seconds after the module's `kmap: end` line if
    it has not powered off by then (a task killed holding kmap_lock can
    hang the power-off), and after `timeout` in any case."""
    # clocksource=acpi_pm: from 0.4 s on, and never switched again. Left to
    # itself the kernel moves from tsc-early to the refined tsc a few
    # seconds after boot (tsc_refine_calibration_work(), arch/x86/kernel/
    # tsc.c); on a host loaded far beyond its cores that switch made
    # jiffies leap past the module's iteration deadline (a false DEADLOCK
    # 2 to 4 s into the run, in 5 of 33 scenarios of one run).
    append = (f"console=ttyS0 panic=-1 loglevel={8 if verbose else 1} log_buf_len=4M "
              "clocksource=acpi_pm")
    cmd = [QEMU, "-m", str(MEMORY_MB), "-smp", str(cpus), "-nographic", "-no-reboot",
           "-kernel", str(tree / "arch/x86/boot/bzImage"), "-initrd", str(initrd),
           "-append", append]
    t0 = time.monotonic()
    lines: list[str] = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            lines.append(line)
            if "kmap: end " in line or "Kernel panic" in line:
                done.set()
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not done.wait(timeout):
        lines.append("\nkmap: error qemu timed out\n")
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    reader.join(timeout=5)
    return "".join(lines), time.monotonic() - t0


def booted(console: str) -> bool:
    """The module ran: a boot that died before (TCG on a loaded host can
    fail the IO-APIC timer check) is tried again."""
    return "kmap: begin " in console


# ----------------------------------------------------------------- one file


class Result:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.stem
        self.status = "ok"          # ok | MODEL BUG | refused | failed
        self.detail = ""
        self.iterations = 0
        self.real_outcomes = 0
        self.model_outcomes = 0
        self.boot_s = 0.0
        self.run_ms = 0
        self.bugs: list[str] = []


def crosscheck(path: Path, args: argparse.Namespace, say=print) -> Result:
    res = Result(path)
    try:
        checked, program = load_scenario(path.read_bytes(), str(path))
        files = generate(checked, program, Options(iterations=args.iterations))
    except (Refused, InputError) as e:
        res.status, res.detail = "refused", (e.render() if hasattr(e, "render") else str(e))
        say(res.detail)
        return res
    res.name = program.name
    cfg = program.config
    model = compare.model_outcomes(program, model_check(path, args.model_timeout))
    res.model_outcomes = len(model)
    tree = kernel_build.ensure_kernel(args.cache, cfg.LAST_PKMAP, args.jobs, say)
    work = Path(tempfile.mkdtemp(prefix=f"kmap-{path.stem}-", dir=args.keep))
    try:
        ko = build_module(files, tree, work)
    except RuntimeError as e:
        res.status, res.detail = "failed", str(e)
        say(f"{path}: {e}")
        return res
    init = build_init(args.cache)
    once = compare.once_lines(program)
    real: dict[compare.Seen, int] = {}
    runs = []
    for b in range(args.boots):
        params = (f"iterations={args.iterations} seed={args.seed + b} delay_ns={args.delay_ns} "
                  f"timeout_ms={args.timeout_ms}")
        initrd = work / "initramfs.cpio.gz"
        initrd.write_bytes(initramfs(init, ko, params))
        for attempt in range(3):
            console, secs = boot(tree, initrd, cfg.NR_CPUS + 1, args.boot_timeout, args.console)
            (work / f"console-{b}.log").write_text(console)
            res.boot_s += secs
            if booted(console):
                break
            say(f"{path}: boot {b} failed before the module ran; booting again")
        run = compare.parse_console(console, program)
        runs.append(run)
        res.iterations += run.iterations
        res.run_ms += run.time_ms
        if not booted(console) or (not run.finished and not run.panic):
            res.status = "failed"
            res.detail = f"boot {b}: no results (console in {work}/console-{b}.log)"
            say(f"{path}: {res.detail}")
            return res
        if run.panic:
            run.outcomes.append((compare.Seen((), frozenset({run.panic})), 1))
        seen_in_boot = {r for seen, _ in run.outcomes for r in seen.reports}
        for seen, n in run.outcomes:
            real[seen] = real.get(seen, 0) + n
            if compare.allowed(seen, [m for m, _ in model], seen_in_boot, once) is None:
                res.bugs.append(seen.text())
    res.real_outcomes = len(real)
    if res.bugs:
        res.status = "MODEL BUG"
    report(res, program, model, real, runs, work, say)
    if args.keep is None and not res.bugs:
        shutil.rmtree(work, ignore_errors=True)
    return res


def report(res: Result, program, model, real, runs, work: Path, say) -> None:
    cfg = program.config
    say(f"\n== {program.name} ({res.path.relative_to(ROOT) if res.path.is_relative_to(ROOT) else res.path})")
    say(f"   LAST_PKMAP {cfg.LAST_PKMAP}, {cfg.NR_CPUS} CPU(s) + 1; {res.iterations} iterations "
        f"in {res.run_ms / 1000:.1f} s over {len(runs)} boot(s) of {res.boot_s:.1f} s"
        + (f"; {sum(r.lost for r in runs)} outcomes lost (table full)" if any(r.lost for r in runs) else ""))
    say(f"   {'kernel':>7} {'model':>7}  outcome")
    shown = set()
    for seen, n in sorted(real.items(), key=lambda kv: -kv[1]):
        m = compare.allowed(seen, [s for s, _ in model], {r for s in real for r in s.reports},
                            compare.once_lines(program))
        mcount = next((c for s, c in model if s == m), None) if m is not None else None
        if m is not None:
            shown.add(m)
        mark = "" if m is not None else "   <-- MODEL BUG: the model does not allow this"
        via = "" if m is None or m == seen else f"   (the model's {m.text()!r}, a repeated report suppressed)"
        say(f"   {n:>7} {('-' if mcount is None else mcount) if m is not None else 'none':>7}  "
            f"{seen.text()}{mark}{via}")
    for seen, c in model:
        if seen not in shown:
            say(f"   {'-':>7} {c if c is not None else '?':>7}  {seen.text()}")
    if res.bugs:
        say(f"   MODEL BUG: {len(res.bugs)} kernel outcome(s) the model does not allow; "
            f"console logs kept in {work}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--boots", type=int, default=1, help="boots per scenario (seeds differ)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--delay-ns", type=int, default=2000)
    ap.add_argument("--timeout-ms", type=int, default=10000,
                    help="how long an iteration may take before a context counts as stuck "
                         "(DEADLOCK); a host loaded far beyond its cores starves QEMU's "
                         "vCPU threads for seconds, which 3 s did not survive")
    ap.add_argument("--cache", type=Path, default=kernel_build.default_cache())
    ap.add_argument("--keep", type=Path, default=None, help="keep each scenario's module and logs here")
    ap.add_argument("--jobs", type=int, default=2, help="make -j for the kernel build")
    ap.add_argument("--boot-timeout", type=float, default=300.0)
    ap.add_argument("--model-timeout", type=float, default=600.0)
    ap.add_argument("--console", action="store_true", help="boot with loglevel=8 (full splats on the console)")
    ap.add_argument("--build-only", action="store_true", help="build the kernel(s) and stop")
    args = ap.parse_args(argv)
    if shutil.which(QEMU) is None and not args.build_only:
        print(f"{QEMU} is missing: apt-get install qemu-system-x86", file=sys.stderr)
        return 2
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    files = args.files or sorted(SCENARIOS.glob("*.kmap"))
    if args.build_only:
        pools = sorted({load_scenario(f.read_bytes(), str(f))[1].config.LAST_PKMAP for f in files})
        for n in pools:
            kernel_build.ensure_kernel(args.cache, n, args.jobs)
        return 0
    t0 = time.monotonic()
    results = [crosscheck(f, args) for f in files]
    print(f"\n{'scenario':<40} {'iterations':>10} {'kernel':>7} {'model':>6}  status")
    for r in results:
        print(f"{r.name:<40} {r.iterations:>10} {r.real_outcomes:>7} {r.model_outcomes:>6}  {r.status}")
    print(f"{len(results)} scenarios in {time.monotonic() - t0:.0f} s: "
          f"{sum(r.status == 'ok' for r in results)} agree, "
          f"{sum(r.status == 'MODEL BUG' for r in results)} with a model bug, "
          f"{sum(r.status in ('failed', 'refused') for r in results)} not run")
    if any(r.status == "MODEL BUG" for r in results):
        return 1
    if any(r.status in ("failed", "refused") for r in results):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
