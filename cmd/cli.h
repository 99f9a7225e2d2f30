/*
 * cmd/cli.h - what every `refute` subcommand shares: a declarative option
 * parser that prints help and one-line errors, file helpers, a tiny JSON
 * writer and the exit-code convention.
 *
 * Exit codes: 0 success, 1 the command failed (bad file, run error),
 * 2 the command line was wrong; commands that talk to a referee also
 * use 3 the job's claim fell (invalid), 4 timed out waiting, 5 the
 * referee refused the request, 6 the referee could not be reached (a
 * network error). CLI_EXIT_HELP_CODES is the paragraph --help shows.
 */
#ifndef RF_CMD_CLI_H
#define RF_CMD_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_INVALID 3
#define CLI_EXIT_TIMEOUT 4
#define CLI_EXIT_REFUSED 5
#define CLI_EXIT_NET 6
#define CLI_EXIT_HELP_CODES                                                \
	"Exit codes: 0 done (the job final); 1 failed (a bad file, a bad "  \
	"reply, an\noutput that does not match the model); 2 a wrong "      \
	"command line; 3 the job is\ninvalid (its claim fell); 4 timed "    \
	"out waiting; 5 refused by the referee;\n6 the referee could not "  \
	"be reached (network error)."

enum cli_opt_type {
	CLI_FLAG,   /* bool, no value */
	CLI_STR,    /* const char * */
	CLI_STRS,   /* repeatable: struct cli_strs */
	CLI_U64,    /* uint64_t */
	CLI_I64,    /* int64_t, must be >= 0 */
};

#define CLI_STRS_MAX 16

struct cli_strs {
	const char *v[CLI_STRS_MAX];
	size_t n;
};

struct cli_opt {
	const char *name; /* long name without "--" */
	char short_name;  /* 0 for none */
	enum cli_opt_type type;
	void *dst;
	const char *metavar; /* for help: "FILE", "N" */
	const char *help;
};

struct cli_cmd {
	const char *path;   /* "model run" */
	/* The command takes --config FILE (an option named "config" in
	 * opts): the file's options are applied first, the command line's
	 * after them. */
	bool config;
	const char *args;   /* positional synopsis: "FILE" */
	const char *summary;
	const char *details; /* may be NULL */
	const struct cli_opt *opts;
	size_t n_opts;
	size_t min_pos, max_pos;
};

/*
 * A config file holds command-line options, one per line: `name value`
 * (the long name, without "--"; the value is the rest of the line), a
 * flag alone (or `flag true` / `flag false`), comments from a `#` at the
 * start of a line or after a blank, blank lines. A repeatable option may
 * be given on several lines; any other only once. Options on the command
 * line override the file's (a repeatable one given there replaces the
 * file's list). A bad line is a usage error naming the file and line.
 */
#define CLI_CONFIG_OPT(path)                                               \
	{ "config", 'c', CLI_STR, &(path), "FILE",                         \
	    "read options from FILE, one per line ('name value'); the\n"   \
	    "                             command line overrides them" }

/*
 * Parses argv (argv[0] is the first argument after the command path).
 * Positional arguments go to pos[]. Returns -1 when the command should go
 * on; otherwise an exit code: CLI_EXIT_OK after printing --help, or
 * CLI_EXIT_USAGE after printing a one-line error to stderr.
 */
int cmd_parse(const struct cli_cmd *cmd, int argc, char **argv,
    const char **pos, size_t *n_pos);
void cmd_usage(const struct cli_cmd *cmd, FILE *f);

/*
 * Build-time documentation (cmd/doc.c): `refute --doc man|bash` prints
 * the man page or the bash completion from the command tables. main.c
 * calls cmd_doc_begin, then per subcommand cmd_doc_command, its run
 * function with "--help" and cmd_doc_check, then cmd_doc_end; in between
 * cmd_parse passes each table to cmd_doc_hook (true: it was taken).
 */
int cmd_doc_begin(const char *format, const char *version, const char *about);
void cmd_doc_command(const char *group, const char *name);
bool cmd_doc_hook(const struct cli_cmd *cmd);
int cmd_doc_check(void);
int cmd_doc_end(void);

/* "refute CMD: message" on stderr; returns CLI_EXIT_FAIL. */
int cmd_fail(const struct cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Same, but returns CLI_EXIT_USAGE and points at --help. */
int cmd_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* cmd_fail with another exit code (CLI_EXIT_REFUSED, ...). */
int cmd_fail_code(const struct cli_cmd *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* With --json, errors go to stdout as well, as one JSON object
 * {"error":"...","exit":N}, so a script reading stdout sees why. */
void cmd_json_errors(bool on);

/* Reads a whole file (at most max bytes). On failure prints why. */
int cmd_read_file(const struct cli_cmd *cmd, const char *path, size_t max,
    uint8_t **buf, size_t *len);
/* Writes a file atomically (temporary file, fsync, rename). */
int cmd_write_file(const struct cli_cmd *cmd, const char *path,
    const void *buf, size_t len, int mode);

#include <signal.h>

/* SIGTERM and SIGINT set *flag (returned) so a node can stop cleanly;
 * SIGPIPE is ignored. For a node, a stop not finished CMD_STOP_GRACE_MS
 * after the signal ends in an immediate exit (cmd_referee.c says why). */
#define CMD_STOP_GRACE_MS 800
void cmd_install_stop_handlers(volatile sig_atomic_t **flag, bool node);

/* --max-conns and --idle-ms for a node that listens (net/net.h's
 * limits): the option table entries and the check that applies them
 * (-1 when all is well, else the exit code of a usage error). */
#define CLI_NET_LIMIT_OPTS(conns, idle)                                    \
	{ "max-conns", 0, CLI_I64, &(conns), "N",                          \
	    "connections accepted at once per socket (default 64)" },      \
	{ "idle-ms", 0, CLI_I64, &(idle), "MS",                            \
	    "close a connection with no complete message for MS\n"         \
	    "                             (a stalled or idle peer; default 30000)" }
int cmd_net_limits(const struct cli_cmd *cmd, int64_t max_conns,
    int64_t idle_ms);

struct proto_identity;
/* Loads an identity file, refusing one that group or others can access. */
int cmd_load_identity(const struct cli_cmd *cmd, const char *path,
    struct proto_identity *id);

struct tensor;
struct json_out;
/* A tensor's shape, min/max/mean, first values (and argmax per row for a
 * matrix), as text or as a JSON object. */
void cmd_print_tensor_text(const char *name, const struct tensor *t);
void cmd_print_tensor_json(struct json_out *j, const char *name,
    const struct tensor *t);

/* Minimal JSON output with correct string escaping. */
struct json_out {
	FILE *f;
	int depth;
	bool need_comma[32];
};
void cmd_json_begin(struct json_out *j, FILE *f);
void cmd_json_obj_open(struct json_out *j, const char *key);
void cmd_json_obj_close(struct json_out *j);
void cmd_json_arr_open(struct json_out *j, const char *key);
void cmd_json_arr_close(struct json_out *j);
void cmd_json_str(struct json_out *j, const char *key, const char *v);
void cmd_json_int(struct json_out *j, const char *key, long long v);
void cmd_json_uint(struct json_out *j, const char *key, unsigned long long v);
/* Non-finite values are written as null. */
void cmd_json_num(struct json_out *j, const char *key, double v);
void cmd_json_bool(struct json_out *j, const char *key, bool v);
void cmd_json_end(struct json_out *j);

#endif
