/*
 * protocol/sample.c - a challenger's sampling decision, pure: the same
 * function decides for a running challenger (challenger_sampled adds its
 * always-verify lists) and for the simulator, so simulated detection
 * rates are the real sampler's.
 */
#include <string.h>

#include "protocol/protocol.h"

bool
proto_sampled(uint64_t seed, double rate, const struct proto_digest *job)
{
	if (rate >= 1.0) {
		return true;
	}
	if (rate <= 0.0) {
		return false;
	}
	/* u = H(seed || job) as a number in [0, 1): unpredictable to an
	 * executor who does not know the seed, reproducible for us. */
	uint8_t buf[8 + PROTO_DIGEST_MAX];
	for (int i = 0; i < 8; i++) {
		buf[i] = (uint8_t)(seed >> (8 * i));
	}
	memcpy(buf + 8, job->b, PROTO_DIGEST_MAX);
	struct proto_digest h;
	proto_hash(PROTO_HASH_BLAKE2B, buf, sizeof(buf), &h);
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		v |= (uint64_t)h.b[i] << (8 * i);
	}
	return (double)(v >> 11) * 0x1p-53 < rate;
}
