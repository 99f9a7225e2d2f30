/*
 * cmd/cmd_client.c - the client side: `refute submit` posts a job (and with
 * --wait follows it to finality), `refute status` shows the network.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "node/node.h"
#include "cmd/cli.h"
#include "cmd/cmds.h"

#define DEFAULT_REFEREE "tcp://127.0.0.1:7700"

/* Common connection options of client commands. */
struct client_opts {
	const char *referee;
	const char *identity;
	const char *referee_key;
	const char *hash;
};

static int
client_connect(const struct cli_cmd *cmd, const struct client_opts *o,
    struct node_rpc *rpc)
{
	if (proto_init() != RF_OK) {
		return cmd_fail(cmd, "cannot initialise libsodium");
	}
	enum proto_hash suite = PROTO_HASH_BLAKE3;
	if (o->hash != NULL && proto_hash_parse(o->hash, &suite) != RF_OK) {
		return cmd_usage_error(cmd,
		    "--hash must be blake3, blake2b or xxh3");
	}
	struct proto_identity id;
	if (o->identity != NULL) {
		int rc = cmd_load_identity(cmd, o->identity, &id);
		if (rc != CLI_EXIT_OK) {
			return rc;
		}
	} else if (proto_identity_generate(&id) != RF_OK) {
		return cmd_fail(cmd, "cannot make a key");
	}
	struct proto_pubkey rk;
	bool have_rk = false;
	if (o->referee_key != NULL) {
		if (proto_pubkey_parse_hex(o->referee_key, &rk) != RF_OK) {
			proto_identity_wipe(&id);
			return cmd_usage_error(cmd, "--referee-key must be 64 hex "
			    "digits");
		}
		have_rk = true;
	}
	struct rf_errinfo ei = { "" };
	/* The referee's network fixes the suite; a given --hash must match. */
	enum proto_hash theirs;
	int err = node_referee_suite(o->referee, &id, have_rk ? &rk : NULL,
	    &theirs, &ei);
	if (err != RF_OK) {
		proto_identity_wipe(&id);
		return cmd_fail_code(cmd, CLI_EXIT_NET, "cannot reach the referee "
		    "at %s: %s", o->referee, ei.msg);
	}
	if (o->hash != NULL && theirs != suite) {
		proto_identity_wipe(&id);
		return cmd_fail(cmd, "the referee's network uses the %s hash "
		    "suite, not %s: give --hash %s or no --hash",
		    proto_hash_name(theirs), proto_hash_name(suite),
		    proto_hash_name(theirs));
	}
	suite = theirs;
	err = node_rpc_open(rpc, o->referee, &id, suite,
	    have_rk ? &rk : NULL, &ei);
	proto_identity_wipe(&id);
	if (err != RF_OK) {
		return cmd_fail_code(cmd, CLI_EXIT_NET, "cannot reach the referee "
		    "at %s: %s", o->referee, ei.msg);
	}
	return CLI_EXIT_OK;
}

/* One request of type with its body, whose reply of type want is decoded
 * into reply (size bytes; NULL: only checked); on failure prints why and
 * returns an exit code. */
static int
client_call(const struct cli_cmd *cmd, struct node_rpc *rpc,
    enum proto_msg_type type, const void *req, enum proto_msg_type want,
    void *reply, size_t size)
{
	struct rf_errinfo ei = { "" };
	int err = node_rpc_expect(rpc, type, req, want, reply, size, &ei);
	if (err == RF_ERR_INVAL) {
		/* "referee: why" */
		return cmd_fail_code(cmd, CLI_EXIT_REFUSED, "%s", ei.msg);
	}
	if (err != RF_OK) {
		bool net = err == RF_ERR_TIMEOUT || err == RF_ERR_NET ||
		    err == RF_ERR_CLOSED;
		return cmd_fail_code(cmd, net ? CLI_EXIT_NET : CLI_EXIT_FAIL,
		    "%s: %s", proto_msg_type_name((int)type),
		    ei.msg[0] ? ei.msg : rf_strerror(err));
	}
	return CLI_EXIT_OK;
}

#define CLIENT_OPTS(o)                                                     \
	{ "referee", 'r', CLI_STR, &(o).referee, "URL",                    \
	    "the referee (default " DEFAULT_REFEREE ")" },                 \
	{ "identity", 'k', CLI_STR, &(o).identity, "FILE",                 \
	    "sign as this identity (default: a throwaway key)" },          \
	{ "referee-key", 0, CLI_STR, &(o).referee_key, "HEX",              \
	    "accept replies signed by this key only" },                    \
	{ "hash", 0, CLI_STR, &(o).hash, "SUITE",                          \
	    "the network's hash suite, blake3, blake2b or xxh3\n"         \
	    "                             (default: the referee's)" }

/* ------------------------------------------------------------------ */
/* status                                                               */
/* ------------------------------------------------------------------ */

/* "executor,challenger": the roles joined by commas, no spaces (a
 * JSON consumer compares the string). */
static const char *
roles_str(uint8_t roles, char *buf, size_t len)
{
	static const struct {
		uint8_t bit;
		const char *name;
	} names[] = { { PROTO_ROLE_EXECUTOR, "executor" },
		{ PROTO_ROLE_CHALLENGER, "challenger" },
		{ PROTO_ROLE_CLIENT, "client" } };
	size_t at = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((roles & names[i].bit) != 0 && at < len) {
			int n = snprintf(buf + at, len - at, "%s%s", at ? "," : "",
			    names[i].name);
			at += n > 0 ? (size_t)n : 0;
		}
	}
	return buf;
}

static void dispute_json(struct json_out *j, enum proto_hash suite,
    const struct proto_dispute_entry *d, uint64_t now_ms);

/* The open jobs and disputes `status` lists beside the counts. */
struct open_lists {
	enum proto_hash suite;
	uint64_t now_ms;
	struct proto_jobs_list jobs;
	struct proto_disputes_list disputes;
};

static void
status_json(const struct proto_status_info *s, const struct open_lists *ol)
{
	struct json_out j;
	cmd_json_begin(&j, stdout);
	cmd_json_uint(&j, "time_ms", s->time_ms);
	cmd_json_uint(&j, "jobs_open", s->jobs_open);
	cmd_json_uint(&j, "claims_pending", s->claims_pending);
	cmd_json_uint(&j, "claims_final", s->claims_final);
	cmd_json_uint(&j, "claims_invalid", s->claims_invalid);
	cmd_json_uint(&j, "disputes_open", s->disputes_open);
	cmd_json_uint(&j, "disputes_closed", s->disputes_closed);
	cmd_json_uint(&j, "ledger_total", s->ledger_total);
	cmd_json_uint(&j, "burned", s->burned);
	/* A full list may have been cut (staked nodes come first). */
	cmd_json_bool(&j, "nodes_cut", s->n_nodes >= PROTO_MAX_STATUS_NODES);
	cmd_json_arr_open(&j, "nodes");
	for (uint32_t i = 0; i < s->n_nodes; i++) {
		const struct proto_status_node *n = &s->nodes[i];
		char hex[65], roles[40];
		proto_pubkey_hex(&n->key, hex);
		cmd_json_obj_open(&j, NULL);
		cmd_json_str(&j, "key", hex);
		cmd_json_str(&j, "name", n->name);
		cmd_json_str(&j, "roles", roles_str(n->roles, roles, sizeof(roles)));
		cmd_json_uint(&j, "balance", n->balance);
		cmd_json_uint(&j, "stake", n->stake);
		cmd_json_obj_close(&j);
	}
	cmd_json_arr_close(&j);
	cmd_json_bool(&j, "open_jobs_cut", ol->jobs.cut != 0);
	cmd_json_arr_open(&j, "open_jobs");
	for (uint32_t i = 0; i < ol->jobs.n; i++) {
		const struct proto_job_entry *e = &ol->jobs.jobs[i];
		char id[2 * PROTO_DIGEST_MAX + 1], c[65], x[65];
		proto_digest_hex(ol->suite, &e->job_id, id);
		proto_pubkey_hex(&e->client, c);
		proto_pubkey_hex(&e->executor, x);
		cmd_json_obj_open(&j, NULL);
		cmd_json_str(&j, "job_id", id);
		cmd_json_str(&j, "client", c);
		cmd_json_str(&j, "executor", x);
		cmd_json_uint(&j, "fee", e->fee);
		cmd_json_uint(&j, "deadline_ms", e->deadline_ms);
		cmd_json_obj_close(&j);
	}
	cmd_json_arr_close(&j);
	cmd_json_bool(&j, "open_disputes_cut", ol->disputes.cut != 0);
	cmd_json_arr_open(&j, "open_disputes");
	for (uint32_t i = 0; i < ol->disputes.n; i++) {
		dispute_json(&j, ol->suite, &ol->disputes.disputes[i], ol->now_ms);
	}
	cmd_json_arr_close(&j);
	cmd_json_end(&j);
}

static void
status_text(const char *url, const struct proto_status_info *s,
    const struct open_lists *ol)
{
	printf("network at %s\n", url);
	printf("jobs open %u, claims pending %u, final %u, invalid %u\n",
	    s->jobs_open, s->claims_pending, s->claims_final, s->claims_invalid);
	printf("disputes open %u, closed %u\n", s->disputes_open,
	    s->disputes_closed);
	printf("ledger total %llu (burned %llu)\n\n",
	    (unsigned long long)s->ledger_total, (unsigned long long)s->burned);
	printf("%-14s %-22s %-24s %12s %12s\n", "node", "roles", "name",
	    "balance", "stake");
	for (uint32_t i = 0; i < s->n_nodes; i++) {
		const struct proto_status_node *n = &s->nodes[i];
		char hex[65], roles[40];
		proto_pubkey_hex(&n->key, hex);
		hex[12] = '\0';
		printf("%-14s %-22s %-24s %12llu %12llu\n", hex,
		    roles_str(n->roles, roles, sizeof(roles)), n->name,
		    (unsigned long long)n->balance, (unsigned long long)n->stake);
	}	/* The referee sends at most this many, staked nodes first: a full
	 * list may have been cut. */
	if (s->n_nodes >= PROTO_MAX_STATUS_NODES) {
		printf("(list cut at %u nodes: the referee lists staked nodes "
		    "first, then by balance)\n", s->n_nodes);
	}
	if (ol->jobs.n > 0) {
		printf("\nopen jobs, newest first:\n");
	}
	for (uint32_t i = 0; i < ol->jobs.n; i++) {
		const struct proto_job_entry *e = &ol->jobs.jobs[i];
		char id[2 * PROTO_DIGEST_MAX + 1], x[65];
		proto_digest_hex(ol->suite, &e->job_id, id);
		proto_pubkey_hex(&e->executor, x);
		x[12] = '\0';
		printf("  %s  executor %s  fee %llu  deadline in %llds\n", id, x,
		    (unsigned long long)e->fee, e->deadline_ms > ol->now_ms ?
		    (long long)((e->deadline_ms - ol->now_ms) / 1000) : 0LL);
	}
	if (ol->jobs.cut) {
		printf("(list cut at %u open jobs: --limit N shows more)\n",
		    ol->jobs.n);
	}
	if (ol->disputes.n > 0) {
		printf("\nopen disputes, newest first:\n");
	}
	for (uint32_t i = 0; i < ol->disputes.n; i++) {
		const struct proto_dispute_entry *d = &ol->disputes.disputes[i];
		char id[2 * PROTO_DIGEST_MAX + 1], job[2 * PROTO_DIGEST_MAX + 1];
		proto_digest_hex(ol->suite, &d->dispute_id, id);
		proto_digest_hex(ol->suite, &d->job_id, job);
		printf("  %s  job %.16s  clock %lld ms\n", id, job,
		    d->deadline_ms > ol->now_ms ? (long long)(d->deadline_ms -
		    ol->now_ms) : 0LL);
	}
	if (ol->disputes.cut) {
		printf("(list cut at %u open disputes: refute disputes --state "
		    "open shows more)\n", ol->disputes.n);
	}
}

int
cmd_status(int argc, char **argv)
{
	struct client_opts o = { DEFAULT_REFEREE, NULL, NULL, NULL };
	bool json = false;
	int64_t limit = 20;
	const struct cli_opt opts[] = {
		CLIENT_OPTS(o),
		{ "limit", 'n', CLI_I64, &limit, "N",
		    "list at most N open jobs and N open disputes (default 20,\n"
		    "                             at most 256)" },
		{ "json", 0, CLI_FLAG, &json, NULL, "print a JSON object" },
	};
	const struct cli_cmd cmd = {
		.path = "status",
		.summary = "Show the network at a glance: nodes, stakes, jobs, "
		    "claims and disputes,\nand the open jobs and disputes (a list "
		    "cut short says so).",
		.details = CLI_EXIT_HELP_CODES,
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
	};
	const char *pos[1];
	size_t np;
	int rc = cmd_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
	cmd_json_errors(json);
	if (limit < 1 || limit > PROTO_MAX_LIST) {
		return cmd_usage_error(&cmd, "--limit must be 1..%d",
		    PROTO_MAX_LIST);
	}
	struct node_rpc rpc;
	rc = client_connect(&cmd, &o, &rpc);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	rpc.retries = 1;
	struct proto_status_info reply;
	struct open_lists ol;
	memset(&ol, 0, sizeof(ol));
	ol.suite = rpc.suite;
	struct proto_jobs_query jq;
	struct proto_disputes_query dq;
	memset(&jq, 0, sizeof(jq));
	memset(&dq, 0, sizeof(dq));
	jq.state = PROTO_JOB_OPEN;
	jq.max = (uint32_t)limit;
	dq.state = 1;
	dq.max = (uint32_t)limit;
	rc = client_call(&cmd, &rpc, PROTO_MSG_STATUS_QUERY, NULL,
	    PROTO_MSG_STATUS_INFO, &reply, sizeof(reply));
	if (rc == CLI_EXIT_OK) {
		rc = client_call(&cmd, &rpc, PROTO_MSG_JOBS_QUERY, &jq,
		    PROTO_MSG_JOBS_LIST, &ol.jobs, sizeof(ol.jobs));
		if (rc == CLI_EXIT_OK) {
			rc = client_call(&cmd, &rpc, PROTO_MSG_DISPUTES_QUERY, &dq,
			    PROTO_MSG_DISPUTES_LIST, &ol.disputes,
			    sizeof(ol.disputes));
		}
		ol.now_ms = reply.time_ms;
		if (rc == CLI_EXIT_OK && json) {
			status_json(&reply, &ol);
		} else if (rc == CLI_EXIT_OK) {
			status_text(o.referee, &reply, &ol);
		}
		proto_status_info_free(&reply);
		proto_jobs_list_free(&ol.jobs);
		proto_disputes_list_free(&ol.disputes);
	}
	node_rpc_close(&rpc);
	return rc;
}

/* ------------------------------------------------------------------ */
/* submit                                                               */
/* ------------------------------------------------------------------ */

/* The model's declared outputs, to check what is delivered against. */
struct expect_out {
	size_t n;
	struct engine_shape s[ENGINE_MAX_GRAPH_IO];
};

static int
expect_outputs(const struct engine_model *m, struct expect_out *x,
    struct rf_errinfo *ei)
{
	size_t nv = engine_model_value_count(m);
	struct engine_shape *sh = calloc(nv ? nv : 1, sizeof(*sh));
	if (sh == NULL) {
		return RF_ERR_NOMEM;
	}
	int err = engine_model_check(m, sh, ei);
	x->n = engine_model_output_count(m);
	for (size_t i = 0; err == RF_OK && i < x->n; i++) {
		x->s[i] = sh[engine_model_output(m, (size_t)i)];
	}
	free(sh);
	return err;
}

/* The claim's outputs must be the model's declared outputs: their
 * number, dtypes and (where the graph fixes them) shapes. The referee
 * binds them to the declared output's trace entry; this catches a
 * referee that does not. */
static int
check_outputs(const struct cli_cmd *cmd, const struct expect_out *x,
    const struct proto_claim_info *ci)
{
	if (ci->n_outputs != x->n) {
		return cmd_fail(cmd, "the claim delivers %u outputs, the model "
		    "declares %zu", ci->n_outputs, x->n);
	}
	for (unsigned i = 0; i < ci->n_outputs; i++) {
		const struct tensor *t = &ci->outputs[i];
		const struct engine_shape *e = &x->s[i];
		bool ok = t->dtype == e->dtype && (!e->known ||
		    (t->rank == e->rank && memcmp(t->dims, e->dims,
		    (size_t)e->rank * sizeof(e->dims[0])) == 0));
		if (!ok) {
			char got[96];
			engine_tensor_shape_str(t, got, sizeof(got));
			return cmd_fail(cmd, "output %u delivered is %s, not the "
			    "model's declared output (%s, rank %d): refusing it", i,
			    got, engine_tensor_dtype_name(e->dtype), e->rank);
		}
	}
	return CLI_EXIT_OK;
}

/* The referee's own check, made here before anything is sent: each
 * input's dtype, rank and fixed dimensions against the model's, then
 * every operator on these concrete shapes. */
static int
check_inputs(const struct engine_model *m, const struct tensor *in, size_t n,
    struct rf_errinfo *ei)
{
	struct engine_shape sh[ENGINE_MAX_GRAPH_IO];
	for (size_t i = 0; i < n; i++) {
		memset(&sh[i], 0, sizeof(sh[i]));
		sh[i].known = true;
		sh[i].dtype = in[i].dtype;
		sh[i].rank = in[i].rank;
		memcpy(sh[i].dims, in[i].dims,
		    (size_t)in[i].rank * sizeof(sh[i].dims[0]));
	}
	size_t nv = engine_model_value_count(m);
	struct engine_shape *all = calloc(nv ? nv : 1, sizeof(*all));
	if (all == NULL) {
		return rf_errf(ei, RF_ERR_NOMEM, "no memory");
	}
	int err = engine_model_check_inputs(m, sh, n, all, ei);
	free(all);
	return err;
}

static int
load_inputs(const struct cli_cmd *cmd, const char *model_path,
    const struct cli_strs *files, uint64_t seed,
    const struct cmd_gen_prompt *prompt, struct proto_job_submit *s,
    struct proto_digest *model_id, enum proto_hash suite,
    struct expect_out *x)
{
	uint8_t *buf;
	size_t len;
	int rc = cmd_read_file(cmd, model_path, (size_t)1 << 34, &buf, &len);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	struct engine_model *m;
	struct rf_errinfo ei = { "" };
	int err = engine_model_decode(buf, len, &m, &ei);
	free(buf);
	if (err != RF_OK) {
		return cmd_fail(cmd, "'%s' is not a valid model: %s", model_path,
		    ei.msg);
	}
	err = proto_model_id(suite, m, model_id);
	if (err == RF_OK) {
		err = expect_outputs(m, x, &ei);
	}
	size_t n = engine_model_input_count(m);
	if (err == RF_OK && prompt->given) {
		/* A generation job: its prompt and sampling seed. */
		err = cmd_generation_inputs(m, prompt, s->inputs, &ei);
	} else if (err == RF_OK && files->n == 0) {
		err = engine_inputs_random(m, seed, s->inputs, &ei);
	} else if (err == RF_OK && files->n != n) {
		engine_model_free(m);
		return cmd_usage_error(cmd, "the model takes %zu inputs, %zu "
		    "--input files given", n, files->n);
	}
	for (size_t i = 0; err == RF_OK && i < files->n; i++) {
		rc = cmd_read_file(cmd, files->v[i], (size_t)1 << 32, &buf, &len);
		if (rc != CLI_EXIT_OK) {
			engine_model_free(m);
			return rc;
		}
		err = engine_tensor_npy_decode(buf, len, &s->inputs[i], &ei);
		free(buf);
		if (err != RF_OK) {
			for (size_t k = 0; k < i; k++) {
				engine_tensor_fini(&s->inputs[k]);
			}
			engine_model_free(m);
			return cmd_fail(cmd, "'%s': %s", files->v[i], ei.msg);
		}
		s->n_inputs = (uint8_t)(i + 1);
	}
	if (err == RF_OK && files->n > 0) {
		err = check_inputs(m, s->inputs, n, &ei);
		if (err != RF_OK) {
			for (size_t k = 0; k < n; k++) {
				engine_tensor_fini(&s->inputs[k]);
			}
			s->n_inputs = 0;
			engine_model_free(m);
			return cmd_fail(cmd, "the input does not fit the model "
			    "(nothing was sent): %s", ei.msg);
		}
	}
	engine_model_free(m);
	if (err != RF_OK) {
		return cmd_fail(cmd, "%s", ei.msg[0] ? ei.msg : rf_strerror(err));
	}
	s->n_inputs = (uint8_t)n;
	s->model_id = *model_id;
	return CLI_EXIT_OK;
}

static const char *
state_name(uint8_t state)
{
	return proto_job_state_name(state);
}

/* Polls the claim until it is final or invalid (or the time is up). */
static int
wait_final(const struct cli_cmd *cmd, struct node_rpc *rpc,
    const struct proto_digest *job, int64_t timeout_s, bool quiet,
    struct proto_claim_info *info)
{
	uint64_t deadline = node_deadline((uint64_t)timeout_s * 1000);
	uint8_t last = 0;
	struct proto_claim_status req = { .job_id = *job };
	for (;;) {
		int rc = client_call(cmd, rpc, PROTO_MSG_CLAIM_STATUS, &req,
		    PROTO_MSG_CLAIM_INFO, info, sizeof(*info));
		if (rc != CLI_EXIT_OK) {
			return rc;
		}
		uint8_t st = info->state;
		if (st != last && !quiet) {
			fprintf(stderr, "job %s\n", state_name(st));
			last = st;
		}
		if (st == PROTO_JOB_FINAL || st == PROTO_JOB_INVALID) {
			return CLI_EXIT_OK;
		}
		proto_claim_info_free(info);
		if (st == PROTO_JOB_CANCELLED) {
			return cmd_fail(cmd, "the job was cancelled by its client");
		}
		if (node_deadline_passed(deadline)) {
			return cmd_fail_code(cmd, CLI_EXIT_TIMEOUT, "the job is still "
			    "%s after %llds", state_name(st), (long long)timeout_s);
		}
		usleep(100 * 1000);
	}
}

int
cmd_submit(int argc, char **argv)
{
	struct client_opts o = { DEFAULT_REFEREE, NULL, NULL, NULL };
	const char *model = NULL, *executor = NULL, *seed_s = NULL;
	struct cli_strs inputs = { { NULL }, 0 };
	struct cli_strs outputs = { { NULL }, 0 };
	struct cmd_gen_prompt prompt = { NULL, NULL, 1, false };
	int64_t fee = 0, timeout = 60;
	bool wait = false, json = false;
	const struct cli_opt opts[] = {
		CLIENT_OPTS(o),
		{ "model", 'm', CLI_STR, &model, "FILE",
		    "the model (its model_id is computed from the file)" },
		{ "seed", 's', CLI_STR, &seed_s, "S", "random input from a seed" },
		{ "input", 'i', CLI_STRS, &inputs, "X.npy",
		    "input tensor; repeat for each model input" },
		{ "tokens", 0, CLI_STR, &prompt.tokens, "LIST",
		    "a generation job (the model a generation graph,\n"
		    "`refute generate --save-graph`): its prompt \"1,2,3\"" },
		{ "text", 0, CLI_STR, &prompt.text, "STR",
		    "a generation job's prompt as bytes" },
		{ "gen-seed", 0, CLI_U64, &prompt.seed, "S",
		    "a sampling generation job's seed (default 1)" },
		{ "executor", 'x', CLI_STR, &executor, "HEX",
		    "ask for this executor (default: the referee assigns)" },
		{ "fee", 'f', CLI_I64, &fee, "N", "fee paid on finality" },
		{ "wait", 'w', CLI_FLAG, &wait, NULL,
		    "wait for the claim and its finality, print the output" },
		{ "timeout", 't', CLI_I64, &timeout, "S",
		    "seconds to wait (default 60)" },
		{ "output", 'o', CLI_STRS, &outputs, "Y.npy",
		    "with --wait: write the output tensors" },
		{ "json", 0, CLI_FLAG, &json, NULL, "print a JSON object" },
	};
	const struct cli_cmd cmd = {
		.path = "submit",
		.summary = "Submit a job to the network. Prints its id (`refute job "
		    "ID` follows it later).",
		.details = "The inputs (--input, or --seed for random ones) are "
		    "checked against the model\nbefore anything is sent. With "
		    "--wait the delivered outputs are checked\nagainst the "
		    "model's declared outputs.\n" CLI_EXIT_HELP_CODES,
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
	};
	const char *pos[1];
	size_t np;
	int rc = cmd_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
	cmd_json_errors(json);
	if (model == NULL) {
		return cmd_usage_error(&cmd, "missing --model FILE");
	}
	uint64_t seed = 1;
	if (seed_s != NULL) {
		char *end;
		seed = strtoull(seed_s, &end, 0);
		if (*seed_s == '\0' || *seed_s == '-' || *end != '\0') {
			return cmd_usage_error(&cmd, "--seed needs an integer");
		}
		if (inputs.n > 0) {
			return cmd_usage_error(&cmd, "give --seed or --input, not "
			    "both");
		}
	}
	prompt.given = prompt.tokens != NULL || prompt.text != NULL;
	if (prompt.given && (inputs.n > 0 || seed_s != NULL ||
	    (prompt.tokens != NULL && prompt.text != NULL))) {
		return cmd_usage_error(&cmd, "give --tokens or --text alone, "
		    "not with --input, --seed or each other");
	}
	if (outputs.n > 0 && !wait) {
		return cmd_usage_error(&cmd, "--output needs --wait");
	}
	struct node_rpc rpc;
	rc = client_connect(&cmd, &o, &rpc);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	/* A job holds up to 64 tensors: on the heap. */
	struct proto_job_submit *req = calloc(1, sizeof(*req));
	struct proto_ack reply;
	struct proto_digest model_id;
	struct expect_out expect;
	rc = req == NULL ? cmd_fail(&cmd, "no memory") :
	    load_inputs(&cmd, model, &inputs, seed, &prompt, req, &model_id,
	    rpc.suite,
	    &expect);
	if (rc != CLI_EXIT_OK) {
		free(req);
		node_rpc_close(&rpc);
		return rc;
	}
	req->fee = (uint64_t)fee;
	req->nonce = ((uint64_t)getpid() << 40) ^ node_wall_ms();
	if (executor != NULL &&
	    proto_pubkey_parse_hex(executor, &req->executor) != RF_OK) {
		proto_job_submit_free(req);
		free(req);
		node_rpc_close(&rpc);
		return cmd_usage_error(&cmd, "--executor must be 64 hex digits");
	}
	/* A client is a node too: registering is idempotent. */
	struct proto_node_register reg;
	memset(&reg, 0, sizeof(reg));
	reg.roles = PROTO_ROLE_CLIENT;
	snprintf(reg.name, sizeof(reg.name), "client");
	rc = client_call(&cmd, &rpc, PROTO_MSG_NODE_REGISTER, &reg,
	    PROTO_MSG_ACK, NULL, 0);
	if (rc == CLI_EXIT_OK) {
		rc = client_call(&cmd, &rpc, PROTO_MSG_JOB_SUBMIT, req,
		    PROTO_MSG_ACK, &reply, sizeof(reply));
	}
	proto_job_submit_free(req);
	free(req);
	if (rc != CLI_EXIT_OK) {
		node_rpc_close(&rpc);
		return rc;
	}
	struct proto_digest job = reply.id;
	char hex[2 * PROTO_DIGEST_MAX + 1];
	proto_digest_hex(rpc.suite, &job, hex);
	if (!wait) {
		if (json) {
			printf("{\"job_id\":\"%s\"}\n", hex);
		} else {
			printf("job %s submitted\n", hex);
		}
		node_rpc_close(&rpc);
		return CLI_EXIT_OK;
	}
	if (!json) {
		printf("job %s submitted\n", hex);
	}
	struct proto_claim_info info;
	rc = wait_final(&cmd, &rpc, &job, timeout, json, &info);
	if (rc == CLI_EXIT_OK) {
		const struct proto_claim_info *ci = &info;
		char root[2 * PROTO_DIGEST_MAX + 1], ex[65];
		proto_digest_hex(rpc.suite, &ci->trace_root, root);
		proto_pubkey_hex(&ci->executor, ex);
		rc = check_outputs(&cmd, &expect, ci);
		for (size_t i = 0; rc == CLI_EXIT_OK && i < outputs.n &&
		    i < ci->n_outputs; i++) {
			uint8_t *buf;
			size_t len;
			if (engine_tensor_npy_encode(&ci->outputs[i], &buf, &len) != RF_OK) {
				rc = cmd_fail(&cmd, "cannot encode an output");
				break;
			}
			rc = cmd_write_file(&cmd, outputs.v[i], buf, len, 0644);
			free(buf);
		}
		if (rc != CLI_EXIT_OK) {
			/* Nothing is printed as a result that is not one. */
		} else if (json) {
			struct json_out j;
			cmd_json_begin(&j, stdout);
			cmd_json_str(&j, "job_id", hex);
			cmd_json_str(&j, "state", state_name(ci->state));
			cmd_json_str(&j, "executor", ex);
			cmd_json_str(&j, "trace_root", root);
			cmd_json_uint(&j, "n", ci->n);
			cmd_json_arr_open(&j, "outputs");
			for (unsigned i = 0; i < ci->n_outputs; i++) {
				cmd_print_tensor_json(&j, "output", &ci->outputs[i]);
			}
			cmd_json_arr_close(&j);
			cmd_json_end(&j);
		} else {
			ex[12] = '\0';
			printf("job %s by executor %s, trace root %s\n",
			    state_name(ci->state), ex, root);
			for (unsigned i = 0; i < ci->n_outputs; i++) {
				cmd_print_tensor_text("output", &ci->outputs[i]);
			}
		}
		if (rc == CLI_EXIT_OK && ci->state == PROTO_JOB_INVALID) {
			rc = cmd_fail_code(&cmd, CLI_EXIT_INVALID, "the claim fell: "
			    "the job is invalid");
		}
		proto_claim_info_free(&info);
	}
	node_rpc_close(&rpc);
	return rc;
}

/* ------------------------------------------------------------------ */
/* job ID, disputes                                                     */
/* ------------------------------------------------------------------ */

/* hex as an id prefix: its whole bytes in p (for the query) and the hex
 * itself lower-cased (to filter an odd last digit); false when it is not
 * hex or longer than an id. */
static bool
parse_prefix(const char *hex, size_t hl, uint8_t *p, uint8_t *plen,
    char *lower)
{
	size_t n = strlen(hex);
	if (n == 0 || n > 2 * hl) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = hex[i];
		if (c >= 'A' && c <= 'F') {
			c = (char)(c - 'A' + 'a');
		}
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return false;
		}
		lower[i] = c;
	}
	lower[n] = '\0';
	for (size_t i = 0; i + 1 < n; i += 2) {
		unsigned v;
		sscanf(lower + i, "%2x", &v);
		p[i / 2] = (uint8_t)v;
	}
	*plen = (uint8_t)(n / 2);
	return true;
}

/* Resolves a job id or a unique prefix of one. */
static int
resolve_job(const struct cli_cmd *cmd, struct node_rpc *rpc, const char *hex,
    struct proto_job_entry *out)
{
	struct proto_jobs_query q;
	char lower[2 * PROTO_DIGEST_MAX + 1];
	memset(&q, 0, sizeof(q));
	if (!parse_prefix(hex, proto_hash_len(rpc->suite), q.prefix,
	    &q.prefix_len, lower)) {
		return cmd_usage_error(cmd, "'%s' is not a job id or a prefix of "
		    "one (hex digits)", hex);
	}
	struct proto_jobs_list l;
	int rc = client_call(cmd, rpc, PROTO_MSG_JOBS_QUERY, &q,
	    PROTO_MSG_JOBS_LIST, &l, sizeof(l));
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	size_t found = 0;
	char id[2 * PROTO_DIGEST_MAX + 1];
	for (uint32_t i = 0; i < l.n; i++) {
		proto_digest_hex(rpc->suite, &l.jobs[i].job_id, id);
		if (strncmp(id, lower, strlen(lower)) == 0) {
			if (found == 0) {
				*out = l.jobs[i];
			}
			found++;
		}
	}
	bool cut = l.cut != 0;
	proto_jobs_list_free(&l);
	if (found == 0) {
		return cmd_fail(cmd, "no job id starts with %s", lower);
	}
	if (found > 1 || cut) {
		return cmd_usage_error(cmd, "%s%zu jobs start with %s: give more "
		    "digits", cut ? "more than " : "", found, lower);
	}
	return CLI_EXIT_OK;
}

/* Resolves a dispute id or a unique prefix of one. */
static int
resolve_dispute(const struct cli_cmd *cmd, struct node_rpc *rpc,
    const char *hex, struct proto_dispute_entry *out)
{
	struct proto_disputes_query q;
	char lower[2 * PROTO_DIGEST_MAX + 1];
	memset(&q, 0, sizeof(q));
	if (!parse_prefix(hex, proto_hash_len(rpc->suite), q.prefix,
	    &q.prefix_len, lower)) {
		return cmd_usage_error(cmd, "'%s' is not a dispute id or a prefix "
		    "of one (hex digits)", hex);
	}
	struct proto_disputes_list l;
	int rc = client_call(cmd, rpc, PROTO_MSG_DISPUTES_QUERY, &q,
	    PROTO_MSG_DISPUTES_LIST, &l, sizeof(l));
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	size_t found = 0;
	char id[2 * PROTO_DIGEST_MAX + 1];
	for (uint32_t i = 0; i < l.n; i++) {
		proto_digest_hex(rpc->suite, &l.disputes[i].dispute_id, id);
		if (strncmp(id, lower, strlen(lower)) == 0) {
			if (found == 0) {
				*out = l.disputes[i];
			}
			found++;
		}
	}
	bool cut = l.cut != 0;
	proto_disputes_list_free(&l);
	if (found == 0) {
		return cmd_fail(cmd, "no dispute id starts with %s", lower);
	}
	if (found > 1 || cut) {
		return cmd_usage_error(cmd, "%s%zu disputes start with %s: give "
		    "more digits", cut ? "more than " : "", found, lower);
	}
	return CLI_EXIT_OK;
}

int
cmd_dispute_resolve(const struct cli_cmd *cmd, const char *url,
    enum proto_hash suite, const struct proto_pubkey *referee,
    const char *prefix, struct proto_digest *id)
{
	struct proto_identity me;
	struct node_rpc rpc;
	struct rf_errinfo ei = { "" };
	if (proto_identity_generate(&me) != RF_OK) {
		return cmd_fail(cmd, "cannot make a key");
	}
	int err = node_rpc_open(&rpc, url, &me, suite, referee, &ei);
	proto_identity_wipe(&me);
	if (err != RF_OK) {
		return cmd_fail_code(cmd, CLI_EXIT_NET, "cannot reach %s: %s", url,
		    ei.msg);
	}
	struct proto_dispute_entry d;
	int rc = resolve_dispute(cmd, &rpc, prefix, &d);
	node_rpc_close(&rpc);
	if (rc == CLI_EXIT_OK) {
		*id = d.dispute_id;
	}
	return rc;
}

static const char *
verdict_str(const struct proto_dispute_entry *d, char *buf, size_t len)
{
	if (d->state != 2) {
		snprintf(buf, len, "open");
	} else if (d->reason == 0) {
		snprintf(buf, len, "decided");
	} else {
		snprintf(buf, len, "%s won (%s)", d->executor_won ? "executor" :
		    "challenger", proto_verdict_reason_name(d->reason));
	}
	return buf;
}

static void
dispute_json(struct json_out *j, enum proto_hash suite,
    const struct proto_dispute_entry *d, uint64_t now_ms)
{
	char id[2 * PROTO_DIGEST_MAX + 1], job[2 * PROTO_DIGEST_MAX + 1];
	char ex[65], ch[65];
	proto_digest_hex(suite, &d->dispute_id, id);
	proto_digest_hex(suite, &d->job_id, job);
	proto_pubkey_hex(&d->executor, ex);
	proto_pubkey_hex(&d->challenger, ch);
	cmd_json_obj_open(j, NULL);
	cmd_json_str(j, "dispute_id", id);
	cmd_json_str(j, "job_id", job);
	cmd_json_str(j, "executor", ex);
	cmd_json_str(j, "challenger", ch);
	cmd_json_str(j, "state", d->state == 2 ? "decided" : "open");
	if (d->state == 2 && d->reason != 0) {
		cmd_json_str(j, "winner", d->executor_won ? "executor" :
		    "challenger");
		cmd_json_str(j, "reason", proto_verdict_reason_name(d->reason));
	} else if (d->state != 2) {
		cmd_json_int(j, "clock_left_ms", d->deadline_ms > now_ms ?
		    (long long)(d->deadline_ms - now_ms) : 0);
	}
	cmd_json_uint(j, "bond", d->bond);
	cmd_json_uint(j, "opened_ms", d->opened_ms);
	cmd_json_obj_close(j);
}

static void
dispute_text(enum proto_hash suite, const struct proto_dispute_entry *d,
    uint64_t now_ms)
{
	char id[2 * PROTO_DIGEST_MAX + 1], job[2 * PROTO_DIGEST_MAX + 1];
	char ex[65], ch[65], v[64];
	proto_digest_hex(suite, &d->dispute_id, id);
	proto_digest_hex(suite, &d->job_id, job);
	proto_pubkey_hex(&d->executor, ex);
	proto_pubkey_hex(&d->challenger, ch);
	printf("dispute %s\n", id);
	printf("  job        %s\n", job);
	printf("  executor   %s\n", ex);
	printf("  challenger %s\n", ch);
	printf("  state      %s", verdict_str(d, v, sizeof(v)));
	if (d->state != 2) {
		printf(", %lld ms left on the clock of the side to move",
		    d->deadline_ms > now_ms ? (long long)(d->deadline_ms -
		    now_ms) : 0LL);
	}
	printf("\n  bond       %llu\n", (unsigned long long)d->bond);
}

int
cmd_job(int argc, char **argv)
{
	struct client_opts o = { DEFAULT_REFEREE, NULL, NULL, NULL };
	struct cli_strs outputs = { { NULL }, 0 };
	bool cancel = false, json = false;
	const struct cli_opt opts[] = {
		CLIENT_OPTS(o),
		{ "output", 'o', CLI_STRS, &outputs, "Y.npy",
		    "write the claimed output tensors (once claimed)" },
		{ "cancel", 0, CLI_FLAG, &cancel, NULL,
		    "withdraw the job and get its fee back (before any claim;\n"
		    "                             sign with the job's client's "
		    "--identity)" },
		{ "json", 0, CLI_FLAG, &json, NULL, "print a JSON object" },
	};
	const struct cli_cmd cmd = {
		.path = "job",
		.args = "ID",
		.summary = "Show a job: its state, claim, output and disputes "
		    "(ID: the id `submit`\nprinted, or a unique prefix of it). "
		    "--output fetches the output later;\n--cancel withdraws a job "
		    "nobody has claimed yet and refunds its fee.",
		.details = CLI_EXIT_HELP_CODES,
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
		.min_pos = 1,
		.max_pos = 1,
	};
	const char *pos[1];
	size_t np;
	int rc = cmd_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
	cmd_json_errors(json);
	if (cancel && outputs.n > 0) {
		return cmd_usage_error(&cmd, "give --cancel or --output, not both");
	}
	if (cancel && o.identity == NULL) {
		return cmd_usage_error(&cmd, "--cancel needs --identity: only the "
		    "job's client may cancel it");
	}
	struct node_rpc rpc;
	rc = client_connect(&cmd, &o, &rpc);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	struct proto_job_entry je;
	rc = resolve_job(&cmd, &rpc, pos[0], &je);
	char hex[2 * PROTO_DIGEST_MAX + 1];
	proto_digest_hex(rpc.suite, &je.job_id, hex);
	if (rc == CLI_EXIT_OK && cancel) {
		struct proto_job_cancel c = { je.job_id };
		rc = client_call(&cmd, &rpc, PROTO_MSG_JOB_CANCEL, &c,
		    PROTO_MSG_ACK, NULL, 0);
		if (rc == CLI_EXIT_OK && json) {
			printf("{\"job_id\":\"%s\",\"state\":\"cancelled\","
			    "\"refunded\":%llu}\n", hex, (unsigned long long)je.fee);
		} else if (rc == CLI_EXIT_OK) {
			printf("job %s cancelled: fee %llu refunded\n", hex,
			    (unsigned long long)je.fee);
		}
	}
	if (rc != CLI_EXIT_OK || cancel) {
		node_rpc_close(&rpc);
		return rc;
	}
	struct proto_claim_status cs = { .job_id = je.job_id };
	struct proto_claim_info ci;
	rc = client_call(&cmd, &rpc, PROTO_MSG_CLAIM_STATUS, &cs,
	    PROTO_MSG_CLAIM_INFO, &ci, sizeof(ci));
	if (rc != CLI_EXIT_OK) {
		node_rpc_close(&rpc);
		return rc;
	}
	struct proto_disputes_query dq;
	struct proto_disputes_list dl;
	memset(&dq, 0, sizeof(dq));
	dq.job_id = je.job_id;
	rc = client_call(&cmd, &rpc, PROTO_MSG_DISPUTES_QUERY, &dq,
	    PROTO_MSG_DISPUTES_LIST, &dl, sizeof(dl));
	enum proto_hash suite = rpc.suite;
	node_rpc_close(&rpc);
	if (rc != CLI_EXIT_OK) {
		proto_claim_info_free(&ci);
		return rc;
	}
	bool claimed = ci.n_outputs > 0;
	uint64_t now = node_wall_ms();
	/* Outputs first: nothing is printed as a result that is not one. */
	if (outputs.n > 0 && !claimed) {
		rc = cmd_fail(&cmd, "job %s is %s: no claim, so no output yet",
		    hex, state_name(ci.state));
	} else if (outputs.n > 0 && ci.state == PROTO_JOB_INVALID) {
		rc = cmd_fail_code(&cmd, CLI_EXIT_INVALID, "job %s is invalid: "
		    "its claim fell, the output is not written", hex);
	} else if (outputs.n > ci.n_outputs) {
		rc = cmd_usage_error(&cmd, "the claim has %u outputs, %zu "
		    "--output files given", ci.n_outputs, outputs.n);
	}
	for (size_t i = 0; rc == CLI_EXIT_OK && i < outputs.n; i++) {
		uint8_t *buf;
		size_t len;
		if (engine_tensor_npy_encode(&ci.outputs[i], &buf, &len) != RF_OK) {
			rc = cmd_fail(&cmd, "cannot encode output %zu", i);
			break;
		}
		rc = cmd_write_file(&cmd, outputs.v[i], buf, len, 0644);
		free(buf);
	}
	if (rc == CLI_EXIT_OK && outputs.n > 0 && ci.state != PROTO_JOB_FINAL) {
		fprintf(stderr, "refute job: note: the job is %s, not final: the "
		    "output may still be disputed\n", state_name(ci.state));
	}
	char model[2 * PROTO_DIGEST_MAX + 1], root[2 * PROTO_DIGEST_MAX + 1];
	char client[65], ex[65];
	proto_digest_hex(suite, &je.model_id, model);
	proto_digest_hex(suite, &ci.trace_root, root);
	proto_pubkey_hex(&je.client, client);
	proto_pubkey_hex(&ci.executor, ex);
	if (rc != CLI_EXIT_OK) {
		/* said already */
	} else if (json) {
		struct json_out j;
		cmd_json_begin(&j, stdout);
		cmd_json_str(&j, "job_id", hex);
		cmd_json_str(&j, "state", state_name(ci.state));
		cmd_json_str(&j, "model_id", model);
		cmd_json_str(&j, "client", client);
		cmd_json_str(&j, "executor", ex);
		cmd_json_uint(&j, "fee", je.fee);
		cmd_json_uint(&j, "created_ms", je.created_ms);
		if (claimed) {
			cmd_json_obj_open(&j, "claim");
			cmd_json_str(&j, "trace_root", root);
			cmd_json_uint(&j, "n", ci.n);
			cmd_json_uint(&j, "window_end_ms", ci.window_end_ms);
			cmd_json_arr_open(&j, "outputs");
			for (unsigned i = 0; i < ci.n_outputs; i++) {
				cmd_print_tensor_json(&j, "output", &ci.outputs[i]);
			}
			cmd_json_arr_close(&j);
			cmd_json_obj_close(&j);
		}
		cmd_json_bool(&j, "disputes_cut", dl.cut != 0);
		cmd_json_arr_open(&j, "disputes");
		for (uint32_t i = 0; i < dl.n; i++) {
			dispute_json(&j, suite, &dl.disputes[i], now);
		}
		cmd_json_arr_close(&j);
		cmd_json_end(&j);
	} else {
		printf("job %s\n", hex);
		printf("  state    %s\n", state_name(ci.state));
		printf("  model    %s\n", model);
		printf("  client   %s\n", client);
		printf("  executor %s\n", ex);
		printf("  fee      %llu\n", (unsigned long long)je.fee);
		if (je.state == PROTO_JOB_OPEN) {
			printf("  deadline in %lld s (unclaimed by then: the fee is "
			    "refunded)\n", je.deadline_ms > now ?
			    (long long)((je.deadline_ms - now) / 1000) : 0LL);
		}
		if (claimed) {
			printf("  claim    trace root %s, %u entries\n", root, ci.n);
			if (ci.state == PROTO_JOB_CLAIMED) {
				printf("  window   closes in %lld ms\n",
				    ci.window_end_ms > now ? (long long)
				    (ci.window_end_ms - now) : 0LL);
			}
			for (unsigned i = 0; i < ci.n_outputs; i++) {
				cmd_print_tensor_text("output", &ci.outputs[i]);
			}
		}
		for (uint32_t i = 0; i < dl.n; i++) {
			dispute_text(suite, &dl.disputes[i], now);
		}
		if (dl.cut) {
			printf("(more disputes than listed: refute disputes --job "
			    "%s)\n", hex);
		}
	}
	proto_disputes_list_free(&dl);
	proto_claim_info_free(&ci);
	return rc;
}

int
cmd_disputes(int argc, char **argv)
{
	struct client_opts o = { DEFAULT_REFEREE, NULL, NULL, NULL };
	const char *state = "all", *job = NULL;
	int64_t limit = 0;
	bool json = false;
	const struct cli_opt opts[] = {
		CLIENT_OPTS(o),
		{ "state", 0, CLI_STR, &state, "S",
		    "open, decided or all (default all)" },
		{ "job", 'j', CLI_STR, &job, "ID",
		    "the disputes of this job (an id or a unique prefix)" },
		{ "limit", 'n', CLI_I64, &limit, "N",
		    "at most N, newest first (default and most: 256)" },
		{ "json", 0, CLI_FLAG, &json, NULL, "print a JSON object" },
	};
	const struct cli_cmd cmd = {
		.path = "disputes",
		.summary = "List disputes, newest first: full ids, the job, both "
		    "parties, the state\nand the verdict (who won, and why). "
		    "`refute audit --dispute ID` replays one.",
		.details = CLI_EXIT_HELP_CODES,
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
	};
	const char *pos[1];
	size_t np;
	int rc = cmd_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
	cmd_json_errors(json);
	struct proto_disputes_query q;
	memset(&q, 0, sizeof(q));
	if (strcmp(state, "open") == 0) {
		q.state = 1;
	} else if (strcmp(state, "decided") == 0) {
		q.state = 2;
	} else if (strcmp(state, "all") != 0) {
		return cmd_usage_error(&cmd, "--state must be open, decided or "
		    "all");
	}
	if (limit > PROTO_MAX_LIST) {
		return cmd_usage_error(&cmd, "--limit is at most %d",
		    PROTO_MAX_LIST);
	}
	q.max = (uint32_t)limit;
	struct node_rpc rpc;
	rc = client_connect(&cmd, &o, &rpc);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	if (job != NULL) {
		struct proto_job_entry je;
		rc = resolve_job(&cmd, &rpc, job, &je);
		q.job_id = je.job_id;
	}
	struct proto_disputes_list l;
	if (rc == CLI_EXIT_OK) {
		rc = client_call(&cmd, &rpc, PROTO_MSG_DISPUTES_QUERY, &q,
		    PROTO_MSG_DISPUTES_LIST, &l, sizeof(l));
	}
	enum proto_hash suite = rpc.suite;
	node_rpc_close(&rpc);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	uint64_t now = node_wall_ms();
	if (json) {
		struct json_out j;
		cmd_json_begin(&j, stdout);
		cmd_json_bool(&j, "cut", l.cut != 0);
		cmd_json_arr_open(&j, "disputes");
		for (uint32_t i = 0; i < l.n; i++) {
			dispute_json(&j, suite, &l.disputes[i], now);
		}
		cmd_json_arr_close(&j);
		cmd_json_end(&j);
	} else {
		if (l.n == 0) {
			printf("no disputes\n");
		}
		for (uint32_t i = 0; i < l.n; i++) {
			dispute_text(suite, &l.disputes[i], now);
		}
		if (l.cut) {
			printf("(list cut at %u disputes: --limit, --state or --job "
			    "to see others)\n", l.n);
		}
	}
	proto_disputes_list_free(&l);
	return CLI_EXIT_OK;
}
