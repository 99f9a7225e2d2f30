/*
 * cmd/cmd_devnet.c - `refute devnet`: a local network of real processes
 * (devnet/devnet.h), a progress line while it runs, and a summary (or JSON)
 * of what every node did.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devnet/devnet.h"
#include "cmd/cli.h"
#include "cmd/cmds.h"

#define TAIL_LINES 15

struct progress_out {
	bool tty;
	enum devnet_phase last_phase;
	double last_line;
	size_t width; /* of the last \r line, to blank it out */
};

static void
on_progress(void *ctx, const struct devnet_progress *p)
{
	struct progress_out *o = ctx;
	char line[160];
	int n = snprintf(line, sizeof(line), "devnet: %-10s jobs %u/%u, "
	    "claimed %u, final %u%s  %.1f s", devnet_phase_name(p->phase),
	    p->submitted, p->jobs, p->claimed, p->final,
	    p->invalid ? ", INVALID" : "", p->elapsed_s);
	if (n < 0) {
		return;
	}
	if (o->tty) {
		/* One line rewritten in place; pad over a longer old one. */
		size_t len = (size_t)n;
		fprintf(stderr, "\r%s%*s", line,
		    o->width > len ? (int)(o->width - len) : 0, "");
		o->width = len;
		fflush(stderr);
		return;
	}
	/* A log or a pipe: a line per phase and one every few seconds. */
	if (p->phase != o->last_phase || p->elapsed_s - o->last_line >= 2.0) {
		fprintf(stderr, "%s\n", line);
		o->last_phase = p->phase;
		o->last_line = p->elapsed_s;
	}
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
	return "unknown";
}

static double
per_second(unsigned n, double s)
{
	return s > 0.0 ? n / s : 0.0;
}

static void
print_json(const struct devnet_config *c, const struct devnet_report *r,
    bool ok, const char *reason, const char *error)
{
	struct json_out j;
	char hex[2 * PROTO_DIGEST_MAX + 1], key[65], path[DEVNET_PATH_MAX];
	cmd_json_begin(&j, stdout);
	cmd_json_bool(&j, "ok", ok);
	cmd_json_str(&j, "reason", ok ? "" : reason);
	cmd_json_str(&j, "error", error);
	cmd_json_uint(&j, "executors", c->executors);
	cmd_json_uint(&j, "challengers", c->challengers);
	cmd_json_uint(&j, "jobs_wanted", r->jobs_wanted);
	cmd_json_str(&j, "model", r->model_name);
	cmd_json_str(&j, "model_file", r->model_file);
	proto_digest_hex(r->suite, &r->model_id, hex);
	cmd_json_str(&j, "model_id", hex);
	cmd_json_str(&j, "hash", proto_hash_name(r->suite));
	cmd_json_uint(&j, "window_ms", r->window_ms);
	cmd_json_uint(&j, "seed", r->seed);
	cmd_json_uint(&j, "fee", r->fee);
	cmd_json_num(&j, "sample_rate", c->sample_rate);
	cmd_json_str(&j, "dir", r->dir);
	cmd_json_bool(&j, "kept", r->kept);
	cmd_json_str(&j, "referee_url", r->referee_url);
	cmd_json_str(&j, "events_url", r->events_url);
	cmd_json_uint(&j, "submitted", r->submitted);
	cmd_json_uint(&j, "claimed", r->claimed);
	cmd_json_uint(&j, "final", r->final);
	cmd_json_uint(&j, "invalid", r->invalid);
	cmd_json_uint(&j, "verifications", r->verifications);
	cmd_json_uint(&j, "mismatches", r->mismatches);
	cmd_json_uint(&j, "skipped", r->skipped);
	cmd_json_uint(&j, "minted", r->minted);
	cmd_json_uint(&j, "ledger_before", r->ledger_before);
	cmd_json_uint(&j, "ledger_after", r->ledger_after);
	cmd_json_num(&j, "elapsed_s", r->elapsed_s);
	cmd_json_num(&j, "submit_s", r->submit_s);
	cmd_json_num(&j, "final_s", r->final_s);
	cmd_json_num(&j, "jobs_per_s", per_second(r->final, r->final_s));
	cmd_json_bool(&j, "interrupted", r->interrupted);
	cmd_json_uint(&j, "slashed", r->slashed);
	cmd_json_uint(&j, "executor_wins", r->executor_wins);
	cmd_json_uint(&j, "challenger_wins", r->challenger_wins);
	cmd_json_uint(&j, "faulty_jobs", r->faulty_jobs);
	cmd_json_uint(&j, "faulty_caught", r->faulty_caught);
	cmd_json_arr_open(&j, "disputes");
	for (size_t i = 0; i < r->n_disputes; i++) {
		const struct devnet_dispute *dp = &r->disputes[i];
		cmd_json_obj_open(&j, NULL);
		proto_digest_hex(r->suite, &dp->id, hex);
		cmd_json_str(&j, "dispute_id", hex);
		proto_digest_hex(r->suite, &dp->job, hex);
		cmd_json_str(&j, "job_id", hex);
		cmd_json_bool(&j, "decided", dp->decided);
		cmd_json_str(&j, "winner", dp->executor_won ? "executor" : "challenger");
		cmd_json_str(&j, "reason", proto_verdict_reason_name(dp->reason));
		cmd_json_bool(&j, "faulty_executor", dp->faulty_executor);
		cmd_json_uint(&j, "op", dp->op);
		cmd_json_uint(&j, "rounds", dp->rounds);
		cmd_json_uint(&j, "slashed", dp->slashed);
		cmd_json_uint(&j, "reward", dp->reward);
		cmd_json_uint(&j, "duration_ms", dp->closed_ms > dp->opened_ms ?
		    dp->closed_ms - dp->opened_ms : 0);
		/* The signed verdict, for `refute audit`, while the folder
		 * is kept. */
		if (dp->verdict_saved && r->kept &&
		    devnet_verdict_path(r, dp, path, sizeof(path)) == RF_OK) {
			cmd_json_str(&j, "verdict_file", path);
		}
		cmd_json_obj_close(&j);
	}
	cmd_json_arr_close(&j);
	cmd_json_arr_open(&j, "nodes");
	for (size_t i = 0; i < r->n_nodes; i++) {
		const struct devnet_node *n = &r->nodes[i];
		proto_pubkey_hex(&n->key, key);
		cmd_json_obj_open(&j, NULL);
		cmd_json_str(&j, "name", n->name);
		cmd_json_str(&j, "role", devnet_role_name(n->role));
		cmd_json_bool(&j, "faulty", n->faulty);
		cmd_json_uint(&j, "slashed", n->slashed);
		cmd_json_str(&j, "key", key);
		cmd_json_uint(&j, "balance", n->balance);
		cmd_json_uint(&j, "stake", n->stake);
		cmd_json_uint(&j, "claims", n->claims);
		cmd_json_uint(&j, "verified", n->verified);
		cmd_json_uint(&j, "mismatches", n->mismatches);
		cmd_json_uint(&j, "skipped", n->skipped);
		cmd_json_int(&j, "exit_code", n->exit_code);
		cmd_json_bool(&j, "failed", n->failed);
		cmd_json_str(&j, "log", n->log);
		cmd_json_obj_close(&j);
	}
	cmd_json_arr_close(&j);
	cmd_json_arr_open(&j, "jobs");
	for (size_t i = 0; i < r->n_jobs; i++) {
		const struct devnet_job *jb = &r->jobs[i];
		cmd_json_obj_open(&j, NULL);
		proto_digest_hex(r->suite, &jb->job_id, hex);
		cmd_json_str(&j, "job_id", hex);
		cmd_json_uint(&j, "seed", jb->seed);
		proto_pubkey_hex(&jb->executor, key);
		cmd_json_str(&j, "executor", key);
		proto_digest_hex(r->suite, &jb->trace_root, hex);
		cmd_json_str(&j, "trace_root", hex);
		cmd_json_uint(&j, "n", jb->n);
		cmd_json_str(&j, "state", state_name(jb->state));
		cmd_json_uint(&j, "claim_events", jb->claim_events);
		cmd_json_uint(&j, "final_events", jb->final_events);
		cmd_json_uint(&j, "disputes", jb->disputes);
		cmd_json_obj_close(&j);
	}
	cmd_json_arr_close(&j);
	cmd_json_end(&j);
}

static void
print_text(const struct devnet_config *c, const struct devnet_report *r,
    bool ok, const char *reason)
{
	char hex[2 * PROTO_DIGEST_MAX + 1], key[65];
	proto_digest_hex(r->suite, &r->model_id, hex);
	hex[12] = '\0';
	printf("devnet: %u executor%s, %u challenger%s, model %s (model_id %s),"
	    " window %llu ms\n", c->executors, c->executors == 1 ? "" : "s",
	    c->challengers, c->challengers == 1 ? "" : "s", r->model_name, hex,
	    (unsigned long long)r->window_ms);
	printf("run folder %s (%s)\n\n", r->dir, r->kept ? "kept" : "removed");
	printf("  jobs submitted   %u of %u (inputs from seeds %llu..%llu, fee "
	    "%llu)\n", r->submitted, r->jobs_wanted, (unsigned long long)r->seed,
	    (unsigned long long)(r->seed + (r->jobs_wanted ? r->jobs_wanted - 1 :
	    0)), (unsigned long long)r->fee);
	printf("  claims posted    %u\n", r->claimed);
	printf("  final            %u (invalid %u)\n", r->final, r->invalid);
	printf("  verified         %u re-executions by challengers (%u matched), "
	    "%u skipped\n", r->verifications, r->verifications - r->mismatches,
	    r->skipped);
	printf("  mismatches       %u\n", r->mismatches);
	if (r->n_disputes > 0 || r->slashed > 0) {
		uint32_t rmin = UINT32_MAX, rmax = 0;
		uint64_t rsum = 0, dmax = 0;
		unsigned counted = 0;
		for (size_t i = 0; i < r->n_disputes; i++) {
			const struct devnet_dispute *dp = &r->disputes[i];
			if (dp->reason == PROTO_VERDICT_SETTLED || !dp->decided) {
				continue;
			}
			rmin = dp->rounds < rmin ? dp->rounds : rmin;
			rmax = dp->rounds > rmax ? dp->rounds : rmax;
			rsum += dp->rounds;
			uint64_t dur = dp->closed_ms > dp->opened_ms ?
			    dp->closed_ms - dp->opened_ms : 0;
			dmax = dur > dmax ? dur : dmax;
			counted++;
		}
		printf("  disputes         %zu (verdicts: executor won %u, "
		    "challenger won %u)\n", r->n_disputes, r->executor_wins,
		    r->challenger_wins);
		if (counted > 0) {
			printf("  rounds           %u..%u (mean %.1f); longest dispute "
			    "%llu ms\n", rmin, rmax, (double)rsum / counted,
			    (unsigned long long)dmax);
		}
		printf("  stake slashed    %llu\n", (unsigned long long)r->slashed);
		if (r->faulty_jobs > 0) {
			printf("  faulty claims    %u, caught %u\n", r->faulty_jobs,
			    r->faulty_caught);
		}
	}
	printf("  ledger total     %llu before, %llu after (minted %llu)%s\n",
	    (unsigned long long)r->ledger_before,
	    (unsigned long long)r->ledger_after, (unsigned long long)r->minted,
	    r->have_before && r->have_after &&
	    r->ledger_before == r->ledger_after ? ", unchanged" : "");
	if (r->final_s > 0.0) {
		printf("  elapsed          %.2f s in all; jobs submitted in %.2f s "
		    "(%.0f/s),\n                   all final %.2f s after the "
		    "first (%.1f jobs/s)\n\n", r->elapsed_s, r->submit_s,
		    per_second(r->submitted, r->submit_s), r->final_s,
		    per_second(r->final, r->final_s));
	} else {
		/* Cut short: there is no throughput to speak of. */
		printf("  elapsed          %.2f s\n\n", r->elapsed_s);
	}
	printf("  %-14s %-11s %-13s %12s %8s %7s %9s %5s\n", "node", "role",
	    "key", "balance", "stake", "claims", "verified", "exit");
	/* A faulty node is marked with a star after its name. */
	for (size_t i = 0; i < r->n_nodes; i++) {
		const struct devnet_node *n = &r->nodes[i];
		proto_pubkey_hex(&n->key, key);
		key[12] = '\0';
		char claims[16] = "", verified[24] = "", exitc[16] = "";
		if (n->role == DEVNET_EXECUTOR) {
			snprintf(claims, sizeof(claims), "%u", n->claims);
		}
		if (n->role == DEVNET_CHALLENGER) {
			snprintf(verified, sizeof(verified), "%u", n->verified);
		}
		if (n->role != DEVNET_CLIENT) {
			snprintf(exitc, sizeof(exitc), "%d", n->exit_code);
		}
		if (n->role == DEVNET_REFEREE) {
			printf("  %-14s %-11s %-13s %12s %8s %7s %9s %5s\n", n->name,
			    devnet_role_name(n->role), key, "-", "-", claims,
			    verified, exitc);
			continue;
		}
		char name[40];
		snprintf(name, sizeof(name), "%s%s", n->name, n->faulty ? "*" : "");
		printf("  %-14s %-11s %-13s %12llu %8llu %7s %9s %5s\n", name,
		    devnet_role_name(n->role), key,
		    (unsigned long long)n->balance, (unsigned long long)n->stake,
		    claims, verified, exitc);
	}
	if (c->faulty > 0 || c->faulty_challengers > 0) {
		printf("\n  * runs a TESTING fault: executors %s, challengers %s\n",
		    c->faulty > 0 ? c->fault : "-",
		    c->faulty_challengers > 0 ? c->challenger_fault : "-");
	}
	printf("\nresult: %s%s\n", ok ? "ok" : "FAILED: ", ok ? "" : reason);
}

/* The end of every log worth reading, on stderr. */
static void
print_tails(const struct devnet_report *r)
{
	for (size_t i = 0; i < r->n_nodes; i++) {
		const struct devnet_node *n = &r->nodes[i];
		if (!n->failed || n->log[0] == '\0') {
			continue;
		}
		char *buf = malloc(8192);
		if (buf == NULL) {
			return;
		}
		if (devnet_log_tail(n->log, TAIL_LINES, buf, 8192) == RF_OK) {
			fprintf(stderr, "---- %s (last lines of %s)\n%s", n->name,
			    n->log, buf);
			if (buf[0] != '\0' && buf[strlen(buf) - 1] != '\n') {
				fputc('\n', stderr);
			}
		}
		free(buf);
	}
}

int
cmd_devnet(int argc, char **argv)
{
	struct devnet_config c;
	devnet_config_init(&c);
	int64_t executors = c.executors, challengers = c.challengers;
	int64_t jobs = c.jobs, window = (int64_t)c.window_ms;
	int64_t fee = (int64_t)c.fee, port_base = 0, timeout = c.timeout_s;
	const char *rate = "1";
	bool json = false;
	int64_t faulty = 0, faulty_chal = 0, fault_op = 1;
	int64_t clock = (int64_t)c.clock_ms;
	const struct cli_opt opts[] = {
		{ "executors", 'x', CLI_I64, &executors, "N",
		    "executor processes (default 2)" },
		{ "challengers", 'c', CLI_I64, &challengers, "M",
		    "challenger processes (default 1)" },
		{ "jobs", 'j', CLI_I64, &jobs, "J", "jobs to submit (default 50)" },
		{ "model", 'm', CLI_STR, &c.model_kind, "KIND",
		    "generate mlp, cnn or transformer (seed 1; default mlp),\n"
		    "or gpt: generation jobs of a small language model" },
		{ "model-file", 0, CLI_STR, &c.model_file, "FILE",
		    "serve this .rfm model instead" },
		{ "window-ms", 'w', CLI_I64, &window, "MS",
		    "challenge window (default 1000)" },
		{ "seed", 's', CLI_U64, &c.seed, "S",
		    "job i's input comes from seed S + i (default 1)" },
		{ "fee", 'f', CLI_I64, &fee, "N", "fee per job (default 10)" },
		{ "rate", 'p', CLI_STR, &rate, "P",
		    "share of claims each challenger verifies (default 1)" },
		{ "dir", 'd', CLI_STR, &c.dir, "DIR",
		    "run folder, absent or empty (default run/devnet-PID)" },
		{ "keep", 'k', CLI_FLAG, &c.keep, NULL,
		    "keep the run folder (it is always kept after a failure)" },
		{ "port-base", 'P', CLI_I64, &port_base, "PORT",
		    "referee on PORT and PORT+1 (default: free ports)" },
		{ "timeout", 't', CLI_I64, &timeout, "S",
		    "seconds allowed for start-up, and again for finality "
		    "(default 120)" },
		{ "clock-ms", 0, CLI_I64, &clock, "MS",
		    "each side's dispute clock (default 5000)" },
		{ "faulty", 0, CLI_I64, &faulty, "K",
		    "TESTING: K executors misbehave with --fault" },
		{ "fault", 0, CLI_STR, &c.fault, "KIND",
		    "lie-at-op, lie-output, random, bad-proof, silent, equivocate" },
		{ "fault-op", 0, CLI_I64, &fault_op, "K",
		    "the operator lie-at-op, bad-proof and silent lie at (1)" },
		{ "faulty-challengers", 0, CLI_I64, &faulty_chal, "K",
		    "TESTING: K challengers misbehave with --challenger-fault" },
		{ "challenger-fault", 0, CLI_STR, &c.challenger_fault, "KIND",
		    "false-challenge or silent" },
		{ "json", 0, CLI_FLAG, &json, NULL,
		    "print a JSON object, with every job's seed and trace root" },
	};
	const struct cli_cmd cmd = {
		.path = "devnet",
		.summary = "Run a local network: a referee, executors and "
		    "challengers as separate\nprocesses on loopback, with a "
		    "generated genesis and keys; submit jobs, wait\nfor "
		    "finality and print what happened.",
		.details = "Exits 0 only when every job became final exactly once, "
		    "no challenger found a\nmismatch, the ledger total did not "
		    "change and every node stopped cleanly.\nWith --faulty: the "
		    "honest side must win every dispute and, with honest\n"
		    "challengers verifying everything, every faulty claim must be "
		    "caught.\nCtrl-C stops the "
		    "network cleanly. Each node logs to NAME.log in the run "
		    "folder;\nafter a failure the folder is kept and the ends of "
		    "the relevant logs printed.",
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
	};
	const char *pos[1];
	size_t np;
	int rc = cmd_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
	if (executors < 1 || executors > DEVNET_MAX_EXECUTORS) {
		return cmd_usage_error(&cmd, "--executors must be 1..%d",
		    DEVNET_MAX_EXECUTORS);
	}
	if (challengers > DEVNET_MAX_CHALLENGERS) {
		return cmd_usage_error(&cmd, "--challengers must be 0..%d",
		    DEVNET_MAX_CHALLENGERS);
	}
	if (jobs < 1 || jobs > DEVNET_MAX_JOBS) {
		return cmd_usage_error(&cmd, "--jobs must be 1..%d",
		    DEVNET_MAX_JOBS);
	}
	if (window < 1 || window > 86400000) {
		return cmd_usage_error(&cmd, "--window-ms must be 1..86400000");
	}
	if (fee < 1 || fee > ((int64_t)1 << 40) / jobs) {
		return cmd_usage_error(&cmd, "--fee must be positive (and fee * "
		    "jobs below 2^40)");
	}
	if (port_base > 65534 || timeout < 1 || timeout > 86400) {
		return cmd_usage_error(&cmd, "--port-base must be 1..65534 and "
		    "--timeout 1..86400");
	}
	char *end;
	c.sample_rate = strtod(rate, &end);
	if (*rate == '\0' || *end != '\0' ||
	    !(c.sample_rate >= 0.0 && c.sample_rate <= 1.0)) {
		return cmd_usage_error(&cmd, "--rate must be a number in 0..1");
	}
	if (c.model_file != NULL && strcmp(c.model_kind, "mlp") != 0) {
		/* --model has a default, so only a changed one conflicts. */
		return cmd_usage_error(&cmd, "give --model or --model-file, not "
		    "both");
	}
	c.executors = (unsigned)executors;
	c.challengers = (unsigned)challengers;
	c.jobs = (unsigned)jobs;
	c.window_ms = (uint64_t)window;
	c.fee = (uint64_t)fee;
	c.port_base = (int)port_base;
	c.timeout_s = (unsigned)timeout;
	if (faulty < 0 || faulty > executors || faulty_chal < 0 ||
	    faulty_chal > challengers || fault_op < 0 || fault_op > UINT32_MAX ||
	    clock < 1 || clock > 86400000) {
		return cmd_usage_error(&cmd, "--faulty, --faulty-challengers, "
		    "--fault-op or --clock-ms out of range");
	}
	if ((faulty > 0) != (c.fault != NULL) ||
	    (faulty_chal > 0) != (c.challenger_fault != NULL)) {
		return cmd_usage_error(&cmd, "--faulty goes with --fault, "
		    "--faulty-challengers with --challenger-fault");
	}
	c.faulty = (unsigned)faulty;
	c.faulty_challengers = (unsigned)faulty_chal;
	c.fault_op = (uint32_t)fault_op;
	c.clock_ms = (uint64_t)clock;
	if (proto_init() != RF_OK) {
		return cmd_fail(&cmd, "cannot initialise libsodium");
	}
	struct progress_out po = { isatty(2) != 0, 0, 0.0, 0 };
	c.progress = on_progress;
	c.progress_ctx = &po;
	volatile sig_atomic_t *stop;
	cmd_install_stop_handlers(&stop, false);
	c.stop = stop;

	/* The report holds every node's record: on the heap. */
	struct devnet_report *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return cmd_fail(&cmd, "no memory");
	}
	struct rf_errinfo ei = { "" };
	int err = devnet_run(&c, r, &ei);
	if (po.tty) {
		fputc('\n', stderr);
	}
	char reason[256] = "";
	bool ok = err == RF_OK && devnet_report_ok(r, reason, sizeof(reason));
	if (err != RF_OK) {
		snprintf(reason, sizeof(reason), "%s",
		    ei.msg[0] ? ei.msg : rf_strerror(err));
	}
	if (json) {
		print_json(&c, r, ok, reason, err != RF_OK ? reason : "");
	} else if (r->n_nodes > 0) {
		print_text(&c, r, ok, reason);
	}
	if (!ok) {
		print_tails(r);
		cmd_fail(&cmd, "%s%s%s", reason, r->kept ? "; logs in " : "",
		    r->kept ? r->dir : "");
	}
	devnet_report_free(r);
	free(r);
	return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
