/*
 * tests/integration/job_cli_test.c - a job's life through the `refute`
 * command, against a real referee (RF_REFUTE): `submit` prints the id and
 * exits with a code that says how it ended (1 an input that does not fit
 * the model, nothing sent; 3 the claim fell; 4 timed out; 5 refused),
 * `refute job PREFIX` shows it and writes its output, `--cancel` refunds
 * it (only for its client, only once, never after a claim), `refute
 * disputes` lists full ids, parties and verdicts, `refute audit` takes a
 * dispute id prefix, `--json` reports errors as JSON, and `status` lists
 * open jobs and disputes with no stray spaces in its JSON.
 *
 * The executor and challenger are played by this test (tests/adversary):
 * the executor claims when the test says so, with a lie when it should
 * fall.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/engine.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

#define SUITE PROTO_HASH_BLAKE2B
#define START 100000
#define STAKE 1000
#define WAIT_S 60

static struct adv_net net;
/* cli and other sign only through the command (their sequence numbers
 * are the command's); ex and ch are played here. */
static struct adv_node ex, ch, cli, other;
static struct engine_model *model;
static char rk[65], exhex[65];
static char out[1 << 16];

static int
write_key(const struct adv_node *a, const char *name)
{
	char p[512], text[PROTO_IDENTITY_TEXT_MAX];
	snprintf(p, sizeof(p), "%s/%s", net.dir, name);
	if (proto_identity_format(&a->id, text, sizeof(text)) != RF_OK) {
		return -1;
	}
	return test_write_file(p, text, strlen(text), 0600);
}

static int
setup(void)
{
	if (proto_init() != RF_OK) {
		return 1;
	}
	adv_node_init(&ex, 21);
	adv_node_init(&ch, 22);
	adv_node_init(&cli, 23);
	adv_node_init(&other, 24);
	struct adv_node *all[] = { &ex, &ch, &cli, &other };
	if (adv_net_start(&net, "window_ms 600000\nclaim_collateral 1\n"
	    "register_fee 0\nclock_ms 4000\n", all, 4, START) != RF_OK) {
		return 1;
	}
	struct engine_gen_opts o;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	o.ops = 4;
	uint8_t *buf;
	size_t len;
	char p[512];
	snprintf(p, sizeof(p), "%s/model.rfm", net.dir);
	if (engine_model_generate(&o, &model, NULL) != RF_OK ||
	    engine_model_encode(model, &buf, &len) != RF_OK) {
		return 1;
	}
	int rc = test_write_file(p, buf, len, 0644);
	free(buf);
	/* An input of the wrong shape. */
	struct tensor bad;
	int64_t dims[2] = { 3, 5 };
	if (rc != 0 || engine_tensor_init(&bad, TENSOR_F32, 2, dims) != RF_OK ||
	    engine_tensor_npy_encode(&bad, &buf, &len) != RF_OK) {
		return 1;
	}
	engine_tensor_fini(&bad);
	snprintf(p, sizeof(p), "%s/bad.npy", net.dir);
	rc = test_write_file(p, buf, len, 0644);
	free(buf);
	proto_pubkey_hex(&net.referee.pk, rk);
	proto_pubkey_hex(&ex.id.pk, exhex);
	return rc != 0 || write_key(&cli, "cli.key") != 0 ||
	    write_key(&other, "other.key") != 0 ||
	    adv_register(&ex, PROTO_ROLE_EXECUTOR, model) != ADV_ACK ||
	    adv_register_model(&ex, model) != ADV_ACK ||
	    adv_stake(&ex, STAKE) != ADV_ACK ||
	    adv_register(&ch, PROTO_ROLE_CHALLENGER, NULL) != ADV_ACK;
}

static int
teardown(void)
{
	adv_node_close(&ex);
	adv_node_close(&ch);
	adv_node_close(&cli);
	adv_node_close(&other);
	test_kill_children();
	adv_net_stop(&net);
	engine_model_free(model);
	return 0;
}

/* Runs `refute ARGS -r URL --referee-key RK` in the network's directory;
 * stdout and stderr in out; the exit code. */
static int
run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
run(const char *fmt, ...)
{
	char args[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return test_shell(out, sizeof(out), net.dir, 1, "%s %s -r %s "
	    "--referee-key %s", test_refute(), args, net.ref_url, rk);
}

/* The same with stdout alone in out. */
static int
run_stdout(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
run_stdout(const char *fmt, ...)
{
	char args[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return test_shell(out, sizeof(out), net.dir, 0, "%s %s -r %s "
	    "--referee-key %s 2>/dev/null", test_refute(), args, net.ref_url,
	    rk);
}

/* The id in "job ID submitted" of the last output. */
static bool
submitted_id(char id[65])
{
	const char *p = strstr(out, " submitted");
	bool ok = p != NULL && p - out >= 68 && strncmp(p - 68, "job ", 4) == 0;
	if (ok) {
		memcpy(id, p - 64, 64);
		id[64] = '\0';
	}
	if (!ok) {
		fprintf(stderr, "\nno job id in: %s\n", out);
	}
	return ok;
}

static size_t
jobs_listed(void)
{
	struct adv_msg q, reply;
	adv_msg_init(&q, PROTO_MSG_JOBS_QUERY, SUITE);
	if (adv_call(&ex, &q, &reply) != RF_OK) {
		return 0;
	}
	size_t n = reply.type == PROTO_MSG_JOBS_LIST ? reply.u.jobs_list.n : 0;
	adv_msg_free(&reply);
	return n;
}

static void
test_submit_codes(void)
{
	size_t before = jobs_listed();
	/* An input that does not fit: refused here, nothing sent. */
	int rc = run("submit -k cli.key -m model.rfm -i bad.npy");
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(strstr(out, "does not fit the model") != NULL);
	CU_ASSERT_EQUAL(jobs_listed(), before);
	/* Refused by the referee: an executor that serves nothing. */
	rc = run("submit -k cli.key -m model.rfm --executor %064d", 7);
	CU_ASSERT_EQUAL(rc, 5);
	CU_ASSERT(strstr(out, "referee:") != NULL);
	/* Nobody claims within the second given: timed out, the id was
	 * printed first. */
	rc = run("submit -k cli.key -m model.rfm --seed 3 --fee 5 --executor "
	    "%s --wait --timeout 1", exhex);
	CU_ASSERT_EQUAL(rc, 4);
	char id[65];
	CU_ASSERT_FATAL(submitted_id(id));
	/* --json reports the error as JSON on stdout too. */
	rc = run_stdout("submit --json -k cli.key -m model.rfm -i bad.npy");
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(strncmp(out, "{\"error\":\"", 10) == 0);
	CU_ASSERT(strstr(out, "\"exit\":1}") != NULL);
}

static void
test_job_and_cancel(void)
{
	int rc = run("submit -k cli.key -m model.rfm --seed 4 --fee 9 "
	    "--executor %s", exhex);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	char id[65];
	CU_ASSERT_FATAL(submitted_id(id));
	char prefix[9];
	memcpy(prefix, id, 8);
	prefix[8] = '\0';
	uint64_t bal0 = 0, st = 0;
	CU_ASSERT_EQUAL(adv_account(&ex, &cli.id.pk, &bal0, &st), RF_OK);

	rc = run("job %s", prefix);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(strstr(out, id) != NULL);
	CU_ASSERT(strstr(out, "state    open") != NULL);
	/* No output before a claim. */
	rc = run("job %s -o y.npy", prefix);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(strstr(out, "no output yet") != NULL);
	/* Not another account's to cancel, and not without a key. */
	rc = run("job %s --cancel -k other.key", prefix);
	CU_ASSERT_EQUAL(rc, 5);
	CU_ASSERT(strstr(out, "only the job's client") != NULL);
	rc = run("job %s --cancel", prefix);
	CU_ASSERT_EQUAL(rc, 2);
	rc = run("job %s --cancel -k cli.key", prefix);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(strstr(out, "fee 9 refunded") != NULL);
	uint64_t bal1 = 0;
	CU_ASSERT_EQUAL(adv_account(&ex, &cli.id.pk, &bal1, &st), RF_OK);
	CU_ASSERT_EQUAL(bal1, bal0 + 9);
	/* Twice: refused. */
	rc = run("job %s --cancel -k cli.key", prefix);
	CU_ASSERT_EQUAL(rc, 5);
	rc = run_stdout("job %s --json", prefix);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(strstr(out, "\"state\":\"cancelled\"") != NULL);
	/* Not hex; no such job. */
	CU_ASSERT_EQUAL(run("job xyz"), 2);
	CU_ASSERT_EQUAL(run("job %s", "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef"), 1);
	CU_ASSERT(strstr(out, "no job id starts with") != NULL);
	/* One hex digit matches every job here: ambiguous, or exactly one. */
	rc = run("job %c", id[0]);
	CU_ASSERT(rc == 0 || rc == 2);
}

/* A claim that falls: `submit --wait` exits 3, `job -o` refuses to write
 * the false output, `disputes` and `audit PREFIX` show the verdict. */
static void
test_claim_falls(void)
{
	char log[512];
	snprintf(log, sizeof(log), "%s/submit.log", net.dir);
	char seed[] = "8", fee[] = "11";
	char key[512], m[512];
	snprintf(key, sizeof(key), "%s/cli.key", net.dir);
	snprintf(m, sizeof(m), "%s/model.rfm", net.dir);
	const char *a[] = { "submit", "-r", net.ref_url, "--referee-key", rk,
		"-k", key, "-m", m, "--seed", seed, "--fee", fee, "--executor",
		exhex, "--wait", "--timeout", "120", NULL };
	/* cli's jobs still open from the tests before, to tell the new one
	 * from them. */
	struct proto_digest old[PROTO_MAX_LIST];
	size_t n_old = 0;
	struct adv_msg q0, r0;
	adv_msg_init(&q0, PROTO_MSG_JOBS_QUERY, SUITE);
	q0.u.jobs_query.state = PROTO_JOB_OPEN;
	CU_ASSERT_FATAL(adv_call(&ex, &q0, &r0) == RF_OK &&
	    r0.type == PROTO_MSG_JOBS_LIST);
	for (uint32_t i = 0; i < r0.u.jobs_list.n; i++) {
		old[n_old++] = r0.u.jobs_list.jobs[i].job_id;
	}
	adv_msg_free(&r0);
	pid_t pid = test_spawn(log, a);
	CU_ASSERT_FATAL(pid > 0);
	/* The job it posted: cli's new open one. */
	struct proto_digest job;
	bool found = false;
	double deadline = test_seconds() + WAIT_S;
	while (!found && test_seconds() < deadline) {
		struct adv_msg q, reply;
		adv_msg_init(&q, PROTO_MSG_JOBS_QUERY, SUITE);
		q.u.jobs_query.state = PROTO_JOB_OPEN;
		if (adv_call(&ex, &q, &reply) == RF_OK &&
		    reply.type == PROTO_MSG_JOBS_LIST) {
			for (uint32_t i = 0; i < reply.u.jobs_list.n; i++) {
				bool seen = false;
				for (size_t k = 0; k < n_old; k++) {
					seen = seen || memcmp(old[k].b,
					    reply.u.jobs_list.jobs[i].job_id.b, 32) == 0;
				}
				if (!seen && memcmp(reply.u.jobs_list.jobs[i].client.b,
				    cli.id.pk.b, PROTO_KEY_LEN) == 0) {
					job = reply.u.jobs_list.jobs[i].job_id;
					found = true;
				}
			}
		}
		adv_msg_free(&reply);
		if (!found) {
			test_sleep_ms(50);
		}
	}
	CU_ASSERT_FATAL(found);
	struct adv_trace honest, lie;
	CU_ASSERT_FATAL(adv_trace_run(model, 8, &honest) == RF_OK);
	CU_ASSERT_FATAL(adv_trace_run(model, 8, &lie) == RF_OK);
	adv_trace_lie(&lie, lie.n_in + 1);
	int cr = adv_claim(&ex, &lie, &job, model);
	if (cr != ADV_ACK) {
		fprintf(stderr, "\nclaim: %d\n", cr);
	}
	CU_ASSERT_EQUAL_FATAL(cr, ADV_ACK);
	struct proto_digest dispute;
	CU_ASSERT_EQUAL_FATAL(adv_challenge(&ch, &job, &honest, 100, &dispute),
	    ADV_ACK);
	deadline = test_seconds() + WAIT_S;
	while (test_seconds() < deadline) {
		int x = adv_play(&ex, &dispute, &lie, model, true);
		int c = adv_play(&ch, &dispute, &honest, model, false);
		if (x == ADV_DECIDED || c == ADV_DECIDED) {
			break;
		}
		if (x != ADV_MOVED && c != ADV_MOVED) {
			test_sleep_ms(20);
		}
	}
	adv_trace_free(&honest);
	adv_trace_free(&lie);
	int status = 0;
	pid_t w;
	deadline = test_seconds() + WAIT_S;
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 &&
	    test_seconds() < deadline) {
		test_sleep_ms(50);
	}
	CU_ASSERT_EQUAL_FATAL(w, pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 3);

	char jid[65], did[65];
	proto_digest_hex(SUITE, &job, jid);
	proto_digest_hex(SUITE, &dispute, did);
	CU_ASSERT_EQUAL(run("job %.10s -o fell.npy", jid), 3);
	CU_ASSERT(strstr(out, "claim fell") != NULL);
	CU_ASSERT_EQUAL(run("job %.10s", jid), 0);
	CU_ASSERT(strstr(out, "state    invalid") != NULL);
	CU_ASSERT(strstr(out, did) != NULL);
	CU_ASSERT(strstr(out, "challenger won") != NULL);

	CU_ASSERT_EQUAL(run("disputes"), 0);
	CU_ASSERT(strstr(out, did) != NULL);
	CU_ASSERT(strstr(out, jid) != NULL);
	CU_ASSERT(strstr(out, exhex) != NULL);
	CU_ASSERT_EQUAL(run_stdout("disputes --json --state decided"), 0);
	CU_ASSERT(strstr(out, "\"winner\":\"challenger\"") != NULL);
	CU_ASSERT_EQUAL(run_stdout("disputes --json --state open"), 0);
	CU_ASSERT(strstr(out, "\"disputes\":[]") != NULL);

	/* audit by prefix, with the referee key given (the genesis names
	 * none). */
	CU_ASSERT_EQUAL(run_stdout("audit --json -g genesis -d %.12s", did), 0);
	CU_ASSERT(strstr(out, "\"confirmed\":true") != NULL);
	CU_ASSERT_EQUAL(run_stdout("audit --json -g genesis -d %s",
	    "ffffffffffffffff"), 1);
	CU_ASSERT(strncmp(out, "{\"error\":\"", 10) == 0);
}

static void
test_status_lists(void)
{
	int rc = run("submit -k cli.key -m model.rfm --seed 5 --fee 1 "
	    "--executor %s", exhex);
	if (rc != 0) {
		fprintf(stderr, "\n%s\n", out);
	}
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	char id[65];
	CU_ASSERT_FATAL(submitted_id(id));
	CU_ASSERT_EQUAL(run("submit -k cli.key -m model.rfm --seed 6 --fee 1 "
	    "--executor %s", exhex), 0);
	CU_ASSERT_EQUAL(run_stdout("status --json --limit 1"), 0);
	CU_ASSERT(strstr(out, "\"open_jobs_cut\":true") != NULL);
	CU_ASSERT(strstr(out, "\"open_jobs\":[{\"job_id\"") != NULL);
	/* No stray spaces: the roles are joined by commas. */
	CU_ASSERT(strstr(out, "\"roles\":\"executor\"") != NULL);
	CU_ASSERT(strstr(out, "\"open_disputes_cut\":false,"
	    "\"open_disputes\":[]") != NULL);
	CU_ASSERT(strchr(out, ' ') == NULL);
	CU_ASSERT_EQUAL(run("status --limit 1"), 0);
	CU_ASSERT(strstr(out, "open jobs, newest first") != NULL);
	CU_ASSERT(strstr(out, "list cut at") != NULL);
	CU_ASSERT_EQUAL(run("status --limit 256"), 0);
	CU_ASSERT(strstr(out, id) != NULL);
	CU_ASSERT(strstr(out, "list cut at 2") == NULL);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "submit: local check and exit codes", test_submit_codes },
		{ "job PREFIX, --output, --cancel", test_job_and_cancel },
		{ "status lists open jobs, JSON without spaces",
		    test_status_lists },
		{ "a claim falls: exit 3, disputes, audit PREFIX",
		    test_claim_falls },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "job cli", setup, teardown, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
