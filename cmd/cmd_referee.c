/*
 * cmd/cmd_referee.c - `refute referee`: runs the referee node until SIGTERM
 * or SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "net/net.h"
#include "referee/referee.h"
#include "cmd/cli.h"
#include "cmd/cmds.h"

static volatile sig_atomic_t stop_flag;
static timer_t stop_timer;
static volatile sig_atomic_t stop_timer_armed;

/*
 * A node that has not stopped CMD_STOP_GRACE_MS after SIGTERM exits at
 * once. What a clean stop can wait on is a request in flight to a peer
 * that does not answer (up to its timeout), and aborting that request
 * inside NNG can hang the socket's close. Exiting instead loses nothing:
 * every state change is a SQLite transaction (WAL), so an exit at any
 * instant is a crash the node recovers from at its next start, and a
 * request cut short is a lost reply, which every peer already handles.
 */
static void
on_stop_overdue(int sig)
{
	static const char msg[] = "refute: not stopped within the grace "
	    "period: exiting now (the database recovers at the next start)\n";
	(void)sig;
	ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(CLI_EXIT_OK);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
	if (stop_timer_armed == 1) {
		/* timer_settime is async-signal-safe (POSIX.1-2008). */
		struct itimerspec its;
		memset(&its, 0, sizeof(its));
		its.it_value.tv_nsec = (long)CMD_STOP_GRACE_MS * 1000000L;
		stop_timer_armed = 2;
		timer_settime(stop_timer, 0, &its, NULL);
	}
}

void
cmd_install_stop_handlers(volatile sig_atomic_t **flag, bool node)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	if (node) {
		sa.sa_handler = on_stop_overdue;
		sigaction(SIGALRM, &sa, NULL);
		struct sigevent sev;
		memset(&sev, 0, sizeof(sev));
		sev.sigev_notify = SIGEV_SIGNAL;
		sev.sigev_signo = SIGALRM;
		if (timer_create(CLOCK_MONOTONIC, &sev, &stop_timer) == 0) {
			stop_timer_armed = 1;
		} else {
			log_warn("no stop timer (%s): a stop waits for the "
			    "request in flight", strerror(errno));
		}
	}
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	*flag = &stop_flag;
}

int
cmd_net_limits(const struct cli_cmd *cmd, int64_t max_conns, int64_t idle_ms)
{
	if (max_conns < 1 || max_conns > 65536) {
		return cmd_usage_error(cmd, "--max-conns must be 1..65536");
	}
	if (idle_ms < 100 || idle_ms > 86400000) {
		return cmd_usage_error(cmd, "--idle-ms must be 100..86400000");
	}
	struct net_limits l = { (unsigned)max_conns, (unsigned)idle_ms };
	return net_limits_set(&l) == RF_OK ? -1 :
	    cmd_usage_error(cmd, "bad connection limits");
}

int
cmd_referee(int argc, char **argv)
{
	const char *listen = "tcp://127.0.0.1:7700";
	const char *events = "tcp://127.0.0.1:7701";
	const char *db = "referee.db";
	const char *genesis = NULL;
	const char *identity = NULL;
	const char *metrics = NULL;
	int64_t workers = 16;
	bool init = false;
	int64_t max_conns = NET_MAX_CONNS_DEFAULT, idle_ms = NET_IDLE_MS_DEFAULT;
	const char *config = NULL;
	const struct cli_opt opts[] = {
		CLI_CONFIG_OPT(config),
		{ "identity", 'k', CLI_STR, &identity, "FILE",
		    "the referee's identity file (refute keygen)" },
		{ "listen", 'l', CLI_STR, &listen, "URL",
		    "requests (REP), default tcp://127.0.0.1:7700" },
		{ "events", 'e', CLI_STR, &events, "URL",
		    "events (PUB), default tcp://127.0.0.1:7701" },
		{ "db", 'd', CLI_STR, &db, "FILE", "state (SQLite), default "
		    "referee.db" },
		{ "genesis", 'g', CLI_STR, &genesis, "FILE",
		    "network parameters and balances (with --init)" },
		{ "init", 0, CLI_FLAG, &init, NULL,
		    "create a new ledger in a new or empty --db from --genesis "
		    "(first\nstart only; without it a missing, empty or foreign "
		    "database is refused)" },
		{ "metrics", 'm', CLI_STR, &metrics, "ADDR",
		    "serve Prometheus metrics on ADDR (host:port)" },
		{ "workers", 'w', CLI_I64, &workers, "N",
		    "requests handled at once (default 16)" },
		CLI_NET_LIMIT_OPTS(max_conns, idle_ms),
	};
	const struct cli_cmd cmd = {
		.path = "referee",
		.config = true,
		.summary = "Run the referee: ledger, registry, job board, "
		    "challenge windows and disputes.",
		.opts = opts,
		.n_opts = sizeof(opts) / sizeof(opts[0]),
	};
	const char *pos[1];
	size_t np;
	int rc = cmd_parse(&cmd, argc, argv, pos, &np);
	if (rc >= 0) {
		return rc;
	}
	if (identity == NULL) {
		return cmd_usage_error(&cmd, "missing --identity FILE");
	}
	if (workers < 1 || workers > 64) {
		return cmd_usage_error(&cmd, "--workers must be 1..64");
	}
	rc = cmd_net_limits(&cmd, max_conns, idle_ms);
	if (rc >= 0) {
		return rc;
	}
	if (proto_init() != RF_OK) {
		return cmd_fail(&cmd, "cannot initialise libsodium");
	}
	struct referee_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	rc = cmd_load_identity(&cmd, identity, &cfg.identity);
	if (rc != CLI_EXIT_OK) {
		return rc;
	}
	cfg.listen_url = listen;
	cfg.events_url = events;
	cfg.db_path = db;
	cfg.genesis_path = genesis;
	cfg.init = init;
	cfg.metrics_addr = metrics;
	cfg.workers = (unsigned)workers;
	rf_log_init("referee", LOG_LEVEL_INFO);
	volatile sig_atomic_t *stop;
	cmd_install_stop_handlers(&stop, true);
	struct rf_errinfo ei = { "" };
	int err = referee_run(&cfg, stop, &ei);
	proto_identity_wipe(&cfg.identity);
	if (err != RF_OK) {
		return cmd_fail(&cmd, "%s", ei.msg[0] ? ei.msg : rf_strerror(err));
	}
	return CLI_EXIT_OK;
}
