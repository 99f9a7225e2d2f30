/*
 * devnet/devnet.c - the local network launcher behind `refute devnet`.
 *
 * One run: run folder (model, keys, genesis) -> referee -> executors and
 * challengers -> jobs from an in-process client -> finality -> claims read
 * back -> challengers caught up -> final status -> processes stopped ->
 * challengers' records read -> run folder removed. Every wait has a
 * deadline, watches the children (one that exits early ends the run with
 * its name) and the stop flag, so a run never hangs and never leaves a
 * process behind.
 *
 * Progress is followed through the referee's event log (node_events), the
 * same way the nodes follow it; the numbers reported at the end are read
 * back by request (CLAIM_STATUS, DISPUTE_FETCH, STATUS_QUERY) and from the
 * challengers' metrics servers, not inferred from events. No node's
 * database is ever opened here: what the launcher reports, anyone with
 * the same network access could check.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "challenger/challenger.h"
#include "engine/engine.h"
#include "executor/executor.h"
#include "node/node.h"
#include "devnet/devnet.h"
#include "devnet/devnet_int.h"

/* Genesis amounts: plenty for every node, exactly one stake each. */
#define NODE_BALANCE 1000000
#define MIN_STAKE 1000
#define MIN_BOND 100
/* Each stake covers ten claims at risk at once (chain_claim): a devnet
 * executor keeps claiming while earlier claims sit in their windows. */
#define CLAIM_COLLATERAL (MIN_STAKE / 10)
/* A referee that cannot bind its auto-picked ports gets new ones. */
#define PORT_ATTEMPTS 3
#define PROGRESS_EVERY_S 0.1

struct devnet {
	const struct devnet_config *cfg;
	struct devnet_report *rep;
	double t0;
	char exe[DEVNET_PATH_MAX];
	char dir[DEVNET_PATH_MAX];
	bool dir_created;
	struct engine_model *model;
	struct proto_identity ids[DEVNET_MAX_NODES];
	size_t n_exec, n_chal;
	size_t client; /* index of the client in rep->nodes */
	struct node_rpc rpc;
	bool rpc_open;
	struct node_events ev;
	bool ev_open;
	/* job_id -> index + 1, open addressing on the first 8 bytes */
	uint32_t *slots;
	size_t mask;
	enum devnet_phase phase;
	double last_progress;
	double first_submit, last_submit;
};

/* ------------------------------------------------------------------ */
/* Names, defaults, report                                              */
/* ------------------------------------------------------------------ */

const char *
devnet_phase_name(enum devnet_phase p)
{
	switch (p) {
	case DEVNET_STARTING:
		return "starting";
	case DEVNET_SUBMITTING:
		return "submitting";
	case DEVNET_FINALISING:
		return "finalising";
	case DEVNET_VERIFYING:
		return "verifying";
	case DEVNET_STOPPING:
		return "stopping";
	}
	return "?";
}

const char *
devnet_role_name(enum devnet_role r)
{
	switch (r) {
	case DEVNET_REFEREE:
		return "referee";
	case DEVNET_EXECUTOR:
		return "executor";
	case DEVNET_CHALLENGER:
		return "challenger";
	case DEVNET_CLIENT:
		return "client";
	}
	return "?";
}

void
devnet_config_init(struct devnet_config *c)
{
	memset(c, 0, sizeof(*c));
	c->executors = 2;
	c->challengers = 1;
	c->jobs = 50;
	c->model_kind = "mlp";
	c->window_ms = 1000;
	c->seed = 1;
	c->fee = 10;
	c->sample_rate = 1.0;
	c->timeout_s = 120;
	c->fault_op = 1;
	c->clock_ms = 5000;
}

void
devnet_report_free(struct devnet_report *rep)
{
	free(rep->jobs);
	rep->jobs = NULL;
	rep->n_jobs = 0;
	free(rep->disputes);
	rep->disputes = NULL;
	rep->n_disputes = 0;
}

/* Whether the node with key k runs a testing fault. */
static bool
key_faulty(const struct devnet_report *rep, const struct proto_pubkey *k)
{
	for (size_t i = 0; i < rep->n_nodes; i++) {
		if (memcmp(rep->nodes[i].key.b, k->b, PROTO_KEY_LEN) == 0) {
			return rep->nodes[i].faulty;
		}
	}
	return false;
}

static bool
any_faulty(const struct devnet_report *rep, enum devnet_role role)
{
	for (size_t i = 0; i < rep->n_nodes; i++) {
		if (rep->nodes[i].role == role && rep->nodes[i].faulty) {
			return true;
		}
	}
	return false;
}

/* With faults: the honest side won every dispute, no honest executor's
 * job fell, and (when honest challengers verify everything) every
 * faulty claim was caught. */
static bool
faults_ok(const struct devnet_report *rep, double rate, char *why,
    size_t len)
{
	for (size_t i = 0; i < rep->n_disputes; i++) {
		const struct devnet_dispute *dp = &rep->disputes[i];
		if (!dp->decided) {
			snprintf(why, len, "dispute %zu was never decided", i);
			return false;
		}
		if (dp->reason != PROTO_VERDICT_SETTLED &&
		    dp->executor_won == dp->faulty_executor) {
			snprintf(why, len, "dispute %zu was won by the %s side", i,
			    dp->faulty_executor ? "lying executor's" :
			    "false challenger's");
			return false;
		}
	}
	for (size_t i = 0; i < rep->n_jobs; i++) {
		const struct devnet_job *j = &rep->jobs[i];
		bool bad = key_faulty(rep, &j->executor);
		if (j->state == PROTO_JOB_INVALID && !bad) {
			snprintf(why, len, "job %zu of an honest executor fell", i);
			return false;
		}
		if (j->state != PROTO_JOB_FINAL && j->state != PROTO_JOB_INVALID) {
			snprintf(why, len, "job %zu ended in state %u", i, j->state);
			return false;
		}
		if (j->state == PROTO_JOB_FINAL && j->final_events != 1) {
			snprintf(why, len, "job %zu was finalised %u times", i,
			    j->final_events);
			return false;
		}
	}
	bool watched = rate >= 1.0 && !any_faulty(rep, DEVNET_CHALLENGER);
	if (watched && rep->faulty_caught < rep->faulty_jobs) {
		snprintf(why, len, "only %u of %u faulty claims were caught",
		    rep->faulty_caught, rep->faulty_jobs);
		return false;
	}
	return true;
}

bool
devnet_report_ok(const struct devnet_report *rep, char *why, size_t len)
{
	if (rep->interrupted) {
		snprintf(why, len, "interrupted");
		return false;
	}
	if (rep->submitted < rep->jobs_wanted) {
		snprintf(why, len, "only %u of %u jobs were submitted",
		    rep->submitted, rep->jobs_wanted);
		return false;
	}
	bool faults = any_faulty(rep, DEVNET_EXECUTOR) ||
	    any_faulty(rep, DEVNET_CHALLENGER);
	if (faults && !faults_ok(rep, rep->sample_rate, why, len)) {
		return false;
	}
	for (size_t i = 0; !faults && i < rep->n_jobs; i++) {
		const struct devnet_job *j = &rep->jobs[i];
		if (j->state != PROTO_JOB_FINAL || j->final_events != 1) {
			char hex[2 * PROTO_DIGEST_MAX + 1];
			proto_digest_hex(rep->suite, &j->job_id, hex);
			hex[12] = '\0';
			snprintf(why, len, "job %zu (%s) is in state %u with %u "
			    "finalisations", i, hex, j->state, j->final_events);
			return false;
		}
	}
	if (!faults && rep->mismatches > 0) {
		snprintf(why, len, "challengers found %u mismatches",
		    rep->mismatches);
		return false;
	}
	if (!rep->have_before || !rep->have_after) {
		snprintf(why, len, "the ledger total was not read");
		return false;
	}
	if (rep->ledger_before != rep->minted ||
	    rep->ledger_after != rep->ledger_before) {
		snprintf(why, len, "the ledger total changed: minted %llu, "
		    "before %llu, after %llu", (unsigned long long)rep->minted,
		    (unsigned long long)rep->ledger_before,
		    (unsigned long long)rep->ledger_after);
		return false;
	}
	for (size_t i = 0; i < rep->n_nodes; i++) {
		const struct devnet_node *n = &rep->nodes[i];
		if (n->failed) {
			snprintf(why, len, "%s did not run cleanly (exit code %d)",
			    n->name, n->exit_code);
			return false;
		}
	}
	return true;
}

int
devnet_log_tail(const char *path, unsigned lines, char *buf, size_t cap)
{
	if (cap == 0) {
		return RF_ERR_INVAL;
	}
	buf[0] = '\0';
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return RF_ERR_IO;
	}
	/* The tail of a long log: only the last cap - 1 bytes can show. */
	long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
	long from = size > (long)(cap - 1) ? size - (long)(cap - 1) : 0;
	if (size < 0 || fseek(f, from, SEEK_SET) != 0) {
		fclose(f);
		return RF_ERR_IO;
	}
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Walk back over `lines` line ends (a final newline not counted). */
	size_t end = n > 0 && buf[n - 1] == '\n' ? n - 1 : n;
	size_t start = end;
	unsigned seen = 0;
	while (start > 0) {
		if (buf[start - 1] == '\n' && ++seen == lines) {
			break;
		}
		start--;
	}
	memmove(buf, buf + start, n - start + 1);
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static bool
stopped(const struct devnet *d)
{
	return d->cfg->stop != NULL && *d->cfg->stop != 0;
}

static void
progress(struct devnet *d, enum devnet_phase phase)
{
	double now = node_mono_s();
	if (phase == d->phase && now - d->last_progress < PROGRESS_EVERY_S) {
		return;
	}
	d->phase = phase;
	d->last_progress = now;
	if (d->cfg->progress == NULL) {
		return;
	}
	const struct devnet_report *rep = d->rep;
	struct devnet_progress p = {
		.phase = phase,
		.jobs = rep->jobs_wanted,
		.submitted = rep->submitted,
		.claimed = rep->claimed,
		.final = rep->final,
		.invalid = rep->invalid,
		.elapsed_s = now - d->t0,
	};
	d->cfg->progress(d->cfg->progress_ctx, &p);
}

/* path = dir/name; RF_ERR_RANGE when it does not fit. */
static int
path_in(const struct devnet *d, char *out, const char *name,
    struct rf_errinfo *ei)
{
	int n = snprintf(out, DEVNET_PATH_MAX, "%s/%s", d->dir, name);
	if (n < 0 || n >= DEVNET_PATH_MAX) {
		return rf_errf(ei, RF_ERR_RANGE, "run folder path too long");
	}
	return RF_OK;
}

static int
write_new_file(const char *path, const void *buf, size_t len, int mode,
    struct rf_errinfo *ei)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		return rf_errf(ei, RF_ERR_IO, "cannot create '%s': %s", path,
		    strerror(errno));
	}
	const uint8_t *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			int e = errno;
			close(fd);
			return rf_errf(ei, RF_ERR_IO, "cannot write '%s': %s", path,
			    strerror(e));
		}
		done += (size_t)w;
	}
	if (close(fd) != 0) {
		return rf_errf(ei, RF_ERR_IO, "cannot write '%s': %s", path,
		    strerror(errno));
	}
	return RF_OK;
}

/* A node of the report, with its log file under the run folder. */
static struct devnet_node *
add_node(struct devnet *d, enum devnet_role role, const char *name,
    struct rf_errinfo *ei)
{
	struct devnet_report *rep = d->rep;
	struct devnet_node *n = &rep->nodes[rep->n_nodes];
	memset(n, 0, sizeof(*n));
	n->role = role;
	snprintf(n->name, sizeof(n->name), "%s", name);
	if (role != DEVNET_CLIENT) {
		char file[64];
		snprintf(file, sizeof(file), "%s.log", name);
		if (path_in(d, n->log, file, ei) != RF_OK) {
			return NULL;
		}
	}
	rep->n_nodes++;
	return n;
}

/* ------------------------------------------------------------------ */
/* The run folder                                                       */
/* ------------------------------------------------------------------ */

static bool
dir_is_empty(const char *path)
{
	DIR *dp = opendir(path);
	if (dp == NULL) {
		return false;
	}
	bool empty = true;
	struct dirent *e;
	while ((e = readdir(dp)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = false;
			break;
		}
	}
	closedir(dp);
	return empty;
}

static int
prepare_dir(struct devnet *d, struct rf_errinfo *ei)
{
	const char *dir = d->cfg->dir;
	if (dir == NULL) {
		if (mkdir("run", 0755) != 0 && errno != EEXIST) {
			return rf_errf(ei, RF_ERR_IO, "cannot create 'run': %s",
			    strerror(errno));
		}
		snprintf(d->dir, sizeof(d->dir), "run/devnet-%ld",
		    (long)getpid());
	} else {
		/* Leaves room for the longest file name under it. */
		if (strlen(dir) + 32 >= sizeof(d->dir)) {
			return rf_errf(ei, RF_ERR_RANGE, "run folder path too long");
		}
		snprintf(d->dir, sizeof(d->dir), "%s", dir);
	}
	if (mkdir(d->dir, 0700) != 0) {
		if (errno != EEXIST || !dir_is_empty(d->dir)) {
			return rf_errf(ei, RF_ERR_INVAL, "run folder '%s': %s", d->dir,
			    errno == EEXIST ? "exists and is not empty" :
			    strerror(errno));
		}
	}
	/* Either we made it or it was empty: everything in it is ours. */
	d->dir_created = true;
	/* Absolute from here on: the report's paths work from anywhere. */
	char abs[PATH_MAX];
	if (realpath(d->dir, abs) != NULL && strlen(abs) + 32 < sizeof(d->dir)) {
		/* Fits: checked above (snprintf would draw a truncation
		 * warning from PATH_MAX). */
		memcpy(d->dir, abs, strlen(abs) + 1);
	}
	snprintf(d->rep->dir, sizeof(d->rep->dir), "%s", d->dir);
	return RF_OK;
}

static void
remove_dir(const char *path)
{
	DIR *dp = opendir(path);
	if (dp == NULL) {
		return;
	}
	struct dirent *e;
	while ((e = readdir(dp)) != NULL) {
		char p[DEVNET_PATH_MAX + 256];
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		unlink(p);
	}
	closedir(dp);
	rmdir(path);
}

/*
 * --model gpt: generation jobs (docs/generation.md). The generation graph
 * of a small byte-level language model (2 blocks, d_model 32, 4 heads,
 * context 48, seed 1) drawing 16 tokens after an 8-token prompt at
 * temperature 0.8, top-k 40, top-p 0.95; a job's inputs are its prompt
 * and its sampling seed. The same file as
 *   refute model gen gpt --layers 2 --d-model 32 --heads 4 --vocab 256 \
 *       --context 48 --seed 1 -o base.rfm
 *   refute generate base.rfm --tokens 1,2,3,4,5,6,7,8 --new 16 \
 *       --temperature 0.8 --top-k 40 --top-p 0.95 --save-graph gen.rfm
 * The graph is decoded from its encoding so that it owns its weights.
 */
static int
gpt_generation(struct engine_model **out, struct rf_errinfo *ei)
{
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_GPT);
	o.blocks = 2;
	o.d_model = 32;
	o.heads = 4;
	o.vocab = 256;
	o.context = 48;
	o.seed = 1;
	struct engine_generation g;
	memset(&g, 0, sizeof(g));
	g.prompt_len = 8;
	g.n_new = 16;
	g.sampler.temperature = 0.8f;
	g.sampler.top_k = 40;
	g.sampler.top_p = 0.95f;
	struct engine_model *base = NULL, *gm = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int err = engine_model_generate(&o, &base, ei);
	if (err == RF_OK) {
		err = engine_generation_model(base, &g, &gm, ei);
	}
	if (err == RF_OK) {
		err = engine_model_encode(gm, &buf, &len);
	}
	engine_model_free(gm);
	engine_model_free(base);
	if (err == RF_OK) {
		err = engine_model_decode(buf, len, out, ei);
	}
	free(buf);
	return err;
}

/* The model: a given file, or one generated into the run folder. */
static int
prepare_model(struct devnet *d, struct rf_errinfo *ei)
{
	const struct devnet_config *c = d->cfg;
	struct devnet_report *rep = d->rep;
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;
	if (c->model_file != NULL) {
		/* Absolute, so the children find it whatever their cwd. */
		char abs[PATH_MAX];
		if (realpath(c->model_file, abs) == NULL ||
		    strlen(abs) >= sizeof(rep->model_file)) {
			return rf_errf(ei, RF_ERR_IO, "model '%s': %s", c->model_file,
			    strerror(errno ? errno : ENAMETOOLONG));
		}
		memcpy(rep->model_file, abs, strlen(abs) + 1); /* fits */
		err = node_file_read(rep->model_file, NODE_MODEL_FILE_MAX, &buf,
		    &len, ei);
		if (err == RF_OK) {
			err = engine_model_decode(buf, len, &d->model, ei);
			if (err != RF_OK) {
				rf_errctx(ei, err, "model '%s': ", c->model_file);
			}
		}
		free(buf);
	} else {
		enum engine_gen_kind kind;
		if (engine_gen_parse_kind(c->model_kind, &kind) != RF_OK) {
			return rf_errf(ei, RF_ERR_INVAL, "unknown model kind '%s' "
			    "(mlp, cnn, transformer or gpt)", c->model_kind);
		}
		struct engine_gen_opts o;
		engine_gen_opts_init(&o, kind);
		o.seed = 1;
		err = kind == ENGINE_GEN_GPT ? gpt_generation(&d->model, ei) :
		    engine_model_generate(&o, &d->model, ei);
		if (err == RF_OK) {
			err = engine_model_encode(d->model, &buf, &len);
		}
		if (err == RF_OK) {
			err = path_in(d, rep->model_file, "model.rfm", ei);
		}
		if (err == RF_OK) {
			err = write_new_file(rep->model_file, buf, len, 0644, ei);
		}
		free(buf);
	}
	if (err == RF_OK) {
		err = proto_model_id(rep->suite, d->model, &rep->model_id);
	}
	if (err == RF_OK) {
		snprintf(rep->model_name, sizeof(rep->model_name), "%s",
		    engine_model_name(d->model));
	}
	return err;
}

/* Keys for every node, identity files 0600, and the genesis file. */
static int
prepare_keys(struct devnet *d, struct rf_errinfo *ei)
{
	struct devnet_report *rep = d->rep;
	char genesis[4096 + DEVNET_MAX_NODES * 160];
	size_t g = 0;
	g += (size_t)snprintf(genesis + g, sizeof(genesis) - g,
	    "# refute devnet genesis\nsuite %s\nwindow_ms %llu\n"
	    "min_stake %d\nmin_bond %d\nreward_pct 50\nclock_ms %llu\n"
	    "claim_collateral %d\n"
	    /* Every devnet node is funded at genesis; free registration
	     * keeps its balances round in the report. */
	    "register_fee 0\n",
	    proto_hash_name(rep->suite), (unsigned long long)d->cfg->window_ms,
	    MIN_STAKE, MIN_BOND, (unsigned long long)d->cfg->clock_ms,
	    CLAIM_COLLATERAL);
	rep->minted = 0;
	for (size_t i = 0; i < rep->n_nodes; i++) {
		struct devnet_node *n = &rep->nodes[i];
		if (proto_identity_generate(&d->ids[i]) != RF_OK) {
			return rf_errf(ei, RF_ERR_CRYPTO, "cannot make a key");
		}
		n->key = d->ids[i].pk;
		char text[PROTO_IDENTITY_TEXT_MAX], path[DEVNET_PATH_MAX];
		char file[64];
		snprintf(file, sizeof(file), "%s.key", n->name);
		int err = path_in(d, path, file, ei);
		if (err == RF_OK) {
			err = proto_identity_format(&d->ids[i], text, sizeof(text));
		}
		if (err == RF_OK) {
			err = write_new_file(path, text, strlen(text), 0600, ei);
		}
		memset(text, 0, sizeof(text));
		if (err != RF_OK) {
			return err;
		}
		char hex[65];
		proto_pubkey_hex(&n->key, hex);
		if (n->role == DEVNET_REFEREE) {
			/* The referee holds no money; audits pin its key. */
			g += (size_t)snprintf(genesis + g, sizeof(genesis) - g,
			    "referee %s\n", hex);
			continue;
		}
		uint64_t bal = NODE_BALANCE;
		if (n->role == DEVNET_CLIENT) {
			bal += (uint64_t)d->cfg->jobs * d->cfg->fee;
		}
		g += (size_t)snprintf(genesis + g, sizeof(genesis) - g,
		    "account %s %llu # %s\n", hex, (unsigned long long)bal, n->name);
		rep->minted += bal;
	}
	char path[DEVNET_PATH_MAX];
	int err = path_in(d, path, "genesis", ei);
	if (err == RF_OK) {
		err = write_new_file(path, genesis, g, 0644, ei);
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* Processes                                                            */
/* ------------------------------------------------------------------ */

/* The first child that has exited: RF_ERR_CLOSED naming it. */
static int
check_children(struct devnet *d, struct rf_errinfo *ei)
{
	struct devnet_report *rep = d->rep;
	for (size_t i = 0; i < rep->n_nodes; i++) {
		struct devnet_node *n = &rep->nodes[i];
		int code;
		if (n->pid > 0 && devnet_proc_exited(n->pid, &code)) {
			n->pid = 0;
			n->exit_code = code;
			n->failed = true;
			return rf_errf(ei, RF_ERR_CLOSED, "%s exited early (exit code "
			    "%d)", n->name, code);
		}
	}
	return RF_OK;
}

static int
spawn(struct devnet *d, struct devnet_node *n, char **argv,
    struct rf_errinfo *ei)
{
	pid_t pid;
	int err = devnet_proc_spawn(d->exe, argv, n->log, &pid, ei);
	if (err == RF_OK) {
		n->pid = (int)pid;
		n->started = true;
	}
	return err;
}

static int
spawn_referee(struct devnet *d, struct devnet_node *n, struct rf_errinfo *ei)
{
	char key[DEVNET_PATH_MAX], db[DEVNET_PATH_MAX], gen[DEVNET_PATH_MAX];
	int err = path_in(d, key, "referee.key", ei);
	if (err == RF_OK) {
		err = path_in(d, db, "referee.db", ei);
	}
	if (err == RF_OK) {
		err = path_in(d, gen, "genesis", ei);
	}
	if (err != RF_OK) {
		return err;
	}
	/* A new ledger when the folder has none yet (a fresh devnet). */
	char *argv[] = { "refute", "referee", "-k", key, "-g", gen, "-d", db,
		"-l", d->rep->referee_url, "-e", d->rep->events_url,
		access(db, F_OK) != 0 ? "--init" : NULL, NULL };
	return spawn(d, n, argv, ei);
}

/* An executor or a challenger. */
static int
spawn_node(struct devnet *d, size_t idx, struct rf_errinfo *ei)
{
	struct devnet_node *n = &d->rep->nodes[idx];
	char key[DEVNET_PATH_MAX], db[DEVNET_PATH_MAX], file[64];
	snprintf(file, sizeof(file), "%s.key", n->name);
	int err = path_in(d, key, file, ei);
	snprintf(file, sizeof(file), "%s.db", n->name);
	if (err == RF_OK) {
		err = path_in(d, db, file, ei);
	}
	if (err != RF_OK) {
		return err;
	}
	char rk[65], extra1[32], extra2[32];
	proto_pubkey_hex(&d->rep->nodes[0].key, rk);
	char *role;
	char *opt1, *opt2;
	if (n->role == DEVNET_EXECUTOR) {
		role = "executor";
		opt1 = "--stake";
		snprintf(extra1, sizeof(extra1), "%d", MIN_STAKE);
		opt2 = "--hash";
		snprintf(extra2, sizeof(extra2), "%s",
		    proto_hash_name(d->rep->suite));
	} else {
		role = "challenger";
		opt1 = "--rate";
		snprintf(extra1, sizeof(extra1), "%.6f", d->cfg->sample_rate);
		opt2 = "--seed";
		/* Each challenger samples on its own. */
		snprintf(extra2, sizeof(extra2), "%llu",
		    (unsigned long long)(d->cfg->seed + idx));
	}
	char fault_op[16], metrics[32];
	snprintf(fault_op, sizeof(fault_op), "%u", d->cfg->fault_op);
	char *argv[] = { "refute", role, "-k", key, "-m", d->rep->model_file,
		"-d", db, "-n", n->name, "-r", d->rep->referee_url, "-e",
		d->rep->events_url, "--referee-key", rk, opt1, extra1, opt2,
		extra2, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
	size_t at = 20;
	if (n->role == DEVNET_CHALLENGER) {
		/* What it verified is read from here (wait_verified). */
		err = devnet_free_ports(&n->metrics_port, 1, ei);
		if (err != RF_OK) {
			return err;
		}
		snprintf(metrics, sizeof(metrics), "127.0.0.1:%d",
		    n->metrics_port);
		argv[at++] = "--metrics";
		argv[at++] = metrics;
	}
	if (n->faulty && n->role == DEVNET_EXECUTOR) {
		argv[at++] = "--fault";
		argv[at++] = (char *)d->cfg->fault;
		argv[at++] = "--fault-op";
		argv[at++] = fault_op;
	} else if (n->faulty) {
		argv[at++] = "--fault";
		argv[at++] = (char *)d->cfg->challenger_fault;
	}
	return spawn(d, n, argv, ei);
}

/* Stops the processes of one role (0: all but the referee). */
static void
stop_nodes(struct devnet *d, bool referee)
{
	struct devnet_report *rep = d->rep;
	pid_t pids[DEVNET_MAX_NODES];
	int codes[DEVNET_MAX_NODES];
	bool killed[DEVNET_MAX_NODES];
	for (size_t i = 0; i < rep->n_nodes; i++) {
		struct devnet_node *n = &rep->nodes[i];
		bool want = referee == (n->role == DEVNET_REFEREE);
		pids[i] = want && n->pid > 0 ? (pid_t)n->pid : 0;
	}
	devnet_proc_stop(pids, rep->n_nodes, DEVNET_STOP_MS, codes, killed);
	for (size_t i = 0; i < rep->n_nodes; i++) {
		struct devnet_node *n = &rep->nodes[i];
		if (pids[i] == 0) {
			continue;
		}
		n->pid = 0;
		n->exit_code = codes[i];
		if (killed[i] || codes[i] != 0) {
			n->failed = true;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Talking to the referee                                               */
/* ------------------------------------------------------------------ */

static int
status(struct devnet *d, struct proto_status_info *reply,
    struct rf_errinfo *ei)
{
	return node_rpc_expect(&d->rpc, PROTO_MSG_STATUS_QUERY, NULL,
	    PROTO_MSG_STATUS_INFO, reply, sizeof(*reply), ei);
}

/* Copies balances and stakes from a status into the report's nodes. */
static void
take_balances(struct devnet *d, const struct proto_status_info *s)
{
	struct devnet_report *rep = d->rep;
	for (uint32_t k = 0; k < s->n_nodes; k++) {
		for (size_t i = 0; i < rep->n_nodes; i++) {
			struct devnet_node *n = &rep->nodes[i];
			if (memcmp(n->key.b, s->nodes[k].key.b, PROTO_KEY_LEN) == 0) {
				n->balance = s->nodes[k].balance;
				n->stake = s->nodes[k].stake;
			}
		}
	}
}

/* Starts the referee and waits until it answers a status query. */
static int
start_referee(struct devnet *d, struct rf_errinfo *ei)
{
	const struct devnet_config *c = d->cfg;
	struct devnet_report *rep = d->rep;
	struct devnet_node *ref = &rep->nodes[0];
	double deadline = node_mono_s() + c->timeout_s;
	for (int attempt = 1;; attempt++) {
		int ports[2] = { c->port_base, c->port_base + 1 };
		int err = RF_OK;
		if (c->port_base == 0) {
			err = devnet_free_ports(ports, 2, ei);
		}
		if (err != RF_OK) {
			return err;
		}
		snprintf(rep->referee_url, sizeof(rep->referee_url),
		    "tcp://127.0.0.1:%d", ports[0]);
		snprintf(rep->events_url, sizeof(rep->events_url),
		    "tcp://127.0.0.1:%d", ports[1]);
		err = spawn_referee(d, ref, ei);
		if (err == RF_OK) {
			err = node_rpc_open(&d->rpc, rep->referee_url,
			    &d->ids[d->client], rep->suite, &ref->key, ei);
		}
		if (err != RF_OK) {
			return err;
		}
		d->rpc_open = true;
		/* Short calls while waiting, so a referee that died is noticed
		 * between them. */
		d->rpc.timeout_ms = 500;
		d->rpc.retries = 0;
		for (;;) {
			struct proto_status_info reply;
			err = status(d, &reply, ei);
			if (err == RF_OK) {
				proto_status_info_free(&reply);
				d->rpc.timeout_ms = 10000;
				d->rpc.retries = 2;
				return RF_OK;
			}
			err = check_children(d, ei);
			if (err != RF_OK || stopped(d) || node_mono_s() > deadline) {
				break;
			}
			progress(d, DEVNET_STARTING);
			node_sleep_ms(20, NULL);
		}
		node_rpc_close(&d->rpc);
		d->rpc_open = false;
		if (stopped(d)) {
			return rf_errf(ei, RF_ERR_ABORTED, "interrupted");
		}
		if (err == RF_OK) {
			return rf_errf(ei, RF_ERR_TIMEOUT, "the referee did not "
			    "answer within %u s", c->timeout_s);
		}
		/* It exited: perhaps someone took a port we picked. */
		if (c->port_base != 0 || attempt == PORT_ATTEMPTS) {
			return err;
		}
		ref->failed = false;
	}
}

/* Waits until every executor is registered and staked and every
 * challenger registered. */
static int
wait_ready(struct devnet *d, struct rf_errinfo *ei)
{
	struct devnet_report *rep = d->rep;
	double deadline = node_mono_s() + d->cfg->timeout_s;
	for (;;) {
		struct proto_status_info reply;
		int err = status(d, &reply, ei);
		if (err != RF_OK) {
			return err;
		}
		const struct proto_status_info *s = &reply;
		size_t ready = 0, want = 0;
		for (size_t i = 0; i < rep->n_nodes; i++) {
			const struct devnet_node *n = &rep->nodes[i];
			if (n->role != DEVNET_EXECUTOR && n->role != DEVNET_CHALLENGER) {
				continue;
			}
			want++;
			for (uint32_t k = 0; k < s->n_nodes; k++) {
				const struct proto_status_node *sn = &s->nodes[k];
				if (memcmp(sn->key.b, n->key.b, PROTO_KEY_LEN) == 0 &&
				    (n->role == DEVNET_CHALLENGER ||
				    sn->stake >= MIN_STAKE)) {
					ready++;
				}
			}
		}
		if (ready == want) {
			rep->ledger_before = s->ledger_total;
			rep->have_before = true;
			take_balances(d, s);
			proto_status_info_free(&reply);
			return RF_OK;
		}
		proto_status_info_free(&reply);
		err = check_children(d, ei);
		if (err != RF_OK) {
			return err;
		}
		if (stopped(d)) {
			return rf_errf(ei, RF_ERR_ABORTED, "interrupted");
		}
		if (node_mono_s() > deadline) {
			return rf_errf(ei, RF_ERR_TIMEOUT, "only %zu of %zu nodes were "
			    "ready after %u s", ready, want, d->cfg->timeout_s);
		}
		progress(d, DEVNET_STARTING);
		node_sleep_ms(50, NULL);
	}
}

/* ------------------------------------------------------------------ */
/* Jobs                                                                 */
/* ------------------------------------------------------------------ */

static size_t
slot_of(const struct devnet *d, const struct proto_digest *id)
{
	uint64_t h = 0;
	memcpy(&h, id->b, sizeof(h));
	return (size_t)h & d->mask;
}

static int
index_alloc(struct devnet *d, unsigned jobs)
{
	size_t cap = 16;
	while (cap < 2 * (size_t)jobs) {
		cap *= 2;
	}
	d->slots = calloc(cap, sizeof(*d->slots));
	d->mask = cap - 1;
	return d->slots != NULL ? RF_OK : RF_ERR_NOMEM;
}

static void
index_add(struct devnet *d, size_t job)
{
	size_t s = slot_of(d, &d->rep->jobs[job].job_id);
	while (d->slots[s] != 0) {
		s = (s + 1) & d->mask;
	}
	d->slots[s] = (uint32_t)job + 1;
}

static struct devnet_job *
index_find(struct devnet *d, const struct proto_digest *id)
{
	for (size_t s = slot_of(d, id); d->slots[s] != 0;
	    s = (s + 1) & d->mask) {
		struct devnet_job *j = &d->rep->jobs[d->slots[s] - 1];
		if (proto_digest_equal(d->rep->suite, &j->job_id, id)) {
			return j;
		}
	}
	return NULL;
}

static void
apply_event(struct devnet *d, const struct proto_event *e)
{
	struct devnet_report *rep = d->rep;
	struct devnet_job *j = index_find(d, &e->job_id);
	if (j == NULL) {
		return; /* not one of ours */
	}
	switch (e->kind) {
	case PROTO_EVENT_JOB_ASSIGNED:
		j->executor = e->subject;
		if (j->state == 0) {
			j->state = PROTO_JOB_OPEN;
		}
		break;
	case PROTO_EVENT_CLAIM_POSTED:
		if (j->claim_events++ == 0) {
			rep->claimed++;
		}
		if (j->state < PROTO_JOB_CLAIMED) {
			j->state = PROTO_JOB_CLAIMED;
		}
		break;
	case PROTO_EVENT_CLAIM_FINAL:
		if (j->final_events++ == 0) {
			rep->final++;
		}
		j->state = PROTO_JOB_FINAL;
		break;
	case PROTO_EVENT_CLAIM_INVALID:
		if (j->state != PROTO_JOB_INVALID) {
			rep->invalid++;
		}
		j->state = PROTO_JOB_INVALID;
		break;
	case PROTO_EVENT_DISPUTE_OPENED:
		j->disputes++;
		if (rep->n_disputes < DEVNET_MAX_DISPUTES) {
			struct devnet_dispute *dp = &rep->disputes[rep->n_disputes++];
			memset(dp, 0, sizeof(*dp));
			dp->id = e->dispute_id;
			dp->job = e->job_id;
			dp->opened_ms = e->time_ms;
			dp->faulty_executor = key_faulty(rep, &j->executor);
		}
		break;
	case PROTO_EVENT_DISPUTE_CLOSED:
		for (size_t i = 0; i < rep->n_disputes; i++) {
			if (proto_digest_equal(rep->suite, &rep->disputes[i].id,
			    &e->dispute_id)) {
				rep->disputes[i].closed_ms = e->time_ms;
			}
		}
		break;
	case PROTO_EVENT_NODE_SLASHED:
		rep->slashed += e->value;
		for (size_t i = 0; i < rep->n_nodes; i++) {
			if (memcmp(rep->nodes[i].key.b, e->subject.b,
			    PROTO_KEY_LEN) == 0) {
				rep->nodes[i].slashed += e->value;
			}
		}
		break;
	default:
		break;
	}
}

int
devnet_verdict_path(const struct devnet_report *rep,
    const struct devnet_dispute *dp, char *out, size_t cap)
{
	char hex[2 * PROTO_DIGEST_MAX + 1];
	proto_digest_hex(rep->suite, &dp->id, hex);
	int n = snprintf(out, cap, "%s/verdicts/%s.bin", rep->dir, hex);
	return n >= 0 && (size_t)n < cap ? RF_OK : RF_ERR_RANGE;
}

/*
 * Keeps dp's signed verdict in the run folder, byte for byte as the
 * referee answers DISPUTE_FETCH (the decoded form cannot be re-signed),
 * so `refute audit` can replay it after the network is gone.
 */
static int
save_verdict(struct devnet *d, struct devnet_dispute *dp,
    struct rf_errinfo *ei)
{
	struct devnet_report *rep = d->rep;
	char path[DEVNET_PATH_MAX];
	int err = path_in(d, path, "verdicts", ei);
	if (err != RF_OK) {
		return err;
	}
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		return rf_errf(ei, RF_ERR_IO, "cannot create '%s': %s", path,
		    strerror(errno));
	}
	if (devnet_verdict_path(rep, dp, path, sizeof(path)) != RF_OK) {
		return rf_errf(ei, RF_ERR_RANGE, "the run folder's path is too "
		    "long");
	}
	struct proto_dispute_fetch req = { .dispute_id = dp->id };
	uint8_t *buf = NULL, *reply = NULL;
	size_t len = 0, reply_len = 0;
	err = node_sign(&d->rpc, PROTO_MSG_DISPUTE_FETCH, &req, &buf, &len);
	if (err == RF_OK) {
		err = node_rpc_forward(&d->rpc, buf, len, &reply, &reply_len, ei);
		free(buf);
	}
	if (err != RF_OK) {
		return rf_errctx(ei, err, "fetching a verdict: ");
	}
	struct proto_env m;
	struct proto_verdict v;
	err = proto_msg_open(reply, reply_len, &m, ei);
	if (err == RF_OK && m.type != PROTO_MSG_VERDICT) {
		err = rf_errf(ei, RF_ERR_FORMAT, "a decided dispute answered "
		    "with %s", proto_msg_type_name(m.type));
	} else if (err == RF_OK) {
		err = proto_verdict_decode(&m, &v, ei);
		if (err == RF_OK) {
			proto_verdict_free(&v);
		}
	}
	if (err == RF_OK) {
		err = write_new_file(path, reply, reply_len, 0644, ei);
	}
	free(reply);
	dp->verdict_saved = err == RF_OK;
	return err;
}

/* Each dispute's verdict, from the referee. */
static int
read_verdicts(struct devnet *d, struct rf_errinfo *ei)
{
	struct devnet_report *rep = d->rep;
	for (size_t i = 0; i < rep->n_disputes; i++) {
		struct devnet_dispute *dp = &rep->disputes[i];
		struct proto_dispute_fetch req = { .dispute_id = dp->id };
		struct node_reply reply;
		struct proto_verdict verdict;
		int err = node_rpc_call(&d->rpc, PROTO_MSG_DISPUTE_FETCH, &req,
		    &reply, ei);
		if (err != RF_OK) {
			return err;
		}
		if (reply.env.type == PROTO_MSG_VERDICT) {
			err = proto_verdict_decode(&reply.env, &verdict, ei);
			if (err != RF_OK) {
				node_reply_free(&reply);
				return err;
			}
			const struct proto_verdict *v = &verdict;
			dp->decided = true;
			dp->executor_won = v->executor_won != 0;
			dp->reason = v->reason;
			dp->op = v->op;
			dp->rounds = v->rounds;
			dp->slashed = v->slashed;
			dp->reward = v->reward;
			if (v->reason != PROTO_VERDICT_SETTLED) {
				if (dp->executor_won) {
					rep->executor_wins++;
				} else {
					rep->challenger_wins++;
				}
			}
			proto_verdict_free(&verdict);
		}
		node_reply_free(&reply);
		if (dp->decided) {
			err = save_verdict(d, dp, ei);
			if (err != RF_OK) {
				return err;
			}
		}
	}
	for (size_t k = 0; k < rep->n_jobs; k++) {
		const struct devnet_job *j = &rep->jobs[k];
		if (key_faulty(rep, &j->executor) && j->claim_events > 0) {
			rep->faulty_jobs++;
			rep->faulty_caught += j->state == PROTO_JOB_INVALID;
		}
	}
	return RF_OK;
}

/* Fetches what the event log holds past our cursor (waiting up to wait_ms
 * for a published hint first) and applies it. */
static int
follow_events(struct devnet *d, int wait_ms, struct rf_errinfo *ei)
{
	for (;;) {
		struct proto_events m;
		int err = node_events_next(&d->ev, wait_ms, &m, ei);
		if (err != RF_OK) {
			return err;
		}
		const struct proto_events *evs = &m;
		for (uint32_t i = 0; i < evs->n; i++) {
			apply_event(d, &evs->events[i]);
			node_events_done(&d->ev, evs->events[i].seq);
		}
		bool more = evs->n == PROTO_MAX_EVENTS;
		proto_events_free(&m);
		if (!more) {
			return RF_OK;
		}
		wait_ms = 0;
	}
}

static int
submit_one(struct devnet *d, size_t i, struct rf_errinfo *ei)
{
	struct devnet_report *rep = d->rep;
	struct devnet_job *j = &rep->jobs[i];
	memset(j, 0, sizeof(*j));
	j->seed = d->cfg->seed + i;
	/* A job holds up to 64 tensors: on the heap. */
	struct proto_job_submit *s = calloc(1, sizeof(*s));
	struct proto_ack reply;
	int err = s == NULL ? rf_errf(ei, RF_ERR_NOMEM, "no memory") :
	    engine_inputs_random(d->model, j->seed, s->inputs, ei);
	if (err != RF_OK) {
		free(s);
		return err;
	}
	s->n_inputs = (uint8_t)engine_model_input_count(d->model);
	s->model_id = rep->model_id;
	s->fee = d->cfg->fee;
	s->nonce = (uint64_t)i + 1;
	err = node_rpc_expect(&d->rpc, PROTO_MSG_JOB_SUBMIT, s, PROTO_MSG_ACK,
	    &reply, sizeof(reply), ei);
	proto_job_submit_free(s);
	free(s);
	if (err != RF_OK) {
		return rf_errctx(ei, err, "job %zu: ", i);
	}
	j->job_id = reply.id;
	rep->n_jobs = i + 1;
	rep->submitted++;
	index_add(d, i);
	return RF_OK;
}

static int
submit_jobs(struct devnet *d, struct rf_errinfo *ei)
{
	struct devnet_report *rep = d->rep;
	struct proto_node_register reg;
	/* The client registers like any node (it needs an account record
	 * for its sequence numbers). */
	memset(&reg, 0, sizeof(reg));
	reg.roles = PROTO_ROLE_CLIENT;
	snprintf(reg.name, sizeof(reg.name), "client");
	int err = node_rpc_expect(&d->rpc, PROTO_MSG_NODE_REGISTER, &reg,
	    PROTO_MSG_ACK, NULL, 0, ei);
	if (err != RF_OK) {
		return rf_errctx(ei, err, "registering the client: ");
	}
	err = node_events_open(&d->ev, rep->events_url, &d->rpc, 0, ei);
	if (err != RF_OK) {
		return err;
	}
	d->ev_open = true;
	d->first_submit = node_mono_s();
	double last_follow = d->first_submit;
	for (unsigned i = 0; i < d->cfg->jobs; i++) {
		if (stopped(d)) {
			return rf_errf(ei, RF_ERR_ABORTED, "interrupted");
		}
		err = submit_one(d, i, ei);
		if (err == RF_OK && node_mono_s() - last_follow > 0.2) {
			/* Claims and finality show in the progress line while
			 * jobs still go out. */
			err = follow_events(d, 0, ei);
			last_follow = node_mono_s();
			if (err == RF_OK) {
				err = check_children(d, ei);
			}
		}
		if (err != RF_OK) {
			return err;
		}
		progress(d, DEVNET_SUBMITTING);
	}
	d->last_submit = node_mono_s();
	rep->submit_s = d->last_submit - d->first_submit;
	return RF_OK;
}

/* Marks the executors holding jobs that are not final, so their logs
 * are shown. */
static void
blame_unfinished(struct devnet *d)
{
	struct devnet_report *rep = d->rep;
	for (size_t k = 0; k < rep->n_jobs; k++) {
		const struct devnet_job *j = &rep->jobs[k];
		if (j->state == PROTO_JOB_FINAL) {
			continue;
		}
		rep->nodes[0].failed = true;
		for (size_t i = 0; i < rep->n_nodes; i++) {
			struct devnet_node *n = &rep->nodes[i];
			if (n->role == DEVNET_EXECUTOR &&
			    memcmp(n->key.b, j->executor.b, PROTO_KEY_LEN) == 0) {
				n->failed = true;
			}
		}
	}
}

static int
wait_final(struct devnet *d, struct rf_errinfo *ei)
{
	struct devnet_report *rep = d->rep;
	double deadline = node_mono_s() + d->cfg->timeout_s;
	while (rep->final + rep->invalid < rep->submitted) {
		progress(d, DEVNET_FINALISING);
		int err = follow_events(d, 100, ei);
		if (err == RF_OK) {
			err = check_children(d, ei);
		}
		if (err != RF_OK) {
			return err;
		}
		if (stopped(d)) {
			return rf_errf(ei, RF_ERR_ABORTED, "interrupted");
		}
		if (node_mono_s() > deadline) {
			blame_unfinished(d);
			return rf_errf(ei, RF_ERR_TIMEOUT, "%u of %u jobs final after "
			    "%u s", rep->final, rep->submitted, d->cfg->timeout_s);
		}
	}
	rep->final_s = node_mono_s() - d->first_submit;
	progress(d, DEVNET_FINALISING);
	return RF_OK;
}

/* Reads every job's claim back from the referee. */
static int
read_claims(struct devnet *d, struct rf_errinfo *ei)
{
	struct devnet_report *rep = d->rep;
	for (size_t i = 0; i < rep->n_jobs; i++) {
		struct devnet_job *j = &rep->jobs[i];
		struct proto_claim_status req = { .job_id = j->job_id };
		struct proto_claim_info reply;
		int err = node_rpc_expect(&d->rpc, PROTO_MSG_CLAIM_STATUS, &req,
		    PROTO_MSG_CLAIM_INFO, &reply, sizeof(reply), ei);
		if (err != RF_OK) {
			return rf_errctx(ei, err, "job %zu: ", i);
		}
		const struct proto_claim_info *ci = &reply;
		j->state = ci->state;
		j->executor = ci->executor;
		j->trace_root = ci->trace_root;
		j->n = ci->n;
		proto_claim_info_free(&reply);
		if (stopped(d)) {
			return rf_errf(ei, RF_ERR_ABORTED, "interrupted");
		}
	}
	return RF_OK;
}

/* ------------------------------------------------------------------ */
/* Challengers' metrics                                                 */
/* ------------------------------------------------------------------ */

#define RECORDS "refute_challenger_records_total{outcome=\""

/*
 * Reads what challenger n has recorded from its metrics server (its
 * public face: the launcher never opens its database) into n's counts;
 * *records is every claim it has looked at, whatever the outcome.
 */
static int
read_challenger(struct devnet_node *n, int timeout_ms, unsigned *records,
    struct rf_errinfo *ei)
{
	static const char *const outcomes[] = { "match", "mismatch", "skipped",
		"no_model", "failed" };
	double v[5];
	char *text;
	size_t len;
	int err = devnet_http_get(n->metrics_port, "/metrics", timeout_ms,
	    &text, &len, ei);
	if (err != RF_OK) {
		return rf_errctx(ei, err, "%s's metrics: ", n->name);
	}
	for (size_t i = 0; i < 5; i++) {
		char series[96];
		snprintf(series, sizeof(series), RECORDS "%s\"}", outcomes[i]);
		if (!devnet_metric_value(text, series, &v[i]) ||
		    !(v[i] >= 0 && v[i] <= 4e9)) {
			free(text);
			return rf_errf(ei, RF_ERR_FORMAT, "%s's metrics have no "
			    "%s", n->name, series);
		}
	}
	free(text);
	n->verified = (unsigned)v[0];
	n->mismatches = (unsigned)v[1];
	n->skipped = (unsigned)v[2] + (unsigned)v[3] + (unsigned)v[4];
	*records = n->verified + n->mismatches + n->skipped;
	return RF_OK;
}

/* The report's sums over the challengers. */
static void
sum_challengers(struct devnet_report *rep)
{
	rep->verifications = rep->mismatches = rep->skipped = 0;
	for (size_t i = 0; i < rep->n_nodes; i++) {
		const struct devnet_node *n = &rep->nodes[i];
		if (n->role == DEVNET_CHALLENGER) {
			rep->verifications += n->verified + n->mismatches;
			rep->mismatches += n->mismatches;
			rep->skipped += n->skipped;
		}
	}
}

/* Waits until every challenger has recorded every claim posted, so its
 * numbers are complete when it is stopped. */
static int
wait_verified(struct devnet *d, struct rf_errinfo *ei)
{
	struct devnet_report *rep = d->rep;
	double deadline = node_mono_s() + d->cfg->timeout_s;
	for (;;) {
		size_t behind = 0;
		struct rf_errinfo lei = { "" };
		for (size_t i = 0; i < rep->n_nodes; i++) {
			struct devnet_node *n = &rep->nodes[i];
			unsigned records = 0;
			/* A server not up yet counts as no records. */
			if (n->role == DEVNET_CHALLENGER &&
			    (read_challenger(n, 2000, &records, &lei) != RF_OK ||
			    records < rep->claimed)) {
				behind++;
			}
		}
		sum_challengers(rep);
		if (behind == 0) {
			return RF_OK;
		}
		int err = check_children(d, ei);
		if (err != RF_OK) {
			return err;
		}
		if (stopped(d)) {
			return rf_errf(ei, RF_ERR_ABORTED, "interrupted");
		}
		if (node_mono_s() > deadline) {
			return rf_errf(ei, RF_ERR_TIMEOUT, "%zu challengers had not "
			    "recorded every claim after %u s%s%s", behind,
			    d->cfg->timeout_s, lei.msg[0] != '\0' ? ": " : "",
			    lei.msg);
		}
		progress(d, DEVNET_VERIFYING);
		node_sleep_ms(50, NULL);
	}
}

/* A run cut short: what the challengers still running have recorded. */
static void
read_challengers(struct devnet *d)
{
	struct devnet_report *rep = d->rep;
	for (size_t i = 0; i < rep->n_nodes; i++) {
		struct devnet_node *n = &rep->nodes[i];
		unsigned records;
		if (n->role == DEVNET_CHALLENGER && n->pid > 0) {
			(void)read_challenger(n, 500, &records, NULL);
		}
	}
	sum_challengers(rep);
}

/* ------------------------------------------------------------------ */
/* The run                                                              */
/* ------------------------------------------------------------------ */

static int
check_config(const struct devnet_config *c, struct rf_errinfo *ei)
{
	if (c->executors < 1 || c->executors > DEVNET_MAX_EXECUTORS) {
		return rf_errf(ei, RF_ERR_INVAL, "executors must be 1..%d",
		    DEVNET_MAX_EXECUTORS);
	}
	if (c->challengers > DEVNET_MAX_CHALLENGERS) {
		return rf_errf(ei, RF_ERR_INVAL, "challengers must be 0..%d",
		    DEVNET_MAX_CHALLENGERS);
	}
	if (c->jobs < 1 || c->jobs > DEVNET_MAX_JOBS) {
		return rf_errf(ei, RF_ERR_INVAL, "jobs must be 1..%d",
		    DEVNET_MAX_JOBS);
	}
	if (c->fee == 0 || c->fee > ((uint64_t)1 << 40) / c->jobs) {
		return rf_errf(ei, RF_ERR_INVAL, "the fee must be positive and "
		    "the client's total below 2^40");
	}
	if (c->window_ms < 1 || c->window_ms > 86400000) {
		return rf_errf(ei, RF_ERR_INVAL, "window must be 1..86400000 ms");
	}
	if (!(c->sample_rate >= 0.0 && c->sample_rate <= 1.0)) {
		return rf_errf(ei, RF_ERR_INVAL, "sample rate must be 0..1");
	}
	if (c->port_base < 0 || c->port_base > 65534) {
		return rf_errf(ei, RF_ERR_INVAL, "port base must be 1..65534");
	}
	if (c->timeout_s < 1) {
		return rf_errf(ei, RF_ERR_INVAL, "timeout must be positive");
	}
	enum executor_fault ef;
	enum challenger_fault cf;
	if (c->faulty > c->executors ||
	    (c->faulty > 0 && (c->fault == NULL ||
	    executor_fault_parse(c->fault, &ef) != RF_OK))) {
		return rf_errf(ei, RF_ERR_INVAL, "faulty executors need a known "
		    "--fault and at most --executors of them");
	}
	if (c->faulty_challengers > c->challengers ||
	    (c->faulty_challengers > 0 && (c->challenger_fault == NULL ||
	    challenger_fault_parse(c->challenger_fault, &cf) != RF_OK))) {
		return rf_errf(ei, RF_ERR_INVAL, "faulty challengers need a known "
		    "--challenger-fault and at most --challengers of them");
	}
	if (c->clock_ms < 1 || c->clock_ms > 86400000) {
		return rf_errf(ei, RF_ERR_INVAL, "clock must be 1..86400000 ms");
	}
	return RF_OK;
}

/* The report's node table: referee, executors, challengers, client. */
static int
plan_nodes(struct devnet *d, struct rf_errinfo *ei)
{
	char name[32];
	if (add_node(d, DEVNET_REFEREE, "referee", ei) == NULL) {
		return RF_ERR_RANGE;
	}
	for (unsigned i = 1; i <= d->cfg->executors; i++) {
		snprintf(name, sizeof(name), "executor-%u", i);
		struct devnet_node *n = add_node(d, DEVNET_EXECUTOR, name, ei);
		if (n == NULL) {
			return RF_ERR_RANGE;
		}
		n->faulty = i <= d->cfg->faulty;
	}
	for (unsigned i = 1; i <= d->cfg->challengers; i++) {
		snprintf(name, sizeof(name), "challenger-%u", i);
		struct devnet_node *n = add_node(d, DEVNET_CHALLENGER, name, ei);
		if (n == NULL) {
			return RF_ERR_RANGE;
		}
		n->faulty = i <= d->cfg->faulty_challengers;
	}
	d->client = d->rep->n_nodes;
	return add_node(d, DEVNET_CLIENT, "client", ei) != NULL ? RF_OK :
	    RF_ERR_RANGE;
}

/* Everything up to the point where the network runs. */
static int
run_setup(struct devnet *d, struct rf_errinfo *ei)
{
	const struct devnet_config *c = d->cfg;
	if (c->exe != NULL) {
		snprintf(d->exe, sizeof(d->exe), "%s", c->exe);
	} else {
		ssize_t n = readlink("/proc/self/exe", d->exe, sizeof(d->exe) - 1);
		if (n <= 0) {
			return rf_errf(ei, RF_ERR_IO, "cannot find this program "
			    "(/proc/self/exe): %s", strerror(errno));
		}
		d->exe[n] = '\0';
	}
	int err = prepare_dir(d, ei);
	if (err == RF_OK) {
		err = plan_nodes(d, ei);
	}
	if (err == RF_OK) {
		err = prepare_model(d, ei);
	}
	if (err == RF_OK) {
		err = prepare_keys(d, ei);
	}
	if (err == RF_OK) {
		d->rep->jobs = calloc(c->jobs, sizeof(*d->rep->jobs));
		d->rep->disputes = calloc(DEVNET_MAX_DISPUTES,
		    sizeof(*d->rep->disputes));
		if (d->rep->jobs == NULL || d->rep->disputes == NULL ||
		    index_alloc(d, c->jobs) != RF_OK) {
			err = rf_errf(ei, RF_ERR_NOMEM, "out of memory for %u jobs",
			    c->jobs);
		}
	}
	progress(d, DEVNET_STARTING);
	if (err == RF_OK) {
		err = start_referee(d, ei);
	}
	for (size_t i = 1; err == RF_OK && i < d->rep->n_nodes; i++) {
		if (d->rep->nodes[i].role != DEVNET_CLIENT) {
			err = spawn_node(d, i, ei);
		}
	}
	if (err == RF_OK) {
		err = wait_ready(d, ei);
	}
	return err;
}

/* Jobs in, finality, the claims read back, the challengers caught up. */
static int
run_jobs(struct devnet *d, struct rf_errinfo *ei)
{
	int err = submit_jobs(d, ei);
	if (err == RF_OK) {
		err = wait_final(d, ei);
	}
	if (err == RF_OK) {
		err = read_claims(d, ei);
	}
	if (err == RF_OK) {
		err = read_verdicts(d, ei);
	}
	if (err == RF_OK && d->cfg->challengers > 0) {
		err = wait_verified(d, ei);
	}
	return err;
}

/* The final status, while the referee still runs. */
static int
final_status(struct devnet *d, struct rf_errinfo *ei)
{
	struct proto_status_info reply;
	int err = status(d, &reply, ei);
	if (err != RF_OK) {
		return err;
	}
	d->rep->ledger_after = reply.ledger_total;
	d->rep->have_after = true;
	take_balances(d, &reply);
	proto_status_info_free(&reply);
	return RF_OK;
}

static void
count_claims(struct devnet *d)
{
	struct devnet_report *rep = d->rep;
	for (size_t k = 0; k < rep->n_jobs; k++) {
		const struct devnet_job *j = &rep->jobs[k];
		for (size_t i = 0; j->claim_events > 0 && i < rep->n_nodes; i++) {
			struct devnet_node *n = &rep->nodes[i];
			if (n->role == DEVNET_EXECUTOR &&
			    memcmp(n->key.b, j->executor.b, PROTO_KEY_LEN) == 0) {
				n->claims++;
			}
		}
	}
}

int
devnet_run(const struct devnet_config *cfg, struct devnet_report *rep,
    struct rf_errinfo *ei)
{
	memset(rep, 0, sizeof(*rep));
	rep->suite = PROTO_HASH_BLAKE3;
	rep->window_ms = cfg->window_ms;
	rep->seed = cfg->seed;
	rep->fee = cfg->fee;
	rep->jobs_wanted = cfg->jobs;
	rep->sample_rate = cfg->sample_rate;
	int err = check_config(cfg, ei);
	if (err != RF_OK) {
		return err;
	}
	struct devnet *d = calloc(1, sizeof(*d));
	if (d == NULL) {
		return rf_errf(ei, RF_ERR_NOMEM, "out of memory");
	}
	d->cfg = cfg;
	d->rep = rep;
	d->t0 = node_mono_s();
	d->phase = 0;
	err = run_setup(d, ei);
	if (err == RF_OK) {
		err = run_jobs(d, ei);
	}
	if (d->rpc_open && (err == RF_OK || rep->have_before)) {
		struct rf_errinfo lei = { "" };
		if (err != RF_OK) {
			/* The referee may be gone: do not wait long. */
			d->rpc.timeout_ms = 1000;
			d->rpc.retries = 0;
		}
		int e = final_status(d, err == RF_OK ? ei : &lei);
		if (err == RF_OK) {
			err = e;
		}
	}
	if (err == RF_ERR_ABORTED || stopped(d)) {
		rep->interrupted = true;
	}
	if (err != RF_OK) {
		read_challengers(d);
	}
	progress(d, DEVNET_STOPPING);
	if (d->ev_open) {
		node_events_close(&d->ev);
	}
	if (d->rpc_open) {
		node_rpc_close(&d->rpc);
	}
	/* Clients of the referee first, so none of them logs a lost
	 * referee on its way out. */
	stop_nodes(d, false);
	stop_nodes(d, true);
	count_claims(d);
	rep->elapsed_s = node_mono_s() - d->t0;

	char why[256];
	bool ok = err == RF_OK && devnet_report_ok(rep, why, sizeof(why));
	rep->kept = d->dir_created && (cfg->keep || !ok);
	if (d->dir_created && !rep->kept) {
		remove_dir(d->dir);
	}
	for (size_t i = 0; i < DEVNET_MAX_NODES; i++) {
		proto_identity_wipe(&d->ids[i]);
	}
	engine_model_free(d->model);
	free(d->slots);
	free(d);
	return err;
}
