"""Executions that never end: who is stuck, and which kernel detector speaks.

An execution that never ends is one that enters a bottom strongly
connected component of the state graph (a set of states it can never
leave) that is more than a dead end: a task spinning on a flag nobody
will set, two tasks each waiting for the other. Under the model's
fairness assumption (docs/model.md: every CPU keeps running and every
transition enabled again and again is eventually taken) such an
execution visits every state of its component again and again, so the
component as a whole is its end. A terminal state with unfinished
contexts (nothing can step) is the one-state case.

``stuck_reports`` names every context that never finishes there, with
the report a kernel built for finding such bugs would print for it
(kernel v6.1; DETECT_HUNG_TASK, SOFTLOCKUP_DETECTOR and, on x86,
HARDLOCKUP_DETECTOR assumed on, as on Debian's kernels):

- a task asleep on pkmap_map_wait in every state: khungtaskd's
  check_hung_task() (kernel/hung_task.c) reports a TASK_UNINTERRUPTIBLE
  task after hung_task_timeout_secs, "INFO: task comm:pid blocked for
  more than 120 seconds.";
- a context spinning on a lock that stays held: spin_lock() disabled
  preemption, so the CPU never schedules the watchdog's stopper work and
  watchdog_timer_fn() (kernel/watchdog.c) prints "BUG: soft lockup";
- a context that keeps stepping on a CPU that, in every state of the
  component, runs it and cannot switch (preemption or interrupts off,
  CONFIG_PREEMPTION=n without a preemption point, or an irq handler that
  never returns): the same soft lockup, unless interrupts stay off in
  every one of those states: then the watchdog's hrtimer cannot fire
  either, and only the perf NMI of the hard-lockup detector
  (kernel/watchdog_hld.c, x86 only in v6.1) sees it, "NMI watchdog:
  Watchdog detected hard LOCKUP on cpu N"; ARM has no such detector in
  v6.1, so no watchdog line is printed there (other CPUs may print RCU
  stall warnings when a grace period waits on it: the model has no RCU);
- under PREEMPT_RT a spinlock is an rtmutex: the waiter sleeps in
  TASK_RTLOCK_WAIT (kernel/locking/rtmutex.c, rtlock_slowlock_locked),
  its CPU schedules, and the hung-task detector only watches
  TASK_UNINTERRUPTIBLE: no detector fires;
- khungtaskd itself needs a CPU that schedules: when every CPU is locked
  up, a sleeper is reported without its hung-task line;
- an irq that never fires: its CPU keeps interrupts off in every state;
  a softirq raised and never run: pending in every state (its CPU never
  reaches an irq exit or local_bh_enable with in_interrupt() == 0, nor
  schedules ksoftirqd);
- a task asleep in mutex_lock() in every state: TASK_UNINTERRUPTIBLE, so
  khungtaskd reports it as it reports kmap_high()'s sleepers;
- any other unfinished task (one that loops with preemption possible, or
  one that is runnable but never runs again): no detector fires; the
  report says it never returns to user space.
"""

from __future__ import annotations

from collections.abc import Sequence

from kmap_scenarios.runtime.kernel import builtins, sched, softirq
from kmap_scenarios.runtime.kernel.program import Program
from kmap_scenarios.runtime.kernel.reports import R
from kmap_scenarios.runtime.kernel.state import Ctx, Report, State, Status

_DONE = (int(Status.DONE), int(Status.DEAD))

# Why a CPU never schedules: the argument of SOFT_LOCKUP / HARD_LOCKUP.
WHY_PREEMPT_OFF = 0      # preempt_count is not 0 (preempt_disable, a spinlock, kmap_atomic)
WHY_NO_POINT = 1         # CONFIG_PREEMPTION=n and the loop has no preemption point
WHY_IRQ_HANDLER = 2      # an irq handler that never returns
WHY_IRQS_OFF = 3         # interrupts are disabled
WHY_OFF_AT_EVERY_POINT = 4  # preemption or interrupts are off wherever it could be preempted


def has_hardlockup_detector(program: Program) -> bool:
    """HAVE_HARDLOCKUP_DETECTOR_PERF: selected by arch/x86/Kconfig, not by
    arch/arm/Kconfig in v6.1 (the buddy detector came in v6.5)."""
    return program.config.ARCH.startswith("x86")


# What a LIVELOCK report says (its first argument): no detector fires.
LOOP = 0                 # it loops where it could be preempted
LOOP_IRQS_OFF = 1        # it loops with interrupts off, and no NMI detector exists
SPIN_IRQS_OFF = 2        # it spins on a lock with interrupts off, and no NMI detector exists
RTLOCK_WAIT = 3          # PREEMPT_RT: it sleeps on a spinlock's rtmutex
SLEEP_UNSEEN = 4         # asleep on pkmap_map_wait, but khungtaskd never runs
MUTEX_UNSEEN = 5         # asleep in mutex_lock(), but khungtaskd never runs


def stuck_reports(program: Program, states: Sequence[State],
                  steps: Sequence[Sequence[tuple[int, int]]]) -> tuple[Report, ...]:
    """The reports of the contexts that never finish in a bottom component.

    ``states`` are the component's states and ``steps[k]`` the actions
    enabled in ``states[k]`` (none for a terminal state). Each stuck
    context gets one report, in context order; its pc and CPU are the
    lowest it has in the component, and every reason it gives holds in
    every state, so that the report does not depend on the order in which
    the search met the states."""
    if not states or states[0].panicked:
        return ()
    stepping = {ci for acts in steps for ci, _ in acts}
    ncpu = program.config.NR_CPUS
    # khungtaskd is a plain kthread: it needs a CPU that schedules
    hung_seen = any(not _locked_up(program, states, c) for c in range(ncpu))
    out: list[Report] = []
    for i, info in enumerate(program.contexts):
        mine = [s.ctxs[i] for s in states]
        if mine[0].status in _DONE:
            continue
        if info.is_softirq and any(softirq.finished(program, s, i) for s in states):
            continue
        pc = min(c.pc for c in mine)
        rep = _stuck(program, states, i, mine, pc, i in stepping, hung_seen)
        # the calls it is in there (the lowest, as pc: not the order of the states)
        chain = min(tuple(f[0] for f in c.frames) for c in mine if c.pc == pc)
        out.append(rep._replace(chain=chain) if chain else rep)
    return tuple(out)


def _stuck(program: Program, states: Sequence[State], i: int, mine: list[Ctx], pc: int,
           steps: bool, hung_seen: bool) -> Report:
    info = program.contexts[i]
    first = mine[0]
    # the lowest CPU it is on in the component (a task that may migrate
    # moves between CPUs there), as pc: not the order the states came in
    ran = [c.cpu for c in mine if c.cpu >= 0]
    cpu = min(ran) if ran else (info.cpu or 0)
    cur = first.owner if info.is_irq and first.owner >= 0 else i   # `current`
    nmi = has_hardlockup_detector(program)
    if info.is_irq and all(c.status == Status.PENDING for c in mine):
        return Report(int(R.DEADLOCK_IRQ), i, cpu, pc, (cpu,), i)
    if info.is_softirq and all(c.status == Status.QUIET for c in mine):
        return Report(int(R.DEADLOCK_SOFTIRQ), i, cpu, pc, (cpu,), i)
    if all(c.status == Status.WAIT_MUTEX for c in mine):
        lock = first.pending[1] if first.pending is not None else -1
        if hung_seen:
            return Report(int(R.DEADLOCK_MUTEX), i, cpu, pc, (lock,), cur)
        return Report(int(R.LIVELOCK), i, cpu, pc, (MUTEX_UNSEEN, lock), cur)
    if all(c.status == Status.WAIT_PKMAP for c in mine):
        if hung_seen:
            return Report(int(R.DEADLOCK_WAIT), i, cpu, pc, (), cur)
        return Report(int(R.LIVELOCK), i, cpu, pc, (SLEEP_UNSEEN, -1), cur)
    if not steps:
        locks = {builtins.spinning_on(c.pending) for c in mine}
        if len(locks) == 1 and min(locks) >= 0:
            lock = min(locks)
            if program.config.CONFIG_PREEMPT_RT:
                return Report(int(R.LIVELOCK), i, cpu, pc, (RTLOCK_WAIT, lock), cur)
            if _irqs_off_throughout(states, cpu):
                if nmi:
                    return Report(int(R.HARD_LOCKUP), i, cpu, pc, (WHY_IRQS_OFF, lock), cur)
                return Report(int(R.LIVELOCK), i, cpu, pc, (SPIN_IRQS_OFF, lock), cur)
            return Report(int(R.DEADLOCK_SPIN), i, cpu, pc, (lock,), cur)
        return Report(int(R.STARVED), i, cpu, pc, (cpu, int(bool(ran))), cur)
    why = _never_schedules(program, states, i, cpu)
    if why is None:
        return Report(int(R.LIVELOCK), i, cpu, pc, (LOOP, -1), cur)
    if _irqs_off_throughout(states, cpu):
        if nmi:
            return Report(int(R.HARD_LOCKUP), i, cpu, pc, (why, -1), cur)
        return Report(int(R.LIVELOCK), i, cpu, pc, (LOOP_IRQS_OFF, -1), cur)
    return Report(int(R.SOFT_LOCKUP), i, cpu, pc, (why,), cur)


def _irqs_off_throughout(states: Sequence[State], cpu: int) -> bool:
    return all(s.cpus[cpu].irqs_off for s in states)


def _locked_up(program: Program, states: Sequence[State], cpu: int) -> bool:
    """The CPU runs something it can never switch away from, in every
    state of the component (an idle CPU schedules)."""
    preemption = program.config.CONFIG_PREEMPTION
    for s in states:
        c = s.cpus[cpu]
        if not c.irqs and c.curr < 0:
            return False
        if sched.can_switch(preemption, c.curr, c.irqs, c.irqs_off, s.ctxs):
            return False
    return True


def _never_schedules(program: Program, states: Sequence[State], i: int, cpu: int) -> int | None:
    """Why ``cpu`` never schedules while context i keeps stepping on it
    (so the watchdog's stopper work never runs there), or None when it
    does somewhere in the component: i is not always on the CPU, or the
    CPU could switch in some state. The reason given holds in every state."""
    info = program.contexts[i]
    for s in states:
        c = s.cpus[cpu]
        if info.is_irq:
            if i not in c.irqs:
                return None
        elif c.curr != i:
            return None
    if not _locked_up(program, states, cpu):
        return None
    if info.is_irq:
        return WHY_IRQ_HANDLER
    if all(s.ctxs[i].preempt_count for s in states):
        return WHY_PREEMPT_OFF
    if _irqs_off_throughout(states, cpu):
        return WHY_IRQS_OFF
    if not program.config.CONFIG_PREEMPTION:
        return WHY_NO_POINT
    return WHY_OFF_AT_EVERY_POINT
