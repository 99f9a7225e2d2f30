/*
 * cmd/cmd_audit.c - `refute audit`: replays a dispute's verdict from its
 * transcript and confirms or refutes it against the network's genesis,
 * trusting no one but the referee key it pins: every signature is checked,
 * the disputed operator is recomputed locally, and every field of the
 * verdict is recomputed by the network's rules.
 */
#include <stdlib.h>
#include <string.h>

#include "bisect/bisect.h"
#include "node/node.h"
#include "referee/referee.h"
#include "cmd/cli.h"
#include "cmd/cmds.h"

/* Fetches a dispute's verdict from the referee as the signed bytes it
 * sent (the audit checks that signature itself). */
static int
fetch_verdict(const struct cli_cmd *cmd, const char *url, const char *hex,
    enum proto_hash suite, const struct proto_pubkey *referee, uint8_t **buf,
    size_t *len)
{
	struct proto_identity id;
	struct node_rpc rpc;
	struct rf_errinfo ei = { "" };
	struct proto_dispute_fetch req;
	if (proto_identity_generate(&id) != RF_OK) {
		return cmd_fail(cmd, "cannot make a key");
	}
	int err = node_rpc_open(&rpc, url, &id, suite, referee, &ei);
	proto_identity_wipe(&id);
	if (err != RF_OK) {
		return cmd_fail_code(cmd, CLI_EXIT_NET, "cannot reach %s: %s", url,
		    ei.msg);
	}
	memset(&req, 0, sizeof(req));
	if (proto_digest_parse_hex(suite, hex, &req.dispute_id) != RF_OK) {
		node_rpc_close(&rpc);
		return cmd_usage_error(cmd, "--dispute must be a dispute id in hex");
	}
	uint8_t *rb = NULL;
	size_t rl = 0;
	err = node_sign(&rpc, PROTO_MSG_DISPUTE_FETCH, &req, &rb, &rl);
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
		return cmd_fail_code(cmd, CLI_EXIT_NET, "cannot fetch the dispute: "
		    "%s", ei.msg);
	}
	/* The verdict itself is checked by the audit; the other replies
	 * are read here. */
	struct proto_env m;
	struct proto_bisect_query q;
	struct proto_error e;
	err = proto_msg_open(rb, rl, &m, &ei);
	if (err == RF_OK && m.type == PROTO_MSG_BISECT_QUERY) {
		err = proto_bisect_query_decode(&m, &q, &ei);
	} else if (err == RF_OK && m.type == PROTO_MSG_ERROR) {
		err = proto_error_decode(&m, &e, &ei);
	}
	if (err != RF_OK) {
		free(rb);
		return cmd_fail(cmd, "bad reply: %s", ei.msg);
	}
	int rc = CLI_EXIT_OK;
	if (m.type == PROTO_MSG_BISECT_QUERY) {
		rc = cmd_fail(cmd, "the dispute is still open (round %u)",
		    q.round);
	} else if (m.type == PROTO_MSG_ERROR) {
		rc = cmd_fail(cmd, "referee: %s", e.text);
	} else if (m.type != PROTO_MSG_VERDICT) {
		rc = cmd_fail(cmd, "unexpected %s reply",
		    proto_msg_type_name(m.type));
	}
	if (rc != CLI_EXIT_OK) {
		free(rb);
		return rc;
	}
	*buf = rb;
	*len = rl;
	return CLI_EXIT_OK;
}

/*
 * The rules to audit by: the network's parameters from its genesis, and
 * the referee's key from --referee-key or the genesis's `referee` line
 * (both given: they must agree).
 */
static int
load_rules(const struct cli_cmd *cmd, const char *genesis, const char *key,
    struct bisect_audit_rules *ru)
{
	uint8_t *text;
	size_t len;
	int rc = cmd_read_file(cmd, genesis, (size_t)1 << 20, &text, &len);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	struct referee_genesis g;
	struct rf_errinfo ei = { "" };
	int err = referee_genesis_parse((const char *)text, len, &g, &ei);
	free(text);
	if (err != RF_OK) {
		return cmd_fail(cmd, "%s: %s", genesis, ei.msg);
	}
	memset(ru, 0, sizeof(*ru));
	ru->suite = g.params.suite;
	ru->arity = g.params.arity;
	referee_params_chain(&g.params, &ru->money);
	ru->referee = g.referee;
	bool have = g.has_referee;
	referee_genesis_free(&g);
	if (key != NULL) {
		struct proto_pubkey k;
		if (proto_pubkey_parse_hex(key, &k) != RF_OK) {
			return cmd_usage_error(cmd, "--referee-key must be 64 hex "
			    "digits");
		}
		if (have && memcmp(k.b, ru->referee.b, PROTO_KEY_LEN) != 0) {
			return cmd_fail(cmd, "--referee-key is not the referee %s "
			    "names", genesis);
		}
		ru->referee = k;
		have = true;
	}
	if (!have) {
		return cmd_usage_error(cmd, "%s names no referee: give "
		    "--referee-key", genesis);
	}
	return CLI_EXIT_OK;
}

int
cmd_audit(int argc, char **argv)
{
	const char *referee = NULL, *dispute = NULL, *save = NULL;
	const char *genesis = NULL, *key = NULL;
	bool json = false;
	const struct cli_opt opts[] = {
		{ "genesis", 'g', CLI_STR, &genesis, "FILE",
		    "the network's genesis (required): its parameters, and the "
		    "referee\nit names" },
		{ "referee-key", 'k', CLI_STR, &key, "HEX",
		    "the referee's public key (when the genesis names none)" },
		{ "referee", 'r', CLI_STR, &referee, "URL",
		    "fetch the verdict from this referee (with --dispute)" },
		{ "dispute", 'd', CLI_STR, &dispute, "HEX",
		    "the dispute id, or a unique prefix of it" },
		{ "save", 0, CLI_STR, &save, "FILE",
		    "keep the fetched verdict in FILE" },
		{ "json", 0, CLI_FLAG, &json, NULL, "print a JSON object" },
	};
	const struct cli_cmd cmd = {
		.path = "audit",
		.args = "[VERDICT]",
		.summary = "Replay a dispute's verdict from its transcript against "
		    "the network's rules:\ncheck every signature, replay every "
		    "move, recompute the operator and every\nfield of the verdict, "
		    "and confirm or refute it.",
		.details = "Give a verdict file (the signed VERDICT message), or "
		    "--referee and --dispute\nto fetch it, and the network's "
		    "--genesis. A verdict signed by any key but the\nreferee's "
		    "(--referee-key, or the genesis's `referee` line) is refused. "
		    "Exit\ncode 0: confirmed; 1: refuted, refused or unreadable.",
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
		.max_pos = 1,
	};
	const char *pos[1];
	size_t np = 0;
	int rc = cmd_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
	cmd_json_errors(json);
	if ((np == 1) == (referee != NULL || dispute != NULL) ||
	    ((referee == NULL) != (dispute == NULL))) {
		return cmd_usage_error(&cmd, "give a verdict file, or --referee "
		    "and --dispute");
	}
	if (genesis == NULL) {
		return cmd_usage_error(&cmd, "give --genesis FILE: the verdict is "
		    "checked against the network's parameters and referee");
	}
	if (proto_init() != RF_OK) {
		return cmd_fail(&cmd, "cannot initialise libsodium");
	}
	struct bisect_audit_rules rules;
	rc = load_rules(&cmd, genesis, key, &rules);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	enum proto_hash suite = rules.suite;
	uint8_t *buf;
	size_t len;
	char full[2 * PROTO_DIGEST_MAX + 1];
	if (np == 0) {
		/* A prefix names the one dispute whose id starts with it. */
		struct proto_digest did;
		rc = cmd_dispute_resolve(&cmd, referee, suite, &rules.referee,
		    dispute, &did);
		if (rc != CLI_EXIT_OK) {
			return rc;
		}
		proto_digest_hex(suite, &did, full);
		dispute = full;
	}
	rc = np == 1 ? cmd_read_file(&cmd, pos[0], PROTO_MAX_MESSAGE, &buf, &len) :
	    fetch_verdict(&cmd, referee, dispute, suite, &rules.referee, &buf,
	    &len);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	if (save != NULL) {
		rc = cmd_write_file(&cmd, save, buf, len, 0644);
		if (rc != CLI_EXIT_OK) {
			free(buf);
			return rc;
		}
	}
	struct bisect_audit_result res;
	struct rf_errinfo ei = { "" };
	int err = bisect_audit(buf, len, &rules, &res, &ei);
	free(buf);
	if (err != RF_OK) {
		return cmd_fail(&cmd, "the verdict does not replay: %s", ei.msg);
	}
	const struct proto_verdict *v = &res.verdict;
	char id[2 * PROTO_DIGEST_MAX + 1];
	proto_digest_hex(suite, &v->dispute_id, id);
	if (json) {
		struct json_out j;
		cmd_json_begin(&j, stdout);
		cmd_json_str(&j, "dispute_id", id);
		cmd_json_bool(&j, "confirmed", res.confirmed);
		cmd_json_str(&j, "winner", v->executor_won ? "executor" : "challenger");
		cmd_json_str(&j, "reason", proto_verdict_reason_name(v->reason));
		cmd_json_uint(&j, "op", v->op);
		cmd_json_uint(&j, "rounds", v->rounds);
		cmd_json_uint(&j, "slashed", v->slashed);
		cmd_json_uint(&j, "reward", v->reward);
		cmd_json_bool(&j, "slashed_from_ledger", res.slashed_from_ledger);
		cmd_json_str(&j, "replay", res.why);
		cmd_json_end(&j);
	} else {
		printf("dispute %s\n", id);
		printf("verdict: the %s wins (%s), operator %u, %u rounds, slashed "
		    "%llu, reward %llu\n", v->executor_won ? "executor" :
		    "challenger", proto_verdict_reason_name(v->reason), v->op, v->rounds,
		    (unsigned long long)v->slashed, (unsigned long long)v->reward);
		printf("replay:  %s\n", res.why);
		if (res.slashed_from_ledger) {
			printf("slashed: the executor's stake when the claim fell (the "
			    "ledger's; a\n         transcript cannot show it); the "
			    "reward is checked against it\n");
		}
		printf("%s\n", res.confirmed ? "CONFIRMED" : "REFUTED");
	}
	return res.confirmed ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
