/*
 * referee/serve.c - the referee's request path and its life cycle.
 *
 * Each request: decode and verify the signature on a worker thread (no
 * lock held), then
 *  - queries run under the store lock and change nothing;
 *  - everything else goes to the writer (referee/writer.c), which applies
 *    queued requests in one transaction, each in its own savepoint: the
 *    sender must be known (or be registering), its sequence number must be
 *    above the last one applied, the handler runs, the sequence number and
 *    the reply are recorded; the transaction commits, and only then do the
 *    replies and the events go out.
 * A request repeated with the same sequence number and the same bytes
 * (a client retrying after a lost reply) gets the recorded reply again
 * instead of a replay error, so retries are safe and never applied twice.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "referee/referee_int.h"

/* WAL pages after which a commit checkpoints (SQLite's default: 1000). */
#define WAL_CHECKPOINT_PAGES "250"

uint64_t
referee_next_seq(struct referee *r)
{
	return atomic_fetch_add(&r->out_seq, 1) + 1;
}

int
referee_encode(struct referee *r, enum proto_msg_type type, const void *body,
    uint8_t **buf, size_t *len)
{
	return proto_msg_encode(type, body, r->params.suite,
	    referee_next_seq(r), &r->cfg->identity, buf, len);
}

/* Hands the reply's bytes to the caller. */
static int
take_reply(struct request *q, uint8_t **reply, size_t *reply_len)
{
	if (q->out_err != RF_OK) {
		return q->out_err;
	}
	if (q->out == NULL) {
		return RF_ERR_INVAL; /* a handler that set no reply */
	}
	*reply = q->out;
	*reply_len = q->out_len;
	q->out = NULL;
	return RF_OK;
}

static bool
is_query(uint8_t type)
{
	return type == PROTO_MSG_JOB_FETCH || type == PROTO_MSG_CLAIM_STATUS ||
	    type == PROTO_MSG_STATUS_QUERY || type == PROTO_MSG_EVENTS_FETCH ||
	    type == PROTO_MSG_DISPUTE_FETCH || type == PROTO_MSG_JOBS_QUERY ||
	    type == PROTO_MSG_DISPUTES_QUERY;
}

/* An ERROR reply built outside any handler. */
static void
error_reply(struct request *q, uint32_t code, const char *text)
{
	referee_req_refuse(q, code, "%s", text);
}

void
referee_halt(struct referee *r, const char *fmt, ...)
{
	if (atomic_exchange(&r->halted, true)) {
		return;
	}
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_error("%s: HALTED: requests that change state are refused and "
	    "timers stop; reads are still served. Repair or restore the "
	    "database, then restart", why);
	net_gauge_set(r->m_halted, 1);
}

bool
referee_halted(struct referee *r)
{
	return atomic_load(&r->halted);
}

void
referee_ledger_check(struct referee *r)
{
	uint64_t total = 0, burned = 0;
	int64_t minted = 0;
	store_lock(r->db);
	int err = referee_ledger_total(r, &total, &burned);
	if (err == RF_OK) {
		err = referee_db_meta_get(r, "minted", &minted);
	}
	store_unlock(r->db);
	if (err != RF_OK) {
		return; /* a failing read is no proof of damage; next time */
	}
	net_gauge_set(r->m_ledger, (double)total);
	if (total != (uint64_t)minted) {
		referee_halt(r, "ledger invariant broken: balances, stakes, escrow, "
		    "bonds and burned add up to %llu, genesis minted %lld",
		    (unsigned long long)total, (long long)minted);
	}
}

/*
 * Runs a state-changing request through the writer (referee/writer.c):
 * it returns once the transaction holding the request committed. On
 * RF_OK *reply holds the encoded reply and the events have been
 * published; otherwise nothing was applied and the caller builds an
 * error.
 */
static int
handle_write(struct request *q, uint8_t **reply, size_t *reply_len)
{
	int err = referee_writer_apply(q);
	if (err != RF_OK) {
		return err;
	}
	/* Events are hints (subscribers fetch the log): published by each
	 * worker, in parallel, after the commit. */
	referee_outbox_flush(q->r, &q->events);
	return take_reply(q, reply, reply_len);
}

static void
on_request(void *ctx, const uint8_t *req, size_t len, uint8_t **reply,
    size_t *reply_len)
{
	struct referee *r = ctx;
	uint64_t t0 = node_mono_us();
	struct request *q = calloc(1, sizeof(*q));
	struct proto_env env;
	void *body = NULL;
	if (q == NULL) {
		return; /* an empty reply: the client sees a malformed answer */
	}
	q->r = r;
	q->raw = req;
	q->raw_len = len;
	q->now_ms = node_wall_ms();
	net_counter_inc(r->m_requests);

	/* The envelope and its signature, then the one body it carries, in
	 * an allocation of that body's size. */
	int err = proto_msg_open(req, len, &env, &q->ei);
	if (err == RF_OK) {
		size_t size = proto_msg_body_size(env.type);
		body = calloc(1, size > 0 ? size : 1);
		err = body == NULL ? rf_errf(&q->ei, RF_ERR_NOMEM, "no memory") :
		    proto_msg_body_decode(&env, body, size, &q->ei);
	}
	if (err == RF_OK) {
		q->env = &env;
		q->body = body;
	}
	const struct proto_env *msg = q->env;
	if (err != RF_OK) {
		log_warn_limited("rejected a %zu-byte request: %s", len,
		    q->ei.msg[0] ? q->ei.msg : rf_strerror(err));
		error_reply(q, proto_error_code_for(err), q->ei.msg[0] ?
		    q->ei.msg : rf_strerror(err));
	} else if (msg->suite != r->params.suite) {
		char why[64];
		snprintf(why, sizeof(why), "this network uses %s",
		    proto_hash_name(r->params.suite));
		error_reply(q, PROTO_ERR_VERSION, why);
	} else if (is_query(msg->type)) {
		store_lock(r->db);
		err = referee_handle_read(q);
		store_unlock(r->db);
		if (err != RF_OK && err != RF_ERR_REFUSED) {
			log_error_limited("query %s failed: %s",
			    proto_msg_type_name(msg->type), rf_strerror(err));
			error_reply(q, PROTO_ERR_INTERNAL, rf_strerror(err));
		}
	} else {
		err = handle_write(q, reply, reply_len);
		if (err != RF_OK && (err == RF_ERR_FULL || store_full(r->db))) {
			/* Said once in the log by the store; the client learns
			 * that nothing was applied and why. */
			error_reply(q, PROTO_ERR_DISK_FULL, "the referee's disk is "
			    "full: nothing was applied; retry later");
		} else if (err != RF_OK) {
			log_error_limited("%s failed: %s", proto_msg_type_name(msg->type),
			    q->ei.msg[0] ? q->ei.msg : rf_strerror(err));
			error_reply(q, PROTO_ERR_INTERNAL, "the referee failed; "
			    "retry");
		}
	}
	if (*reply == NULL) {
		if (take_reply(q, reply, reply_len) != RF_OK) {
			*reply = NULL;
			*reply_len = 0;
		}
	}
	if (q->out_type == PROTO_MSG_ERROR) {
		net_counter_inc(r->m_rejected);
		if (msg != NULL) {
			char k[65];
			proto_pubkey_hex(&msg->sender, k);
			k[12] = '\0';
			log_info_limited("refused %s from %s: %s",
			    proto_msg_type_name(msg->type), k, q->error.text);
		}
	}
	net_histogram_observe(r->m_latency, node_seconds_since(t0));
	free(q->out);
	if (body != NULL) {
		proto_msg_body_free(env.type, body);
	}
	referee_outbox_free(&q->events);
	free(body);
	free(q);
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                           */
/* ------------------------------------------------------------------ */

/* A genesis file is a page of text: anything larger is a mistake. */
#define GENESIS_FILE_MAX ((size_t)1 << 20)

/* True when path (or its write-ahead log) holds any byte: an existing
 * database, whatever state it is in. */
static bool
db_has_data(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && st.st_size > 0) {
		return true;
	}
	char wal[4096];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	return stat(wal, &st) == 0 && st.st_size > 0;
}

/* Makes a new ledger from the genesis file: --init only. */
static int
init_ledger(struct referee *r, struct rf_errinfo *ei)
{
	if (r->cfg->genesis_path == NULL) {
		return rf_errf(ei, RF_ERR_INVAL, "--init needs --genesis FILE");
	}
	uint8_t *text = NULL;
	size_t len = 0;
	int err = node_file_read(r->cfg->genesis_path, GENESIS_FILE_MAX, &text,
	    &len, ei);
	if (err != RF_OK) {
		return rf_errctx(ei, err, "genesis: ");
	}
	struct referee_genesis g;
	err = referee_genesis_parse((const char *)text, len, &g, ei);
	free(text);
	if (err != RF_OK) {
		return err;
	}
	/* The key first: a crash before the genesis commits leaves a
	 * database that --init may complete, and nothing else accepts. */
	err = store_owner_bind(r->db, r->cfg->identity.pk.b, true, ei);
	if (err == RF_OK) {
		err = referee_db_genesis(r, &g, ei);
	}
	if (err == RF_OK) {
		log_info("genesis: %zu accounts, suite %s, window %llu ms%s",
		    g.n_accounts, proto_hash_name(g.params.suite),
		    (unsigned long long)g.params.window_ms,
		    g.params.suite == PROTO_HASH_BLAKE2B ? " (the suite of "
		    "networks made before blake3; new ones should say 'suite "
		    "blake3-256': several times faster)" : "");
	}
	referee_genesis_free(&g);
	return err;
}

/*
 * Opens the database and decides whether this referee may run on it:
 * a new ledger only when told to (--init), never on a database that
 * another key wrote, never on a damaged one (store_open checks it).
 */
static int
setup_state(struct referee *r, struct rf_errinfo *ei)
{
	const char *path = r->cfg->db_path;
	bool init = r->cfg->init;
	if (!init && !db_has_data(path)) {
		return rf_errf(ei, RF_ERR_NOTFOUND, "database '%s' is missing or "
		    "empty: refusing to start a new ledger (the history would be "
		    "lost). For a new network, start once with --init --genesis "
		    "FILE; otherwise restore the database", path);
	}
	int err = store_open(path, referee_schema, referee_schema_len, &r->db,
	    ei);
	if (err != RF_OK) {
		return err;
	}
	err = referee_db_load_params(r, ei);
	if (err == RF_ERR_NOTFOUND) {
		if (!init) {
			return rf_errf(ei, RF_ERR_NOTFOUND, "database '%s' holds no "
			    "ledger: refusing to start a new one without --init",
			    path);
		}
		return init_ledger(r, ei);
	}
	if (err != RF_OK) {
		return err;
	}
	if (init) {
		return rf_errf(ei, RF_ERR_INVAL, "database '%s' already holds a "
		    "ledger: --init is for a new one; start without it", path);
	}
	/* A restart: the database is the truth, and it must be ours. */
	err = store_owner_bind(r->db, r->cfg->identity.pk.b, false, ei);
	if (err == RF_ERR_NOTFOUND) {
		/* Written before referees recorded their key. */
		log_warn("database '%s' records no referee key: recording this "
		    "one", path);
		err = store_owner_bind(r->db, r->cfg->identity.pk.b, true, ei);
	}
	if (err == RF_ERR_CRYPTO) {
		rf_errctx(ei, err, "database '%s': wrong --identity, or another "
		    "node's database: ", path);
	}
	return err;
}

static void
setup_metrics(struct referee *r)
{
	r->metrics = net_metrics_alloc("refute_referee");
	if (r->metrics == NULL) {
		return;
	}
	struct net_metrics *m = r->metrics;
	r->m_requests = net_metrics_counter(m, "requests_total", NULL,
	    "Requests received");
	r->m_rejected = net_metrics_counter(m, "rejected_total", NULL,
	    "Requests answered with an error");
	r->m_jobs = net_metrics_counter(m, "jobs_total", NULL, "Jobs accepted");
	r->m_claims = net_metrics_counter(m, "claims_total", NULL,
	    "Claims accepted");
	r->m_final = net_metrics_counter(m, "claims_final_total", NULL,
	    "Claims finalised after their window");
	r->m_disputes = net_metrics_counter(m, "disputes_total", NULL,
	    "Disputes opened");
	r->m_verdicts = net_metrics_counter(m, "verdicts_total", NULL,
	    "Disputes decided");
	/* Not _total: a gauge (the exposition format keeps that suffix for
	 * counters). */
	r->m_ledger = net_metrics_gauge(m, "ledger_tokens", NULL,
	    "Sum of balances, stakes, escrow, bonds and burned");
	r->m_halted = net_metrics_gauge(m, "halted", NULL,
	    "1 when the ledger failed its check and writes are refused");
	r->m_latency = net_metrics_histogram(m, "request_seconds", NULL,
	    "Time to handle a request", NULL, 0);
	referee_gauges_setup(r);
}

int
referee_run(const struct referee_config *cfg, volatile sig_atomic_t *stop,
    struct rf_errinfo *ei)
{
	struct referee r;
	memset(&r, 0, sizeof(r));
	r.cfg = cfg;
	r.stop = stop;
	/* Our sequence numbers start at the wall clock in microseconds, so a
	 * restarted referee keeps them increasing without storing them. */
	atomic_store(&r.out_seq, node_wall_us());

	setup_metrics(&r);
	int err = setup_state(&r, ei);
	if (err == RF_OK) {
		err = referee_restart_resume(&r, ei); /* before anything is served */
	}
	if (err == RF_OK) {
		/* Before serving: a ledger damaged while the referee was down
		 * is served read-only from the first request on. */
		referee_ledger_check(&r);
		/* SQLite copies the WAL back into the database inside the
		 * commit that takes it past the threshold, holding the store
		 * lock: at the default 1000 pages that is a 5-7 ms stall every
		 * ~90 claims, which sets the p99 latency. A quarter of it makes
		 * four stalls as short, each below 2 ms; the total work and
		 * durability are the same. */
		store_lock(r.db);
		err = store_exec(r.db, "PRAGMA wal_autocheckpoint = "
		    WAL_CHECKPOINT_PAGES, ei);
		/* The journal of each request's savepoint (writer.c) in
		 * memory: in a file it costs an open, an unlink and a close
		 * per batch. It is undo state for the open transaction only,
		 * never needed after a crash. */
		if (err == RF_OK) {
			err = store_exec(r.db, "PRAGMA temp_store = MEMORY", ei);
		}
		store_unlock(r.db);
	}

	if (err == RF_OK && cfg->metrics_addr != NULL && r.metrics != NULL) {
		err = net_metrics_serve(r.metrics, cfg->metrics_addr, &r.http, ei);
	}
	if (err == RF_OK) {
		err = net_pub_open(cfg->events_url, &r.pub, ei);
	}
	if (err == RF_OK) {
		err = referee_writer_start(&r);
	}
	if (err == RF_OK) {
		err = net_server_start(cfg->listen_url, cfg->workers ?
		    cfg->workers : 16, PROTO_MAX_MESSAGE, on_request, &r, &r.server,
		    ei);
	}
	if (err == RF_OK) {
		err = referee_timers_start(&r);
	}
	if (err == RF_OK) {
		char k[65];
		proto_pubkey_hex(&cfg->identity.pk, k);
		log_info("referee %s serving %s, events on %s", k,
		    cfg->listen_url, cfg->events_url);
		while (!*stop) {
			usleep(50 * 1000);
		}
		log_info("referee stopping");
	}
	referee_timers_stop(&r);
	/* Workers still waiting for a batch get it from the writer, which
	 * stops only after them. */
	net_server_free(r.server);
	referee_writer_stop(&r);
	net_pub_close(r.pub);
	net_http_stop(r.http);
	net_metrics_free(r.metrics);
	referee_db_cache_free(&r);
	store_close(r.db);
	return err;
}
