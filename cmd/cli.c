/* cmd/cli.c - option parsing, help, file helpers and JSON output. */
#include "cmd/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/node.h"

/* ------------------------------------------------------------------ */
/* Messages                                                             */
/* ------------------------------------------------------------------ */

static bool json_errors;

void
cmd_json_errors(bool on)
{
	json_errors = on;
}

static void
json_error(const char *msg, int code)
{
	if (json_errors) {
		struct json_out j;
		cmd_json_begin(&j, stdout);
		cmd_json_str(&j, "error", msg);
		cmd_json_int(&j, "exit", code);
		cmd_json_end(&j);
		fflush(stdout);
	}
}

static int vmessage(const struct cli_cmd *cmd, int code, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

static int
vmessage(const struct cli_cmd *cmd, int code, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "refute %s: %s\n", cmd->path, msg);
	json_error(msg, code);
	return code;
}

int
cmd_fail(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vmessage(cmd, CLI_EXIT_FAIL, fmt, ap);
	va_end(ap);
	return rc;
}

int
cmd_fail_code(const struct cli_cmd *cmd, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vmessage(cmd, code, fmt, ap);
	va_end(ap);
	return rc;
}

/* "FILE: line N: " while a config file's line is applied. */
static char where[512];

int
cmd_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
	char msg[1024];
	size_t n = strlen(where);
	memcpy(msg, where, n + 1);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "refute %s: %s (see 'refute %s --help')\n", cmd->path,
	    msg, cmd->path);
	json_error(msg, CLI_EXIT_USAGE);
	return CLI_EXIT_USAGE;
}

/* ------------------------------------------------------------------ */
/* Options                                                              */
/* ------------------------------------------------------------------ */

void
cmd_usage(const struct cli_cmd *cmd, FILE *f)
{
	fprintf(f, "usage: refute %s%s%s%s\n\n%s\n", cmd->path,
	    cmd->n_opts ? " [options]" : "", cmd->args ? " " : "",
	    cmd->args ? cmd->args : "", cmd->summary);
	if (cmd->details != NULL) {
		fprintf(f, "\n%s\n", cmd->details);
	}
	fprintf(f, "\noptions:\n");
	for (size_t i = 0; i < cmd->n_opts; i++) {
		const struct cli_opt *o = &cmd->opts[i];
		char left[64];
		int n = 0;
		if (o->short_name) {
			n = snprintf(left, sizeof(left), "-%c, ", o->short_name);
		}
		snprintf(left + n, sizeof(left) - (size_t)n, "--%s%s%s", o->name,
		    o->type == CLI_FLAG ? "" : " ",
		    o->type == CLI_FLAG ? "" : (o->metavar ? o->metavar : "X"));
		fprintf(f, "  %-26s %s\n", left, o->help);
	}
	fprintf(f, "  %-26s %s\n", "-h, --help", "show this help");
}

static int
parse_number(const struct cli_cmd *cmd, const struct cli_opt *o,
    const char *v)
{
	char *end = NULL;
	errno = 0;
	if (v[0] == '-' || v[0] == '\0') {
		return cmd_usage_error(cmd, "--%s needs a non-negative integer, "
		    "got '%s'", o->name, v);
	}
	unsigned long long n = strtoull(v, &end, 0);
	if (errno != 0 || end == v || *end != '\0') {
		return cmd_usage_error(cmd, "--%s needs an integer, got '%s'",
		    o->name, v);
	}
	if (o->type == CLI_U64) {
		*(uint64_t *)o->dst = (uint64_t)n;
	} else {
		if (n > INT64_MAX) {
			return cmd_usage_error(cmd, "--%s is too large: '%s'",
			    o->name, v);
		}
		*(int64_t *)o->dst = (int64_t)n;
	}
	return -1;
}

static const struct cli_opt *
find_long(const struct cli_cmd *cmd, const char *name, size_t len)
{
	for (size_t i = 0; i < cmd->n_opts; i++) {
		if (strlen(cmd->opts[i].name) == len &&
		    strncmp(cmd->opts[i].name, name, len) == 0) {
			return &cmd->opts[i];
		}
	}
	return NULL;
}

static const struct cli_opt *
find_short(const struct cli_cmd *cmd, char c)
{
	for (size_t i = 0; i < cmd->n_opts; i++) {
		if (cmd->opts[i].short_name == c) {
			return &cmd->opts[i];
		}
	}
	return NULL;
}

static int
apply(const struct cli_cmd *cmd, const struct cli_opt *o, const char *v)
{
	switch (o->type) {
	case CLI_FLAG:
		*(bool *)o->dst = true;
		return -1;
	case CLI_STR:
		*(const char **)o->dst = v;
		return -1;
	case CLI_STRS: {
		struct cli_strs *s = o->dst;
		if (s->n >= CLI_STRS_MAX) {
			return cmd_usage_error(cmd, "--%s given more than %d times",
			    o->name, CLI_STRS_MAX);
		}
		s->v[s->n++] = v;
		return -1;
	}
	case CLI_U64:
	case CLI_I64:
		return parse_number(cmd, o, v);
	}
	return -1;
}

/* The value of --config in argv, if any, found without applying
 * anything: the walk skips the values of other options as the parser
 * would. */
static const char *
find_config(const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *path = NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			continue;
		}
		const struct cli_opt *o;
		bool has_val = false;
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
			o = find_long(cmd, a + 2, len);
			has_val = eq != NULL;
			if (o != NULL && strcmp(o->name, "config") == 0 && eq) {
				path = eq + 1;
				continue;
			}
		} else {
			o = a[2] == '\0' ? find_short(cmd, a[1]) : NULL;
		}
		if (o == NULL || o->type == CLI_FLAG || has_val) {
			continue;
		}
		if (strcmp(o->name, "config") == 0 && i + 1 < argc) {
			path = argv[i + 1];
		}
		i++; /* the option's value */
	}
	return path;
}

/* The config file's text: options point into it until the process
 * ends. */
static char *config_text;

/* Applies a config file's options; from[i] is set for each option
 * the file gave. -1 when all is well, else the exit code. */
static int
apply_config(const struct cli_cmd *cmd, const char *path, int *from)
{
	uint8_t *buf;
	size_t len;
	struct rf_errinfo ei = { "" };
	if (node_file_read(path, (size_t)1 << 20, &buf, &len, &ei) != RF_OK) {
		return cmd_usage_error(cmd, "--config: %s", ei.msg);
	}
	if (memchr(buf, '\0', len) != NULL) {
		free(buf);
		return cmd_usage_error(cmd, "--config: '%s' is not a text file "
		    "(it holds a NUL byte)", path);
	}
	free(config_text);
	config_text = (char *)buf; /* node_file_read ends it with a NUL */
	char *line = config_text;
	int rc = -1;
	for (int no = 1; line != NULL && rc < 0; no++) {
		char *next = strchr(line, '\n');
		if (next != NULL) {
			*next++ = '\0';
		}
		snprintf(where, sizeof(where), "%s: line %d: ", path, no);
		/* Blanks (a CR too) around; a comment from '#' at the start
		 * or after a blank. */
		for (char *c = line; *c; c++) {
			if (*c == '#' && (c == line || c[-1] == ' ' ||
			    c[-1] == '\t')) {
				*c = '\0';
				break;
			}
		}
		char *name = line + strspn(line, " \t\r");
		char *end = name + strlen(name);
		while (end > name && (end[-1] == ' ' || end[-1] == '\t' ||
		    end[-1] == '\r')) {
			*--end = '\0';
		}
		line = next;
		if (*name == '\0') {
			continue;
		}
		if (name[0] == '-' && name[1] == '-') {
			name += 2;
		}
		size_t nl = strcspn(name, " \t");
		char *val = name + nl;
		if (*val != '\0') {
			*val++ = '\0';
			val += strspn(val, " \t");
		}
		const struct cli_opt *o = find_long(cmd, name, strlen(name));
		if (o == NULL) {
			rc = cmd_usage_error(cmd, "unknown option '%s'", name);
			break;
		}
		size_t k = (size_t)(o - cmd->opts);
		if (strcmp(o->name, "config") == 0) {
			rc = cmd_usage_error(cmd, "a config file cannot name "
			    "another (config)");
			break;
		}
		if (from[k] != 0 && o->type != CLI_STRS) {
			rc = cmd_usage_error(cmd, "'%s' is given twice (first on "
			    "line %d)", name, from[k]);
			break;
		}
		if (o->type == CLI_FLAG) {
			bool on = *val == '\0' || strcmp(val, "true") == 0 ||
			    strcmp(val, "yes") == 0 || strcmp(val, "1") == 0;
			bool off = strcmp(val, "false") == 0 ||
			    strcmp(val, "no") == 0 || strcmp(val, "0") == 0;
			if (!on && !off) {
				rc = cmd_usage_error(cmd, "'%s' is a flag: give it "
				    "alone, or 'true' or 'false', not '%s'", name, val);
				break;
			}
			*(bool *)o->dst = on;
		} else if (*val == '\0') {
			rc = cmd_usage_error(cmd, "'%s' needs a value ('%s %s')",
			    name, name, o->metavar ? o->metavar : "VALUE");
			break;
		} else {
			rc = apply(cmd, o, val);
		}
		from[k] = no;
	}
	where[0] = '\0';
	return rc;
}

int
cmd_parse(const struct cli_cmd *cmd, int argc, char **argv,
    const char **pos, size_t *n_pos)
{
	size_t np = 0;
	bool only_pos = false;
	/* Line numbers of the options a config file gave (0: not given). */
	int from[64] = { 0 };
	bool wants_help = false;
	for (int i = 0; i < argc; i++) {
		wants_help = wants_help || strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0;
	}
	const char *config = cmd->config && !wants_help && cmd->n_opts <= 64 ?
	    find_config(cmd, argc, argv) : NULL;
	if (config != NULL) {
		int rc = apply_config(cmd, config, from);
		if (rc >= 0) {
			return rc;
		}
	}
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (np >= cmd->max_pos) {
				return cmd_usage_error(cmd,
				    "unexpected argument '%s'", a);
			}
			pos[np++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			if (cmd_doc_hook(cmd)) {
				return CLI_EXIT_OK; /* refute --doc */
			}
			cmd_usage(cmd, stdout);
			return CLI_EXIT_OK;
		}
		const struct cli_opt *o;
		const char *val = NULL;
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
			o = find_long(cmd, a + 2, len);
			if (eq != NULL) {
				val = eq + 1;
			}
		} else {
			o = a[2] == '\0' ? find_short(cmd, a[1]) : NULL;
		}
		if (o == NULL) {
			return cmd_usage_error(cmd, "unknown option '%s'", a);
		}
		if (o->type == CLI_FLAG) {
			if (val != NULL) {
				return cmd_usage_error(cmd,
				    "--%s takes no value", o->name);
			}
		} else if (val == NULL) {
			if (i + 1 >= argc) {
				return cmd_usage_error(cmd, "--%s needs a value",
				    o->name);
			}
			val = argv[++i];
		}
		size_t k = (size_t)(o - cmd->opts);
		if (o->type == CLI_STRS && k < 64 && from[k] != 0) {
			/* The command line's list replaces the file's. */
			((struct cli_strs *)o->dst)->n = 0;
			from[k] = 0;
		}
		int rc = apply(cmd, o, val);
		if (rc >= 0) {
			return rc;
		}
	}
	if (np < cmd->min_pos) {
		return cmd_usage_error(cmd, "missing %s", cmd->args);
	}
	*n_pos = np;
	return -1;
}

/* ------------------------------------------------------------------ */
/* Files                                                                */
/* ------------------------------------------------------------------ */

int
cmd_read_file(const struct cli_cmd *cmd, const char *path, size_t max,
    uint8_t **buf, size_t *len)
{
	struct rf_errinfo ei = { "" };
	if (node_file_read(path, max, buf, len, &ei) != RF_OK) {
		return cmd_fail(cmd, "%s", ei.msg);
	}
	return CLI_EXIT_OK;
}

int
cmd_write_file(const struct cli_cmd *cmd, const char *path, const void *buf,
    size_t len, int mode)
{
	char tmp[4096];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		return cmd_fail(cmd, "path too long: '%s'", path);
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		return cmd_fail(cmd, "cannot create '%s': %s", tmp,
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
			unlink(tmp);
			return cmd_fail(cmd, "cannot write '%s': %s", path,
			    strerror(e));
		}
		done += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		int e = errno;
		unlink(tmp);
		return cmd_fail(cmd, "cannot write '%s': %s", path, strerror(e));
	}
	if (rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return cmd_fail(cmd, "cannot write '%s': %s", path, strerror(e));
	}
	return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                 */
/* ------------------------------------------------------------------ */

void
cmd_json_begin(struct json_out *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	fputc('{', f);
}

static void
json_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20) {
				fprintf(f, "\\u%04x", *p);
			} else {
				fputc(*p, f);
			}
		}
	}
	fputc('"', f);
}

static void
json_key(struct json_out *j, const char *key)
{
	if (j->need_comma[j->depth]) {
		fputc(',', j->f);
	}
	j->need_comma[j->depth] = true;
	if (key != NULL) {
		json_quoted(j->f, key);
		fputc(':', j->f);
	}
}

void
cmd_json_obj_open(struct json_out *j, const char *key)
{
	json_key(j, key);
	fputc('{', j->f);
	if (j->depth < 31) {
		j->depth++;
	}
	j->need_comma[j->depth] = false;
}

void
cmd_json_obj_close(struct json_out *j)
{
	fputc('}', j->f);
	if (j->depth > 0) {
		j->depth--;
	}
}

void
cmd_json_arr_open(struct json_out *j, const char *key)
{
	json_key(j, key);
	fputc('[', j->f);
	if (j->depth < 31) {
		j->depth++;
	}
	j->need_comma[j->depth] = false;
}

void
cmd_json_arr_close(struct json_out *j)
{
	fputc(']', j->f);
	if (j->depth > 0) {
		j->depth--;
	}
}

void
cmd_json_str(struct json_out *j, const char *key, const char *v)
{
	json_key(j, key);
	json_quoted(j->f, v);
}

void
cmd_json_int(struct json_out *j, const char *key, long long v)
{
	json_key(j, key);
	fprintf(j->f, "%lld", v);
}

void
cmd_json_uint(struct json_out *j, const char *key, unsigned long long v)
{
	json_key(j, key);
	fprintf(j->f, "%llu", v);
}

void
cmd_json_num(struct json_out *j, const char *key, double v)
{
	json_key(j, key);
	if (v != v || v > 1.7976931348623157e308 ||
	    v < -1.7976931348623157e308) {
		fputs("null", j->f);
	} else {
		/* 9 significant digits round-trip any float exactly. */
		fprintf(j->f, "%.9g", v);
	}
}

void
cmd_json_bool(struct json_out *j, const char *key, bool v)
{
	json_key(j, key);
	fputs(v ? "true" : "false", j->f);
}

void
cmd_json_end(struct json_out *j)
{
	fputs("}\n", j->f);
}
