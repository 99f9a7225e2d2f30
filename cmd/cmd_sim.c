/*
 * cmd/cmd_sim.c - `refute sim`: runs a simulation experiment (sim/sim.h)
 * from a config file and flags, with a progress line on stderr, and
 * prints its summary; CSV, plots and the summary land in --out.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim.h"
#include "cmd/cli.h"
#include "cmd/cmds.h"

#define UNSET UINT64_MAX

struct progress_out {
	bool tty;
	double last_line;
	size_t width;
};

static void
on_progress(void *ctx, const struct sim_exp_progress *p)
{
	struct progress_out *o = ctx;
	char line[200];
	int n = snprintf(line, sizeof(line), "sim: run %zu/%zu  jobs %llu/%llu"
	    "  disputes %llu  events %llu  t=%.1f s simulated  %.1f s",
	    p->run, p->runs, (unsigned long long)p->p.jobs_done,
	    (unsigned long long)p->p.jobs, (unsigned long long)p->p.disputes,
	    (unsigned long long)p->p.events, (double)p->p.now_us / 1e6,
	    p->p.wall_s);
	if (n < 0) {
		return;
	}
	if (o->tty) {
		size_t len = (size_t)n;
		fprintf(stderr, "\r%s%*s", line,
		    o->width > len ? (int)(o->width - len) : 0, "");
		o->width = len;
		fflush(stderr);
		return;
	}
	/* A log or a pipe: a line every few seconds and at each run's end. */
	if (p->p.wall_s - o->last_line >= 2.0 || p->p.jobs_done == p->p.jobs ||
	    p->p.wall_s < o->last_line) {
		fprintf(stderr, "%s\n", line);
		o->last_line = p->p.wall_s;
	}
}

/* What runs without --config: experiments/default.conf, kept in step
 * with it so `refute sim --out DIR` needs no file. */
static const char *const default_exp[][2] = {
	{ "name", "default" }, { "plot", "run" }, { "seed", "1" },
	{ "jobs", "100000" }, { "rate", "2000" }, { "executors", "1000" },
	{ "challengers", "100" }, { "clients", "1000" }, { "models", "10" },
	{ "ops", "64" }, { "p", "0.05" }, { "cheat_rate", "0.2" },
	{ "ex.lie-at-op", "0.02" }, { "ex.lie-output", "0.01" },
	{ "ex.random", "0.01" }, { "ex.equivocate", "0.005" },
	{ "ex.silent", "0.005" }, { "ex.bad-proof", "0.005" },
	{ "ex.collude", "0.005" }, { "ex.rational", "0.01" },
	{ "ch.false", "0.02" }, { "ch.silent", "0.01" },
	{ "ch.collude", "0.02" },
};

static void
print_key(void *ctx, const char *key, const char *help)
{
	(void)ctx;
	printf("  %-16s %s\n", key, help);
}

/* "KEY=VALUE" into its two halves (in place). */
static bool
split_kv(char *s, char **key, char **value)
{
	char *eq = strchr(s, '=');
	if (eq == NULL || eq == s) {
		return false;
	}
	*eq = '\0';
	*key = s;
	*value = eq + 1;
	return true;
}

int
cmd_sim(int argc, char **argv)
{
	const char *out = NULL, *config = NULL, *nodes = NULL, *p = NULL;
	const char *plot = NULL, *format = NULL;
	struct cli_strs sets = { { 0 }, 0 }, sweeps = { { 0 }, 0 };
	uint64_t seed = UNSET, jobs = UNSET, real = UNSET;
	bool keys = false, quiet = false, jobs_csv = false;
	const struct cli_opt opts[] = {
		{ "out", 'o', CLI_STR, &out, "DIR",
		    "folder for CSV, plots and summary.txt (created)" },
		{ "config", 'c', CLI_STR, &config, "FILE",
		    "experiment file (experiments/*.conf); flags override it" },
		{ "set", 's', CLI_STRS, &sets, "KEY=VALUE",
		    "set a key (repeatable; --keys lists them)" },
		{ "sweep", 0, CLI_STRS, &sweeps, "KEY=V1,V2,...",
		    "run every value (repeatable: the first is the x axis)" },
		{ "seed", 0, CLI_U64, &seed, "N", "random seed" },
		{ "jobs", 'n', CLI_U64, &jobs, "N", "jobs to run" },
		{ "nodes", 0, CLI_STR, &nodes, "N",
		    "network size (half executors, a tenth challengers)" },
		{ "p", 'p', CLI_STR, &p, "RATE", "challengers' sampling rate" },
		{ "real-model", 0, CLI_U64, &real, "N",
		    "play the first N disputes on a generated MLP" },
		{ "plot", 0, CLI_STR, &plot, "KIND",
		    "run, detection, cost, stake, dispute or load" },
		{ "format", 0, CLI_STR, &format, "png|svg", "plot format" },
		{ "jobs-csv", 0, CLI_FLAG, &jobs_csv, NULL,
		    "also write jobs.csv, one row per job of the first run" },
		{ "keys", 0, CLI_FLAG, &keys, NULL, "list every key and exit" },
		{ "quiet", 'q', CLI_FLAG, &quiet, NULL, "no progress line" },
	};
	const struct cli_cmd cmd = {
		.path = "sim",
		.summary = "simulate a whole network: detection, cost, disputes, "
		    "load",
		.details = "A discrete-event simulation running the real dispute "
		    "game, ledger rules and sampling policy on synthetic traces.\n"
		    "Without --config it runs the default network (a minute at "
		    "most). Same seed, same CSV bytes. See docs/simulation.md.",
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
		.min_pos = 0,
		.max_pos = 0,
	};
	const char *pos[1];
	size_t n_pos = 0;
	int rc = cmd_parse(&cmd, argc, argv, pos, &n_pos);
	if (rc >= 0) {
		return rc;
	}
	if (keys) {
		printf("keys (set in a config file as 'key = value', or with "
		    "--set key=value):\n");
		sim_config_keys(print_key, NULL);
		return CLI_EXIT_OK;
	}
	if (out == NULL) {
		return cmd_usage_error(&cmd, "--out DIR is required");
	}
	struct sim_experiment *e = malloc(sizeof(*e));
	if (e == NULL) {
		return cmd_fail(&cmd, "out of memory");
	}
	sim_experiment_init(e);
	struct rf_errinfo ei = { "" };
	int err = RF_OK;
	if (config != NULL) {
		err = sim_experiment_load(e, config, &ei);
	} else {
		size_t n = sizeof(default_exp) / sizeof(default_exp[0]);
		for (size_t i = 0; i < n && err == RF_OK; i++) {
			err = sim_experiment_set(e, default_exp[i][0],
			    default_exp[i][1], false, &ei);
		}
	}
	char num[32];
	struct {
		const char *key;
		const char *value;
	} flags[8];
	size_t nf = 0;
	if (seed != UNSET) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)seed);
		flags[nf].key = "seed";
		flags[nf++].value = strdup(num);
	}
	if (jobs != UNSET) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)jobs);
		flags[nf].key = "jobs";
		flags[nf++].value = strdup(num);
	}
	if (real != UNSET) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)real);
		flags[nf].key = "real_model";
		flags[nf++].value = strdup(num);
	}
	if (nodes != NULL) {
		flags[nf].key = "nodes";
		flags[nf++].value = strdup(nodes);
	}
	if (p != NULL) {
		flags[nf].key = "p";
		flags[nf++].value = strdup(p);
	}
	if (plot != NULL) {
		flags[nf].key = "plot";
		flags[nf++].value = strdup(plot);
	}
	if (format != NULL) {
		flags[nf].key = "format";
		flags[nf++].value = strdup(format);
	}
	if (jobs_csv) {
		flags[nf].key = "jobs_csv";
		flags[nf++].value = strdup("1");
	}
	for (size_t i = 0; i < nf && err == RF_OK; i++) {
		if (flags[i].value == NULL) {
			err = rf_errf(&ei, RF_ERR_NOMEM, "out of memory");
		} else {
			err = sim_experiment_set(e, flags[i].key, flags[i].value,
			    false, &ei);
		}
	}
	for (size_t i = 0; i < nf; i++) {
		free((char *)flags[i].value);
	}
	for (size_t i = 0; i < sets.n + sweeps.n && err == RF_OK; i++) {
		bool sweep = i >= sets.n;
		const char *arg = sweep ? sweeps.v[i - sets.n] : sets.v[i];
		char *copy = strdup(arg);
		char *key, *value;
		if (copy == NULL) {
			err = rf_errf(&ei, RF_ERR_NOMEM, "out of memory");
		} else if (!split_kv(copy, &key, &value)) {
			free(copy);
			free(e);
			return cmd_usage_error(&cmd, "--%s wants KEY=VALUE, not '%s'",
			    sweep ? "sweep" : "set", arg);
		} else {
			err = sim_experiment_set(e, key, value, sweep, &ei);
		}
		free(copy);
	}
	if (err != RF_OK) {
		free(e);
		return err == RF_ERR_NOTFOUND || err == RF_ERR_INVAL ||
		    err == RF_ERR_RANGE ? cmd_usage_error(&cmd, "%s", ei.msg) :
		    cmd_fail(&cmd, "%s", ei.msg);
	}
	struct progress_out po = { isatty(2) != 0, 0.0, 0 };
	char *summary = NULL;
	err = sim_experiment_run(e, out, quiet ? NULL : on_progress, &po,
	    &summary, &ei);
	if (po.tty && !quiet) {
		fprintf(stderr, "\n");
	}
	free(e);
	if (err != RF_OK) {
		free(summary);
		return cmd_fail(&cmd, "%s", ei.msg);
	}
	fputs(summary, stdout);
	printf("results in %s/ (runs.csv, summary.txt, plot.gp)\n", out);
	free(summary);
	return CLI_EXIT_OK;
}
