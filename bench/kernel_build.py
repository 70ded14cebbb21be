"""Build, once, the i386 test kernel that bench/crosscheck.py boots.

The kernel is Debian's linux-source-6.1 (/usr/src/linux-source-6.1.tar.xz),
configured from tinyconfig with HIGHMEM4G, SMP, PREEMPT and the debug
options whose reports the model prints (docs/fidelity.md lists them).
Each variant is built in its own tree under the cache directory, keyed by
a hash of the source tarball's size and date, the config fragment and the
variant's LAST_PKMAP, so that a changed fragment builds anew and an
unchanged one is reused:

    CACHE/linux-<key>/              the source tree, built in place
    CACHE/linux-<key>/.kmap-built   written last: the build is complete

A variant with a small LAST_PKMAP patches one line of
arch/x86/include/asm/pgtable_32_areas.h (the non-PAE `#define LAST_PKMAP
1024`), so that scenarios can fill, wrap and exhaust the pkmap pool with a
few pages. Nothing is downloaded: the tools come from Debian's packages
(bench/crosscheck.py's docstring names them).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

SOURCE_TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")

# tinyconfig, then these: (option, y/n or a value). The first block is the
# recipe of docs/fidelity.md (a highmem SMP PREEMPT kernel with the debug
# checks behind the model's reports), the second what the harness needs
# (a serial console, an initramfs, modules, ACPI power-off, fine timers).
CONFIG_FRAGMENT: tuple[tuple[str, str], ...] = (
    ("NOHIGHMEM", "n"), ("HIGHMEM4G", "y"), ("HIGHMEM64G", "n"), ("HIGHMEM", "y"),
    ("SMP", "y"), ("PREEMPT_NONE", "n"), ("PREEMPT_VOLUNTARY", "n"), ("PREEMPT", "y"),
    ("DEBUG_KERNEL", "y"), ("DEBUG_PREEMPT", "y"), ("DEBUG_ATOMIC_SLEEP", "y"),
    ("DEBUG_KMAP_LOCAL", "y"), ("DEBUG_SPINLOCK", "y"), ("DEBUG_VM", "y"),
    ("BUG", "y"), ("DEBUG_BUGVERBOSE", "y"), ("KALLSYMS", "y"),
    ("HZ_250", "n"), ("HZ_100", "n"), ("HZ_1000", "y"), ("HIGH_RES_TIMERS", "y"),
    ("PRINTK", "y"), ("PRINTK_TIME", "y"), ("TTY", "y"), ("SERIAL_8250", "y"),
    ("SERIAL_8250_CONSOLE", "y"), ("BLK_DEV_INITRD", "y"), ("RD_GZIP", "y"),
    ("BINFMT_ELF", "y"), ("DEVTMPFS", "y"), ("PROC_FS", "y"), ("SYSFS", "y"),
    ("MODULES", "y"), ("MODULE_UNLOAD", "y"), ("EXPERT", "y"), ("MULTIUSER", "y"),
    ("FUTEX", "y"), ("POSIX_TIMERS", "y"), ("SHMEM", "y"), ("ACPI", "y"), ("PCI", "y"),
    ("FRAME_POINTER", "y"),
)

# every option that must come out of olddefconfig as asked: the build
# stops otherwise (a dependency Kconfig refused would silently change the
# kernel the model is compared with)
MUST_HOLD = ("HIGHMEM4G", "HIGHMEM", "SMP", "PREEMPT", "PREEMPTION", "DEBUG_PREEMPT",
             "DEBUG_ATOMIC_SLEEP", "DEBUG_KMAP_LOCAL", "KMAP_LOCAL", "DEBUG_SPINLOCK",
             "DEBUG_VM", "HIGH_RES_TIMERS", "HZ_1000", "MODULES", "ACPI")

STOCK_LAST_PKMAP = 1024
AREAS_H = "arch/x86/include/asm/pgtable_32_areas.h"


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kmap-crosscheck"


def variant_key(last_pkmap: int) -> str:
    """The cache key of a kernel variant: the source, the fragment, the pool."""
    st = SOURCE_TARBALL.stat()
    h = hashlib.sha256()
    h.update(f"{st.st_size}:{int(st.st_mtime)}\n".encode())
    for opt, val in CONFIG_FRAGMENT:
        h.update(f"{opt}={val}\n".encode())
    h.update(f"LAST_PKMAP={last_pkmap}\n".encode())
    return h.hexdigest()[:12]


def tree_for(cache: Path, last_pkmap: int) -> Path:
    return cache / f"linux-{variant_key(last_pkmap)}-pkmap{last_pkmap}"


def _run(cmd: list[str], cwd: Path, log: Path) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        r = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise SystemExit(f"kernel build failed: {' '.join(cmd)} (see {log})")


def _patch_last_pkmap(src: Path, last_pkmap: int) -> None:
    """Shrink the non-PAE pkmap pool: the one #define the kernel has for it."""
    path = src / AREAS_H
    text = path.read_text()
    old = f"#define LAST_PKMAP {STOCK_LAST_PKMAP}"
    if text.count(old) != 1:
        raise SystemExit(f"{path}: expected one `{old}` line to patch")
    path.write_text(text.replace(old, f"#define LAST_PKMAP {last_pkmap}"))


def _configure(src: Path, log: Path, jobs: int) -> None:
    make = ["nice", "make", "ARCH=i386"]
    _run(make + ["tinyconfig"], src, log)
    cmd = ["scripts/config"]
    for opt, val in CONFIG_FRAGMENT:
        cmd += ["-e", opt] if val == "y" else ["-d", opt] if val == "n" else ["--set-val", opt, val]
    _run(cmd, src, log)
    _run(make + ["olddefconfig"], src, log)
    config = (src / ".config").read_text().splitlines()
    missing = [o for o in MUST_HOLD if f"CONFIG_{o}=y" not in config]
    if missing:
        raise SystemExit(f"olddefconfig dropped {', '.join(missing)} (see {src}/.config)")


def ensure_kernel(cache: Path, last_pkmap: int = STOCK_LAST_PKMAP, jobs: int = 2,
                  say=print) -> Path:
    """The built tree of a variant: from the cache, or built now (minutes)."""
    tree = tree_for(cache, last_pkmap)
    if (tree / ".kmap-built").exists():
        return tree
    if not SOURCE_TARBALL.exists():
        raise SystemExit(f"{SOURCE_TARBALL} is missing: apt-get install linux-source-6.1")
    for tool in ("make", "gcc", "bc", "flex", "bison"):
        if shutil.which(tool) is None:
            raise SystemExit(f"`{tool}` is missing (bench/crosscheck.py's docstring lists the packages)")
    cache.mkdir(parents=True, exist_ok=True)
    if tree.exists():
        shutil.rmtree(tree)   # an interrupted build: start again from the tarball
    work = tree.with_name(tree.name + ".tmp")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    log = cache / f"{tree.name}.build.log"
    log.write_text("")
    t0 = time.monotonic()
    say(f"building the i386 test kernel (LAST_PKMAP {last_pkmap}) in {tree}: "
        f"a one-off of several minutes, log in {log}")
    with tarfile.open(SOURCE_TARBALL) as tar:
        tar.extractall(work, filter="fully_trusted")
    (src,) = [p for p in work.iterdir() if p.is_dir()]
    if last_pkmap != STOCK_LAST_PKMAP:
        _patch_last_pkmap(src, last_pkmap)
    _configure(src, log, jobs)
    # `modules` too, so that Module.symvers exists for out-of-tree builds
    _run(["nice", "make", "ARCH=i386", f"-j{jobs}", "bzImage", "modules"], src, log)
    src.rename(tree)
    work.rmdir()
    (tree / ".kmap-built").write_text(f"{time.monotonic() - t0:.0f} s\n")
    say(f"kernel built in {time.monotonic() - t0:.0f} s")
    return tree


if __name__ == "__main__":
    pkmap = int(sys.argv[1]) if len(sys.argv) > 1 else STOCK_LAST_PKMAP
    print(ensure_kernel(default_cache(), pkmap))
