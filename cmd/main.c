/*
 * cmd/main.c - the `refute` command: one binary, subcommands in groups.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cli.h"
#include "cmd/cmds.h"

#define REFUTE_VERSION "0.1.0"

struct subcmd {
	const char *group; /* NULL for a top-level command */
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcmd subcmds[] = {
	{ NULL, "keygen", cmd_keygen,
	    "create a node identity (Ed25519 key pair)" },
	{ NULL, "referee", cmd_referee,
	    "run the referee node (ledger, jobs, windows, disputes)" },
	{ NULL, "executor", cmd_executor,
	    "run an executor node (runs jobs, posts claims)" },
	{ NULL, "challenger", cmd_challenger,
	    "run a challenger node (samples and re-executes claims)" },
	{ NULL, "audit", cmd_audit,
	    "replay a dispute's verdict and confirm or refute it" },
	{ NULL, "submit", cmd_submit,
	    "submit a job; with --wait, follow it to finality" },
	{ NULL, "generate", cmd_generate,
	    "generate tokens with a language model, with its trace root" },
	{ NULL, "job", cmd_job,
	    "show a job (state, claim, output, disputes); --cancel it" },
	{ NULL, "disputes", cmd_disputes,
	    "list disputes: ids, parties, state and verdict" },
	{ NULL, "status", cmd_status, "show the network at a glance" },
	{ NULL, "devnet", cmd_devnet,
	    "run a local network of real processes and submit jobs to it" },
	{ NULL, "sim", cmd_sim,
	    "simulate a large network: detection, cost, disputes, load" },
	{ "model", "gen", cmd_model_gen,
	    "generate a synthetic model (mlp, cnn, transformer, gpt) from a seed" },
	{ "model", "info", cmd_model_info, "describe a model file" },
	{ "model", "run", cmd_model_run,
	    "run a model on an input (.npy or from a seed)" },
	{ "model", "import", cmd_model_import,
	    "convert an ONNX model (opsets 11 to 17) into the native format" },
};
#define N_SUBCMDS (sizeof(subcmds) / sizeof(subcmds[0]))

static const char about[] =
    "Refute: optimistic verification of AI inference. Executors run\n"
    "models deterministically and commit to every operator's output;\n"
    "anyone can re-run, dispute, and prove which operator was wrong.";

static void
usage(FILE *f)
{
	fprintf(f, "usage: refute COMMAND [options]\n\n%s\n\ncommands:\n",
	    about);
	for (size_t i = 0; i < N_SUBCMDS; i++) {
		char name[64];
		snprintf(name, sizeof(name), "%s%s%s",
		    subcmds[i].group ? subcmds[i].group : "",
		    subcmds[i].group ? " " : "", subcmds[i].name);
		fprintf(f, "  %-18s %s\n", name, subcmds[i].summary);
	}
	fprintf(f, "\n'refute COMMAND --help' describes each command.\n");
}

static bool
is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 ||
	    strcmp(a, "help") == 0;
}

/* refute --doc man|bash: the man page or the bash completion, from
 * every command's table (cmd/doc.c; the build runs it). */
static int
doc(const char *format)
{
	int rc = cmd_doc_begin(format, REFUTE_VERSION, about);
	for (size_t i = 0; rc == CLI_EXIT_OK && i < N_SUBCMDS; i++) {
		char help[] = "--help";
		char *argv[] = { help, NULL };
		cmd_doc_command(subcmds[i].group, subcmds[i].name);
		rc = subcmds[i].run(1, argv);
		if (rc == CLI_EXIT_OK) {
			rc = cmd_doc_check();
		}
	}
	return rc == CLI_EXIT_OK ? cmd_doc_end() : rc;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--doc") == 0) {
		return doc(argv[2]);
	}
	if (argc < 2 || is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("refute %s\n", REFUTE_VERSION);
		return CLI_EXIT_OK;
	}
	bool group_known = false;
	for (size_t i = 0; i < N_SUBCMDS; i++) {
		const struct subcmd *s = &subcmds[i];
		if (s->group == NULL) {
			if (strcmp(argv[1], s->name) == 0) {
				return s->run(argc - 2, argv + 2);
			}
			continue;
		}
		if (strcmp(argv[1], s->group) != 0) {
			continue;
		}
		group_known = true;
		if (argc >= 3 && strcmp(argv[2], s->name) == 0) {
			return s->run(argc - 3, argv + 3);
		}
	}
	if (group_known) {
		bool help = argc >= 3 && is_help(argv[2]);
		FILE *f = help ? stdout : stderr;
		if (!help) {
			fprintf(stderr, "refute %s: %s '%s'\n", argv[1],
			    argc >= 3 ? "unknown subcommand" : "missing subcommand",
			    argc >= 3 ? argv[2] : "");
		}
		fprintf(f, "usage: refute %s SUBCOMMAND [options]\n\n", argv[1]);
		for (size_t i = 0; i < N_SUBCMDS; i++) {
			if (subcmds[i].group &&
			    strcmp(subcmds[i].group, argv[1]) == 0) {
				fprintf(f, "  %-8s %s\n", subcmds[i].name,
				    subcmds[i].summary);
			}
		}
		return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	}
	fprintf(stderr, "refute: unknown command '%s' (see 'refute --help')\n",
	    argv[1]);
	return CLI_EXIT_USAGE;
}
