/*
 * tests/integration/suite_test.c - the hash suite belongs to the network.
 *
 * A network's genesis fixes it (`suite`; blake2b-256 when the line is
 * absent, so networks made before blake3 keep their roots), and roots of
 * two suites are never compared:
 *   - on a blake3 network, a claim (or any request) in another suite is
 *     refused before it is read, with an error naming the network's suite,
 *     and a client library call in the wrong suite fails with
 *     RF_ERR_VERSION;
 *   - commitments computed in blake2b but sent in blake3's envelope (a
 *     cheater's model registration) fail the referee's proof checks, while
 *     the same registration computed in blake3 is accepted;
 *   - a blake2b network (no suite line) still accepts blake2b commitments
 *     and refuses blake3 ones;
 *   - `refute executor --hash blake2b` against a blake3 referee refuses to
 *     start, naming both suites; `refute status` without --hash uses the
 *     referee's;
 *   - blake2b roots are bit for bit what they were before blake3 existed
 *     (a trace root and a model_id recorded from that build).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "tests/adversary/adv.h"
#include "tests/testlib.h"

static struct engine_model *
small_model(void)
{
	struct engine_gen_opts o;
	struct engine_model *m;
	engine_gen_opts_init(&o, ENGINE_GEN_MLP);
	CU_ASSERT_FATAL(engine_model_generate(&o, &m, NULL) == RF_OK);
	return m;
}

/* Sends req signed in `suite` and returns the referee's verdict without
 * the client library's own suite check; *why gets an error's text. */
static int
send_in_suite(struct adv_node *a, enum proto_hash suite, struct adv_msg *req,
    char *why, size_t cap)
{
	enum proto_hash keep = a->rpc.suite;
	uint8_t *buf;
	size_t len;
	a->rpc.suite = suite;
	int err = adv_sign(a, req, &buf, &len);
	a->rpc.suite = keep;
	CU_ASSERT_FATAL(err == RF_OK);
	uint8_t *rb = NULL;
	size_t rl = 0;
	int r = ADV_NO_REPLY;
	why[0] = '\0';
	if (node_rpc_forward(&a->rpc, buf, len, &rb, &rl, NULL) == RF_OK) {
		struct adv_msg reply;
		if (adv_msg_decode(rb, rl, &reply, NULL) == RF_OK) {
			r = reply.type == PROTO_MSG_ERROR ? (int)reply.u.error.code :
			    ADV_ACK;
			if (reply.type == PROTO_MSG_ERROR) {
				size_t k = strnlen(reply.u.error.text, cap - 1);
				memcpy(why, reply.u.error.text, k);
				why[k] = '\0';
			}
			adv_msg_free(&reply);
		}
		free(rb);
	}
	free(buf);
	return r;
}

static void
test_blake3_network(void)
{
	struct adv_net net;
	struct adv_node ex, cl;
	adv_node_init(&ex, 1);
	adv_node_init(&cl, 2);
	struct adv_node *all[] = { &ex, &cl };
	CU_ASSERT_FATAL(adv_net_start(&net, "suite blake3-256\n", all, 2,
	    100000) == RF_OK);
	CU_ASSERT_EQUAL(net.suite, PROTO_HASH_BLAKE3);
	CU_ASSERT_EQUAL(adv_register(&ex, PROTO_ROLE_EXECUTOR, NULL), ADV_ACK);

	/* A claim in blake2b: refused unread, naming the network's suite. */
	char why[256];
	struct adv_msg m;
	adv_msg_init(&m, PROTO_MSG_CLAIM, PROTO_HASH_BLAKE2B);
	CU_ASSERT_EQUAL(send_in_suite(&ex, PROTO_HASH_BLAKE2B, &m, why,
	    sizeof(why)), PROTO_ERR_VERSION);
	CU_ASSERT(strstr(why, "blake3-256") != NULL);
	/* The same with xxh3, and a status query. */
	adv_msg_init(&m, PROTO_MSG_CLAIM, PROTO_HASH_XXH3);
	CU_ASSERT_EQUAL(send_in_suite(&ex, PROTO_HASH_XXH3, &m, why,
	    sizeof(why)), PROTO_ERR_VERSION);
	adv_msg_init(&m, PROTO_MSG_STATUS_QUERY, PROTO_HASH_BLAKE2B);
	CU_ASSERT_EQUAL(send_in_suite(&cl, PROTO_HASH_BLAKE2B, &m, why,
	    sizeof(why)), PROTO_ERR_VERSION);

	/* The client library refuses a reply in another suite. */
	struct node_rpc wrong;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_FATAL(node_rpc_open(&wrong, net.ref_url, &cl.id,
	    PROTO_HASH_BLAKE2B, &net.referee.pk, &ei) == RF_OK);
	struct adv_msg reply;
	adv_msg_init(&m, PROTO_MSG_STATUS_QUERY, PROTO_HASH_BLAKE2B);
	CU_ASSERT_EQUAL(adv_rpc_call(&wrong, &m, &reply, &ei),
	    RF_ERR_VERSION);
	CU_ASSERT(strstr(ei.msg, "blake3-256") != NULL);
	CU_ASSERT(strstr(ei.msg, "blake2b-256") != NULL);
	node_rpc_close(&wrong);
	enum proto_hash s = PROTO_HASH_XXH3;
	CU_ASSERT_EQUAL(node_referee_suite(net.ref_url, &cl.id,
	    &net.referee.pk, &s, &ei), RF_OK);
	CU_ASSERT_EQUAL(s, PROTO_HASH_BLAKE3);

	/* blake2b commitments in blake3's envelope: the model_id and its
	 * proof do not verify in the network's suite. */
	struct engine_model *model = small_model();
	CU_ASSERT_FATAL(adv_model_msg(PROTO_HASH_BLAKE2B, model, &m) == RF_OK);
	int r = adv_send(&ex, &m, NULL);
	CU_ASSERT(r != ADV_ACK && r != ADV_NO_REPLY);
	CU_ASSERT_FATAL(adv_model_msg(PROTO_HASH_BLAKE3, model, &m) == RF_OK);
	CU_ASSERT_EQUAL(adv_send(&ex, &m, NULL), ADV_ACK);

	/* The command line: a node started in another suite refuses. */
	char key[512], text[PROTO_IDENTITY_TEXT_MAX], out[4096];
	snprintf(key, sizeof(key), "%s/ex.key", net.dir);
	CU_ASSERT_FATAL(proto_identity_format(&ex.id, text, sizeof(text)) ==
	    RF_OK);
	CU_ASSERT_FATAL(test_write_file(key, text, strlen(text), 0600) == 0);
	uint8_t *mb;
	size_t ml;
	char mp[512];
	snprintf(mp, sizeof(mp), "%s/model.rfm", net.dir);
	CU_ASSERT_FATAL(engine_model_encode(model, &mb, &ml) == RF_OK);
	CU_ASSERT_FATAL(test_write_file(mp, mb, ml, 0644) == 0);
	free(mb);
	int rc = test_shell(out, sizeof(out), net.dir, 1, "%s executor -k "
	    "ex.key --referee %s --events %s --model model.rfm --db ex.db "
	    "--hash blake2b", test_refute(), net.ref_url, net.ev_url);
	CU_ASSERT_NOT_EQUAL(rc, 0);
	CU_ASSERT(strstr(out, "uses the blake3-256 hash suite") != NULL);
	CU_ASSERT(strstr(out, "blake2b-256") != NULL);
	rc = test_shell(out, sizeof(out), net.dir, 1, "%s status --referee %s "
	    "--hash xxh3", test_refute(), net.ref_url);
	CU_ASSERT_NOT_EQUAL(rc, 0);
	CU_ASSERT(strstr(out, "blake3-256") != NULL);
	rc = test_shell(out, sizeof(out), net.dir, 1, "%s status --referee %s",
	    test_refute(), net.ref_url);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc != 0) {
		printf("%s\n", out);
	}
	engine_model_free(model);
	adv_node_close(&ex);
	adv_node_close(&cl);
	adv_net_stop(&net);
}

static void
test_blake2b_network(void)
{
	struct adv_net net;
	struct adv_node ex;
	adv_node_init(&ex, 3);
	struct adv_node *all[] = { &ex };
	/* No suite line: a network made before blake3. */
	CU_ASSERT_FATAL(adv_net_start(&net, "window_ms 500\n", all, 1, 100000) ==
	    RF_OK);
	CU_ASSERT_EQUAL(net.suite, PROTO_HASH_BLAKE2B);
	CU_ASSERT_EQUAL(adv_register(&ex, PROTO_ROLE_EXECUTOR, NULL), ADV_ACK);
	struct engine_model *model = small_model();
	struct adv_msg m;
	char why[256];
	/* blake3 commitments are refused, in either envelope. */
	CU_ASSERT_FATAL(adv_model_msg(PROTO_HASH_BLAKE3, model, &m) == RF_OK);
	CU_ASSERT_EQUAL(send_in_suite(&ex, PROTO_HASH_BLAKE3, &m, why,
	    sizeof(why)), PROTO_ERR_VERSION);
	CU_ASSERT(strstr(why, "blake2b-256") != NULL);
	CU_ASSERT_FATAL(adv_model_msg(PROTO_HASH_BLAKE3, model, &m) == RF_OK);
	int r = adv_send(&ex, &m, NULL);
	CU_ASSERT(r != ADV_ACK && r != ADV_NO_REPLY);
	/* blake2b ones verify as they always did. */
	CU_ASSERT_FATAL(adv_model_msg(PROTO_HASH_BLAKE2B, model, &m) == RF_OK);
	CU_ASSERT_EQUAL(adv_send(&ex, &m, NULL), ADV_ACK);
	engine_model_free(model);
	adv_node_close(&ex);
	adv_net_stop(&net);
}

/* Recorded with the build before blake3 (blake2b was the only secure
 * suite): `refute model gen mlp --seed 3`, `model run --seed 5 --trace`
 * and `model info`. */
static void
test_blake2b_roots_unchanged(void)
{
	char dir[] = "/tmp/rf-suite-XXXXXX", out[4096];
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	CU_ASSERT_EQUAL(test_shell(out, sizeof(out), dir, 1, "%s model gen mlp "
	    "--seed 3 -o m.rfm", test_refute()), 0);
	CU_ASSERT_EQUAL(test_shell(out, sizeof(out), dir, 1, "%s model run "
	    "m.rfm --seed 5 --trace --hash blake2b", test_refute()), 0);
	CU_ASSERT(strstr(out, "trace root 48fd56fb07409572d3caf800bfc2a35d4b77d3f"
	    "3dc86728e56fed412dc3f8c0c (blake2b-256, 7 leaves)") != NULL);
	CU_ASSERT_EQUAL(test_shell(out, sizeof(out), dir, 1, "%s model info "
	    "m.rfm", test_refute()), 0);
	CU_ASSERT(strstr(out, "ba0c630eddb091e43047e90a2d44174c2f2da1378a611c2f"
	    "dc70823b18986b3a (blake2b-256)") != NULL);
	/* The default suite is blake3 and gives other roots. */
	CU_ASSERT_EQUAL(test_shell(out, sizeof(out), dir, 1, "%s model run "
	    "m.rfm --seed 5 --trace", test_refute()), 0);
	CU_ASSERT(strstr(out, "(blake3-256, 7 leaves)") != NULL);
	CU_ASSERT(strstr(out, "48fd56fb07409572") == NULL);
	test_shell(out, sizeof(out), dir, 1, "rm -f m.rfm");
	rmdir(dir);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "a blake3 network refuses other suites", test_blake3_network },
		{ "a blake2b network keeps its roots", test_blake2b_network },
		{ "blake2b roots are unchanged", test_blake2b_roots_unchanged },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "suite", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
