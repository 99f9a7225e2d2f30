/*
 * engine/par.c - the engine's thread pool: deterministic parallel
 * sections.
 *
 * A parallel section splits an operator's independent outputs (rows or
 * tiles of a product, ranges of elements, heads, channels) into items
 * and lets up to `width` threads claim them; every output element is
 * still computed by one thread in its one canonical order, so the
 * result does not depend on the number of threads, nor on which thread
 * ran which item (docs/determinism.md, "Threads"). Nothing here is ever
 * a reduction split across threads.
 *
 * The workers are created once (engine_threads_set) and sleep between
 * sections after a short spin, so a run of many operators does not pay
 * a thread creation or a futex round trip per operator. One section runs
 * at a time: a caller that finds the pool busy (another run in another
 * thread) runs its items itself, and a section started from inside an
 * item runs inline too. Both give the same bits, only slower.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PAR_PAUSE() _mm_pause()
#else
#define PAR_PAUSE() ((void)0)
#endif

#include "engine/engine_int.h"

/* Spin iterations (a pause each, tens of ns) before a thread sleeps:
 * covers the gap between two operators of a run. */
#define PAR_SPIN 20000

/* Below this much work (about one multiply-add per unit) a section runs
 * on the caller alone: waking a worker costs more than it saves. */
#define PAR_MIN_WORK_DEFAULT ((size_t)1 << 16)

struct par_pool {
	pthread_mutex_t mu; /* guards sleeping, waking, the worker list */
	pthread_cond_t wake, done_cv;
	unsigned threads;   /* the setting, caller included */
	unsigned n_workers; /* created so far */
	pthread_t tid[ENGINE_THREADS_MAX];
	/* gen when worker i was created: a worker that starts running only
	 * after the next section was published must not skip it. */
	uint64_t start_gen[ENGINE_THREADS_MAX];
	/* The current section; written by the caller before gen moves. */
	engine_par_fn fn;
	void *ctx;
	size_t n;
	/* The section's number (low 24 bits) << 40 | items not yet claimed.
	 * A thread claims an item by decrementing it while the number is
	 * its section's, so one that wakes late claims nothing of a later
	 * section, and fn, ctx and n stay that section's until its claimed
	 * items are done. */
	_Atomic uint64_t claim;
	_Atomic size_t done; /* items finished */
	/* The section's number << 16 | its width: what wakes the workers. */
	_Atomic uint64_t gen;
};

static struct par_pool pool = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.done_cv = PTHREAD_COND_INITIALIZER,
	.threads = 1,
};
/* One section at a time; held by its caller. */
static pthread_mutex_t section_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic size_t min_work = PAR_MIN_WORK_DEFAULT;
/* PAR_SPIN while there are no more threads than cores; 0 beyond, where
 * a spinning thread would take the core of one with work to do. */
static _Atomic int spin_limit = PAR_SPIN;
/* Set in workers and in a caller during its section: nested sections
 * run inline. */
static _Thread_local bool in_section;

#define CLAIM_SHIFT 40
#define CLAIM_LEFT (((uint64_t)1 << CLAIM_SHIFT) - 1)

/* Claims and runs items of section sec until none is left; returns
 * true when this thread finished the section's last item. */
static bool
run_items(uint64_t sec, unsigned worker)
{
	sec &= 0xffffffu;
	uint64_t c = atomic_load_explicit(&pool.claim, memory_order_acquire);
	bool last = false;
	while ((c >> CLAIM_SHIFT) == sec && (c & CLAIM_LEFT) != 0) {
		if (!atomic_compare_exchange_weak_explicit(&pool.claim, &c,
		        c - 1, memory_order_acq_rel, memory_order_acquire)) {
			continue;
		}
		size_t n = pool.n;
		pool.fn(pool.ctx, worker, n - (size_t)(c & CLAIM_LEFT));
		last = atomic_fetch_add_explicit(&pool.done, 1,
		           memory_order_acq_rel) + 1 == n;
		c = atomic_load_explicit(&pool.claim, memory_order_acquire);
	}
	return last;
}

static void *
worker_main(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	in_section = true;
	uint64_t seen = pool.start_gen[id];
	for (;;) {
		uint64_t g;
		int spin = 0;
		int limit = atomic_load_explicit(&spin_limit,
		    memory_order_relaxed);
		while ((g = atomic_load_explicit(&pool.gen,
		            memory_order_acquire)) == seen &&
		    spin < limit) {
			PAR_PAUSE();
			spin++;
		}
		if (g == seen) {
			pthread_mutex_lock(&pool.mu);
			while ((g = atomic_load_explicit(&pool.gen,
			            memory_order_acquire)) == seen) {
				pthread_cond_wait(&pool.wake, &pool.mu);
			}
			pthread_mutex_unlock(&pool.mu);
		}
		seen = g;
		if (id >= (g & 0xffffu)) {
			continue; /* this section is narrower */
		}
		if (run_items(g >> 16, id)) {
			pthread_mutex_lock(&pool.mu);
			pthread_cond_signal(&pool.done_cv);
			pthread_mutex_unlock(&pool.mu);
		}
	}
	return NULL;
}

int
engine_threads_set(unsigned n)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (cores < 1) {
		cores = 1;
	}
	if (n == 0) {
		n = (unsigned)cores;
	}
	if (n > ENGINE_THREADS_MAX) {
		n = ENGINE_THREADS_MAX;
	}
	int err = RF_OK;
	pthread_mutex_lock(&section_mu); /* no section is running */
	pthread_mutex_lock(&pool.mu);
	/* Workers never take signals: a node's signal handling stays with
	 * the threads that expect it. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (pool.n_workers + 1 < n) {
		unsigned id = pool.n_workers + 1;
		pool.start_gen[id] = atomic_load(&pool.gen);
		if (pthread_create(&pool.tid[pool.n_workers], NULL, worker_main,
		        (void *)(uintptr_t)id) != 0) {
			err = RF_ERR_NOMEM;
			break;
		}
		pool.n_workers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pool.threads = n < pool.n_workers + 1 ? n : pool.n_workers + 1;
	atomic_store(&spin_limit, pool.threads <= (unsigned long)cores ?
	    PAR_SPIN : 0);
	pthread_mutex_unlock(&pool.mu);
	pthread_mutex_unlock(&section_mu);
	return err;
}

unsigned
engine_threads_get(void)
{
	pthread_mutex_lock(&pool.mu);
	unsigned n = pool.threads;
	pthread_mutex_unlock(&pool.mu);
	return n;
}

size_t
engine_par_min_work_set(size_t work)
{
	return atomic_exchange(&min_work, work);
}

/*
 * RF_PAR_MIN_WORK=N, read once at the first section, sets the threshold
 * (0 sends every section with two items or more through the pool): for
 * the determinism matrix, whose small models would otherwise never be
 * split. It changes speed only, never bits.
 */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void
env_read(void)
{
	const char *v = getenv("RF_PAR_MIN_WORK");
	if (v != NULL && *v >= '0' && *v <= '9') {
		char *end;
		unsigned long long n = strtoull(v, &end, 10);
		if (*end == '\0') {
			atomic_store(&min_work, (size_t)n);
		}
	}
}

unsigned
engine_par_width(size_t work, size_t items)
{
	pthread_once(&env_once, env_read);
	if (in_section || items < 2 ||
	    work < atomic_load_explicit(&min_work, memory_order_relaxed)) {
		return 1;
	}
	pthread_mutex_lock(&pool.mu);
	unsigned w = pool.threads;
	pthread_mutex_unlock(&pool.mu);
	return items < w ? (unsigned)items : w;
}

void
engine_par_run(unsigned width, size_t n, engine_par_fn fn, void *ctx)
{
	if (width <= 1 || n < 2 || (uint64_t)n > CLAIM_LEFT || in_section ||
	    pthread_mutex_trylock(&section_mu) != 0) {
		/* Inline: worker 0 does every item, in order. */
		for (size_t i = 0; i < n; i++) {
			fn(ctx, 0, i);
		}
		return;
	}
	in_section = true;
	pthread_mutex_lock(&pool.mu);
	if (width > pool.n_workers + 1) {
		width = pool.n_workers + 1;
	}
	pool.fn = fn;
	pool.ctx = ctx;
	pool.n = n;
	atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
	uint64_t g = (atomic_load_explicit(&pool.gen, memory_order_relaxed) >>
	    16) + 1;
	atomic_store_explicit(&pool.claim,
	    (g & 0xffffffu) << CLAIM_SHIFT | (uint64_t)n, memory_order_release);
	atomic_store_explicit(&pool.gen, g << 16 | width, memory_order_release);
	pthread_cond_broadcast(&pool.wake);
	pthread_mutex_unlock(&pool.mu);

	/* The caller works too; it never waits for a worker that has not
	 * woken up, only for items another thread has claimed. */
	run_items(g, 0);
	int spin = 0;
	int limit = atomic_load_explicit(&spin_limit, memory_order_relaxed);
	while (atomic_load_explicit(&pool.done, memory_order_acquire) != n &&
	    spin < limit) {
		PAR_PAUSE();
		spin++;
	}
	if (atomic_load_explicit(&pool.done, memory_order_acquire) != n) {
		pthread_mutex_lock(&pool.mu);
		while (atomic_load_explicit(&pool.done,
		           memory_order_acquire) != n) {
			pthread_cond_wait(&pool.done_cv, &pool.mu);
		}
		pthread_mutex_unlock(&pool.mu);
	}
	in_section = false;
	pthread_mutex_unlock(&section_mu);
}

/* Ranges: items of `grain` elements, about four per thread so a thread
 * slowed by the machine's other load hands work to the others. */
struct par_range {
	engine_par_range_fn fn;
	void *ctx;
	size_t n, step;
};

static void
range_item(void *ctx, unsigned worker, size_t i)
{
	(void)worker;
	const struct par_range *r = ctx;
	size_t begin = i * r->step;
	size_t end = begin + r->step < r->n ? begin + r->step : r->n;
	r->fn(r->ctx, begin, end);
}

void
engine_par_range(size_t n, size_t cost, size_t grain,
    engine_par_range_fn fn, void *ctx)
{
	if (grain == 0) {
		grain = 1;
	}
	size_t work = cost != 0 && n > SIZE_MAX / cost ? SIZE_MAX : n * cost;
	unsigned w = engine_par_width(work, (n + grain - 1) / grain);
	if (w <= 1) {
		if (n > 0) {
			fn(ctx, 0, n);
		}
		return;
	}
	size_t items = 4 * (size_t)w;
	size_t step = (n + items - 1) / items;
	step = (step + grain - 1) / grain * grain;
	struct par_range r = { fn, ctx, n, step };
	engine_par_run(w, (n + step - 1) / step, range_item, &r);
}
