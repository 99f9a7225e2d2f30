/*
 * tests/integration/audit_test.c - `refute audit` trusts nothing but the
 * network's genesis.
 *
 * Real verdicts come from `refute devnet` networks: a lying executor caught
 * by two challengers (verdicts by recomputation, and the second dispute
 * settled), an honest executor against a false challenger (the executor
 * wins), and a silent liar (a timeout). Every one of them is CONFIRMED.
 * Then the adversary: a referee (holding the referee's real key, or a
 * fresh one) edits verdicts and signs them again. Refused, every time:
 * a verdict signed by any other key; altered slashed or reward; another
 * winner, reason, operator or round count; a transcript cut short; a
 * transcript without the client's job, or with another job's. And the key
 * the audit pins from the genesis is the only one a referee may start
 * with on that genesis.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "node/node.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

#define OUT_MAX (1 << 16)
#define MAX_VERDICTS 64
#define MAX_ENTRIES 256

static char tmpdir[256];
static char *out;

struct verdict {
	uint8_t *buf;
	size_t len;
	char net[32];   /* which network made it */
	uint8_t reason;
	uint8_t executor_won;
	uint64_t slashed;
	struct proto_digest job;
};

static struct verdict verdicts[MAX_VERDICTS];
static size_t n_verdicts;

static const char *const nets[] = { "lie", "false", "silent" };
static const char *const net_flags[] = {
	"--challengers 2 --faulty 1 --fault lie-at-op --fault-op 2",
	"--faulty-challengers 1 --challenger-fault false-challenge",
	"--faulty 1 --fault silent --fault-op 2",
};

/* Every verdict in a network's referee database. */
static void
collect(const char *net)
{
	char db[512];
	snprintf(db, sizeof(db), "%s/%s/referee.db", tmpdir, net);
	sqlite3 *h;
	CU_ASSERT_FATAL(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK);
	sqlite3_stmt *st;
	CU_ASSERT_FATAL(sqlite3_prepare_v2(h, "SELECT verdict FROM disputes "
	    "WHERE verdict IS NOT NULL ORDER BY opened_ms", -1, &st, NULL) ==
	    SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW && n_verdicts < MAX_VERDICTS) {
		struct verdict *v = &verdicts[n_verdicts++];
		v->len = (size_t)sqlite3_column_bytes(st, 0);
		v->buf = malloc(v->len);
		memcpy(v->buf, sqlite3_column_blob(st, 0), v->len);
		snprintf(v->net, sizeof(v->net), "%s", net);
		struct adv_msg m;
		CU_ASSERT_FATAL(adv_msg_decode(v->buf, v->len, &m, NULL) == RF_OK);
		v->reason = m.u.verdict.reason;
		v->executor_won = m.u.verdict.executor_won;
		v->slashed = m.u.verdict.slashed;
		v->job = m.u.verdict.job_id;
		adv_msg_free(&m);
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
}

static int
setup(void)
{
	if (proto_init() != RF_OK) {
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rf-audit-XXXXXX");
	if (mkdtemp(tmpdir) == NULL || (out = malloc(OUT_MAX)) == NULL) {
		return 1;
	}
	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
		int rc = test_shell(out, OUT_MAX, tmpdir, 0, "%s devnet --executors "
		    "2 --jobs 4 --window-ms 1500 --clock-ms 1500 --timeout 90 "
		    "--dir %s --keep --json %s 2>/dev/null", test_refute(), nets[i],
		    net_flags[i]);
		if (rc != 0) {
			printf("devnet %s: exit %d\n%.2000s\n", nets[i], rc, out);
			return 1;
		}
	}
	return 0;
}

static int
teardown(void)
{
	for (size_t i = 0; i < n_verdicts; i++) {
		free(verdicts[i].buf);
	}
	free(out);
	if (getenv("RF_TEST_KEEP") != NULL) {
		fprintf(stderr, "kept %s\n", tmpdir);
		return 0;
	}
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) != 0;
}

/* Writes buf and audits it against net's genesis (extra: more flags).
 * Returns the exit code; a 0 must come with CONFIRMED, anything else
 * without it. */
static int
audit(const char *net, const uint8_t *buf, size_t len, const char *extra)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/verdict.bin", tmpdir);
	CU_ASSERT_FATAL(test_write_file(path, buf, len, 0644) == 0);
	int rc = test_shell(out, OUT_MAX, tmpdir, 1, "%s audit --genesis "
	    "%s/genesis %s %s", test_refute(), net, extra, path);
	bool confirmed = strstr(out, "CONFIRMED") != NULL;
	CU_ASSERT(rc == 0 ? confirmed : !confirmed);
	return rc;
}

static void
load_key(const char *net, struct proto_identity *id)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s/referee.key", tmpdir, net);
	size_t len;
	uint8_t *text = test_read_file(path, &len);
	CU_ASSERT_FATAL(text != NULL);
	CU_ASSERT_FATAL(proto_identity_parse((const char *)text, len, id, NULL) ==
	    RF_OK);
	free(text);
}

/* The transcript's entries: offsets and lengths of each envelope. */
struct entries {
	size_t n;
	size_t off[MAX_ENTRIES], len[MAX_ENTRIES];
};

static void
split_transcript(const struct proto_verdict *v, struct entries *e)
{
	e->n = 0;
	size_t p = 0;
	while (p + 4 <= v->transcript_len && e->n < MAX_ENTRIES) {
		const uint8_t *t = v->transcript + p;
		size_t l = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 |
		    (size_t)t[3] << 24;
		e->off[e->n] = p;
		e->len[e->n] = 4 + l;
		e->n++;
		p += 4 + l;
	}
	CU_ASSERT_FATAL(p == v->transcript_len);
}

/* A transcript of entries [0, keep) with entry `drop` left out (or none:
 * drop >= keep) and entry `swap` (if swap < keep) taken from other. */
static void
rebuild(struct proto_verdict *v, const struct entries *e, size_t keep,
    size_t drop, size_t swap, const uint8_t *other, size_t other_len)
{
	uint8_t *t = malloc(v->transcript_len + other_len + 4);
	size_t n = 0;
	for (size_t i = 0; i < keep && i < e->n; i++) {
		if (i == drop) {
			continue;
		}
		if (i == swap) {
			memcpy(t + n, other, other_len);
			n += other_len;
			continue;
		}
		memcpy(t + n, v->transcript + e->off[i], e->len[i]);
		n += e->len[i];
	}
	free(v->transcript);
	v->transcript = t;
	v->transcript_len = n;
}

enum edit {
	E_NONE,
	E_SLASHED,
	E_SLASHED_DOUBLE,
	E_REWARD,
	E_REWARD_ALL,
	E_WINNER,
	E_ROUNDS,
	E_OP,
	E_REASON_TIMEOUT,
	E_CUT_LAST,
	E_CUT_TWO,
	E_CUT_TIMEOUT,
	E_NO_JOB,
	E_OTHER_JOB,
};

/* A re-signed copy of verdict x with one edit, signed by id. */
static void
forge(const struct verdict *x, enum edit ed, const struct proto_identity *id,
    const struct verdict *donor, uint8_t **buf, size_t *len)
{
	struct adv_msg m;
	CU_ASSERT_FATAL(adv_msg_decode(x->buf, x->len, &m, NULL) == RF_OK);
	struct proto_verdict *v = &m.u.verdict;
	struct entries e;
	split_transcript(v, &e);
	switch (ed) {
	case E_NONE:
		break;
	case E_SLASHED:
		v->slashed += 1;
		break;
	case E_SLASHED_DOUBLE:
		v->slashed *= 2;
		break;
	case E_REWARD:
		v->reward += 1;
		break;
	case E_REWARD_ALL:
		v->reward = v->slashed;
		break;
	case E_WINNER:
		v->executor_won = !v->executor_won;
		break;
	case E_ROUNDS:
		v->rounds += 1;
		break;
	case E_OP:
		v->op += 1;
		break;
	case E_REASON_TIMEOUT:
		v->reason = PROTO_VERDICT_TIMEOUT;
		break;
	case E_CUT_LAST:
		rebuild(v, &e, e.n - 1, SIZE_MAX, SIZE_MAX, NULL, 0);
		break;
	case E_CUT_TWO:
		rebuild(v, &e, e.n - 2, SIZE_MAX, SIZE_MAX, NULL, 0);
		break;
	case E_CUT_TIMEOUT:
		/* Drop the winner's last move and blame the loser's clock. */
		rebuild(v, &e, e.n - 1, SIZE_MAX, SIZE_MAX, NULL, 0);
		v->reason = PROTO_VERDICT_TIMEOUT;
		break;
	case E_NO_JOB:
		rebuild(v, &e, e.n, 3, SIZE_MAX, NULL, 0);
		break;
	case E_OTHER_JOB: {
		struct adv_msg dm;
		CU_ASSERT_FATAL(adv_msg_decode(donor->buf, donor->len, &dm,
		    NULL) == RF_OK);
		struct entries de;
		split_transcript(&dm.u.verdict, &de);
		rebuild(v, &e, e.n, SIZE_MAX, 3, dm.u.verdict.transcript +
		    de.off[3], de.len[3]);
		adv_msg_free(&dm);
		break;
	}
	}
	m.sender = id->pk;
	m.seq++;
	CU_ASSERT_FATAL(adv_msg_pack(&m, id, buf, len) == RF_OK);
	adv_msg_free(&m);
}

/* Audits x edited by ed and signed by id; returns the exit code. */
static int
audit_forged(const struct verdict *x, enum edit ed,
    const struct proto_identity *id, const struct verdict *donor,
    const char *extra)
{
	uint8_t *buf;
	size_t len;
	forge(x, ed, id, donor, &buf, &len);
	int rc = audit(x->net, buf, len, extra);
	free(buf);
	return rc;
}

static void
test_honest_confirmed(void)
{
	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
		collect(nets[i]);
	}
	size_t recomputed = 0, settled = 0, timeouts = 0, executor = 0;
	for (size_t i = 0; i < n_verdicts; i++) {
		const struct verdict *x = &verdicts[i];
		int rc = audit(x->net, x->buf, x->len, "");
		if (rc != 0) {
			printf("\n%s verdict %zu (%s): %s\n", x->net, i,
			    proto_verdict_reason_name(x->reason), out);
		}
		CU_ASSERT_EQUAL(rc, 0);
		recomputed += x->reason == PROTO_VERDICT_RECOMPUTED;
		settled += x->reason == PROTO_VERDICT_SETTLED;
		timeouts += x->reason == PROTO_VERDICT_TIMEOUT;
		executor += x->executor_won;
	}
	/* Every kind of verdict was seen. */
	CU_ASSERT(recomputed > 0);
	CU_ASSERT(timeouts > 0);
	CU_ASSERT(executor > 0);
	CU_ASSERT(settled > 0);
	/* Re-signed by the referee's own key, unchanged: still confirmed
	 * (the forging itself changes nothing the audit checks). */
	struct proto_identity real;
	load_key(verdicts[0].net, &real);
	CU_ASSERT_EQUAL(audit_forged(&verdicts[0], E_NONE, &real, NULL, ""), 0);
	proto_identity_wipe(&real);
}

static void
test_other_key_refused(void)
{
	struct proto_identity fresh;
	CU_ASSERT_FATAL(proto_identity_generate(&fresh) == RF_OK);
	char hex[65], extra[128];
	proto_pubkey_hex(&fresh.pk, hex);
	snprintf(extra, sizeof(extra), "--referee-key %s", hex);
	for (size_t i = 0; i < n_verdicts; i++) {
		CU_ASSERT_NOT_EQUAL(audit_forged(&verdicts[i], E_NONE, &fresh, NULL,
		    ""), 0);
		CU_ASSERT(strstr(out, "not by the network's referee") != NULL);
		/* A key that disagrees with the genesis is no way out. */
		CU_ASSERT_NOT_EQUAL(audit_forged(&verdicts[i], E_NONE, &fresh, NULL,
		    extra), 0);
	}
	proto_identity_wipe(&fresh);
}

/* Each edit of every verdict, signed with the real referee key. */
static void
refuse_edit(enum edit ed, bool (*applies)(const struct verdict *))
{
	size_t tried = 0;
	for (size_t i = 0; i < n_verdicts; i++) {
		const struct verdict *x = &verdicts[i];
		if (applies != NULL && !applies(x)) {
			continue;
		}
		const struct verdict *donor = NULL;
		for (size_t j = 0; j < n_verdicts && donor == NULL; j++) {
			/* Another job of the same network. */
			if (strcmp(verdicts[j].net, x->net) == 0 &&
			    memcmp(&verdicts[j].job, &x->job, sizeof(x->job)) != 0) {
				donor = &verdicts[j];
			}
		}
		if (ed == E_OTHER_JOB && donor == NULL) {
			continue;
		}
		struct proto_identity real;
		load_key(x->net, &real);
		int rc = audit_forged(x, ed, &real, donor, "");
		proto_identity_wipe(&real);
		if (rc == 0) {
			printf("\nedit %d of %s verdict %zu (%s) confirmed\n", (int)ed,
			    x->net, i, proto_verdict_reason_name(x->reason));
		}
		CU_ASSERT_NOT_EQUAL(rc, 0);
		if (getenv("RF_AUDIT_SHOW") != NULL) {
			printf("\nedit %d, %s verdict %zu: %.300s", (int)ed, x->net, i,
			    out);
		}
		tried++;
	}
	CU_ASSERT(tried > 0);
}

static bool
decided_by_game(const struct verdict *x)
{
	return x->reason == PROTO_VERDICT_RECOMPUTED ||
	    x->reason == PROTO_VERDICT_TIMEOUT;
}

static bool
recomputed(const struct verdict *x)
{
	return x->reason == PROTO_VERDICT_RECOMPUTED;
}

static bool
slashed_by_rules(const struct verdict *x)
{
	return x->executor_won || x->reason == PROTO_VERDICT_SETTLED;
}

static bool
claim_fell_with_stake(const struct verdict *x)
{
	return !x->executor_won && x->reason != PROTO_VERDICT_SETTLED &&
	    x->slashed > 0;
}

static bool
executor_won_recomputed(const struct verdict *x)
{
	return x->reason == PROTO_VERDICT_RECOMPUTED && x->executor_won;
}

static void
test_amounts_refused(void)
{
	/* Where the rules fix slashed (the bond, or nothing when settled). */
	refuse_edit(E_SLASHED, slashed_by_rules);
	/* A fallen claim's slashed is the ledger's stake; the reward must be
	 * reward_pct of it whatever it is. */
	refuse_edit(E_SLASHED_DOUBLE, claim_fell_with_stake);
	refuse_edit(E_REWARD, NULL);
	refuse_edit(E_REWARD_ALL, claim_fell_with_stake);
}

static void
test_outcome_refused(void)
{
	refuse_edit(E_WINNER, NULL);
	refuse_edit(E_ROUNDS, NULL);
	refuse_edit(E_OP, NULL);
	/* A recomputation the executor won cannot become a timeout. (One it
	 * lost can: its reveal, the transcript's last entry, would then have
	 * come late; winner and amounts stay the same.) */
	refuse_edit(E_REASON_TIMEOUT, executor_won_recomputed);
}

static void
test_truncated_refused(void)
{
	refuse_edit(E_CUT_LAST, recomputed);
	refuse_edit(E_CUT_TWO, decided_by_game);
	/* The executor won by recomputation: dropping its reveal cannot make
	 * the challenger's clock the one that ran out. */
	refuse_edit(E_CUT_TIMEOUT, executor_won_recomputed);
}

static void
test_job_refused(void)
{
	refuse_edit(E_NO_JOB, NULL);
	refuse_edit(E_OTHER_JOB, NULL);
}

/* The key an audit pins is the key the referee must run with: a referee
 * refuses to start on a genesis that names another one. */
static void
test_genesis_names_referee(void)
{
	int rc = test_shell(out, OUT_MAX, tmpdir, 1, "%s keygen -o other.key && "
	    "timeout 30 %s referee -k other.key -g lie/genesis -d other.db --init "
	    "-l tcp://127.0.0.1:%d -e tcp://127.0.0.1:%d", test_refute(),
	    test_refute(), test_free_port(), test_free_port());
	CU_ASSERT(rc != 0 && rc != 124);
	CU_ASSERT(strstr(out, "names another referee") != NULL);
}

/* Submits a job with one f32 input of n elements; the reply's error text
 * (empty for an ACK) goes to text. */
static int
submit(struct node_rpc *rpc, int64_t n, uint64_t nonce, char *text,
    size_t cap)
{
	struct adv_msg req, reply;
	adv_msg_init(&req, PROTO_MSG_JOB_SUBMIT, PROTO_HASH_BLAKE3);
	struct proto_job_submit *js = &req.u.job_submit;
	js->n_inputs = 1;
	js->nonce = nonce;
	int64_t dims[1] = { n };
	CU_ASSERT_FATAL(engine_tensor_init(&js->inputs[0], TENSOR_F32, 1, dims) ==
	    RF_OK);
	int err = adv_rpc_call(rpc, &req, &reply, NULL);
	adv_msg_free(&req);
	text[0] = '\0';
	if (err == RF_OK && reply.type == PROTO_MSG_ERROR) {
		snprintf(text, cap, "%s", reply.u.error.text);
	}
	if (err == RF_OK) {
		adv_msg_free(&reply);
	}
	return err;
}

/* A job's signed request opens every transcript of a dispute on it, so
 * the referee takes none too large to fit one. */
static void
test_job_fits_transcript(void)
{
	char url[64], ev[64], key[512], gen[512], db[512], log[512];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", test_free_port());
	snprintf(ev, sizeof(ev), "tcp://127.0.0.1:%d", test_free_port());
	snprintf(key, sizeof(key), "%s/lie/referee.key", tmpdir);
	snprintf(gen, sizeof(gen), "%s/lie/genesis", tmpdir);
	snprintf(db, sizeof(db), "%s/big.db", tmpdir);
	snprintf(log, sizeof(log), "%s/big.log", tmpdir);
	const char *a[] = { "referee", "-k", key, "-g", gen, "-d", db, "-l", url,
		"-e", ev, "--init", NULL };
	pid_t pid = test_spawn(log, a);
	CU_ASSERT_FATAL(pid > 0);
	struct proto_identity client, ref;
	CU_ASSERT_FATAL(proto_identity_generate(&client) == RF_OK);
	load_key("lie", &ref);
	struct node_rpc rpc;
	/* The devnet's genesis names blake3-256. */
	CU_ASSERT_FATAL(node_rpc_open(&rpc, url, &client, PROTO_HASH_BLAKE3,
	    &ref.pk, NULL) == RF_OK);
	rpc.timeout_ms = 1000;
	rpc.retries = 30;
	struct adv_msg reg, reply;
	adv_msg_init(&reg, PROTO_MSG_NODE_REGISTER, PROTO_HASH_BLAKE3);
	reg.u.node_register.roles = PROTO_ROLE_CLIENT;
	CU_ASSERT_FATAL(adv_rpc_call(&rpc, &reg, &reply, NULL) == RF_OK);
	CU_ASSERT_EQUAL(reply.type, PROTO_MSG_ACK);
	adv_msg_free(&reply);
	char text[PROTO_MAX_TEXT + 1];
	/* 9 MiB of input: refused for its size. */
	CU_ASSERT(submit(&rpc, 9 << 18, 1, text, sizeof(text)) == RF_OK);
	CU_ASSERT(strstr(text, "must fit a dispute's transcript") != NULL);
	/* 7 MiB: past the size check (refused for its unknown model). */
	CU_ASSERT(submit(&rpc, 7 << 18, 2, text, sizeof(text)) == RF_OK);
	CU_ASSERT(strstr(text, "unknown model") != NULL);
	node_rpc_close(&rpc);
	proto_identity_wipe(&client);
	proto_identity_wipe(&ref);
	CU_ASSERT_EQUAL(test_stop(pid, 10000), 0);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "honest verdicts are confirmed", test_honest_confirmed },
		{ "a verdict signed by another key is refused",
		    test_other_key_refused },
		{ "altered amounts are refused", test_amounts_refused },
		{ "another winner, reason, operator or rounds is refused",
		    test_outcome_refused },
		{ "a transcript cut short is refused", test_truncated_refused },
		{ "a transcript without the client's job is refused",
		    test_job_refused },
		{ "a referee refuses a genesis naming another key",
		    test_genesis_names_referee },
		{ "a job too large for a transcript is refused",
		    test_job_fits_transcript },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "audit", setup, teardown, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
