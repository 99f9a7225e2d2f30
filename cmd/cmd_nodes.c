/*
 * cmd/cmd_nodes.c - `refute executor` and `refute challenger`: run a node
 * until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "challenger/challenger.h"
#include "executor/executor.h"
#include "net/net.h"
#include "node/node.h"
#include "cmd/cli.h"
#include "cmd/cmds.h"

/* Options every node shares. */
struct node_opts {
	const char *referee, *events, *identity, *db, *metrics, *name;
	const char *referee_key, *hash;
	struct cli_strs models;
	int64_t threads; /* engine threads; 0: one per core */
	const char *config; /* --config FILE: read by cmd_parse */
};

#define NODE_OPTS(o, db_default)                                           \
	CLI_CONFIG_OPT((o).config),                                        \
	{ "identity", 'k', CLI_STR, &(o).identity, "FILE",                 \
	    "this node's identity file (refute keygen)" },                 \
	{ "referee", 'r', CLI_STR, &(o).referee, "URL",                    \
	    "the referee's requests (default tcp://127.0.0.1:7700)" },     \
	{ "events", 'e', CLI_STR, &(o).events, "URL",                      \
	    "the referee's events (default tcp://127.0.0.1:7701)" },       \
	{ "referee-key", 0, CLI_STR, &(o).referee_key, "HEX",              \
	    "accept replies signed by this key only" },                    \
	{ "db", 'd', CLI_STR, &(o).db, "FILE",                             \
	    "state (SQLite), default " db_default },                       \
	{ "model", 'm', CLI_STRS, &(o).models, "FILE",                     \
	    "a model file to serve or check; repeat for more" },           \
	{ "name", 'n', CLI_STR, &(o).name, "NAME", "a name for logs" },    \
	{ "metrics", 0, CLI_STR, &(o).metrics, "ADDR",                     \
	    "serve Prometheus metrics on ADDR (host:port)" },              \
	{ "hash", 0, CLI_STR, &(o).hash, "SUITE",                          \
	    "the network's hash suite, blake3, blake2b or xxh3 (default:\n" \
	    "the referee's; a node never runs in another)" },             \
	{ "threads", 0, CLI_I64, &(o).threads, "N",                        \
	    "engine threads per run (default 0: one per core)" }

/* The options every node shares, into its node_config. */
static int
node_common(const struct cli_cmd *cmd, const struct node_opts *o,
    struct node_config *nc)
{
	if (o->identity == NULL) {
		return cmd_usage_error(cmd, "missing --identity FILE");
	}
	if (o->hash != NULL && proto_hash_parse(o->hash, &nc->suite) != RF_OK) {
		return cmd_usage_error(cmd,
		    "--hash must be blake3, blake2b or xxh3");
	}
	memset(&nc->referee_key, 0, sizeof(nc->referee_key));
	if (o->referee_key != NULL &&
	    proto_pubkey_parse_hex(o->referee_key, &nc->referee_key) != RF_OK) {
		return cmd_usage_error(cmd, "--referee-key must be 64 hex digits");
	}
	if (proto_init() != RF_OK) {
		return cmd_fail(cmd, "cannot initialise libsodium");
	}
	int rc = cmd_engine_threads(cmd, o->threads);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	rc = cmd_load_identity(cmd, o->identity, &nc->identity);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	/* Model ids and trace roots are suite-specific: the referee's
	 * network fixes the suite (its genesis), and a node that would
	 * compute another refuses to start. */
	enum proto_hash theirs;
	struct rf_errinfo ei = { "" };
	bool any_key = proto_pubkey_is_zero(&nc->referee_key);
	if (node_referee_suite(o->referee, &nc->identity,
	    any_key ? NULL : &nc->referee_key, &theirs, &ei) != RF_OK) {
		proto_identity_wipe(&nc->identity);
		return cmd_fail(cmd, "%s", ei.msg);
	}
	if (o->hash != NULL && theirs != nc->suite) {
		proto_identity_wipe(&nc->identity);
		return cmd_fail(cmd, "the referee's network uses the %s hash "
		    "suite, not %s: start with --hash %s or without --hash",
		    proto_hash_name(theirs), proto_hash_name(nc->suite),
		    proto_hash_name(theirs));
	}
	nc->suite = theirs;
	nc->referee_url = o->referee;
	nc->events_url = o->events;
	nc->db_path = o->db;
	nc->metrics_addr = o->metrics;
	nc->name = o->name;
	for (size_t i = 0; i < o->models.n; i++) {
		nc->model_paths[i] = o->models.v[i];
	}
	nc->n_models = o->models.n;
	return CLI_EXIT_OK;
}

static int
parse_rate(const struct cli_cmd *cmd, const char *opt, const char *s,
    double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || !(v >= 0.0 && v <= 1.0)) {
		return cmd_usage_error(cmd, "--%s must be a number in 0..1", opt);
	}
	*out = v;
	return -1;
}

int
cmd_executor(int argc, char **argv)
{
	struct node_opts o = { "tcp://127.0.0.1:7700", "tcp://127.0.0.1:7701",
		NULL, "executor.db", NULL, "executor", NULL, NULL,
		{ { NULL }, 0 }, 0, NULL };
	const char *listen = NULL, *fault = "none", *fault_rate = "1";
	int64_t stake = 1000, fault_op = 0;
	int64_t max_conns = NET_MAX_CONNS_DEFAULT, idle_ms = NET_IDLE_MS_DEFAULT;
	const struct cli_opt opts[] = {
		NODE_OPTS(o, "executor.db"),
		CLI_NET_LIMIT_OPTS(max_conns, idle_ms),
		{ "stake", 's', CLI_I64, &stake, "N",
		    "keep at least N at stake (default 1000)" },
		{ "listen", 'l', CLI_STR, &listen, "URL",
		    "take jobs straight from clients on this REP socket" },
		{ "fault", 0, CLI_STR, &fault, "KIND",
		    "TESTING ONLY: misbehave (lie-at-op, lie-output, random,\n"
		    "                             bad-proof, silent, equivocate)" },
		{ "fault-op", 0, CLI_I64, &fault_op, "K",
		    "TESTING ONLY: the operator lie-at-op lies about" },
		{ "fault-rate", 0, CLI_STR, &fault_rate, "R",
		    "TESTING ONLY: share of jobs the fault hits (default 1)" },
	};
	const struct cli_cmd cmd = {
		.path = "executor",
		.config = true,
		.summary = "Run an executor: take jobs, run them deterministically, "
		    "post signed claims\ncommitting to the whole trace.",
		.details = "--fault and its options make the node lie on purpose, "
		    "to test that the\nnetwork catches it. Never use them on a real "
		    "network.",
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
	};
	const char *pos[1];
	size_t np;
	int rc = cmd_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
	struct executor_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	if (executor_fault_parse(fault, &cfg.fault) != RF_OK) {
		return cmd_usage_error(&cmd, "unknown --fault '%s'", fault);
	}
	rc = parse_rate(&cmd, "fault-rate", fault_rate, &cfg.fault_rate);
	if (rc >= 0) {
		return rc;
	}
	if (o.models.n == 0) {
		return cmd_usage_error(&cmd, "give at least one --model FILE");
	}
	rc = cmd_net_limits(&cmd, max_conns, idle_ms);
	if (rc >= 0) {
		return rc;
	}
	rc = node_common(&cmd, &o, &cfg.node);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	cfg.listen_url = listen;
	cfg.stake = (uint64_t)stake;
	cfg.fault_op = (uint32_t)fault_op;
	rf_log_init("executor", LOG_LEVEL_INFO);
	if (cfg.fault != EXECUTOR_FAULT_NONE) {
		log_warn("TESTING FAULT ENABLED: %s (rate %.2f): this executor "
		    "lies on purpose", executor_fault_name(cfg.fault),
		    cfg.fault_rate);
	}
	volatile sig_atomic_t *stop;
	cmd_install_stop_handlers(&stop, true);
	struct rf_errinfo ei = { "" };
	int err = executor_run(&cfg, stop, &ei);
	proto_identity_wipe(&cfg.node.identity);
	if (err != RF_OK && *stop) {
		/* Stopped while starting (a request to the referee cut
		 * short): what was asked for, not a failure. */
		log_info("stopped while starting: %s", ei.msg[0] ? ei.msg :
		    rf_strerror(err));
		return CLI_EXIT_OK;
	}
	if (err != RF_OK) {
		return cmd_fail(&cmd, "%s", ei.msg[0] ? ei.msg : rf_strerror(err));
	}
	return CLI_EXIT_OK;
}

int
cmd_challenger(int argc, char **argv)
{
	struct node_opts o = { "tcp://127.0.0.1:7700", "tcp://127.0.0.1:7701",
		NULL, "challenger.db", NULL, "challenger", NULL, NULL,
		{ { NULL }, 0 }, 0, NULL };
	const char *rate = "1", *fault = "none", *seed_s = NULL;
	int64_t bond = 100;
	bool no_dispute = false;
	struct cli_strs always_x = { { NULL }, 0 };
	struct cli_strs always_m = { { NULL }, 0 };
	const struct cli_opt opts[] = {
		NODE_OPTS(o, "challenger.db"),
		{ "rate", 'p', CLI_STR, &rate, "P",
		    "share of claims to verify, 0..1 (default 1)" },
		{ "seed", 0, CLI_STR, &seed_s, "S",
		    "sampling seed, for reproducible experiments (default: a "
		    "secret\nrandom seed kept in the database)" },
		{ "always-executor", 0, CLI_STRS, &always_x, "HEX",
		    "always verify this executor's claims; repeatable" },
		{ "always-model", 0, CLI_STRS, &always_m, "HEX",
		    "always verify jobs on this model_id; repeatable" },
		{ "bond", 'b', CLI_I64, &bond, "N",
		    "bond posted with each dispute (default 100)" },
		{ "no-dispute", 0, CLI_FLAG, &no_dispute, NULL,
		    "only report mismatches, never dispute" },
		{ "fault", 0, CLI_STR, &fault, "KIND",
		    "TESTING ONLY: misbehave (false-challenge, silent)" },
	};
	const struct cli_cmd cmd = {
		.path = "challenger",
		.config = true,
		.summary = "Run a challenger: sample claims, re-execute them, "
		    "compare trace roots, and\ndispute (with a bond) every claim "
		    "whose root differs.",
		.details = "--fault makes the node misbehave on purpose, to test "
		    "that the network\ncatches it. Never use it on a real network.",
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
	};
	const char *pos[1];
	size_t np;
	int rc = cmd_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
	struct challenger_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	if (challenger_fault_parse(fault, &cfg.fault) != RF_OK) {
		return cmd_usage_error(&cmd, "unknown --fault '%s'", fault);
	}
	if (seed_s != NULL) {
		char *end;
		errno = 0;
		cfg.seed = strtoull(seed_s, &end, 0);
		if (*seed_s == '\0' || *seed_s == '-' || *end != '\0' ||
		    errno != 0) {
			return cmd_usage_error(&cmd, "--seed needs an integer");
		}
		cfg.seed_set = true;
	}
	cfg.bond = (uint64_t)bond;
	cfg.dispute = !no_dispute;
	rc = parse_rate(&cmd, "rate", rate, &cfg.rate);
	if (rc >= 0) {
		return rc;
	}
	rc = node_common(&cmd, &o, &cfg.node);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	for (size_t i = 0; i < always_x.n; i++) {
		if (proto_pubkey_parse_hex(always_x.v[i],
		    &cfg.always_executors[i]) != RF_OK) {
			proto_identity_wipe(&cfg.node.identity);
			return cmd_usage_error(&cmd, "--always-executor must be 64 "
			    "hex digits");
		}
	}
	cfg.n_always_executors = always_x.n;
	for (size_t i = 0; i < always_m.n; i++) {
		if (proto_digest_parse_hex(cfg.node.suite, always_m.v[i],
		    &cfg.always_models[i]) != RF_OK) {
			proto_identity_wipe(&cfg.node.identity);
			return cmd_usage_error(&cmd, "--always-model must be a "
			    "model_id in hex");
		}
	}
	cfg.n_always_models = always_m.n;
	rf_log_init("challenger", LOG_LEVEL_INFO);
	if (cfg.fault != CHALLENGER_FAULT_NONE) {
		log_warn("TESTING FAULT ENABLED: %s: this challenger misbehaves on "
		    "purpose", challenger_fault_name(cfg.fault));
	}
	volatile sig_atomic_t *stop;
	cmd_install_stop_handlers(&stop, true);
	struct rf_errinfo ei = { "" };
	int err = challenger_run(&cfg, stop, &ei);
	proto_identity_wipe(&cfg.node.identity);
	if (err != RF_OK && *stop) {
		/* Stopped while starting (a request to the referee cut
		 * short): what was asked for, not a failure. */
		log_info("stopped while starting: %s", ei.msg[0] ? ei.msg :
		    rf_strerror(err));
		return CLI_EXIT_OK;
	}
	if (err != RF_OK) {
		return cmd_fail(&cmd, "%s", ei.msg[0] ? ei.msg : rf_strerror(err));
	}
	return CLI_EXIT_OK;
}
