/*
 * tests/devnet/observe_test.c - how the devnet launcher reads a node's
 * public face: an HTTP GET of its metrics server and the value of one
 * Prometheus series, against a real metrics server (net_metrics_serve)
 * and against text a broken or hostile server could send.
 */
#include <stdlib.h>
#include <string.h>

#include "devnet/devnet_int.h"
#include "net/net.h"
#include "tests/testlib.h"

#define MATCH "refute_challenger_records_total{outcome=\"match\"}"
#define MISMATCH "refute_challenger_records_total{outcome=\"mismatch\"}"

static void
test_metric_value(void)
{
	double v = -1;
	const char *text =
	    "# HELP refute_challenger_records_total Claims recorded\n"
	    "# TYPE refute_challenger_records_total counter\n"
	    MATCH " 200\n"
	    MISMATCH " 3\n"
	    "refute_challenger_records_total_extra{outcome=\"match\"} 7\n";
	CU_ASSERT(devnet_metric_value(text, MATCH, &v));
	CU_ASSERT_EQUAL(v, 200);
	CU_ASSERT(devnet_metric_value(text, MISMATCH, &v));
	CU_ASSERT_EQUAL(v, 3);
	/* A name is matched whole, labels included, never as a prefix. */
	CU_ASSERT(!devnet_metric_value(text, "refute_challenger_records_total",
	    &v));
	CU_ASSERT(!devnet_metric_value(text,
	    "refute_challenger_records_total{outcome=\"skipped\"}", &v));
	/* Comments never count, nor a value that is not a number. */
	CU_ASSERT(!devnet_metric_value("# " MATCH " 5\n", MATCH, &v));
	CU_ASSERT(!devnet_metric_value(MATCH " twelve\n", MATCH, &v));
	CU_ASSERT(!devnet_metric_value(MATCH " 12abc\n", MATCH, &v));
	CU_ASSERT(!devnet_metric_value(MATCH " \n", MATCH, &v));
	CU_ASSERT(!devnet_metric_value(MATCH " NaN\n", MATCH, &v));
	CU_ASSERT(!devnet_metric_value(MATCH " +Inf\n", MATCH, &v));
	CU_ASSERT(!devnet_metric_value(MATCH " 1e999\n", MATCH, &v));
	CU_ASSERT(!devnet_metric_value(MATCH "\n", MATCH, &v));
	CU_ASSERT(!devnet_metric_value("", MATCH, &v));
	/* The last line may lack its newline. */
	CU_ASSERT(devnet_metric_value(MATCH " 9", MATCH, &v));
	CU_ASSERT_EQUAL(v, 9);
}

static void
test_http_get(void)
{
	struct net_metrics *m = net_metrics_alloc("refute_challenger");
	CU_ASSERT_FATAL(m != NULL);
	struct net_counter *c = net_metrics_counter(m, "records_total",
	    "outcome=\"match\"", "Claims recorded");
	net_counter_add(c, 41);
	net_counter_inc(c);
	struct net_http *h = NULL;
	struct rf_errinfo ei = { "" };
	CU_ASSERT_FATAL(net_metrics_serve(m, "127.0.0.1:0", &h, &ei) == RF_OK);
	int port = net_http_port(h);

	char *body = NULL;
	size_t len = 0;
	double v = 0;
	CU_ASSERT_EQUAL_FATAL(devnet_http_get(port, "/metrics", 5000, &body,
	    &len, &ei), RF_OK);
	CU_ASSERT_EQUAL(strlen(body), len);
	CU_ASSERT(strncmp(body, "HTTP/", 5) != 0); /* the body only */
	CU_ASSERT(devnet_metric_value(body, MATCH, &v));
	CU_ASSERT_EQUAL(v, 42);
	free(body);

	/* Anything but a 200 is an error, with nothing returned. */
	body = (char *)1;
	CU_ASSERT_EQUAL(devnet_http_get(port, "/nothing", 5000, &body, &len,
	    &ei), RF_ERR_FORMAT);
	CU_ASSERT_PTR_NULL(body);
	CU_ASSERT(strstr(ei.msg, "not a 200") != NULL);

	net_http_stop(h);
	net_metrics_free(m);
	/* Nobody listening any more. */
	CU_ASSERT_EQUAL(devnet_http_get(port, "/metrics", 5000, &body, &len,
	    &ei), RF_ERR_NET);
	CU_ASSERT_PTR_NULL(body);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{ "one series' value from Prometheus text", test_metric_value },
		{ "GET from a metrics server", test_http_get },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "devnet observes", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return test_main(suites);
}
