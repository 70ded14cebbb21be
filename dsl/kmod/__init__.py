"""kmap kmod: a scenario as a Linux kernel module, the real kernel as the judge.

``generate.py`` turns a checked and lowered scenario into the C source of
an out-of-tree module and its Kbuild file (klitmus7's idea for litmus
tests): tasks become kthreads bound to their CPUs, irqs IPIs raised on
theirs, each lowered instruction a C statement calling the kernel's own
function for each built-in (``cexpr.py``), with the fixed C runtime of
``kmap_runtime.h`` and ``kmap_controller.h`` around it. ``refuse.py``
says why a scenario cannot run on a real kernel (a tiny PAGE_SIZE, PKS,
a VIVT cache, a device) or uses what the generator does not translate.
``compare.py`` names the model's outcomes the way the module names the
kernel's, for bench/crosscheck.py. docs/kmod.md describes it all.

Imports: dsl/syntax, dsl/check, dsl/lower, runtime/kernel, and
runtime/search for the atoms the expectations name (the outcome keys of
``kmap check``).
"""
