/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * kmap_runtime.h: the fixed part of a module made by `kmap kmod`, included
 * before the scenario's code. It holds the scenario's state (pages,
 * globals, locks, each context's locals) and the helpers the translated
 * statements call: byte loads and stores through kernel virtual addresses,
 * C's division and shifts on the model's mathematical integers, the
 * scenario's built-ins that need more than one kernel call, and the
 * random delays between statements (klitmus7's way of widening windows).
 *
 * The generated file defines, before including this one: KM_NR_CPUS,
 * KM_NR_PAGES, KM_NR_CTX, KM_NR_SLOTS, KM_NR_GLOBALS, KM_NR_LOCKS,
 * KM_LAST_PKMAP, KM_ITERATIONS, KM_SCENARIO and KM_FILE.
 *
 * Licence: GPL-2.0 OR MIT, at your choice (docs/kmod.md, "Licence"). This
 * is kmap-scenarios' own code, not kernel source: it calls the kernel's
 * API and names the kernel functions whose behaviour it relies on. It is
 * compiled into the generated module, which is GPL-2.0: that module uses
 * GPL-only symbols (kthread_use_mm(), kmsg_dump_get_line(), ...) and
 * declares MODULE_LICENSE("GPL").
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/highmem.h>
#include <linux/delay.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/smp.h>
#include <linux/kmsg_dump.h>
#include <linux/prandom.h>
#include <linux/completion.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/uaccess.h>
#include <linux/math64.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/mutex.h>
#include <linux/interrupt.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/kthread.h>
#include <linux/mman.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include <asm/fixmap.h>

/* The kernel this module runs on must be the one the scenario describes. */
#ifndef CONFIG_HIGHMEM
#error "the scenario needs CONFIG_HIGHMEM=y"
#endif
#ifndef CONFIG_PREEMPTION
#error "the scenario has CONFIG_PREEMPTION = y"
#endif
#ifdef CONFIG_PREEMPT_RT
#error "the scenario has CONFIG_PREEMPT_RT = n"
#endif
#ifndef CONFIG_DEBUG_KMAP_LOCAL
#error "the scenario has CONFIG_DEBUG_KMAP_LOCAL = y"
#endif
#ifdef CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP
#error "the scenario has CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP = n"
#endif
#if LAST_PKMAP != KM_LAST_PKMAP
#error "the scenario's LAST_PKMAP differs from this kernel's (bench/crosscheck.py builds a patched kernel)"
#endif

/* mm/highmem.c: a mapping takes KM_INCR slots (a guard slot with DEBUG). */
#define KM_INCR 2

/* How deeply the scenario's functions may call each other: the model's
 * bound (runtime/kernel/program.py MAX_CALL_DEPTH). The frames are the
 * module's own (struct km_run), not the kernel stack's, so one call more
 * is the model's "kernel stack overflow", reported as the model words it. */
#define KM_MAX_DEPTH 64

/* ---------------------------------------------------------------- state */

struct km_run;

struct km_page_spec {
	const char *name;
	gfp_t gfp;
	bool user;		/* a user page: the loader's address space (below) */
	bool present;		/* a user page faulted in before the iteration */
};

struct km_ctx_spec {
	const char *name;
	int cpu;		/* -1: a task free to migrate over the scenario's CPUs */
	bool irq;		/* an irq or a softirq (a handler, not a task) */
	int (*body)(struct km_run *r);
	int sirq;		/* a softirq: its vector among the scenario's; else -1 */
	bool boot;		/* a softirq pending from the start (no raise_softirq of it) */
};

enum km_end { KM_RUNNING, KM_RETURNED, KM_STOPPED };

/* One task or irq in one iteration. Locals live here, not on a stack, so
 * that the controller can read a task's locals after an oops killed it. */
struct km_run {
	int ctx;
	s64 L[KM_NR_SLOTS];
	struct rnd_state rnd;
	unsigned long fl[8];	/* spin_lock_irqsave's flags without a local */
	int nfl;
	struct task_struct *task;
	pid_t pid;
	struct completion done;
	int end;		/* enum km_end */
	call_single_data_t csd;	/* an irq: the IPI that raises it */
	int again, tries;	/* an IPI that came at a moment the model has not */
	int fired;		/* the irq's handler has run its body */
	int in_body;		/* a task past its first statement, not yet returned */
	int started;
	int runs;		/* a softirq: how many times its handler ran */
	int depth;		/* calls of the scenario's functions: the frames */
	int site[KM_MAX_DEPTH];
	s64 fr[KM_MAX_DEPTH][KM_NR_SLOTS];
	/* what a task left behind (expectations' introspection) */
	long end_preempt, end_irqs, end_pagefault, end_kmap_idx;
};

static struct km_run km_run[KM_NR_CTX];

/* an outcome as text, built by km_atoms() and the controller */
#define KM_KEY_LEN 4096
struct km_key {
	char buf[KM_KEY_LEN];
	int len;
};
static void km_value(struct km_key *k, const char *atom, s64 v, bool pfn);

/* The largest value any task left behind (the model's expectations'
 * preempt_count(), irqs_disabled(), ...). */
#define KM_LEFT(field) ({					\
	long __m = 0; int __i;					\
	for (__i = 0; __i < KM_NR_CTX; __i++)			\
		if (!km_ctx_spec[__i].irq && km_run[__i].field > __m)	\
			__m = km_run[__i].field;		\
	(s64)__m; })

static __maybe_unused s64 km_page_byte(s64 page, s64 off);
static struct page *km_page[KM_NR_PAGES];
static atomic_t km_net[KM_NR_PAGES];	/* kmap() - kunmap() by the scenario */
static volatile long km_g[KM_NR_GLOBALS];
static spinlock_t km_lock[KM_NR_LOCKS];
static char km_assert_at[KM_NR_CTX][96];
static char km_oops_at[KM_NR_CTX][96];

static unsigned int delay_ns = 2000;
module_param(delay_ns, uint, 0444);
MODULE_PARM_DESC(delay_ns, "largest random delay between two statements (0: none)");
static unsigned int yield_one_in = 8;
module_param(yield_one_in, uint, 0444);
MODULE_PARM_DESC(yield_one_in, "yield() at one preemptible statement boundary in N (0: never)");

/* ------------------------------------------------------------- helpers */

#define KM_PG(v) ((struct page *)(unsigned long)(v))
#define KM_VA(v) ((void *)(unsigned long)(v))
#define KM_FOLIO(v) ((struct folio *)(unsigned long)(v))

static inline s64 km_ld(s64 addr)
{
	return *(volatile u8 *)(unsigned long)addr;
}

static inline void km_st(s64 addr, s64 v)
{
	*(volatile u8 *)(unsigned long)addr = (u8)v;
}

static noinline __maybe_unused s64 km_div(s64 a, s64 b)
{
	/* a division by zero is the CPU's own divide error, as in the model */
	if (b == 0) {
		volatile int zero = 0;
		return (int)a / zero;
	}
	return div64_s64(a, b);
}

static noinline __maybe_unused s64 km_mod(s64 a, s64 b)
{
	if (b == 0) {
		volatile int zero = 0;
		return (int)a % zero;
	}
	return a - div64_s64(a, b) * b;
}

static inline s64 km_shl(s64 a, s64 b)
{
	return (s64)((u64)a << (b & 63));	/* the count modulo 64, as the model */
}

static inline s64 km_shr(s64 a, s64 b)
{
	return a >> (b & 63);			/* arithmetic for negative values */
}

static inline s64 km_pelem(int first, int count, s64 i)
{
	if (i < 0 || i >= count)
		return 0;	/* no page: the built-in given it oopses */
	return (s64)(unsigned long)km_page[first + i];
}

static inline s64 km_kmap(struct page *p)
{
	void *v = kmap(p);
	int i;

	for (i = 0; PageHighMem(p) && i < KM_NR_PAGES; i++)
		if (km_page[i] == p)
			atomic_inc(&km_net[i]);
	return (s64)(unsigned long)v;
}

static inline void km_count_unmap(struct page *p)
{
	int i;

	for (i = 0; i < KM_NR_PAGES; i++)
		if (km_page[i] == p)
			atomic_dec(&km_net[i]);
}

static inline void km_kunmap(struct page *p)
{
	/* counted first: kunmap_high() may BUG() and never return */
	if (PageHighMem(p))
		km_count_unmap(p);
	kunmap(p);
}

static inline void km_kunmap_high(struct page *p)
{
	km_count_unmap(p);
	kunmap_high(p);
}

/* pkmap_count[] is static in mm/highmem.c: derived from the scenario's own
 * kmap()/kunmap() calls on its fresh pages, which nothing else maps. */
static inline s64 km_pkmap_count(struct page *p)
{
	int i;

	if (!PageHighMem(p) || !page_address(p))
		return 0;
	for (i = 0; i < KM_NR_PAGES; i++)
		if (km_page[i] == p)
			return 1 + atomic_read(&km_net[i]);
	return 1;
}

static inline s64 km_kmap_local_idx(void)
{
	return current->kmap_ctrl.idx / KM_INCR;
}

static inline s64 km_irqsave(struct km_run *r, spinlock_t *l)
{
	unsigned long fl;

	spin_lock_irqsave(l, fl);
	if (r->nfl < ARRAY_SIZE(r->fl))
		r->fl[r->nfl++] = fl;
	return (s64)fl;
}

static inline void km_irqrestore(struct km_run *r, spinlock_t *l, bool given, s64 flags)
{
	unsigned long fl = r->nfl ? r->fl[r->nfl - 1] : X86_EFLAGS_IF;

	if (r->nfl)
		r->nfl--;
	spin_unlock_irqrestore(l, given ? (unsigned long)flags : fl);
}

static inline s64 km_per_cpu(long __percpu *v, s64 cpu)
{
	if (cpu < 0 || cpu >= KM_NR_CPUS) {
		volatile long *bad = NULL;
		return *bad;	/* the model's per_cpu() of no CPU oopses */
	}
	return *per_cpu_ptr(v, cpu);
}

static noinline __maybe_unused void km_assert_failed(struct km_run *r, const char *at)
{
	strscpy(km_assert_at[r->ctx], at, sizeof(km_assert_at[0]));
}

/* ------------------------------------------------- the scenario's functions */

/* A call: the caller's locals and call site pushed, the callee's locals
 * zero (its parameters are set by the caller's statement). 1 when the
 * frames are full: the model's stack overflow, and the context stops. */
static noinline __maybe_unused int km_call(struct km_run *r, int site, const char *func)
{
	if (r->depth >= KM_MAX_DEPTH) {
		scnprintf(km_oops_at[r->ctx], sizeof(km_oops_at[0]),
			  "OOPS: kernel stack overflow: %s()", func);
		return 1;
	}
	memcpy(r->fr[r->depth], r->L, sizeof(r->L));
	r->site[r->depth++] = site;
	memset(r->L, 0, sizeof(r->L));
	return 0;
}

/* A return: the caller's locals back; the call site to go on after. */
static inline __maybe_unused int km_ret(struct km_run *r)
{
	if (r->depth <= 0)
		return -1;
	r->depth--;
	memcpy(r->L, r->fr[r->depth], sizeof(r->L));
	return r->site[r->depth];
}

/* ------------------------------------------------------------- mutexes */

static struct mutex km_mutex[KM_NR_LOCKS];

/* ------------------------------------------------------------- kmalloc */

/* The objects the scenario allocated and has not freed, freed after the
 * iteration (the model's arena starts empty each execution). Lock-free:
 * tasks, irqs and softirqs allocate at once. */
#define KM_MAX_SLAB 64
static void *km_slab[KM_MAX_SLAB];

static inline __maybe_unused s64 km_kmalloc(s64 size, s64 gfp, bool zero)
{
	gfp_t g = (__force gfp_t)(unsigned int)gfp;
	void *p = zero ? kzalloc((size_t)size, g) : kmalloc((size_t)size, g);
	int i;

	if (!ZERO_OR_NULL_PTR(p))
		for (i = 0; i < KM_MAX_SLAB; i++)
			if (!cmpxchg(&km_slab[i], NULL, p))
				break;
	return (s64)(unsigned long)p;
}

static inline __maybe_unused void km_kfree(s64 v)
{
	void *p = KM_VA(v);
	int i;

	if (!ZERO_OR_NULL_PTR(p))
		for (i = 0; i < KM_MAX_SLAB; i++)
			if (cmpxchg(&km_slab[i], p, NULL) == p)
				break;
	kfree(p);
}

static void km_slab_free_all(void)
{
	int i;

	for (i = 0; i < KM_MAX_SLAB; i++)
		kfree(xchg(&km_slab[i], NULL));
}

/* ------------------------------------------------------------ softirqs */

/*
 * A module cannot add a softirq vector (open_softirq() is not exported):
 * the scenario's softirqs of CPU N run from one tasklet of that CPU, which
 * is a softirq (TASKLET_SOFTIRQ: in_serving_softirq(), SOFTIRQ_OFFSET, run
 * at irq exit, at local_bh_enable() or by ksoftirqd, as the kernel's
 * handle_softirqs() runs every vector). raise_softirq(S) sets S's bit in
 * the CPU's mask and schedules the tasklet (tasklet_schedule() raises
 * TASKLET_SOFTIRQ with raise_softirq_irqoff(), which wakes ksoftirqd
 * outside interrupt context, as the model's raise does); the tasklet runs
 * the raised vectors in order, lowest first, as handle_softirqs() does.
 */
#ifndef KM_NR_SIRQ
#define KM_NR_SIRQ 0
#endif
static struct tasklet_struct km_tasklet[KM_NR_CPUS];
static unsigned long km_sirq_pending[KM_NR_CPUS];
static int km_sirq_ctx[KM_NR_SIRQ + 1];	/* vector -> context */

static inline __maybe_unused void km_raise(int ctx, int vec, int cpu)
{
	unsigned long fl;

	local_irq_save(fl);
	if (raw_smp_processor_id() == cpu) {
		set_bit(vec, &km_sirq_pending[cpu]);
		tasklet_schedule(&km_tasklet[cpu]);
	} else {
		scnprintf(km_oops_at[ctx], sizeof(km_oops_at[0]),
			  "raise_softirq() of a softirq of another CPU");
	}
	local_irq_restore(fl);
}

/* ----------------------------------------------------------- user pages */

/*
 * The scenario's user pages are an anonymous mapping in the address space
 * of the process that loaded the module (the controller's), made afresh
 * each iteration, one page more unmapped after them (the model's next
 * user address faults); present pages are faulted in (zeroed), the others
 * are left to the first access. The tasks use that address space
 * (kthread_use_mm()). The lowering wrote the model's user addresses
 * (ArchPreset.user_base) as constants: km_uaddr() moves them here.
 */
#ifndef KM_NR_USER
#define KM_NR_USER 0
#endif
static unsigned long km_user_base;
static struct mm_struct *km_mm;

static inline __maybe_unused s64 km_uaddr(s64 off)
{
	return (s64)(km_user_base + (unsigned long)off);
}

/* ------------------------------------------------------------- the device */

/*
 * device_write() and device_read() are the device's own accesses to RAM.
 * On x86 the caches are physically tagged and DMA is coherent, so a
 * device's write is seen by the CPUs as any other agent's write to that
 * RAM: the module makes it through a second mapping of the page made
 * before the iteration (vmap()), which leaves the scenario's own mappings
 * (pkmap, kmap_local) untouched. The DMA API (dma_map_page()...) needs a
 * struct device and stays refused.
 */
static void *km_alias[KM_NR_PAGES];

static inline __maybe_unused u8 *km_alias_of(struct page *p, s64 off, s64 len)
{
	int i;

	if (off < 0 || len < 0 || off + len > PAGE_SIZE)
		return NULL;
	for (i = 0; i < KM_NR_PAGES; i++)
		if (km_page[i] == p && km_alias[i])
			return (u8 *)km_alias[i] + off;
	return NULL;
}

static inline __maybe_unused void km_device_write(struct km_run *r, struct page *p, s64 off,
						  s64 v, s64 len)
{
	u8 *a = km_alias_of(p, off, len);

	if (!a) {
		scnprintf(km_oops_at[r->ctx], sizeof(km_oops_at[0]), "device_write() out of its page");
		return;
	}
	memset(a, (int)v, (size_t)len);
}

static inline __maybe_unused s64 km_device_read(struct km_run *r, struct page *p, s64 off)
{
	u8 *a = km_alias_of(p, off, 1);

	if (!a) {
		scnprintf(km_oops_at[r->ctx], sizeof(km_oops_at[0]), "device_read() out of its page");
		return 0;
	}
	return READ_ONCE(*a);
}

static inline __maybe_unused s64 km_irq_save(void)
{
	unsigned long fl;

	local_irq_save(fl);
	return (s64)fl;
}

static inline __maybe_unused s64 km_save_flags(void)
{
	unsigned long fl;

	local_save_flags(fl);
	return (s64)fl;
}

/*
 * Before each statement: a random delay, and sometimes a yield() where the
 * model lets another task take the CPU (preemptible()). An irq may land in
 * the delay, as the model's comes between two statements, but not in the
 * yield() (the harness's, not the scenario's), nor before the first
 * statement has run (the model's task has not started: its CPU is idle).
 */
static inline void km_step(struct km_run *r)
{
	u32 x;

	WRITE_ONCE(r->in_body, r->started);
	r->started = 1;
	if (!delay_ns && !yield_one_in)
		return;
	x = prandom_u32_state(&r->rnd);
	if (delay_ns)
		ndelay(x % delay_ns);
	if (yield_one_in && preemptible() && (x >> 16) % yield_one_in == 0) {
		WRITE_ONCE(r->in_body, 0);
		if (rcu_preempt_depth()) {
			/* In an RCU read-side section yield() is a voluntary switch,
			 * rcu_note_context_switch()'s WARN (kernel/rcu/tree_plugin.h);
			 * the model's switch there is a preemption: make it one. */
			preempt_disable();
			set_tsk_need_resched(current);
			set_preempt_need_resched();
			preempt_enable();
		} else {
			yield();
		}
		WRITE_ONCE(r->in_body, 1);
	}
}
