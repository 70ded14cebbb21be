"""Small random scenarios for the oracle test (hypothesis strategies).

Each scenario is .kmap text built from fragments a kernel handshake is
made of: waits on shared flags (``while (f == 0) cond_resched();``, an
empty body, ``preempt_point()``), flag and counter stores, pkmap and
kmap_local/kmap_atomic mappings (a kunmap() without its kmap() BUGs),
preemption points, sections (preemption off, interrupts off, migration
off, a spinlock, spin_lock_irqsave, spin_lock_irq, local_irq_save,
bottom halves off, spin_lock_bh, an RCU reader, a mutex) around other
fragments, msleep, kmalloc/kfree with GFP_KERNEL or GFP_ATOMIC,
WARN_ON/BUG_ON on flags, irqs, and a softirq on cpu0 (pending from the
start, or raised by the irqs and tasks bound to cpu0); on 1 to 3 CPUs,
tasks bound ``on cpuN`` or not, CONFIG_PREEMPTION y and n, x86 and arm,
tiny pkmap pools. Expectations are drawn too, including one that cannot
always be evaluated (a division by g).

Issue 13: the scenario's functions (FUNCTIONS, called from tasks and irqs:
a loop left by `break`, a recursion, a void function, one that sleeps in
kmap(), one whose error path is a `goto`), a sleeping built-in in a
condition, switch with fallthrough, do-while and `?:`.
"""

from __future__ import annotations

from hypothesis import strategies as st

FLAGS = ("f", "h")
PAGES = ("P", "Q", "R")

WAITS = ("while ({f} == 0) cond_resched();",
         "while ({f} == 0) {{ }}",
         "while ({f} == 0) preempt_point();",
         "while ({f} == 0) schedule();",
         "while ({f} == 0) {{ g = 2 - g; }}",             # a value that changes forever
         "while ({f} == 0) {{ g = 2 - g; cond_resched(); }}")


# The functions every generated scenario defines (only those called are linked).
FUNCTIONS = """\
static int wait_for(int limit)
{
    int n = 0;
    while (1) {
        if (READ_ONCE(f) != 0 || n >= limit)
            break;
        n++;
        cpu_relax();
    }
    return n;
}
static void set_flag(void) { WRITE_ONCE(f, 1); }
static int depth(int n) { if (n <= 0) return g; return depth(n - 1) + 1; }
static int touch(struct page *pg)
{
    int ret = 0;
    void *p = kmap(pg);
    if (g == 2) {
        ret = -EINVAL;
        goto out;
    }
    p[0] = 1;
out:
    kunmap(pg);
    return ret;
}
"""


class Names:
    """Fresh local names within one task or irq; ``raise_ok``: the context
    may raise the softirq (one exists and it runs on its CPU, cpu0)."""

    def __init__(self, raise_ok: bool = False) -> None:
        self.n = 0
        self.raise_ok = raise_ok

    def __call__(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"


@st.composite
def simple(draw: st.DrawFn, fresh: Names, in_irq: bool = False) -> str:
    """One fragment without a section around it."""
    flag = draw(st.sampled_from(FLAGS))
    page = draw(st.sampled_from(PAGES))
    kinds = ["set", "set", "count", "if", "wait", "wait", "local", "atomic", "warn", "bug",
             "alloc", "c", "c"]
    if not in_irq:
        kinds += ["kmap", "kmap", "kmap_leak", "kunmap", "point", "msleep", "read"]
    if fresh.raise_ok:
        kinds += ["raise"]
    kind = draw(st.sampled_from(kinds))
    if kind == "c":
        # the C of issue 13, one fragment in seven to ten
        lang = ["call", "call", "switch", "do", "ternary"]
        kind = draw(st.sampled_from(lang if in_irq else lang + ["touch", "kmap_cond"]))
    if kind == "raise":
        return "raise_softirq(s0);"
    if kind == "alloc":
        v = fresh("m")
        gfp = draw(st.sampled_from(("GFP_KERNEL", "GFP_ATOMIC")))
        return f"char *{v} = kmalloc(8, {gfp}); {v}[0] = 1; kfree({v});"
    if kind == "set":
        return f"{flag} = 1;"
    if kind == "count":
        return draw(st.sampled_from(("g = g + 1;", "g = 2;")))
    if kind == "if":
        return f"if ({flag} == 1) g = 2;"
    if kind == "wait":
        return draw(st.sampled_from(WAITS)).format(f=flag)
    if kind == "local":
        v = fresh("l")
        return f"void *{v} = kmap_local_page({page}); {v}[1] = 2; kunmap_local({v});"
    if kind == "atomic":
        v = fresh("a")
        return f"void *{v} = kmap_atomic({page}); kunmap_atomic({v});"
    if kind == "warn":
        return draw(st.sampled_from((f"WARN_ON({flag} == 1);", "WARN_ON_ONCE(g == 2);")))
    if kind == "bug":
        return f"BUG_ON({flag} == 0 && g == 2);"
    if kind == "kmap":
        v = fresh("k")
        return f"void *{v} = kmap({page}); {v}[0] = 1; kunmap({page});"
    if kind == "kmap_leak":
        return f"void *{fresh('k')} = kmap({page});"
    if kind == "kunmap":
        return f"kunmap({page});"          # without its kmap: kunmap_high() BUGs
    if kind == "point":
        return draw(st.sampled_from(("preempt_point();", "schedule();")))
    if kind == "msleep":
        return "msleep(1);"
    if kind == "call":
        return draw(st.sampled_from((f"int {fresh('r')} = wait_for(0);", "set_flag();",
                                     "g = depth(1);", f"if (wait_for(0) == 0) {flag} = 1;")))
    if kind == "switch":
        return ("switch (g) { case 0: h = 1; break; case 2: g = 1; "
                f"default: {flag} = 1; }}")
    if kind == "do":
        return "do { g = g + 1; } while (g < 1);"
    if kind == "ternary":
        return f"h = {flag} ? 2 : g;"
    if kind == "touch":
        return f"if (touch({page}) != 0) h = 1;"
    if kind == "kmap_cond":
        return f"if (kmap({page}) != 0) {{ kunmap({page}); }}"
    assert kind == "read"
    return f"int {fresh('r')} = {flag};"


SECTIONS = (("preempt_disable();", "preempt_enable();"),
            ("local_irq_disable();", "local_irq_enable();"),
            ("migrate_disable();", "migrate_enable();"),
            ("mutex_lock(&M);", "mutex_unlock(&M);"),
            ("local_bh_disable();", "local_bh_enable();"),
            ("rcu_read_lock();", "rcu_read_unlock();"),
            # irqs and the softirq may take these too (the first three are
            # for tasks only)
            ("spin_lock(&L);", "spin_unlock(&L);"),
            ("spin_lock_irqsave(&L);", "spin_unlock_irqrestore(&L);"),
            ("spin_lock_irq(&L);", "spin_unlock_irq(&L);"),
            ("spin_lock_bh(&L);", "spin_unlock_bh(&L);"),
            ("unsigned long {v}; local_irq_save({v});", "local_irq_restore({v});"))
IN_TASKS = 6


@st.composite
def fragment(draw: st.DrawFn, fresh: Names, in_irq: bool = False) -> str:
    """A simple fragment, or a section (SECTIONS) around up to two of
    them, sometimes left open."""
    if draw(st.integers(0, 4)) > 0:
        return draw(simple(fresh, in_irq))
    enter, leave = draw(st.sampled_from(SECTIONS[IN_TASKS:] if in_irq else SECTIONS))
    if "{v}" in enter:
        v = fresh("fl")
        enter, leave = enter.format(v=v), leave.format(v=v)
    inner = draw(st.lists(simple(fresh, in_irq), min_size=0, max_size=2))
    closed = draw(st.integers(0, 5)) > 0
    return " ".join([enter, *inner] + ([leave] if closed else []))


EXPECTS = ("never BUG", "never DEADLOCK", "sometimes DEADLOCK", "always f == 1",
           "sometimes g == 2", "sometimes g == 0", "never WARN", "always g == 0 || DEADLOCK",
           "sometimes P[0] == 0x01", "always pkmap_count(P) == 0",
           'never DEADLOCK("soft lockup")', "sometimes h == 1 && !DEADLOCK",
           "always 2 / g == 1", "never USE_AFTER_UNMAP || OOPS", 'sometimes DEADLOCK("on cpu1")',
           "sometimes page_address(Q) != 0", "always BUG || WARN || f + h < 2",
           'never BUG("sleeping function")', "sometimes s0.x == 1", "never WARN || BUG")


@st.composite
def scenario(draw: st.DrawFn, tasks: int = 3, fragments: int = 3, irqs: int = 1,
             cpus: int = 3, copies: int = 1) -> str:
    """A whole .kmap file: up to ``tasks`` tasks of up to ``fragments``
    fragments, up to ``irqs`` irqs and a softirq, on 1 to ``cpus`` CPUs.
    ``copies`` > 1: the first task has 1 to ``copies - 1`` twins (the same
    body and placement: interchangeable, runtime/search/symmetry.py)."""
    ncpu = draw(st.integers(1, cpus))
    arch = draw(st.sampled_from(("x86", "arm")))
    preemption = draw(st.sampled_from("yn"))
    last = draw(st.sampled_from((2, 4)))   # a power of two (LAST_PKMAP_MASK)
    lines = [f"config {{ ARCH = {arch}; NR_CPUS = {ncpu}; CONFIG_PREEMPTION = {preemption}; "
             f"LAST_PKMAP = {last}; PAGE_SIZE = 64; }}",
             "int f = 0; int h = 0; int g = 0;",
             "spinlock_t L;", "DEFINE_MUTEX(M);"]
    softirq = draw(st.booleans())
    lines += [f"page {p} = alloc_page(GFP_HIGHUSER);" for p in PAGES]
    lines.append(FUNCTIONS)
    cpu = st.one_of(st.none(), st.integers(0, ncpu - 1))
    ntasks = draw(st.integers(1, tasks))
    reads: list[str] = []
    for t in range(ntasks):
        on = draw(cpu)
        fresh = Names(softirq and on == 0)
        body = draw(st.lists(fragment(fresh), min_size=1, max_size=fragments))
        where = "" if on is None else f" on cpu{on}"
        lines.append(f"task t{t}{where} {{ {' '.join(body)} }}")
        reads += [f"t{t}.r{k}" for k in range(1, fresh.n + 1) if f"int r{k} =" in " ".join(body)]
        if t == 0 and copies > 1:
            twin = lines[-1]
            for c in range(draw(st.integers(1, copies - 1))):
                lines.append(twin.replace("task t0", f"task t0c{c}", 1))
    for i in range(draw(st.integers(0, irqs))):
        on = draw(st.integers(0, ncpu - 1))
        fresh = Names(softirq and on == 0)
        body = draw(st.lists(fragment(fresh, in_irq=True), min_size=1, max_size=2))
        lines.append(f"irq i{i} on cpu{on} {{ {' '.join(body)} }}")
    if softirq:
        fresh = Names()
        body = draw(st.lists(fragment(fresh, in_irq=True), min_size=1, max_size=2))
        lines.append(f"softirq s0 on cpu0 {{ int x = 1; {' '.join(body)} }}")
    pool = list(EXPECTS) + [f"always {r} == 0" for r in reads]
    if not softirq:
        pool.remove("sometimes s0.x == 1")
    for e in draw(st.lists(st.sampled_from(pool), min_size=0, max_size=3, unique=True)):
        lines.append(f"expect {e};")
    return "\n".join(lines) + "\n"


# ------------------------------------------------ CPUs that share nothing
# Scenarios for the CPU sets of runtime/search/por.py: every task and irq
# pinned, each CPU k with its own pages (Pk0, Pk1), flag fk, counter gk,
# lock Lk and a per-CPU variable, so that often one CPU's actions are a
# persistent set; and, drawn in, what must stop that: a shared page S or
# global g, a wait on another CPU's flag, the pkmap pool, a mutex whose
# sleeper another CPU wakes, a kunmap_local that pops once too many (on
# x86 it clears the last slot of the CPU below), a leaked mapping (the
# end's DEBUG_LOCKS_WARN_ON turns debug_locks off for every CPU), an
# access after the unmap (a fault reads every context's releases), WARNs
# and BUGs on several CPUs.
OWN = ("void *{v} = kmap_local_page(P{k}0); {v}[1] = 2; kunmap_local({v});",
       "void *{v} = kmap_local_page(P{k}0); void *{w} = kmap_local_page(P{k}1); "
       "{v}[0] = {w}[0] + 1; kunmap_local({w}); kunmap_local({v});",
       "void *{v} = kmap_local_page(P{k}0); void *{w} = kmap_local_page(P{k}1); "
       "kunmap_local({v}); kunmap_local({w});",                 # out of order: WARN
       "void *{v} = kmap_atomic(P{k}1); {v}[3] = 1; kunmap_atomic({v});",
       "f{k} = 1;", "g{k} = g{k} + 1;", "if (f{k} == 1) g{k} = 2;",
       "for (int {v} = 0; {v} < 2; {v}++) {{ g{k} = g{k} + {v}; }}",
       "WARN_ON(f{k} == 1);", "WARN_ON_ONCE(g{k} == 2);", "BUG_ON(f{k} == 0 && g{k} == 2);",
       "preempt_point();", "cond_resched();", "this_cpu_inc(cnt);",
       "preempt_disable(); g{k} = 1; preempt_enable();",
       "spin_lock(&L{k}); g{k} = g{k} + 1; spin_unlock(&L{k});",
       "int {v} = f{k};")
CROSS = ("void *{v} = kmap_local_page(P{k}0); kunmap_local({v}); kunmap_local({v});",  # pops too many
         "void *{v} = kmap_local_page(P{k}1);",                   # leaked at the end
         "void *{v} = kmap_local_page(P{k}0); kunmap_local({v}); {v}[0] = 1;",  # after the unmap
         "void *{v} = kmap_local_page(S); {v}[0] = {v}[0] + 1; kunmap_local({v});",
         "g = g + 1;", "while (f{o} == 0) cond_resched();", "f{o} = 1;",
         "void *{v} = kmap(S); {v}[0] = 1; kunmap(S);",
         "mutex_lock(&M); g{k} = 1; mutex_unlock(&M);",
         "WARN_ON(1);", "WARN_ON_ONCE(1);")
# the pkmap pool from pinned tasks: their own pages (held, reused,
# nested), and now and then something another CPU sees (another CPU's
# page, a use after kunmap, an unbalanced kunmap, a leaked kmap)
OWN_PK = ("void *{v} = kmap(P{k}0); {v}[2] = 3; kunmap(P{k}0);",
          "void *{v} = kmap(P{k}1); {v}[0] = {v}[0] + 1; kunmap(P{k}1);",
          "void *{v} = kmap(P{k}0); void *{w} = kmap(P{k}1); {w}[1] = {v}[2] + 1; "
          "kunmap(P{k}0); kunmap(P{k}1);",
          "void *{v} = kmap(P{k}0); preempt_point(); {v}[3] = 1; kunmap(P{k}0);",
          "g{k} = g{k} + 1;", "f{k} = 1;", "WARN_ON_ONCE(g{k} == 2);")
CROSS_PK = ("void *{v} = kmap(P{k}0); kunmap(P{k}0); {v}[0] = 1;",
            "void *{v} = kmap(P{o}0); {v}[1] = 5; kunmap(P{o}0);",
            "kunmap(P{k}1);",
            "void *{v} = kmap(P{k}1);",
            "void *{v} = kmap(S); {v}[0] = {v}[0] + 1; kunmap(S);",
            "while (f{o} == 0) cond_resched();", "f{o} = 1;",
            "void *{v} = kmap_local_page(P{k}0); {v}[0] = 2; kunmap_local({v});")
PK_EXPECTS = ("never BUG", "never OOPS", "never USE_AFTER_UNMAP || OOPS", "never DEADLOCK",
              "sometimes P00[2] == 0x03", "always P10[1] == 0", "always S[0] <= 1",
              "sometimes g0 == 2", "never WARN")
PART_EXPECTS = ("never WARN", "never BUG", "sometimes g0 == 2", "always g1 == 0", "never OOPS",
                "sometimes P00[1] == 0x02", "never USE_AFTER_UNMAP || OOPS", "never DEADLOCK",
                "always S[0] <= 1", "sometimes g == 2", "always g0 + g1 < 3")


@st.composite
def partitioned(draw: st.DrawFn, cross: bool = True, twins: bool = False,
                pkmap: bool = False) -> str:
    """Two or three CPUs with pinned tasks (and maybe an irq) that mostly
    touch only their own CPU's things; with ``cross``, sometimes a
    fragment that another CPU can see (CROSS); with ``twins``, a CPU's
    second task is a copy of its first (interchangeable:
    runtime/search/symmetry.py); with ``pkmap``, fragments of kmap() and
    kunmap() (OWN_PK, CROSS_PK) on a pool of 2 or 4 slots."""
    ncpu = draw(st.integers(2, 3))
    # ARM: kmap_local through kmap_high_get (the default), or its own
    # fixmap slots with the non-linear PTE lookup and the VIVT cache
    arch = draw(st.sampled_from(("x86", "x86", "arm", "arm; ARCH_NEEDS_KMAP_HIGH_GET = n")))
    preemption = draw(st.sampled_from("yn"))
    last = draw(st.sampled_from((2, 4))) if pkmap else 4
    lines = [f"config {{ ARCH = {arch}; NR_CPUS = {ncpu}; CONFIG_PREEMPTION = {preemption}; "
             f"LAST_PKMAP = {last}; PAGE_SIZE = 64; }}",
             "int g = 0;", "percpu int cnt = 0;", "DEFINE_MUTEX(M);",
             "page S = alloc_page(GFP_HIGHUSER);"]
    for k in range(ncpu):
        lines += [f"int f{k} = 0; int g{k} = 0;", f"spinlock_t L{k};",
                  f"page P{k}0 = alloc_page(GFP_HIGHUSER);",
                  f"page P{k}1 = alloc_page(GFP_HIGHUSER);"]
    n = 0

    def frag(k: int, irq: bool) -> str:
        nonlocal n
        n += 1
        own, other = (OWN_PK, CROSS_PK) if pkmap else (OWN, CROSS)
        pool = own if not irq else tuple(f for f in own if "preempt_point" not in f
                                         and "cond_resched" not in f and "kmap(" not in f)
        if cross and draw(st.integers(0, 5)) == 0:
            pool = other if not irq else tuple(f for f in other if "mutex" not in f
                                               and "cond_resched" not in f and "kmap(" not in f
                                               and "kunmap(" not in f)
        text = draw(st.sampled_from(pool))
        return text.format(k=k, o=(k + 1) % ncpu, v=f"v{n}", w=f"w{n}")

    for k in range(ncpu):
        body: list[str] = []
        for t in range(draw(st.integers(1, 2))):
            if not (twins and t):
                body = [frag(k, False) for _ in range(draw(st.integers(1, 2)))]
            lines.append(f"task t{k}{t} on cpu{k} {{ {' '.join(body)} }}")
    if draw(st.integers(0, 3)) == 0:
        k = draw(st.integers(0, ncpu - 1))
        lines.append(f"irq i{k} on cpu{k} {{ {frag(k, True)} }}")
    for e in draw(st.lists(st.sampled_from(PK_EXPECTS if pkmap else PART_EXPECTS),
                           min_size=0, max_size=3, unique=True)):
        lines.append(f"expect {e};")
    return "\n".join(lines) + "\n"


# ------------------------------------------------ twins with pages of their own
# Scenarios for symmetry over pages and CPUs (runtime/search/twins.py):
# twins each mapping a page of its own (Q0, Q1, ...), on one CPU or each
# on a CPU of its own, beside a task on cpu0 that shares a page S with
# them or runs DMA on it; drawn in: a use after kunmap (a fault at an
# address several twins released names the lowest page: symmetry must
# give up), a lock, a shared counter, WARN_ON, the flush of every cache.
TWIN_FRAGMENTS = (
    "u8 *v{n} = kmap({q}); v{n}[0] = 1; v{n}[32] = 2; kunmap({q});",
    "u8 *v{n} = kmap({q}); int r{n} = v{n}[0]; kunmap({q});",
    "u8 *v{n} = kmap({q}); kunmap({q}); v{n}[1] = 3;",
    "void *s{n} = kmap(S); kunmap(S);",
    "spin_lock(&L); g = g + 1; spin_unlock(&L);",
    "preempt_point();",
    "WARN_ON(g == 2);",
    "flush_cache_all();",
)
OTHER_FRAGMENTS = (
    "dma_map_page(S, DMA_FROM_DEVICE);",
    "u8 *x{n} = kmap(S); x{n}[0] = 5; kunmap(S);",
    "int y{n} = g;",
    "preempt_point();",
)


@st.composite
def page_twins(draw: st.DrawFn) -> str:
    """Two or three twins with pages of their own (each on a CPU of its
    own, all on one, or unpinned), and a task on cpu0."""
    ntw = draw(st.integers(2, 3))
    own_cpu = draw(st.booleans())
    arch = draw(st.sampled_from(("x86", "arm")))
    cache = "" if arch == "x86" else f" CACHE = {draw(st.sampled_from(('vivt', 'vipt')))};"
    ncpu = 1 + ntw if own_cpu else draw(st.integers(1, 2))
    unpinned = not own_cpu and draw(st.booleans())   # pages renamed, CPUs not
    last = draw(st.sampled_from((2, 4)))
    lines = [f"config {{ ARCH = {arch}; NR_CPUS = {ncpu}; CONFIG_PREEMPTION = y; "
             f"LAST_PKMAP = {last}; PAGE_SIZE = 64; L1_CACHE_BYTES = 32;{cache} }}",
             "int g = 0;", "spinlock_t L;", "page S = alloc_page(GFP_HIGHUSER);"]
    body = draw(st.lists(st.sampled_from(TWIN_FRAGMENTS), min_size=1, max_size=3))
    other = draw(st.lists(st.sampled_from(OTHER_FRAGMENTS), min_size=0, max_size=2))
    text = " ".join(f.format(n=k, q="{q}") for k, f in enumerate(body))
    for t in range(ntw):
        lines.append(f"page Q{t} = alloc_page(GFP_HIGHUSER);")
        on = f" on cpu{t + 1}" if own_cpu else "" if unpinned else f" on cpu{ncpu - 1}"
        lines.append(f"task k{t}{on} {{ {text.format(q=f'Q{t}')} }}")
    if other:
        lines.append(f"task d on cpu0 {{ {' '.join(f.format(n=k) for k, f in enumerate(other))} }}")
    lines.append("expect never DATA_LOSS;")
    if "r0 =" in text:
        lines.append("expect always k0.r0 == 0;")
    return "\n".join(lines) + "\n"
