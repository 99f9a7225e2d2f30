/*
 * cmd/doc.c - the man page refute(1) and the bash completion, generated
 * at build time from the same tables --help prints (`refute --doc man`,
 * `refute --doc bash`), so neither can drift from the command line.
 *
 * main.c calls cmd_doc_begin, then each subcommand's run function with
 * "--help" after cmd_doc_command; cmd_parse hands the command's table to
 * cmd_doc_hook instead of printing the usage, and cmd_doc_end closes the
 * document. A subcommand that never reached cmd_parse fails the build.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"

enum doc_format { DOC_NONE, DOC_MAN, DOC_BASH };

static struct {
	enum doc_format format;
	const char *group, *name; /* the command being described */
	bool described;           /* its table reached cmd_doc_hook */
	FILE *f;
	/* bash: the top-level words, the groups' subcommands (one case
	 * arm per group and subcommand, merged below) and the commands'
	 * arms, in memory until the end */
	char top[2048];
	struct {
		char name[32];
		char words[512];
	} grp[16];
	size_t n_grp;
	char *arms;
	size_t arms_len;
} doc;

/* ------------------------------------------------------------------ */
/* roff                                                                 */
/* ------------------------------------------------------------------ */

/* Writes s as roff text: backslashes and hyphens escaped, a line never
 * starting with a control character (bol: s starts a line). */
static void
roff_text(FILE *f, const char *s, size_t n, bool bol)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (bol && (c == '.' || c == '\'')) {
			fputs("\\&", f);
		}
		bol = c == '\n';
		if (c == '\\') {
			fputs("\\e", f);
		} else if (c == '-') {
			fputs("\\-", f);
		} else {
			fputc(c, f);
		}
	}
}

/* Prose wrapped for a terminal: each paragraph (blank-line separated)
 * joined into one line, unless it holds indented lines (a table or a
 * list), which are kept as they are. */
static void
roff_prose(FILE *f, const char *s)
{
	while (*s != '\0') {
		const char *end = strstr(s, "\n\n");
		size_t n = end ? (size_t)(end - s) : strlen(s);
		bool pre = false;
		for (size_t i = 0; i + 1 < n; i++) {
			if (s[i] == '\n' && s[i + 1] == ' ') {
				pre = true;
			}
		}
		fputs(pre ? ".PP\n.nf\n" : ".PP\n", f);
		if (pre) {
			roff_text(f, s, n, true);
		} else {
			/* A hard wrap is a space; runs of spaces after it too. */
			for (size_t i = 0; i < n; i++) {
				if (s[i] == '\n') {
					fputc(' ', f);
					while (i + 1 < n && s[i + 1] == ' ') {
						i++;
					}
				} else {
					roff_text(f, &s[i], 1, i == 0);
				}
			}
		}
		fputs(pre ? "\n.fi\n" : "\n", f);
		s += n;
		while (*s == '\n') {
			s++;
		}
	}
}

static void
man_command(const struct cli_cmd *cmd)
{
	FILE *f = doc.f;
	fputs(".SS \"refute ", f);
	roff_text(f, cmd->path, strlen(cmd->path), false);
	fputs(cmd->n_opts ? " [options]" : "", f);
	if (cmd->args != NULL) {
		fputc(' ', f);
		roff_text(f, cmd->args, strlen(cmd->args), false);
	}
	fputs("\"\n", f);
	roff_prose(f, cmd->summary);
	if (cmd->details != NULL) {
		roff_prose(f, cmd->details);
	}
	for (size_t i = 0; i < cmd->n_opts; i++) {
		const struct cli_opt *o = &cmd->opts[i];
		fputs(".TP\n", f);
		if (o->short_name) {
			fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
		}
		fputs("\\fB\\-\\-", f);
		roff_text(f, o->name, strlen(o->name), false);
		fputs("\\fR", f);
		if (o->type != CLI_FLAG) {
			const char *mv = o->metavar ? o->metavar : "X";
			fputs(" \\fI", f);
			roff_text(f, mv, strlen(mv), false);
			fputs("\\fR", f);
		}
		fputc('\n', f);
		/* The help's continuation lines are indented for the
		 * terminal's columns: one line here. */
		for (const char *p = o->help; *p; p++) {
			if (*p == '\n') {
				fputc(' ', f);
				while (p[1] == ' ') {
					p++;
				}
			} else {
				roff_text(f, p, 1, p == o->help);
			}
		}
		fputc('\n', f);
	}
}

/* ------------------------------------------------------------------ */
/* bash                                                                 */
/* ------------------------------------------------------------------ */

static bool
is_file_metavar(const char *mv)
{
	return strstr(mv, "FILE") != NULL || strstr(mv, "DIR") != NULL ||
	    strchr(mv, '.') != NULL;
}

static void
bash_command(const struct cli_cmd *cmd)
{
	FILE *f = doc.f;
	fprintf(f, "\t\"%s\")\n\t\tcase $prev in\n", cmd->path);
	for (size_t i = 0; i < cmd->n_opts; i++) {
		const struct cli_opt *o = &cmd->opts[i];
		if (o->type == CLI_FLAG) {
			continue;
		}
		const char *mv = o->metavar ? o->metavar : "X";
		fputs("\t\t", f);
		if (o->short_name) {
			fprintf(f, "-%c|", o->short_name);
		}
		fprintf(f, "--%s) ", o->name);
		if (strchr(mv, '|') != NULL) {
			fputs("COMPREPLY=($(compgen -W '", f);
			for (const char *p = mv; *p; p++) {
				fputc(*p == '|' ? ' ' : *p, f);
			}
			fputs("' -- \"$cur\")); return ;;\n", f);
		} else if (is_file_metavar(mv)) {
			fputs("COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", f);
		} else {
			fputs("return ;;\n", f); /* a number, a key: nothing */
		}
	}
	fputs("\t\tesac\n\t\topts='", f);
	for (size_t i = 0; i < cmd->n_opts; i++) {
		const struct cli_opt *o = &cmd->opts[i];
		fprintf(f, "--%s ", o->name);
		if (o->short_name) {
			fprintf(f, "-%c ", o->short_name);
		}
	}
	fputs("--help -h'\n\t\t;;\n", f);
}

/* ------------------------------------------------------------------ */
/* Driver                                                               */
/* ------------------------------------------------------------------ */

static void
append(char *buf, size_t cap, const char *s)
{
	size_t n = strlen(buf);
	snprintf(buf + n, cap - n, "%s", s);
}

int
cmd_doc_begin(const char *format, const char *version, const char *about)
{
	memset(&doc, 0, sizeof(doc));
	if (strcmp(format, "man") == 0) {
		doc.format = DOC_MAN;
		doc.f = stdout;
		fprintf(doc.f, ".\\\" Generated by `refute --doc man` from the "
		    "tables --help prints: do not edit.\n"
		    ".TH REFUTE 1 \"\" \"refute %s\" \"User Commands\"\n"
		    ".SH NAME\nrefute \\- optimistic verification of AI "
		    "inference\n.SH SYNOPSIS\n.B refute\n.I COMMAND\n"
		    "[options]\n.br\n.B refute\n.I GROUP SUBCOMMAND\n"
		    "[options]\n.SH DESCRIPTION\n", version);
		roff_prose(doc.f, about);
		fputs(".PP\n\\fBrefute COMMAND \\-\\-help\\fR prints the "
		    "section of a command below.\n.SH COMMANDS\n", doc.f);
		return CLI_EXIT_OK;
	}
	if (strcmp(format, "bash") == 0) {
		doc.format = DOC_BASH;
		/* The commands' arms go to memory: the word lists, known
		 * only at the end, come first in the script. */
		doc.f = open_memstream(&doc.arms, &doc.arms_len);
		if (doc.f == NULL) {
			fprintf(stderr, "refute --doc: no memory\n");
			return CLI_EXIT_FAIL;
		}
		append(doc.top, sizeof(doc.top), "--help --version");
		return CLI_EXIT_OK;
	}
	fprintf(stderr, "refute: --doc takes man or bash, not '%s'\n", format);
	return CLI_EXIT_USAGE;
}

void
cmd_doc_command(const char *group, const char *name)
{
	doc.group = group;
	doc.name = name;
	doc.described = false;
	if (doc.format != DOC_BASH) {
		return;
	}
	const char *word = group ? group : name;
	char w[96], padded[sizeof(doc.top) + 2];
	snprintf(w, sizeof(w), " %s ", word);
	snprintf(padded, sizeof(padded), " %s ", doc.top);
	if (strstr(padded, w) == NULL) {
		append(doc.top, sizeof(doc.top), " ");
		append(doc.top, sizeof(doc.top), word);
	}
	if (group == NULL) {
		return;
	}
	size_t g = 0;
	while (g < doc.n_grp && strcmp(doc.grp[g].name, group) != 0) {
		g++;
	}
	if (g == doc.n_grp) {
		if (g == sizeof(doc.grp) / sizeof(doc.grp[0])) {
			return; /* cmd_doc_end says so */
		}
		snprintf(doc.grp[g].name, sizeof(doc.grp[g].name), "%s", group);
		doc.n_grp++;
	}
	if (doc.grp[g].words[0] != '\0') {
		append(doc.grp[g].words, sizeof(doc.grp[g].words), " ");
	}
	append(doc.grp[g].words, sizeof(doc.grp[g].words), name);
}

bool
cmd_doc_hook(const struct cli_cmd *cmd)
{
	if (doc.format == DOC_NONE) {
		return false;
	}
	if (!doc.described) {
		doc.described = true;
		if (doc.format == DOC_MAN) {
			man_command(cmd);
		} else {
			bash_command(cmd);
		}
	}
	return true;
}

int
cmd_doc_check(void)
{
	if (!doc.described) {
		fprintf(stderr, "refute --doc: '%s%s%s' did not reach cmd_parse "
		    "with --help\n", doc.group ? doc.group : "",
		    doc.group ? " " : "", doc.name);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

int
cmd_doc_end(void)
{
	if (doc.format == DOC_MAN) {
		fputs(".SH EXIT STATUS\n0: success; 1: the command failed; "
		    "2: the command line was wrong. Commands that say otherwise "
		    "in their section above (audit, submit) have their own.\n"
		    ".SH SEE ALSO\nThe documentation in the source tree: "
		    "README.md and docs/.\n", stdout);
		return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	}
	if (doc.format != DOC_BASH) {
		return CLI_EXIT_FAIL;
	}
	if (fclose(doc.f) != 0) {
		free(doc.arms);
		return CLI_EXIT_FAIL;
	}
	printf("# bash completion for refute. Generated by `refute --doc bash` "
	    "from the tables\n# --help prints: do not edit.\n"
	    "_refute()\n{\n"
	    "\tlocal cur=${COMP_WORDS[COMP_CWORD]} "
	    "prev=${COMP_WORDS[COMP_CWORD-1]} cmd opts\n"
	    "\tCOMPREPLY=()\n"
	    "\tcase $COMP_CWORD:${COMP_WORDS[1]} in\n"
	    "\t1:*) COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return ;;\n",
	    doc.top);
	for (size_t g = 0; g < doc.n_grp; g++) {
		printf("\t2:%s) COMPREPLY=($(compgen -W '%s' -- \"$cur\")); "
		    "return ;;\n", doc.grp[g].name, doc.grp[g].words);
	}
	/* A group's commands are "GROUP NAME". */
	printf("\tesac\n\tcmd=${COMP_WORDS[1]}\n\tcase $cmd in\n");
	for (size_t g = 0; g < doc.n_grp; g++) {
		printf("\t%s) cmd=\"%s ${COMP_WORDS[2]}\" ;;\n",
		    doc.grp[g].name, doc.grp[g].name);
	}
	printf("\tesac\n\tcase \"$cmd\" in\n%s\t*) return ;;\n\tesac\n"
	    "\tif [[ $cur == -* ]]; then\n"
	    "\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
	    "\telse\n"
	    "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	    "\tfi\n}\ncomplete -o filenames -F _refute refute\n",
	    doc.arms ? doc.arms : "");
	free(doc.arms);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
