"""The modelled kernel: the immutable state (state.py), one step of one
context (machine.py: ``enabled`` and ``step``), and one module per kernel
subsystem, named as in the kernel: pkmap.py (mm/highmem.c's pkmap pool),
kmap_local.py (kmap_local_page, kmap_atomic), preempt.py and sched.py
(preempt_count, context switches, irqs, spinlocks), cache.py, dma.py,
pks.py, memory.py (pages and addresses), watchdog.py (the lockup and
hung-task detectors), builtins.py (one handler per built-in).

Imports only the standard library and its own modules: never the search
(runtime.search) or the front end (dsl); tests/test_layers.py fails if it
does.
"""
