/*
 * cmd/cmds.h - entry points of the `refute` subcommands. Each takes the
 * arguments after its own name and returns an exit code (cmd/cli.h).
 */
#ifndef RF_CMD_CMDS_H
#define RF_CMD_CMDS_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/protocol.h"

int cmd_model_gen(int argc, char **argv);
int cmd_model_info(int argc, char **argv);
int cmd_model_run(int argc, char **argv);
int cmd_model_import(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_referee(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_job(int argc, char **argv);
int cmd_disputes(int argc, char **argv);
int cmd_executor(int argc, char **argv);
int cmd_challenger(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_devnet(int argc, char **argv);
int cmd_sim(int argc, char **argv);

struct engine_model;
struct rf_errinfo;
/* Whether a network could serve m: its outputs are one operator's and a
 * dispute over any operator fits a verdict (proto_model_dispute_check).
 * `model import` and `model gen` refuse what fails, with ei naming the
 * operator. */
int cmd_model_servable(const struct engine_model *m, struct rf_errinfo *ei);
/* A generation job's prompt as `refute submit` takes it. */
struct cmd_gen_prompt {
	const char *tokens; /* "1,2,3", or NULL */
	const char *text;   /* bytes, or NULL */
	uint64_t seed;      /* the sampler's, when the graph samples */
	bool given;
};
struct tensor;
/*
 * The inputs of a generation job on m, a generation graph (`refute
 * generate --save-graph`, docs/generation.md): the prompt (i64 [P]) and,
 * when m samples, the seed (i64 [1]). Refuses what the graph cannot run
 * or a cheater would try: a prompt of another length than the graph's,
 * token ids outside the vocabulary, a model that is not a generation
 * graph. Fills in[0..input count) on success (RF_OK), else ei says why.
 */
int cmd_generation_inputs(const struct engine_model *m,
    const struct cmd_gen_prompt *p, struct tensor *in, struct rf_errinfo *ei);
struct cli_cmd;
/* Applies a --threads N option (0: one per core) to the engine; an exit
 * code, CLI_EXIT_OK on success. */
int cmd_engine_threads(const struct cli_cmd *cmd, int64_t threads);

struct proto_pubkey;
struct proto_digest;
/* The dispute whose id is hex or starts with it, asked of the referee at
 * url (replies signed by referee, unless NULL); an exit code. */
int cmd_dispute_resolve(const struct cli_cmd *cmd, const char *url,
    enum proto_hash suite, const struct proto_pubkey *referee,
    const char *prefix, struct proto_digest *id);

#endif
