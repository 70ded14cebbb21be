/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * kmap_controller.h: the fixed end of a module made by `kmap kmod`,
 * included after the scenario's code (km_page_spec, km_ctx_spec,
 * km_init_scenario, km_atoms). It runs the scenario `iterations` times,
 * as klitmus7 runs a litmus test:
 *
 *   - the controller runs in module_init, pinned to CPU KM_NR_CPUS (one
 *     more than the scenario has, so that it never runs where a task does);
 *   - each iteration starts from the model's initial state: fresh zeroed
 *     pages, the globals and per-CPU ints at their initial values, the
 *     pkmap pool turned round to last_pkmap_nr = 0 with every slot free;
 *   - each task is a kthread named after it, bound to its CPU (or allowed
 *     on all the scenario's CPUs), started together behind a barrier;
 *     each irq is an IPI sent to its CPU after a random delay, so that its
 *     handler runs in hardirq context on whatever that CPU runs;
 *   - afterwards it records the values the expectations name and the
 *     kernel's reports of that iteration (read back from the log buffer
 *     with kmsg_dump_get_line()), and counts each distinct outcome;
 *   - an iteration where a task died (BUG, oops, failed assert) or did
 *     not finish is the last: the kernel may hold locks it took.
 *
 * The results go to the console with pr_emerg (the harness boots with
 * loglevel=1, so that the splats' stack dumps stay in the log buffer):
 *
 *   kmap: begin SCENARIO iterations=N cpus=C
 *   kmap: layout page_offset=... pkmap_base=... last_pkmap=... fix_kmap_begin=...
 *   kmap: outcome COUNT
 *   kmap: | v ATOM=VALUE           (one line per value the expectations name)
 *   kmap: | r REPORT               (one line per kernel report headline)
 *   kmap: end iterations=N time_ms=T lost=L
 *
 * Licence: GPL-2.0 OR MIT, as kmap_runtime.h (docs/kmod.md, "Licence").
 */

#include <linux/sort.h>

#define KM_MAX_OUTCOMES 64
static int iterations = KM_ITERATIONS;
module_param(iterations, int, 0444);
MODULE_PARM_DESC(iterations, "how many times to run the scenario");
static unsigned int seed = 1;
module_param(seed, uint, 0444);
MODULE_PARM_DESC(seed, "seed of the random delays");
static unsigned int irq_window_ns = 50000;
module_param(irq_window_ns, uint, 0444);
MODULE_PARM_DESC(irq_window_ns, "largest random delay before an irq is raised");
static unsigned int timeout_ms = 3000;
module_param(timeout_ms, uint, 0444);
MODULE_PARM_DESC(timeout_ms, "how long an iteration may take before a task counts as stuck");

static struct km_outcome {
	char *key;
	int count;
} km_out[KM_MAX_OUTCOMES];
static int km_nout, km_lost;

static struct km_key km_key;
static char km_line[1024], km_line2[1024];
static const char *km_reps[64];
static int km_nreps;

static atomic_t km_ready;
static int km_go;

static struct page **km_dummy;
static int km_ndummy, km_dummy_next, km_slot0 = -1;

static __printf(2, 3) void km_add(struct km_key *k, const char *fmt, ...)
{
	va_list ap;

	if (k->len >= KM_KEY_LEN - 1)
		return;
	va_start(ap, fmt);
	k->len += vscnprintf(k->buf + k->len, KM_KEY_LEN - k->len, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------- values, as the harness compares them */

/*
 * A value as text, its kernel addresses named by what they are, since the
 * model's layout differs from this kernel's: pkmap(N), kmap_local(cpuC,S),
 * page(NAME) for a struct page pointer, lowmem(NAME) for the direct map,
 * pfn(NAME) for page_to_pfn(); each with +0xOFF inside the page. Anything
 * else is printed in decimal. dsl/kmod/compare.py names the model's values
 * the same way.
 */
static void km_show(char *s, size_t n, s64 v, bool pfn)
{
	unsigned long a, lo, hi, off;
	int i;

	if (pfn) {
		for (i = 0; i < KM_NR_PAGES; i++)
			if (km_page[i] && v == page_to_pfn(km_page[i])) {
				scnprintf(s, n, "pfn(%s)", km_page_spec[i].name);
				return;
			}
	}
	if (v <= -0x10000 && v >= -0x100000000LL)
		v &= 0xffffffffLL;	/* an address kept in a signed int */
	if (v < (s64)PAGE_OFFSET || v > 0xffffffffLL) {
		scnprintf(s, n, "%lld", v);
		return;
	}
	a = (unsigned long)v;
	off = a & ~PAGE_MASK;
	if (a >= PKMAP_ADDR(0) && a < PKMAP_ADDR(LAST_PKMAP)) {
		i = scnprintf(s, n, "pkmap(%lu)", PKMAP_NR(a));
		goto offset;
	}
	lo = __fix_to_virt(FIX_KMAP_END);
	hi = __fix_to_virt(FIX_KMAP_BEGIN) + PAGE_SIZE;
	if (a >= lo && a < hi) {
		int idx = __virt_to_fix(a & PAGE_MASK) - FIX_KMAP_BEGIN;

		i = scnprintf(s, n, "kmap_local(cpu%d,%d)", idx / KM_MAX_IDX, idx % KM_MAX_IDX);
		goto offset;
	}
	for (i = 0; i < KM_NR_PAGES; i++) {
		if (!km_page[i])
			continue;
		if (a == (unsigned long)km_page[i]) {
			scnprintf(s, n, "page(%s)", km_page_spec[i].name);
			return;
		}
		if (!PageHighMem(km_page[i]) &&
		    a - (unsigned long)page_address(km_page[i]) < PAGE_SIZE) {
			int w = scnprintf(s, n, "lowmem(%s)", km_page_spec[i].name);

			if (off)
				scnprintf(s + w, n - w, "+%#lx", off);
			return;
		}
	}
	scnprintf(s, n, "%lld", v);
	return;
offset:
	if (off)
		scnprintf(s + i, n - i, "+%#lx", off);
}

static void km_value(struct km_key *k, const char *atom, s64 v, bool pfn)
{
	char s[96];

	km_show(s, sizeof(s), v, pfn);
	km_add(k, "v %s=%s\n", atom, s);
}

/* A page's byte in the final state (expectations' P[off]). */
static __maybe_unused s64 km_page_byte(s64 page, s64 off)
{
	struct page *p = KM_PG(page);
	u8 *va;
	s64 b;

	if (!p || off < 0 || off >= PAGE_SIZE)
		return -1;
	va = kmap_local_page(p);
	b = va[off];
	kunmap_local(va);
	return b;
}


/* ------------------------------------------------------ the kernel's reports */

static bool km_is_headline(const char *s)
{
	static const char * const heads[] = {
		"BUG: ", "WARNING: ", "kernel BUG at ", "divide error: ",
		"Kernel panic", "INFO: task ", "watchdog: ", "NMI watchdog: ",
		"general protection fault",
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(heads); i++)
		if (!strncmp(s, heads[i], strlen(heads[i])))
			return true;
	return false;
}

/* Replace `what` by `with` in km_line, in place (through km_line2). */
static void km_replace(const char *what, const char *with)
{
	char *at;

	while ((at = strstr(km_line, what)) != NULL) {
		size_t pre = at - km_line;

		scnprintf(km_line2, sizeof(km_line2), "%.*s%s%s", (int)pre, km_line, with,
			  at + strlen(what));
		strscpy(km_line, km_line2, sizeof(km_line));
	}
}

/* PIDs change with every iteration: each task's `comm/pid`, `comm:pid`
 * and `PID: pid ` become @ and its name, so that equal outcomes compare. */
static void km_name_pids(void)
{
	char what[48], with[48];
	int i;

	for (i = 0; i < KM_NR_CTX; i++) {
		const char *comm = km_ctx_spec[i].name;

		if (km_ctx_spec[i].irq || !km_run[i].pid)
			continue;
		snprintf(what, sizeof(what), "/%d/", km_run[i].pid);
		km_replace(what, "/@/");
		snprintf(what, sizeof(what), "%.15s/%d", comm, km_run[i].pid);
		snprintf(with, sizeof(with), "%.15s/@", comm);
		km_replace(what, with);
		snprintf(what, sizeof(what), "%.15s:%d", comm, km_run[i].pid);
		snprintf(with, sizeof(with), "%.15s:@", comm);
		km_replace(what, with);
		snprintf(what, sizeof(what), "PID: %d ", km_run[i].pid);
		snprintf(with, sizeof(with), "PID: @%.15s ", comm);
		km_replace(what, with);
	}
}

static int km_cmp(const void *a, const void *b)
{
	return strcmp(*(const char * const *)a, *(const char * const *)b);
}

static void km_add_rep(const char *text)
{
	int i;

	for (i = 0; i < km_nreps; i++)
		if (!strcmp(km_reps[i], text))
			return;
	if (km_nreps < ARRAY_SIZE(km_reps))
		km_reps[km_nreps++] = kstrdup(text, GFP_KERNEL);
}

/* The kernel's report headlines printed since `it` was set, then the
 * module's own (a failed assert, a task that never finished). */
static void km_reports(struct kmsg_dump_iter *it, struct km_key *k, const bool *stuck)
{
	struct kmsg_dump_iter now;
	size_t len;
	int i;

	kmsg_dump_rewind(&now);
	it->next_seq = now.next_seq;
	km_nreps = 0;
	while (kmsg_dump_get_line(it, false, km_line, sizeof(km_line), &len)) {
		char *s = km_line;

		while (len && (km_line[len - 1] == '\n' || km_line[len - 1] == '\r'))
			km_line[--len] = 0;
		if (*s == '[') {	/* printk's time stamp */
			s = strstr(s, "] ");
			if (!s)
				continue;
			memmove(km_line, s + 2, strlen(s + 2) + 1);
		}
		if (!km_is_headline(km_line))
			continue;
		km_name_pids();
		km_add_rep(km_line);
	}
	for (i = 0; i < KM_NR_CTX; i++) {
		if (km_oops_at[i][0])
			km_add_rep(km_oops_at[i]);
		if (km_assert_at[i][0]) {
			scnprintf(km_line, sizeof(km_line), "ASSERT: %s", km_assert_at[i]);
			km_add_rep(km_line);
		}
		if (stuck[i]) {
			scnprintf(km_line, sizeof(km_line), "DEADLOCK: %s", km_ctx_spec[i].name);
			km_add_rep(km_line);
		}
	}
	sort(km_reps, km_nreps, sizeof(km_reps[0]), km_cmp, NULL);
	for (i = 0; i < km_nreps; i++) {
		km_add(k, "r %s\n", km_reps[i]);
		kfree(km_reps[i]);
	}
}

static void km_count(struct km_key *k)
{
	int i;

	for (i = 0; i < km_nout; i++)
		if (!strcmp(km_out[i].key, k->buf)) {
			km_out[i].count++;
			return;
		}
	if (km_nout == KM_MAX_OUTCOMES) {
		km_lost++;
		return;
	}
	km_out[km_nout].key = kstrdup(k->buf, GFP_KERNEL);
	km_out[km_nout++].count = 1;
}

/* ------------------------------------------------------------ the pkmap pool */

/*
 * Turn the pool round to the model's initial state: kmap() and kunmap()
 * fresh dummy pages until one lands in slot 0. Passing slot 0 ran
 * flush_all_zero_pkmaps(), which freed every idle slot, and left
 * last_pkmap_nr at 0; the dummy left in slot 0 (count 1) is freed by the
 * next pass of slot 0 before anyone could take that slot, as a free one is.
 */
static int km_pkmap_reset(void)
{
	int n;

	for (n = 0; n <= km_ndummy; n++) {
		int j = km_dummy_next;
		void *v;

		km_dummy_next = (j + 1) % km_ndummy;
		if (j == km_slot0)
			continue;	/* still mapped: a hit would not move the cursor */
		v = kmap(km_dummy[j]);
		kunmap(km_dummy[j]);
		if ((unsigned long)v == PKMAP_ADDR(0)) {
			km_slot0 = j;
			return 0;
		}
	}
	return -EBUSY;
}

static int km_dummies(void)
{
	int i;

	km_ndummy = LAST_PKMAP + 2;
	km_dummy = kcalloc(km_ndummy, sizeof(*km_dummy), GFP_KERNEL);
	if (!km_dummy)
		return -ENOMEM;
	for (i = 0; i < km_ndummy; i++) {
		km_dummy[i] = alloc_page(GFP_HIGHUSER);
		if (!km_dummy[i] || !PageHighMem(km_dummy[i]))
			return -ENOMEM;
	}
	return 0;
}

/* ----------------------------------------------------------- tasks and irqs */

static void km_left_behind(struct km_run *r)
{
	r->end_preempt = preempt_count();
	r->end_irqs = irqs_disabled();
	r->end_pagefault = pagefault_disabled();
	r->end_kmap_idx = current->kmap_ctrl.idx / KM_INCR;
}

/*
 * A task's return to user space: exit_to_user_mode_prepare()'s
 * kmap_assert_nomap(), the kernel's own check. A kthread has no user space
 * to return to, so what the model does not follow further (a count or a
 * mapping the task leaked) is then undone quietly, before the kthread
 * exits, so that the next iteration starts clean.
 */
static void km_return_to_user(struct km_run *r)
{
	km_left_behind(r);
	kmap_assert_nomap();
	while (current->kmap_ctrl.idx > 0)
		kunmap_local_indexed((void *)__fix_to_virt(FIX_KMAP_BEGIN +
			current->kmap_ctrl.idx - 1 + KM_MAX_IDX * raw_smp_processor_id()));
	/* a pagefault_enable() too many leaves it negative (still
	 * "disabled", pagefault_disabled() is != 0): reset, not count up */
	current->pagefault_disabled = 0;
	if (irqs_disabled())
		local_irq_enable();
	while (preempt_count())
		preempt_enable();
	while (current->migration_disabled)
		migrate_enable();
}

/* A failed assert stops the task there, as an oops would kill it
 * (make_task_dead() resets the preempt count and enables irqs). */
static void km_stopped(struct km_run *r)
{
	if (irqs_disabled())
		local_irq_enable();
	while (preempt_count())
		preempt_enable();
}

static int km_thread(void *arg)
{
	struct km_run *r = arg;
	int ret;

	if (KM_NR_USER) {	/* the scenario's user pages: the loader's address space */
		mmget(km_mm);
		kthread_use_mm(km_mm);
	}
	atomic_inc(&km_ready);
	while (!READ_ONCE(km_go)) {
		cpu_relax();
		yield();	/* a task on the same CPU must reach the barrier too */
	}
	ret = km_ctx_spec[r->ctx].body(r);
	WRITE_ONCE(r->in_body, 0);
	if (ret == 0) {
		km_return_to_user(r);
		r->end = KM_RETURNED;
	} else {
		km_stopped(r);
		r->end = KM_STOPPED;
	}
	if (KM_NR_USER) {
		kthread_unuse_mm(km_mm);
		mmput(km_mm);
	}
	complete(&r->done);
	return 0;
}

/*
 * The model's irq interrupts a scenario task between its statements (or
 * inside a kmap_local call, or after its last statement on its way back
 * to user space: syscall_exit_to_user_mode() has interrupts on until
 * exit_to_user_mode_prepare()), or the idle task at rest. The kernel's CPU
 * also runs other threads (rcu_preempt, kworkers), the kthreads' own code
 * before the first statement and from km_return_to_user() on (the return
 * itself: interrupts off in the kernel's), the harness's yield(),
 * the idle loop's own preempt-disabled sections, and softirqs on the way
 * out of an interrupt, which the model does not have: an IPI that lands in
 * one of them does nothing and asks the controller to raise it again.
 */
static bool km_irq_may_fire(void)
{
	int i;

	if (softirq_count() || !in_hardirq())
		return false;	/* a softirq, or the IPI ran on the sender's CPU */
	if (is_idle_task(current))	/* at rest in its loop: PREEMPT_DISABLED */
		return preempt_count() == HARDIRQ_OFFSET + PREEMPT_DISABLE_OFFSET;
	for (i = 0; i < KM_NR_CTX; i++)
		if (km_run[i].task == current)
			return READ_ONCE(km_run[i].in_body);
	return false;
}

static void km_irq(void *arg)
{
	struct km_run *r = arg;
	const struct km_ctx_spec *c = &km_ctx_spec[r->ctx];

	if (r->tries < 100000 && !km_irq_may_fire()) {
		WRITE_ONCE(r->again, 1);
		return;
	}
	if (c->sirq >= 0)	/* a softirq pending from the start: raised here */
		km_raise(r->ctx, c->sirq, c->cpu);
	else
		r->end = c->body(r) == 0 ? KM_RETURNED : KM_STOPPED;
	WRITE_ONCE(r->fired, 1);
}

/*
 * The model's softirq runs where a pending one can run while a scenario
 * task or the idle task has the CPU (an irq's exit, local_bh_enable(),
 * ksoftirqd). At any other moment (the irq exit of an IPI that landed in
 * another thread or in the harness's yield()) the tasklet is scheduled
 * again and the vectors stay pending.
 */
static bool km_sirq_may_run(void)
{
	int i;

	if (is_idle_task(current))	/* at rest in its loop: PREEMPT_DISABLED */
		return preempt_count() == SOFTIRQ_OFFSET + PREEMPT_DISABLE_OFFSET;
	if (!strncmp(current->comm, "ksoftirqd/", 10))
		return true;
	for (i = 0; i < KM_NR_CTX; i++)
		if (km_run[i].task == current)
			return READ_ONCE(km_run[i].in_body);
	return false;
}

/* The tasklet of a CPU: handle_softirqs()'s pass over the scenario's
 * vectors raised there, lowest first; a vector raised meanwhile schedules
 * the tasklet again (the kernel's restart). */
static void __maybe_unused km_softirqs(unsigned long cpu)
{
	unsigned long pending;

	if (!km_sirq_may_run()) {
		tasklet_schedule(&km_tasklet[cpu]);
		return;
	}
	pending = xchg(&km_sirq_pending[cpu], 0);
	while (pending) {
		int vec = __ffs(pending);
		struct km_run *r = &km_run[km_sirq_ctx[vec]];

		pending &= ~BIT(vec);
		memset(r->L, 0, sizeof(r->L));
		r->depth = 0;
		r->nfl = 0;
		r->end = km_ctx_spec[r->ctx].body(r) == 0 ? KM_RETURNED : KM_STOPPED;
		WRITE_ONCE(r->runs, r->runs + 1);
	}
}

/* Whether softirqs of the scenario are still to run on some CPU. */
static bool km_sirq_busy(void)
{
	int cpu;

	if (!KM_NR_SIRQ)
		return false;
	for (cpu = 0; cpu < KM_NR_CPUS; cpu++)
		if (READ_ONCE(km_sirq_pending[cpu]) ||
		    test_bit(TASKLET_STATE_SCHED, &km_tasklet[cpu].state) ||
		    test_bit(TASKLET_STATE_RUN, &km_tasklet[cpu].state))
			return true;
	return false;
}

/* ----------------------------------------------- user pages and the device */

static int km_user_map(void)
{
	unsigned long len = (KM_NR_USER + 1) * PAGE_SIZE;
	int i, k = 0;

	if (!KM_NR_USER)
		return 0;
	km_user_base = vm_mmap(NULL, 0, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, 0);
	if (IS_ERR_VALUE(km_user_base))
		return -ENOMEM;
	vm_munmap(km_user_base + KM_NR_USER * PAGE_SIZE, PAGE_SIZE);
	for (i = 0; i < KM_NR_PAGES; i++) {
		if (!km_page_spec[i].user)
			continue;
		if (km_page_spec[i].present &&
		    clear_user((void __user *)(km_user_base + k * PAGE_SIZE), PAGE_SIZE))
			return -EFAULT;
		k++;
	}
	return 0;
}

static void km_user_unmap(void)
{
	if (KM_NR_USER)
		vm_munmap(km_user_base, KM_NR_USER * PAGE_SIZE);
}

static void km_aliases(bool make)
{
#ifdef KM_USES_DEVICE
	int i;

	for (i = 0; i < KM_NR_PAGES; i++) {
		if (make && km_page[i])
			km_alias[i] = vmap(&km_page[i], 1, VM_MAP, PAGE_KERNEL);
		else if (!make && km_alias[i]) {
			vunmap(km_alias[i]);
			km_alias[i] = NULL;
		}
	}
#endif
}

/* ------------------------------------------------------------ one iteration */

static int km_alloc_pages(void)
{
	int i;

	for (i = 0; i < KM_NR_PAGES; i++) {
		km_page[i] = alloc_page(km_page_spec[i].gfp | __GFP_ZERO);
		if (!km_page[i])
			return -ENOMEM;
		atomic_set(&km_net[i], 0);
	}
	return 0;
}

static void km_free_pages(void)
{
	int i;

	for (i = 0; i < KM_NR_PAGES; i++) {
		if (!km_page[i])
			continue;
		while (atomic_read(&km_net[i]) > 0) {	/* kmap()s the scenario kept */
			kunmap(km_page[i]);
			atomic_dec(&km_net[i]);
		}
		__free_page(km_page[i]);
		km_page[i] = NULL;
	}
}

static int km_nop(void *unused)
{
	return 0;
}

/*
 * The model's execution ends when its tasks and irqs have: what the kernel
 * does after (the idle task's schedule_debug() reporting a count an irq
 * leaked onto it, when it next schedules) belongs to no iteration. A work
 * item on each scenario CPU makes its idle task schedule now; what that
 * prints is before the next iteration's start in the log, and skipped.
 */
static void km_settle(void)
{
	int cpu;

	for (cpu = 0; cpu < KM_NR_CPUS; cpu++)
		smp_call_on_cpu(cpu, km_nop, NULL, false);
}

/* Returns 1 when this must be the last iteration. */
static int km_iteration(int it)
{
	static bool stuck[KM_NR_CTX];
	struct kmsg_dump_iter log;
	unsigned long deadline;
	int i, ntasks = 0, last = 0;

	if (KM_USES_PKMAP && km_pkmap_reset()) {
		pr_emerg("kmap: error the pkmap pool could not be turned round\n");
		return 1;
	}
	if (km_alloc_pages()) {
		pr_emerg("kmap: error out of memory\n");
		return 1;
	}
	for (i = 0; i < KM_NR_GLOBALS; i++)
		km_g[i] = 0;
	for (i = 0; i < KM_NR_LOCKS; i++) {
		spin_lock_init(&km_lock[i]);
		mutex_init(&km_mutex[i]);
	}
	for (i = 0; i < KM_NR_CPUS; i++)
		km_sirq_pending[i] = 0;
	if (km_user_map()) {
		pr_emerg("kmap: error the user pages could not be mapped\n");
		return 1;
	}
	km_aliases(true);
	km_init_scenario();
	atomic_set(&km_ready, 0);
	WRITE_ONCE(km_go, 0);
	kmsg_dump_rewind(&log);
	log.cur_seq = log.next_seq;

	for (i = 0; i < KM_NR_CTX; i++) {
		struct km_run *r = &km_run[i];
		const struct km_ctx_spec *c = &km_ctx_spec[i];

		memset(r, 0, sizeof(*r));
		r->ctx = i;
		km_assert_at[i][0] = 0;
		km_oops_at[i][0] = 0;
		stuck[i] = false;
		prandom_seed_state(&r->rnd, ((u64)seed << 32) ^ ((u64)it << 8) ^ i);
		init_completion(&r->done);
		if (c->irq) {
			INIT_CSD(&r->csd, km_irq, r);
			continue;
		}
		r->task = kthread_create(km_thread, r, "%s", c->name);
		if (IS_ERR(r->task)) {
			r->task = NULL;
			pr_emerg("kmap: error kthread_create\n");
			return 1;
		}
		get_task_struct(r->task);
		r->pid = task_pid_nr(r->task);
		if (c->cpu >= 0) {
			kthread_bind(r->task, c->cpu);
		} else {
			struct cpumask mask;
			int cpu;

			cpumask_clear(&mask);
			for (cpu = 0; cpu < KM_NR_CPUS; cpu++)
				cpumask_set_cpu(cpu, &mask);
			set_cpus_allowed_ptr(r->task, &mask);
		}
		ntasks++;
	}
	for (i = 0; i < KM_NR_CTX; i++)
		if (km_run[i].task)
			wake_up_process(km_run[i].task);
	deadline = jiffies + msecs_to_jiffies(timeout_ms);
	while (atomic_read(&km_ready) < ntasks && time_before(jiffies, deadline))
		cpu_relax();
	WRITE_ONCE(km_go, 1);
	for (i = 0; i < KM_NR_CTX; i++) {
		struct km_run *r = &km_run[i];

		if (!km_ctx_spec[i].irq || (km_ctx_spec[i].sirq >= 0 && !km_ctx_spec[i].boot))
			continue;
		if (irq_window_ns)
			ndelay(prandom_u32_state(&r->rnd) % irq_window_ns);
		smp_call_function_single_async(km_ctx_spec[i].cpu, &r->csd);
	}

	for (i = 0; i < KM_NR_CTX; i++) {
		struct km_run *r = &km_run[i];

		if (km_ctx_spec[i].sirq >= 0 && !km_ctx_spec[i].boot)
			continue;	/* raised by the scenario: waited for below */
		if (km_ctx_spec[i].irq) {
			/* raised again at once while it comes where the model has
			 * no irq: the controller spins on its own CPU */
			while (!READ_ONCE(r->fired)) {
				if (READ_ONCE(r->again)) {
					WRITE_ONCE(r->again, 0);
					r->tries++;
					ndelay(prandom_u32_state(&r->rnd) % 2000);
					while (smp_call_function_single_async(km_ctx_spec[i].cpu, &r->csd))
						cpu_relax();
				}
				if (time_after(jiffies, deadline)) {
					stuck[i] = true;
					last = 1;
					break;
				}
				cpu_relax();
			}
			continue;
		}
		while (!wait_for_completion_timeout(&r->done, msecs_to_jiffies(5))) {
			if (r->task && (r->task->flags & PF_EXITING) &&
			    !completion_done(&r->done)) {
				last = 1;	/* killed by an oops or a BUG */
				break;
			}
			if (time_after(jiffies, deadline)) {
				stuck[i] = true;
				last = 1;
				break;
			}
		}
		if (r->end == KM_STOPPED)
			last = 1;
	}
	/* the softirqs raised by the scenario run to the end too */
	while (!last && km_sirq_busy()) {
		if (time_after(jiffies, deadline)) {
			for (i = 0; i < KM_NR_CTX; i++)
				if (km_ctx_spec[i].sirq >= 0 &&
				    test_bit(km_ctx_spec[i].sirq, &km_sirq_pending[km_ctx_spec[i].cpu]))
					stuck[i] = true;
			last = 1;
			break;
		}
		msleep(1);
	}
	for (i = 0; i < KM_NR_CTX; i++)
		if (km_oops_at[i][0])
			last = 1;
	memset(&km_key, 0, sizeof(km_key));
	km_atoms(&km_key);
	km_reports(&log, &km_key, stuck);
	km_count(&km_key);
	if (!last)
		km_settle();
	for (i = 0; i < KM_NR_CTX; i++) {
		if (km_run[i].task && !stuck[i])
			put_task_struct(km_run[i].task);
		if (stuck[i])
			pr_emerg("kmap: stuck %s\n", km_ctx_spec[i].name);
	}
	if (!last) {
		km_slab_free_all();
		km_aliases(false);
		km_user_unmap();
		km_free_pages();
	}
	return last;
}

static int __init km_init(void)
{
	u64 t0 = ktime_get_ns();
	int it, i;

	if (num_online_cpus() <= KM_NR_CPUS) {
		pr_emerg("kmap: error the scenario needs %d CPUs and one for the controller\n",
			 KM_NR_CPUS);
		return -EINVAL;
	}
	set_cpus_allowed_ptr(current, cpumask_of(KM_NR_CPUS));
	km_mm = current->mm;
	if (KM_NR_USER && !km_mm) {
		pr_emerg("kmap: error the loader has no address space for the user pages\n");
		return -EINVAL;
	}
	for (i = 0; i < KM_NR_CTX; i++)
		if (km_ctx_spec[i].sirq >= 0)
			km_sirq_ctx[km_ctx_spec[i].sirq] = i;
	for (i = 0; KM_NR_SIRQ && i < KM_NR_CPUS; i++)
		tasklet_init(&km_tasklet[i], km_softirqs, i);
	if (KM_USES_PKMAP && km_dummies()) {
		pr_emerg("kmap: error out of highmem for the dummy pages\n");
		return -ENOMEM;
	}
	pr_emerg("kmap: begin %s iterations=%d cpus=%d\n", KM_SCENARIO, iterations, KM_NR_CPUS);
	pr_emerg("kmap: layout page_offset=%#lx pkmap_base=%#lx last_pkmap=%d fix_kmap_begin=%#lx "
		 "km_max_idx=%d km_incr=%d page_size=%lu nr_cpus=%d\n", (unsigned long)PAGE_OFFSET,
		 (unsigned long)PKMAP_ADDR(0), LAST_PKMAP,
		 (unsigned long)__fix_to_virt(FIX_KMAP_BEGIN), KM_MAX_IDX, KM_INCR, PAGE_SIZE,
		 NR_CPUS);
	for (it = 0; it < iterations; it++)
		if (km_iteration(it)) {
			it++;
			break;
		}
	for (i = 0; i < km_nout; i++) {
		char *line, *rest = km_out[i].key;

		pr_emerg("kmap: outcome %d\n", km_out[i].count);
		while ((line = strsep(&rest, "\n")) != NULL)
			if (*line)
				pr_emerg("kmap: | %s\n", line);
	}
	pr_emerg("kmap: end iterations=%d time_ms=%llu lost=%d\n", it,
		 div_u64(ktime_get_ns() - t0, NSEC_PER_MSEC), km_lost);
	return 0;
}

static void __exit km_exit(void)
{
}

module_init(km_init);
module_exit(km_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmap-scenarios: " KM_SCENARIO " on the real kernel");
