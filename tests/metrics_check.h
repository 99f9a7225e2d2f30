/*
 * tests/metrics_check.h - a checker of the Prometheus text exposition
 * format (0.0.4), for tests of what --metrics serves: what `promtool check
 * metrics` checks, for machines without promtool (tests also run promtool
 * when it is installed: test_promtool).
 *
 * Checked: every line is a HELP, a TYPE, another comment, a blank or a
 * sample; names are [a-zA-Z_:][a-zA-Z0-9_:]*; label sets are name="value"
 * pairs with \\, \" and \n escapes and no name twice; a value is a number,
 * +Inf, -Inf or NaN, with an optional integer timestamp; a family has at
 * most one HELP and one TYPE, the TYPE before its samples, its samples
 * together (a family never comes back after another began); no sample
 * (name and labels) twice; counters end in _total and nothing else does
 * and every family has a HELP (promtool's lint); a histogram's samples
 * are its _bucket (with le), _sum and _count.
 */
#ifndef RF_TESTS_METRICS_CHECK_H
#define RF_TESTS_METRICS_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MC_MAX_FAMILIES 256
#define MC_MAX_SAMPLES 2048

struct mc_family {
	char name[128];
	char type[16];
	bool help, typed, closed;
};

static bool
mc_name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    c == ':' || (!first && c >= '0' && c <= '9');
}

/* The name at *p (advanced past it) into out; false when there is none. */
static bool
mc_name(const char **p, char *out, size_t cap)
{
	size_t n = 0;
	while (mc_name_char((*p)[n], n == 0)) {
		n++;
	}
	if (n == 0 || n >= cap) {
		return false;
	}
	memcpy(out, *p, n);
	out[n] = '\0';
	*p += n;
	return true;
}

static bool
mc_ends(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The family a sample name belongs to (a histogram's _bucket, _sum and
 * _count belong to the histogram). */
static struct mc_family *
mc_family_of(struct mc_family *f, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(f[i].name, name) == 0) {
			return &f[i];
		}
		if (strcmp(f[i].type, "histogram") == 0) {
			size_t l = strlen(f[i].name);
			if (strncmp(name, f[i].name, l) == 0 &&
			    (strcmp(name + l, "_bucket") == 0 ||
			    strcmp(name + l, "_sum") == 0 ||
			    strcmp(name + l, "_count") == 0)) {
				return &f[i];
			}
		}
	}
	return NULL;
}

/* NULL when text is valid; else why, with the line number, in why. */
static const char *
metrics_check(const char *text, char *why, size_t cap)
{
	static struct mc_family fam[MC_MAX_FAMILIES];
	static char seen[MC_MAX_SAMPLES][256];
	size_t n_fam = 0, n_seen = 0;
	struct mc_family *cur = NULL;
	int line_no = 0;
	const char *line = text;
	while (*line != '\0') {
		line_no++;
		const char *end = strchr(line, '\n');
		if (end == NULL) {
			snprintf(why, cap, "line %d: no newline at the end", line_no);
			return why;
		}
		char buf[1024];
		size_t len = (size_t)(end - line);
		if (len >= sizeof(buf)) {
			snprintf(why, cap, "line %d: too long", line_no);
			return why;
		}
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = end + 1;
		if (len == 0) {
			continue;
		}
		const char *p = buf;
		if (buf[0] == '#') {
			bool help = strncmp(buf, "# HELP ", 7) == 0;
			bool type = strncmp(buf, "# TYPE ", 7) == 0;
			if (!help && !type) {
				continue; /* a comment */
			}
			p = buf + 7;
			char name[128];
			if (!mc_name(&p, name, sizeof(name)) ||
			    (*p != ' ' && !(help && *p == '\0'))) {
				snprintf(why, cap, "line %d: bad metric name", line_no);
				return why;
			}
			struct mc_family *f = NULL;
			for (size_t i = 0; i < n_fam; i++) {
				if (strcmp(fam[i].name, name) == 0) {
					f = &fam[i];
				}
			}
			if (f == NULL) {
				if (n_fam == MC_MAX_FAMILIES) {
					snprintf(why, cap, "too many families");
					return why;
				}
				if (cur != NULL) {
					cur->closed = true;
				}
				f = &fam[n_fam++];
				memset(f, 0, sizeof(*f));
				snprintf(f->name, sizeof(f->name), "%s", name);
				cur = f;
			} else if (f != cur || f->closed) {
				snprintf(why, cap, "line %d: %s comes back after "
				    "another family", line_no, name);
				return why;
			}
			if (help) {
				if (f->help) {
					snprintf(why, cap, "line %d: a second HELP for "
					    "%s", line_no, name);
					return why;
				}
				f->help = true;
				continue;
			}
			if (f->typed) {
				snprintf(why, cap, "line %d: a second TYPE for %s",
				    line_no, name);
				return why;
			}
			p++;
			if (strcmp(p, "counter") != 0 && strcmp(p, "gauge") != 0 &&
			    strcmp(p, "histogram") != 0 &&
			    strcmp(p, "summary") != 0 && strcmp(p, "untyped") != 0) {
				snprintf(why, cap, "line %d: unknown type '%s'",
				    line_no, p);
				return why;
			}
			snprintf(f->type, sizeof(f->type), "%s", p);
			f->typed = true;
			if (strcmp(p, "counter") == 0 && !mc_ends(name, "_total")) {
				snprintf(why, cap, "line %d: counter %s should end "
				    "in _total", line_no, name);
				return why;
			}
			if (strcmp(p, "counter") != 0 && mc_ends(name, "_total")) {
				snprintf(why, cap, "line %d: %s is a %s: _total is "
				    "for counters", line_no, name, p);
				return why;
			}
			continue;
		}
		/* A sample. */
		char name[128];
		if (!mc_name(&p, name, sizeof(name))) {
			snprintf(why, cap, "line %d: bad metric name", line_no);
			return why;
		}
		struct mc_family *f = mc_family_of(fam, n_fam, name);
		if (f == NULL || !f->help) {
			snprintf(why, cap, "line %d: %s has no HELP", line_no, name);
			return why;
		}
		if (f != cur || f->closed) {
			snprintf(why, cap, "line %d: %s comes back after another "
			    "family", line_no, name);
			return why;
		}
		char labels[16][128];
		size_t n_labels = 0;
		bool le = false;
		if (*p == '{') {
			p++;
			while (*p != '}') {
				char ln[128];
				if (n_labels == 16 || !mc_name(&p, ln, sizeof(ln)) ||
				    p[0] != '=' || p[1] != '"') {
					snprintf(why, cap, "line %d: bad label", line_no);
					return why;
				}
				for (size_t i = 0; i < n_labels; i++) {
					if (strcmp(labels[i], ln) == 0) {
						snprintf(why, cap, "line %d: label %s twice",
						    line_no, ln);
						return why;
					}
				}
				snprintf(labels[n_labels++], sizeof(labels[0]), "%s", ln);
				le = le || strcmp(ln, "le") == 0;
				p += 2;
				while (*p != '"') {
					if (*p == '\0') {
						snprintf(why, cap, "line %d: unterminated "
						    "label value", line_no);
						return why;
					}
					if (*p == '\\') {
						if (p[1] != '\\' && p[1] != '"' && p[1] != 'n') {
							snprintf(why, cap, "line %d: bad escape",
							    line_no);
							return why;
						}
						p++;
					}
					p++;
				}
				p++;
				if (*p == ',') {
					p++;
				} else if (*p != '}') {
					snprintf(why, cap, "line %d: bad label list",
					    line_no);
					return why;
				}
			}
			p++;
		}
		if (*p != ' ') {
			snprintf(why, cap, "line %d: no value", line_no);
			return why;
		}
		p++;
		char val[64];
		size_t vl = strcspn(p, " ");
		if (vl == 0 || vl >= sizeof(val)) {
			snprintf(why, cap, "line %d: no value", line_no);
			return why;
		}
		memcpy(val, p, vl);
		val[vl] = '\0';
		char *ve;
		(void)strtod(val, &ve);
		if (*ve != '\0' && strcmp(val, "+Inf") != 0 &&
		    strcmp(val, "-Inf") != 0 && strcmp(val, "NaN") != 0) {
			snprintf(why, cap, "line %d: '%s' is not a number", line_no,
			    val);
			return why;
		}
		if (p[vl] == ' ') {
			const char *ts = p + vl + 1;
			if (*ts == '\0' || strspn(ts, "-0123456789") != strlen(ts)) {
				snprintf(why, cap, "line %d: bad timestamp", line_no);
				return why;
			}
		}
		if (strcmp(f->type, "histogram") == 0) {
			bool bucket = mc_ends(name, "_bucket");
			if (bucket != le || strcmp(name, f->name) == 0) {
				snprintf(why, cap, "line %d: %s: a histogram has "
				    "_bucket{le=...}, _sum and _count", line_no, name);
				return why;
			}
		}
		/* The whole sample name and labels, once. */
		char key[256];
		size_t kl = (size_t)(p - 1 - buf);
		if (kl >= sizeof(key)) {
			kl = sizeof(key) - 1;
		}
		memcpy(key, buf, kl);
		key[kl] = '\0';
		for (size_t i = 0; i < n_seen; i++) {
			if (strcmp(seen[i], key) == 0) {
				snprintf(why, cap, "line %d: %s appears twice",
				    line_no, key);
				return why;
			}
		}
		if (n_seen < MC_MAX_SAMPLES) {
			snprintf(seen[n_seen++], sizeof(seen[0]), "%s", key);
		}
	}
	return NULL;
}

/* `promtool check metrics` on text: 1 when it passes, 0 when it
 * complains (its words in why), -1 when promtool is not installed. */
static int
test_promtool(const char *text, char *why, size_t cap)
{
	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		return -1;
	}
	char in[] = "/tmp/rf-promtool-XXXXXX";
	int fd = mkstemp(in);
	if (fd < 0) {
		return -1;
	}
	FILE *f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", in);
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	if (p != NULL) {
		n = fread(why, 1, cap - 1, p);
	}
	why[n] = '\0';
	int rc = p != NULL ? pclose(p) : -1;
	unlink(in);
	return rc == 0 && n == 0 ? 1 : 0;
}

#endif
