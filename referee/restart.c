/*
 * referee/restart.c - clocks do not run while the referee is down.
 *
 * Dispute clocks and challenge windows are stored as wall-clock times
 * (when a move was asked, when a window ends). Without care, a referee
 * down for longer than a side's remaining clock would, on its first tick
 * after restarting, find that side out of time: the side would lose for
 * the referee's downtime, and an honest executor would be slashed.
 *
 * So the timer thread records a heartbeat (meta 'alive_ms', the wall
 * clock) in the database on every tick, and before a restarted referee
 * serves anything it shifts every open game's timing forward by the time
 * since the last heartbeat (an upper bound on the downtime: at most one
 * tick is given away) plus a grace period (genesis 'grace_ms'), so that
 * nodes which were waiting for the referee can reconnect and move. The
 * shift, the rewrite of each open game in the current encoding, and the
 * new heartbeat are one transaction. Shifted: each open dispute's
 * asked_ms (its clocks count from there), and the challenge window of
 * every claim not yet final or void (challengers cannot challenge a
 * referee that is down either), and the deadline of every open job.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "bisect/bisect.h"
#include "referee/referee_int.h"

/* Games rewritten per statement: bounded memory however many are open. */
#define RESUME_BATCH 16
/* Far beyond any clock; keeps shifted times below the codec's 2^62. */
#define SHIFT_MAX ((uint64_t)1 << 60)

int
referee_restart_heartbeat(struct referee *r, uint64_t now_ms)
{
	int err = store_begin(r->db, NULL);
	if (err != RF_OK) {
		return err;
	}
	err = referee_db_run(r, "INSERT INTO meta (key, value) VALUES ('alive_ms', ?1) "
	    "ON CONFLICT (key) DO UPDATE SET value = ?1", "i",
	    (int64_t)now_ms);
	if (err != RF_OK) {
		store_rollback(r->db);
		return err;
	}
	return store_commit(r->db, NULL);
}

/* Shifts one stored game; false (with a log line) when it is damaged. */
static bool
shift_game(struct referee *r, const uint8_t *blob, size_t len,
    uint64_t shift, const struct proto_digest *id, uint8_t *out,
    size_t *out_len)
{
	struct bisect_game g;
	char hex[13];
	node_short_hex(id->b, hex);
	if (bisect_game_decode(blob, len, &g, NULL) != RF_OK) {
		log_error("dispute %s: the stored game is damaged; its clocks "
		    "cannot be resumed", hex);
		return false;
	}
	uint64_t limit = ((uint64_t)1 << 62) - 1;
	g.asked_ms = g.asked_ms > limit - shift ? limit : g.asked_ms + shift;
	return bisect_game_encode(&g, out, out_len) == RF_OK;
}

/* The open disputes after rowid *last, at most RESUME_BATCH of them. */
static int
resume_batch(struct referee *r, uint64_t shift, int64_t *last, size_t *n,
    size_t *damaged)
{
	struct proto_digest ids[RESUME_BATCH];
	int64_t rowids[RESUME_BATCH];
	size_t lens[RESUME_BATCH];
	bool ok[RESUME_BATCH];
	sqlite3_stmt *st;
	*n = 0;
	/* The encoded games are 60 KB together: on the heap. */
	uint8_t (*games)[BISECT_GAME_MAX_ENCODED] = malloc(RESUME_BATCH *
	    sizeof(*games));
	if (games == NULL) {
		return RF_ERR_NOMEM;
	}
	int err = referee_db_stmt(r, &st, "SELECT rowid, dispute_id, game FROM disputes "
	    "WHERE state = 1 AND rowid > ?1 ORDER BY rowid LIMIT ?2", "ii",
	    *last, (int64_t)RESUME_BATCH);
	if (err != RF_OK) {
		free(games);
		return err;
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < RESUME_BATCH) {
		size_t i = (*n)++;
		rowids[i] = sqlite3_column_int64(st, 0);
		referee_db_col_digest(r, st, 1, &ids[i]);
		ok[i] = shift_game(r, sqlite3_column_blob(st, 2),
		    (size_t)sqlite3_column_bytes(st, 2), shift, &ids[i], games[i],
		    &lens[i]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		free(games);
		return RF_ERR_STORE;
	}
	for (size_t i = 0; i < *n && err == RF_OK; i++) {
		*last = rowids[i];
		if (!ok[i]) {
			(*damaged)++;
			continue;
		}
		err = referee_db_run(r, "UPDATE disputes SET game = ?2 WHERE rowid = ?1",
		    "ib", rowids[i], games[i], lens[i]);
	}
	free(games);
	return err;
}

int
referee_restart_resume(struct referee *r, struct rf_errinfo *ei)
{
	uint64_t now = node_wall_ms();
	int err = store_begin(r->db, ei);
	if (err != RF_OK) {
		return err;
	}
	int64_t grace = 0, alive = 0;
	err = referee_db_meta_get(r, "grace_ms", &grace);
	if (err == RF_ERR_NOTFOUND) {
		/* A database from before grace_ms existed, or genesis just now:
		 * the parameter becomes part of the network's state. */
		grace = (int64_t)r->params.grace_ms;
		err = referee_db_run(r, "INSERT INTO meta (key, value) VALUES "
		    "('grace_ms', ?1)", "i", grace);
	}
	if (err == RF_OK) {
		r->params.grace_ms = (uint64_t)grace;
		err = referee_db_meta_get(r, "alive_ms", &alive);
	}
	size_t games = 0, damaged = 0;
	uint64_t down = 0;
	if (err == RF_OK) {
		/* A clock set back since then gives no downtime, never a
		 * negative one. */
		down = now > (uint64_t)alive ? now - (uint64_t)alive : 0;
		uint64_t shift = down + r->params.grace_ms;
		shift = shift < SHIFT_MAX ? shift : SHIFT_MAX;
		err = referee_db_run(r, "UPDATE claims SET window_end_ms = window_end_ms + "
		    "?1 WHERE state IN (2, 3)", "i", (int64_t)shift);
		if (err == RF_OK) {
			/* Nor does an open job's deadline (chain_job_expire):
			 * an executor cannot claim while the referee is down. */
			err = referee_db_run(r, "UPDATE jobs SET deadline_ms = deadline_ms + "
			    "?1 WHERE state = 1", "i", (int64_t)shift);
		}
		int64_t last = 0;
		for (size_t n = RESUME_BATCH; err == RF_OK && n == RESUME_BATCH;) {
			err = resume_batch(r, shift, &last, &n, &damaged);
			games += n;
		}
	} else if (err == RF_ERR_NOTFOUND) {
		err = RF_OK; /* first start: nothing was running */
	}
	if (err == RF_OK) {
		err = referee_db_run(r, "INSERT INTO meta (key, value) VALUES ('alive_ms', "
		    "?1) ON CONFLICT (key) DO UPDATE SET value = ?1", "i",
		    (int64_t)now);
	}
	if (err != RF_OK) {
		store_rollback(r->db);
		return rf_errf(ei, err, "cannot resume the clocks: %s",
		    rf_strerror(err));
	}
	err = store_commit(r->db, ei);
	if (err == RF_OK && alive != 0) {
		log_info("down for %llu ms: %zu open disputes and every open "
		    "challenge window resume with %llu ms of grace",
		    (unsigned long long)down, games - damaged,
		    (unsigned long long)r->params.grace_ms);
	}
	if (damaged > 0) {
		log_error("%zu open disputes have damaged stored games", damaged);
	}
	return err;
}
