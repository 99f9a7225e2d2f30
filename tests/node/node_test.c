/*
 * tests/node/node_test.c - the node runtime every role shares: the
 * bounded file reader (limits, files that are not regular, files whose
 * size lies), short hex, the clocks and deadlines, and the event loop: a
 * poisoned event retried with back-off and given up without holding up the
 * others, bounded retries, restarts and stopping.
 *
 * No assertion depends on how fast the machine is: clocks are checked by
 * order and brackets, never by durations.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "node/node.h"
#include "tests/testlib.h"

static char dir[256];

static int
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/rf-node-%d", (int)getpid());
	mkdir(dir, 0700);
	/* A reader that blocks (a FIFO) must fail the test, not hang it. */
	alarm(120);
	return 0;
}

static int
teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 0;
}

static void
at(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

/* ------------------------------------------------------------------ */
/* Files                                                                */
/* ------------------------------------------------------------------ */

static void
test_file_bounds(void)
{
	char p[300];
	at(p, sizeof(p), "ten");
	CU_ASSERT_EQUAL_FATAL(test_write_file(p, "0123456789", 10, 0600), 0);
	uint8_t *b = NULL;
	size_t n = 0;
	struct rf_errinfo ei = { "" };
	/* Exactly at the limit: read whole, NUL after the last byte. */
	CU_ASSERT_EQUAL(node_file_read(p, 10, &b, &n, &ei), RF_OK);
	CU_ASSERT_EQUAL(n, 10);
	CU_ASSERT(b != NULL && memcmp(b, "0123456789", 10) == 0 && b[10] == 0);
	free(b);
	/* One byte over: refused, outputs untouched. */
	b = (uint8_t *)"untouched";
	n = 77;
	CU_ASSERT_EQUAL(node_file_read(p, 9, &b, &n, &ei), RF_ERR_RANGE);
	CU_ASSERT(strcmp((char *)b, "untouched") == 0 && n == 77);
	CU_ASSERT(strstr(ei.msg, "over the limit") != NULL);
	CU_ASSERT_EQUAL(node_file_read(p, 0, &b, &n, &ei), RF_ERR_RANGE);
	/* An empty file is an empty buffer, still a string. */
	at(p, sizeof(p), "empty");
	CU_ASSERT_EQUAL_FATAL(test_write_file(p, "", 0, 0600), 0);
	CU_ASSERT_EQUAL(node_file_read(p, 0, &b, &n, &ei), RF_OK);
	CU_ASSERT(n == 0 && b != NULL && b[0] == 0);
	free(b);
}

static void
test_file_not_regular(void)
{
	char p[300];
	uint8_t *b = NULL;
	size_t n = 0;
	struct rf_errinfo ei = { "" };
	at(p, sizeof(p), "missing");
	CU_ASSERT_EQUAL(node_file_read(p, 100, &b, &n, &ei), RF_ERR_NOTFOUND);
	CU_ASSERT(strstr(ei.msg, "missing") != NULL);
	CU_ASSERT_EQUAL(node_file_read(dir, 100, &b, &n, &ei), RF_ERR_IO);
	CU_ASSERT(strstr(ei.msg, "not a regular file") != NULL);
	/* A FIFO with no writer: opening must not wait for one. */
	at(p, sizeof(p), "fifo");
	CU_ASSERT_EQUAL_FATAL(mkfifo(p, 0600), 0);
	CU_ASSERT_EQUAL(node_file_read(p, 100, &b, &n, &ei), RF_ERR_IO);
	CU_ASSERT(strstr(ei.msg, "not a regular file") != NULL);
}

/* A file whose size says 0 but which holds more (as /proc files do) is
 * read to its end, and never past the limit. */
static void
test_file_size_lies(void)
{
	uint8_t *b = NULL;
	size_t n = 0;
	struct rf_errinfo ei = { "" };
	struct stat st;
	CU_ASSERT_FATAL(stat("/proc/self/status", &st) == 0 && st.st_size == 0);
	CU_ASSERT_EQUAL(node_file_read("/proc/self/status", 1 << 20, &b, &n,
	    &ei), RF_OK);
	CU_ASSERT(n > 16 && b != NULL && strncmp((char *)b, "Name:", 5) == 0);
	CU_ASSERT(b != NULL && strlen((char *)b) == n);
	free(b);
	b = NULL;
	CU_ASSERT_EQUAL(node_file_read("/proc/self/status", 16, &b, &n, &ei),
	    RF_ERR_RANGE);
	CU_ASSERT(b == NULL);
	CU_ASSERT(strstr(ei.msg, "grew over the limit") != NULL);
}

/* ------------------------------------------------------------------ */
/* Hex                                                                  */
/* ------------------------------------------------------------------ */

static void
test_short_hex(void)
{
	const uint8_t b[8] = { 0x01, 0x23, 0xab, 0xcd, 0xef, 0xf0, 0x99, 0x99 };
	char out[NODE_SHORT_LEN];
	memset(out, 'x', sizeof(out));
	node_short_hex(b, out);
	CU_ASSERT_STRING_EQUAL(out, "0123abcdeff0");
	/* The same prefix as the full hex of a key and of a digest. */
	struct proto_pubkey k;
	struct proto_digest d;
	for (size_t i = 0; i < sizeof(k.b); i++) {
		k.b[i] = (uint8_t)(i * 37 + 5);
	}
	memset(&d, 0, sizeof(d));
	for (size_t i = 0; i < sizeof(d.b); i++) {
		d.b[i] = (uint8_t)(255 - i * 11);
	}
	char full[2 * PROTO_DIGEST_MAX + 65];
	proto_pubkey_hex(&k, full);
	node_short_hex(k.b, out);
	CU_ASSERT(strlen(out) == 12 && strncmp(out, full, 12) == 0);
	for (int s = 0; s < 2; s++) {
		enum proto_hash suite = s ? PROTO_HASH_XXH3 : PROTO_HASH_BLAKE2B;
		proto_digest_hex(suite, &d, full);
		node_short_hex(d.b, out);
		CU_ASSERT(strlen(out) == 12 && strncmp(out, full, 12) == 0);
	}
}

/* ------------------------------------------------------------------ */
/* Clocks                                                               */
/* ------------------------------------------------------------------ */

static void
test_clocks(void)
{
	/* The wall clock is Unix time: bracketed by time(2). */
	uint64_t before = (uint64_t)time(NULL);
	uint64_t ms = node_wall_ms(), us = node_wall_us();
	uint64_t after = (uint64_t)time(NULL);
	CU_ASSERT(ms / 1000 >= before && ms / 1000 <= after);
	CU_ASSERT(us / 1000 >= ms && us / 1000000 <= after);
	/* The monotonic clock never goes back. */
	uint64_t m0 = node_mono_ms(), u0 = node_mono_us();
	for (int i = 0; i < 1000; i++) {
		uint64_t m1 = node_mono_ms(), u1 = node_mono_us();
		CU_ASSERT_FATAL(m1 >= m0 && u1 >= u0);
		m0 = m1;
		u0 = u1;
	}
	/* Seconds: the same clock, bracketed by the microseconds. */
	uint64_t b0 = node_mono_us();
	double s = node_mono_s();
	uint64_t b1 = node_mono_us();
	CU_ASSERT(s >= (double)b0 * 1e-6 - 1e-6 && s <= (double)b1 * 1e-6 + 1e-6);
	/* Durations: never negative, whatever t0 is. */
	CU_ASSERT(node_seconds_since(node_mono_us() + 1000000000) == 0.0);
	CU_ASSERT(node_seconds_since(0) > 0.0);
}

static void
test_deadlines(void)
{
	uint64_t now = node_mono_ms();
	CU_ASSERT(node_deadline_passed(node_deadline(0)));
	CU_ASSERT(node_deadline_passed(now));
	CU_ASSERT_EQUAL(node_deadline_left(now), 0);
	CU_ASSERT_EQUAL(node_deadline_left(0), 0);
	/* Far deadlines saturate instead of wrapping into the past. */
	uint64_t far = node_deadline(UINT64_MAX - 5);
	CU_ASSERT_EQUAL(far, UINT64_MAX);
	CU_ASSERT(!node_deadline_passed(far));
	uint64_t hour = node_deadline(3600 * 1000);
	CU_ASSERT(!node_deadline_passed(hour));
	CU_ASSERT(node_deadline_left(hour) > 0 &&
	    node_deadline_left(hour) <= 3600 * 1000);
	/* A sleep asked to stop returns (an hour would trip the alarm). */
	volatile sig_atomic_t stop = 1;
	node_sleep_ms(3600 * 1000, &stop);
	node_sleep_ms(0, NULL);
	CU_PASS("sleep returned");
}

/* ------------------------------------------------------------------ */
/* The event loop                                                       */
/* ------------------------------------------------------------------ */

/* Time for the loop under test: moved by hand, never by the machine. */
static uint64_t fake_now;

static uint64_t
fake_clock(void)
{
	return fake_now;
}

#define LOG_MAX 128

/* A role whose handler fails on the events a test says, and a referee
 * whose log holds events 1..log_len. */
struct fake {
	uint32_t calls[LOG_MAX + 1];  /* handler calls per seq */
	uint64_t poison;              /* always fails */
	bool poison_all;
	uint64_t flaky;               /* fails flaky_fails times, then works */
	uint32_t flaky_fails;
	uint64_t link_down;           /* fails once as if the referee were gone */
	uint64_t stop_at;             /* handling it sets *stop */
	volatile sig_atomic_t *stop;
	uint64_t saved;               /* last cursor stored */
	int saves;
	uint64_t log_len;
	uint32_t batch_max;           /* events per fetch */
	int fetches, close_after;     /* RF_ERR_CLOSED after that many */
	int ticks;
	uint64_t tick_step;           /* fake time each tick moves on */
};

static int
fake_handle(void *ctx, const struct proto_event *e, struct rf_errinfo *ei)
{
	struct fake *f = ctx;
	CU_ASSERT_FATAL(e->seq >= 1 && e->seq <= LOG_MAX);
	f->calls[e->seq]++;
	if (e->seq == f->stop_at) {
		*f->stop = 1;
	}
	if (f->poison_all || e->seq == f->poison) {
		return rf_errf(ei, RF_ERR_INVAL, "poisoned event %llu",
		    (unsigned long long)e->seq);
	}
	if (e->seq == f->flaky && f->calls[e->seq] <= f->flaky_fails) {
		return rf_errf(ei, RF_ERR_STORE, "flaky");
	}
	if (e->seq == f->link_down && f->calls[e->seq] == 1) {
		return rf_errf(ei, RF_ERR_TIMEOUT, "no reply");
	}
	return RF_OK;
}

static int
fake_save(void *ctx, uint64_t cursor)
{
	struct fake *f = ctx;
	/* The cursor stored only ever moves forward. */
	CU_ASSERT(cursor > f->saved);
	f->saved = cursor;
	f->saves++;
	return RF_OK;
}

static void
fake_tick(void *ctx)
{
	struct fake *f = ctx;
	f->ticks++;
	fake_now += f->tick_step;
}

static void
make_events(struct proto_events *ev, uint64_t from, uint64_t to)
{
	ev->n = to >= from ? (uint32_t)(to - from + 1) : 0;
	ev->events = calloc(ev->n ? ev->n : 1, sizeof(*ev->events));
	CU_ASSERT_FATAL(ev->events != NULL);
	for (uint32_t i = 0; i < ev->n; i++) {
		ev->events[i].seq = from + i;
		ev->events[i].kind = PROTO_EVENT_CLAIM_POSTED;
	}
}

static int
fake_fetch(void *ctx, uint64_t after, int wait_ms, struct proto_events *out,
    struct rf_errinfo *ei)
{
	struct fake *f = ctx;
	if (f->fetches++ >= f->close_after) {
		return RF_ERR_CLOSED;
	}
	uint64_t to = after + f->batch_max;
	make_events(out, after + 1, to < f->log_len ? to : f->log_len);
	return RF_OK;
}

static const struct node_loop_ops fake_ops = {
	.handle = fake_handle,
	.tick = fake_tick,
	.save = fake_save,
	.fetch = fake_fetch,
};

static volatile sig_atomic_t loop_stop;

/* Loops are large (the events set aside live inside): static, not on a
 * test's stack. */
static struct node_loop loop_a, loop_b;

static void
loop_start(struct node_loop *l, struct fake *f, uint64_t cursor)
{
	loop_stop = 0;
	f->stop = &loop_stop;
	node_loop_init(l, &fake_ops, f, NULL, cursor, &loop_stop);
	l->clock = fake_clock;
	fake_now = 1000000;
}

static void
batch(struct node_loop *l, uint64_t from, uint64_t to)
{
	struct proto_events ev;
	make_events(&ev, from, to);
	node_loop_batch(l, &ev);
	free(ev.events);
}

/* Log lines go to a file the test reads back. */
static char log_path[300];
static int log_fd = -1;

static void
log_capture(void)
{
	snprintf(log_path, sizeof(log_path), "/tmp/rf-node-log-%d",
	    (int)getpid());
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(log_fd >= 0);
	rf_log_set_fd(log_fd);
}

/* Everything logged since log_capture (caller frees). */
static char *
log_release(void)
{
	rf_log_set_fd(2);
	close(log_fd);
	size_t n = 0;
	char *text = (char *)test_read_file(log_path, &n);
	unlink(log_path);
	CU_ASSERT_FATAL(text != NULL);
	char *t = realloc(text, n + 1);
	CU_ASSERT_FATAL(t != NULL);
	t[n] = '\0';
	return t;
}

static size_t
count(const char *text, const char *what)
{
	size_t n = 0;
	for (const char *p = strstr(text, what); p; p = strstr(p + 1, what)) {
		n++;
	}
	return n;
}

/*
 * What a cheater tries first: one event that always fails, in the middle
 * of a batch. The others are handled at once; the poisoned one is tried
 * again after a doubling back-off, exactly max_attempts times, then given
 * up with one ERROR line; the node goes on serving what comes next.
 */
static void
test_loop_poisoned_event(void)
{
	struct fake f;
	memset(&f, 0, sizeof(f));
	f.poison = 3;
	loop_start(&loop_a, &f, 0);
	log_capture();
	batch(&loop_a, 1, 5);
	for (uint64_t s = 1; s <= 5; s++) {
		CU_ASSERT_EQUAL(f.calls[s], 1);
	}
	CU_ASSERT_EQUAL(loop_a.n_pending, 1);
	CU_ASSERT_EQUAL(loop_a.cursor, 5);
	/* The stored cursor stops before the event set aside. */
	CU_ASSERT_EQUAL(f.saved, 2);
	CU_ASSERT_EQUAL(node_loop_durable(&loop_a, 5), 2);
	CU_ASSERT_EQUAL(node_loop_durable(&loop_a, 1), 1);

	uint64_t wait = NODE_LOOP_RETRY_MS;
	for (uint32_t k = 2; k <= NODE_LOOP_MAX_ATTEMPTS; k++) {
		/* Not a millisecond early... */
		fake_now += wait - 1;
		node_loop_retry(&loop_a);
		CU_ASSERT_EQUAL(f.calls[3], k - 1);
		/* ...and then once. */
		fake_now += 1;
		node_loop_retry(&loop_a);
		node_loop_retry(&loop_a);
		CU_ASSERT_EQUAL(f.calls[3], k);
		wait = wait * 2 < NODE_LOOP_RETRY_MAX_MS ? wait * 2 :
		    NODE_LOOP_RETRY_MAX_MS;
	}
	CU_ASSERT_EQUAL(loop_a.n_pending, 0);
	CU_ASSERT_EQUAL(loop_a.n_given_up, 1);
	CU_ASSERT_EQUAL(f.saved, 5);
	/* Given up for good: no more attempts, however long we wait. */
	fake_now += 1000000;
	node_loop_retry(&loop_a);
	CU_ASSERT_EQUAL(f.calls[3], NODE_LOOP_MAX_ATTEMPTS);
	for (uint64_t s = 1; s <= 5; s++) {
		CU_ASSERT(s == 3 || f.calls[s] == 1);
	}
	/* The node keeps serving. */
	batch(&loop_a, 6, 7);
	CU_ASSERT(f.calls[6] == 1 && f.calls[7] == 1);
	CU_ASSERT_EQUAL(f.saved, 7);
	char *text = log_release();
	CU_ASSERT_EQUAL(count(text, "ERROR"), 1);
	CU_ASSERT(strstr(text, "event 3 (claim_posted): given up after 8 "
	    "attempts: poisoned event 3") != NULL);
	CU_ASSERT_EQUAL(count(text, "WARN"), NODE_LOOP_MAX_ATTEMPTS - 1);
	free(text);
}

/* A failure that goes away is retried until the event is handled, with
 * no ERROR. */
static void
test_loop_transient(void)
{
	struct fake f;
	memset(&f, 0, sizeof(f));
	f.flaky = 2;
	f.flaky_fails = 2;
	loop_start(&loop_a, &f, 0);
	log_capture();
	batch(&loop_a, 1, 4);
	CU_ASSERT_EQUAL(f.saved, 1);
	for (int i = 0; i < 10; i++) {
		fake_now += NODE_LOOP_RETRY_MAX_MS;
		node_loop_retry(&loop_a);
	}
	CU_ASSERT_EQUAL(f.calls[2], 3);
	CU_ASSERT_EQUAL(loop_a.n_pending, 0);
	CU_ASSERT_EQUAL(loop_a.n_given_up, 0);
	CU_ASSERT_EQUAL(f.saved, 4);
	char *text = log_release();
	CU_ASSERT_EQUAL(count(text, "ERROR"), 0);
	CU_ASSERT(strstr(text, "event 2 (claim_posted) handled at attempt 3") !=
	    NULL);
	free(text);
}

/* The referee unreachable: the events behind would fail the same way, so
 * the batch stops and they are read again; nothing is lost or doubled. */
static void
test_loop_link_down(void)
{
	struct fake f;
	memset(&f, 0, sizeof(f));
	f.link_down = 2;
	loop_start(&loop_a, &f, 0);
	log_capture();
	batch(&loop_a, 1, 5);
	CU_ASSERT(f.calls[1] == 1 && f.calls[2] == 1);
	CU_ASSERT(f.calls[3] == 0 && f.calls[4] == 0 && f.calls[5] == 0);
	CU_ASSERT_EQUAL(loop_a.cursor, 2);
	CU_ASSERT_EQUAL(f.saved, 1);
	/* The same log read again: only what was not seen is handled. */
	batch(&loop_a, 1, 5);
	CU_ASSERT(f.calls[1] == 1 && f.calls[2] == 1);
	CU_ASSERT(f.calls[3] == 1 && f.calls[4] == 1 && f.calls[5] == 1);
	fake_now += NODE_LOOP_RETRY_MS;
	node_loop_retry(&loop_a);
	CU_ASSERT_EQUAL(f.calls[2], 2);
	CU_ASSERT_EQUAL(f.saved, 5);
	free(log_release());
}

/* A restart while an event is set aside: it comes back (the stored
 * cursor is before it), and nothing before it is handled twice. */
static void
test_loop_restart(void)
{
	struct fake f;
	memset(&f, 0, sizeof(f));
	f.poison = 3;
	loop_start(&loop_a, &f, 0);
	log_capture();
	batch(&loop_a, 1, 5);
	CU_ASSERT_EQUAL(f.saved, 2);
	f.poison = 0; /* fixed while we were down */
	loop_start(&loop_b, &f, f.saved);
	batch(&loop_b, 1, 5);
	CU_ASSERT(f.calls[1] == 1 && f.calls[2] == 1);
	CU_ASSERT_EQUAL(f.calls[3], 2);
	CU_ASSERT_EQUAL(f.saved, 5);
	free(log_release());
}

/* Flooding the loop with failing events: at most NODE_LOOP_PENDING_MAX
 * wait; the next failure stops the batch without losing that event. */
static void
test_loop_pending_bound(void)
{
	struct fake f;
	memset(&f, 0, sizeof(f));
	f.poison_all = true;
	loop_start(&loop_a, &f, 0);
	log_capture();
	batch(&loop_a, 1, NODE_LOOP_PENDING_MAX + 6);
	CU_ASSERT_EQUAL(loop_a.n_pending, NODE_LOOP_PENDING_MAX);
	CU_ASSERT_EQUAL(loop_a.cursor, NODE_LOOP_PENDING_MAX);
	CU_ASSERT_EQUAL(f.calls[NODE_LOOP_PENDING_MAX + 1], 1);
	CU_ASSERT_EQUAL(f.calls[NODE_LOOP_PENDING_MAX + 2], 0);
	CU_ASSERT_EQUAL(f.saves, 0);
	/* Once they are given up, the log moves on. */
	f.poison_all = false;
	for (int i = 0; i < 2 * NODE_LOOP_MAX_ATTEMPTS; i++) {
		fake_now += NODE_LOOP_RETRY_MAX_MS;
		node_loop_retry(&loop_a);
	}
	CU_ASSERT_EQUAL(loop_a.n_pending, 0);
	CU_ASSERT_EQUAL(f.saved, NODE_LOOP_PENDING_MAX);
	batch(&loop_a, NODE_LOOP_PENDING_MAX + 1, NODE_LOOP_PENDING_MAX + 6);
	CU_ASSERT_EQUAL(f.calls[NODE_LOOP_PENDING_MAX + 1], 2);
	CU_ASSERT_EQUAL(f.saved, NODE_LOOP_PENDING_MAX + 6);
	free(log_release());
}

/* node_loop_run: a stop request (what SIGTERM sets) ends it after the
 * event in hand, with the cursor stored there. */
static void
test_loop_run_stop(void)
{
	struct fake f;
	memset(&f, 0, sizeof(f));
	f.log_len = 10;
	f.batch_max = 4;
	f.close_after = 1000;
	f.stop_at = 6;
	loop_start(&loop_a, &f, 0);
	CU_ASSERT_EQUAL(node_loop_run(&loop_a), RF_OK);
	for (uint64_t s = 1; s <= 10; s++) {
		CU_ASSERT_EQUAL(f.calls[s], s <= 6 ? 1 : 0);
	}
	CU_ASSERT_EQUAL(f.saved, 6);
	CU_ASSERT(f.ticks >= 2);
	/* Started with the stop already asked: returns at once. */
	struct fake g;
	memset(&g, 0, sizeof(g));
	g.close_after = 1000;
	loop_start(&loop_a, &g, 0);
	loop_stop = 1;
	CU_ASSERT_EQUAL(node_loop_run(&loop_a), RF_OK);
	CU_ASSERT_EQUAL(g.fetches, 0);
}

/* node_loop_run over a log with a poisoned event: everything else is
 * handled, the poisoned one tried max_attempts times and given up; the
 * loop runs until the event socket closes. */
static void
test_loop_run_poisoned(void)
{
	struct fake f;
	memset(&f, 0, sizeof(f));
	f.log_len = 20;
	f.batch_max = 3;
	f.close_after = 60;
	f.poison = 7;
	f.tick_step = NODE_LOOP_RETRY_MAX_MS;
	loop_start(&loop_a, &f, 0);
	log_capture();
	CU_ASSERT_EQUAL(node_loop_run(&loop_a), RF_OK);
	for (uint64_t s = 1; s <= 20; s++) {
		CU_ASSERT_EQUAL(f.calls[s],
		    s == 7 ? NODE_LOOP_MAX_ATTEMPTS : 1);
	}
	CU_ASSERT_EQUAL(f.saved, 20);
	char *text = log_release();
	CU_ASSERT_EQUAL(count(text, "given up"), 1);
	free(text);
}

int
main(void)
{
	CU_TestInfo files[] = {
		{ "bounds", test_file_bounds },
		{ "not a regular file", test_file_not_regular },
		{ "size that lies", test_file_size_lies },
		CU_TEST_INFO_NULL,
	};
	CU_TestInfo util[] = {
		{ "short hex", test_short_hex },
		{ "clocks", test_clocks },
		{ "deadlines", test_deadlines },
		CU_TEST_INFO_NULL,
	};
	CU_TestInfo loop[] = {
		{ "a poisoned event", test_loop_poisoned_event },
		{ "a transient failure", test_loop_transient },
		{ "the referee unreachable", test_loop_link_down },
		{ "restart with an event set aside", test_loop_restart },
		{ "bounded retries", test_loop_pending_bound },
		{ "stop", test_loop_run_stop },
		{ "run with a poisoned event", test_loop_run_poisoned },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "node files", setup, teardown, NULL, NULL, files },
		{ "node util", NULL, NULL, NULL, NULL, util },
		{ "node loop", NULL, NULL, NULL, NULL, loop },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
