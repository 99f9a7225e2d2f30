/*
 * cmd/cmd_audit.c - `refute audit`: replays a dispute's verdict from its
 * transcript and confirms or refutes it, trusting no one: every signature
 * is checked and the disputed operator is recomputed locally.
 */
#include <stdlib.h>
#include <string.h>

#include "../bisect/bisect.h"
#include "../node/node.h"
#include "cli.h"
#include "cmds.h"

/* Fetches a dispute's verdict from the referee as the signed bytes it
 * sent (the audit checks that signature itself). */
static int
fetch_verdict(const struct cli_cmd *cmd, const char *url, const char *hex,
    enum proto_hash suite, uint8_t **buf, size_t *len)
{
	struct proto_identity id;
	struct node_rpc rpc;
	struct rf_errinfo ei = { "" };
	struct proto_msg req;
	if (proto_identity_generate(&id) != RF_OK) {
		return cli_fail(cmd, "cannot make a key");
	}
	int err = node_rpc_open(&rpc, url, &id, suite, NULL, &ei);
	proto_identity_wipe(&id);
	if (err != RF_OK) {
		return cli_fail(cmd, "cannot reach %s: %s", url, ei.msg);
	}
	proto_msg_init(&req, PROTO_MSG_DISPUTE_FETCH, suite);
	if (proto_digest_parse_hex(suite, hex,
	    &req.u.dispute_fetch.dispute_id) != RF_OK) {
		node_rpc_close(&rpc);
		return cli_usage_error(cmd, "--dispute must be a dispute id in hex");
	}
	uint8_t *rb = NULL;
	size_t rl = 0;
	err = node_sign(&rpc, &req, &rb, &rl);
	if (err == RF_OK) {
		uint8_t *reply;
		size_t reply_len;
		err = node_rpc_forward(&rpc, rb, rl, &reply, &reply_len, &ei);
		free(rb);
		rb = err == RF_OK ? reply : NULL;
		rl = err == RF_OK ? reply_len : 0;
	}
	node_rpc_close(&rpc);
	if (err != RF_OK) {
		return cli_fail(cmd, "cannot fetch the dispute: %s", ei.msg);
	}
	struct proto_msg m;
	err = proto_msg_decode(rb, rl, &m, &ei);
	if (err != RF_OK) {
		free(rb);
		return cli_fail(cmd, "bad reply: %s", ei.msg);
	}
	int rc = CLI_EXIT_OK;
	if (m.type == PROTO_MSG_BISECT_QUERY) {
		rc = cli_fail(cmd, "the dispute is still open (round %u)",
		    m.u.bisect_query.round);
	} else if (m.type == PROTO_MSG_ERROR) {
		rc = cli_fail(cmd, "referee: %s", m.u.error.text);
	} else if (m.type != PROTO_MSG_VERDICT) {
		rc = cli_fail(cmd, "unexpected %s reply",
		    proto_msg_type_name(m.type));
	}
	proto_msg_free(&m);
	if (rc != CLI_EXIT_OK) {
		free(rb);
		return rc;
	}
	*buf = rb;
	*len = rl;
	return CLI_EXIT_OK;
}

int
cmd_audit(int argc, char **argv)
{
	const char *referee = NULL, *dispute = NULL, *save = NULL;
	const char *hash = "blake2b";
	bool json = false;
	const struct cli_opt opts[] = {
		{ "referee", 'r', CLI_STR, &referee, "URL",
		    "fetch the verdict from this referee (with --dispute)" },
		{ "dispute", 'd', CLI_STR, &dispute, "HEX", "the dispute id" },
		{ "hash", 0, CLI_STR, &hash, "blake2b|xxh3",
		    "the network's hash suite (default blake2b)" },
		{ "save", 0, CLI_STR, &save, "FILE",
		    "keep the fetched verdict in FILE" },
		{ "json", 0, CLI_FLAG, &json, NULL, "print a JSON object" },
	};
	const struct cli_cmd cmd = {
		.path = "audit",
		.args = "[VERDICT]",
		.summary = "Replay a dispute's verdict from its transcript: check "
		    "every signature,\nreplay every move, recompute the operator, "
		    "and confirm or refute the verdict.",
		.details = "Give a verdict file (the signed VERDICT message), or "
		    "--referee and --dispute\nto fetch it. Exit code 0: confirmed; "
		    "1: refuted or unreadable.",
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
		.max_pos = 1,
	};
	const char *pos[1];
	size_t np = 0;
	int rc = cli_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
	if ((np == 1) == (referee != NULL || dispute != NULL) ||
	    ((referee == NULL) != (dispute == NULL))) {
		return cli_usage_error(&cmd, "give a verdict file, or --referee "
		    "and --dispute");
	}
	enum proto_hash suite;
	if (proto_hash_parse(hash, &suite) != RF_OK) {
		return cli_usage_error(&cmd, "--hash must be blake2b or xxh3");
	}
	if (proto_init() != RF_OK) {
		return cli_fail(&cmd, "cannot initialise libsodium");
	}
	uint8_t *buf;
	size_t len;
	rc = np == 1 ? cli_read_file(&cmd, pos[0], PROTO_MAX_MESSAGE, &buf, &len) :
	    fetch_verdict(&cmd, referee, dispute, suite, &buf, &len);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	if (save != NULL) {
		rc = cli_write_file(&cmd, save, buf, len, 0644);
		if (rc != CLI_EXIT_OK) {
			free(buf);
			return rc;
		}
	}
	struct bisect_audit_result res;
	struct rf_errinfo ei = { "" };
	int err = bisect_audit(buf, len, &res, &ei);
	free(buf);
	if (err != RF_OK) {
		return cli_fail(&cmd, "the verdict does not replay: %s", ei.msg);
	}
	const struct proto_verdict *v = &res.verdict;
	char id[2 * PROTO_DIGEST_MAX + 1];
	proto_digest_hex(suite, &v->dispute_id, id);
	if (json) {
		struct json_out j;
		json_begin(&j, stdout);
		json_str(&j, "dispute_id", id);
		json_bool(&j, "confirmed", res.confirmed);
		json_str(&j, "winner", v->executor_won ? "executor" : "challenger");
		json_str(&j, "reason", proto_verdict_reason_name(v->reason));
		json_uint(&j, "op", v->op);
		json_uint(&j, "rounds", v->rounds);
		json_uint(&j, "slashed", v->slashed);
		json_uint(&j, "reward", v->reward);
		json_str(&j, "replay", res.why);
		json_end(&j);
	} else {
		printf("dispute %s\n", id);
		printf("verdict: the %s wins (%s), operator %u, %u rounds, slashed "
		    "%llu, reward %llu\n", v->executor_won ? "executor" :
		    "challenger", proto_verdict_reason_name(v->reason), v->op, v->rounds,
		    (unsigned long long)v->slashed, (unsigned long long)v->reward);
		printf("replay:  %s\n", res.why);
		printf("%s\n", res.confirmed ? "CONFIRMED" : "REFUTED");
	}
	return res.confirmed ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
