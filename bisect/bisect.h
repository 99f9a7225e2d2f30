/*
 * bisect/bisect.h - Refute's dispute game as a pure state machine.
 *
 * An executor and a challenger committed to different trace roots over the
 * same n leaves (I job inputs, then one leaf per operator). The game keeps
 * an agreed prefix of size lo (its root known) and a first disputed size
 * hi, starting from lo = I (the referee computes that root from the job's
 * inputs) and hi = n. Each round asks both sides for the roots of k - 1
 * prefix sizes splitting (lo, hi) (k is the arity: 2 for bisection), each
 * with a consistency proof to the side's committed root; the first size
 * where they differ becomes hi, the last one below it where they agree
 * becomes lo. After ceil(log_k(hi - lo)) rounds hi = lo + 1: leaf lo is
 * the output of operator lo - I, and the executor reveals that operator's
 * inputs with proofs. The referee recomputes the operator, folds its leaf
 * onto the agreed prefix, and the side whose root of size lo + 1 matches
 * wins.
 *
 * Each side has a chess clock: a total time budget that runs while the
 * game waits for that side. A side whose clock runs out loses. Both sides
 * are asked at once in every round, so the game lasts at most the sum of
 * both budgets, however slowly either side answers.
 *
 * No I/O, no clock of its own: the caller passes the time in. The referee
 * (referee/), `refute audit` (cmd/) and the simulator (sim/) run this same
 * code.
 */
#ifndef RF_BISECT_H
#define RF_BISECT_H

#include <stdbool.h>
#include <stdint.h>

#include "chain/chain.h"
#include "protocol/protocol.h"

#define BISECT_MAX_SIZES (PROTO_MAX_ARITY - 1)

enum bisect_side {
	BISECT_EXECUTOR = 0,
	BISECT_CHALLENGER = 1,
};

enum bisect_phase {
	BISECT_PHASE_QUERY = 1,  /* waiting for both sides' prefix roots */
	BISECT_PHASE_REVEAL = 2, /* waiting for the executor's reveal */
	BISECT_PHASE_DONE = 3,
};

/* What a move did. */
enum bisect_result {
	BISECT_ACCEPTED = 0, /* the move was valid and applied */
	BISECT_IGNORED = 1,  /* out of turn (another round, already answered,
			      * or no such move now): nothing changed */
	BISECT_LOST = 2,     /* the move was invalid: its sender lost */
};

struct bisect_game {
	enum proto_hash suite;
	uint32_t arity;
	uint64_t n;
	uint32_t n_inputs;
	struct proto_digest input_leaves[PROTO_MAX_TENSORS];
	struct proto_digest committed[2]; /* each side's root of size n */

	uint64_t lo, hi;
	struct proto_digest lo_root;    /* agreed root of size lo */
	struct proto_digest hi_root[2]; /* each side's root of size hi */

	enum bisect_phase phase;
	uint32_t round;                 /* current query round, from 1 */
	uint8_t n_sizes;
	uint64_t sizes[BISECT_MAX_SIZES];
	bool answered[2];
	struct proto_digest answer[2][BISECT_MAX_SIZES];

	uint64_t clock_left[2];         /* ms left on each side's clock */
	uint64_t asked_ms;              /* when the current move was asked */

	/* Outcome, once phase is DONE. */
	bool executor_won;      /* the claim stands */
	bool challenger_right;  /* the challenger's root matched the truth */
	uint8_t reason;         /* enum proto_verdict_reason */
	enum bisect_side loser_side; /* who lost by proof or clock */
	uint32_t op;            /* the disputed operator, once found */
	uint32_t rounds;        /* query rounds completed */
	char why[160];          /* one line for logs and the verdict */
};

/*
 * Starts a game. Roots must differ, 2 <= arity <= PROTO_MAX_ARITY,
 * 1 <= n_inputs < n. The first move is asked at now_ms.
 */
int bisect_start(struct bisect_game *g, enum proto_hash suite,
    uint32_t arity, uint64_t clock_ms, uint64_t n, uint32_t n_inputs,
    const struct proto_digest *input_leaves,
    const struct proto_digest *executor_root,
    const struct proto_digest *challenger_root, uint64_t now_ms)
    __attribute__((warn_unused_result));

/* The current query (phase QUERY) with each side's deadline folded into
 * deadline_ms as the later of the two. */
void bisect_query(const struct bisect_game *g,
    const struct proto_digest *dispute_id, struct proto_bisect_query *q);

/* When side's clock runs out for the current move. */
uint64_t bisect_deadline(const struct bisect_game *g, enum bisect_side side);

/* Whether side still has to move. */
bool bisect_waiting_for(const struct bisect_game *g, enum bisect_side side);

/* A side's answer to the current query. ei says why when not accepted. */
enum bisect_result bisect_answer(struct bisect_game *g,
    enum bisect_side side, const struct proto_bisect_answer *a,
    uint64_t now_ms, struct rf_errinfo *ei);

/*
 * The executor's reveal for the disputed operator. model has the
 * operator graph (engine_model_decode_graph is enough); model_id and
 * model_leaves (the number of leaves of model_id's tree) bind the
 * revealed weights. The operator is recomputed with engine_op_eval.
 */
enum bisect_result bisect_reveal(struct bisect_game *g,
    const struct engine_model *model, const struct proto_digest *model_id,
    uint32_t model_leaves, const struct proto_reveal *r, uint64_t now_ms,
    struct rf_errinfo *ei);

/*
 * The one step when the caller already holds the recomputed leaf (the
 * simulator, whose synthetic traces have no tensors to recompute): checks
 * the frontier of the agreed prefix (as bisect_reveal does), folds leaf
 * onto it and decides by the very comparison bisect_reveal makes after
 * running the operator.
 */
enum bisect_result bisect_reveal_leaf(struct bisect_game *g, uint32_t op,
    const struct proto_digest *frontier, size_t frontier_len,
    const struct proto_digest *leaf, uint64_t now_ms, struct rf_errinfo *ei);

/* ------------------------------------------------------------------ */
/* The one step below the operator: one chunk of a chunked trace         */
/* ------------------------------------------------------------------ */

/*
 * In a trace committed in chunks (proto_trace_layout), leaf lo is one
 * chunk of one operator's output (or a whole entry), and the executor
 * reveals only the chunks of the operator's inputs that this chunk
 * depends on (engine_chunk_step says which), each proven on its own:
 * a chunk of a trace entry against the agreed prefix, a chunk of a weight
 * against model_id (proto_model_chunk_verify), a job input against the
 * job. An item of an entry committed as one leaf carries all of that
 * entry's tensors (output says which is the operand) and chunk 0.
 */
struct bisect_chunk_item {
	uint8_t operand;   /* input index of the operator */
	uint32_t chunk;    /* chunk of that operand's tensor */
	uint8_t output;    /* entries of one leaf: which tensor is the operand */
	uint8_t n_tensors; /* 1, or the entry's tensor count */
	struct tensor tensors[PROTO_MAX_ENTRY_TENSORS];
	uint8_t proof_len;
	struct proto_digest *proof;
};

struct bisect_chunk_reveal {
	uint64_t leaf;     /* the disputed leaf, lo */
	uint32_t n_items;
	struct bisect_chunk_item *items;
	uint8_t frontier_len;
	struct proto_digest *frontier;
};

void bisect_chunk_reveal_free(struct bisect_chunk_reveal *r);
/* Bytes the reveal takes on the wire (tensors, proofs, frontier, and
 * the fields around them). */
size_t bisect_chunk_reveal_size(const struct bisect_chunk_reveal *r,
    enum proto_hash suite);

/*
 * The executor's reveal of leaf `leaf` of a chunked trace (leaves, n):
 * re-runs the job up to the operator, finds the chunks the leaf's chunk
 * reads and proves each. bisect_chunk_reveal_from does the same from the
 * operator's input tensors already at hand (operands[i] for input i,
 * NULL for an absent one; inputs of an entry of one leaf need the whole
 * entry: entries[i] with n_entry[i] tensors), model_id's leaves and the
 * side's trace as a tree of at least `leaf` leaves (only the agreed
 * prefix, the first `leaf`, is read).
 */
int bisect_chunk_reveal_build(enum proto_hash suite,
    const struct engine_model *m, const struct proto_trace_layout *l,
    const struct tensor *inputs, const struct proto_digest *leaves,
    size_t n, uint64_t leaf, struct bisect_chunk_reveal *out,
    struct rf_errinfo *ei) __attribute__((warn_unused_result));
int bisect_chunk_reveal_from(enum proto_hash suite,
    const struct engine_model *m, const struct proto_trace_layout *l,
    const struct tensor *const *const *entries, const size_t *n_entry,
    const struct proto_digest *mleaves, size_t n_mleaves,
    const struct proto_merkle_tree *tree, uint64_t leaf,
    struct bisect_chunk_reveal *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/*
 * The referee's one step on a chunked trace: checks every item against
 * its commitment, recomputes the leaf's chunk with engine_chunk_step
 * (the whole operator for an entry of one leaf), and decides as
 * bisect_reveal does. The game's n must be the layout's (else the
 * executor, whose claim it is, loses). An item not proven, out of place,
 * twice, or not read, or a chunk the step needs and was not given: the
 * executor loses. model is the verified graph, l its layout for the
 * job's inputs.
 */
enum bisect_result bisect_reveal_chunk(struct bisect_game *g,
    const struct engine_model *model, const struct proto_trace_layout *l,
    const struct proto_digest *model_id, uint32_t model_leaves,
    const struct bisect_chunk_reveal *r, uint64_t now_ms,
    struct rf_errinfo *ei);

/* Applies the clocks at now_ms: true when a side ran out (game over). */
bool bisect_tick(struct bisect_game *g, uint64_t now_ms);

/* ------------------------------------------------------------------ */
/* The stored form (bisect/codec.c has the byte layout)                 */
/* ------------------------------------------------------------------ */

#define BISECT_GAME_VERSION 1
/* Header, sizes, digests and the why text at their largest. */
#define BISECT_GAME_MAX_ENCODED (72 + 8 * BISECT_MAX_SIZES + \
	PROTO_DIGEST_MAX * (PROTO_MAX_TENSORS + 5 + 2 * BISECT_MAX_SIZES) + 159)

/*
 * Whether g is a state the game can be in: sizes in range, n_inputs <= lo
 * < hi <= n, the sizes of a query round the ones the game asks, a reveal
 * of operator lo - n_inputs at hi = lo + 1, an outcome only when done.
 * RF_OK or RF_ERR_FORMAT.
 */
int bisect_game_check(const struct bisect_game *g)
    __attribute__((warn_unused_result));

/* Writes g's version-1 encoding into buf; RF_ERR_INVAL when g fails
 * bisect_game_check. */
int bisect_game_encode(const struct bisect_game *g,
    uint8_t buf[BISECT_GAME_MAX_ENCODED], size_t *len)
    __attribute__((warn_unused_result));

/*
 * Decodes a stored game: version 1, or version 0 (the struct as older
 * referees stored it), whose number goes to *version (may be NULL).
 * Every field is checked (bisect_game_check); on error (RF_ERR_TRUNCATED,
 * RF_ERR_FORMAT, RF_ERR_VERSION for an unknown version) *out is
 * untouched.
 */
int bisect_game_decode(const uint8_t *buf, size_t len,
    struct bisect_game *out, int *version)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* Audit                                                                */
/* ------------------------------------------------------------------ */

/* What a verdict is audited against: the network's genesis. */
struct bisect_audit_rules {
	struct proto_pubkey referee; /* the only key a verdict may carry */
	enum proto_hash suite;
	uint32_t arity;
	struct chain_params money; /* the rules' parameters (chain/) */
};

struct bisect_audit_result {
	bool confirmed;              /* the replay reaches the verdict */
	bool executor_won;           /* what the replay found */
	uint32_t rounds, op;
	/* The claim fell: slashed is the executor's stake then, which only
	 * the ledger knows; the reward was checked against it. */
	bool slashed_from_ledger;
	struct proto_verdict verdict; /* the verdict's fields (no transcript) */
	char why[160];
};

/*
 * Audits a signed verdict envelope against rules: it must be signed by
 * rules->referee (else RF_ERR_CRYPTO); its transcript must open with the
 * claim, the challenge, the model registration and the client's job, all
 * naming one job (job id, input leaves and dispute id recomputed); every
 * signature is checked, every move replayed through this game at the
 * network's arity (each one answering a query the referee recorded), the
 * operator recomputed from the registered graph and the revealed tensors;
 * then every field of the verdict is recomputed: winner, reason, operator,
 * rounds, and slashed and reward by chain/'s verdict rules. Returns an error for
 * a transcript that is malformed, does not hang together, or ends before
 * the outcome the verdict claims (RF_ERR_TRUNCATED); RF_OK with confirmed
 * false when it replays to another outcome or other amounts.
 */
int bisect_audit(const uint8_t *verdict, size_t len,
    const struct bisect_audit_rules *rules, struct bisect_audit_result *out,
    struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* The honest side's moves, built from its own leaves                   */
/* ------------------------------------------------------------------ */

/* Answers a query from the side's n trace leaves; out owns its proofs
 * (proto_bisect_answer_free), and nothing when this fails. */
int bisect_answer_build(enum proto_hash suite,
    const struct proto_digest *leaves, size_t n,
    const struct proto_bisect_query *q, struct proto_bisect_answer *out)
    __attribute__((warn_unused_result));

/*
 * Builds the executor's reveal for operator op of a job: re-runs the job
 * up to the operator (nothing after it), takes the trace entries the
 * operator reads and proves each against the prefix of size I + op of the
 * side's leaves, proves each weight against model_id, and adds the
 * prefix's frontier. out is a PROTO_MSG_REVEAL body (dispute_id left
 * for the caller); free it with proto_reveal_free. Pure (the engine, no
 * I/O): executors, tests and the simulator build reveals with it.
 */
int bisect_reveal_build(enum proto_hash suite, const struct engine_model *m,
    const struct tensor *inputs, const struct proto_digest *leaves,
    size_t n, uint32_t op, struct proto_reveal *out, struct rf_errinfo *ei)
    __attribute__((warn_unused_result));

/* Number of query rounds a dispute over n_ops operators takes at most:
 * ceil(log_arity(n_ops)). */
uint32_t bisect_max_rounds(uint64_t n_ops, uint32_t arity);

#endif
