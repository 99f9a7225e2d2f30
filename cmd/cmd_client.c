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
		return cmd_fail(cmd, "cannot reach the referee at %s: %s",
		    o->referee, ei.msg);
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
		return cmd_fail(cmd, "cannot reach the referee at %s: %s",
		    o->referee, ei.msg);
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
		return cmd_fail(cmd, "%s", ei.msg); /* "referee: why" */
	}
	if (err != RF_OK) {
		return cmd_fail(cmd, "%s: %s", proto_msg_type_name((int)type),
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
	    "the network's hash suite, blake3, blake2b or xxh3 (default:\n" \
	    "the referee's)" }

/* ------------------------------------------------------------------ */
/* status                                                               */
/* ------------------------------------------------------------------ */

static const char *
roles_str(uint8_t roles, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", roles & PROTO_ROLE_EXECUTOR ?
	    "executor " : "", roles & PROTO_ROLE_CHALLENGER ? "challenger " :
	    "", roles & PROTO_ROLE_CLIENT ? "client" : "");
	return buf;
}

static void
status_json(const struct proto_status_info *s)
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
	cmd_json_end(&j);
}

static void
status_text(const char *url, const struct proto_status_info *s)
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
}

int
cmd_status(int argc, char **argv)
{
	struct client_opts o = { DEFAULT_REFEREE, NULL, NULL, NULL };
	bool json = false;
	const struct cli_opt opts[] = {
		CLIENT_OPTS(o),
		{ "json", 0, CLI_FLAG, &json, NULL, "print a JSON object" },
	};
	const struct cli_cmd cmd = {
		.path = "status",
		.summary = "Show the network at a glance: nodes, stakes, jobs, "
		    "claims and disputes.",
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
	};
	const char *pos[1];
	size_t np;
	int rc = cmd_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
	struct node_rpc rpc;
	rc = client_connect(&cmd, &o, &rpc);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	rpc.retries = 1;
	struct proto_status_info reply;
	rc = client_call(&cmd, &rpc, PROTO_MSG_STATUS_QUERY, NULL,
	    PROTO_MSG_STATUS_INFO, &reply, sizeof(reply));
	if (rc == CLI_EXIT_OK) {
		if (json) {
			status_json(&reply);
		} else {
			status_text(o.referee, &reply);
		}
		proto_status_info_free(&reply);
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
	switch (state) {
	case PROTO_JOB_OPEN:
		return "open";
	case PROTO_JOB_CLAIMED:
		return "claimed";
	case PROTO_JOB_DISPUTED:
		return "disputed";
	case PROTO_JOB_FINAL:
		return "final";
	case PROTO_JOB_INVALID:
		return "invalid";
	}
	return "?";
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
		if (node_deadline_passed(deadline)) {
			return cmd_fail(cmd, "the job is still %s after %llds",
			    state_name(st), (long long)timeout_s);
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
		.summary = "Submit a job to the network.",
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
	};
	const char *pos[1];
	size_t np;
	int rc = cmd_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
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
		if (ci->state != PROTO_JOB_FINAL) {
			rc = CLI_EXIT_FAIL;
		}
		proto_claim_info_free(&info);
	}
	node_rpc_close(&rpc);
	return rc;
}
