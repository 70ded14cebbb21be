"""The search over the kernel model's executions: `kmap check`'s explorer
(explore.py, in two phases, with sleep sets; parallel.py for --jobs),
flat states (flat.py) and memoized steps (memo.py), the graph algorithms
(graph.py), outcomes and expectations (outcome.py, expect.py), schedules
and replays for `kmap run` and witnesses (schedule.py, closure.py), the
limits (limits.py), random runs' shrinking (shrink.py) and the vacuity
warnings (vacuity.py). Imports runtime.kernel, never dsl.
"""
