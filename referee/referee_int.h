/*
 * referee/referee_int.h - shared inside referee/ only.
 */
#ifndef RF_REFEREE_INT_H
#define RF_REFEREE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "../net/net.h"
#include "../store/store.h"
#include "referee.h"

struct referee {
	const struct referee_config *cfg;
	struct referee_params params;
	struct store *db;
	struct net_server *server;
	struct net_pub *pub;
	struct net_metrics *metrics;
	struct net_http *http;
	_Atomic uint64_t out_seq; /* sequence of our own envelopes */
	volatile sig_atomic_t *stop;
	pthread_t timer;
	bool timer_started;
	/* metrics */
	struct net_counter *m_requests, *m_rejected, *m_claims, *m_final;
	struct net_counter *m_jobs, *m_disputes, *m_verdicts;
	struct net_gauge *m_ledger;
	struct net_histogram *m_latency;
};

/* Signed events waiting for their transaction to commit. */
#define OUTBOX_MAX 64

struct outbox {
	uint8_t *msg[OUTBOX_MAX];
	size_t len[OUTBOX_MAX];
	size_t n;
};

/* One request being handled. */
struct request {
	struct referee *r;
	const struct proto_msg *msg;
	const uint8_t *raw;
	size_t raw_len;
	uint64_t now_ms;
	struct proto_msg reply;
	struct outbox events;
	struct rf_errinfo ei;
};

/* A handler's business refusal: the reply is an ERROR, the handler's
 * changes are rolled back, the request's sequence number is consumed. */
#define REFUSED (-1)

int req_refuse(struct request *q, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Replies ACK with an id (may be NULL). */
void req_ack(struct request *q, const struct proto_digest *id);

/* Time in unix milliseconds. */
uint64_t referee_now_ms(void);
/* Next sequence number for an envelope we sign. */
uint64_t referee_next_seq(struct referee *r);
/* Signs and encodes m as the referee (sender and seq filled in). */
int referee_encode(struct referee *r, struct proto_msg *m, uint8_t **buf,
    size_t *len);

/* Statement helpers: arguments are bound by a format string, one letter
 * per ?N: 'k' public key (const struct proto_pubkey *), 'd' digest
 * (const struct proto_digest *, suite length), 'b' blob (const void *,
 * size_t), 'i' int64, 't' text (const char *). */
int db_stmt(struct referee *r, sqlite3_stmt **st, const char *sql,
    const char *fmt, ...);
/* Runs a statement that returns no rows; RF_OK or RF_ERR_STORE. */
int db_run(struct referee *r, const char *sql, const char *fmt, ...);
/* Copies a digest column. */
void db_col_digest(struct referee *r, sqlite3_stmt *st, int col,
    struct proto_digest *d);
void db_col_key(sqlite3_stmt *st, int col, struct proto_pubkey *k);

/* Schema (referee/db.c). */
extern const char *const referee_schema[];
extern const size_t referee_schema_len;
int db_load_params(struct referee *r, struct rf_errinfo *ei);
int db_genesis(struct referee *r, const struct referee_genesis *g,
    struct rf_errinfo *ei);
int db_meta_get(struct referee *r, const char *key, int64_t *v);
int db_meta_add(struct referee *r, const char *key, int64_t delta);

/* Ledger (referee/ledger.c), inside a transaction. */
struct account {
	bool exists;
	bool registered;
	uint8_t roles;
	uint64_t balance, stake;
	uint64_t last_seq;
};
int ledger_account(struct referee *r, const struct proto_pubkey *k,
    struct account *a);
int ledger_move(struct referee *r, const struct proto_pubkey *k,
    const char *from, const char *to, uint64_t amount);
int ledger_credit(struct referee *r, const struct proto_pubkey *k,
    const char *column, uint64_t amount);
int ledger_debit(struct referee *r, const struct proto_pubkey *k,
    const char *column, uint64_t amount);
int ledger_total(struct referee *r, uint64_t *total, uint64_t *burned);

/* Events (referee/events.c): appends to the log and the outbox. */
int event_emit(struct request *q, enum proto_event_kind kind,
    const struct proto_digest *job, const struct proto_digest *dispute,
    const struct proto_pubkey *subject, uint64_t value);
/* Publishes and frees the outbox (after commit). */
void outbox_flush(struct referee *r, struct outbox *o);
void outbox_free(struct outbox *o);

/* Handlers (referee/handlers.c). Each returns RF_OK with q->reply set,
 * REFUSED with an ERROR reply, or an internal error code. */
int handle_request(struct request *q);
int handle_read(struct request *q);

/* Disputes (referee/disputes.c). */
int h_challenge(struct request *q);
int h_answer(struct request *q);
int h_reveal(struct request *q);
int h_equivocation(struct request *q);
int r_dispute_fetch(struct request *q);
/* Slashes an executor shown to have signed claims a and b (envelopes)
 * for one job; reporter (may be NULL) gets the reward. */
int equivocation_apply(struct request *q, const uint8_t *a, size_t la,
    const uint8_t *b, size_t lb, const struct proto_pubkey *reporter);
/* Applies the clocks of open disputes; decides those that ran out. */
int disputes_tick(struct referee *r);

/* First 12 hex digits, for log lines. */
void referee_hex12(enum proto_hash suite, const struct proto_digest *d,
    char out[13]);
void referee_key12(const struct proto_pubkey *k, char out[13]);

/* The window timer (referee/timers.c). */
int timers_start(struct referee *r);
void timers_stop(struct referee *r);

#endif
