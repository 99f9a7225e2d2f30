/*
 * referee/genesis.c - the genesis file: network parameters and the only
 * money ever minted. Strict: anything unexpected is an error naming the
 * line, because a typo here changes every node's view of the network.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "referee/referee.h"

#define GENESIS_MAX_LINE 256

static void
default_params(struct referee_params *p)
{
	/* Networks made before blake3 have no suite line: their roots are
	 * blake2b-256 and stay so. New genesis files name blake3-256. */
	p->suite = PROTO_HASH_BLAKE2B;
	p->window_ms = 3000;
	p->min_stake = 1000;
	p->min_bond = 100;
	p->reward_pct = 50;
	p->arity = 2;
	p->clock_ms = 10000;
	p->grace_ms = REFEREE_DEFAULT_GRACE_MS;
	/* claim_collateral and deadline_penalty follow min_stake and
	 * min_bond unless given (referee_genesis_parse). */
	p->job_deadline_ms = 600000;
	p->min_fee = 1;
	p->max_open_jobs = 1024;
	p->register_fee = REFEREE_DEFAULT_REGISTER_FEE;
}

static int
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9') {
		return RF_ERR_INVAL;
	}
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max) {
		return RF_ERR_INVAL;
	}
	*out = v;
	return RF_OK;
}

static int
add_account(struct referee_genesis *g, const struct proto_pubkey *k,
    uint64_t balance)
{
	if (g->n_accounts >= REFEREE_MAX_GENESIS_ACCOUNTS) {
		return RF_ERR_RANGE;
	}
	size_t n = g->n_accounts + 1;
	struct proto_pubkey *nk = realloc(g->keys, n * sizeof(*nk));
	if (nk == NULL) {
		return RF_ERR_NOMEM;
	}
	g->keys = nk;
	uint64_t *nb = realloc(g->balances, n * sizeof(*nb));
	if (nb == NULL) {
		return RF_ERR_NOMEM;
	}
	g->balances = nb;
	g->keys[g->n_accounts] = *k;
	g->balances[g->n_accounts] = balance;
	g->n_accounts = n;
	return RF_OK;
}

/* One "key value..." line, already split into words. */
static int
genesis_line(struct referee_genesis *g, char **w, int nw, unsigned *seen,
    size_t line, uint64_t *minted, struct rf_errinfo *ei)
{
	static const char *const keys[] = { "suite", "window_ms", "min_stake",
		"min_bond", "reward_pct", "arity", "clock_ms", "grace_ms",
		"claim_collateral", "job_deadline_ms", "deadline_penalty",
		"min_fee", "max_open_jobs", "register_fee" };
	struct referee_params *p = &g->params;
	if (strcmp(w[0], "referee") == 0) {
		if (nw != 2 || proto_pubkey_parse_hex(w[1], &g->referee) != RF_OK) {
			return rf_errf(ei, RF_ERR_FORMAT, "genesis line %zu: "
			    "expected 'referee <64 hex digits>'", line);
		}
		if (g->has_referee) {
			return rf_errf(ei, RF_ERR_FORMAT, "genesis line %zu: "
			    "'referee' is given twice", line);
		}
		g->has_referee = true;
		return RF_OK;
	}
	if (strcmp(w[0], "account") == 0) {
		struct proto_pubkey k;
		uint64_t bal;
		if (nw != 3 || proto_pubkey_parse_hex(w[1], &k) != RF_OK ||
		    parse_u64(w[2], UINT64_MAX, &bal) != RF_OK) {
			return rf_errf(ei, RF_ERR_FORMAT, "genesis line %zu: "
			    "expected 'account <64 hex digits> <balance>'", line);
		}
		for (size_t i = 0; i < g->n_accounts; i++) {
			if (memcmp(g->keys[i].b, k.b, PROTO_KEY_LEN) == 0) {
				return rf_errf(ei, RF_ERR_FORMAT, "genesis line %zu: "
				    "account %s is listed twice", line, w[1]);
			}
		}
		if (bal > UINT64_MAX / 4 - *minted) {
			return rf_errf(ei, RF_ERR_RANGE, "genesis line %zu: total "
			    "supply too large", line);
		}
		*minted += bal;
		int err = add_account(g, &k, bal);
		return err == RF_OK ? RF_OK : rf_errf(ei, err,
		    "genesis line %zu: %s", line, rf_strerror(err));
	}
	int which = -1;
	for (int i = 0; i < (int)(sizeof(keys) / sizeof(keys[0])); i++) {
		if (strcmp(w[0], keys[i]) == 0) {
			which = i;
		}
	}
	if (which < 0) {
		return rf_errf(ei, RF_ERR_FORMAT, "genesis line %zu: unknown key "
		    "'%s'", line, w[0]);
	}
	if (nw != 2) {
		return rf_errf(ei, RF_ERR_FORMAT, "genesis line %zu: '%s' takes "
		    "one value", line, w[0]);
	}
	if (*seen & (1u << which)) {
		return rf_errf(ei, RF_ERR_FORMAT, "genesis line %zu: '%s' is "
		    "given twice", line, w[0]);
	}
	*seen |= 1u << which;
	uint64_t v = 0;
	if (which == 0) {
		enum proto_hash s;
		if (proto_hash_parse(w[1], &s) != RF_OK) {
			return rf_errf(ei, RF_ERR_FORMAT, "genesis line %zu: suite "
			    "must be blake3-256, blake2b-256 or xxh3-128", line);
		}
		p->suite = s;
		return RF_OK;
	}
	static const uint64_t max[] = { 0, 86400000ULL * 30, UINT64_MAX / 4,
		UINT64_MAX / 4, 100, PROTO_MAX_ARITY, 86400000ULL, 86400000ULL,
		UINT64_MAX / 4, 86400000ULL * 30, UINT64_MAX / 4, UINT64_MAX / 4,
		1u << 30, UINT64_MAX / 4 };
	static const uint64_t min[] = { 0, 1, 0, 0, 0, 2, 1, 0, 0, 1, 0, 0, 0,
		0 };
	if (parse_u64(w[1], max[which], &v) != RF_OK || v < min[which]) {
		return rf_errf(ei, RF_ERR_FORMAT, "genesis line %zu: '%s' must "
		    "be a whole number in %llu..%llu", line, w[0],
		    (unsigned long long)min[which],
		    (unsigned long long)max[which]);
	}
	switch (which) {
	case 1:
		p->window_ms = v;
		break;
	case 2:
		p->min_stake = v;
		break;
	case 3:
		p->min_bond = v;
		break;
	case 4:
		p->reward_pct = (uint32_t)v;
		break;
	case 5:
		p->arity = (uint32_t)v;
		break;
	case 6:
		p->clock_ms = v;
		break;
	case 7:
		p->grace_ms = v;
		break;
	case 8:
		p->claim_collateral = v;
		break;
	case 9:
		p->job_deadline_ms = v;
		break;
	case 10:
		p->deadline_penalty = v;
		break;
	case 11:
		p->min_fee = v;
		break;
	case 12:
		p->max_open_jobs = v;
		break;
	case 13:
		p->register_fee = v;
		break;
	}
	return RF_OK;
}

int
referee_genesis_parse(const char *text, size_t len,
    struct referee_genesis *out, struct rf_errinfo *ei)
{
	struct referee_genesis g;
	memset(&g, 0, sizeof(g));
	default_params(&g.params);
	unsigned seen = 0;
	uint64_t minted = 0;
	size_t line = 0;
	size_t pos = 0;
	int err = RF_OK;
	while (err == RF_OK && pos < len) {
		char buf[GENESIS_MAX_LINE + 1];
		size_t end = pos;
		while (end < len && text[end] != '\n') {
			end++;
		}
		line++;
		size_t n = end - pos;
		if (n > GENESIS_MAX_LINE) {
			err = rf_errf(ei, RF_ERR_FORMAT, "genesis line %zu is longer "
			    "than %d bytes", line, GENESIS_MAX_LINE);
			break;
		}
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		pos = end + 1;
		if (memchr(buf, '\0', n) != NULL) {
			err = rf_errf(ei, RF_ERR_FORMAT, "genesis line %zu has a NUL "
			    "byte", line);
			break;
		}
		char *hash = strchr(buf, '#');
		if (hash != NULL) {
			*hash = '\0';
		}
		char *w[4];
		int nw = 0;
		char *save = NULL;
		for (char *t = strtok_r(buf, " \t\r", &save); t != NULL;
		    t = strtok_r(NULL, " \t\r", &save)) {
			if (nw == 4) {
				nw++;
				break;
			}
			w[nw++] = t;
		}
		if (nw == 0) {
			continue;
		}
		if (nw > 3) {
			err = rf_errf(ei, RF_ERR_FORMAT, "genesis line %zu has too "
			    "many words", line);
			break;
		}
		err = genesis_line(&g, w, nw, &seen, line, &minted, ei);
	}
	if (err == RF_OK && !(seen & (1u << 8))) {
		g.params.claim_collateral = g.params.min_stake;
	}
	if (err == RF_OK && !(seen & (1u << 10))) {
		g.params.deadline_penalty = g.params.min_bond;
	}
	if (err == RF_OK && g.n_accounts == 0) {
		err = rf_errf(ei, RF_ERR_FORMAT, "genesis has no accounts");
	}
	if (err != RF_OK) {
		referee_genesis_free(&g);
		return err;
	}
	*out = g;
	return RF_OK;
}

void
referee_genesis_free(struct referee_genesis *g)
{
	free(g->keys);
	free(g->balances);
	memset(g, 0, sizeof(*g));
}
