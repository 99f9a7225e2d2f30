/*
 * node/runtime.c - what every node does around its own work: open its
 * database and models, connect to the referee, register, follow the
 * event log from the stored cursor, serve metrics, run the loop, and
 * close it all in the reverse order.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "node/node.h"

int
node_open(struct node *n, const struct node_config *cfg,
    const char *metrics_prefix, const char *const *schema, size_t n_schema,
    struct rf_errinfo *ei)
{
	memset(n, 0, sizeof(*n));
	n->cfg = cfg;
	/* Metrics are optional: without memory for them the node runs. */
	n->metrics = net_metrics_alloc(metrics_prefix);
	if (n->metrics != NULL) {
		n->m_given_up = net_metrics_counter(n->metrics,
		    "events_given_up_total", NULL,
		    "Events that kept failing and were given up");
		n->m_retries = net_metrics_counter(n->metrics,
		    "event_retries_total", NULL, "Events tried again");
	}
	int err = store_open(cfg->db_path, schema, n_schema, &n->db, ei);
	for (size_t i = 0; err == RF_OK && i < cfg->n_models; i++) {
		err = node_models_load(&n->models, cfg->suite, cfg->model_paths[i],
		    ei);
	}
	if (err == RF_OK) {
		bool any_key = proto_pubkey_is_zero(&cfg->referee_key);
		err = node_rpc_open(&n->rpc, cfg->referee_url, &cfg->identity,
		    cfg->suite, any_key ? NULL : &cfg->referee_key, ei);
	}
	return err;
}

int
node_join(struct node *n, uint8_t roles, const char *endpoint,
    struct rf_errinfo *ei)
{
	int err = node_register(&n->rpc, roles, n->cfg->name, endpoint,
	    &n->models, ei);
	if (err == RF_OK && (roles & PROTO_ROLE_EXECUTOR) != 0) {
		err = node_models_register(&n->models, &n->rpc, ei);
	}
	return err;
}

int
node_cursor_store(struct store *db, uint64_t seq)
{
	int err = store_begin(db, NULL);
	if (err != RF_OK) {
		return err;
	}
	err = store_meta_set(db, "cursor", (int64_t)seq);
	if (err != RF_OK) {
		store_rollback(db);
		return err;
	}
	return store_commit(db, NULL);
}

int
node_start(struct node *n, const struct node_loop_ops *ops, void *ctx,
    volatile sig_atomic_t *stop, struct rf_errinfo *ei)
{
	int64_t cursor = 0;
	int err = store_meta_get(n->db, "cursor", 0, &cursor);
	if (err != RF_OK) {
		return rf_errf(ei, err, "cannot read the event cursor from %s",
		    n->cfg->db_path);
	}
	err = node_events_open(&n->events, n->cfg->events_url, &n->rpc,
	    (uint64_t)cursor, ei);
	if (err == RF_OK && n->cfg->metrics_addr != NULL && n->metrics != NULL) {
		err = net_metrics_serve(n->metrics, n->cfg->metrics_addr, &n->http,
		    ei);
	}
	if (err == RF_OK) {
		node_loop_init(&n->loop, ops, ctx, &n->events, (uint64_t)cursor,
		    stop);
		n->loop.db = n->db;
		n->loop.m_given_up = n->m_given_up;
		n->loop.m_retries = n->m_retries;
		n->loop.gauges = n->gauges;
		n->loop.n_gauges = n->n_gauges;
	}
	return err;
}

void
node_gauge_add(struct node *n, const char *name, const char *help,
    const char *sql)
{
	if (n->metrics == NULL || n->n_gauges == NODE_GAUGES_MAX) {
		return;
	}
	struct net_gauge *g = net_metrics_gauge(n->metrics, name, NULL, help);
	if (g != NULL) {
		n->gauges[n->n_gauges].g = g;
		n->gauges[n->n_gauges].sql = sql;
		n->n_gauges++;
	}
}

void
node_close(struct node *n)
{
	node_events_close(&n->events);
	net_http_stop(n->http);
	net_metrics_free(n->metrics);
	node_rpc_close(&n->rpc);
	node_models_free(&n->models);
	store_close(n->db);
	memset(n, 0, sizeof(*n));
}
